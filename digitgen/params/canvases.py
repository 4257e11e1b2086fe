"""``canvases``: the detection canvases, several numbers per image (stage ``canvases``).

The digit sources, the splits, the spacing and the length of a number are
the sequences stage's rules (:mod:`digitgen.params.sequences`), reused here
with canvas defaults; ``canvases.degrade`` is :class:`DegradeParams`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from digitgen.constants import DIGIT_SIZE, SPLIT_NAMES
from digitgen.errors import invalid
from digitgen.params.core import rules_of, section, setting
from digitgen.params.degrade import DegradeParams
from digitgen.params.sequences import (
    _SPLITS,
    SCHEDULER,
    LengthParams,
    SpacingParams,
    SplitParams,
)
from digitgen.rules import Int, ListOf, Nullable, OneOf, Real

#: Widest and tallest canvas, in pixels.
MAX_SIDE = 4096
#: Most numbers on one canvas.
MAX_NUMBERS = 64
#: Most digit slots of a canvas (numbers.max x length.max).
MAX_DIGITS = 1024
#: Largest uncompressed image array of one shard (memory per worker), in bytes.
MAX_SHARD_BYTES = 1 << 30
#: Most rotation, in degrees either way.
MAX_ROTATION = 45.0
#: Output formats of a canvas split: the NPZ shards (always) and the exports.
FORMATS = ("npz", "coco", "yolo", "parquet")

_SPACING = rules_of(SpacingParams)
_LENGTH = rules_of(LengthParams)


@dataclass(frozen=True)
class CanvasSpacingParams(SpacingParams):
    """``canvases.spacing``: gap between neighbouring digits of a number, in pixels of the 28-px digit cell (before scaling)."""

    min: int = setting(0, _SPACING["min"])
    max: int = setting(4, _SPACING["max"])
    measure: str = setting("ink", _SPACING["measure"])


@dataclass(frozen=True)
class CanvasLengthParams(LengthParams):
    """``canvases.length``: digits per number, uniform in [min, max]."""

    min: int = setting(1, _LENGTH["min"])
    max: int = setting(3, _LENGTH["max"])


@dataclass(frozen=True)
class NumbersParams:
    """``canvases.numbers``: numbers per canvas, uniform in [min, max] (the K of the issue is ``max``)."""

    min: int = setting(1, Int(1, MAX_NUMBERS))
    max: int = setting(5, Int(1, MAX_NUMBERS))

    def validate(self, key: str) -> None:
        if self.min > self.max:
            raise invalid(f"{key}.min", self.min, f"must be <= {key}.max ({self.max})")


def rotated_extent(width: float, height: float, rotation: float) -> tuple[float, float]:
    """Largest axis-aligned width and height of a ``width`` x ``height`` rectangle turned by any angle in ±``rotation`` degrees."""
    theta = math.radians(rotation)

    def widest(a: float, b: float) -> float:  # max over |t| <= theta of a cos t + b sin t
        peak = math.atan2(b, a)
        return math.hypot(a, b) if peak <= theta else a * math.cos(theta) + b * math.sin(theta)

    return widest(width, height), widest(height, width)


def largest_number_box(params: CanvasesParams) -> tuple[int, int]:
    """Width and height in pixels of the largest box a number can need on the canvas (see :mod:`digitgen.canvas`).

    The longest number with the widest gaps and the widest ink (28 px per
    digit), at the largest height and the worst rotation, plus the half source
    pixel of bilinear spread on each side and one pixel of rounding at each end.
    """
    length = params.length.max
    ink_width = DIGIT_SIZE * length + max(params.spacing.max, 0) * (length - 1)
    scale = params.number_height[1] / DIGIT_SIZE
    width, height = rotated_extent((ink_width + 1) * scale, (DIGIT_SIZE + 1) * scale, params.rotation)
    return math.ceil(width) + 2, math.ceil(height) + 2


@dataclass(frozen=True)
class CanvasesParams:
    """``canvases``: detection canvases of ``width`` x ``height`` holding 1..``numbers.max`` numbers each (train and test splits)."""

    seed: int = setting(1414, Int(0))
    width: int = setting(128, Int(8, MAX_SIDE, allowed=f"must be an integer in 8..{MAX_SIDE} (pixels)"))
    height: int = setting(128, Int(8, MAX_SIDE, allowed=f"must be an integer in 8..{MAX_SIDE} (pixels)"))
    numbers: NumbersParams = section(NumbersParams)
    length: CanvasLengthParams = section(CanvasLengthParams)
    spacing: CanvasSpacingParams = section(CanvasSpacingParams)
    number_height: tuple[int, int] = setting(
        (12, 36), ListOf(Int(4, MAX_SIDE), 2, 2, allowed=f"must be a range [min, max] of pixels, each in 4..{MAX_SIDE}, min <= max")
    )
    rotation: float = setting(5.0, Real(0, MAX_ROTATION, allowed=f"must be a number of degrees in [0, {MAX_ROTATION:g}]"))
    max_iou: float = setting(0.1, Real(0, 1, allowed="must be a number in [0, 1] (0 = number boxes never overlap, 1 = no limit)"))
    placement_tries: int = setting(50, Int(1, 10_000))
    digit_weights: tuple[float, ...] | None = setting(
        None, Nullable(ListOf(Real(0), 10, 10), allowed="must list 10 weights (digits 0-9), each a finite number >= 0, or be null")
    )
    shard_size: int = setting(5000, Int(1, 1_000_000))
    compress_level: int = setting(1, Int(0, 9, allowed="must be in 0..9 (0 = stored, 1 = fast, 9 = smallest)"))
    previews: int = setting(16, Int(0, 10_000))
    workers: int = setting(0, Int(0, 256, allowed="must be an integer in 0..256 (0 = all cores)"))
    executor: str = setting("local", OneOf(("local", "dask")))
    scheduler: str | None = setting(None, Nullable(SCHEDULER))
    scheduler_timeout: float = setting(10.0, Real(0, 3600, low_open=True, allowed="must be a number of seconds in (0, 3600]"))
    degrade: DegradeParams = section(DegradeParams)
    formats: tuple[str, ...] = setting(
        ("npz",), ListOf(OneOf(FORMATS), 1, len(FORMATS), unique=True, allowed=f"must list formats among {list(FORMATS)}, each once, 'npz' included")
    )
    splits: Mapping[str, SplitParams] = setting(
        factory=lambda: {"train": SplitParams(20000), "test": SplitParams(2000)}, rule=_SPLITS
    )

    @property
    def max_digits(self) -> int:
        """Digit slots K of the padded per-digit arrays."""
        return self.numbers.max * self.length.max

    def validate(self, key: str) -> None:
        low, high = self.number_height
        if low > high:
            raise invalid(f"{key}.number_height", list(self.number_height), "must be a range [min, max] with min <= max")
        side = min(self.width, self.height)
        if high > side:
            raise invalid(f"{key}.number_height", list(self.number_height), f"must fit the canvas: max <= {side} (the smaller of width {self.width} and height {self.height})")
        need_width, need_height = largest_number_box(self)
        for name, value, need in (("width", self.width, need_width), ("height", self.height, need_height)):
            if value < need:
                raise invalid(
                    f"{key}.{name}", value,
                    f"is too small for the largest number ({self.length.max} digits, spacing up to {self.spacing.max} px, "
                    f"height {high} px, rotation up to {self.rotation:g} degrees): it needs a canvas of at least "
                    f"{need_width} x {need_height} px; lower {key}.length.max, {key}.number_height or {key}.rotation, or enlarge the canvas",
                )
        if self.max_digits > MAX_DIGITS:
            raise invalid(f"{key}.numbers.max", self.numbers.max, f"makes {self.max_digits} digit slots with length.max {self.length.max}; keep numbers.max x length.max <= {MAX_DIGITS}")
        if "npz" not in self.formats:
            raise invalid(f"{key}.formats", list(self.formats), "must include 'npz': the exports and the evaluation read the NPZ shards")
        if self.digit_weights is not None and sum(self.digit_weights) <= 0:
            raise invalid(f"{key}.digit_weights", list(self.digit_weights), "weights must sum to more than 0")
        if self.executor == "dask" and not self.scheduler:
            raise invalid(f"{key}.scheduler", self.scheduler, "must give the Dask scheduler address (e.g. tcp://10.0.0.5:8786) when executor is 'dask'")
        missing = [split for split in SPLIT_NAMES if split not in self.splits]
        if missing:
            raise invalid(f"{key}.splits", sorted(self.splits), f"must define every split {list(SPLIT_NAMES)}; missing {missing}")
        if set(self.splits["test"].sources) - {"real"}:
            raise invalid(f"{key}.splits.test.sources", dict(self.splits["test"].sources), "the test split draws real MNIST test digits only; use {real: 1.0}")
        if self.shard_size * self.width * self.height > MAX_SHARD_BYTES:
            raise invalid(
                f"{key}.shard_size", self.shard_size,
                f"makes shards of {self.shard_size * self.width * self.height} bytes of images at {self.width} x {self.height}; "
                f"keep shard_size x width x height <= {MAX_SHARD_BYTES}",
            )
