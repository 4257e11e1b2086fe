"""Inputs the evaluation stages share: bank files named on the command line, and the evaluation classifier."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from digitgen.constants import GENERATED_SOURCES
from digitgen.errors import InputError, invalid

logger = logging.getLogger(__name__)


def banks_by_name(paths: Sequence[str | os.PathLike]) -> dict[str, Path]:
    """Source name -> bank file, for bank files named ``<source>.npz`` (e.g. ``data/banks/kde.npz``).

    Raises
    ------
    InputError
        A file not named after a generated source, or two files of the same source.
    """
    found: dict[str, Path] = {}
    for path in map(Path, paths):
        if path.suffix != ".npz" or path.stem not in GENERATED_SOURCES:
            raise invalid("--banks", str(path), f"must be bank files named <source>.npz, <source> one of {list(GENERATED_SOURCES)}")
        if path.stem in found:
            raise InputError(f"--banks names two files of source {path.stem!r}: {str(found[path.stem])!r} and {str(path)!r}.", "--banks")
        found[path.stem] = path
    return found


def check_model_file(path: str | os.PathLike) -> Path:
    """``path`` if it is a file, else a FileNotFoundError saying how to make it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--model {str(path)!r} does not exist; run `dvc repro train_classifier`.")
    return path


def load_classifier(path: str | os.PathLike):
    """The evaluation classifier (:class:`digitgen.classifier.DigitClassifier`), with TensorFlow's deterministic ops on.

    Imports TensorFlow (seconds): call it after every other input is checked.
    """
    path = check_model_file(path)
    import tensorflow as tf

    from digitgen.classifier import DigitClassifier

    tf.config.experimental.enable_op_determinism()  # identical features, so identical metric files, on every run
    logger.info("loading the classifier %s", path)
    return DigitClassifier.load(path)
