"""``augment``: the bank of augmented real training digits (stage ``augment``)."""

from __future__ import annotations

from dataclasses import dataclass

from digitgen.errors import invalid
from digitgen.params.core import section, setting
from digitgen.rules import Int, ListOf, Nullable, OneOf, Real

#: Transforms the ``augment`` stage can apply, in the order their parameters are drawn.
AUGMENT_TRANSFORMS = ("rotation", "shift", "shear", "zoom", "elastic")
#: Most augmented digits in one bank.
MAX_BANK = 10_000_000


@dataclass(frozen=True)
class ElasticParams:
    """``augment.elastic``: elastic distortion in the units of Simard et al. (2003)."""

    alpha: float = setting(34.0, Real(0, 1000, allowed="must be a number of pixels in [0, 1000] (displacement per unit of smoothed field)"))
    sigma: float = setting(4.0, Real(0, 100, low_open=True, allowed="must be a number of pixels in (0, 100] (standard deviation of the Gaussian smoothing)"))


@dataclass(frozen=True)
class AugmentParams:
    """``augment``: the bank of augmented real training digits (``data/banks/augmented.npz``)."""

    seed: int = setting(5, Int(0))
    copies: int | None = setting(1, Nullable(Int(1, 1000)))
    count: int | None = setting(None, Nullable(Int(1, MAX_BANK)))
    transforms: tuple[str, ...] = setting(AUGMENT_TRANSFORMS, ListOf(OneOf(AUGMENT_TRANSFORMS), 1, unique=True))
    rotation: float = setting(10.0, Real(0, 180, allowed="must be in [0, 180] degrees"))
    shift: float = setting(0.05, Real(0, 1, high_open=True, allowed="must be in [0, 1) (a fraction of the image width and height)"))
    shear: float = setting(10.0, Real(0, 90, high_open=True, allowed="must be in [0, 90) degrees"))
    zoom: float = setting(0.1, Real(0, 1, high_open=True, allowed="must be in [0, 1) (digit size scaled by a factor in [1 - zoom, 1 + zoom])"))
    elastic: ElasticParams = section(ElasticParams)

    def validate(self, key: str) -> None:
        if (self.copies is None) == (self.count is None):
            raise invalid(
                f"{key}.count",
                self.count,
                f"set exactly one of {key}.copies (per training digit) and {key}.count (total); "
                f"the other must be null ({key}.copies == {self.copies!r})",
            )
