"""Ambiguous "in-between" digits: decoded mixtures of the latent codes of two digits of different classes.

Autoencoder
    An *unconditional* convolutional VAE (the architecture of
    :mod:`digitgen.generators.cvae` without the label input) trained on the
    training split. A digit's code is its encoder mean ``mu``. The latent
    geometry used below is fitted on the codes of all training digits: the
    class means ``m_c``, each class's covariance ``S_c`` and the pooled
    within-class covariance ``S`` (each with a small ridge: collapsed latent
    units have almost no variance).

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
         Gaussian per class with equal priors (quadratic discriminant
         analysis in latent space).
       Ties go to the first weight.
    5. With judges and ``refine_steps > 0``, the kept code is refined by
       ``refine_steps`` Adam steps towards pictures every judge reads as half
       ``a``, half ``b``, anchored to the a-b path
       (:func:`~digitgen.generators.judges.refine_codes`), and decoded.

The evaluation classifier (stage ``train_classifier``) plays no part in any of
this. Measured on MNIST with the evaluation classifier: the latent rule gives
17.8% of digits whose smaller intended probability is >= 0.25; the default
judges (choice and refinement) give about 58% (see the README).

``weights[k]`` is the share of ``b``'s code, so ``w < 0.5`` leans to ``a``.
A bank of these digits has ``labels`` int16 (N, 2) = ``(a, b)``, ``weights``
float32 (N,) (the ``w`` chosen), ``source_index`` int32 (N, 2) (rows of the
MNIST training split encoded), ``log_odds`` float32 (N,) (latent log-odds of
the digit kept, re-encoded), ``judge_smaller`` float32 (N,) (the judges' mean
of ``min(p(a|x), p(b|x))`` of the digit kept) and ``shift`` float32 (N,) (the
distance the refinement moved its code).

Saved as a folder: ``encoder.keras``, ``decoder.keras``, ``judge_<k>.keras``
(one per judge), ``model.npz`` (the training codes, their labels and rows,
class means, the precision matrices, partners) and ``model.json``
(parameters, loss history, versions, SHA-256 of the other files).
"""

from __future__ import annotations

import logging
import numbers
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digitgen.classifier import DigitClassifier
from digitgen.generators.cvae import (
    check_architecture,
    check_int,
    check_real,
    check_training_data,
    decode_images,
    encode_means,
    get_params,
    json_params,
    read_description,
    train_vae,
    versions,
)
from digitgen.generators.judges import (
    DEFAULT_JUDGES,
    Refiner,
    check_judges,
    pair_log_proba,
    train_judges,
)
from digitgen.io import atomic_directory, sha256_file, write_json, write_npz
from digitgen.keras_io import load_keras, save_keras
from digitgen.params.train_autoencoder import TrainAutoencoderParams

logger = logging.getLogger(__name__)

FORMAT = "digitgen.ambiguous"
#: Version 2 added the judges (``judge_<k>.keras`` and the ``judges``/``refine_*`` parameters).
FORMAT_VERSION = 2
#: Default interpolation weights (share of the partner's code): 0.25, 0.30, ..., 0.75.
DEFAULT_WEIGHTS = tuple(round(0.25 + 0.05 * k, 2) for k in range(11))
#: Pairs run through :meth:`AmbiguousDigitGenerator.series` (and refined) at a time.
GENERATE_BLOCK = 1000
# Relative ridge added to the pooled covariance before inverting it (collapsed latent units have ~0 variance).
_RIDGE = 1e-3


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


class AmbiguousDigitGenerator:
    """Autoencoder + in-between method for digits between two classes (see the module docstring).

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
    judges : CNNs that choose and refine (see
        :mod:`digitgen.generators.judges`), each ``{"filters": [..], "dense":
        int, "epochs": int}``; empty: the latent rule chooses, no refinement.
    refine_steps : Adam steps of the refinement, >= 0 (0: keep the chosen step as decoded).
    refine_rate : Adam learning rate of the refinement, in (0, 1].
    refine_anchor : weight of the squared distance to the chosen interpolated code, >= 0.
    random_state : seed of the training (autoencoder and judges), >= 0.

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

    def __init__(
        self,
        *,
        latent_size: int = 16,
        filters: Sequence[int] = (16, 32),
        hidden: int = 256,
        beta: float = 1.0,
        epochs: int = 6,
        batch_size: int = 128,
        learning_rate: float = 0.002,
        validation_fraction: float = 0.05,
        pairs: Sequence[Sequence[int]] | None = None,
        weights: Sequence[float] = DEFAULT_WEIGHTS,
        judges: Sequence[dict[str, Any]] = DEFAULT_JUDGES,
        refine_steps: int = 30,
        refine_rate: float = 0.05,
        refine_anchor: float = 0.1,
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
        self.pairs = pairs
        self.weights = weights
        self.judges = judges
        self.refine_steps = refine_steps
        self.refine_rate = refine_rate
        self.refine_anchor = refine_anchor
        self.random_state = random_state

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters, by name."""
        return get_params(self)

    def _validate_params(self) -> None:
        check_architecture(self.get_params())
        if self.pairs is not None:
            if isinstance(self.pairs, str | bytes) or not isinstance(self.pairs, Sequence | np.ndarray) or len(self.pairs) == 0:
                raise ValueError(f"pairs == {self.pairs!r}, must be None (nearest class) or a non-empty list of (a, b) digit pairs.")
            for pair in self.pairs:
                check_pair(pair, "pairs")
        weights = self.weights
        if (
            isinstance(weights, str | bytes)
            or not isinstance(weights, Sequence | np.ndarray)
            or len(weights) == 0
            or not all(isinstance(w, numbers.Real) and not isinstance(w, bool) and 0 < w < 1 for w in weights)
        ):
            raise ValueError(f"weights == {weights!r}, must be a non-empty list of numbers in (0, 1) (the share of b's code).")
        if len(set(float(w) for w in weights)) != len(weights):
            raise ValueError(f"weights == {list(weights)!r}, must not repeat a value.")
        judges = check_judges(self.judges)
        check_int("refine_steps", self.refine_steps, 0)
        check_real("refine_rate", self.refine_rate, 0, 1, low_open=True, high_open=False)
        check_real("refine_anchor", self.refine_anchor, 0, None, low_open=False)
        if self.refine_steps > 0 and not judges:
            raise ValueError(f"refine_steps == {self.refine_steps} needs judges to refine against; with judges == [] set refine_steps to 0.")

    # ------------------------------------------------------------------ fit

    def fit(self, images: np.ndarray, labels: np.ndarray) -> AmbiguousDigitGenerator:
        """Train the autoencoder and fit the latent class geometry on real training digits; returns ``self``.

        Parameters
        ----------
        images : uint8 (N, 28, 28) training digits, 0 = background.
        labels : int (N,) digits 0-9; every digit must occur at least twice.
        """
        self._validate_params()
        images, labels = check_training_data(images, labels)
        counts = np.bincount(labels, minlength=10)
        scarce = [d for d in range(10) if counts[d] < 2]
        if scarce:
            raise ValueError(f"digit(s) {scarce} have fewer than 2 training images; the class geometry needs at least 2 of every digit.")
        if len(images) - round(self.validation_fraction * len(images)) < 1:
            raise ValueError(f"{len(images)} digits leave none to train on after validation_fraction == {self.validation_fraction}.")
        started = time.perf_counter()
        fit = train_vae(
            images,
            None,
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
        self.seconds_per_epoch_ = fit.seconds_per_epoch
        self.codes_ = encode_means(self.encoder_, images)
        self.code_labels_ = labels.astype(np.int16)
        self.code_rows_ = np.arange(len(images), dtype=np.int32)
        self._fit_geometry()
        self.judges_ = train_judges(images, labels, self.judges, self.random_state)
        logger.info(
            "autoencoder and %d judges trained on %d digits (%d held out from the autoencoder) in %.1f s: "
            "train total %.2f nats/image; nearest partners %s",
            len(self.judges_), fit.train_count, fit.validation_count, time.perf_counter() - started, fit.history["total"][-1],
            " ".join(f"{a}->{b}" for a, b in enumerate(self.partners_.tolist())),
        )
        return self

    def _fit_geometry(self) -> None:
        """Class means, class and pooled precisions, and nearest partners from ``codes_``."""
        codes = self.codes_.astype(np.float64)
        labels = self.code_labels_.astype(np.int64)
        means = np.stack([codes[labels == c].mean(axis=0) for c in range(10)])
        centred = codes - means[labels]
        pooled = _regularised(centred.T @ centred / max(len(codes) - 10, 1))
        per_class = [_regularised(np.cov(codes[labels == c], rowvar=False).reshape(len(pooled), len(pooled))) for c in range(10)]
        self.class_means_ = means.astype(np.float32)
        self.precision_ = np.linalg.inv(pooled)
        self.class_precisions_ = np.stack([np.linalg.inv(c) for c in per_class])
        self.class_log_dets_ = np.array([np.linalg.slogdet(c)[1] for c in per_class])
        diff = means[:, None, :] - means[None, :, :]
        between = np.einsum("abd,de,abe->ab", diff, self.precision_, diff)
        np.fill_diagonal(between, np.inf)
        self.partners_ = between.argmin(axis=1).astype(np.int16)

    def class_log_likelihoods(self, codes: np.ndarray) -> np.ndarray:
        """float64 (m, 10) ``log N(e; m_c, S_c)`` (up to a shared constant) of float (m, d) codes for each class c."""
        self._check_fitted()
        diff = np.asarray(codes, dtype=np.float64)[:, None, :] - self.class_means_.astype(np.float64)[None, :, :]
        return -0.5 * (np.einsum("mcd,cde,mce->mc", diff, self.class_precisions_, diff) + self.class_log_dets_)

    def _check_fitted(self) -> None:
        if not hasattr(self, "partners_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet; call fit(images, labels) or {type(self).__name__}.load(path) first.")

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
        self._validate_params()
        check_int("n", n, 0)
        if digit is not None:
            check_int("digit", digit, 0, 9)
        if pair is not None:
            a, b = check_pair(pair, "pair")
            if digit is not None and digit != a:
                raise ValueError(f"digit == {digit!r} and pair == {tuple(pair)!r} disagree: digit must be None or the pair's first class {a}.")
            return np.tile(np.array([a, b], dtype=np.int16), (n, 1))
        if digit is not None:
            return np.tile(np.array([digit, self.partners_[digit]], dtype=np.int16), (n, 1))
        choices = self.pair_choices()
        return choices[rng.integers(0, len(choices), size=n)]

    def pair_choices(self) -> np.ndarray:
        """The pairs drawn when neither a digit nor a pair is asked for: ``pairs``, or each class with its nearest; int16 (P, 2)."""
        self._check_fitted()
        if self.pairs is not None:
            return np.array([check_pair(p, "pairs") for p in self.pairs], dtype=np.int16)
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
            check_pair(pair.tolist(), "pairs")
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
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
            raise ValueError(f"images must be uint8 (N, 28, 28), got {images.dtype} {images.shape}.")
        return encode_means(self.encoder_, images)

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
        """Write ``encoder.keras``, ``decoder.keras``, ``judge_<k>.keras``, ``model.npz`` and ``model.json`` into the folder ``path`` (replaced atomically).

        Same fitted state -> byte-identical files.
        """
        self._check_fitted()
        judge_files = tuple(f"judge_{k}.keras" for k in range(len(self.judges_)))
        files = ("encoder.keras", "decoder.keras", *judge_files, "model.npz")
        with atomic_directory(path) as tmp:
            save_keras(self.encoder_, tmp / "encoder.keras")
            save_keras(self.decoder_, tmp / "decoder.keras")
            for judge, name in zip(self.judges_, judge_files):
                judge.save(tmp / name)
            write_npz(
                tmp / "model.npz",
                {
                    "codes": self.codes_,
                    "code_labels": self.code_labels_,
                    "code_rows": self.code_rows_,
                    "class_means": self.class_means_,
                    "precision": self.precision_,
                    "class_precisions": self.class_precisions_,
                    "class_log_dets": self.class_log_dets_,
                    "partners": self.partners_,
                },
            )
            description = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "class": type(self).__name__,
                "params": json_params(self.get_params()),
                "sha256": {name: sha256_file(tmp / name) for name in files},
                "fitted": self.summary(),
                "versions": versions(),
            }
            write_json(tmp / "model.json", description)

    @classmethod
    def load(cls, path: str | os.PathLike) -> AmbiguousDigitGenerator:
        """Read a model folder written by :meth:`save`, checking its format and the files' SHA-256."""
        path = Path(path)
        files = ("encoder.keras", "decoder.keras", "model.npz")
        description = read_description(path, FORMAT, files, "train_autoencoder", FORMAT_VERSION)
        judge_files = tuple(f"judge_{k}.keras" for k in range(len(description["params"]["judges"])))
        read_description(path, FORMAT, judge_files, "train_autoencoder", FORMAT_VERSION)
        params = dict(description["params"])
        params["filters"] = tuple(params["filters"])
        params["weights"] = tuple(params["weights"])
        params["judges"] = check_judges(params["judges"])
        if params["pairs"] is not None:
            params["pairs"] = tuple(tuple(p) for p in params["pairs"])
        model = cls(**params)
        model.encoder_ = load_keras(path / "encoder.keras")
        model.decoder_ = load_keras(path / "decoder.keras")
        model.judges_ = [DigitClassifier.load(path / name) for name in judge_files]
        with np.load(path / "model.npz", allow_pickle=False) as archive:
            model.codes_ = archive["codes"]
            model.code_labels_ = archive["code_labels"]
            model.code_rows_ = archive["code_rows"]
            model.class_means_ = archive["class_means"]
            model.precision_ = archive["precision"]
            model.class_precisions_ = archive["class_precisions"]
            model.class_log_dets_ = archive["class_log_dets"]
            model.partners_ = archive["partners"]
        fitted = description["fitted"]
        model.history_ = fitted["history"]
        model.train_count_, model.validation_count_ = fitted["train_count"], fitted["validation_count"]
        return model


def _regularised(covariance: np.ndarray) -> np.ndarray:
    """``covariance`` plus a ridge of ``_RIDGE`` times its mean variance (and a floor), so that it inverts."""
    size = len(covariance)
    return covariance + (_RIDGE * np.trace(covariance) / size + 1e-12) * np.eye(size)


def check_pair(pair: Any, name: str) -> tuple[int, int]:
    """Return ``pair`` as ``(a, b)`` if it is two different digits 0-9, else raise a ValueError naming ``name``."""
    valid = (
        isinstance(pair, Sequence | np.ndarray)
        and not isinstance(pair, str | bytes)
        and len(pair) == 2
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in pair)
    )
    if valid:
        a, b = int(pair[0]), int(pair[1])
        valid = 0 <= a <= 9 and 0 <= b <= 9 and a != b
    if not valid:
        shown = [v.item() if isinstance(v, np.generic) else v for v in pair] if isinstance(pair, list | tuple | np.ndarray) else pair
        raise ValueError(f"{name} == {shown!r}: a pair must be two different digits, each in 0..9.")
    return a, b


def generator_from_params(params: TrainAutoencoderParams) -> AmbiguousDigitGenerator:
    """The unfitted generator of the ``train_autoencoder`` section of params.yaml."""
    return AmbiguousDigitGenerator(
        latent_size=params.latent_size,
        filters=tuple(params.filters),
        hidden=params.hidden,
        beta=params.beta,
        epochs=params.epochs,
        batch_size=params.batch_size,
        learning_rate=params.learning_rate,
        validation_fraction=params.validation_fraction,
        pairs=None if params.pairs is None else tuple(tuple(p) for p in params.pairs),
        weights=tuple(params.weights),
        judges=tuple({"filters": tuple(j.filters), "dense": j.dense, "epochs": j.epochs} for j in params.judges),
        refine_steps=params.refine_steps,
        refine_rate=params.refine_rate,
        refine_anchor=params.refine_anchor,
        random_state=params.seed,
    )


def make_bank(model: AmbiguousDigitGenerator, count: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``count`` ambiguous digits (pairs drawn as :meth:`AmbiguousDigitGenerator.sample` with no digit) as a bank.

    Returns
    -------
    dict: ``images`` uint8 (N, 28, 28), ``labels`` int16 (N, 2), ``weights``
    float32 (N,), ``source_index`` int32 (N, 2), ``log_odds``, ``judge_smaller``
    and ``shift`` float32 (N,) (see :class:`AmbiguousSamples`).
    """
    check_int("count", count, 1)
    samples = model.generate(count, None, rng)
    return {name: getattr(samples, name) for name in AmbiguousSamples.__dataclass_fields__}


def preview_pairs(model: AmbiguousDigitGenerator, rows: int) -> np.ndarray:
    """Pairs of a preview strip: :meth:`AmbiguousDigitGenerator.pair_choices`, cycled; int16 (rows, 2)."""
    choices = model.pair_choices()
    return choices[np.arange(rows) % len(choices)]


def bank_summary(bank: dict[str, np.ndarray]) -> dict[str, Any]:
    """JSON-ready statistics of an ambiguous bank: pairs, chosen weights, latent balance, the judges' reading and the refinement's shift.

    ``judge_*`` entries are the judges' own view of the digits they refined
    (the evaluation stage measures them with an independent classifier); they
    are None without judges.
    """
    labels, weights, log_odds = bank["labels"], bank["weights"].astype(np.float64), np.abs(bank["log_odds"].astype(np.float64))
    pairs, counts = np.unique(labels, axis=0, return_counts=True)
    judged = bank["judge_smaller"].astype(np.float64)
    judged_any = not np.all(np.isnan(judged))
    return {
        "judge_smaller_mean": float(judged.mean()) if judged_any else None,
        "judge_fraction_smaller_at_least_quarter": float(np.mean(judged >= 0.25)) if judged_any else None,
        "shift_mean": float(bank["shift"].astype(np.float64).mean()),
        "count": int(len(labels)),
        "pairs": {f"{a}-{b}": int(c) for (a, b), c in zip(pairs.tolist(), counts.tolist())},
        "weight_mean": float(weights.mean()),
        "weight_histogram": {f"{w:g}": int(c) for w, c in zip(*np.unique(np.round(weights, 4), return_counts=True))},
        "abs_log_odds_median": float(np.median(log_odds)),
        "fraction_abs_log_odds_below_1": float(np.mean(log_odds < 1)),
    }
