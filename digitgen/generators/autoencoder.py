"""Deterministic autoencoders that embed digits for the clustering study: plain, or semi-supervised.

Model
    Dense layers (N2D's shape by default: 784 -> 500 -> 500 -> 2000 -> d, and
    back), ReLU inside, a linear code of ``latent_size`` and a sigmoid output
    of the 784 pixels. The plain autoencoder minimises the mean squared pixel
    error (pixels in [0, 1]). The semi-supervised one (``class_weight > 0``)
    adds a softmax head on the code and minimises

        mean squared pixel error + class_weight x cross-entropy(label, head(code)),

    the reference project's loss (weights 1 and 0.95), so its codes are pulled
    into one group per digit. Training goes through
    :func:`digitgen.keras_train.train_model` (seeded, ``tf.data``, cosine-decayed
    Adam): the same parameters and data give the same weights.

Saved as a model folder (:mod:`digitgen.model_folder`): ``encoder.keras``,
``decoder.keras`` and ``model.json``. The classification head is used in
training only and not saved.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from digitgen import model_folder
from digitgen.arrays import check_digits, check_training_data
from digitgen.constants import DIGIT_SIZE
from digitgen.generators.base import BaseGenerator
from digitgen.generators.vae import generator_rules, keras_versions
from digitgen.keras_io import load_keras, save_keras
from digitgen.keras_train import train_model
from digitgen.params.core import defaults_of
from digitgen.params.latent_report import AUTOENCODER_RULES, SemisupervisedParams

logger = logging.getLogger(__name__)

FORMAT = "digitgen.autoencoder"
FORMAT_VERSION = 1
FILES = ("encoder.keras", "decoder.keras")
#: Digits encoded or decoded per inference batch.
PREDICT_BATCH = 2000
_PIXELS = DIGIT_SIZE * DIGIT_SIZE
_DEFAULTS = defaults_of(SemisupervisedParams)


def build_encoder(latent_size: int, hidden: Sequence[int]) -> keras.Model:
    """Encoder: float32 (N, 28, 28) pixels in [0, 1] -> float32 (N, d) codes (fixed layer names)."""
    pixels = keras.Input((DIGIT_SIZE, DIGIT_SIZE), name="pixels")
    h = layers.Flatten(name="flatten")(pixels)
    for number, width in enumerate(hidden, start=1):
        h = layers.Dense(width, activation="relu", name=f"dense{number}")(h)
    return keras.Model(pixels, layers.Dense(latent_size, name="code")(h), name="encoder")


def build_decoder(latent_size: int, hidden: Sequence[int]) -> keras.Model:
    """Decoder: float32 (N, d) codes -> float32 (N, 28, 28) pixels in [0, 1] (the encoder's layers reversed)."""
    code = keras.Input((latent_size,), name="code")
    h = code
    for number, width in enumerate(reversed(hidden), start=1):
        h = layers.Dense(width, activation="relu", name=f"dense{number}")(h)
    h = layers.Dense(_PIXELS, activation="sigmoid", name="pixels")(h)
    return keras.Model(code, layers.Reshape((DIGIT_SIZE, DIGIT_SIZE), name="image")(h), name="decoder")


class AutoencoderEmbedder(BaseGenerator):
    """A deterministic autoencoder of digits, plain (``class_weight == 0``) or semi-supervised (see the module docstring).

    Parameters
    ----------
    latent_size : d, size of the code, 1..512.
    hidden : dense layer widths of the encoder (1 to 4; the decoder mirrors them).
    class_weight : weight of the cross-entropy of the head on the code, in [0, 1000]; 0 = plain.
    epochs, batch_size, learning_rate, validation_fraction : the training run.
    random_state : seed of the weights, the shuffle and the hold-out.

    Attributes
    ----------
    encoder_, decoder_ : the trained Keras models.
    history_ : per-epoch losses; ``train_count_``, ``validation_count_``.
    """

    RULES = generator_rules(AUTOENCODER_RULES)
    FITTED_ATTRIBUTE = "decoder_"

    def __init__(
        self,
        *,
        latent_size: int = _DEFAULTS["latent_size"],
        hidden: Sequence[int] = _DEFAULTS["hidden"],
        class_weight: float = 0.0,
        epochs: int = _DEFAULTS["epochs"],
        batch_size: int = _DEFAULTS["batch_size"],
        learning_rate: float = _DEFAULTS["learning_rate"],
        validation_fraction: float = _DEFAULTS["validation_fraction"],
        random_state: int = 0,
    ) -> None:
        self.latent_size = latent_size
        self.hidden = hidden
        self.class_weight = class_weight
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    def fit(self, images: np.ndarray, labels: np.ndarray | None = None) -> AutoencoderEmbedder:
        """Train on uint8 (N, 28, 28) digits; int (N,) labels are needed when ``class_weight > 0`` (else ignored)."""
        p = self.checked_params()
        supervised = p["class_weight"] > 0
        if supervised:
            if labels is None:
                raise ValueError(f"class_weight == {p['class_weight']!r} > 0: a semi-supervised autoencoder needs labels.")
            images, labels = check_training_data(images, labels)
        else:
            images = check_digits(images, "training images")
            labels = np.zeros(len(images), np.int64)
        built: dict[str, keras.Model] = {}

        def build() -> keras.Model:
            built["encoder"] = build_encoder(p["latent_size"], p["hidden"])
            built["decoder"] = build_decoder(p["latent_size"], p["hidden"])
            pixels = keras.Input((DIGIT_SIZE, DIGIT_SIZE), name="pixels")
            code = built["encoder"](pixels)
            outputs = [built["decoder"](code)]
            if supervised:
                outputs.append(layers.Dense(10, activation="softmax", name="head")(code))
            return keras.Model(pixels, outputs, name="autoencoder")

        compile_args: dict[str, Any] = {"loss": ["mse", "sparse_categorical_crossentropy"] if supervised else "mse"}
        if supervised:
            compile_args["loss_weights"] = [1.0, p["class_weight"]]
        started = time.perf_counter()
        fit = train_model(
            build,
            (images, labels.astype(np.int64)),
            _targets(supervised),
            seed=p["random_state"],
            epochs=p["epochs"],
            batch_size=p["batch_size"],
            learning_rate=p["learning_rate"],
            validation_fraction=p["validation_fraction"],
            compile_args=compile_args,
            log_precision=5,
        )
        self.encoder_, self.decoder_ = built["encoder"], built["decoder"]
        self.history_ = fit.history
        self.train_count_, self.validation_count_ = fit.train_count, fit.validation_count
        self.seconds_per_epoch_ = fit.seconds_per_epoch
        logger.info(
            "%s autoencoder (code %d) trained on %d digits in %.1f s: loss %.5f",
            "semi-supervised" if supervised else "plain", p["latent_size"], fit.train_count,
            time.perf_counter() - started, fit.history["loss"][-1],
        )
        return self

    def encode(self, images: np.ndarray) -> np.ndarray:
        """float32 (N, d) codes of uint8 (N, 28, 28) digits."""
        self._check_fitted()
        images = check_digits(images)
        if not len(images):
            return np.zeros((0, self.latent_size), np.float32)
        scaled = images.astype(np.float32) / np.float32(255)
        return np.asarray(self.encoder_.predict(scaled, batch_size=PREDICT_BATCH, verbose=0), np.float32)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """uint8 (N, 28, 28) digits (pixels x 255, rounded) of float (N, d) codes."""
        self._check_fitted()
        codes = np.asarray(codes, np.float32)
        if not len(codes):
            return np.zeros((0, DIGIT_SIZE, DIGIT_SIZE), np.uint8)
        pixels = self.decoder_.predict(codes, batch_size=PREDICT_BATCH, verbose=0)
        return np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)

    def summary(self) -> dict[str, Any]:
        """JSON-ready description of the fit: losses per epoch and counts."""
        self._check_fitted()
        return {"history": self.history_, "train_count": self.train_count_, "validation_count": self.validation_count_}

    def save(self, path: str | os.PathLike) -> None:
        """Write the model folder ``path`` (``encoder.keras``, ``decoder.keras``, ``model.json``), atomically and byte-reproducibly."""
        self._check_fitted()

        def files(folder: Path) -> None:
            save_keras(self.encoder_, folder / "encoder.keras")
            save_keras(self.decoder_, folder / "decoder.keras")

        model_folder.write(
            path, format=FORMAT, format_version=FORMAT_VERSION, cls=type(self).__name__, params=self.checked_params(),
            fitted=self.summary(), versions=model_folder.versions(**keras_versions()), files=files,
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> AutoencoderEmbedder:
        """Read a model folder written by :meth:`save`, checking its format, parameters and SHA-256s."""
        path = Path(path)
        description = model_folder.read(
            path, format=FORMAT, format_version=FORMAT_VERSION, cls=cls.__name__, stage="latent_report", files=FILES,
            fitted=("history", "train_count", "validation_count"), what="autoencoder",
        )
        model = cls.from_saved_params(description["params"], path / model_folder.MODEL_JSON, "latent_report")
        model.encoder_ = load_keras(path / "encoder.keras")
        model.decoder_ = load_keras(path / "decoder.keras")
        fitted = description["fitted"]
        model.history_ = fitted["history"]
        model.train_count_, model.validation_count_ = fitted["train_count"], fitted["validation_count"]
        return model


def _targets(supervised: bool):
    """The ``tf.data`` map of a batch: pixels in [0, 1] as input and target (and the labels for the head)."""

    def plain(pixels: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        scaled = tf.cast(pixels, tf.float32) / 255.0
        return scaled, scaled

    def with_labels(pixels: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tuple[tf.Tensor, tf.Tensor]]:
        scaled = tf.cast(pixels, tf.float32) / 255.0
        return scaled, (scaled, labels)

    return with_labels if supervised else plain
