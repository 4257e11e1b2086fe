"""Scores of a digit source (a bank of 28x28 digits) against real MNIST test digits, in the evaluation classifier's features.

- label accuracy: how often the classifier agrees with the intended digit
  (for ambiguous digits, labels ``(N, 2)``: either class of the pair);
- FCD with its real-vs-real baseline, KID, precision and recall
  (:mod:`digitgen.evaluate.features`);
- memorisation: each sample's pixel distance to its nearest training digit
  against the same for real test digits (:mod:`digitgen.evaluate.pixels`);
- ambiguous digits: the probability mass on the intended pair, the smaller
  of the two probabilities, and the fraction of samples whose smaller
  probability reaches :data:`BALANCED_SMALLER` (the project's target: at
  least :data:`BALANCED_TARGET` of them), overall and per pair.

The classifier is passed in as any object with ``features_and_proba(images)``
(see :class:`FeatureModel`), so this module never imports TensorFlow.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from digitgen.arrays import check_digits
from digitgen.bank import DigitBank
from digitgen.constants import DIGIT_SIZE, SOURCE_NAMES
from digitgen.evaluate.features import (
    frechet_distance,
    kernel_distance,
    knn_radii,
    precision_recall,
)
from digitgen.evaluate.pixels import (
    PixelIndex,
    memorisation_histogram,
    memorisation_summary,
)
from digitgen.params.evaluate_banks import EvaluateBanksParams

logger = logging.getLogger(__name__)

#: An ambiguous digit is *balanced* when the smaller of its two intended probabilities is at least this (inclusive).
BALANCED_SMALLER = 0.25
#: The project's target for the fraction of balanced ambiguous digits (at least half of them).
BALANCED_TARGET = 0.5


class FeatureModel(Protocol):
    """What the evaluation needs from a classifier."""

    def features_and_proba(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 (N, 28, 28) -> features float32 (N, D), probabilities float32 (N, 10)."""


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
    images : uint8 (n, 28, 28) the scored digits (for the held-out readers; never written).
    reader_pairs : for ambiguous digits, held-out reader -> its ``pairs`` table (see :func:`pair_scores`).
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
    images: np.ndarray | None = None
    reader_pairs: dict = field(default_factory=dict)


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
    params : the ``evaluate_banks`` section.

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
        self.train_images = check_digits(train_images, "real training images")
        self.test_images = check_digits(test_images, "real test images")
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
        images=reference.test_images,
    )


def evaluate_source(source: DigitBank, classifier: FeatureModel, reference: RealReference) -> SourceResult:
    """Score a generated source against the real reference.

    A seeded random subset of ``evaluate_banks.samples`` digits (all if fewer) is
    classified and embedded; the first ``evaluate_banks.memorisation_samples`` of it
    are searched against the training digits.

    Returns
    -------
    SourceResult whose ``metrics`` hold ``samples``, ``label_accuracy``
    (``overall``, ``per_digit``), ``fcd``, ``fcd_baseline``, ``kid``,
    ``kid_std``, ``precision``, ``recall``, ``memorisation`` and, for pairs, ``ambiguous``
    (mean ``mass`` and ``smaller``, fraction ``balanced``, and the rule it is measured by:
    ``balanced_threshold`` = :data:`BALANCED_SMALLER`, ``balanced_target`` = :data:`BALANCED_TARGET`;
    per pair in ``SourceResult.pairs``).
    """
    params = reference.params
    if source.name not in SOURCE_NAMES:
        raise ValueError(f"source == {source.name!r}, must be one of {list(SOURCE_NAMES)}.")
    number = SOURCE_NAMES.index(source.name)
    rng = np.random.default_rng([params.seed, number])
    rows = np.sort(rng.permutation(len(source.images))[: params.samples])
    if len(rows) <= params.nearest_k:
        raise ValueError(f"source {source.name!r} holds {len(source.images)} digits; evaluation needs more than evaluate_banks.nearest_k == {params.nearest_k}.")
    if len(rows) < params.samples:
        logger.warning("source %s holds %d digits, fewer than evaluate_banks.samples == %d: scoring all of them", source.name, len(rows), params.samples)
    images, labels = source.images[rows], source.intended[rows].astype(np.int64)
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
        # recorded beside the share, so that readers (the report) need not know the rule
        metrics["ambiguous"] = {**scores, "balanced_threshold": BALANCED_SMALLER, "balanced_target": BALANCED_TARGET}
    return SourceResult(
        source.name, metrics, labels, predicted,
        example_rows(images, labels, params.mosaic_per_digit),
        memorisation_histogram(distances, reference.baseline_distances),
        pairs,
        images,
    )

