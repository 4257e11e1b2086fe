"""The MNIST classifier that scores digits for evaluation (never used to generate or select them).

A small Keras CNN: ``len(filters)`` blocks of 3x3 convolution, batch
normalisation, ReLU and 2x2 max pooling, then a dense layer with batch
normalisation and ReLU (the layer named ``features``, whose activations are the
feature space of the Fréchet classifier distance, KID and precision/recall),
dropout and a 10-way softmax. The model takes raw pixels, float32 (N, 28, 28)
in 0..255 (0 = background), and rescales them itself.

Training is seeded and runs with TensorFlow's deterministic ops, so the same
parameters and data give the same weights; :meth:`DigitClassifier.save` writes
a ``.keras`` file whose bytes depend only on the weights and the architecture.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from digitgen.arrays import check_digits, check_labels
from digitgen.constants import DIGIT_SIZE
from digitgen.io import atomic_path
from digitgen.keras_io import load_keras, save_keras
from digitgen.keras_train import train_model
from digitgen.params.train_classifier import TrainClassifierParams

logger = logging.getLogger(__name__)

#: Name of the penultimate layer whose activations are the evaluation features.
FEATURES_LAYER = "features"
#: Batch size of inference (memory ~ batch x 28 x 28 x filters[0] x 4 bytes).
PREDICT_BATCH = 1000


def build_model(params: TrainClassifierParams):
    """The uncompiled CNN of ``params`` (``filters``, ``dense``, ``dropout``).

    Layers have fixed names, so the saved architecture does not depend on how
    many models the process built before. Seed Keras first
    (``keras.utils.set_random_seed``) for reproducible initial weights.

    Returns
    -------
    keras.Model mapping float32 (N, 28, 28) pixels in 0..255 to float32 (N, 10) probabilities.
    """
    inputs = keras.Input((DIGIT_SIZE, DIGIT_SIZE), name="pixels")
    hidden = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    hidden = layers.Reshape((DIGIT_SIZE, DIGIT_SIZE, 1), name="channel")(hidden)
    for number, filters in enumerate(params.filters, start=1):
        hidden = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{number}")(hidden)
        hidden = layers.BatchNormalization(momentum=0.9, name=f"conv{number}_bn")(hidden)
        hidden = layers.Activation("relu", name=f"conv{number}_relu")(hidden)
        hidden = layers.MaxPooling2D(name=f"pool{number}")(hidden)
    hidden = layers.Flatten(name="flatten")(hidden)
    hidden = layers.Dense(params.dense, use_bias=False, name="dense")(hidden)
    hidden = layers.BatchNormalization(momentum=0.9, name="dense_bn")(hidden)
    hidden = layers.Activation("relu", name=FEATURES_LAYER)(hidden)
    hidden = layers.Dropout(params.dropout, name="dropout")(hidden)
    outputs = layers.Dense(10, activation="softmax", name="probabilities")(hidden)
    return keras.Model(inputs, outputs, name="digit_classifier")


class DigitClassifier:
    """A trained classifier: probabilities and penultimate-layer features of digit images.

    Parameters
    ----------
    model : a Keras model from :func:`build_model` (it must have the layer ``features``).
    """

    def __init__(self, model) -> None:
        try:
            features = model.get_layer(FEATURES_LAYER)
        except ValueError:
            raise ValueError(
                f"model {model.name!r} has no layer named {FEATURES_LAYER!r}; build it with digitgen.classifier.build_model."
            ) from None
        self.model = model
        self._both = keras.Model(model.inputs, [features.output, model.outputs[0]])

    @property
    def feature_size(self) -> int:
        """D, the number of features per image."""
        return int(self._both.outputs[0].shape[-1])

    def features_and_proba(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Features and class probabilities in one pass.

        Parameters
        ----------
        images : uint8 (N, 28, 28), 0 = background, 255 = ink.

        Returns
        -------
        features : float32 (N, D), activations of the ``features`` layer.
        proba : float32 (N, 10), softmax probabilities of digits 0-9.
        """
        images = check_digits(images)
        if not len(images):
            return np.zeros((0, self.feature_size), np.float32), np.zeros((0, 10), np.float32)
        features, proba = self._both.predict(images.astype(np.float32), batch_size=PREDICT_BATCH, verbose=0)
        return np.asarray(features, np.float32), np.asarray(proba, np.float32)

    def features(self, images: np.ndarray) -> np.ndarray:
        """float32 (N, D) penultimate-layer features of uint8 (N, 28, 28) images."""
        return self.features_and_proba(images)[0]

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """float32 (N, 10) class probabilities of uint8 (N, 28, 28) images."""
        return self.features_and_proba(images)[1]

    def save(self, path: str | os.PathLike) -> None:
        """Write the model as a ``.keras`` file, atomically and byte-reproducibly.

        Keras stamps the save time into ``metadata.json`` and into the zip
        header of the weights; both are replaced by fixed values so the same
        weights always give the same bytes.
        """
        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(f"classifier path {str(path)!r} must end in '.keras'.")
        with atomic_path(path) as tmp:
            save_keras(self.model, tmp)

    @classmethod
    def load(cls, path: str | os.PathLike) -> DigitClassifier:
        """Read a classifier written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"classifier {str(path)!r} does not exist; run `dvc repro train_classifier` to train it."
            )
        if path.suffix != ".keras":
            raise ValueError(f"classifier path {str(path)!r} must end in '.keras'.")
        return cls(load_keras(path))


@dataclass(frozen=True)
class TrainingResult:
    """What :func:`train_classifier` returns.

    Attributes
    ----------
    classifier : the trained model (inference copy, without optimizer state).
    history : metric name -> one value per epoch: ``loss``, ``accuracy`` and, with a
        validation hold-out, ``val_loss``, ``val_accuracy``.
    seconds_per_epoch : wall time of each epoch (for logs; never written to metric files).
    train_count, validation_count : digits used to fit and held out.
    """

    classifier: DigitClassifier
    history: dict[str, list[float]]
    seconds_per_epoch: list[float]
    train_count: int
    validation_count: int


def train_classifier(images: np.ndarray, labels: np.ndarray, params: TrainClassifierParams) -> TrainingResult:
    """Train the CNN of ``params`` on MNIST training digits, deterministically (:func:`digitgen.keras_train.train_model`).

    ``params.validation_fraction`` of the digits (a seeded random subset, in
    the permutation's order) is held out for the validation curve; the rest is
    fed through ``tf.data`` (seeded shuffle, batch, cast to float32, prefetch).
    Adam with a cosine-decaying learning rate, sparse categorical
    cross-entropy. Seeds Keras, NumPy and Python and turns on TensorFlow's op
    determinism for the whole process.

    Parameters
    ----------
    images : uint8 (N, 28, 28) training digits.
    labels : int (N,) digits 0-9.
    params : the ``train_classifier`` section of params.yaml (or a judge's, see :mod:`digitgen.generators.judges`).

    Returns
    -------
    TrainingResult
    """
    images = check_digits(images, "training images")
    labels = check_labels(labels, len(images), "training labels").astype(np.int64)
    fit = train_model(
        lambda: build_model(params),
        (images, labels),
        _pixels_as_float,
        seed=params.seed,
        epochs=params.epochs,
        batch_size=params.batch_size,
        learning_rate=params.learning_rate,
        validation_fraction=params.validation_fraction,
        compile_args={"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
        what="training digits",
        fraction_key="train_classifier.validation_fraction",
    )
    inference = build_model(params)  # the same architecture without optimizer state
    inference.set_weights(fit.model.get_weights())
    return TrainingResult(
        classifier=DigitClassifier(inference),
        history=fit.history,
        seconds_per_epoch=fit.seconds_per_epoch,
        train_count=fit.train_count,
        validation_count=fit.validation_count,
    )


def _pixels_as_float(pixels: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """A batch of uint8 pixels as float32 (the model rescales them itself), labels unchanged."""
    return tf.cast(pixels, tf.float32), labels
