"""``train_classifier``: the CNN that scores digits for evaluation, never used to make or pick them (stage ``train_classifier``).

:data:`CNN_RULES` are the architecture rules shared with the judges of ``train_autoencoder``.
"""

from __future__ import annotations

from dataclasses import dataclass

from digitgen.params.core import setting
from digitgen.rules import Int, ListOf, Real

#: Rules of a CNN of :func:`digitgen.classifier_training.build_model`.
CNN_RULES = {
    "filters": ListOf(Int(1, 1024), 1, 4, allowed="must list 1 to 4 convolution widths, each in 1..1024 (28 px halve 4 times to 1)"),
    "dense": Int(1, 4096, allowed="must be an integer in 1..4096 (the width of the penultimate layer)"),
    "epochs": Int(1, 1000),
}
#: Rules of the training loop shared by every Keras model (:mod:`digitgen.keras_train`).
TRAINING_RULES = {
    "epochs": Int(1, 1000),
    "batch_size": Int(1, 65536),
    "learning_rate": Real(0, 1, low_open=True),
    "validation_fraction": Real(0, 0.5, high_open=True),
}


@dataclass(frozen=True)
class TrainClassifierParams:
    """``train_classifier``: the evaluation classifier (``data/models/classifier.keras``)."""

    seed: int = setting(0, Int(0, 2**32 - 1))
    epochs: int = setting(4, TRAINING_RULES["epochs"])
    batch_size: int = setting(128, TRAINING_RULES["batch_size"])
    learning_rate: float = setting(0.002, TRAINING_RULES["learning_rate"])
    filters: tuple[int, ...] = setting((32, 64), CNN_RULES["filters"])
    dense: int = setting(128, CNN_RULES["dense"])
    dropout: float = setting(0.4, Real(0, 1, high_open=True))
    validation_fraction: float = setting(0.05, TRAINING_RULES["validation_fraction"])
