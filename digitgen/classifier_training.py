"""Building and training the digit classifier CNN (the evaluation classifier and the ambiguous generator's judges).

A small Keras CNN: ``len(filters)`` blocks of 3x3 convolution, batch
normalisation, ReLU and 2x2 max pooling, then a dense layer with batch
normalisation and ReLU (the layer named ``features``), dropout and a 10-way
softmax. Training is seeded and runs with TensorFlow's deterministic ops
(:func:`digitgen.keras_train.train_model`), so the same parameters and data
give the same weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from digitgen.arrays import check_digits, check_labels
from digitgen.classifier import FEATURES_LAYER, DigitClassifier
from digitgen.constants import DIGIT_SIZE
from digitgen.keras_train import train_model
from digitgen.params.train_classifier import TrainClassifierParams


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
