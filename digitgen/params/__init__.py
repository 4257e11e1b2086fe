"""Typed, validated ``params.yaml``: one module per section, built on :mod:`digitgen.params.core`.

Importing this package runs nothing else: ``load_params``, ``parse_params``,
``Params`` and ``ParamsError`` are loaded on first use (PEP 562), so a stage
that imports ``digitgen.params.sequences`` depends on that section's code only.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Params": "digitgen.params.all",
    "load_params": "digitgen.params.all",
    "parse_params": "digitgen.params.all",
    "ParamsError": "digitgen.errors",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'digitgen.params' has no attribute {name!r}")
