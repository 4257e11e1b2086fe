"""Ambiguous "in-between" digits: decoded mixtures of the latent codes of two digits of different classes.

Autoencoder
    An *unconditional* convolutional VAE (:mod:`digitgen.generators.vae`
    without the label input) trained on the training split. A digit's code is
    its encoder mean ``mu``. The latent geometry used below
    (:mod:`digitgen.generators.geometry`) is fitted on the codes of all
    training digits: the class means ``m_c``, each class's covariance ``S_c``
    and the pooled within-class covariance ``S``.

In-between method (after "MNIST Muddle", done with a held-out choice rule)
    1. The pair of classes ``(a, b)``: ``b`` is the class whose mean is
       nearest to ``m_a`` in Mahalanobis distance under ``S``
       (``pairs=None``), or the pair is drawn from the ``pairs`` list.
    2. A random training digit of class ``a`` and one of class ``b`` give
       codes ``z_a`` and ``z_b``.
    3. For each interpolation weight ``w`` of ``weights`` the code
       ``(1 - w) z_a + w z_b`` is decoded (Bernoulli mean, as uint8).
    4. The step kept is the most balanced one:
       - with judges (the default; see :mod:`digitgen.generators.judges`):
         the smallest ``|mean_j log p_j(a | x) - log p_j(b | x)|`` over an
         ensemble of CNNs trained here with their own seeds;
       - without judges (``judges=()``): the autoencoder's own geometry. The
         image is *encoded again*, giving ``e_w`` (what the autoencoder sees
         in the picture actually produced), and the smallest
         ``|log_odds(e_w)|`` wins, where ``log_odds(e) = log N(e; m_a, S_a) -
         log N(e; m_b, S_b)`` is ``log p(a | e) - log p(b | e)`` for one
         Gaussian per class with equal priors.
       Ties go to the first weight.
    5. With judges and ``refine_steps > 0``, the kept code is refined by
       ``refine_steps`` Adam steps towards pictures every judge reads as half
       ``a``, half ``b``, anchored to the a-b path
       (:class:`~digitgen.generators.judges.Refiner`), and decoded.

The evaluation classifier (stage ``train_classifier``) plays no part in any of
this. ``weights[k]`` is the share of ``b``'s code, so ``w < 0.5`` leans to ``a``.
:class:`AmbiguousSamples` lists what each drawn digit comes with (the fields of
the ``ambiguous`` bank).

Saved as a model folder (:mod:`digitgen.model_folder`): ``encoder.keras``,
``decoder.keras``, ``judge_<k>.keras`` (one per judge), ``model.npz`` (the
training codes, their labels and rows, the class geometry) and ``model.json``.

This module is the generator class alone (about 500 lines: the five steps
above share its fitted state, so they stay methods of one class); what stands
on its own lives beside it: the VAE in :mod:`~digitgen.generators.vae`, the
latent geometry in :mod:`~digitgen.generators.geometry`, the judges and the
refinement in :mod:`~digitgen.generators.judges`, the bank and its metrics in
:mod:`digitgen.pipeline.train_autoencoder`.
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
from digitgen.arrays import check_digits, check_training_data
from digitgen.classifier import DigitClassifier
from digitgen.errors import CorruptFileError, InputError
from digitgen.generators.base import BaseGenerator
from digitgen.generators.geometry import class_log_likelihoods, fit_geometry
from digitgen.generators.judges import Refiner, pair_log_proba, train_judges
from digitgen.generators.vae import (
    decode_images,
    encode_means,
    generator_rules,
    keras_versions,
    train_vae,
)
from digitgen.io import read_npz, write_npz
from digitgen.keras_io import load_keras, save_keras
from digitgen.params.core import defaults_of
from digitgen.params.train_autoencoder import (
    AMBIGUOUS_RULES,
    PAIR,
    TrainAutoencoderParams,
    check_refinement,
)
from digitgen.rules import Int

logger = logging.getLogger(__name__)

FORMAT = "digitgen.ambiguous"
#: Version 2 added the judges (``judge_<k>.keras`` and the ``judges``/``refine_*`` parameters).
FORMAT_VERSION = 2
#: Arrays of ``model.npz``: the training codes and the latent geometry.
ARRAYS = ("codes", "code_labels", "code_rows", "class_means", "precision", "class_precisions", "class_log_dets", "partners")
#: Pairs run through :meth:`AmbiguousDigitGenerator.series` (and refined) at a time.
GENERATE_BLOCK = 1000
_DEFAULTS = defaults_of(TrainAutoencoderParams)


@dataclass(frozen=True)
class AmbiguousSamples:
    """What :meth:`AmbiguousDigitGenerator.generate` drew.

    Attributes
    ----------
    images : uint8 (n, 28, 28), 0 = background, 255 = ink.
    labels : int16 (n, 2), the classes ``(a, b)`` mixed.
    weights : float32 (n,), the share ``w`` of ``b``'s code in the image kept.
    source_index : int32 (n, 2), rows of the training digits of ``a`` and ``b`` encoded.
    log_odds : float32 (n,), latent ``log p(a | e) - log p(b | e)`` of the image kept, re-encoded.
    judge_smaller : float32 (n,), the judges' mean of ``min(p(a | x), p(b | x))`` of the image kept (NaN without judges).
    shift : float32 (n,), Euclidean distance the refinement moved the code (0 without refinement).
    """

    images: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    source_index: np.ndarray
    log_odds: np.ndarray
    judge_smaller: np.ndarray
    shift: np.ndarray


@dataclass(frozen=True)
class InterpolationSeries:
    """Every step of the in-between method for some pairs (see :meth:`AmbiguousDigitGenerator.series`).

    Attributes
    ----------
    images : uint8 (n, K, 28, 28), the decoded mixtures at each weight.
    weights : float64 (K,), the share of ``b``'s code at each step.
    codes : float32 (n, K, d), the mixed codes decoded.
    log_odds : float32 (n, K), latent ``log p(a | e) - log p(b | e)`` of each re-encoded image.
    judge_log_odds : float32 (n, K), ``mean_j log p_j(a | x) - log p_j(b | x)`` of each image (NaN without judges).
    chosen : int64 (n,), the step kept: smallest ``|judge_log_odds|`` (with judges) or ``|log_odds|``, among the configured weights.
    labels : int16 (n, 2) ``(a, b)``.
    source_index : int32 (n, 2), rows of the training digits encoded.
    """

    images: np.ndarray
    weights: np.ndarray
    codes: np.ndarray
    log_odds: np.ndarray
    judge_log_odds: np.ndarray
    chosen: np.ndarray
    labels: np.ndarray
    source_index: np.ndarray


class AmbiguousDigitGenerator(BaseGenerator):
    """Autoencoder + in-between method for digits between two classes (see the module docstring).

    Defaults are those of the ``train_autoencoder`` section of params.yaml.

    Parameters
    ----------
    latent_size, filters, hidden, beta, epochs, batch_size, learning_rate,
    validation_fraction : the unconditional VAE, as in
        :class:`~digitgen.generators.cvae.CvaeDigitGenerator`.
    pairs : None (each class ``a`` with its nearest class) or a list of
        ``(a, b)`` pairs of different digits 0-9 that ``sample`` draws from
        uniformly when neither ``digit`` nor ``pair`` is given.
    weights : interpolation weights, the share of ``b``'s code, each in
        (0, 1), no repeats; the kept image is chosen among them.
    judges : CNNs that choose and refine (see :mod:`digitgen.generators.judges`),
        each a :class:`~digitgen.params.train_autoencoder.JudgeParams` or a
        mapping ``{"filters": [..], "dense": int, "epochs": int}``; empty: the
        latent rule chooses, no refinement.
    refine_steps : Adam steps of the refinement, 0..10000 (0: keep the chosen step as decoded).
    refine_rate : Adam learning rate of the refinement, in (0, 1].
    refine_anchor : weight of the squared distance to the chosen interpolated code, >= 0.
    random_state : seed of the training (autoencoder and judges), >= 0 (``train_autoencoder.seed``).

    Attributes
    ----------
    encoder_, decoder_ : the trained Keras sub-models.
    codes_ : float32 (N, d) encoder means of the training digits.
    code_labels_ : int16 (N,) their digits; ``code_rows_`` int32 (N,) their rows in the training split.
    class_means_ : float32 (10, d); ``precision_`` float64 (d, d) inverse pooled within-class covariance.
    class_precisions_ : float64 (10, d, d) inverse covariance of each class; ``class_log_dets_`` float64 (10,) their log-determinants.
    partners_ : int16 (10,) nearest other class of each class (Mahalanobis distance between means under ``precision_``).
    judges_ : list of trained :class:`~digitgen.classifier.DigitClassifier`, one per entry of ``judges``.
    history_ : per-epoch losses; ``train_count_``, ``validation_count_``.
    seconds_per_epoch_ : wall time of each epoch (after ``fit`` only; never saved).
    """

    #: The rules of the ``train_autoencoder`` section (its ``seed`` is ``random_state`` here).
    RULES = generator_rules(AMBIGUOUS_RULES)
    FITTED_ATTRIBUTE = "partners_"

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
        pairs: Sequence[Sequence[int]] | None = _DEFAULTS["pairs"],
        weights: Sequence[float] = _DEFAULTS["weights"],
        judges: Sequence[Any] = _DEFAULTS["judges"],
        refine_steps: int = _DEFAULTS["refine_steps"],
        refine_rate: float = _DEFAULTS["refine_rate"],
        refine_anchor: float = _DEFAULTS["refine_anchor"],
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
        self.pairs = pairs
        self.weights = weights
        self.judges = judges
        self.refine_steps = refine_steps
        self.refine_rate = refine_rate
        self.refine_anchor = refine_anchor
        self.random_state = random_state

    def checked_params(self) -> dict[str, Any]:
        """Every parameter checked by its rule (judges as ``JudgeParams``), and refinement only with judges."""
        params = super().checked_params()
        check_refinement(params["refine_steps"], params["judges"])
        return params

    # ------------------------------------------------------------------ fit

    def fit(self, images: np.ndarray, labels: np.ndarray) -> AmbiguousDigitGenerator:
        """Train the autoencoder and the judges and fit the latent class geometry on real training digits; returns ``self``.

        Parameters
        ----------
        images : uint8 (N, 28, 28) training digits, 0 = background.
        labels : int (N,) digits 0-9; every digit must occur at least twice.
        """
        p = self.checked_params()
        images, labels = check_training_data(images, labels)
        counts = np.bincount(labels, minlength=10)
        scarce = [d for d in range(10) if counts[d] < 2]
        if scarce:
            raise ValueError(f"digit(s) {scarce} have fewer than 2 training images; the class geometry needs at least 2 of every digit.")
        started = time.perf_counter()
        fit = train_vae(
            images,
            None,
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
        self.seconds_per_epoch_ = fit.seconds_per_epoch
        self.codes_ = encode_means(self.encoder_, images)
        self.code_labels_ = labels.astype(np.int16)
        self.code_rows_ = np.arange(len(images), dtype=np.int32)
        geometry = fit_geometry(self.codes_, self.code_labels_)
        self.class_means_, self.precision_ = geometry.class_means, geometry.precision
        self.class_precisions_, self.class_log_dets_ = geometry.class_precisions, geometry.class_log_dets
        self.judges_ = train_judges(images, labels, p["judges"], p["random_state"])
        self.partners_ = geometry.partners
        logger.info(
            "autoencoder and %d judges trained on %d digits (%d held out from the autoencoder) in %.1f s: "
            "train total %.2f nats/image; nearest partners %s",
            len(self.judges_), fit.train_count, fit.validation_count, time.perf_counter() - started, fit.history["total"][-1],
            " ".join(f"{a}->{b}" for a, b in enumerate(self.partners_.tolist())),
        )
        return self

    def class_log_likelihoods(self, codes: np.ndarray) -> np.ndarray:
        """float64 (m, 10) ``log N(e; m_c, S_c)`` (up to a shared constant) of float (m, d) codes for each class c."""
        self._check_fitted()
        return class_log_likelihoods(codes, self.class_means_, self.class_precisions_, self.class_log_dets_)

    # ------------------------------------------------------------------ sampling

    def sample(
        self, n: int, digit: int | None = None, rng: np.random.Generator | int | None = None, *, pair: Sequence[int] | None = None
    ) -> np.ndarray:
        """Draw ``n`` ambiguous digits.

        Parameters
        ----------
        n : number of digits, >= 0.
        digit : class ``a`` (0-9), mixed with its nearest class; None: pairs
            drawn from ``pairs`` (or ``a`` uniform with its nearest class).
        rng : generator (or seed) of the draws; None = fresh entropy.
        pair : ``(a, b)``, two different digits; overrides ``pairs``. With
            ``digit``, ``digit`` must equal ``a``.

        Returns
        -------
        uint8 (n, 28, 28), 0 = background, 255 = ink.
        """
        return self.generate(n, digit, rng, pair=pair).images

    def generate(
        self, n: int, digit: int | None = None, rng: np.random.Generator | int | None = None, *, pair: Sequence[int] | None = None
    ) -> AmbiguousSamples:
        """Like :meth:`sample`, also returning labels, weights, provenance, log-odds and the judges' reading."""
        rng = np.random.default_rng(rng)
        pairs = self._draw_pairs(n, digit, pair, rng)
        parts = []
        for start in range(0, max(n, 1), GENERATE_BLOCK):  # one (possibly empty) block at least: typed empty arrays for n == 0
            series = self.series(pairs[start : start + GENERATE_BLOCK], rng)
            parts.append(self.keep(series))
        return AmbiguousSamples(*(np.concatenate([getattr(p, f) for p in parts]) for f in AmbiguousSamples.__dataclass_fields__))

    def keep(self, series: InterpolationSeries) -> AmbiguousSamples:
        """The digits kept from ``series`` (from :meth:`series`): its chosen steps, refined against the judges when configured.

        :meth:`generate` is ``series`` then ``keep``, block by block; call them
        separately to picture a series beside the digit it gives.
        """
        rows = np.arange(len(series.chosen))
        start = series.codes[rows, series.chosen]
        images, log_odds = series.images[rows, series.chosen], series.log_odds[rows, series.chosen]
        shift = np.zeros(len(rows), np.float32)
        if self.judges_ and self.refine_steps > 0 and len(rows):
            codes = self._refiner()(start, series.labels)
            shift = np.linalg.norm(codes - start, axis=1).astype(np.float32)
            images = decode_images(self.decoder_, codes)
            log_odds = self._latent_log_odds(images, series.labels)
        judge_smaller = np.full(len(rows), np.nan, np.float32)
        if self.judges_ and len(rows):
            judge_smaller = np.exp(pair_log_proba(self.judges_, images, series.labels).min(axis=2)).mean(axis=0).astype(np.float32)
        return AmbiguousSamples(
            images=images,
            labels=series.labels,
            weights=series.weights[series.chosen].astype(np.float32),
            source_index=series.source_index,
            log_odds=log_odds,
            judge_smaller=judge_smaller,
            shift=shift,
        )

    def _refiner(self) -> Refiner:
        """The compiled refinement of the current decoder, judges and ``refine_*`` parameters (built once, then reused)."""
        key = (id(self.decoder_), tuple(id(j) for j in self.judges_), self.refine_steps, self.refine_rate, self.refine_anchor)
        if getattr(self, "_refiner_key", None) != key:
            self._refiner_cache = Refiner(
                self.decoder_, self.judges_, steps=self.refine_steps, rate=self.refine_rate, anchor=self.refine_anchor
            )
            self._refiner_key = key
        return self._refiner_cache

    def _latent_log_odds(self, images: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        """float32 (n,) latent ``log p(a | e) - log p(b | e)`` of uint8 (n, 28, 28) images re-encoded; ``pairs`` int (n, 2)."""
        likelihoods = self.class_log_likelihoods(encode_means(self.encoder_, images))
        rows = np.arange(len(images))
        return (likelihoods[rows, pairs[:, 0]] - likelihoods[rows, pairs[:, 1]]).astype(np.float32)

    def _draw_pairs(self, n: int, digit: int | None, pair: Sequence[int] | None, rng: np.random.Generator) -> np.ndarray:
        """The class pairs of ``n`` draws under the rules of :meth:`sample`; int16 (n, 2)."""
        self._check_fitted()
        self.checked_params()
        Int(0).check(n, "n")
        if digit is not None:
            Int(0, 9).check(digit, "digit")
        if pair is not None:
            a, b = PAIR.check(pair, "pair")
            if digit is not None and digit != a:
                raise InputError(f"digit == {digit!r} and pair == {tuple(pair)!r} disagree: digit must be None or the pair's first class {a}.")
            return np.tile(np.array([a, b], dtype=np.int16), (n, 1))
        if digit is not None:
            return np.tile(np.array([digit, self.partners_[digit]], dtype=np.int16), (n, 1))
        choices = self.pair_choices()
        return choices[rng.integers(0, len(choices), size=n)]

    def pair_choices(self) -> np.ndarray:
        """The pairs drawn when neither a digit nor a pair is asked for: ``pairs``, or each class with its nearest; int16 (P, 2)."""
        self._check_fitted()
        pairs = self.RULES["pairs"].check(self.pairs, "pairs")
        if pairs is not None:
            return np.array(pairs, dtype=np.int16)
        return np.stack([np.arange(10), self.partners_]).T.astype(np.int16)

    def series(
        self, pairs: np.ndarray, rng: np.random.Generator | int | None = None, *, ends: bool = False
    ) -> InterpolationSeries:
        """Run the in-between method for each pair, keeping every step.

        Parameters
        ----------
        pairs : int (n, 2) classes ``(a, b)``, two different digits each.
        rng : generator (or seed) choosing the training digits of ``a`` and ``b``.
        ends : also decode the two digits themselves (weights 0 and 1, first
            and last steps) for pictures; they are never chosen.

        Returns
        -------
        InterpolationSeries
        """
        self._check_fitted()
        pairs = np.asarray(pairs)
        if pairs.ndim != 2 or pairs.shape[1] != 2:
            raise ValueError(f"pairs must have shape (n, 2), got {pairs.shape}.")
        for pair in np.unique(pairs, axis=0):
            PAIR.check(pair.tolist(), "pairs")
        rng = np.random.default_rng(rng)
        weights = np.sort(np.asarray(self.weights, dtype=np.float64))
        steps = np.concatenate([[0.0], weights, [1.0]]) if ends else weights
        source = np.stack([self._random_rows(pairs[:, 0], rng), self._random_rows(pairs[:, 1], rng)], axis=1)
        z_a, z_b = self.codes_[source[:, 0]], self.codes_[source[:, 1]]
        mixed = (1 - steps[None, :, None]) * z_a[:, None, :] + steps[None, :, None] * z_b[:, None, :]
        n, k = len(pairs), len(steps)
        mixed = mixed.astype(np.float32)
        images = decode_images(self.decoder_, mixed.reshape(n * k, mixed.shape[-1]))
        step_pairs = np.repeat(pairs.astype(np.int64), k, axis=0)
        log_odds = self._latent_log_odds(images, step_pairs).reshape(n, k)
        judge_log_odds = np.full((n, k), np.nan, np.float32)
        if self.judges_:
            judged = pair_log_proba(self.judges_, images, step_pairs).mean(axis=0)
            judge_log_odds = (judged[:, 0] - judged[:, 1]).reshape(n, k)
        candidates = np.abs(judge_log_odds if self.judges_ else log_odds)
        if ends:
            candidates[:, [0, -1]] = np.inf
        return InterpolationSeries(
            images=images.reshape(n, k, 28, 28),
            weights=steps,
            codes=mixed,
            log_odds=log_odds,
            judge_log_odds=judge_log_odds,
            chosen=candidates.argmin(axis=1),
            labels=pairs.astype(np.int16),
            source_index=self.code_rows_[source].astype(np.int32),
        )

    def _random_rows(self, digits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One random row of ``codes_`` of each requested digit; int64 (n,)."""
        order = np.argsort(self.code_labels_, kind="stable")
        counts = np.bincount(self.code_labels_.astype(np.int64), minlength=10)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        digits = np.asarray(digits, dtype=np.int64)
        return order[starts[digits] + rng.integers(0, counts[digits])] if len(digits) else np.zeros(0, np.int64)

    def encode(self, images: np.ndarray) -> np.ndarray:
        """Encoder means ``mu`` float32 (N, d) of uint8 (N, 28, 28) digits."""
        self._check_fitted()
        return encode_means(self.encoder_, check_digits(images))

    # ------------------------------------------------------------------ persistence

    def summary(self) -> dict[str, Any]:
        """JSON-ready description of the fitted model: losses per epoch, counts, nearest partners."""
        self._check_fitted()
        return {
            "history": self.history_,
            "train_count": self.train_count_,
            "validation_count": self.validation_count_,
            "partners": {str(a): int(b) for a, b in enumerate(self.partners_.tolist())},
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write the model folder ``path`` (``encoder.keras``, ``decoder.keras``, ``judge_<k>.keras``, ``model.npz``, ``model.json``), replaced atomically.

        Same fitted state -> byte-identical files.
        """
        self._check_fitted()

        def files(folder: Path) -> None:
            save_keras(self.encoder_, folder / "encoder.keras")
            save_keras(self.decoder_, folder / "decoder.keras")
            for k, judge in enumerate(self.judges_):
                judge.save(folder / f"judge_{k}.keras")
            write_npz(folder / "model.npz", {name: getattr(self, f"{name}_") for name in ARRAYS})

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
    def load(cls, path: str | os.PathLike) -> AmbiguousDigitGenerator:
        """Read a model folder written by :meth:`save`, checking its format, its parameters and the files' SHA-256."""
        path = Path(path)
        json_path = path / model_folder.MODEL_JSON
        description = model_folder.read(
            path, format=FORMAT, format_version=FORMAT_VERSION, cls=cls.__name__, stage="train_autoencoder",
            files=("encoder.keras", "decoder.keras", "model.npz"), fitted=("history", "train_count", "validation_count"),
            what="ambiguous-digit model",
        )
        model = cls.from_saved_params(description["params"], json_path, "train_autoencoder")
        judge_files = [f"judge_{k}.keras" for k in range(len(model.judges))]
        unlisted = [name for name in judge_files if name not in description["sha256"]]
        if unlisted:
            raise CorruptFileError(json_path, f"it records no SHA-256 of {unlisted}", "run `dvc repro train_autoencoder` to rebuild it")
        model.encoder_ = load_keras(path / "encoder.keras")
        model.decoder_ = load_keras(path / "decoder.keras")
        model.judges_ = [DigitClassifier.load(path / name) for name in judge_files]
        arrays = read_npz(path / "model.npz", ARRAYS, what="ambiguous-digit model arrays", remedy="run `dvc repro train_autoencoder`")
        for name in ARRAYS:
            setattr(model, f"{name}_", arrays[name])
        fitted = description["fitted"]
        model.history_ = fitted["history"]
        model.train_count_, model.validation_count_ = fitted["train_count"], fitted["validation_count"]
        return model
