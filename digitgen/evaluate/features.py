"""Distances between two sets of classifier features: Fréchet distance, KID, precision/recall and k-NN radii.

All in numpy (float32 matrix products, float64 accumulations); rows are
samples, columns features (the evaluation classifier's penultimate layer).

- Fréchet classifier distance (FCD): the Fréchet distance of Gaussians fitted
  to the features; its scale depends on the feature layer, so it is always
  read next to a real-vs-real baseline;
- KID: the unbiased squared MMD with the cubic polynomial kernel
  ``k(x, y) = (x.y / D + 1) ** 3`` over random subsets, mean and standard deviation;
- precision and recall of Kynkäänniemi et al. (2019): the fraction of samples
  inside the real k-NN manifold, and of real digits inside the samples' manifold.
"""

from __future__ import annotations

import numpy as np

#: Rows of a distance matrix computed at once (memory ~ rows x N x 4 bytes).
CHUNK = 1024

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


def squared_distances(x: np.ndarray, x_norms: np.ndarray, y: np.ndarray, y_norms: np.ndarray) -> np.ndarray:
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
    for start in range(0, len(x), CHUNK):
        d2 = squared_distances(x[start : start + CHUNK], norms[start : start + CHUNK], x, norms)
        radii[start : start + CHUNK] = np.partition(d2, k, axis=1)[:, k]  # column 0 is the point itself
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
    for start in range(0, len(fake), CHUNK):
        d2 = squared_distances(fake[start : start + CHUNK], fake_norms[start : start + CHUNK], real, real_norms)
        inside_real[start : start + CHUNK] = (d2 <= real_r2[None, :]).any(axis=1)
        inside_fake |= (d2 <= fake_r2[start : start + CHUNK, None]).any(axis=0)
    return float(inside_real.mean()), float(inside_fake.mean())

