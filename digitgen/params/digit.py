"""``sequences.digit``: per-digit variation of size, angle, slant, baseline and stroke width (:mod:`digitgen.transform`).

Every amount is a ``±`` range drawn uniformly per digit (``scale`` a range
``[min, max]``); the defaults change nothing, so a dataset is the classic
strip of MNIST cells unless asked otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from digitgen.errors import invalid
from digitgen.params.core import setting
from digitgen.rules import ListOf, Real

#: Smallest and largest size factor of a digit.
SCALE_LIMITS = (0.25, 2.0)


@dataclass(frozen=True)
class DigitParams:
    """``sequences.digit``: how each digit is varied in its own cell before composition (all off by default)."""

    #: size factor range [min, max]: each digit is scaled by a factor drawn uniformly from it (1 = MNIST size)
    scale: tuple[float, float] = setting(
        (1.0, 1.0),
        ListOf(Real(*SCALE_LIMITS), 2, 2, allowed=f"must be a range [min, max] of size factors, each in [{SCALE_LIMITS[0]:g}, {SCALE_LIMITS[1]:g}], min <= max"),
    )
    #: degrees, uniform in ±rotation, positive = counter-clockwise
    rotation: float = setting(0.0, Real(0, 90, allowed="must be a number of degrees in [0, 90] (each digit turns by up to ± this)"))
    #: degrees, uniform in ±shear, positive = the top leans right (italic), about the cell centre
    shear: float = setting(0.0, Real(0, 60, allowed="must be a number of degrees in [0, 60] (each digit leans by up to ± this)"))
    #: pixels, uniform in ±offset_y: baseline jitter, positive = down
    offset_y: float = setting(0.0, Real(0, 14, allowed="must be a number of pixels in [0, 14] (each digit moves up or down by up to this)"))
    #: pixels, uniform in ±thickness: every stroke edge moves out (dilation) or in (erosion) by that much
    thickness: float = setting(0.0, Real(0, 4, allowed="must be a number of pixels in [0, 4] (each stroke edge moves by up to ± this)"))

    def validate(self, key: str) -> None:
        if self.scale[0] > self.scale[1]:
            raise invalid(f"{key}.scale", list(self.scale), "must be a range [min, max] with min <= max")
