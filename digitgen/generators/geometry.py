"""The class geometry of an autoencoder's latent codes: class means, Gaussian class densities, nearest classes.

Fitted on the encoder means of labelled digits: the class means ``m_c``, each
class's covariance ``S_c`` and the pooled within-class covariance ``S``, each
with a small ridge (collapsed latent units have almost no variance, so the
matrices would not invert otherwise). Used by
:mod:`digitgen.generators.ambiguous` to pair each class with its nearest
class (Mahalanobis distance between means under ``S``) and to read how much
an image's code leans to each class (one Gaussian per class: quadratic
discriminant analysis in latent space).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Relative ridge added to every covariance before inverting it (times its mean variance).
RIDGE = 1e-3


@dataclass(frozen=True)
class LatentGeometry:
    """Class geometry of latent codes (see the module docstring).

    Attributes
    ----------
    class_means : float32 (10, d).
    precision : float64 (d, d) inverse pooled within-class covariance.
    class_precisions : float64 (10, d, d) inverse covariance of each class.
    class_log_dets : float64 (10,) log-determinants of the class covariances.
    partners : int16 (10,) nearest other class of each class.
    """

    class_means: np.ndarray
    precision: np.ndarray
    class_precisions: np.ndarray
    class_log_dets: np.ndarray
    partners: np.ndarray


def regularised(covariance: np.ndarray) -> np.ndarray:
    """``covariance`` plus a ridge of :data:`RIDGE` times its mean variance (and a floor), so that it inverts."""
    size = len(covariance)
    return covariance + (RIDGE * np.trace(covariance) / size + 1e-12) * np.eye(size)


def fit_geometry(codes: np.ndarray, labels: np.ndarray) -> LatentGeometry:
    """The geometry of float (N, d) ``codes`` of int (N,) ``labels`` 0-9 (every digit at least twice)."""
    codes = np.asarray(codes, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    means = np.stack([codes[labels == c].mean(axis=0) for c in range(10)])
    centred = codes - means[labels]
    pooled = regularised(centred.T @ centred / max(len(codes) - 10, 1))
    per_class = [regularised(np.cov(codes[labels == c], rowvar=False).reshape(len(pooled), len(pooled))) for c in range(10)]
    precision = np.linalg.inv(pooled)
    diff = means[:, None, :] - means[None, :, :]
    between = np.einsum("abd,de,abe->ab", diff, precision, diff)
    np.fill_diagonal(between, np.inf)
    return LatentGeometry(
        class_means=means.astype(np.float32),
        precision=precision,
        class_precisions=np.stack([np.linalg.inv(c) for c in per_class]),
        class_log_dets=np.array([np.linalg.slogdet(c)[1] for c in per_class]),
        partners=between.argmin(axis=1).astype(np.int16),
    )


def class_log_likelihoods(codes: np.ndarray, class_means: np.ndarray, class_precisions: np.ndarray, class_log_dets: np.ndarray) -> np.ndarray:
    """float64 (m, 10) ``log N(e; m_c, S_c)`` (up to a shared constant) of float (m, d) codes ``e`` for each class c."""
    diff = np.asarray(codes, dtype=np.float64)[:, None, :] - class_means.astype(np.float64)[None, :, :]
    return -0.5 * (np.einsum("mcd,cde,mce->mc", diff, class_precisions, diff) + class_log_dets)
