"""Conditional variational autoencoder (Keras 3) that draws digits of a chosen class.

Model
    A small convolutional VAE. The ``encoder`` (two 3x3 convolutions of
    stride 2, 28 -> 14 -> 7 px, then a dense layer) maps a digit and, for the
    conditional model, its one-hot label to the mean ``mu`` and log-variance
    of a diagonal Gaussian over ``latent_size`` codes. The ``decoder`` (dense
    layers, then two transposed convolutions of stride 2) maps a code and the
    one-hot label to per-pixel Bernoulli logits. Training minimises the
    beta-weighted negative ELBO per image, in nats::

        reconstruction = sum over the 784 pixels of BCE(pixel / 255, logit)
        kl             = KL(N(mu, sigma^2) || N(0, I))
        total          = reconstruction + beta * kl

    with Adam and a cosine-decaying learning rate, fed through ``tf.data``
    (seeded shuffle, batch, prefetch); a seeded random fraction of the
    training digits is held out as the validation slice of the loss curves.

Sampling
    ``sample(n, digit)`` draws codes from the prior ``N(0, temperature^2 I)``
    with a NumPy generator and decodes them with the digit's label. The image
    is the *mean* of the Bernoulli pixels (sigmoid of the logits, times 255),
    not a draw of binary pixels: sampling pixels adds salt-and-pepper noise
    and makes digits harder to read.

Determinism
    ``fit`` seeds Python, NumPy and TensorFlow (``keras.utils.set_random_seed``),
    turns on TensorFlow's deterministic ops and draws the reparameterisation
    noise from a ``keras.random.SeedGenerator``, so the same parameters and
    data give the same weights; the same weights and generator give the same
    samples.

Saved as a folder: ``encoder.keras`` and ``decoder.keras`` (functional models
of built-in layers, loaded with ``safe_mode=True``; zip timestamps and the
save date are fixed so the same weights give the same bytes) and
``model.json`` (parameters, loss history, class priors, versions, SHA-256 of
both model files). The machinery here (:func:`build_encoder`,
:func:`build_decoder`, :class:`VaeTrainer`, :func:`train_vae`) also trains the
unconditional autoencoder of :mod:`digitgen.generators.ambiguous`.
"""

from __future__ import annotations

import inspect
import json
import logging
import numbers
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import scipy.special
import tensorflow as tf
from keras import layers, ops

import digitgen
from digitgen.io import atomic_directory, sha256_file, write_json
from digitgen.keras_io import load_keras, save_keras
from digitgen.params.train_cvae import TrainCvaeParams

logger = logging.getLogger(__name__)

FORMAT = "digitgen.cvae"
FORMAT_VERSION = 1
#: Digits and images per inference batch (memory ~ batch x 28 x 28 x filters[0] x 4 bytes).
PREDICT_BATCH = 2000
_SIDE = 28


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
    pixels = keras.Input((_SIDE, _SIDE, 1), name="pixels")
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
    grid = _SIDE // 4
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
        the validation losses, in [0, 0.5).
    seed : seeds Keras (weights), the shuffle, the hold-out and the noise.

    Returns
    -------
    VaeFit
    """
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    n_validation = int(round(validation_fraction * len(images)))
    order = np.random.default_rng(seed).permutation(len(images))
    held, kept = np.sort(order[:n_validation]), np.sort(order[n_validation:])
    conditional = labels is not None

    def batches(rows: np.ndarray, shuffle: bool) -> tf.data.Dataset:
        columns = (images[rows],) + ((labels[rows].astype(np.int32),) if conditional else ())
        data = tf.data.Dataset.from_tensor_slices(columns)
        if shuffle:
            data = data.shuffle(len(rows), seed=seed, reshuffle_each_iteration=True)
        return data.batch(batch_size).map(_to_model_inputs).prefetch(tf.data.AUTOTUNE)

    encoder = build_encoder(latent_size, filters, hidden, conditional)
    decoder = build_decoder(latent_size, filters, hidden, conditional)
    trainer = VaeTrainer(encoder, decoder, beta, seed)
    steps = -(-len(kept) // batch_size) * epochs
    trainer.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps)))
    timer = _EpochLog(epochs, beta)
    history = trainer.fit(
        batches(kept, shuffle=True),
        epochs=epochs,
        validation_data=batches(held, shuffle=False) if n_validation else None,
        shuffle=False,
        verbose=0,
        callbacks=[timer],
    ).history
    history = {name: [float(v) for v in values] for name, values in history.items()}
    for prefix in ("", "val_"):
        if f"{prefix}kl" in history:
            history[f"{prefix}total"] = [r + beta * k for r, k in zip(history[f"{prefix}reconstruction"], history[f"{prefix}kl"])]
    return VaeFit(
        encoder=encoder,
        decoder=decoder,
        history=dict(sorted(history.items())),
        seconds_per_epoch=timer.seconds,
        train_count=len(kept),
        validation_count=n_validation,
    )


def _to_model_inputs(pixels: tf.Tensor, *labels: tf.Tensor) -> tuple[tf.Tensor, ...]:
    """uint8 (B, 28, 28) [, int (B,)] -> float32 (B, 28, 28, 1) in [0, 1] [, one-hot float32 (B, 10)]."""
    scaled = tf.cast(pixels, tf.float32)[..., None] / 255.0
    return (scaled,) + tuple(tf.one_hot(label, 10, dtype=tf.float32) for label in labels)


class _EpochLog(keras.callbacks.Callback):
    """Log each epoch's losses (and their beta-weighted total) and wall time."""

    def __init__(self, epochs: int, beta: float) -> None:
        super().__init__()
        self.epochs = epochs
        self.beta = beta
        self.seconds: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._start)
        logs = dict(logs or {})
        for prefix in ("", "val_"):
            if f"{prefix}kl" in logs:
                logs[f"{prefix}total"] = logs[f"{prefix}reconstruction"] + self.beta * logs[f"{prefix}kl"]
        shown = " ".join(f"{name} {value:.2f}" for name, value in sorted(logs.items()))
        logger.info("epoch %d/%d: %s (%.1f s)", epoch + 1, self.epochs, shown, self.seconds[-1])


# --------------------------------------------------------------------------- inference helpers


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
        inputs.append(_one_hot(labels))
    if not len(images):
        return np.zeros((0, encoder.outputs[0].shape[-1]), np.float32)
    z_mean, _ = encoder.predict(inputs, batch_size=PREDICT_BATCH, verbose=0)
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
        return np.zeros((0, _SIDE, _SIDE), np.uint8)
    inputs = [np.asarray(codes, dtype=np.float32)]
    if labels is not None:
        inputs.append(_one_hot(labels))
    logits = decoder.predict(inputs, batch_size=PREDICT_BATCH, verbose=0)[..., 0]
    return np.round(scipy.special.expit(logits) * 255).astype(np.uint8)


def _one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(10, dtype=np.float32)[np.asarray(labels, dtype=np.int64)]


def read_description(
    folder: Path, format_name: str, files: Sequence[str], stage: str, format_version: int = FORMAT_VERSION
) -> dict[str, Any]:
    """Read ``model.json`` of a saved model folder and check its format, its version and the SHA-256 of ``files``.

    Raises
    ------
    FileNotFoundError
        A file of the model is missing (the message names the stage that makes it).
    ValueError
        Not valid JSON, another format or version, or a file whose SHA-256
        differs from the one recorded.
    """
    json_path = folder / "model.json"
    for name in ("model.json", *files):
        if not (folder / name).is_file():
            raise FileNotFoundError(
                f"model file {str(folder / name)!r} does not exist; run `dvc repro {stage}` or fit and save a model there."
            )
    try:
        description = json.loads(json_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{json_path}: not valid JSON: {error}") from None
    if description.get("format") != format_name or description.get("format_version") != format_version:
        raise ValueError(
            f"{json_path}: format {description.get('format')!r} version {description.get('format_version')!r}, "
            f"expected {format_name!r} version {format_version}; run `dvc repro {stage}` to rebuild it."
        )
    for name in files:
        digest = sha256_file(folder / name)
        recorded = description.get("sha256", {}).get(name)
        if digest != recorded:
            raise ValueError(f"{folder / name}: SHA-256 {digest} differs from the {recorded} recorded in {json_path.name}.")
    return description


def versions() -> dict[str, str]:
    """Versions of the code a saved model depends on."""
    return {"digitgen": digitgen.__version__, "keras": keras.__version__, "numpy": np.__version__, "tensorflow": tf.__version__}


# --------------------------------------------------------------------------- parameter checks


def check_int(name: str, value: Any, low: int, high: int | None = None) -> None:
    """Raise ValueError unless ``value`` is an integer in ``low..high`` (``high`` None: no upper bound)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low and (high is None or value <= high):
        return
    allowed = f"in {low}..{high}" if high is not None else f">= {low}"
    raise ValueError(f"{name} == {value!r}, must be an integer {allowed}.")


def check_real(name: str, value: Any, low: float, high: float | None, *, low_open: bool, high_open: bool = True) -> None:
    """Raise ValueError unless ``value`` is a finite number in the interval described."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and (high is None or (value < high if high_open else value <= high))
    if not ok:
        left, right = ("(" if low_open else "["), (")" if high_open or high is None else "]")
        raise ValueError(f"{name} == {value!r}, must be a number in {left}{low}, {high if high is not None else 'inf'}{right}.")


def check_architecture(params: dict[str, Any]) -> None:
    """Check the training parameters shared by the CVAE and the autoencoder; errors name the parameter."""
    check_int("latent_size", params["latent_size"], 1, 512)
    filters = params["filters"]
    if (
        isinstance(filters, str | bytes)
        or not isinstance(filters, Sequence | np.ndarray)
        or len(filters) != 2
        or not all(isinstance(f, numbers.Integral) and not isinstance(f, bool) and 1 <= f <= 256 for f in filters)
    ):
        raise ValueError(f"filters == {filters!r}, must be two convolution widths in 1..256 (28 -> 14 -> 7 px).")
    check_int("hidden", params["hidden"], 1, 4096)
    check_real("beta", params["beta"], 0, None, low_open=True)
    check_int("epochs", params["epochs"], 1)
    check_int("batch_size", params["batch_size"], 1)
    check_real("learning_rate", params["learning_rate"], 0, 1, low_open=True, high_open=False)
    check_real("validation_fraction", params["validation_fraction"], 0, 0.5, low_open=False)
    check_int("random_state", params["random_state"], 0)


def check_training_data(images: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return ``images`` uint8 (N, 28, 28) and ``labels`` int64 (N,) in 0-9, or raise ValueError."""
    images, labels = np.asarray(images), np.asarray(labels)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (_SIDE, _SIDE):
        raise ValueError(f"images must be uint8 (N, 28, 28), got {images.dtype} {images.shape}.")
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers of shape ({len(images)},), got {labels.dtype} {labels.shape}.")
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"labels must be digits 0-9, found {labels.min()}..{labels.max()}.")
    return images, labels.astype(np.int64)


def get_params(model: Any) -> dict[str, Any]:
    """The constructor parameters of ``model``, by name (scikit-learn's ``get_params``)."""
    return {name: getattr(model, name) for name in inspect.signature(type(model).__init__).parameters if name != "self"}


def json_params(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with tuples and NumPy scalars turned into JSON lists and numbers."""

    def plain(value: Any) -> Any:
        if isinstance(value, tuple | list | np.ndarray):
            return [plain(v) for v in value]
        if isinstance(value, np.generic):
            return value.item()
        return value

    return {name: plain(value) for name, value in params.items()}


# --------------------------------------------------------------------------- the generator


@dataclass(frozen=True)
class CvaeSamples:
    """What :meth:`CvaeDigitGenerator.generate` drew.

    Attributes
    ----------
    images : uint8 (n, 28, 28), 0 = background, 255 = ink.
    labels : int16 (n,) conditioning digits.
    latent : float32 (n, d) prior draws that were decoded (already times the temperature).
    """

    images: np.ndarray
    labels: np.ndarray
    latent: np.ndarray


class CvaeDigitGenerator:
    """Convolutional conditional VAE digit generator (see the module docstring).

    Parameters
    ----------
    latent_size : d, size of the code, 1..512.
    filters : two convolution widths of the encoder (mirrored by the decoder), each 1..256.
    hidden : width of the dense layer of the encoder and the decoder, 1..4096.
    beta : weight of the KL term, > 0 (< 1 sharpens reconstructions and
        loosens the match between codes and the prior).
    epochs : passes over the training digits, >= 1.
    batch_size : digits per gradient step, >= 1.
    learning_rate : initial Adam learning rate (cosine decay to 0), in (0, 1].
    validation_fraction : fraction of the training digits held out for the
        validation losses, in [0, 0.5).
    temperature : standard deviation of the prior draws at sampling time,
        > 0 (1 = the prior; below 1 trades diversity for typical digits).
    random_state : seed of the weights, the shuffle, the hold-out and the
        training noise, >= 0.

    Attributes
    ----------
    encoder_, decoder_ : the trained Keras sub-models.
    history_ : dict of per-epoch losses (see :class:`VaeFit`).
    priors_ : float64 (10,) training class frequencies (``sample`` with ``digit=None``).
    train_count_, validation_count_ : digits fitted and held out.
    seconds_per_epoch_ : wall time of each epoch (after ``fit`` only; never saved).
    """

    def __init__(
        self,
        *,
        latent_size: int = 16,
        filters: Sequence[int] = (16, 32),
        hidden: int = 256,
        beta: float = 1.0,
        epochs: int = 10,
        batch_size: int = 128,
        learning_rate: float = 0.002,
        validation_fraction: float = 0.05,
        temperature: float = 1.0,
        random_state: int = 0,
    ) -> None:
        self.latent_size = latent_size
        self.filters = filters
        self.hidden = hidden
        self.beta = beta
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.temperature = temperature
        self.random_state = random_state

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters, by name."""
        return get_params(self)

    def _validate_params(self) -> None:
        check_architecture(self.get_params())
        check_real("temperature", self.temperature, 0, None, low_open=True)

    def fit(self, images: np.ndarray, labels: np.ndarray) -> CvaeDigitGenerator:
        """Train the CVAE on real digits; returns ``self``.

        Parameters
        ----------
        images : uint8 (N, 28, 28) training digits, 0 = background.
        labels : int (N,) digits 0-9; every digit must occur.
        """
        self._validate_params()
        images, labels = check_training_data(images, labels)
        counts = np.bincount(labels, minlength=10)
        missing = [d for d in range(10) if counts[d] == 0]
        if missing:
            raise ValueError(f"labels hold no image of digit(s) {missing}; the conditional model needs all ten digits.")
        if len(images) - round(self.validation_fraction * len(images)) < 1:
            raise ValueError(f"{len(images)} digits leave none to train on after validation_fraction == {self.validation_fraction}.")
        started = time.perf_counter()
        fit = train_vae(
            images,
            labels,
            latent_size=self.latent_size,
            filters=tuple(self.filters),
            hidden=self.hidden,
            beta=self.beta,
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            validation_fraction=self.validation_fraction,
            seed=self.random_state,
        )
        self.encoder_, self.decoder_ = fit.encoder, fit.decoder
        self.history_ = fit.history
        self.train_count_, self.validation_count_ = fit.train_count, fit.validation_count
        self.priors_ = counts / counts.sum()
        self.seconds_per_epoch_ = fit.seconds_per_epoch
        logger.info(
            "CVAE trained on %d digits (%d held out) in %.1f s: train total %.2f, validation total %s nats/image",
            fit.train_count, fit.validation_count, time.perf_counter() - started, fit.history["total"][-1],
            f"{fit.history['val_total'][-1]:.2f}" if "val_total" in fit.history else "n/a",
        )
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "decoder_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet; call fit(images, labels) or {type(self).__name__}.load(path) first.")

    def sample(self, n: int, digit: int | None = None, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """Draw ``n`` digits.

        Parameters
        ----------
        n : number of digits, >= 0.
        digit : 0-9, or None for digits drawn with the training class frequencies.
        rng : generator (or seed) of the draws; None = fresh entropy.

        Returns
        -------
        uint8 (n, 28, 28), 0 = background, 255 = ink.
        """
        return self.generate(n, digit, rng).images

    def generate(self, n: int, digit: int | None = None, rng: np.random.Generator | int | None = None) -> CvaeSamples:
        """Like :meth:`sample`, also returning the labels and the decoded codes."""
        self._check_fitted()
        check_int("n", n, 0)
        if digit is not None:
            check_int("digit", digit, 0, 9)
        check_real("temperature", self.temperature, 0, None, low_open=True)
        rng = np.random.default_rng(rng)
        if digit is None:
            labels = rng.choice(10, size=n, p=self.priors_).astype(np.int16)
        else:
            labels = np.full(n, digit, dtype=np.int16)
        latent = rng.standard_normal((n, self.latent_size), dtype=np.float32) * np.float32(self.temperature)
        return CvaeSamples(decode_images(self.decoder_, latent, labels), labels, latent)

    def encode(self, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Encoder means ``mu`` float32 (N, d) of uint8 (N, 28, 28) digits given their int (N,) labels."""
        self._check_fitted()
        images, labels = check_training_data(images, labels)
        return encode_means(self.encoder_, images, labels)

    def summary(self) -> dict[str, Any]:
        """JSON-ready description of the fitted model: losses per epoch, counts, class priors."""
        self._check_fitted()
        return {
            "history": self.history_,
            "train_count": self.train_count_,
            "validation_count": self.validation_count_,
            "priors": self.priors_.tolist(),
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write ``encoder.keras``, ``decoder.keras`` and ``model.json`` into the folder ``path`` (replaced atomically).

        Same weights -> byte-identical files.
        """
        self._check_fitted()
        with atomic_directory(path) as tmp:
            save_keras(self.encoder_, tmp / "encoder.keras")
            save_keras(self.decoder_, tmp / "decoder.keras")
            description = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "class": type(self).__name__,
                "params": json_params(self.get_params()),
                "sha256": {name: sha256_file(tmp / name) for name in ("encoder.keras", "decoder.keras")},
                "fitted": self.summary(),
                "versions": versions(),
            }
            write_json(tmp / "model.json", description)

    @classmethod
    def load(cls, path: str | os.PathLike) -> CvaeDigitGenerator:
        """Read a model folder written by :meth:`save`, checking its format and the files' SHA-256."""
        path = Path(path)
        description = read_description(path, FORMAT, ("encoder.keras", "decoder.keras"), "train_cvae")
        params = dict(description["params"])
        params["filters"] = tuple(params["filters"])
        model = cls(**params)
        model.encoder_ = load_keras(path / "encoder.keras")
        model.decoder_ = load_keras(path / "decoder.keras")
        fitted = description["fitted"]
        model.history_ = fitted["history"]
        model.train_count_, model.validation_count_ = fitted["train_count"], fitted["validation_count"]
        model.priors_ = np.asarray(fitted["priors"], dtype=np.float64)
        return model


def generator_from_params(params: TrainCvaeParams) -> CvaeDigitGenerator:
    """The unfitted generator of the ``train_cvae`` section of params.yaml."""
    return CvaeDigitGenerator(
        latent_size=params.latent_size,
        filters=tuple(params.filters),
        hidden=params.hidden,
        beta=params.beta,
        epochs=params.epochs,
        batch_size=params.batch_size,
        learning_rate=params.learning_rate,
        validation_fraction=params.validation_fraction,
        temperature=params.temperature,
        random_state=params.seed,
    )


def make_bank(model: CvaeDigitGenerator, per_digit: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``per_digit`` samples of each digit 0-9, in digit order, as a bank.

    Returns
    -------
    dict: ``images`` uint8 (10 * per_digit, 28, 28), ``labels`` int16 (10 * per_digit,),
    ``latent`` float32 (10 * per_digit, d) (the decoded prior draws: provenance).
    """
    check_int("per_digit", per_digit, 1)
    parts = [model.generate(per_digit, digit, rng) for digit in range(10)]
    return {
        "images": np.concatenate([p.images for p in parts]),
        "labels": np.concatenate([p.labels for p in parts]),
        "latent": np.concatenate([p.latent for p in parts]),
    }


def losses_csv(history: dict[str, list[float]]) -> str:
    """Per-epoch losses as CSV text: ``epoch``, ``train_*`` and ``val_*`` of reconstruction, KL and total."""
    columns = ["epoch"]
    for prefix, key_prefix in (("train", ""), ("val", "val_")):
        columns += [f"{prefix}_{name}" for name in ("reconstruction", "kl", "total") if f"{key_prefix}{name}" in history]
    lines = [",".join(columns)]
    for epoch in range(len(history["total"])):
        values = [str(epoch + 1)]
        for column in columns[1:]:
            split, name = column.split("_", 1)
            values.append(repr(history[("val_" if split == "val" else "") + name][epoch]))
        lines.append(",".join(values))
    return "\n".join(lines) + "\n"
