"""digitgen: reproducible synthetic handwritten-digit datasets.

Public API (each name is imported on first use, PEP 562, so that importing
one module of the package, e.g. ``digitgen.io``, runs only that module)::

    digitgen.compose_sequence(digits, spacing_range, image_width, *, bank=None, rng=None, ...)
    digitgen.compose_batch(pool, index, spacing_range, width, *, rng, ...)
    digitgen.DigitBank, digitgen.load_real_bank, digitgen.load_bank
    digitgen.emit_split(split, params, mnist_path, banks_dir, out_dir)
    digitgen.load_sequences(path_or_url, split, batch_size=256, shuffle=False, seed=None)
    digitgen.load_params(path)
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("digitgen")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

#: Public name -> the module defining it.
_LAZY = {
    "DigitBank": "digitgen.bank",
    "load_bank": "digitgen.bank",
    "load_real_bank": "digitgen.data.cache",
    "compose_batch": "digitgen.compose",
    "compose_sequence": "digitgen.sequence",
    "emit_split": "digitgen.shards",
    "load_sequences": "digitgen.loader",
    "load_params": "digitgen.params.all",
}
__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'digitgen' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
