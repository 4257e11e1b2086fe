"""The ``digitgen`` command: one module per sub-command, each with ``register(commands)`` and ``run(args)``.

:func:`digitgen.cli.app.main` builds the parser and runs a sub-command; it
is imported on first use (PEP 562), so the sub-command modules can import
:mod:`digitgen.cli.common` without an import cycle.
"""

from __future__ import annotations

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    if name in ("main", "build_parser"):
        return getattr(importlib.import_module("digitgen.cli.app"), name)
    raise AttributeError(f"module 'digitgen.cli' has no attribute {name!r}")
