"""Shared fixtures: tiny synthetic MNIST arrays and files, never downloaded."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
# Stage scripts and `python -m digitgen` started by tests import the package of this checkout.
_ROOT = str(Path(__file__).resolve().parents[1])
os.environ["PYTHONPATH"] = os.pathsep.join([_ROOT, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))])

from synthetic import make_mnist_arrays  # noqa: E402

from digitgen.io import write_npz  # noqa: E402


@pytest.fixture(scope="session")
def mnist_arrays() -> dict[str, np.ndarray]:
    """200 training and 60 test synthetic digits with MNIST's keys and dtypes."""
    return make_mnist_arrays()


@pytest.fixture
def mnist_npz(tmp_path: Path, mnist_arrays: dict[str, np.ndarray]) -> Path:
    """The synthetic arrays written as ``mnist.npz`` (the decode stage's output format)."""
    path = tmp_path / "mnist.npz"
    write_npz(path, mnist_arrays)
    return path
