"""PCA + Gaussian kernel-density digit generator, global or one density per digit.

Model
    Pixels (scaled to [0, 1]) are projected on the first ``n_components``
    principal components (optionally whitened) of the training digits. A
    Gaussian kernel density is placed on a random subsample of the codes:
    one per digit over the shared PCA (``conditional=True``) or one for all
    digits. Each density's bandwidth is chosen by ``cv``-fold
    cross-validated log-likelihood over a grid; a choice on the edge of the
    grid is reported with :class:`BandwidthEdgeWarning`. The numerics (exact
    log-densities, PCA, the bandwidth search) live in
    :mod:`digitgen.generators.density`.

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

Saved as a model folder (:mod:`digitgen.model_folder`): ``model.npz`` (the
arrays) and ``model.json``; no pickle.

This module is the estimator alone (about 470 lines: parameters, fit,
sampling and persistence of one class, with their documentation); the
numerics are in :mod:`~digitgen.generators.density`, the stage's bank and
metrics in :mod:`digitgen.pipeline.fit_kde`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy
import skimage

from digitgen import model_folder
from digitgen.arrays import check_training_data
from digitgen.cleaning import clean_digits
from digitgen.constants import DIGIT_SIZE, REJECTION_LEVELS
from digitgen.errors import CorruptFileError
from digitgen.generators.base import BaseGenerator
from digitgen.generators.density import (  # noqa: F401 - BandwidthEdgeWarning and RejectionBudgetError are part of this API
    BandwidthEdgeWarning,
    DigitDensity,
    Pca,
    RejectionBudgetError,
    fit_density,
    fit_pca,
)
from digitgen.io import read_npz, write_npz
from digitgen.params.core import defaults_of
from digitgen.params.fit_kde import KDE_RULES, KdeParams
from digitgen.rules import Bool, Int, Nullable

logger = logging.getLogger(__name__)

FORMAT = "digitgen.kde"
#: Version 2: ``model.json`` lists the SHA-256 of ``model.npz`` under ``sha256`` (the model-folder format).
FORMAT_VERSION = 2
#: Arrays of ``model.npz``.
ARRAYS = (
    "mean", "components", "explained_variance", "explained_variance_ratio", "scale", "density_labels", "codes", "code_counts",
    "bandwidth", "bandwidth_log_likelihood", "bandwidth_grid", "cv_log_likelihood", "heldout_log_density", "heldout_counts", "priors",
)
_PIXELS = DIGIT_SIZE * DIGIT_SIZE
_DECODE_BLOCK = 8192  # images decoded and cleaned at a time (bounds memory for large n)
_DEFAULTS = defaults_of(KdeParams)


def rejection_percentile(rejection: str | float) -> float | None:
    """The percentile of held-out log-density a rejection level stands for (None for ``none``); checked by its rule."""
    rejection = KDE_RULES["rejection"].check(rejection, "rejection")
    return REJECTION_LEVELS[rejection] if isinstance(rejection, str) else rejection


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


class KdeDigitGenerator(BaseGenerator):
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

    #: The rules of the ``fit_kde`` section, and of the three class-only parameters.
    RULES = {
        **KDE_RULES,
        "conditional": Bool(),
        "batch_size": Int(1),
        "random_state": Nullable(Int(0), allowed="must be an integer >= 0 or None (fresh entropy)"),
    }
    FITTED_ATTRIBUTE = "codes_"

    def __init__(
        self,
        *,
        n_components: int = _DEFAULTS["n_components"],
        whiten: bool = _DEFAULTS["whiten"],
        conditional: bool = True,
        subsample: int | None = _DEFAULTS["subsample"],
        holdout: float = _DEFAULTS["holdout"],
        bandwidths: Sequence[float] = _DEFAULTS["bandwidths"],
        cv: int = _DEFAULTS["cv"],
        rejection: str | float = _DEFAULTS["rejection"],
        cleaning: str = _DEFAULTS["cleaning"],
        candidate_budget: float = _DEFAULTS["candidate_budget"],
        batch_size: int = 4096,
        acceptance_candidates: int = _DEFAULTS["acceptance_candidates"],
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
        p = self.checked_params()
        images, labels = check_training_data(images, labels)
        started = time.perf_counter()
        rng = np.random.default_rng(p["random_state"])
        grid = np.sort(np.asarray(p["bandwidths"], dtype=np.float64))

        # Hold out a fraction of every digit (stratified), then subsample each density's codes.
        heldout, pool = [], []
        counts = np.bincount(labels, minlength=10)
        for digit in range(10):
            members = rng.permutation(np.flatnonzero(labels == digit))
            cut = max(1, round(p["holdout"] * len(members))) if len(members) else 0
            heldout.append(members[:cut])
            pool.append(members[cut:])
        if p["conditional"]:
            missing = [d for d in range(10) if counts[d] == 0]
            if missing:
                raise ValueError(f"labels hold no image of digit(s) {missing}; a conditional model needs all ten digits.")
            densities = [(digit, pool[digit], heldout[digit]) for digit in range(10)]
        else:
            densities = [(-1, rng.permutation(np.concatenate(pool)), np.concatenate(heldout))]
        for digit, members, _ in densities:
            if len(members) < p["cv"]:
                who = f"digit {digit}" if digit >= 0 else "the training set"
                raise ValueError(
                    f"{who} has {len(members)} training image(s) left after holding out holdout == {self.holdout} of them; "
                    f"cv == {self.cv} folds need at least {self.cv}."
                )
        if p["n_components"] > len(images):
            raise ValueError(f"n_components == {self.n_components}, must be <= the number of training images ({len(images)}).")

        # The PCA (unsupervised) sees every training image, held-out ones included, so that held-out
        # and density codes are projected alike; only the densities leave the held-out digits out.
        pixels = images.reshape(len(images), _PIXELS)
        pca = fit_pca(pixels / 255.0, p["n_components"])
        scale = np.sqrt(pca.explained_variance).astype(np.float32) if p["whiten"] else np.ones(p["n_components"], np.float32)
        scale[scale == 0] = 1  # a constant component (tiny data) carries no information either way
        logger.info(
            "PCA %d -> %d components: %.1f%% of the variance (%.1f s)",
            _PIXELS, p["n_components"], 100 * pca.explained_variance_ratio.sum(), time.perf_counter() - started,
        )

        def encode(rows: np.ndarray) -> np.ndarray:
            return ((pixels[rows].astype(np.float32) / np.float32(255) - pca.mean) @ pca.components.T) / scale

        fitted = []
        for digit, members, held in densities:
            kept = members[: p["subsample"]] if p["subsample"] is not None else members
            name = f"digit {digit}" if digit >= 0 else "global density"
            fitted.append(fit_density(encode(kept), encode(held), grid, p["cv"], rng, name))
            logger.info(
                "%s: %d codes, bandwidth %.4g (CV log-likelihood %.3f), %d held-out digits (%.1f s)",
                name, len(kept), fitted[-1][0].bandwidth, fitted[-1][1], len(held), time.perf_counter() - started,
            )
        self.pca_ = pca
        self.scale_ = scale
        self.density_labels_ = np.array([digit for digit, _, _ in densities], dtype=np.int16)
        self.codes_ = [density.codes for density, _, _ in fitted]
        self.bandwidth_ = np.array([density.bandwidth for density, _, _ in fitted], dtype=np.float64)
        self.bandwidth_log_likelihood_ = np.array([likelihood for _, likelihood, _ in fitted], dtype=np.float64)
        self.bandwidth_grid_ = grid
        self.cv_log_likelihood_ = np.array([curve for _, _, curve in fitted], dtype=np.float64)
        self.heldout_log_density_ = [density.heldout for density, _, _ in fitted]
        self.priors_ = counts / counts.sum()
        self.acceptance_ = self._measure_acceptance(rng)
        logger.info("fitted %s in %.1f s", "conditional model" if p["conditional"] else "global model", time.perf_counter() - started)
        return self

    def _measure_acceptance(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Acceptance of each rejection level per density, on ``acceptance_candidates`` fresh candidates each."""
        if self.acceptance_candidates == 0:
            return {}
        levels = {name: p for name, p in REJECTION_LEVELS.items() if p is not None}
        custom = rejection_percentile(self.rejection)
        if custom is not None and custom not in levels.values():
            levels[f"p{custom:g}"] = custom
        rates = {name: np.empty(len(self.codes_)) for name in levels}
        for j in range(len(self.codes_)):
            for name, rate in self.density(j).acceptance(self.acceptance_candidates, levels, rng).items():
                rates[name][j] = rate
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
        self.checked_params()
        Int(0).check(n, "n")
        if digit is not None:
            if not self.conditional:
                raise ValueError(f"digit == {digit!r}, but this model is global (conditional=False): it draws all digits together, so digit must be None.")
            Int(0, 9).check(digit, "digit")
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
        images = np.empty((n, DIGIT_SIZE, DIGIT_SIZE), dtype=np.uint8)
        for start in range(0, n, _DECODE_BLOCK):
            images[start : start + _DECODE_BLOCK] = clean_digits(self._decode(codes[start : start + _DECODE_BLOCK]), self.cleaning)
        return KdeSamples(images, labels, candidates, accepted)

    def density(self, j: int) -> DigitDensity:
        """Density ``j`` (of :attr:`density_labels_`) with its rejection reference."""
        self._check_fitted()
        label = int(self.density_labels_[j])
        return DigitDensity(self.codes_[j], self.bandwidth_[j], self.heldout_log_density_[j], f"digit {label}" if label >= 0 else "all digits")

    def _sample_codes(self, j: int, count: int, rng: np.random.Generator) -> tuple[np.ndarray, int, int]:
        """``count`` codes of density ``j`` that pass the rejection level: codes float32 (count, k), candidates drawn, accepted."""
        return self.density(j).sample(
            count, rejection_percentile(self.rejection), candidate_budget=self.candidate_budget, batch_size=self.batch_size,
            rng=rng, rejection=self.rejection,
        )

    def _decode(self, codes: np.ndarray) -> np.ndarray:
        """Pixels float32 (m, 28, 28) of codes float32 (m, k); not clipped."""
        pixels = (codes * self.scale_) @ self.pca_.components + self.pca_.mean
        return pixels.reshape(len(codes), 28, 28)

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
                level: {name: self.density(j).threshold(p) for j, name in enumerate(names)}
                for level, p in REJECTION_LEVELS.items()
                if p is not None
            },
            "acceptance": {level: dict(zip(names, rates.tolist())) for level, rates in self.acceptance_.items()},
        }

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | os.PathLike) -> None:
        """Write the model folder ``path`` (``model.npz`` + ``model.json``), replaced atomically.

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
        model_folder.write(
            path,
            format=FORMAT,
            format_version=FORMAT_VERSION,
            cls=type(self).__name__,
            params=self.checked_params(),
            fitted=self.summary(),
            versions=model_folder.versions(scipy=scipy.__version__, **{"scikit-image": skimage.__version__}),
            files=lambda folder: write_npz(folder / "model.npz", arrays),
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> KdeDigitGenerator:
        """Read a model folder written by :meth:`save`, checking its format, its parameters and the NPZ's SHA-256."""
        folder = model_folder.read(path, format=FORMAT, format_version=FORMAT_VERSION, cls=cls.__name__, stage="fit_kde",
                                   files=("model.npz",), what="KDE model")
        json_path = os.path.join(path, model_folder.MODEL_JSON)
        model = cls.from_saved_params(folder["params"], json_path, "fit_kde")
        arrays = read_npz(os.path.join(path, "model.npz"), ARRAYS, what="KDE model arrays", remedy="run `dvc repro fit_kde`")
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
        try:
            model.acceptance_ = {
                level: np.array([rates[name] for name in names], dtype=np.float64)
                for level, rates in folder["fitted"]["acceptance"].items()
            }
        except (KeyError, TypeError, AttributeError) as error:
            raise CorruptFileError(json_path, f"its fitted acceptance does not cover the densities {names} ({error!r})",
                                   "run `dvc repro fit_kde`") from None
        return model
