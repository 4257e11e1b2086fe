"""Held-out readers: classifiers of other architectures than the evaluation classifier, trained by the evaluation.

They answer one question: does a digit that the judges of the ambiguous
generator made ambiguous also look ambiguous to networks that had no part in
making it? Each reader is trained here, on a seeded subset of the real
training digits, with a seed of its own, and is used for nothing but scoring
(never saved, never given to a generator). Three architectures:

- ``wide_cnn``: the evaluation design made wider (48 and 96 filters, 256 features);
- ``residual``: a small residual network (two residual blocks of 3x3 convolutions at 28 and 14 px,
  global average pooling);
- ``mlp``: a multilayer perceptron on the 784 pixels (512 and 256 units), no convolution at all.

Every reader maps float32 (N, 28, 28) pixels in 0..255 to (N, 10) softmax
probabilities and has a layer named ``features`` (so it is a
:class:`~digitgen.classifier.DigitClassifier`). Imports Keras and TensorFlow.
"""

from __future__ import annotations

import logging
import time

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from digitgen.arrays import check_digits, check_labels
from digitgen.classifier import FEATURES_LAYER, DigitClassifier
from digitgen.constants import DIGIT_SIZE
from digitgen.keras_train import train_model
from digitgen.params.evaluate_banks import READER_KINDS, ReadersParams

logger = logging.getLogger(__name__)

#: Seed stream of the readers (apart from every other draw of the stage).
STREAM = 23


def reader_seed(seed: int, kind: str) -> int:
    """32-bit training seed of reader ``kind``: ``SeedSequence([seed, 23, index of kind])``."""
    return int(np.random.SeedSequence([seed, STREAM, READER_KINDS.index(kind)]).generate_state(1)[0])


def _conv_block(h, filters: int, name: str):
    h = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(h)
    h = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(h)
    return layers.Activation("relu", name=f"{name}_relu")(h)


def build_reader(kind: str) -> keras.Model:
    """The uncompiled reader ``kind`` (one of :data:`~digitgen.params.evaluate_banks.READER_KINDS`); seed Keras first."""
    inputs = keras.Input((DIGIT_SIZE, DIGIT_SIZE), name="pixels")
    h = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    if kind == "mlp":
        h = layers.Flatten(name="flatten")(h)
        h = layers.Dense(512, activation="relu", name="dense1")(h)
        features = layers.Dense(256, activation="relu", name=FEATURES_LAYER)(h)
    elif kind == "wide_cnn":
        h = layers.Reshape((DIGIT_SIZE, DIGIT_SIZE, 1), name="channel")(h)
        for number, width in enumerate((48, 96), start=1):
            h = _conv_block(h, width, f"block{number}")
            h = layers.MaxPooling2D(name=f"pool{number}")(h)
        h = layers.Flatten(name="flatten")(h)
        features = layers.Dense(256, activation="relu", name=FEATURES_LAYER)(h)
    elif kind == "residual":
        h = layers.Reshape((DIGIT_SIZE, DIGIT_SIZE, 1), name="channel")(h)
        h = _conv_block(h, 16, "stem")
        for number, width in enumerate((16, 32), start=1):
            if number > 1:
                h = layers.Conv2D(width, 3, strides=2, padding="same", name=f"down{number}")(h)
            shortcut = h
            h = _conv_block(h, width, f"res{number}a")
            h = layers.Conv2D(width, 3, padding="same", name=f"res{number}b_conv")(h)
            h = layers.Activation("relu", name=f"res{number}_out")(layers.Add(name=f"res{number}_add")([h, shortcut]))
        h = layers.GlobalAveragePooling2D(name="pool")(h)
        features = layers.Activation("linear", name=FEATURES_LAYER)(h)
    else:
        raise ValueError(f"reader kind == {kind!r}, must be one of {list(READER_KINDS)}.")
    h = layers.Dropout(0.3, name="dropout")(features)
    outputs = layers.Dense(10, activation="softmax", name="probabilities")(h)
    return keras.Model(inputs, outputs, name=f"reader_{kind}")


def train_readers(images: np.ndarray, labels: np.ndarray, params: ReadersParams, seed: int) -> dict[str, DigitClassifier]:
    """Train every reader of ``params.kinds`` on a seeded subset of ``params.digits`` training digits.

    Parameters
    ----------
    images : uint8 (N, 28, 28) real training digits; labels : int (N,) digits 0-9.
    params : ``evaluate_banks.readers``.
    seed : the stage's seed; reader ``kind`` trains with :func:`reader_seed` and its own subset.

    Returns
    -------
    dict kind -> trained :class:`~digitgen.classifier.DigitClassifier`, in the order of ``params.kinds``.
    """
    images = check_digits(images, "reader training images")
    labels = check_labels(labels, len(images), "reader training labels").astype(np.int64)
    readers = {}
    for kind in params.kinds:
        started = time.perf_counter()
        own = reader_seed(seed, kind)
        rows = np.sort(np.random.default_rng(own).permutation(len(images))[: params.digits])
        fit = train_model(
            lambda kind=kind: build_reader(kind),
            (images[rows], labels[rows]),
            _as_float,
            seed=own,
            epochs=params.epochs,
            batch_size=128,
            learning_rate=0.002,
            validation_fraction=0.0,
            compile_args={"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
            what="reader training digits",
        )
        readers[kind] = DigitClassifier(fit.model)
        logger.info("reader %s trained on %d digits in %.1f s", kind, len(rows), time.perf_counter() - started)
    return readers


def _as_float(pixels: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    return tf.cast(pixels, tf.float32), labels
