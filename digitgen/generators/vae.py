"""The VAE engine shared by the conditional VAE and the autoencoder of ambiguous digits (Keras 3).

Model
    A small convolutional VAE. The ``encoder`` (two 3x3 convolutions of
    stride 2, 28 -> 14 -> 7 px, then a dense layer) maps a digit and, for a
    conditional model, its one-hot label to the mean ``mu`` and log-variance
    of a diagonal Gaussian over ``latent_size`` codes. The ``decoder`` (dense
    layers, then two transposed convolutions of stride 2) maps a code and the
    one-hot label to per-pixel Bernoulli logits. Training minimises the
    beta-weighted negative ELBO per image, in nats::

        reconstruction = sum over the 784 pixels of BCE(pixel / 255, logit)
        kl             = KL(N(mu, sigma^2) || N(0, I))
        total          = reconstruction + beta * kl

    through :func:`digitgen.keras_train.train_model` (seeded hold-out in row
    order, ``tf.data``, cosine-decayed Adam); the reparameterisation noise comes
    from a seeded ``keras.random.SeedGenerator``, so the same parameters and
    data give the same weights.

Inference
    :func:`encode_means` gives encoder means (not sampled codes);
    :func:`decode_images` gives the *mean* of the Bernoulli pixels (sigmoid of
    the logits, times 255, rounded), not a draw of binary pixels, which would
    add salt-and-pepper noise.

:func:`losses_csv` writes the per-epoch losses of a training run (a DVC plot).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import scipy.special
import tensorflow as tf
from keras import layers, ops

from digitgen.constants import DIGIT_SIZE
from digitgen.keras_io import infer
from digitgen.keras_train import train_model
from digitgen.rules import Rule

#: Digits and images per inference batch (memory ~ batch x 28 x 28 x filters[0] x 4 bytes).
PREDICT_BATCH = 2000
#: Loss terms tracked per epoch, in the column order of :func:`losses_csv`.
LOSS_TERMS = ("reconstruction", "kl", "total")


def generator_rules(section_rules: Mapping[str, Rule]) -> dict[str, Rule]:
    """A generator class's rules from its params section's: the same rules, with ``seed`` named ``random_state``."""
    rules = {name: rule for name, rule in section_rules.items() if name != "seed"}
    rules["random_state"] = section_rules["seed"]
    return rules


# --------------------------------------------------------------------------- models


def build_encoder(latent_size: int, filters: Sequence[int], hidden: int, conditional: bool) -> keras.Model:
    """The encoder: digit (and one-hot label) -> ``(z_mean, z_log_var)``.

    Layers have fixed names, so the saved architecture does not depend on how
    many models the process built before. Seed Keras first for reproducible
    initial weights.

    Parameters
    ----------
    latent_size : d, size of the code.
    filters : two convolution widths (28 -> 14 -> 7 px).
    hidden : width of the dense layer.
    conditional : take the one-hot label float32 (N, 10) as a second input.

    Returns
    -------
    keras.Model named ``encoder`` mapping ``[pixels float32 (N, 28, 28, 1) in
    [0, 1], (label float32 (N, 10))]`` to two float32 (N, d).
    """
    pixels = keras.Input((DIGIT_SIZE, DIGIT_SIZE, 1), name="pixels")
    inputs = [pixels]
    h = pixels
    for number, width in enumerate(filters, start=1):
        h = layers.Conv2D(width, 3, strides=2, padding="same", activation="relu", name=f"conv{number}")(h)
    h = layers.Flatten(name="flatten")(h)
    if conditional:
        label = keras.Input((10,), name="label")
        inputs.append(label)
        h = layers.Concatenate(name="with_label")([h, label])
    h = layers.Dense(hidden, activation="relu", name="hidden")(h)
    z_mean = layers.Dense(latent_size, name="z_mean")(h)
    z_log_var = layers.Dense(latent_size, name="z_log_var")(h)
    return keras.Model(inputs, [z_mean, z_log_var], name="encoder")


def build_decoder(latent_size: int, filters: Sequence[int], hidden: int, conditional: bool) -> keras.Model:
    """The decoder: code (and one-hot label) -> per-pixel Bernoulli logits.

    Parameters are those of :func:`build_encoder`; the transposed
    convolutions mirror its convolutions (7 -> 14 -> 28 px).

    Returns
    -------
    keras.Model named ``decoder`` mapping ``[z float32 (N, d), (label float32
    (N, 10))]`` to logits float32 (N, 28, 28, 1).
    """
    z = keras.Input((latent_size,), name="z")
    inputs = [z]
    h = z
    if conditional:
        label = keras.Input((10,), name="label")
        inputs.append(label)
        h = layers.Concatenate(name="with_label")([z, label])
    grid = DIGIT_SIZE // 4
    h = layers.Dense(hidden, activation="relu", name="hidden")(h)
    h = layers.Dense(grid * grid * filters[1], activation="relu", name="expand")(h)
    h = layers.Reshape((grid, grid, filters[1]), name="grid")(h)
    h = layers.Conv2DTranspose(filters[0], 3, strides=2, padding="same", activation="relu", name="deconv1")(h)
    logits = layers.Conv2DTranspose(1, 3, strides=2, padding="same", name="logits")(h)
    return keras.Model(inputs, logits, name="decoder")


class VaeTrainer(keras.Model):
    """Trains an encoder and a decoder on the beta-weighted negative ELBO (per image, in nats).

    Batches are tuples ``(pixels,)`` or ``(pixels, one_hot_label)``; the
    reparameterisation noise comes from a seeded ``SeedGenerator``. Tracks
    ``reconstruction`` and ``kl`` (means over the epoch). The mean of the
    minimised total is ``reconstruction + beta * kl``; it is not tracked in
    the graph, where TensorFlow's graph rewrites made its last bit vary from
    run to run (the weights did not).
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, beta: float, seed: int, **kwargs: Any) -> None:
        super().__init__(name="vae", **kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.beta = float(beta)
        self.seed_generator = keras.random.SeedGenerator(seed, name="noise")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [self.reconstruction_tracker, self.kl_tracker]

    def _elbo_terms(self, data: tuple) -> tuple[Any, Any, Any]:
        pixels, *condition = data
        z_mean, z_log_var = self.encoder([pixels, *condition])
        noise = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        z = z_mean + ops.exp(0.5 * z_log_var) * noise
        logits = self.decoder([z, *condition])
        reconstruction = ops.mean(ops.sum(ops.binary_crossentropy(pixels, logits, from_logits=True), axis=(1, 2, 3)))
        kl = ops.mean(-0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=1))
        return reconstruction, kl, reconstruction + self.beta * kl

    def _update_trackers(self, reconstruction: Any, kl: Any) -> dict[str, Any]:
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return {metric.name: metric.result() for metric in self.metrics}

    def train_step(self, data: tuple) -> dict[str, Any]:
        with tf.GradientTape() as tape:
            reconstruction, kl, total = self._elbo_terms(data)
        gradients = tape.gradient(total, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        return self._update_trackers(reconstruction, kl)

    def test_step(self, data: tuple) -> dict[str, Any]:
        reconstruction, kl, _ = self._elbo_terms(data)
        return self._update_trackers(reconstruction, kl)


# --------------------------------------------------------------------------- training


@dataclass(frozen=True)
class VaeFit:
    """What :func:`train_vae` returns.

    Attributes
    ----------
    encoder, decoder : the trained sub-models.
    history : ``reconstruction``, ``kl``, ``total`` (train, running mean over
        each epoch) and ``val_reconstruction``, ``val_kl``, ``val_total``
        (validation slice, end of each epoch), one float per epoch.
    seconds_per_epoch : wall time of each epoch (for logs, never for DVC outputs).
    train_count, validation_count : digits fitted and held out.
    """

    encoder: keras.Model
    decoder: keras.Model
    history: dict[str, list[float]]
    seconds_per_epoch: list[float]
    train_count: int
    validation_count: int


def train_vae(
    images: np.ndarray,
    labels: np.ndarray | None,
    *,
    latent_size: int,
    filters: Sequence[int],
    hidden: int,
    beta: float,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    validation_fraction: float,
    seed: int,
) -> VaeFit:
    """Train a (conditional when ``labels`` is given) VAE deterministically.

    Parameters
    ----------
    images : uint8 (N, 28, 28) training digits, 0 = background.
    labels : int (N,) digits 0-9 for a conditional model, or None.
    latent_size, filters, hidden : the architecture (:func:`build_encoder`).
    beta : weight of the KL term, > 0.
    epochs, batch_size, learning_rate : Adam with a cosine decay over all steps.
    validation_fraction : seeded random fraction of ``images`` held out for
        the validation losses, in [0, 0.5); hold-out and training rows are fed in row order.
    seed : seeds Keras (weights), the shuffle, the hold-out and the noise.

    Returns
    -------
    VaeFit
    """
    conditional = labels is not None
    columns = (images,) + ((np.asarray(labels).astype(np.int32),) if conditional else ())
    built: dict[str, keras.Model] = {}

    def build() -> VaeTrainer:
        built["encoder"] = build_encoder(latent_size, filters, hidden, conditional)
        built["decoder"] = build_decoder(latent_size, filters, hidden, conditional)
        return VaeTrainer(built["encoder"], built["decoder"], beta, seed)

    fit = train_model(
        build,
        columns,
        _to_model_inputs,
        seed=seed,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        validation_fraction=validation_fraction,
        sort_holdout=True,
        log_precision=2,
        log_derive=lambda logs: _totals(logs, beta),
    )
    history = dict(fit.history)
    history.update({name: list(values) for name, values in _totals(fit.history, beta, per_epoch=True).items()})
    return VaeFit(
        encoder=built["encoder"],
        decoder=built["decoder"],
        history=dict(sorted(history.items())),
        seconds_per_epoch=fit.seconds_per_epoch,
        train_count=fit.train_count,
        validation_count=fit.validation_count,
    )


def _totals(values: Mapping[str, Any], beta: float, *, per_epoch: bool = False) -> dict[str, Any]:
    """``total`` (and ``val_total``) = reconstruction + beta * KL, of one epoch's logs or of every epoch of a history."""
    totals = {}
    for prefix in ("", "val_"):
        if f"{prefix}kl" in values:
            reconstruction, kl = values[f"{prefix}reconstruction"], values[f"{prefix}kl"]
            if per_epoch:
                totals[f"{prefix}total"] = [r + beta * k for r, k in zip(reconstruction, kl)]
            else:
                totals[f"{prefix}total"] = reconstruction + beta * kl
    return totals


def _to_model_inputs(pixels: tf.Tensor, *labels: tf.Tensor) -> tuple[tf.Tensor, ...]:
    """uint8 (B, 28, 28) [, int (B,)] -> float32 (B, 28, 28, 1) in [0, 1] [, one-hot float32 (B, 10)]."""
    scaled = tf.cast(pixels, tf.float32)[..., None] / 255.0
    return (scaled,) + tuple(tf.one_hot(label, 10, dtype=tf.float32) for label in labels)


def losses_csv(history: Mapping[str, Sequence[float]]) -> str:
    """Per-epoch losses as CSV text: ``epoch``, ``train_*`` and ``val_*`` of reconstruction, KL and total."""
    columns = ["epoch"]
    for prefix, key_prefix in (("train", ""), ("val", "val_")):
        columns += [f"{prefix}_{name}" for name in LOSS_TERMS if f"{key_prefix}{name}" in history]
    lines = [",".join(columns)]
    for epoch in range(len(history["total"])):
        values = [str(epoch + 1)]
        for column in columns[1:]:
            split, name = column.split("_", 1)
            values.append(repr(history[("val_" if split == "val" else "") + name][epoch]))
        lines.append(",".join(values))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- inference


def encode_means(encoder: keras.Model, images: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """Encoder means ``mu`` (not sampled codes) of digits.

    Parameters
    ----------
    encoder : from :func:`build_encoder`.
    images : uint8 (N, 28, 28).
    labels : int (N,) digits for a conditional encoder, else None.

    Returns
    -------
    float32 (N, d).
    """
    inputs = [images.astype(np.float32)[..., None] / np.float32(255)]
    if labels is not None:
        inputs.append(one_hot(labels))
    if not len(images):
        return np.zeros((0, encoder.outputs[0].shape[-1]), np.float32)
    z_mean, _ = infer(encoder, inputs, PREDICT_BATCH)
    return np.asarray(z_mean, dtype=np.float32)


def decode_images(decoder: keras.Model, codes: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """Decode codes to digits: the Bernoulli mean of each pixel, times 255, rounded.

    Parameters
    ----------
    decoder : from :func:`build_decoder`.
    codes : float (N, d).
    labels : int (N,) digits for a conditional decoder, else None.

    Returns
    -------
    uint8 (N, 28, 28), 0 = background, 255 = ink.
    """
    if not len(codes):
        return np.zeros((0, DIGIT_SIZE, DIGIT_SIZE), np.uint8)
    inputs = [np.asarray(codes, dtype=np.float32)]
    if labels is not None:
        inputs.append(one_hot(labels))
    logits = infer(decoder, inputs, PREDICT_BATCH)[..., 0]
    return np.round(scipy.special.expit(logits) * 255).astype(np.uint8)


def one_hot(labels: np.ndarray) -> np.ndarray:
    """float32 (N, 10) one-hot rows of int (N,) digits."""
    return np.eye(10, dtype=np.float32)[np.asarray(labels, dtype=np.int64)]


def keras_versions() -> dict[str, str]:
    """Versions of the Keras stack a saved VAE depends on (for ``model.json``)."""
    return {"keras": keras.__version__, "tensorflow": tf.__version__}
