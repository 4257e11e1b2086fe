"""Reductions of codes before clustering or drawing them: UMAP (umap-learn) or t-SNE (scikit-learn), seeded.

UMAP with ``min_dist=0`` keeps neighbouring codes packed together, which is
what a density-based or mixture clustering of the result needs (the "N2D"
recipe: autoencoder codes -> UMAP -> Gaussian mixture). umap-learn compiles
its kernels with numba on first use (cached on disk afterwards); it is
imported only when asked for. t-SNE (Barnes-Hut) gives 2 or 3 dimensions.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from digitgen.params.latent_report import REDUCTIONS
from digitgen.rules import Int, OneOf

logger = logging.getLogger(__name__)


def tsne_embedding(codes: np.ndarray, *, seed: int = 0, perplexity: float = 30.0, size: int = 2) -> np.ndarray:
    """t-SNE embedding (PCA initialisation, seeded) of float (n, d) codes; float32 (n, size), size 2 or 3."""
    from sklearn.manifold import TSNE

    codes = np.asarray(codes, dtype=np.float32)
    if not 1 <= perplexity < len(codes) / 3:
        raise ValueError(f"perplexity == {perplexity!r}, must be in [1, {len(codes) / 3:g}) for {len(codes)} codes.")
    Int(2, 3, allowed="must be 2 or 3 (Barnes-Hut t-SNE)").check(size, "size")
    started = time.perf_counter()
    embedding = TSNE(n_components=size, perplexity=perplexity, init="pca", random_state=seed).fit_transform(codes)
    logger.info("t-SNE of %d codes in %.1f s", len(codes), time.perf_counter() - started)
    return embedding.astype(np.float32)


def umap_embedding(codes: np.ndarray, *, seed: int = 0, size: int = 10, neighbours: int = 20) -> np.ndarray:
    """UMAP embedding (``min_dist=0``, seeded, one thread: deterministic) of float (n, d) codes; float32 (n, size)."""
    import umap

    codes = np.asarray(codes, dtype=np.float32)
    if len(codes) <= neighbours:
        raise ValueError(f"{len(codes)} codes are too few for neighbours == {neighbours}.")
    started = time.perf_counter()
    reducer = umap.UMAP(n_components=size, n_neighbors=neighbours, min_dist=0.0, random_state=seed, n_epochs=200, n_jobs=1)
    embedding = reducer.fit_transform(codes)
    logger.info("UMAP of %d codes to %d dimensions in %.1f s", len(codes), size, time.perf_counter() - started)
    return np.asarray(embedding, np.float32)


def reduce_codes(codes: np.ndarray, method: str, *, size: int, seed: int, neighbours: int = 20, perplexity: float = 30.0) -> np.ndarray:
    """float32 (n, size) reduction of float (n, d) codes by ``method`` (``umap`` or ``tsne``)."""
    method = OneOf(REDUCTIONS).check(method, "reduction")
    if method == "umap":
        return umap_embedding(codes, seed=seed, size=size, neighbours=neighbours)
    return tsne_embedding(codes, seed=seed, perplexity=perplexity, size=min(size, 3))
