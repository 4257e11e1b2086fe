"""Memorisation in pixel space: each digit's exact nearest training digit, and how close samples come compared with real digits."""

from __future__ import annotations

import numpy as np

from digitgen.arrays import check_digits
from digitgen.evaluate.features import CHUNK, squared_distances

#: Bins of the memorisation histograms.
HISTOGRAM_BINS = 40


class PixelIndex:
    """Exact nearest neighbours in pixel space (intensities scaled to [0, 1]).

    Parameters
    ----------
    images : uint8 (N, 28, 28) reference digits (the training split).
    """

    def __init__(self, images: np.ndarray) -> None:
        images = check_digits(images, "reference images")
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
        queries = check_digits(queries, "query images")
        flat = queries.reshape(len(queries), -1).astype(np.float32) / np.float32(255)
        index = np.empty(len(flat), np.int64)
        for start in range(0, len(flat), CHUNK // 2):
            block = flat[start : start + CHUNK // 2]
            index[start : start + len(block)] = squared_distances(block, (block * block).sum(1), self._flat, self._norms).argmin(1)
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
        "samples": len(distances),
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

