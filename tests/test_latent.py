"""Latent-space clustering: KMeans, a Gaussian mixture, DBSCAN with a k-distance knee, HDBSCAN, matched accuracy; reductions; pictures."""

from __future__ import annotations

import numpy as np
import pytest

from digitgen.latent import (
    cluster_scores,
    describe_clustering,
    kdistance_knee,
    latent_clustering,
    matched_accuracy,
)
from digitgen.latent_plots import PALETTE, scatter_panels
from digitgen.latent_reduction import reduce_codes, tsne_embedding


def _blobs(per_class: int = 60, d: int = 4, spread: float = 0.05, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Ten tight Gaussian blobs at the corners of a scaled simplex-like layout, labelled 0-9."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(10, d)) * 5
    labels = np.repeat(np.arange(10), per_class)
    return (centres[labels] + spread * rng.normal(size=(len(labels), d))).astype(np.float32), labels


def test_kdistance_curve_matches_brute_force():
    codes, _ = _blobs(per_class=8)
    eps, curve = kdistance_knee(codes, 4)
    pairwise = np.sqrt(((codes[:, None, :].astype(np.float64) - codes[None, :, :]) ** 2).sum(-1))
    expected = np.sort(np.sort(pairwise, axis=1)[:, 3])  # column 0 is the point itself
    np.testing.assert_allclose(curve, expected, rtol=1e-5)
    assert eps in curve


def test_knee_separates_within_from_between_cluster_distances():
    codes, labels = _blobs()
    eps, _ = kdistance_knee(codes, 8)
    within = max(np.linalg.norm(codes[labels == c] - codes[labels == c].mean(0), axis=1).max() for c in range(10))
    centres = np.stack([codes[labels == c].mean(0) for c in range(10)])
    between = min(np.linalg.norm(centres[i] - centres[j]) for i in range(10) for j in range(i))
    assert 0 < eps < between - 2 * within


def test_well_separated_clusters_are_recovered():
    codes, labels = _blobs()
    report = latent_clustering(codes, labels, seed=0, min_cluster_size=20)
    assert report["kmeans"]["nmi"] == pytest.approx(1.0) and report["kmeans"]["ari"] == pytest.approx(1.0)
    assert report["dbscan"]["clusters"] == 10 and report["dbscan"]["min_samples"] == 8
    assert report["dbscan"]["noise_fraction"] < 0.05
    assert report["dbscan"].get("nmi_clustered", 1.0) == pytest.approx(1.0)
    assert report["samples"] == 600 and report["size"] == 4
    for method in ("gmm", "hdbscan"):
        assert report[method]["clusters"] == 10 and report[method]["nmi"] == pytest.approx(1.0)
        assert report[method]["accuracy"] == pytest.approx(1.0)
    assert report["hdbscan"]["noise_fraction"] < 0.05 and report["hdbscan"]["min_cluster_size"] == 20


def test_unrelated_labels_score_near_zero():
    codes, labels = _blobs()
    shuffled = np.random.default_rng(1).permutation(labels)
    report = latent_clustering(codes, shuffled, seed=0)
    assert report["kmeans"]["ari"] < 0.05 and report["kmeans"]["nmi"] < 0.1


def test_noise_points_are_counted():
    codes, labels = _blobs()
    rng = np.random.default_rng(2)
    outliers = rng.uniform(-40, 40, size=(30, 4)).astype(np.float32)
    report = latent_clustering(np.concatenate([codes, outliers]), np.concatenate([labels, rng.integers(0, 10, 30)]), seed=0)
    assert 0.03 < report["dbscan"]["noise_fraction"] < 0.15
    assert cluster_scores(np.array([0, 0, 1, 1]), np.array([5, 5, 7, 7])) == {"nmi": 1.0, "ari": 1.0}


@pytest.mark.parametrize(
    ("codes", "labels", "kwargs", "message"),
    [
        (np.full((20, 2), np.nan, np.float32), np.zeros(20, int), {}, "codes must be finite floats"),
        (np.zeros((20, 2), np.float32), np.zeros(19, int), {}, r"labels must be integers of shape \(20,\)"),
        (np.random.default_rng(0).normal(size=(20, 2)).astype(np.float32), np.zeros(20, int), {"min_samples": 1}, "min_samples == 1"),
        (np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32), np.zeros(5, int), {"min_samples": 5}, "too few"),
    ],
)
def test_bad_inputs_are_rejected(codes, labels, kwargs, message):
    with pytest.raises(ValueError, match=message):
        latent_clustering(codes, labels, **kwargs)


def test_tsne_and_scatter_picture():
    codes, labels = _blobs(per_class=5)
    with pytest.raises(ValueError, match="perplexity == 20"):
        tsne_embedding(codes, perplexity=20)
    embedding = tsne_embedding(codes, seed=0, perplexity=5)
    assert embedding.shape == (50, 2) and embedding.dtype == np.float32
    picture = scatter_panels([("a", embedding, labels), ("b", embedding, labels)], size=100)
    assert picture.dtype == np.uint8 and picture.ndim == 3 and picture.shape[2] == 3
    grid = scatter_panels([("a", embedding, labels)] * 3, size=100, columns=2)
    assert grid.shape[0] > picture.shape[0] and grid.shape[1] == picture.shape[1]
    colours = {tuple(c) for c in picture.reshape(-1, 3).tolist()}
    assert all(colour in colours for colour in PALETTE)


def test_matched_accuracy_is_the_best_one_to_one_matching_and_counts_noise_as_wrong():
    truth = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    assert matched_accuracy(truth, np.array([5, 5, 5, 7, 7, 9, 9, 9])) == 1.0
    # two clusters of digit 0: only one can be matched to it
    assert matched_accuracy(truth, np.array([1, 1, 2, 3, 3, 4, 4, 4])) == pytest.approx(7 / 8)
    assert matched_accuracy(truth, np.array([-1, 5, 5, 7, 7, 9, 9, 9])) == pytest.approx(7 / 8)
    assert matched_accuracy(truth, np.full(8, -1)) == 0.0
    described = describe_clustering(truth, np.array([-1, 5, 5, 7, 7, 9, 9, 9]))
    assert described["clusters"] == 3 and described["noise_fraction"] == pytest.approx(1 / 8)
    assert described["nmi_clustered"] == pytest.approx(1.0) and described["accuracy"] == pytest.approx(7 / 8)


def test_a_tsne_reduction_keeps_at_most_three_dimensions_and_a_bad_method_is_refused():
    codes, _ = _blobs(per_class=5)
    assert reduce_codes(codes, "tsne", size=10, seed=0, perplexity=5).shape == (50, 3)
    with pytest.raises(ValueError, match=r"reduction == 'pca', must be one of \['umap', 'tsne'\]"):
        reduce_codes(codes, "pca", size=2, seed=0)
