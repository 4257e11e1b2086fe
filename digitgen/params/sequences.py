"""``sequences``: the sharded digit-sequence datasets (stage ``sequences``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from digitgen.compose import ALIGNS, MEASURES, MODES, check_layout
from digitgen.constants import DIGIT_SIZE, SOURCE_NAMES, SPLIT_NAMES
from digitgen.errors import InputError, invalid
from digitgen.params.core import SectionRule, section, setting
from digitgen.params.degrade import DegradeParams
from digitgen.params.digit import DigitParams
from digitgen.resample import MAX_HEIGHT, MIN_HEIGHT
from digitgen.rules import Int, ListOf, MappingOf, Nullable, OneOf, Pattern, Real
from digitgen.transform import overhang

#: Widest image a dataset may ask for, in pixels.
MAX_WIDTH = 8192
#: Most digits in one sequence.
MAX_LENGTH = 64
#: Most sequences in one split.
MAX_COUNT = 10**9
#: Largest uncompressed image array of one shard (memory per worker), in bytes.
MAX_SHARD_BYTES = 1 << 30
#: A Dask scheduler address: ``protocol://host:port`` (tcp, tls, ws, wss, ucx) or ``inproc://...``.
SCHEDULER = Pattern(
    r"(?:(?:tcp|tls|ws|wss|ucx)://[A-Za-z0-9._\[\]:-]+:\d{1,5}|inproc://\S+)", "tcp://10.0.0.5:8786",
    allowed="must be a Dask scheduler address such as 'tcp://10.0.0.5:8786'",
)
#: Output formats of the shards: NPZ, WebDataset tar, and the exports (:mod:`digitgen.exports`).
FORMATS = ("npz", "webdataset", "coco", "yolo", "parquet")


@dataclass(frozen=True)
class SpacingParams:
    """``sequences.spacing``: gap between neighbouring digits, in pixels."""

    min: int = setting(0, Int(-DIGIT_SIZE + 1, MAX_WIDTH, allowed=f"must be an integer > -{DIGIT_SIZE} (digits may overlap, not pass each other)"))
    max: int = setting(10, Int(-DIGIT_SIZE + 1, MAX_WIDTH))
    measure: str = setting("cell", OneOf(MEASURES))

    def validate(self, key: str) -> None:
        if self.min > self.max:
            raise invalid(f"{key}.min", self.min, f"must be <= {key}.max ({self.max})")


@dataclass(frozen=True)
class LengthParams:
    """``sequences.length``: digits per sequence, drawn uniformly from [min, max]."""

    min: int = setting(1, Int(1, MAX_LENGTH))
    max: int = setting(5, Int(1, MAX_LENGTH))

    def validate(self, key: str) -> None:
        if self.min > self.max:
            raise invalid(f"{key}.min", self.min, f"must be <= {key}.max ({self.max})")


_SOURCE_WEIGHTS = MappingOf(
    OneOf(SOURCE_NAMES, allowed=f"is not a digit source; valid sources are {list(SOURCE_NAMES)}"),
    Real(0, allowed="must be a finite number >= 0"),
    min_length=1,
    allowed=f"must give a weight to at least one of {list(SOURCE_NAMES)}",
)


@dataclass(frozen=True)
class SplitParams:
    """``sequences.splits.<split>``: how many sequences and from which digit sources."""

    count: int = setting(1000, Int(1, MAX_COUNT))
    sources: Mapping[str, float] = setting(factory=lambda: {"real": 1.0}, rule=_SOURCE_WEIGHTS)

    def validate(self, key: str) -> None:
        if sum(self.sources.values()) <= 0:
            raise invalid(f"{key}.sources", dict(self.sources), "weights must sum to more than 0")


_SPLITS = MappingOf(OneOf(SPLIT_NAMES, allowed=f"is not a split; valid splits are {list(SPLIT_NAMES)}"), SectionRule(SplitParams))


@dataclass(frozen=True)
class SequencesParams:
    """``sequences``: the sharded digit-sequence datasets (train and test splits)."""

    seed: int = setting(2934, Int(0))
    width: int = setting(200, Int(1, MAX_WIDTH, allowed=f"must be an integer in 1..{MAX_WIDTH}: every image of a dataset has the same width"))
    #: image height in pixels; the sequence is composed 28 px high and resampled (aspect kept; width is the output width)
    height: int = setting(
        DIGIT_SIZE, Int(MIN_HEIGHT, MAX_HEIGHT, allowed=f"must be an integer in {MIN_HEIGHT}..{MAX_HEIGHT} (pixels; 28 = MNIST's, no resampling)")
    )
    mode: str = setting("random", OneOf(MODES))
    spacing: SpacingParams = section(SpacingParams)
    align: str = setting("random", OneOf(ALIGNS))
    length: LengthParams = section(LengthParams)
    digit_weights: tuple[float, ...] | None = setting(
        None, Nullable(ListOf(Real(0), 10, 10), allowed="must list 10 weights (digits 0-9), each a finite number >= 0, or be null")
    )
    #: per-digit variation (scale, rotation, shear, offset_y, thickness) in each digit's own cell
    digit: DigitParams = section(DigitParams)
    shard_size: int = setting(10000, Int(1, 1_000_000))
    compress_level: int = setting(1, Int(0, 9, allowed="must be in 0..9 (0 = stored, 1 = fast, 9 = smallest)"))
    previews: int = setting(32, Int(0, 10_000))
    workers: int = setting(0, Int(0, 256, allowed="must be an integer in 0..256 (0 = all cores)"))
    executor: str = setting("local", OneOf(("local", "dask")))
    scheduler: str | None = setting(None, Nullable(SCHEDULER))
    scheduler_timeout: float = setting(10.0, Real(0, 3600, low_open=True, allowed="must be a number of seconds in (0, 3600]"))
    degrade: DegradeParams = section(DegradeParams)
    formats: tuple[str, ...] = setting(("npz",), ListOf(OneOf(FORMATS), 1, len(FORMATS), unique=True, allowed=f"must list formats among {list(FORMATS)}, each once, 'npz' or 'webdataset' included"))
    splits: Mapping[str, SplitParams] = setting(
        factory=lambda: {"train": SplitParams(60000), "test": SplitParams(10000)}, rule=_SPLITS
    )

    def validate(self, key: str) -> None:
        if self.digit_weights is not None and sum(self.digit_weights) <= 0:
            raise invalid(f"{key}.digit_weights", list(self.digit_weights), "weights must sum to more than 0")
        if not {"npz", "webdataset"} & set(self.formats):
            raise invalid(f"{key}.formats", list(self.formats), "must include 'npz' or 'webdataset': the exports come with the shards")
        if self.executor == "dask" and not self.scheduler:
            raise invalid(f"{key}.scheduler", self.scheduler, "must give the Dask scheduler address (e.g. tcp://10.0.0.5:8786) when executor is 'dask'")
        missing = [split for split in SPLIT_NAMES if split not in self.splits]
        if missing:
            raise invalid(f"{key}.splits", sorted(self.splits), f"must define every split {list(SPLIT_NAMES)}; missing {missing}")
        test = self.splits["test"]
        if set(test.sources) - {"real"}:
            raise invalid(f"{key}.splits.test.sources", dict(test.sources), "the test split draws real MNIST test digits only; use {real: 1.0}")
        if self.shard_size * self.height * self.width > MAX_SHARD_BYTES:
            raise invalid(
                f"{key}.shard_size", self.shard_size,
                f"makes shards of {self.shard_size * self.height * self.width} bytes of images at {self.height} x {self.width} px; "
                f"keep shard_size x height x width <= {MAX_SHARD_BYTES}",
            )
        reach = overhang(self.digit)
        try:
            for length in range(self.length.max, self.length.min - 1, -1):  # the longest first: its error names the widest need
                check_layout(
                    length, (self.spacing.min, self.spacing.max), self.width, mode=self.mode, measure=self.spacing.measure,
                    overhang=reach, height=self.height,
                )
        except ValueError as error:
            raise InputError(f"{key}: {error}") from None
