"""Quality of every digit source and correctness of the sequence datasets.

Metrics of a source (a bank of 28x28 digits), all against **real MNIST test
digits** and in the feature space of the evaluation classifier
(:mod:`digitgen.classifier`, penultimate layer):

- label accuracy: how often the classifier agrees with the intended digit;
- Fréchet classifier distance (FCD): the Fréchet distance of Gaussians fitted
  to the features, always next to the real-vs-real baseline (a subset of the
  real training digits of the same size against the test digits), because its
  scale depends on the feature layer;
- KID: the unbiased squared MMD with the cubic polynomial kernel
  ``k(x, y) = (x.y / D + 1) ** 3`` over random subsets, mean and standard deviation;
- precision and recall of Kynkäänniemi et al. (2019): the fraction of samples
  inside the real k-NN manifold, and of real digits inside the samples' manifold;
- memorisation: each sample's pixel-space distance to its nearest training
  digit, compared with the same distance for real test digits, and the
  fraction of samples closer than that baseline's 1st percentile;
- ambiguous digits (labels ``(N, 2)``): the probability mass on the intended
  pair, the smaller of the two probabilities, and the fraction of samples whose
  smaller probability reaches :data:`BALANCED_SMALLER` (the project's target:
  at least :data:`BALANCED_TARGET` of them), overall and per pair.

Checks of a sequence split: the shard contract (keys, dtypes, shapes, padding,
boxes, lengths, manifest), provenance (each digit's box and pixels match the
bank row it names), classification of every digit cropped by its box, and for
the test split that no digit's pixels equal a training digit.

Everything here is numpy/scipy: the classifier is passed in as any object
with ``features_and_proba(images)`` (see :class:`FeatureModel`), so this
module never imports TensorFlow.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from digitgen.compose import ink_extents
from digitgen.constants import DIGIT_SIZE, SOURCE_NAMES
from digitgen.io import atomic_path
from digitgen.io import write_json as _write_sorted_json
from digitgen.params.evaluate_banks import EvaluateBanksParams
from digitgen.params.evaluate_sequences import EvaluateSequencesParams
from digitgen.shards import MANIFEST_COLUMNS

logger = logging.getLogger(__name__)

#: Rows of a distance matrix computed at once (memory ~ rows x N x 4 bytes).
_CHUNK = 1024
#: Contract violations kept as messages per split (all of them are counted).
MAX_MESSAGES = 20
#: Where MNIST puts a digit's centre of mass in its 28x28 cell (row, column), measured on the training split.
MNIST_CENTRE = (14.0, 14.0)
#: Bins of the memorisation histograms.
HISTOGRAM_BINS = 40
#: An ambiguous digit is *balanced* when the smaller of its two intended probabilities is at least this (inclusive).
BALANCED_SMALLER = 0.25
#: The project's target for the fraction of balanced ambiguous digits (at least half of them).
BALANCED_TARGET = 0.5
#: Columns of ``ambiguous/<source>.csv`` written by :func:`write_plots` (one row per pair, see :func:`pair_scores`).
PAIR_COLUMNS = ("pair", "count", "mass", "smaller", "balanced")


class FeatureModel(Protocol):
    """What the evaluation needs from a classifier."""

    def features_and_proba(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 (N, 28, 28) -> features float32 (N, D), probabilities float32 (N, 10)."""


# --------------------------------------------------------------------------- metrics on features


def _check_features(a: np.ndarray, b: np.ndarray, minimum: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"{what}: features must be two 2-D arrays (N, D) with the same D, got {a.shape} and {b.shape}.")
    if min(len(a), len(b)) < minimum:
        raise ValueError(f"{what}: needs at least {minimum} rows in each set, got {len(a)} and {len(b)}.")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError(f"{what}: features hold NaN or infinite values.")
    return a, b


def frechet_distance_from_moments(mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray) -> float:
    """Fréchet distance between the Gaussians N(mu_a, cov_a) and N(mu_b, cov_b).

    ``|mu_a - mu_b|^2 + tr(cov_a + cov_b - 2 (cov_a^1/2 cov_b cov_a^1/2)^1/2)``, with
    symmetric eigendecompositions (no complex square roots, no ``sqrtm`` warnings).

    Parameters
    ----------
    mu_a, mu_b : float (D,) means.
    cov_a, cov_b : float (D, D) symmetric positive semi-definite covariances.

    Returns
    -------
    float >= 0 (tiny negative round-off is clipped to 0).
    """
    mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
    cov_a, cov_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
    d = mu_a.shape[0]
    if mu_a.shape != (d,) or mu_b.shape != (d,) or cov_a.shape != (d, d) or cov_b.shape != (d, d):
        raise ValueError(
            f"moments must be means (D,) and covariances (D, D) of one D, got {mu_a.shape}, {cov_a.shape}, {mu_b.shape}, {cov_b.shape}."
        )
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    middle = root_a @ cov_b @ root_a
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2.0), 0.0, None)).sum()
    diff = mu_a - mu_b
    return max(float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_root), 0.0)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance of Gaussians fitted to two feature sets (float (N, D) and (M, D), N, M >= 2)."""
    a, b = _check_features(a, b, 2, "frechet_distance")
    a, b = a.astype(np.float64), b.astype(np.float64)
    return frechet_distance_from_moments(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def kernel_distance(
    a: np.ndarray, b: np.ndarray, *, subsets: int = 100, subset_size: int = 1000, rng: np.random.Generator
) -> tuple[float, float]:
    """KID: unbiased squared MMD with the kernel ``(x.y / D + 1) ** 3``, averaged over random subsets.

    Parameters
    ----------
    a, b : float (N, D) and (M, D) features.
    subsets : number of subset pairs drawn.
    subset_size : rows per subset, capped at ``min(N, M)`` (at least 2).
    rng : draws the subsets (without replacement within a subset).

    Returns
    -------
    (mean, standard deviation) over the subsets; the mean is unbiased, so it
    scatters around 0 (and can be negative) for identical distributions.
    """
    a, b = _check_features(a, b, 2, "kernel_distance")
    if subsets < 1 or subset_size < 2:
        raise ValueError(f"kernel_distance: subsets == {subsets} must be >= 1 and subset_size == {subset_size} >= 2.")
    m = min(subset_size, len(a), len(b))
    scale = np.float32(1.0 / a.shape[1])
    values = np.empty(subsets)
    for s in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)].astype(np.float32)
        y = b[rng.choice(len(b), m, replace=False)].astype(np.float32)
        kxx, kyy, kxy = (_cubic_kernel(u, v, scale) for u, v in ((x, x), (y, y), (x, y)))
        within = (kxx.sum(dtype=np.float64) - np.trace(kxx, dtype=np.float64) + kyy.sum(dtype=np.float64) - np.trace(kyy, dtype=np.float64)) / (m * (m - 1))
        values[s] = within - 2.0 * kxy.mean(dtype=np.float64)
    return float(values.mean()), float(values.std())


def _cubic_kernel(x: np.ndarray, y: np.ndarray, scale: np.float32) -> np.ndarray:
    """float32 (len(x), len(y)) polynomial kernel ``(x.y * scale + 1) ** 3``, computed in place."""
    k = x @ y.T
    k *= scale
    k += 1.0
    cube = k * k
    cube *= k
    return cube


def _squared_distances(x: np.ndarray, x_norms: np.ndarray, y: np.ndarray, y_norms: np.ndarray) -> np.ndarray:
    """float32 (len(x), len(y)) squared Euclidean distances, clipped at 0."""
    d2 = x_norms[:, None] + y_norms[None, :] - 2.0 * (x @ y.T)
    return np.maximum(d2, 0.0, out=d2)


def knn_radii(features: np.ndarray, k: int = 3) -> np.ndarray:
    """Distance from each row to its k-th nearest other row.

    Parameters
    ----------
    features : float (N, D), N > k.
    k : neighbour rank (1 = nearest other point).

    Returns
    -------
    float32 (N,)
    """
    x = np.asarray(features, np.float32)
    if x.ndim != 2 or len(x) <= k or k < 1:
        raise ValueError(f"knn_radii: needs features (N, D) with N > k >= 1, got shape {x.shape} and k == {k}.")
    norms = (x * x).sum(1)
    radii = np.empty(len(x), np.float32)
    for start in range(0, len(x), _CHUNK):
        d2 = _squared_distances(x[start : start + _CHUNK], norms[start : start + _CHUNK], x, norms)
        radii[start : start + _CHUNK] = np.partition(d2, k, axis=1)[:, k]  # column 0 is the point itself
    return np.sqrt(radii)


def precision_recall(
    real: np.ndarray, fake: np.ndarray, k: int = 3, *, real_radii: np.ndarray | None = None
) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019).

    Each set's manifold is the union of balls around its points with radius the
    distance to the point's k-th nearest neighbour in the same set.

    Parameters
    ----------
    real, fake : float (N, D) and (M, D) features, N, M > k.
    k : neighbour rank of the radii (3 in the paper).
    real_radii : float (N,) ``knn_radii(real, k)`` when already computed.

    Returns
    -------
    precision : fraction of ``fake`` rows inside the real manifold.
    recall : fraction of ``real`` rows inside the fake manifold.
    """
    real, fake = _check_features(real, fake, k + 1, "precision_recall")
    real, fake = real.astype(np.float32), fake.astype(np.float32)
    real_r = knn_radii(real, k) if real_radii is None else np.asarray(real_radii, np.float32)
    if real_r.shape != (len(real),):
        raise ValueError(f"precision_recall: real_radii has shape {real_r.shape}, expected ({len(real)},).")
    fake_r = knn_radii(fake, k)
    real_r2, fake_r2 = real_r.astype(np.float64) ** 2, fake_r.astype(np.float64) ** 2
    real_norms, fake_norms = (real * real).sum(1), (fake * fake).sum(1)
    inside_real = np.zeros(len(fake), bool)
    inside_fake = np.zeros(len(real), bool)
    for start in range(0, len(fake), _CHUNK):
        d2 = _squared_distances(fake[start : start + _CHUNK], fake_norms[start : start + _CHUNK], real, real_norms)
        inside_real[start : start + _CHUNK] = (d2 <= real_r2[None, :]).any(axis=1)
        inside_fake |= (d2 <= fake_r2[start : start + _CHUNK, None]).any(axis=0)
    return float(inside_real.mean()), float(inside_fake.mean())


# --------------------------------------------------------------------------- metrics on pixels and labels


class PixelIndex:
    """Exact nearest neighbours in pixel space (intensities scaled to [0, 1]).

    Parameters
    ----------
    images : uint8 (N, 28, 28) reference digits (the training split).
    """

    def __init__(self, images: np.ndarray) -> None:
        images = _check_images(images, "reference images")
        self._flat = images.reshape(len(images), -1).astype(np.float32) / np.float32(255)
        self._norms = (self._flat * self._flat).sum(1)

    def nearest(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest reference digit of each query.

        Parameters
        ----------
        queries : uint8 (M, 28, 28)

        Returns
        -------
        distances : float64 (M,) Euclidean distance in [0, 1] pixel units, recomputed
            exactly in float64 for the neighbour found (0 for a pixel-identical copy).
        index : int64 (M,) row of the nearest reference digit.
        """
        queries = _check_images(queries, "query images")
        flat = queries.reshape(len(queries), -1).astype(np.float32) / np.float32(255)
        index = np.empty(len(flat), np.int64)
        for start in range(0, len(flat), _CHUNK // 2):
            block = flat[start : start + _CHUNK // 2]
            index[start : start + len(block)] = _squared_distances(block, (block * block).sum(1), self._flat, self._norms).argmin(1)
        exact = queries.reshape(len(queries), -1).astype(np.float64) - (self._flat[index].astype(np.float64) * 255).round()
        return np.sqrt((exact * exact).sum(1)) / 255.0, index


def memorisation_summary(distances: np.ndarray, baseline: np.ndarray) -> dict:
    """Summary of nearest-training-digit distances of samples against those of real test digits.

    Parameters
    ----------
    distances : float (M,) for the samples; baseline : float (B,) for real test digits.

    Returns
    -------
    dict: ``samples``, ``mean``, ``median``, ``p1``, ``p5`` of ``distances``;
    ``baseline_median``, ``baseline_p1``; ``below_baseline_p1`` (fraction of
    samples closer than the baseline's 1st percentile, about 0.01 for real
    digits, higher for copies of training digits); ``exact_copies`` (fraction at distance 0).
    """
    distances, baseline = np.asarray(distances, np.float64), np.asarray(baseline, np.float64)
    if distances.ndim != 1 or baseline.ndim != 1 or not len(distances) or not len(baseline):
        raise ValueError(f"memorisation_summary: needs two non-empty 1-D arrays, got {distances.shape} and {baseline.shape}.")
    threshold = float(np.quantile(baseline, 0.01))
    return {
        "samples": int(len(distances)),
        "mean": float(distances.mean()),
        "median": float(np.median(distances)),
        "p1": float(np.quantile(distances, 0.01)),
        "p5": float(np.quantile(distances, 0.05)),
        "baseline_median": float(np.median(baseline)),
        "baseline_p1": threshold,
        "below_baseline_p1": float(np.mean(distances < threshold)),
        "exact_copies": float(np.mean(distances == 0)),
    }


def memorisation_histogram(distances: np.ndarray, baseline: np.ndarray, bins: int = HISTOGRAM_BINS) -> list[dict]:
    """Fractions of ``distances`` and ``baseline`` in shared bins: rows of ``distance`` (bin centre), ``samples``, ``real_test``."""
    top = float(max(np.max(distances), np.max(baseline), 1e-9))
    edges = np.linspace(0.0, top, bins + 1)
    ours = np.histogram(distances, edges)[0] / len(distances)
    theirs = np.histogram(baseline, edges)[0] / len(baseline)
    centres = (edges[:-1] + edges[1:]) / 2
    return [{"distance": c, "samples": o, "real_test": t} for c, o, t in zip(centres, ours, theirs)]


def label_accuracy(labels: np.ndarray, predicted: np.ndarray) -> dict:
    """Agreement of the classifier's digit with the intended one.

    Parameters
    ----------
    labels : int (N,) intended digits, or (N, 2) intended pairs (a prediction of either counts).
    predicted : int (N,) the classifier's digits.

    Returns
    -------
    dict: ``overall`` and, for single labels, ``per_digit`` (digit string -> accuracy, digits present only).
    """
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    if labels.shape[:1] != predicted.shape or labels.ndim not in (1, 2) or not len(labels):
        raise ValueError(f"label_accuracy: labels (N,) or (N, 2) and predicted (N,) with N > 0, got {labels.shape} and {predicted.shape}.")
    if labels.ndim == 2:
        return {"overall": float(np.mean((predicted == labels[:, 0]) | (predicted == labels[:, 1])))}
    agree = predicted == labels
    return {
        "overall": float(agree.mean()),
        "per_digit": {str(d): float(agree[labels == d].mean()) for d in range(10) if np.any(labels == d)},
    }


def pair_scores(proba: np.ndarray, pairs: np.ndarray) -> dict:
    """Probability mass on each ambiguous digit's intended pair.

    Parameters
    ----------
    proba : float (N, 10) class probabilities (rows summing to 1).
    pairs : int (N, 2) the two intended digits ``a, b`` of each image (in either order).

    Returns
    -------
    dict of Python floats:

    - ``mass``: mean over the N images of p[a] + p[b] (p[a] alone when a == b), in [0, 1];
    - ``smaller``: mean of min(p[a], p[b]), in [0, 0.5];
    - ``balanced``: fraction of the images with min(p[a], p[b]) >= :data:`BALANCED_SMALLER`
      (0.25, inclusive), in [0, 1]; the project's target is >= :data:`BALANCED_TARGET`;
    - ``pairs``: ``"a-b"`` (a <= b, pairs present only, sorted) -> dict of ``count`` (int,
      images of that pair) and ``mass``, ``smaller``, ``balanced`` over those images.
    """
    proba, pairs = np.asarray(proba, np.float64), np.asarray(pairs)
    if proba.ndim != 2 or proba.shape[1] != 10 or pairs.shape != (len(proba), 2) or not len(proba):
        raise ValueError(f"pair_scores: needs proba (N, 10) and pairs (N, 2) with N > 0, got {proba.shape} and {pairs.shape}.")
    if pairs.min() < 0 or pairs.max() > 9:
        raise ValueError(f"pair_scores: pairs must be digits 0-9, found {pairs.min()}..{pairs.max()}.")
    rows = np.arange(len(proba))
    first, second = proba[rows, pairs[:, 0]], proba[rows, pairs[:, 1]]
    same = pairs[:, 0] == pairs[:, 1]
    mass = np.where(same, first, first + second)
    smaller = np.minimum(first, second)
    balanced = smaller >= BALANCED_SMALLER
    low, high = pairs.min(axis=1), pairs.max(axis=1)
    per_pair = {}
    for a, b in sorted(set(zip(low.tolist(), high.tolist()))):
        members = (low == a) & (high == b)
        per_pair[f"{a}-{b}"] = {
            "count": int(members.sum()),
            "mass": float(mass[members].mean()),
            "smaller": float(smaller[members].mean()),
            "balanced": float(balanced[members].mean()),
        }
    return {"mass": float(mass.mean()), "smaller": float(smaller.mean()), "balanced": float(balanced.mean()), "pairs": per_pair}


# --------------------------------------------------------------------------- sources


def _check_images(images: np.ndarray, name: str) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (DIGIT_SIZE, DIGIT_SIZE):
        raise ValueError(f"{name} must be uint8 (N, 28, 28), got {images.dtype} {images.shape}.")
    return images


@dataclass(frozen=True)
class SourceDigits:
    """The digits of one source as the evaluation reads them.

    Attributes
    ----------
    name : source name (``real``, ``augmented``, ``kde``, ``cvae``, ``ambiguous``).
    images : uint8 (N, 28, 28).
    labels : int (N,) digits, or (N, 2) intended pairs of ambiguous digits.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        _check_images(self.images, f"source {self.name!r}: images")
        labels = np.asarray(self.labels)
        if not np.issubdtype(labels.dtype, np.integer) or labels.shape not in ((len(self.images),), (len(self.images), 2)):
            raise ValueError(
                f"source {self.name!r}: labels must be integers of shape ({len(self.images)},) or ({len(self.images)}, 2), "
                f"got {labels.dtype} {labels.shape}."
            )
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise ValueError(f"source {self.name!r}: labels must be digits 0-9, found {labels.min()}..{labels.max()}.")


def load_source(path: str | os.PathLike, name: str) -> SourceDigits:
    """Read a bank NPZ for evaluation: ``images`` uint8 (N, 28, 28), ``labels`` int16 (N,) or (N, 2)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"bank file {str(path)!r} for source {name!r} (evaluate.banks) does not exist; run the stage that builds it "
            f"(`dvc repro`) or remove {name!r} from evaluate.banks."
        )
    with np.load(path, allow_pickle=False) as archive:
        missing = [key for key in ("images", "labels") if key not in archive.files]
        if missing:
            raise ValueError(f"{path}: missing array(s) {missing}; found {sorted(archive.files)}.")
        images, labels = archive["images"], archive["labels"]
    if labels.dtype != np.int16:
        raise ValueError(f"{path}: labels must be int16, found {labels.dtype}.")
    try:
        return SourceDigits(name, images, labels)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


@dataclass
class SourceResult:
    """The evaluation of one source.

    Attributes
    ----------
    name : source name.
    metrics : JSON-ready numbers (see :func:`evaluate_sources`).
    labels : int (n,) or (n, 2) intended labels of the scored digits.
    predicted : int64 (n,) the classifier's digits for them.
    examples : uint8 mosaic, one row of examples per digit (the first of the pair for ambiguous digits).
    histogram : memorisation histogram rows (see :func:`memorisation_histogram`).
    pairs : for ambiguous digits, ``"a-b"`` -> ``count``, ``mass``, ``smaller``, ``balanced`` (see
        :func:`pair_scores`; kept out of ``metrics`` so experiment tables stay narrow).
    """

    name: str
    metrics: dict
    labels: np.ndarray
    predicted: np.ndarray
    examples: np.ndarray
    histogram: list[dict] = field(default_factory=list)
    pairs: dict = field(default_factory=dict)


def example_rows(images: np.ndarray, labels: np.ndarray, per_digit: int) -> np.ndarray:
    """The first ``per_digit`` images of each digit 0-9 as one uint8 (10 * per_digit, 28, 28) stack, blank where missing."""
    from digitgen.pictures import mosaic

    keys = labels if labels.ndim == 1 else labels[:, 0]
    grid = np.zeros((10, per_digit, DIGIT_SIZE, DIGIT_SIZE), np.uint8)
    for digit in range(10):
        rows = np.flatnonzero(keys == digit)[:per_digit]
        grid[digit, : len(rows)] = images[rows]
    return mosaic(grid.reshape(-1, DIGIT_SIZE, DIGIT_SIZE), per_digit)


class RealReference:
    """Everything the sources are compared with, computed once.

    Parameters
    ----------
    classifier : a :class:`FeatureModel`.
    train_images : uint8 (N, 28, 28) real training digits; test_images, test_labels : the real test split.
    params : the ``evaluate`` section.

    Attributes
    ----------
    test_features, test_proba : float32 (M, D), (M, 10) of all real test digits.
    test_radii : float32 (M,) k-NN radii of the test features.
    train_sample : uint8 (n, 28, 28) a seeded random subset of the training digits (n = min(samples, N)).
    train_features : float32 (n, D) their features (the real-vs-real baseline).
    pixels : :class:`PixelIndex` of all training digits.
    baseline_distances : float64 (m,) nearest-training-digit distances of a seeded subset of real test digits.
    """

    def __init__(self, classifier: FeatureModel, train_images: np.ndarray, test_images: np.ndarray, test_labels: np.ndarray, params: EvaluateBanksParams) -> None:
        self.params = params
        self.train_images = _check_images(train_images, "real training images")
        self.test_images = _check_images(test_images, "real test images")
        self.test_labels = np.asarray(test_labels).astype(np.int64)
        rng = np.random.default_rng([params.seed, SOURCE_NAMES.index("real")])
        self.test_features, self.test_proba = classifier.features_and_proba(self.test_images)
        self.test_radii = knn_radii(self.test_features, params.nearest_k)
        rows = np.sort(rng.permutation(len(train_images))[: min(params.samples, len(train_images))])
        self.train_sample = self.train_images[rows]
        self.train_features = classifier.features_and_proba(self.train_sample)[0]
        self.pixels = PixelIndex(self.train_images)
        probe = rng.permutation(len(test_images))[: params.memorisation_samples]
        self.baseline_distances = self.pixels.nearest(self.test_images[probe])[0]

    def fcd_baseline(self, size: int) -> float:
        """FCD of ``size`` real training digits against all real test digits."""
        return frechet_distance(self.train_features[:size], self.test_features)


def _feature_scores(features: np.ndarray, reference: RealReference, rng: np.random.Generator) -> dict:
    params = reference.params
    kid_mean, kid_std = kernel_distance(
        features, reference.test_features, subsets=params.kid_subsets, subset_size=params.kid_subset_size, rng=rng
    )
    precision, recall = precision_recall(reference.test_features, features, params.nearest_k, real_radii=reference.test_radii)
    return {
        "fcd": frechet_distance(features, reference.test_features),
        "fcd_baseline": reference.fcd_baseline(len(features)),
        "kid": kid_mean,
        "kid_std": kid_std,
        "precision": precision,
        "recall": recall,
    }


def evaluate_real(reference: RealReference) -> SourceResult:
    """The reference row: real training digits scored like a source (the real-vs-real baseline).

    Label accuracy is the classifier's accuracy on the real test digits;
    FCD, KID and precision/recall compare the training subset with the test
    digits; memorisation compares real test digits with themselves (so
    ``below_baseline_p1`` is about 0.01 by construction).
    """
    params = reference.params
    predicted = reference.test_proba.argmax(1)
    metrics = {"samples": len(reference.train_features), "label_accuracy": label_accuracy(reference.test_labels, predicted)}
    rng = np.random.default_rng([params.seed, SOURCE_NAMES.index("real"), 1])
    metrics.update(_feature_scores(reference.train_features, reference, rng))
    metrics["memorisation"] = memorisation_summary(reference.baseline_distances, reference.baseline_distances)
    return SourceResult(
        "real", metrics, reference.test_labels, predicted,
        example_rows(reference.test_images, reference.test_labels, params.mosaic_per_digit),
        memorisation_histogram(reference.baseline_distances, reference.baseline_distances),
    )


def evaluate_source(source: SourceDigits, classifier: FeatureModel, reference: RealReference) -> SourceResult:
    """Score a generated source against the real reference.

    A seeded random subset of ``evaluate.samples`` digits (all if fewer) is
    classified and embedded; the first ``evaluate.memorisation_samples`` of it
    are searched against the training digits.

    Returns
    -------
    SourceResult whose ``metrics`` hold ``samples``, ``label_accuracy``
    (``overall``, ``per_digit``), ``fcd``, ``fcd_baseline``, ``kid``,
    ``kid_std``, ``precision``, ``recall``, ``memorisation`` and, for pairs, ``ambiguous``
    (mean ``mass`` and ``smaller``, fraction ``balanced``; per pair in ``SourceResult.pairs``).
    """
    params = reference.params
    if source.name not in SOURCE_NAMES:
        raise ValueError(f"source == {source.name!r}, must be one of {list(SOURCE_NAMES)}.")
    number = SOURCE_NAMES.index(source.name)
    rng = np.random.default_rng([params.seed, number])
    rows = np.sort(rng.permutation(len(source.images))[: params.samples])
    if len(rows) <= params.nearest_k:
        raise ValueError(f"source {source.name!r} holds {len(source.images)} digits; evaluation needs more than evaluate.nearest_k == {params.nearest_k}.")
    if len(rows) < params.samples:
        logger.warning("source %s holds %d digits, fewer than evaluate.samples == %d: scoring all of them", source.name, len(rows), params.samples)
    images, labels = source.images[rows], np.asarray(source.labels)[rows].astype(np.int64)
    features, proba = classifier.features_and_proba(images)
    predicted = proba.argmax(1)
    metrics = {"samples": len(rows), "label_accuracy": label_accuracy(labels, predicted)}
    metrics.update(_feature_scores(features, reference, np.random.default_rng([params.seed, number, 1])))
    probe = rng.permutation(len(rows))[: params.memorisation_samples]
    distances = reference.pixels.nearest(images[probe])[0]
    metrics["memorisation"] = memorisation_summary(distances, reference.baseline_distances)
    pairs = {}
    if labels.ndim == 2:
        scores = pair_scores(proba, labels)
        pairs = scores.pop("pairs")
        metrics["ambiguous"] = scores
    return SourceResult(
        source.name, metrics, labels, predicted,
        example_rows(images, labels, params.mosaic_per_digit),
        memorisation_histogram(distances, reference.baseline_distances),
        pairs,
    )


# --------------------------------------------------------------------------- sequence datasets


def canonical_crops(images: np.ndarray, rows: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Each box's pixels moved to the top-left corner of a blank 28x28 cell.

    Parameters
    ----------
    images : uint8 (B, 28, W) sequence images.
    rows : int (K,) image of each box.
    boxes : int (K, 4) ``x0, y0, x1, y1`` (exclusive ends), at most 28 x 28.

    Returns
    -------
    uint8 (K, 28, 28). Two digits with the same ink crop give the same array,
    whatever their position (the key of the leakage check).
    """
    boxes = np.asarray(boxes, np.int64)
    r = np.arange(DIGIT_SIZE)
    src_rows = boxes[:, 1, None, None] + r[None, :, None]
    src_cols = boxes[:, 0, None, None] + r[None, None, :]
    inside = (src_rows < boxes[:, 3, None, None]) & (src_cols < boxes[:, 2, None, None])
    height, width = images.shape[1:]
    picked = images[np.asarray(rows)[:, None, None], np.minimum(src_rows, height - 1), np.minimum(src_cols, width - 1)]
    return np.where(inside, picked, 0).astype(np.uint8)


def centre_crops(crops: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Place each top-left crop (see :func:`canonical_crops`) with its centre of mass where MNIST puts it.

    The crop is not rescaled (sequence digits are MNIST-sized already); the
    shift is clipped so the whole box stays inside the 28x28 cell.

    Parameters
    ----------
    crops : uint8 (K, 28, 28); boxes : int (K, 4) their boxes (for the crop sizes).

    Returns
    -------
    uint8 (K, 28, 28) digits as the classifier expects them.
    """
    boxes = np.asarray(boxes, np.int64)
    heights, widths = boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]
    weights = crops.astype(np.float64)
    total = np.maximum(weights.sum((1, 2)), 1e-12)
    r = np.arange(DIGIT_SIZE)
    com_row = (weights.sum(2) * r).sum(1) / total
    com_col = (weights.sum(1) * r).sum(1) / total
    dy = np.clip(np.round(MNIST_CENTRE[0] - com_row).astype(np.int64), 0, DIGIT_SIZE - heights)
    dx = np.clip(np.round(MNIST_CENTRE[1] - com_col).astype(np.int64), 0, DIGIT_SIZE - widths)
    src_rows = r[None, :, None] - dy[:, None, None]
    src_cols = r[None, None, :] - dx[:, None, None]
    inside = (src_rows >= 0) & (src_cols >= 0)
    picked = crops[np.arange(len(crops))[:, None, None], np.maximum(src_rows, 0), np.maximum(src_cols, 0)]
    return np.where(inside, picked, 0).astype(np.uint8)


class CropHashes:
    """Set membership of digit ink crops, by a 64-bit hash confirmed byte for byte.

    Parameters
    ----------
    crops : uint8 (N, 28, 28) canonical crops (see :func:`canonical_crops`) of the reference digits.
    """

    _MULTIPLIERS = np.random.default_rng(2934).integers(1, 2**63, DIGIT_SIZE * DIGIT_SIZE // 8, dtype=np.uint64) | np.uint64(1)

    def __init__(self, crops: np.ndarray) -> None:
        self._crops = np.ascontiguousarray(crops)
        hashes = self.hash(self._crops)
        self._order = np.argsort(hashes, kind="stable")
        self._sorted = hashes[self._order]

    @classmethod
    def hash(cls, crops: np.ndarray) -> np.ndarray:
        """uint64 (K,) hashes of uint8 (K, 28, 28) crops."""
        words = np.ascontiguousarray(crops).reshape(len(crops), -1).view(np.uint64)
        return (words * cls._MULTIPLIERS).sum(axis=1, dtype=np.uint64)

    def find(self, crops: np.ndarray) -> np.ndarray:
        """int64 (K,): the reference row equal to each crop, -1 where none is."""
        hashes = self.hash(crops)
        position = np.minimum(np.searchsorted(self._sorted, hashes), max(len(self._sorted) - 1, 0))
        found = np.full(len(crops), -1, np.int64)
        if not len(self._sorted):
            return found
        candidates = np.flatnonzero(self._sorted[position] == hashes)
        for i in candidates:  # equal hashes: confirm the bytes (a run of equal hashes is searched in full)
            start = position[i]
            while start < len(self._sorted) and self._sorted[start] == hashes[i]:
                row = self._order[start]
                if np.array_equal(self._crops[row], crops[i]):
                    found[i] = row
                    break
                start += 1
        return found


def digit_crops_of(images: np.ndarray) -> np.ndarray:
    """Canonical crops (see :func:`canonical_crops`) of uint8 (N, 28, 28) digits by their own ink boxes."""
    extents = ink_extents(images).astype(np.int64)  # left, top, right, bottom
    return canonical_crops(images, np.arange(len(images)), extents)


_KEYS = {
    "images": (np.uint8, 3),
    "labels": (np.int16, 2),
    "lengths": (np.int16, 1),
    "boxes": (np.int16, 3),
    "sources": (np.int8, 2),
    "source_index": (np.int32, 2),
    "source_names": (None, 1),
}


@dataclass
class SplitResult:
    """What :func:`check_split` found.

    Attributes
    ----------
    split : ``train`` or ``test``.
    metrics : JSON-ready counts and accuracies (see :func:`check_split`).
    messages : the first :data:`MAX_MESSAGES` contract violations and leaks, as text.
    labels, predicted : int64 (K,) intended and classified digits of the checked digits.
    preview : the first sequences, for pictures: ``images`` uint8 (P, 28, W), ``boxes``
        int16 (P, L, 4), ``labels`` int16 (P, L), ``predicted`` int64 (P, L) (-1 where padded).
    """

    split: str
    metrics: dict
    messages: list[str]
    labels: np.ndarray
    predicted: np.ndarray
    preview: dict[str, np.ndarray]


class _Problems:
    """Counts contract violations and keeps the first :data:`MAX_MESSAGES` messages."""

    def __init__(self) -> None:
        self.count = 0
        self.messages: list[str] = []

    def add(self, message: str, count: int = 1) -> None:
        self.count += count
        if len(self.messages) < MAX_MESSAGES:
            self.messages.append(message if count == 1 else f"{message} ({count} cases)")

    def check(self, bad: np.ndarray, what: str, shard: str, seq: np.ndarray | None = None, slot: np.ndarray | None = None) -> None:
        """Record ``what`` if any element of the boolean array ``bad`` is set.

        ``bad`` is indexed by sequence row first, or, with ``seq`` and
        ``slot``, by digit (``seq[i]``, ``slot[i]``); the message names the first case.
        """
        count = int(np.count_nonzero(bad))
        if not count:
            return
        first = int(np.flatnonzero(bad.reshape(len(bad), -1).any(axis=1))[0])
        where = f"row {first}" if seq is None else f"row {seq[first]} digit {slot[first]}"
        self.add(f"{shard}: {where}: {what}", count)


def split_source_names(split_dir: str | os.PathLike) -> list[str]:
    """Digit sources named by any shard of a split (reads only ``source_names``)."""
    names: set[str] = set()
    for path in sorted(Path(split_dir).glob("shard-*.npz")):
        with np.load(path, allow_pickle=False) as shard:
            if "source_names" in shard.files:
                names.update(str(n) for n in shard["source_names"])
    return sorted(names, key=lambda n: (SOURCE_NAMES.index(n) if n in SOURCE_NAMES else len(SOURCE_NAMES), n))


def check_split(
    split_dir: str | os.PathLike,
    split: str,
    pools: Mapping[str, SourceDigits],
    classifier: FeatureModel,
    params: EvaluateSequencesParams,
    *,
    training: CropHashes | None = None,
    duplicates: np.ndarray | None = None,
) -> SplitResult:
    """Check one split of a sequence dataset against its contract and classify its digits.

    Parameters
    ----------
    split_dir : ``outputs/sequences/<split>`` (shards, ``manifest.csv``, ``info.json``).
    split : ``train`` or ``test``.
    pools : source name -> the digits its ``source_index`` points into (for ``real``,
        the MNIST split of the same name).
    classifier : scores the digits cropped by their boxes (first ``evaluate.sequences_checked`` sequences).
    params : the ``evaluate`` section.
    training : crop hashes of every training-split digit; given for the test split, whose
        digits must not equal any of them.
    duplicates : bool (len(pools['real'].images),): real test digits whose crop equals a
        training digit's in MNIST itself; their copies are counted as ``mnist_duplicates``, not leaks.

    Returns
    -------
    SplitResult. ``metrics``: ``sequences``, ``shards``, ``digits``,
    ``contract_errors`` (violations of the shard contract, provenance or
    manifest), ``checked_sequences``, ``checked_digits``, ``digit_accuracy``,
    ``sequence_accuracy``, ``overlapping_digits`` (boxes that intersect a
    neighbour's, whose crops can hold foreign ink), ``clean_digit_accuracy``,
    ``overlapping_digit_accuracy`` (when there are any), ``accuracy_per_source``,
    and for the test split ``leaks`` and ``mnist_duplicates``.
    """
    split_dir = Path(split_dir)
    if not split_dir.is_dir():
        raise FileNotFoundError(f"sequence split folder {str(split_dir)!r} does not exist; run `dvc repro sequences`.")
    shard_paths = sorted(split_dir.glob("shard-*.npz"))
    if not shard_paths:
        raise FileNotFoundError(f"{split_dir} holds no shard-*.npz files.")
    problems = _Problems()
    info = _read_info(split_dir / "info.json", problems)
    expected_width = (info.get("image_shape") or [None, None])[1]
    expected_length = info.get("max_length")

    crops_to_classify, crop_meta = [], []
    leak_count = duplicate_count = total = digits = 0
    leaks: list[str] = []
    manifest_expected: list[tuple] = []
    preview: dict[str, list] = {"images": [], "boxes": [], "labels": []}
    for number, path in enumerate(shard_paths):
        if path.name != f"shard-{number:05d}.npz":
            problems.add(f"{path.name}: shards must be numbered shard-00000.npz, shard-00001.npz, ... without gaps (expected shard-{number:05d}.npz)")
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files if key in _KEYS}
        shard = _check_shard_arrays(path.name, arrays, split, expected_width, expected_length, problems)
        if shard is None:
            continue
        expected_width = expected_width or shard.width
        expected_length = expected_length or shard.max_length
        n = len(shard.lengths)
        _check_provenance(path.name, arrays, shard, pools, problems)
        names = arrays["source_names"]
        for row in range(n):
            length = int(shard.lengths[row])
            manifest_expected.append((
                total + row, path.name, row, "".join(str(int(d)) for d in arrays["labels"][row, :length]),
                length, "|".join(str(names[s]) for s in arrays["sources"][row, :length] if 0 <= s < len(names)),
            ))
        seq, slot = np.nonzero(shard.active)
        take = (total + seq) < params.sequences_checked
        if training is None:  # crop only the digits to classify
            seq, slot, take = seq[take], slot[take], take[take]
        boxes = arrays["boxes"][seq, slot].astype(np.int64)
        crops = canonical_crops(arrays["images"], seq, boxes)
        if training is not None:
            found = training.find(crops)
            claimed = arrays["source_index"][seq, slot]
            dup = np.zeros(len(seq), bool) if duplicates is None else duplicates[np.clip(claimed, 0, len(duplicates) - 1)]
            leaked = (found >= 0) & ~dup
            duplicate_count += int(np.count_nonzero((found >= 0) & dup))
            leak_count += int(leaked.sum())
            leaks.extend(
                f"{path.name}: row {seq[i]} digit {slot[i]}: leak: its pixels equal training digit {found[i]}"
                for i in np.flatnonzero(leaked)[: MAX_MESSAGES - len(leaks)]
            )
        if take.any():
            overlapping = _overlaps_neighbour(arrays["boxes"], shard.active)[seq, slot]
            crops_to_classify.append(centre_crops(crops[take], boxes[take]))
            source_names = np.array([str(names[s]) if 0 <= s < len(names) else "?" for s in arrays["sources"][seq[take], slot[take]]])
            crop_meta.append((total + seq[take], slot[take], arrays["labels"][seq[take], slot[take]].astype(np.int64), source_names, overlapping[take]))
        wanted = max(0, min(n, params.sequence_previews - total))
        if wanted:
            for key in preview:
                preview[key].append(arrays[key][:wanted])
        total += n
        digits += int(shard.active.sum())

    _check_manifest(split_dir / "manifest.csv", manifest_expected, problems)
    if info and info.get("count") is not None and info.get("count") != total:
        problems.add(f"info.json: count == {info.get('count')}, but the shards hold {total} sequences")
    if info and info.get("shards") is not None and info.get("shards") != len(shard_paths):
        problems.add(f"info.json: shards == {info.get('shards')}, but the folder holds {len(shard_paths)} shard files")

    metrics = {"sequences": total, "shards": len(shard_paths), "digits": digits, "contract_errors": problems.count}
    labels = predicted = np.zeros(0, np.int64)
    preview_arrays = {key: np.concatenate(value) if value else np.zeros((0,), np.int16) for key, value in preview.items()}
    if crops_to_classify:
        crops = np.concatenate(crops_to_classify)
        seq_ids, slots, labels, sources, overlapping = (np.concatenate(parts) for parts in zip(*crop_meta))
        predicted = classifier.features_and_proba(crops)[1].argmax(1).astype(np.int64)
        right = predicted == labels
        unique_seq, seq_pos = np.unique(seq_ids, return_inverse=True)
        seq_right = np.ones(len(unique_seq), bool)
        np.logical_and.at(seq_right, seq_pos, right)
        metrics.update({
            "checked_sequences": int(len(unique_seq)),
            "checked_digits": int(len(labels)),
            "digit_accuracy": float(right.mean()),
            "sequence_accuracy": float(seq_right.mean()),
            "overlapping_digits": int(overlapping.sum()),
            "accuracy_per_source": {name: float(right[sources == name].mean()) for name in sorted(set(sources.tolist()))},
        })
        if (~overlapping).any():
            metrics["clean_digit_accuracy"] = float(right[~overlapping].mean())
        if overlapping.any():
            metrics["overlapping_digit_accuracy"] = float(right[overlapping].mean())
        in_preview = seq_ids < params.sequence_previews
        if len(preview_arrays["labels"]):
            guess = np.full(preview_arrays["labels"].shape, -1, np.int64)
            guess[seq_ids[in_preview], slots[in_preview]] = predicted[in_preview]
            preview_arrays["predicted"] = guess
    if training is not None:
        metrics["leaks"] = leak_count
        metrics["mnist_duplicates"] = duplicate_count
    return SplitResult(split, metrics, (problems.messages + leaks)[:MAX_MESSAGES], labels, predicted, preview_arrays)


@dataclass(frozen=True)
class _Shard:
    lengths: np.ndarray
    active: np.ndarray
    width: int
    max_length: int


def _read_info(path: Path, problems: _Problems) -> dict:
    if not path.is_file():
        problems.add(f"{path.name}: missing (the contract puts one beside the shards)")
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        problems.add(f"{path.name}: not valid JSON: {error}")
        return {}


def _check_shard_arrays(name: str, arrays: dict, split: str, width: int | None, max_length: int | None, problems: _Problems) -> _Shard | None:
    """Keys, dtypes, shapes and padding of one shard; None when its arrays cannot be checked further."""
    missing = [key for key in _KEYS if key not in arrays]
    if missing:
        problems.add(f"{name}: missing array(s) {missing}")
        return None
    for key, (dtype, ndim) in _KEYS.items():
        array = arrays[key]
        if key == "source_names":
            if array.dtype.kind != "U" or array.ndim != 1:
                problems.add(f"{name}: source_names must be a 1-D string array, got {array.dtype} {array.shape}")
                return None
        elif array.dtype != dtype or array.ndim != ndim:
            problems.add(f"{name}: {key} must be {np.dtype(dtype)} with {ndim} dimensions, got {array.dtype} {array.shape}")
            return None
    images, labels = arrays["images"], arrays["labels"]
    n, length = labels.shape
    shapes = {"images": (n, DIGIT_SIZE, images.shape[2]), "lengths": (n,), "boxes": (n, length, 4), "sources": (n, length), "source_index": (n, length)}
    for key, shape in shapes.items():
        if arrays[key].shape != shape:
            problems.add(f"{name}: {key} has shape {arrays[key].shape}, expected {shape}")
            return None
    if width is not None and images.shape[2] != width:
        problems.add(f"{name}: images are {images.shape[2]} px wide, expected {width} (info.json / other shards)")
    if max_length is not None and length != max_length:
        problems.add(f"{name}: labels have {length} slots, expected {max_length} (info.json / other shards)")
    names = [str(s) for s in arrays["source_names"]]
    unknown = [s for s in names if s not in SOURCE_NAMES]
    if unknown or len(set(names)) != len(names):
        problems.add(f"{name}: source_names {names} must be distinct names from {list(SOURCE_NAMES)}")
    if split == "test" and names != ["real"]:
        problems.add(f"{name}: test-split source_names == {names}; the test split draws real MNIST test digits only")
    lengths = arrays["lengths"].astype(np.int64)
    problems.check((lengths < 1) | (lengths > length), f"length outside 1..{length}", name)
    active = np.arange(length)[None, :] < lengths[:, None]
    for key, low, high in (("labels", 0, 9), ("sources", 0, len(names) - 1)):
        values = arrays[key]
        problems.check(active & ((values < low) | (values > high)), f"{key} outside {low}..{high}", name)
        problems.check(~active & (values != -1), f"{key} not -1 after the sequence's length", name)
    problems.check(~active & (arrays["source_index"] != -1), "source_index not -1 after the sequence's length", name)
    problems.check(active & (arrays["source_index"] < 0), "source_index negative", name)
    boxes = arrays["boxes"].astype(np.int64)
    x0, y0, x1, y1 = (boxes[..., i] for i in range(4))
    problems.check(~active[..., None] & (boxes != -1), "boxes not -1 after the sequence's length", name)
    bad_box = active & ((x0 < 0) | (x1 > images.shape[2]) | (x0 >= x1) | (y0 < 0) | (y1 > DIGIT_SIZE) | (y0 >= y1) | (x1 - x0 > DIGIT_SIZE))
    problems.check(bad_box, f"box outside the image or empty (need 0 <= x0 < x1 <= {images.shape[2]}, 0 <= y0 < y1 <= 28)", name)
    problems.check(active & ~bad_box & ~_ink_in_boxes(images, boxes, active & ~bad_box), "box holds no ink", name)
    return _Shard(lengths, active & ~bad_box, images.shape[2], length)


def _ink_in_boxes(images: np.ndarray, boxes: np.ndarray, active: np.ndarray) -> np.ndarray:
    """bool (n, L): whether each active box holds any ink (padding slots give True)."""
    seq, slot = np.nonzero(active)
    safe = np.clip(boxes[seq, slot], 0, None)
    crops = canonical_crops(images, seq, np.minimum(safe, [images.shape[2], DIGIT_SIZE, images.shape[2], DIGIT_SIZE]))
    has = np.ones(active.shape, bool)
    has[seq, slot] = crops.reshape(len(seq), -1).max(axis=1) > 0
    return has


def _check_provenance(name: str, arrays: dict, shard: _Shard, pools: Mapping[str, SourceDigits], problems: _Problems) -> None:
    """Each digit's label, box and pixels must match the bank row its ``sources``/``source_index`` name."""
    names = [str(s) for s in arrays["source_names"]]
    images = arrays["images"]
    for number, source in enumerate(names):
        seq, slot = np.nonzero(shard.active & (arrays["sources"] == number))
        if not len(seq):
            continue
        if source not in pools:
            problems.add(f"{name}: source {source!r} is not available to check provenance (have {sorted(pools)})", len(seq))
            continue
        pool = pools[source]
        index = arrays["source_index"][seq, slot].astype(np.int64)
        out_of_range = (index < 0) | (index >= len(pool.images))
        problems.check(out_of_range, f"source_index outside the {len(pool.images)} digits of {source!r}", name, seq, slot)
        keep = ~out_of_range
        seq, slot, index = seq[keep], slot[keep], index[keep]
        label = arrays["labels"][seq, slot]
        pool_labels = np.asarray(pool.labels)[index]
        wrong = (label != pool_labels) if pool_labels.ndim == 1 else ((label != pool_labels[:, 0]) & (label != pool_labels[:, 1]))
        problems.check(wrong, f"label differs from {source!r}'s label at its source_index", name, seq, slot)
        digits = pool.images[index]
        ext = ink_extents(digits).astype(np.int64)  # left, top, right, bottom
        box = arrays["boxes"][seq, slot].astype(np.int64)
        mismatch = (box[:, 2] - box[:, 0] != ext[:, 2] - ext[:, 0]) | (box[:, 1] != ext[:, 1]) | (box[:, 3] != ext[:, 3])
        problems.check(mismatch, f"box does not match the ink extent of {source!r}'s digit at its source_index", name, seq, slot)
        # Pixels: the image holds at least the source digit's ink in its cell (neighbours merge with max).
        cell_x = box[:, 0] - ext[:, 0]
        cols = cell_x[:, None] + np.arange(DIGIT_SIZE)[None, :]
        valid = (cols >= 0) & (cols < images.shape[2])
        seen = images[seq[:, None, None], np.arange(DIGIT_SIZE)[None, :, None], np.clip(cols, 0, images.shape[2] - 1)[:, None, :]]
        covered = np.where(valid[:, None, :], seen >= digits, digits == 0)
        problems.check(
            ~mismatch & ~covered.reshape(len(seq), DIGIT_SIZE * DIGIT_SIZE).all(axis=1), f"pixels do not hold {source!r}'s digit at its source_index", name, seq, slot
        )


def _overlaps_neighbour(boxes: np.ndarray, active: np.ndarray) -> np.ndarray:
    """bool (n, L): active boxes whose x-range intersects the previous or next digit's."""
    x0, x1 = boxes[..., 0].astype(np.int64), boxes[..., 2].astype(np.int64)
    hit = np.zeros(active.shape, bool)
    both = active[:, 1:] & active[:, :-1]
    touch = both & (x1[:, :-1] > x0[:, 1:])
    hit[:, 1:] |= touch
    hit[:, :-1] |= touch
    return hit


def _check_manifest(path: Path, expected: list[tuple], problems: _Problems) -> None:
    if not path.is_file():
        problems.add(f"{path.name}: missing")
        return
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    if tuple(table.columns) != MANIFEST_COLUMNS:
        problems.add(f"{path.name}: columns {list(table.columns)}, expected {list(MANIFEST_COLUMNS)}")
        return
    if len(table) != len(expected):
        problems.add(f"{path.name}: {len(table)} rows, but the shards hold {len(expected)} sequences")
        return
    wanted = pd.DataFrame([[str(v) for v in row] for row in expected], columns=list(MANIFEST_COLUMNS))
    differs = (table.values != wanted.values).any(axis=1)
    if differs.any():
        first = int(np.flatnonzero(differs)[0])
        problems.add(
            f"{path.name}: row {first} is {table.iloc[first].tolist()}, the shards say {wanted.iloc[first].tolist()}", int(differs.sum())
        )


# --------------------------------------------------------------------------- files


def bank_metrics(results: Sequence[SourceResult]) -> dict:
    """The content of ``banks.json``: source name -> its metrics."""
    return {result.name: result.metrics for result in results}


def dataset_metrics(checks: Mapping[str, SplitResult]) -> dict:
    """The content of ``datasets.json``: split -> its metrics, plus ``messages`` when something failed."""
    return {split: {**check.metrics, **({"messages": check.messages} if check.messages else {})} for split, check in checks.items()}


def write_plots(folder: str | os.PathLike, results: Sequence[SourceResult], checks: Mapping[str, SplitResult]) -> None:
    """Write the evaluation's pictures and plot tables into ``folder``.

    ``mosaics/<source>.png``; ``confusion/<source>.csv`` (single-label sources)
    and ``confusion/sequences-<split>.csv``, columns ``actual, predicted``;
    ``memorisation/<source>.csv``, columns ``distance, samples, real_test``;
    ``ambiguous/<source>.csv``, columns ``pair, count, mass, smaller, balanced`` (pair-label
    sources); ``sequences/<split>.png``, sample sequences with boxes and labels.
    """
    from digitgen.pictures import draw_sequences, save_png

    folder = Path(folder)
    for result in results:
        save_png(folder / "mosaics" / f"{result.name}.png", result.examples)
        if result.labels.ndim == 1:
            write_csv(folder / "confusion" / f"{result.name}.csv", ["actual", "predicted"], np.stack([result.labels, result.predicted], 1).tolist())
        write_csv(
            folder / "memorisation" / f"{result.name}.csv", ["distance", "samples", "real_test"],
            [[row["distance"], row["samples"], row["real_test"]] for row in result.histogram],
        )
        if result.pairs:
            write_csv(
                folder / "ambiguous" / f"{result.name}.csv", list(PAIR_COLUMNS),
                [[pair, *(v[column] for column in PAIR_COLUMNS[1:])] for pair, v in result.pairs.items()],
            )
    for split, check in checks.items():
        if len(check.labels):
            write_csv(folder / "confusion" / f"sequences-{split}.csv", ["actual", "predicted"], np.stack([check.labels, check.predicted], 1).tolist())
        preview = check.preview
        if len(preview["labels"]):
            picture = draw_sequences(preview["images"], preview["boxes"], preview["labels"], preview.get("predicted"))
            save_png(folder / "sequences" / f"{split}.png", picture)


def _rounded(value):
    """``value`` with floats to 6 significant digits and numpy scalars as Python numbers (JSON-ready)."""
    if isinstance(value, Mapping):
        return {str(k): _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value


def write_json(path: str | os.PathLike, data: Mapping) -> None:
    """Write ``data`` as sorted, indented JSON with floats to 6 significant digits, atomically."""
    _write_sorted_json(path, _rounded(data))


def write_csv(path: str | os.PathLike, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
    """Write a CSV table atomically; floats to 6 significant digits."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_rounded(list(row)) for row in rows])
