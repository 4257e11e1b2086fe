"""``train_reader``: the CRNN that reads whole sequences with CTC (stage ``train_reader``, :mod:`digitgen.reader`)."""

from __future__ import annotations

from dataclasses import dataclass

from digitgen.errors import invalid
from digitgen.params.core import setting
from digitgen.params.train_classifier import TRAINING_RULES
from digitgen.rules import Int, ListOf, Real


@dataclass(frozen=True)
class TrainReaderParams:
    """``train_reader``: the sequence reader (``data/models/reader.keras``)."""

    seed: int = setting(0, Int(0, 2**32 - 1))
    epochs: int = setting(2, TRAINING_RULES["epochs"])
    batch_size: int = setting(64, TRAINING_RULES["batch_size"])
    learning_rate: float = setting(0.003, TRAINING_RULES["learning_rate"])
    warmup: float = setting(0.05, Real(0, 0.5, allowed="must be a fraction of the steps in [0, 0.5]"))
    filters: tuple[int, ...] = setting((16, 32, 64), ListOf(Int(1, 1024), 1, 5, allowed="must list 1 to 5 convolution widths, each in 1..1024 (each block halves the height)"))
    width_pools: int = setting(3, Int(0, 5, allowed="must be an integer in 0..5 (blocks that also halve the width)"))
    dense: int = setting(128, Int(1, 4096))
    units: int = setting(64, Int(1, 1024, allowed="must be an integer in 1..1024 (GRU units per direction)"))
    dropout: float = setting(0.2, Real(0, 1, high_open=True))
    validation_sequences: int = setting(1000, Int(0, 1_000_000))
    errors_shown: int = setting(24, Int(0, 64, allowed="must be an integer in 0..64 (misread test sequences in the errors picture)"))

    def validate(self, key: str) -> None:
        if self.width_pools > len(self.filters):
            raise invalid(f"{key}.width_pools", self.width_pools, f"must be at most the number of conv blocks ({len(self.filters)})")
