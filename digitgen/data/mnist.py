"""MNIST as arrays: save and load ``mnist.npz``, checking its contract.

``mnist.npz`` holds ``x_train`` uint8 (N, 28, 28), ``y_train`` uint8 (N,),
``x_test`` uint8 (M, 28, 28) and ``y_test`` uint8 (M,): the keys of
``keras.datasets.mnist``; 0 = background, 255 = ink.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from digitgen.constants import SPLIT_NAMES
from digitgen.errors import InputError
from digitgen.io import read_npz, write_npz


def save_mnist_npz(arrays: Mapping[str, np.ndarray], path: str | os.PathLike) -> None:
    """Write the arrays of :func:`digitgen.data.decode.decode_mnist` to ``path`` atomically (zlib level 1)."""
    write_npz(path, arrays, compress_level=1)


def load_mnist_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load ``mnist.npz`` and check its contract (keys, dtypes, shapes).

    Returns
    -------
    dict
        ``x_train`` uint8 (N, 28, 28), ``y_train`` uint8 (N,), ``x_test`` uint8
        (M, 28, 28), ``y_test`` uint8 (M,).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist (the message says how to create it).
    digitgen.errors.InputError
        Missing key, wrong dtype or wrong shape; the message names the file,
        the key, what was expected and what was found.
    digitgen.errors.CorruptFileError
        A truncated or damaged file.
    """
    arrays = read_npz(
        path,
        [f"{kind}_{split}" for split in SPLIT_NAMES for kind in ("x", "y")],
        what="MNIST arrays",
        remedy="create it with `dvc repro decode` in the digitgen project, or let digitgen fetch MNIST into the user cache",
    )
    for split in SPLIT_NAMES:
        x_key, y_key = f"x_{split}", f"y_{split}"
        n = len(arrays[x_key]) if arrays[x_key].ndim else 0
        for key, expected in ((x_key, (n, 28, 28)), (y_key, (n,))):
            array = arrays[key]
            if array.dtype != np.uint8:
                raise InputError(f"{path}: key {key!r} has dtype {array.dtype}, expected uint8")
            if array.shape != expected:
                raise InputError(f"{path}: key {key!r} has shape {array.shape}, expected {expected}")
    return arrays


