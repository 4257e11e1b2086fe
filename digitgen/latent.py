"""How well encoder means cluster by digit: KMeans, DBSCAN with a data-chosen radius, and a t-SNE picture.

For codes ``mu`` (encoder means, not sampled codes) of labelled digits:

- KMeans with 10 clusters (``n_init=10``, seeded);
- DBSCAN with ``min_samples`` (default ``2 x d``, Sander et al. 1998) and
  ``eps`` at the knee of the sorted k-distance curve (Ester et al. 1996): the
  distance of every code to its ``(min_samples - 1)``-th nearest other code,
  sorted; the knee is the point farthest below the chord joining the curve's
  ends once both axes are scaled to [0, 1] (the "Kneedle" rule). Points
  that DBSCAN leaves as noise are reported as a fraction;
- normalised mutual information (NMI) and adjusted Rand index (ARI) of each
  clustering against the true digits. For DBSCAN they are given twice: with
  noise as one more cluster (all points), and on the clustered points only;
- a t-SNE embedding of a random subset, drawn as a scatter coloured by digit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from sklearn.cluster import DBSCAN, KMeans
from sklearn.manifold import TSNE
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.neighbors import NearestNeighbors

from digitgen.arrays import check_labels
from digitgen.errors import InputError
from digitgen.rules import Int

logger = logging.getLogger(__name__)

#: Colour of each digit 0-9 in scatter plots (the "tab10" palette).
PALETTE = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
)


#: Rule of DBSCAN's ``min_samples`` (the point itself included).
MIN_SAMPLES = Int(2)


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


def latent_clustering(codes: np.ndarray, labels: np.ndarray, *, seed: int = 0, min_samples: int | None = None) -> dict[str, Any]:
    """KMeans(10) and DBSCAN of codes, scored against their labels.

    Parameters
    ----------
    codes : float (N, d) encoder means.
    labels : int (N,) true digits.
    seed : seed of KMeans.
    min_samples : DBSCAN's ``min_samples``, >= 2; None = ``2 * d``.

    Returns
    -------
    dict: ``samples``, ``latent_size``, ``kmeans`` {``clusters``, ``nmi``, ``ari``},
    ``dbscan`` {``eps``, ``min_samples``, ``clusters``, ``noise_fraction``,
    ``nmi``, ``ari`` (noise as one cluster), ``nmi_clustered``, ``ari_clustered``
    (clustered points only; null when none)}.
    """
    codes, labels = _check_codes(codes, labels)
    min_samples = 2 * codes.shape[1] if min_samples is None else min_samples
    _check_min_samples(min_samples)
    if len(codes) <= max(10, min_samples):
        raise ValueError(f"{len(codes)} codes are too few for 10 KMeans clusters and min_samples == {min_samples}; need more than {max(10, min_samples)}.")
    started = time.perf_counter()
    kmeans = KMeans(n_clusters=10, n_init=10, random_state=seed).fit_predict(codes)
    eps, _ = kdistance_knee(codes, min_samples)
    dbscan = DBSCAN(eps=eps, min_samples=min_samples).fit_predict(codes)
    clustered = dbscan >= 0
    report = {
        "samples": int(len(codes)),
        "latent_size": int(codes.shape[1]),
        "kmeans": {"clusters": 10, **cluster_scores(labels, kmeans)},
        "dbscan": {
            "eps": eps,
            "min_samples": int(min_samples),
            "clusters": int(dbscan.max() + 1),
            "noise_fraction": float(1 - clustered.mean()),
            **cluster_scores(labels, dbscan),
            **(
                {f"{k}_clustered": v for k, v in cluster_scores(labels[clustered], dbscan[clustered]).items()}
                if clustered.any()
                else {"nmi_clustered": None, "ari_clustered": None}
            ),
        },
    }
    logger.info(
        "KMeans NMI %.3f ARI %.3f; DBSCAN eps %.3f min_samples %d: %d clusters, %.1f%% noise, NMI %.3f ARI %.3f (%.1f s)",
        report["kmeans"]["nmi"], report["kmeans"]["ari"], eps, min_samples, report["dbscan"]["clusters"],
        100 * report["dbscan"]["noise_fraction"], report["dbscan"]["nmi"], report["dbscan"]["ari"], time.perf_counter() - started,
    )
    return report


def tsne_embedding(codes: np.ndarray, *, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE embedding (PCA initialisation, seeded) of float (n, d) codes; float32 (n, 2)."""
    codes = np.asarray(codes, dtype=np.float32)
    if not 1 <= perplexity < len(codes) / 3:
        raise ValueError(f"perplexity == {perplexity!r}, must be in [1, {len(codes) / 3:g}) for {len(codes)} codes.")
    started = time.perf_counter()
    embedding = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(codes)
    logger.info("t-SNE of %d codes in %.1f s", len(codes), time.perf_counter() - started)
    return embedding.astype(np.float32)


def scatter_panels(panels: Sequence[tuple[str, np.ndarray, np.ndarray]], *, size: int = 420) -> np.ndarray:
    """Side-by-side scatter plots of 2-D points coloured by digit, with titles and a legend.

    Parameters
    ----------
    panels : (title, points float (n, 2), labels int (n,) digits 0-9) per panel.
    size : width and height of each panel's plotting square, in pixels.

    Returns
    -------
    uint8 (H, W, 3) RGB image, white background.
    """
    font = ImageFont.load_default(size=14)
    top, margin, legend = 26, 8, 24
    width = len(panels) * (size + margin) + margin
    canvas = Image.new("RGB", (width, top + size + legend + margin), "white")
    draw = ImageDraw.Draw(canvas)
    for p, (title, points, labels) in enumerate(panels):
        points, labels = np.asarray(points, dtype=np.float64), np.asarray(labels, dtype=np.int64)
        if points.ndim != 2 or points.shape[1] != 2 or labels.shape != (len(points),):
            raise ValueError(f"panel {title!r}: points must be (n, 2) and labels (n,), got {points.shape} and {labels.shape}.")
        left = margin + p * (size + margin)
        draw.rectangle([left, top, left + size - 1, top + size - 1], outline=(200, 200, 200))
        draw.text((left + 2, 4), title, fill="black", font=font)
        if len(points):
            low, high = points.min(axis=0), points.max(axis=0)
            scaled = (points - low) / np.where(high > low, high - low, 1.0)
            xy = np.column_stack([left + 4 + scaled[:, 0] * (size - 9), top + 4 + (1 - scaled[:, 1]) * (size - 9)])
            for (x, y), label in zip(xy.tolist(), labels.tolist()):
                draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=PALETTE[label % 10])
    for digit in range(10):
        x = margin + digit * 28
        y = top + size + 6
        draw.rectangle([x, y + 3, x + 8, y + 11], fill=PALETTE[digit])
        draw.text((x + 11, y), str(digit), fill="black", font=font)
    return np.asarray(canvas, dtype=np.uint8)
