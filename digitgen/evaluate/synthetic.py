"""Train-on-synthetic scores: how well a classifier trained on a source's digits reads the real test digits.

The "classification accuracy score" protocol (Ravuri & Vinyals 2019): for each
source, a fresh classifier of the evaluation classifier's design (its
architecture cloned, new weights from a seed of its own; the evaluation
classifier's weights are never used) is trained on ``digits`` labelled digits
of that source, for the same number of epochs for every source, and tested on
the real MNIST test digits. The ``real`` row trains on real training digits,
so the gap of a source to it is what training on that source costs; the
``real + augmented`` row trains on the same real digits plus their augmented
copies, so its gain over ``real`` is what adding augmentation buys.

Imports Keras and TensorFlow: the stage calls it after every input is checked.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from digitgen.arrays import check_digits, check_labels
from digitgen.keras_train import train_model
from digitgen.params.evaluate_banks import TrainOnSyntheticParams

logger = logging.getLogger(__name__)

#: Seed stream of the train-on-synthetic classifiers (apart from every other draw of the stage).
STREAM = 17


def tos_seed(seed: int, number: int) -> int:
    """32-bit training seed of the train-on-synthetic classifier of source ``number``: ``SeedSequence([seed, 17, number])``."""
    return int(np.random.SeedSequence([seed, STREAM, number]).generate_state(1)[0])


def training_rows(count: int, digits: int, seed: int, number: int) -> np.ndarray:
    """int64 sorted rows of a seeded random subset of ``digits`` of ``count`` rows (all when fewer)."""
    rng = np.random.default_rng([seed, STREAM, number])
    return np.sort(rng.permutation(count)[:digits])


@dataclass(frozen=True)
class SyntheticScore:
    """One train-on-synthetic classifier's result.

    Attributes
    ----------
    accuracy : float, fraction of the real test digits read correctly.
    per_digit : digit string -> accuracy on the real test digits of that digit.
    digits : training digits used.
    seconds : wall time of the training (log only; never written).
    """

    accuracy: float
    per_digit: dict
    digits: int
    seconds: float

    def metrics(self, reference: float | None = None) -> dict:
        """JSON-ready: ``accuracy``, ``per_digit``, ``digits`` and, with a ``reference`` accuracy, ``gap`` (accuracy - reference)."""
        values = {"accuracy": self.accuracy, "per_digit": self.per_digit, "digits": self.digits}
        if reference is not None:
            values["gap"] = self.accuracy - reference
        return values


def train_on_synthetic(
    design: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    params: TrainOnSyntheticParams,
    seed: int,
) -> SyntheticScore:
    """Train a fresh copy of ``design`` on labelled digits and score it on the real test digits.

    Parameters
    ----------
    design : the evaluation classifier's Keras model (float32 (N, 28, 28) pixels in 0..255 -> (N, 10)
        probabilities); only its architecture is used (``keras.models.clone_model``, weights drawn anew).
    images : uint8 (N, 28, 28) training digits of the source; labels : int (N,) digits 0-9.
    test_images : uint8 (M, 28, 28) real test digits; test_labels : int (M,).
    params : ``evaluate_banks.train_on_synthetic`` (epochs, batch size, learning rate).
    seed : training seed (weights, shuffle).

    Returns
    -------
    SyntheticScore
    """
    images = check_digits(images, "train-on-synthetic images")
    labels = check_labels(labels, len(images), "train-on-synthetic labels").astype(np.int64)
    started = time.perf_counter()
    fit = train_model(
        lambda: keras.models.clone_model(design),
        (images, labels),
        _as_float,
        seed=seed,
        epochs=params.epochs,
        batch_size=params.batch_size,
        learning_rate=params.learning_rate,
        validation_fraction=0.0,
        compile_args={"loss": "sparse_categorical_crossentropy"},
        what="train-on-synthetic digits",
    )
    seconds = time.perf_counter() - started
    predicted = np.asarray(fit.model.predict(test_images.astype(np.float32), batch_size=1000, verbose=0)).argmax(axis=1)
    test_labels = np.asarray(test_labels).astype(np.int64)
    agree = predicted == test_labels
    per_digit = {str(d): float(agree[test_labels == d].mean()) for d in range(10) if np.any(test_labels == d)}
    return SyntheticScore(float(agree.mean()), per_digit, int(len(images)), seconds)


def _as_float(pixels: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    return tf.cast(pixels, tf.float32), labels
