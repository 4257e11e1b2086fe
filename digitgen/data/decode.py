"""Decode the four raw MNIST IDX files into the arrays of ``mnist.npz``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from digitgen.data.idx import read_idx

#: split -> (images file, labels file) in the raw folder.
RAW_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def decode_mnist(raw_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read the four IDX files in ``raw_dir`` into arrays.

    Returns
    -------
    dict
        ``x_train`` uint8 (N, 28, 28), ``y_train`` uint8 (N,), ``x_test`` uint8
        (M, 28, 28), ``y_test`` uint8 (M,).

    Raises
    ------
    ValueError
        Malformed IDX, images not 28x28, label and image counts that differ
        (naming both files), or labels outside 0..9.
    """
    raw_dir = Path(raw_dir)
    arrays = {}
    for split, (images_name, labels_name) in RAW_FILES.items():
        images, labels = read_idx(raw_dir / images_name), read_idx(raw_dir / labels_name)
        if images.shape[1:] != (28, 28):
            raise ValueError(f"{raw_dir / images_name}: images are {images.shape[1]}x{images.shape[2]}, expected 28x28")
        if len(images) != len(labels):
            raise ValueError(
                f"{raw_dir / labels_name} has {len(labels)} labels but {raw_dir / images_name} has {len(images)} images"
            )
        bad = np.flatnonzero(labels > 9)
        if bad.size:
            raise ValueError(f"{raw_dir / labels_name}: label {labels[bad[0]]} at index {bad[0]}, expected 0..9")
        arrays[f"x_{split}"], arrays[f"y_{split}"] = images, labels
    return arrays
