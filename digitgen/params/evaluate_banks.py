"""``evaluate_banks``: the scores of every digit source against real MNIST test digits (stage ``evaluate_banks``)."""

from __future__ import annotations

from dataclasses import dataclass

from digitgen.constants import GENERATED_SOURCES
from digitgen.errors import invalid
from digitgen.params.core import setting
from digitgen.rules import Int, ListOf, OneOf


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

    def validate(self, key: str) -> None:
        if self.samples <= self.nearest_k:
            raise invalid(f"{key}.samples", self.samples, f"must be > {key}.nearest_k ({self.nearest_k})")
