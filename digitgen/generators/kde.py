"""PCA + Gaussian kernel-density digit generator, global or one density per digit.

Model
    Pixels (scaled to [0, 1]) are projected on the first ``n_components``
    principal components (optionally whitened) of the training digits. A
    Gaussian kernel density is placed on a random subsample of the codes:
    one per digit over the shared PCA (``conditional=True``) or one for all
    digits. Each density's bandwidth is chosen by ``cv``-fold
    cross-validated log-likelihood over a grid; a choice on the edge of the
    grid is reported with :class:`BandwidthEdgeWarning`.

Rejection sampling
    A fraction ``holdout`` of the training digits of every class is kept out
    of the densities. Their log-densities under the fitted density are the
    reference: level ``light`` / ``medium`` / ``strict`` (or an explicit
    percentile p) accepts a candidate whose log-density is at least the
    10th / 25th / 50th (p-th) percentile of those held-out real digits. If
    the samples resembled real digits, about 90 / 75 / 50% (100 - p) would
    pass. Candidates are drawn and scored in vectorised batches within a
    budget of ``candidate_budget`` candidates per requested digit (a
    candidate whose own kernel alone reaches the threshold, a lower bound of
    its density, is accepted without scoring the rest); when the
    budget runs out, :class:`RejectionBudgetError` states the acceptance
    rate reached. Nothing unfiltered is ever returned. The acceptance of
    each level is measured per density at fit time (``acceptance_``).

Log-densities are computed exactly (no tree approximation): a brute-force
log-sum-exp over all codes, with squared distances from float32 matrix
products shared by all bandwidths of the grid (:func:`log_kde`).

Saved as a folder with ``model.npz`` (arrays) and ``model.json`` (parameters,
fitted summary, versions, SHA-256 of the NPZ); no pickle.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import numbers
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import skimage
from tqdm import tqdm

import digitgen
from digitgen.cleaning import CLEANING_LEVELS, clean_digits
from digitgen.io import atomic_directory, sha256_file, write_json, write_npz
from digitgen.params.fit_kde import KdeParams

logger = logging.getLogger(__name__)

#: Named rejection levels -> percentile of held-out log-density (None: no rejection).
REJECTION_LEVELS: dict[str, float | None] = {"none": None, "light": 10.0, "medium": 25.0, "strict": 50.0}
#: Bandwidth grid of the default configuration: 12 values, geometric from 0.1 to 1.
DEFAULT_BANDWIDTHS = (0.1, 0.123, 0.152, 0.187, 0.231, 0.285, 0.351, 0.433, 0.534, 0.658, 0.811, 1.0)
FORMAT = "digitgen.kde"
FORMAT_VERSION = 1
_PIXELS = 28 * 28
_DECODE_BLOCK = 8192  # images decoded and cleaned at a time (bounds memory for large n)
_REFINE_ROUNDS = 2  # rounds refining the best grid bandwidth between its neighbours ...
_REFINE_POINTS = 7  # ... on a finer geometric grid each: with the default grid, steps of 5%, then 1.3%


class RejectionBudgetError(ValueError):
    """Rejection sampling ran out of candidates; the message states the acceptance rate reached."""


class BandwidthEdgeWarning(UserWarning):
    """The cross-validated bandwidth is the smallest or largest value of the grid."""


# --------------------------------------------------------------------------- numerics


def log_kde(queries: np.ndarray, codes: np.ndarray, bandwidths: Sequence[float], *, chunk_bytes: int = 1 << 25) -> np.ndarray:
    """Exact log-density of a Gaussian kernel density at each query, for several bandwidths.

    ``log p(x) = logsumexp_j(-|x - y_j|^2 / (2 h^2)) - log n - (d / 2) log(2 pi h^2)``.
    Squared distances come from one float32 matrix product per chunk of
    queries (``[x, |x|^2, 1] . [-2y, 1, |y|^2]``), shared by every bandwidth;
    the log-sum-exp is shifted by each query's nearest code, so it never
    underflows.

    Parameters
    ----------
    queries : float (m, d) points to score.
    codes : float (n, d) kernel centres, n >= 1.
    bandwidths : k kernel standard deviations, each > 0.
    chunk_bytes : memory for one chunk's distance matrix (float32).

    Returns
    -------
    float64 (m, k): log-density of each query under each bandwidth.
    """
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    codes = np.ascontiguousarray(codes, dtype=np.float32)
    bandwidths = np.asarray(bandwidths, dtype=np.float64).ravel()
    if queries.ndim != 2 or codes.ndim != 2 or queries.shape[1] != codes.shape[1]:
        raise ValueError(f"queries (m, d) and codes (n, d) must share d, got {queries.shape} and {codes.shape}.")
    if len(codes) == 0:
        raise ValueError("codes must hold at least one kernel centre.")
    if not np.all(bandwidths > 0):
        raise ValueError(f"bandwidths == {bandwidths.tolist()}, each must be > 0.")
    n, d = codes.shape
    gains = -0.5 / bandwidths**2
    constants = -math.log(n) - 0.5 * d * np.log(2 * np.pi * bandwidths**2)
    right = np.empty((d + 2, n), dtype=np.float32)
    right[:d] = -2 * codes.T
    right[d] = 1
    right[d + 1] = np.einsum("ij,ij->i", codes, codes)
    left = np.empty((len(queries), d + 2), dtype=np.float32)
    left[:, :d] = queries
    left[:, d] = np.einsum("ij,ij->i", queries, queries)
    left[:, d + 1] = 1
    out = np.empty((len(queries), len(bandwidths)), dtype=np.float64)
    step = max(1, chunk_bytes // (4 * n))
    for start in range(0, len(queries), step):
        dist = left[start : start + step] @ right
        nearest = dist.min(axis=1)
        dist -= nearest[:, None]
        nearest = np.maximum(nearest, 0).astype(np.float64)  # float32 rounding can dip below 0 at a code
        terms = np.empty_like(dist)
        for i, gain in enumerate(gains):
            np.multiply(dist, np.float32(gain), out=terms)
            np.exp(terms, out=terms)
            out[start : start + step, i] = gain * nearest + np.log(terms.sum(axis=1).astype(np.float64)) + constants[i]
    return out


@dataclass(frozen=True)
class Pca:
    """Principal components of pixel vectors (float64 covariance, eigendecomposition).

    Attributes
    ----------
    mean : float32 (784,) mean pixel vector.
    components : float32 (k, 784) unit principal axes, by decreasing variance;
        each axis's largest-magnitude loading is positive (a fixed sign).
    explained_variance : float64 (k,) variance along each axis.
    explained_variance_ratio : float64 (k,) fraction of the total variance.
    """

    mean: np.ndarray
    components: np.ndarray
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray


def fit_pca(pixels: np.ndarray, n_components: int) -> Pca:
    """Fit PCA to ``pixels`` float (N, 784), N >= 2: the same axes and variances as scikit-learn's PCA.

    The covariance is accumulated in float64 and decomposed with
    ``numpy.linalg.eigh``: deterministic, and fast when N >> 784.
    """
    pixels = np.asarray(pixels, dtype=np.float64)
    mean = pixels.mean(axis=0)
    centred = pixels - mean
    covariance = centred.T @ centred / (len(pixels) - 1)
    values, vectors = np.linalg.eigh(covariance)
    order = np.argsort(values)[::-1][:n_components]
    values, vectors = np.clip(values[order], 0, None), vectors[:, order].T
    signs = np.sign(vectors[np.arange(len(vectors)), np.abs(vectors).argmax(axis=1)])
    vectors *= np.where(signs == 0, 1, signs)[:, None]
    return Pca(mean.astype(np.float32), vectors.astype(np.float32), values, values / np.trace(covariance))


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class KdeSamples:
    """What :meth:`KdeDigitGenerator.generate` drew.

    Attributes
    ----------
    images : uint8 (n, 28, 28), 0 = background, 255 = ink.
    labels : int16 (n,) digits; -1 for every image of a global model.
    candidates : int64 (D,) candidates drawn and scored per density (D = 10
        digits, or 1 for a global model).
    accepted : int64 (D,) candidates that passed the rejection level (may
        exceed what was kept from the last batch).
    """

    images: np.ndarray
    labels: np.ndarray
    candidates: np.ndarray
    accepted: np.ndarray

    @property
    def acceptance(self) -> np.ndarray:
        """float64 (D,) accepted / candidates per density (NaN where nothing was drawn)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.accepted / self.candidates.astype(np.float64)


# --------------------------------------------------------------------------- the generator


class KdeDigitGenerator:
    """PCA + Gaussian kernel-density digit generator (see the module docstring).

    Parameters
    ----------
    n_components : PCA components kept, 1..784.
    whiten : scale each component to unit variance before the density.
    conditional : one density per digit over a shared PCA (True) or one
        density of all digits (False).
    subsample : most training codes per density (per digit when
        conditional, in total when global), drawn at random; None = all.
    holdout : fraction of each digit's training images kept out of the
        densities to set the rejection thresholds, in (0, 0.5].
    bandwidths : grid of kernel bandwidths (in code units, > 0) searched by
        cross-validation; a single value fixes the bandwidth.
    cv : cross-validation folds, >= 2.
    rejection : ``none``, ``light``, ``medium``, ``strict``, or a
        percentile in (0, 100) of held-out log-density.
    cleaning : ``none``, ``light``, ``medium`` or ``aggressive``
        (:func:`digitgen.cleaning.clean_digits`).
    candidate_budget : most candidates drawn per requested digit, >= 1
        (20 = give up below 5% acceptance).
    batch_size : most candidates drawn and scored at once, >= 1.
    acceptance_candidates : candidates per density used at fit time to
        measure each level's acceptance, >= 0 (0 = skip).
    random_state : seed of every random draw in ``fit`` (holdout split,
        subsample, folds, acceptance candidates); None = fresh entropy.

    Attributes
    ----------
    pca_ : :class:`Pca` shared by all densities.
    scale_ : float32 (k,) code scale per component (sqrt of the variance
        when whitened, else 1).
    density_labels_ : int16 (D,) digit of each density (-1 for global).
    codes_ : list of D float32 (n_j, k) kernel centres.
    bandwidth_ : float64 (D,) chosen bandwidth per density (the best grid
        value refined between its neighbours, see :func:`choose_bandwidth`).
    bandwidth_log_likelihood_ : float64 (D,) mean cross-validated
        log-likelihood per code at ``bandwidth_``.
    bandwidth_grid_ : float64 (G,) the sorted grid searched.
    cv_log_likelihood_ : float64 (D, G) mean held-out-fold log-likelihood
        per code, for each density and bandwidth.
    heldout_log_density_ : list of D float64 (m_j,) sorted log-densities of
        the held-out real digits (the rejection reference).
    priors_ : float64 (10,) training class frequencies.
    acceptance_ : dict level -> float64 (D,) measured acceptance at fit.
    """

    def __init__(
        self,
        *,
        n_components: int = 50,
        whiten: bool = False,
        conditional: bool = True,
        subsample: int | None = 5000,
        holdout: float = 0.15,
        bandwidths: Sequence[float] = DEFAULT_BANDWIDTHS,
        cv: int = 5,
        rejection: str | float = "medium",
        cleaning: str = "medium",
        candidate_budget: float = 20.0,
        batch_size: int = 4096,
        acceptance_candidates: int = 2000,
        random_state: int | None = None,
    ) -> None:
        self.n_components = n_components
        self.whiten = whiten
        self.conditional = conditional
        self.subsample = subsample
        self.holdout = holdout
        self.bandwidths = bandwidths
        self.cv = cv
        self.rejection = rejection
        self.cleaning = cleaning
        self.candidate_budget = candidate_budget
        self.batch_size = batch_size
        self.acceptance_candidates = acceptance_candidates
        self.random_state = random_state

    # ------------------------------------------------------------------ parameters

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters, by name."""
        return {name: getattr(self, name) for name in inspect.signature(type(self).__init__).parameters if name != "self"}

    def set_params(self, **params: Any) -> KdeDigitGenerator:
        """Change constructor parameters (e.g. ``rejection`` or ``cleaning`` of a fitted model); returns ``self``.

        Parameters that shape the fit take effect at the next ``fit``;
        ``rejection``, ``cleaning``, ``candidate_budget`` and ``batch_size``
        act at sampling time.
        """
        valid = self.get_params()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"unknown parameter {name!r}; valid parameters are {sorted(valid)}.")
            setattr(self, name, value)
        return self

    def _validate_params(self) -> None:
        """Check every parameter; errors name the parameter, the value and what is allowed."""
        _check_int("n_components", self.n_components, 1, _PIXELS)
        _check_bool("whiten", self.whiten)
        _check_bool("conditional", self.conditional)
        if self.subsample is not None:
            _check_int("subsample", self.subsample, 1, None, "or None")
        if not (isinstance(self.holdout, numbers.Real) and not isinstance(self.holdout, bool) and 0 < self.holdout <= 0.5):
            raise ValueError(f"holdout == {self.holdout!r}, must be a fraction in (0, 0.5].")
        grid = self.bandwidths
        if (
            isinstance(grid, str | bytes)
            or not isinstance(grid, Sequence | np.ndarray)
            or len(grid) == 0
            or not all(isinstance(h, numbers.Real) and not isinstance(h, bool) and math.isfinite(h) and h > 0 for h in grid)
        ):
            raise ValueError(f"bandwidths == {grid!r}, must be a non-empty list of finite numbers > 0.")
        if len(set(float(h) for h in grid)) != len(grid):
            raise ValueError(f"bandwidths == {list(grid)!r}, must not repeat a value.")
        _check_int("cv", self.cv, 2, None)
        _rejection_percentile(self.rejection)
        if self.cleaning not in CLEANING_LEVELS:
            raise ValueError(f"cleaning == {self.cleaning!r}, must be one of {list(CLEANING_LEVELS)}.")
        if not (isinstance(self.candidate_budget, numbers.Real) and not isinstance(self.candidate_budget, bool) and self.candidate_budget >= 1):
            raise ValueError(f"candidate_budget == {self.candidate_budget!r}, must be a number >= 1 (candidates per requested digit).")
        _check_int("batch_size", self.batch_size, 1, None)
        _check_int("acceptance_candidates", self.acceptance_candidates, 0, None)
        if self.random_state is not None:
            _check_int("random_state", self.random_state, 0, None, "or None")

    # ------------------------------------------------------------------ fit

    def fit(self, images: np.ndarray, labels: np.ndarray) -> KdeDigitGenerator:
        """Fit the PCA and the densities on real digits; returns ``self``.

        Parameters
        ----------
        images : uint8 (N, 28, 28), 0 = background, 255 = ink.
        labels : int (N,), digits 0-9. A conditional model needs every
            digit; each density needs at least ``cv`` training images after
            the holdout.

        Warns
        -----
        BandwidthEdgeWarning
            When a density's chosen bandwidth is the first or last of a
            grid of two or more values.
        """
        self._validate_params()
        images, labels = _check_training_data(images, labels)
        started = time.perf_counter()
        rng = np.random.default_rng(self.random_state)
        grid = np.sort(np.asarray(self.bandwidths, dtype=np.float64))

        # Hold out a fraction of every digit (stratified), then subsample each density's codes.
        heldout, pool = [], []
        counts = np.bincount(labels, minlength=10)
        for digit in range(10):
            members = rng.permutation(np.flatnonzero(labels == digit))
            cut = max(1, round(self.holdout * len(members))) if len(members) else 0
            heldout.append(members[:cut])
            pool.append(members[cut:])
        if self.conditional:
            missing = [d for d in range(10) if counts[d] == 0]
            if missing:
                raise ValueError(f"labels hold no image of digit(s) {missing}; a conditional model needs all ten digits.")
            densities = [(digit, pool[digit], heldout[digit]) for digit in range(10)]
        else:
            densities = [(-1, rng.permutation(np.concatenate(pool)), np.concatenate(heldout))]
        for digit, members, _ in densities:
            if len(members) < self.cv:
                who = f"digit {digit}" if digit >= 0 else "the training set"
                raise ValueError(
                    f"{who} has {len(members)} training image(s) left after holding out holdout == {self.holdout} of them; "
                    f"cv == {self.cv} folds need at least {self.cv}."
                )
        if self.n_components > len(images):
            raise ValueError(f"n_components == {self.n_components}, must be <= the number of training images ({len(images)}).")

        # The PCA (unsupervised) sees every training image, held-out ones included, so that held-out
        # and density codes are projected alike; only the densities leave the held-out digits out.
        pixels = images.reshape(len(images), _PIXELS)
        pca = fit_pca(pixels / 255.0, self.n_components)
        scale = np.sqrt(pca.explained_variance).astype(np.float32) if self.whiten else np.ones(self.n_components, np.float32)
        scale[scale == 0] = 1  # a constant component (tiny data) carries no information either way
        logger.info(
            "PCA %d -> %d components: %.1f%% of the variance (%.1f s)",
            _PIXELS, self.n_components, 100 * pca.explained_variance_ratio.sum(), time.perf_counter() - started,
        )

        def encode(rows: np.ndarray) -> np.ndarray:
            return ((pixels[rows].astype(np.float32) / np.float32(255) - pca.mean) @ pca.components.T) / scale

        codes, bandwidth, cv_best, curves, heldout_scores = [], [], [], [], []
        for digit, members, held in tqdm(densities, desc="KDE bandwidth search", unit="density", disable=None):
            kept = members[: self.subsample] if self.subsample is not None else members
            density_codes = encode(kept)
            chosen, likelihood, curve = choose_bandwidth(density_codes, grid, self.cv, rng)
            name = f"digit {digit}" if digit >= 0 else "global density"
            if len(grid) > 1 and chosen in (grid[0], grid[-1]):
                side = "smallest" if chosen == grid[0] else "largest"
                message = (
                    f"{name}: the cross-validated bandwidth {chosen:g} is the {side} value of the grid "
                    f"[{grid[0]:g} .. {grid[-1]:g}]; the optimum may lie outside it, extend bandwidths."
                )
                warnings.warn(message, BandwidthEdgeWarning, stacklevel=2)
                logger.warning(message)
            scores = np.sort(log_kde(encode(held), density_codes, [chosen])[:, 0])
            codes.append(density_codes)
            bandwidth.append(chosen)
            cv_best.append(likelihood)
            curves.append(curve)
            heldout_scores.append(scores)
            logger.info(
                "%s: %d codes, bandwidth %.4g (CV log-likelihood %.3f), %d held-out digits (%.1f s)",
                name, len(density_codes), chosen, likelihood, len(held), time.perf_counter() - started,
            )

        self.pca_ = pca
        self.scale_ = scale
        self.density_labels_ = np.array([digit for digit, _, _ in densities], dtype=np.int16)
        self.codes_ = codes
        self.bandwidth_ = np.array(bandwidth, dtype=np.float64)
        self.bandwidth_log_likelihood_ = np.array(cv_best, dtype=np.float64)
        self.bandwidth_grid_ = grid
        self.cv_log_likelihood_ = np.array(curves, dtype=np.float64)
        self.heldout_log_density_ = heldout_scores
        self.priors_ = counts / counts.sum()
        self.acceptance_ = self._measure_acceptance(rng)
        logger.info("fitted %s in %.1f s", "conditional model" if self.conditional else "global model", time.perf_counter() - started)
        return self

    def _measure_acceptance(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Acceptance of each rejection level per density, on ``acceptance_candidates`` fresh candidates each."""
        if self.acceptance_candidates == 0:
            return {}
        levels = {name: p for name, p in REJECTION_LEVELS.items() if p is not None}
        custom = _rejection_percentile(self.rejection)
        if custom is not None and custom not in levels.values():
            levels[f"p{custom:g}"] = custom
        rates = {name: np.empty(len(self.codes_)) for name in levels}
        for j in range(len(self.codes_)):
            scores = self._score(j, self._draw(j, self.acceptance_candidates, rng)[0])
            for name, percentile in levels.items():
                rates[name][j] = np.mean(scores >= self._threshold(j, percentile))
        return rates

    # ------------------------------------------------------------------ sampling

    def sample(self, n: int, digit: int | None = None, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """Draw ``n`` digits that pass the rejection level, cleaned.

        Parameters
        ----------
        n : number of digits, >= 0.
        digit : 0-9 for a conditional model; None draws digits with the
            training class frequencies (conditional) or from the global density.
        rng : generator (or seed) of every random draw; None = fresh entropy.

        Returns
        -------
        uint8 (n, 28, 28), 0 = background, 255 = ink.

        Raises
        ------
        RejectionBudgetError
            When a density's candidate budget runs out before ``n`` digits pass.
        """
        return self.generate(n, digit, rng).images

    def generate(self, n: int, digit: int | None = None, rng: np.random.Generator | int | None = None) -> KdeSamples:
        """Like :meth:`sample`, also returning labels and per-density candidate counts."""
        self._check_fitted()
        self._validate_params()
        _check_int("n", n, 0, None)
        if digit is not None:
            if not self.conditional:
                raise ValueError(f"digit == {digit!r}, but this model is global (conditional=False): it draws all digits together, so digit must be None.")
            _check_int("digit", digit, 0, 9)
        rng = np.random.default_rng(rng)
        if not self.conditional:
            labels = np.full(n, -1, dtype=np.int16)
            density_of = np.zeros(n, dtype=np.int64)
        elif digit is None:
            labels = rng.choice(10, size=n, p=self.priors_).astype(np.int16)
            density_of = labels.astype(np.int64)
        else:
            labels = np.full(n, digit, dtype=np.int16)
            density_of = labels.astype(np.int64)
        codes = np.empty((n, self.pca_.components.shape[0]), dtype=np.float32)
        candidates = np.zeros(len(self.codes_), dtype=np.int64)
        accepted = np.zeros(len(self.codes_), dtype=np.int64)
        for j in range(len(self.codes_)):
            rows = np.flatnonzero(density_of == j)
            if len(rows):
                codes[rows], candidates[j], accepted[j] = self._sample_codes(j, len(rows), rng)
        images = np.empty((n, 28, 28), dtype=np.uint8)
        for start in range(0, n, _DECODE_BLOCK):
            images[start : start + _DECODE_BLOCK] = clean_digits(self._decode(codes[start : start + _DECODE_BLOCK]), self.cleaning)
        return KdeSamples(images, labels, candidates, accepted)

    def _draw(self, j: int, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``count`` draws from density ``j``: a random kernel centre plus Gaussian noise.

        Returns the draws float32 (count, k) and, float64 (count,), the log of
        their own centre's term of the density, ``-log n - (k/2) log(2 pi h^2)
        - |noise|^2 / 2``: a lower bound of their log-density.
        """
        codes, h = self.codes_[j], self.bandwidth_[j]
        centres = codes[rng.integers(0, len(codes), size=count)]
        noise = rng.standard_normal(centres.shape, dtype=np.float32)
        own = -math.log(len(codes)) - 0.5 * codes.shape[1] * math.log(2 * math.pi * h * h) - 0.5 * np.einsum("ij,ij->i", noise, noise, dtype=np.float64)
        return centres + np.float32(h) * noise, own

    def _passes(self, j: int, candidates: np.ndarray, own: np.ndarray, threshold: float) -> np.ndarray:
        """bool (m,): log-density of each candidate >= ``threshold``.

        A candidate whose own kernel term (``own``, see :meth:`_draw`) already
        reaches the threshold passes without scoring; in 50 dimensions the
        other kernels add only hundredths of a nat, so most candidates are
        decided this way and only the rest are scored exactly.
        """
        passed = own >= threshold
        undecided = np.flatnonzero(~passed)
        if len(undecided):
            passed[undecided] = self._score(j, candidates[undecided]) >= threshold
        return passed

    def _score(self, j: int, codes: np.ndarray) -> np.ndarray:
        """float64 (m,) log-density of ``codes`` under density ``j``."""
        return log_kde(codes, self.codes_[j], [self.bandwidth_[j]])[:, 0]

    def _threshold(self, j: int, percentile: float) -> float:
        """The ``percentile``-th percentile of density ``j``'s held-out log-densities."""
        return float(np.percentile(self.heldout_log_density_[j], percentile))

    def _sample_codes(self, j: int, count: int, rng: np.random.Generator) -> tuple[np.ndarray, int, int]:
        """Draw ``count`` codes of density ``j`` that pass the rejection level.

        Returns the codes float32 (count, k), the candidates drawn and the
        candidates accepted.
        """
        percentile = _rejection_percentile(self.rejection)
        if percentile is None:
            return self._draw(j, count, rng)[0], count, count
        threshold = self._threshold(j, percentile)
        budget = math.ceil(self.candidate_budget * count)
        kept: list[np.ndarray] = []
        drawn = accepted = 0
        while accepted < count:
            if budget - drawn < count - accepted:
                who = f"digit {self.density_labels_[j]}" if self.density_labels_[j] >= 0 else "all digits"
                raise RejectionBudgetError(
                    f"rejection {self.rejection!r} ({who}: log-density >= {threshold:.1f}, the {percentile:g}th percentile "
                    f"of {len(self.heldout_log_density_[j])} held-out real digits) accepted {accepted} of {drawn} candidates "
                    f"({accepted / max(drawn, 1):.2%}); the budget of {budget} candidates (candidate_budget == "
                    f"{self.candidate_budget:g} x {count} requested) cannot yield {count}. Lower the rejection level "
                    f"or raise candidate_budget."
                )
            need = count - accepted
            rate = accepted / drawn if drawn else 0.5
            size = min(self.batch_size, budget - drawn, math.ceil(1.2 * need / rate) if rate > 0 else budget)
            candidates, own = self._draw(j, size, rng)
            passed = candidates[self._passes(j, candidates, own, threshold)]
            kept.append(passed)
            drawn += size
            accepted += len(passed)
        return np.concatenate(kept)[:count], drawn, accepted

    def _decode(self, codes: np.ndarray) -> np.ndarray:
        """Pixels float32 (m, 28, 28) of codes float32 (m, k); not clipped."""
        pixels = (codes * self.scale_) @ self.pca_.components + self.pca_.mean
        return pixels.reshape(len(codes), 28, 28)

    def _check_fitted(self) -> None:
        if not hasattr(self, "codes_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet; call fit(images, labels) or {type(self).__name__}.load(path) first.")

    # ------------------------------------------------------------------ description

    def density_names(self) -> list[str]:
        """``'0'`` .. ``'9'`` for a conditional model, ``['all']`` for a global one."""
        self._check_fitted()
        return [str(d) if d >= 0 else "all" for d in self.density_labels_.tolist()]

    def summary(self) -> dict[str, Any]:
        """JSON-ready description of the fitted model: PCA, bandwidths, CV curves, thresholds, acceptance."""
        self._check_fitted()
        names = self.density_names()
        grid = self.bandwidth_grid_
        return {
            "n_components": int(self.pca_.components.shape[0]),
            "explained_variance": float(self.pca_.explained_variance_ratio.sum()),
            "densities": names,
            "codes_per_density": dict(zip(names, (len(c) for c in self.codes_))),
            "heldout_per_density": dict(zip(names, (len(s) for s in self.heldout_log_density_))),
            "bandwidth_grid": grid.tolist(),
            "bandwidth": dict(zip(names, self.bandwidth_.tolist())),
            "bandwidth_cv_log_likelihood": dict(zip(names, self.bandwidth_log_likelihood_.tolist())),
            "bandwidth_on_grid_edge": {
                name: bool(len(grid) > 1 and h in (grid[0], grid[-1])) for name, h in zip(names, self.bandwidth_.tolist())
            },
            "grid_cv_log_likelihood": {name: curve.tolist() for name, curve in zip(names, self.cv_log_likelihood_)},
            "thresholds": {
                level: {name: self._threshold(j, p) for j, name in enumerate(names)}
                for level, p in REJECTION_LEVELS.items()
                if p is not None
            },
            "acceptance": {level: dict(zip(names, rates.tolist())) for level, rates in self.acceptance_.items()},
        }

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | os.PathLike) -> None:
        """Write ``model.npz`` and ``model.json`` into the folder ``path`` (replaced atomically).

        Same fitted state -> byte-identical files (no timestamps).
        """
        self._check_fitted()
        arrays = {
            "mean": self.pca_.mean,
            "components": self.pca_.components,
            "explained_variance": self.pca_.explained_variance,
            "explained_variance_ratio": self.pca_.explained_variance_ratio,
            "scale": self.scale_,
            "density_labels": self.density_labels_,
            "codes": np.concatenate(self.codes_),
            "code_counts": np.array([len(c) for c in self.codes_], dtype=np.int64),
            "bandwidth": self.bandwidth_,
            "bandwidth_log_likelihood": self.bandwidth_log_likelihood_,
            "bandwidth_grid": self.bandwidth_grid_,
            "cv_log_likelihood": self.cv_log_likelihood_,
            "heldout_log_density": np.concatenate(self.heldout_log_density_),
            "heldout_counts": np.array([len(s) for s in self.heldout_log_density_], dtype=np.int64),
            "priors": self.priors_,
        }
        params = self.get_params()
        params["bandwidths"] = [float(h) for h in params["bandwidths"]]
        with atomic_directory(path) as tmp:
            write_npz(tmp / "model.npz", arrays)
            description = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "class": type(self).__name__,
                "params": params,
                "npz_sha256": sha256_file(tmp / "model.npz"),
                "fitted": self.summary(),
                "versions": _versions(),
            }
            write_json(tmp / "model.json", description)

    @classmethod
    def load(cls, path: str | os.PathLike) -> KdeDigitGenerator:
        """Read a model folder written by :meth:`save`, checking its format and the NPZ's SHA-256."""
        path = Path(path)
        json_path, npz_path = path / "model.json", path / "model.npz"
        for file in (json_path, npz_path):
            if not file.is_file():
                raise FileNotFoundError(f"KDE model file {str(file)!r} does not exist; run `dvc repro fit_kde` or fit and save a model there.")
        try:
            description = json.loads(json_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{json_path}: not valid JSON: {error}") from None
        if description.get("format") != FORMAT or description.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{json_path}: format {description.get('format')!r} version {description.get('format_version')!r}, "
                f"expected {FORMAT!r} version {FORMAT_VERSION}."
            )
        digest = sha256_file(npz_path)
        if digest != description.get("npz_sha256"):
            raise ValueError(f"{npz_path}: SHA-256 {digest} differs from the {description.get('npz_sha256')} recorded in {json_path.name}.")
        params = dict(description["params"])
        params["bandwidths"] = tuple(params["bandwidths"])
        model = cls(**params)
        with np.load(npz_path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        model.pca_ = Pca(arrays["mean"], arrays["components"], arrays["explained_variance"], arrays["explained_variance_ratio"])
        model.scale_ = arrays["scale"]
        model.density_labels_ = arrays["density_labels"]
        model.codes_ = np.split(arrays["codes"], np.cumsum(arrays["code_counts"])[:-1])
        model.bandwidth_ = arrays["bandwidth"]
        model.bandwidth_log_likelihood_ = arrays["bandwidth_log_likelihood"]
        model.bandwidth_grid_ = arrays["bandwidth_grid"]
        model.cv_log_likelihood_ = arrays["cv_log_likelihood"]
        model.heldout_log_density_ = np.split(arrays["heldout_log_density"], np.cumsum(arrays["heldout_counts"])[:-1])
        model.priors_ = arrays["priors"]
        names = model.density_names()
        model.acceptance_ = {
            level: np.array([rates[name] for name in names], dtype=np.float64)
            for level, rates in description["fitted"]["acceptance"].items()
        }
        return model


# --------------------------------------------------------------------------- helpers


def choose_bandwidth(codes: np.ndarray, grid: np.ndarray, folds: int, rng: np.random.Generator) -> tuple[float, float, np.ndarray]:
    """Cross-validated bandwidth of a kernel density on ``codes`` float32 (n, k).

    Each of ``folds`` random folds is scored under the density of the
    others. The grid's best value is then refined between its two
    neighbours: twice, a finer geometric grid of ``_REFINE_POINTS`` values
    around the best so far (the likelihood is smooth in the bandwidth, and
    the acceptance of rejection sampling is sensitive to it; every round
    shares one distance matrix per fold). A best value on the grid's edge
    is returned as is.

    Returns
    -------
    bandwidth : the chosen bandwidth.
    log_likelihood : its mean held-out-fold log-likelihood per code.
    curve : float64 (G,) the same for every grid value (``grid`` sorted ascending).
    """
    parts = np.array_split(rng.permutation(len(codes)), folds)

    def mean_log_likelihood(bandwidths: np.ndarray) -> np.ndarray:
        total = np.zeros(len(bandwidths))
        for fold in parts:
            train = np.ones(len(codes), dtype=bool)
            train[fold] = False
            total += log_kde(codes[fold], codes[train], bandwidths).sum(axis=0)
        return total / len(codes)

    curve = mean_log_likelihood(grid)
    best = int(np.argmax(curve))
    if best in (0, len(grid) - 1):
        return float(grid[best]), float(curve[best]), curve
    bandwidth, likelihood = float(grid[best]), float(curve[best])
    low, high = grid[best - 1], grid[best + 1]
    for _ in range(_REFINE_ROUNDS):
        finer = np.geomspace(low, high, _REFINE_POINTS + 2)[1:-1]
        scores = mean_log_likelihood(finer)
        step = (high / low) ** (1 / (_REFINE_POINTS + 1))
        i = int(np.argmax(scores))
        if scores[i] > likelihood:
            bandwidth, likelihood = float(finer[i]), float(scores[i])
        low, high = bandwidth / step, bandwidth * step
    return bandwidth, likelihood, curve


def _rejection_percentile(rejection: str | float) -> float | None:
    """The percentile of a rejection level (None for ``none``); raises for anything else."""
    if isinstance(rejection, str) and rejection in REJECTION_LEVELS:
        return REJECTION_LEVELS[rejection]
    if isinstance(rejection, numbers.Real) and not isinstance(rejection, bool) and 0 < rejection < 100:
        return float(rejection)
    raise ValueError(f"rejection == {rejection!r}, must be one of {list(REJECTION_LEVELS)} or a percentile in (0, 100).")


def _check_int(name: str, value: Any, low: int, high: int | None, extra: str = "") -> None:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low and (high is None or value <= high):
        return
    allowed = f"in {low}..{high}" if high is not None else f">= {low}"
    raise ValueError(f"{name} == {value!r}, must be an integer {allowed}{' ' + extra if extra else ''}.")


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} == {value!r}, must be True or False.")


def _check_training_data(images: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    images, labels = np.asarray(images), np.asarray(labels)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"images must be uint8 (N, 28, 28), got {images.dtype} {images.shape}.")
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers of shape ({len(images)},), got {labels.dtype} {labels.shape}.")
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"labels must be digits 0-9, found {labels.min()}..{labels.max()}.")
    return images, labels.astype(np.int64)


def _versions() -> dict[str, str]:
    return {"digitgen": digitgen.__version__, "numpy": np.__version__, "scipy": scipy.__version__, "scikit-image": skimage.__version__}


# --------------------------------------------------------------------------- pipeline (the fit_kde stage)


def generators_from_params(params: KdeParams) -> dict[str, KdeDigitGenerator]:
    """The stage's two unfitted models, ``conditional`` and ``global``, from the ``fit_kde`` params.

    Both use the same seed, so they hold out the same digits and share the
    same PCA; they differ in the densities (one per digit with
    ``subsample`` codes each, or one with ``global_subsample`` codes).
    """
    common = dict(
        n_components=params.n_components,
        whiten=params.whiten,
        holdout=params.holdout,
        bandwidths=tuple(params.bandwidths),
        cv=params.cv,
        rejection=params.rejection,
        cleaning=params.cleaning,
        candidate_budget=params.candidate_budget,
        acceptance_candidates=params.acceptance_candidates,
        random_state=params.seed,
    )
    return {
        "conditional": KdeDigitGenerator(conditional=True, subsample=params.subsample, **common),
        "global": KdeDigitGenerator(conditional=False, subsample=params.global_subsample, **common),
    }


def make_bank(model: KdeDigitGenerator, per_digit: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draw ``per_digit`` digits of each class 0-9 from a conditional model, as a digit bank.

    Returns
    -------
    dict of arrays for :func:`digitgen.io.write_npz`: ``images`` uint8
    (10 * per_digit, 28, 28) and ``labels`` int16, in digit order; and the
    provenance of the draw: ``candidates`` / ``accepted`` int64 (10,) per
    digit, ``rejection`` and ``cleaning`` (str), ``rejection_percentile``
    float64 (NaN for ``none``).
    """
    model._check_fitted()
    if not model.conditional:
        raise ValueError("a bank needs labels: draw it from a conditional model (conditional=True).")
    _check_int("per_digit", per_digit, 1, None)
    images, labels = [], []
    candidates = np.zeros(10, dtype=np.int64)
    accepted = np.zeros(10, dtype=np.int64)
    for digit in range(10):
        drawn = model.generate(per_digit, digit=digit, rng=rng)
        images.append(drawn.images)
        labels.append(drawn.labels)
        candidates[digit], accepted[digit] = drawn.candidates[digit], drawn.accepted[digit]
    percentile = _rejection_percentile(model.rejection)
    return {
        "images": np.concatenate(images),
        "labels": np.concatenate(labels),
        "candidates": candidates,
        "accepted": accepted,
        "rejection": np.array(str(model.rejection)),
        "rejection_percentile": np.array(np.nan if percentile is None else percentile),
        "cleaning": np.array(model.cleaning),
    }


def bandwidth_curves_csv(models: dict[str, KdeDigitGenerator]) -> str:
    """CSV text of the cross-validation curves: ``bandwidth`` then one column per density.

    Columns ``digit_0`` .. ``digit_9`` for a conditional model and
    ``global`` for a global one; rows are the grid values. All models must
    share the grid.
    """
    grids = {tuple(model.bandwidth_grid_.tolist()) for model in models.values()}
    if len(grids) != 1:
        raise ValueError(f"the models were fitted on different bandwidth grids: {sorted(grids)}.")
    columns, curves = ["bandwidth"], []
    for model in models.values():
        for name, curve in zip(model.density_names(), model.cv_log_likelihood_):
            columns.append(f"digit_{name}" if name != "all" else "global")
            curves.append(curve)
    lines = [",".join(columns)]
    for i, bandwidth in enumerate(next(iter(grids))):
        lines.append(",".join([f"{bandwidth:g}"] + [f"{curve[i]:.4f}" for curve in curves]))
    return "\n".join(lines) + "\n"


def kde_metrics(models: dict[str, KdeDigitGenerator], bank: dict[str, np.ndarray]) -> dict[str, Any]:
    """Deterministic DVC metrics of the stage: per model and density the bandwidth, its CV
    log-likelihood, edge flags and acceptance per level; per digit the bank's acceptance."""
    metrics: dict[str, Any] = {}
    for key, model in models.items():
        summary = model.summary()
        metrics[key] = {
            "explained_variance": round(summary["explained_variance"], 4),
            "bandwidth": {name: round(h, 4) for name, h in summary["bandwidth"].items()},
            "bandwidth_on_grid_edge": summary["bandwidth_on_grid_edge"],
            "cv_log_likelihood": {name: round(v, 3) for name, v in summary["bandwidth_cv_log_likelihood"].items()},
            "acceptance": {
                level: {name: round(rate, 4) for name, rate in rates.items()} | {"mean": round(float(np.mean(list(rates.values()))), 4)}
                for level, rates in summary["acceptance"].items()
            },
        }
    rates = bank["accepted"] / bank["candidates"]
    metrics["bank"] = {
        "per_digit": int(len(bank["labels"]) // 10),
        "rejection": str(bank["rejection"]),
        "cleaning": str(bank["cleaning"]),
        "acceptance": {str(d): round(float(r), 4) for d, r in enumerate(rates)}
        | {"overall": round(float(bank["accepted"].sum() / bank["candidates"].sum()), 4)},
    }
    return metrics
