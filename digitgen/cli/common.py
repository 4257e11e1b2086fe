"""Option types and defaults shared by the sub-commands of ``digitgen``."""

from __future__ import annotations

import argparse
from pathlib import Path

from digitgen.errors import invalid
from digitgen.rules import Int

#: The checkout holding the package (data/ and params.yaml of an editable install inside the project).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: Rule of every ``--seed``.
SEED = Int(0, 2**63 - 1)


def width(text: str) -> int | None:
    """A WIDTH argument: an integer number of pixels, or ``tight`` (None)."""
    if text.lower() in ("tight", "none"):
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"WIDTH == {text!r}, must be an integer number of pixels or 'tight'.") from None


def project_banks() -> Path:
    """The project's ``data/banks`` folder."""
    return PROJECT_ROOT / "data" / "banks"


def project_models() -> Path:
    """The project's ``data/models`` folder."""
    return PROJECT_ROOT / "data" / "models"


def output_file(path: Path, option: str = "--out") -> Path:
    """``path`` if it can be written as a new or replaced file: its folder exists and it is not a folder itself."""
    if path.is_dir():
        raise invalid(option, str(path), "is a folder; give a file name such as out.png")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{option} {str(path)!r}: folder {str(path.parent)!r} does not exist.")
    return path
