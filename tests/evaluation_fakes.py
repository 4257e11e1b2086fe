"""Test doubles for the evaluation: a numpy classifier and tiny sequence datasets (no TensorFlow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from digitgen import shards
from digitgen.params.all import parse_params


class CentroidClassifier:
    """Nearest-centroid digit classifier in 7x7 average-pooled pixels; a :class:`digitgen.evaluate.banks.FeatureModel`.

    Features are the 49 pooled intensities (float32 in [0, 1]); probabilities a
    softmax of minus the squared distances to the ten class centroids.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        pooled = self.pool(images)
        self.centroids = np.stack([pooled[labels == d].mean(0) for d in range(10)])

    @staticmethod
    def pool(images: np.ndarray) -> np.ndarray:
        return images.reshape(len(images), 7, 4, 7, 4).mean(axis=(2, 4)).reshape(len(images), 49).astype(np.float32) / 255

    def features_and_proba(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        features = self.pool(np.asarray(images))
        d2 = ((features[:, None, :] - self.centroids[None]) ** 2).sum(-1) * 20
        logits = -(d2 - d2.min(1, keepdims=True))
        proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        return features, proba.astype(np.float32)


def sequence_params(**overrides):
    """Small ``sequences`` params: 40 train and 30 test sequences of 1-4 digits, width 140."""
    raw = {
        "seed": 3,
        "width": 140,
        "spacing": {"min": 0, "max": 4},
        "length": {"min": 1, "max": 4},
        "shard_size": 16,
        "previews": 2,
        "workers": 1,
        "splits": {"train": {"count": 40, "sources": {"real": 1.0}}, "test": {"count": 30, "sources": {"real": 1.0}}},
    }
    raw.update(overrides)
    return parse_params({"sequences": raw}).sequences


def write_sequences(root: Path, mnist_npz: Path, **overrides) -> Path:
    """Write both splits under ``root/sequences`` with :mod:`digitgen.shards`; return that folder."""
    params = sequence_params(**overrides)
    out = root / "sequences"
    for split in ("train", "test"):
        shards.emit_split(split, params, mnist_npz, root / "banks", out / split)
    return out


def distinct_mnist_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """The synthetic MNIST of ``tests/synthetic.py`` with six random pixels set inside each digit's ink box.

    Font-drawn digits repeat exactly (same glyph, size and stroke); the marks make
    every test digit differ from every training digit, as in real MNIST.
    """
    from synthetic import make_mnist_arrays

    from digitgen.compose import ink_extents

    arrays = make_mnist_arrays()
    rng = np.random.default_rng(seed)
    for key in ("x_train", "x_test"):
        images = arrays[key]
        extents = ink_extents(images)
        for image, (left, top, right, bottom) in zip(images, extents):
            rows = rng.integers(top, bottom, 6)
            cols = rng.integers(left, right, 6)
            image[rows, cols] = rng.integers(1, 255, 6).astype(np.uint8)
    return arrays
