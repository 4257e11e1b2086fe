"""How well codes cluster by digit: KMeans, a Gaussian mixture, DBSCAN with a data-chosen radius, HDBSCAN; the scores.

For codes (encoder means or a reduction of them, see :mod:`digitgen.latent_reduction`)
of labelled digits:

- KMeans with 10 clusters (``n_init=10``, seeded);
- a Gaussian mixture of 10 full-covariance components (seeded; the "N2D" recipe's
  last step when the codes are a UMAP reduction);
- DBSCAN with ``min_samples`` (default ``2 x d``, Sander et al. 1998) and
  ``eps`` at the knee of the sorted k-distance curve (Ester et al. 1996): the
  distance of every code to its ``(min_samples - 1)``-th nearest other code,
  sorted; the knee is the point farthest below the chord joining the curve's
  ends once both axes are scaled to [0, 1] (the "Kneedle" rule);
- HDBSCAN (scikit-learn's) with ``min_cluster_size``, no radius to choose;
- for each: the clusters found, the fraction left as noise (density methods),
  normalised mutual information (NMI), adjusted Rand index (ARI) and accuracy
  against the true digits: the share of digits whose cluster maps to their digit
  under the best one-to-one matching of clusters to digits (Hungarian method;
  noise and unmatched clusters count as wrong). For DBSCAN and HDBSCAN NMI and
  ARI are also given on the clustered points only (``*_clustered``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import DBSCAN, HDBSCAN, KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors

from digitgen.arrays import check_labels
from digitgen.errors import InputError
from digitgen.rules import Int

logger = logging.getLogger(__name__)

#: Rule of DBSCAN's ``min_samples`` (the point itself included).
MIN_SAMPLES = Int(2)
#: The clustering methods of :func:`latent_clustering`, in report order.
METHODS = ("kmeans", "gmm", "dbscan", "hdbscan")


def _check_codes(codes: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes = np.asarray(codes)
    if codes.ndim != 2 or not np.issubdtype(codes.dtype, np.floating) or not np.all(np.isfinite(codes)):
        raise InputError(f"codes must be finite floats (N, d), got {codes.dtype} {codes.shape}.")
    return codes.astype(np.float32), check_labels(labels, len(codes)).astype(np.int64)


def _check_min_samples(min_samples: int) -> None:
    MIN_SAMPLES.check(min_samples, "min_samples")


def kdistance_knee(codes: np.ndarray, min_samples: int) -> tuple[float, np.ndarray]:
    """DBSCAN's radius at the knee of the sorted k-distance curve.

    Parameters
    ----------
    codes : float (N, d), N > min_samples.
    min_samples : DBSCAN's ``min_samples`` (the point itself included), >= 2.

    Returns
    -------
    eps : the k-distance at the knee, > 0.
    curve : float64 (N,) sorted distances of each code to its
        ``(min_samples - 1)``-th nearest other code.
    """
    codes = np.asarray(codes, dtype=np.float32)
    _check_min_samples(min_samples)
    if len(codes) <= min_samples:
        raise ValueError(f"{len(codes)} codes are too few for min_samples == {min_samples}; need more than {min_samples}.")
    distances, _ = NearestNeighbors(n_neighbors=min_samples).fit(codes).kneighbors(codes)
    curve = np.sort(distances[:, -1].astype(np.float64))
    span = curve[-1] - curve[0]
    if span <= 0:
        raise ValueError(f"every code has the same k-distance ({curve[0]:g}); the codes carry no cluster structure to find a radius in.")
    x = np.linspace(0.0, 1.0, len(curve))
    knee = int(np.argmax(x - (curve - curve[0]) / span))
    eps = float(curve[knee])
    if eps <= 0:
        eps = float(curve[curve > 0][0])
    return eps, curve


def cluster_scores(truth: np.ndarray, clusters: np.ndarray) -> dict[str, float]:
    """NMI and ARI of a clustering against the true labels (both int (N,))."""
    return {
        "nmi": float(normalized_mutual_info_score(truth, clusters)),
        "ari": float(adjusted_rand_score(truth, clusters)),
    }


def matched_accuracy(truth: np.ndarray, clusters: np.ndarray) -> float:
    """Share of points whose cluster is matched to their label by the best one-to-one matching (Hungarian method).

    ``clusters`` int (N,) with -1 for noise (always wrong); ``truth`` int (N,) labels.
    """
    truth, clusters = np.asarray(truth, np.int64), np.asarray(clusters, np.int64)
    kept = clusters >= 0
    if not kept.any():
        return 0.0
    names, found = np.unique(clusters[kept], return_inverse=True)
    classes, actual = np.unique(truth[kept], return_inverse=True)
    table = np.zeros((len(names), len(classes)), np.int64)
    np.add.at(table, (found, actual), 1)
    rows, columns = linear_sum_assignment(-table)
    return float(table[rows, columns].sum() / len(truth))


def describe_clustering(truth: np.ndarray, clusters: np.ndarray) -> dict[str, Any]:
    """``clusters`` (found, noise excluded), ``noise_fraction``, ``nmi``, ``ari`` (noise as one more cluster), ``accuracy``,
    and, when some points are noise, ``nmi_clustered`` / ``ari_clustered`` on the others (null when none is clustered)."""
    clustered = clusters >= 0
    values = {
        "clusters": int(len(np.unique(clusters[clustered]))),
        "noise_fraction": float(1 - clustered.mean()),
        **cluster_scores(truth, clusters),
        "accuracy": matched_accuracy(truth, clusters),
    }
    if not clustered.all():
        scores = cluster_scores(truth[clustered], clusters[clustered]) if clustered.any() else {"nmi": None, "ari": None}
        values.update({f"{k}_clustered": v for k, v in scores.items()})
    return values


def latent_clustering(
    codes: np.ndarray,
    labels: np.ndarray,
    *,
    seed: int = 0,
    min_samples: int | None = None,
    min_cluster_size: int = 100,
) -> dict[str, Any]:
    """KMeans(10), a 10-component Gaussian mixture, DBSCAN and HDBSCAN of codes, scored against their labels.

    Parameters
    ----------
    codes : float (N, d) codes.
    labels : int (N,) true digits.
    seed : seed of KMeans and of the mixture.
    min_samples : DBSCAN's ``min_samples``, >= 2; None = ``2 * d``.
    min_cluster_size : HDBSCAN's smallest cluster, >= 2 (capped at N).

    Returns
    -------
    dict: ``samples``, ``size`` (d); for each of :data:`METHODS` the dict of
    :func:`describe_clustering`; ``dbscan`` also holds ``eps`` and ``min_samples``,
    ``hdbscan`` its ``min_cluster_size``.
    """
    codes, labels = _check_codes(codes, labels)
    min_samples = 2 * codes.shape[1] if min_samples is None else min_samples
    _check_min_samples(min_samples)
    Int(2).check(min_cluster_size, "min_cluster_size")
    if len(codes) <= max(10, min_samples):
        raise ValueError(f"{len(codes)} codes are too few for 10 KMeans clusters and min_samples == {min_samples}; need more than {max(10, min_samples)}.")
    started = time.perf_counter()
    found = {
        "kmeans": KMeans(n_clusters=10, n_init=10, random_state=seed).fit_predict(codes),
        "gmm": GaussianMixture(10, covariance_type="full", reg_covar=1e-4, random_state=seed).fit(codes).predict(codes),
    }
    eps, _ = kdistance_knee(codes, min_samples)
    found["dbscan"] = DBSCAN(eps=eps, min_samples=min_samples).fit_predict(codes)
    size = min(min_cluster_size, len(codes))
    found["hdbscan"] = HDBSCAN(min_cluster_size=size, min_samples=min(10, size), copy=True).fit_predict(codes)
    report: dict[str, Any] = {"samples": int(len(codes)), "size": int(codes.shape[1])}
    for method in METHODS:
        report[method] = describe_clustering(labels, found[method])
    report["dbscan"].update(eps=eps, min_samples=int(min_samples))
    report["hdbscan"]["min_cluster_size"] = int(size)
    logger.info(
        "%d codes of size %d: %s (%.1f s)", len(codes), codes.shape[1],
        "; ".join(f"{m} {report[m]['clusters']} clusters, {100 * report[m]['noise_fraction']:.1f}% noise, NMI {report[m]['nmi']:.3f}"
                  for m in METHODS),
        time.perf_counter() - started,
    )
    return report
