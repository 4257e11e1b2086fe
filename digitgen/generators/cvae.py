"""Conditional variational autoencoder digit generator: digits of a chosen class from a Keras CVAE.

Model
    The convolutional VAE of :mod:`digitgen.generators.vae` with the one-hot
    label as a second input of the encoder and of the decoder, trained on the
    beta-weighted negative ELBO per image (reconstruction + beta x KL, in
    nats), deterministically from ``random_state``.

Sampling
    ``sample(n, digit)`` draws codes from the prior ``N(0, temperature^2 I)``
    with a NumPy generator and decodes them with the digit's label into the
    Bernoulli mean of each pixel (:func:`~digitgen.generators.vae.decode_images`).
    The same weights and generator give the same samples.

Saved as a model folder (:mod:`digitgen.model_folder`): ``encoder.keras`` and
``decoder.keras`` (functional models of built-in layers, loaded with
``safe_mode=True``; the same weights give the same bytes) and ``model.json``
(parameters, loss history, class priors, versions, SHA-256 of both model files).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digitgen import model_folder
from digitgen.arrays import check_training_data
from digitgen.generators.base import BaseGenerator
from digitgen.generators.vae import (
    decode_images,
    encode_means,
    generator_rules,
    keras_versions,
    train_vae,
)
from digitgen.keras_io import load_keras, save_keras
from digitgen.params.core import defaults_of
from digitgen.params.train_cvae import CVAE_RULES, TrainCvaeParams
from digitgen.rules import Int

logger = logging.getLogger(__name__)

FORMAT = "digitgen.cvae"
FORMAT_VERSION = 1
#: The model files of a CVAE folder besides ``model.json``.
FILES = ("encoder.keras", "decoder.keras")
_DEFAULTS = defaults_of(TrainCvaeParams)


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


class CvaeDigitGenerator(BaseGenerator):
    """Convolutional conditional VAE digit generator (see the module docstring).

    Defaults are those of the ``train_cvae`` section of params.yaml.

    Parameters
    ----------
    latent_size : d, size of the code, 1..512.
    filters : two convolution widths of the encoder (mirrored by the decoder), each 1..256.
    hidden : width of the dense layer of the encoder and the decoder, 1..4096.
    beta : weight of the KL term, in (0, 1000] (< 1 sharpens reconstructions and
        loosens the match between codes and the prior).
    epochs : passes over the training digits, 1..1000.
    batch_size : digits per gradient step, >= 1.
    learning_rate : initial Adam learning rate (cosine decay to 0), in (0, 1].
    validation_fraction : fraction of the training digits held out for the
        validation losses, in [0, 0.5).
    temperature : standard deviation of the prior draws at sampling time,
        in (0, 10] (1 = the prior; below 1 trades diversity for typical digits).
    random_state : seed of the weights, the shuffle, the hold-out and the
        training noise, >= 0 (``train_cvae.seed``).

    Attributes
    ----------
    encoder_, decoder_ : the trained Keras sub-models.
    history_ : dict of per-epoch losses (see :class:`~digitgen.generators.vae.VaeFit`).
    priors_ : float64 (10,) training class frequencies (``sample`` with ``digit=None``).
    train_count_, validation_count_ : digits fitted and held out.
    seconds_per_epoch_ : wall time of each epoch (after ``fit`` only; never saved).
    """

    #: The rules of the ``train_cvae`` section (its ``seed`` is ``random_state`` here).
    RULES = generator_rules(CVAE_RULES)
    FITTED_ATTRIBUTE = "decoder_"

    def __init__(
        self,
        *,
        latent_size: int = _DEFAULTS["latent_size"],
        filters: Sequence[int] = _DEFAULTS["filters"],
        hidden: int = _DEFAULTS["hidden"],
        beta: float = _DEFAULTS["beta"],
        epochs: int = _DEFAULTS["epochs"],
        batch_size: int = _DEFAULTS["batch_size"],
        learning_rate: float = _DEFAULTS["learning_rate"],
        validation_fraction: float = _DEFAULTS["validation_fraction"],
        temperature: float = _DEFAULTS["temperature"],
        random_state: int = _DEFAULTS["seed"],
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

    def fit(self, images: np.ndarray, labels: np.ndarray) -> CvaeDigitGenerator:
        """Train the CVAE on real digits; returns ``self``.

        Parameters
        ----------
        images : uint8 (N, 28, 28) training digits, 0 = background.
        labels : int (N,) digits 0-9; every digit must occur.
        """
        p = self.checked_params()
        images, labels = check_training_data(images, labels)
        counts = np.bincount(labels, minlength=10)
        missing = [d for d in range(10) if counts[d] == 0]
        if missing:
            raise ValueError(f"labels hold no image of digit(s) {missing}; the conditional model needs all ten digits.")
        started = time.perf_counter()
        fit = train_vae(
            images,
            labels,
            latent_size=p["latent_size"],
            filters=p["filters"],
            hidden=p["hidden"],
            beta=p["beta"],
            epochs=p["epochs"],
            batch_size=p["batch_size"],
            learning_rate=p["learning_rate"],
            validation_fraction=p["validation_fraction"],
            seed=p["random_state"],
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
        Int(0).check(n, "n")
        if digit is not None:
            Int(0, 9).check(digit, "digit")
        temperature = self.RULES["temperature"].check(self.temperature, "temperature")
        rng = np.random.default_rng(rng)
        if digit is None:
            labels = rng.choice(10, size=n, p=self.priors_).astype(np.int16)
        else:
            labels = np.full(n, digit, dtype=np.int16)
        latent = rng.standard_normal((n, self.latent_size), dtype=np.float32) * np.float32(temperature)
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
        """Write the model folder ``path`` (``encoder.keras``, ``decoder.keras``, ``model.json``), replaced atomically.

        Same weights -> byte-identical files.
        """
        self._check_fitted()

        def files(folder: Path) -> None:
            save_keras(self.encoder_, folder / "encoder.keras")
            save_keras(self.decoder_, folder / "decoder.keras")

        model_folder.write(
            path,
            format=FORMAT,
            format_version=FORMAT_VERSION,
            cls=type(self).__name__,
            params=self.checked_params(),
            fitted=self.summary(),
            versions=model_folder.versions(**keras_versions()),
            files=files,
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> CvaeDigitGenerator:
        """Read a model folder written by :meth:`save`, checking its format, its parameters and the files' SHA-256."""
        path = Path(path)
        description = model_folder.read(
            path, format=FORMAT, format_version=FORMAT_VERSION, cls=cls.__name__, stage="train_cvae", files=FILES,
            fitted=("history", "train_count", "validation_count", "priors"), what="CVAE model",
        )
        model = cls.from_saved_params(description["params"], path / model_folder.MODEL_JSON, "train_cvae")
        fitted = description["fitted"]
        model.encoder_ = load_keras(path / "encoder.keras")
        model.decoder_ = load_keras(path / "decoder.keras")
        model.history_ = fitted["history"]
        model.train_count_, model.validation_count_ = fitted["train_count"], fitted["validation_count"]
        model.priors_ = np.asarray(fitted["priors"], dtype=np.float64)
        return model
