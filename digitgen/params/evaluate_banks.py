"""``evaluate_banks``: the scores of every digit source against real MNIST test digits (stage ``evaluate_banks``).

Two nested sections configure the classifiers the evaluation trains itself:
``train_on_synthetic`` (one classifier of the evaluation classifier's design per
source, trained on that source's digits and tested on the real test digits)
and ``readers`` (held-out classifiers of other architectures that score the
ambiguous digits; used for nothing else).
"""

from __future__ import annotations

from dataclasses import dataclass

from digitgen.constants import GENERATED_SOURCES
from digitgen.errors import invalid
from digitgen.params.core import section, setting
from digitgen.params.train_classifier import TRAINING_RULES
from digitgen.rules import Int, ListOf, OneOf

#: Architectures of the held-out readers (:mod:`digitgen.evaluate.readers`).
READER_KINDS = ("wide_cnn", "residual", "mlp")


@dataclass(frozen=True)
class TrainOnSyntheticParams:
    """``evaluate_banks.train_on_synthetic``: the classification accuracy score of each source (0 digits = skip it)."""

    digits: int = setting(10000, Int(0, 1_000_000, allowed="must be an integer in 0..1000000 (digits per source; 0 = no train-on-synthetic score)"))
    epochs: int = setting(3, TRAINING_RULES["epochs"])
    batch_size: int = setting(128, TRAINING_RULES["batch_size"])
    learning_rate: float = setting(0.002, TRAINING_RULES["learning_rate"])


@dataclass(frozen=True)
class ReadersParams:
    """``evaluate_banks.readers``: held-out classifiers of other architectures that score the ambiguous digits."""

    kinds: tuple[str, ...] = setting(READER_KINDS, ListOf(OneOf(READER_KINDS), 0, unique=True))
    digits: int = setting(20000, Int(10, 60000, allowed="must be an integer in 10..60000 (training digits per reader)"))
    epochs: int = setting(2, TRAINING_RULES["epochs"])


@dataclass(frozen=True)
class EvaluateBanksParams:
    """``evaluate_banks``: ``banks`` lists generated sources only; ``real`` is always scored, as the reference row."""

    seed: int = setting(0, Int(0))
    banks: tuple[str, ...] = setting(GENERATED_SOURCES, ListOf(OneOf(GENERATED_SOURCES), unique=True))
    samples: int = setting(10000, Int(10, 1_000_000))
    kid_subsets: int = setting(100, Int(1, 10_000))
    kid_subset_size: int = setting(1000, Int(2, 100_000, allowed="must be an integer in 2..100000 (the unbiased estimate needs pairs)"))
    nearest_k: int = setting(3, Int(1, 100))
    memorisation_samples: int = setting(2000, Int(1, 1_000_000))
    mosaic_per_digit: int = setting(10, Int(1, 50))
    train_on_synthetic: TrainOnSyntheticParams = section(TrainOnSyntheticParams)
    readers: ReadersParams = section(ReadersParams)

    def validate(self, key: str) -> None:
        if self.samples <= self.nearest_k:
            raise invalid(f"{key}.samples", self.samples, f"must be > {key}.nearest_k ({self.nearest_k})")
