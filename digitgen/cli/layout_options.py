"""The layout options of ``digitgen sequence`` and ``digitgen dataset``: every layout key of the ``sequences`` section.

Each option is ``--<key>`` with its params.yaml key relative to ``sequences``
(``--height 64``, ``--digit.rotation 10``, ``--digit.scale 0.8,1.2``,
``--degrade.blur.p 0.5``), parsed and checked with that key's rule
(:func:`digitgen.sequence.layout_options`), so the CLI, the Python API, the
studio and params.yaml accept exactly the same values, and an option added to
the section is on the command line without code here. ``digitgen sequence``
keeps its classic names for a few (``WIDTH``, ``MIN``, ``--mode``, ...).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from typing import Any

from digitgen.options import format_value

_DEST = "layout:"


def add(parser: argparse.ArgumentParser, skip: Iterable[str] = ()) -> None:
    """Add ``--<key>`` for every layout option but those in ``skip`` to ``parser`` (values as text, parsed later)."""
    from digitgen.sequence import layout_options

    skipped = set(skip)
    group = parser.add_argument_group("layout options (params.yaml keys under sequences; lists comma-separated)")
    for key, option in layout_options().items():
        if key not in skipped:
            group.add_argument(
                "--" + key, dest=_DEST + key, metavar="VALUE",
                help=f"{option.rule.allowed()} (default: {format_value(option.default)})",
            )


def given(args: argparse.Namespace, name: Callable[[str], str] = lambda key: "--" + key) -> dict[str, Any]:
    """Layout option key -> value for the options given, each parsed and checked with its rule (errors name ``name(key)``)."""
    from digitgen.sequence import layout_options

    options = layout_options()
    values = {}
    for dest, text in vars(args).items():
        if dest.startswith(_DEST) and text is not None:
            key = dest.removeprefix(_DEST)
            values[key] = options[key].parse(text, name(key))
    return values
