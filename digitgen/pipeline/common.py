"""What several stages do the same way: the provenance of their training data, text outputs, bank mosaics, training logs."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from digitgen.constants import DIGIT_SIZE
from digitgen.io import atomic_path, sha256_file
from digitgen.pictures import mosaic

logger = logging.getLogger(__name__)


def training_data(mnist: str | os.PathLike, images: int) -> dict[str, Any]:
    """Provenance of a model fitted on the training split of ``mnist``: file name, SHA-256, split, number of images."""
    return {"file": Path(mnist).name, "sha256": sha256_file(mnist), "split": "train", "images": int(images)}


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` as UTF-8 to ``path``, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def bank_mosaic(images: np.ndarray, per_digit: int, columns: int) -> np.ndarray:
    """uint8 mosaic of a bank in digit order (``per_digit`` images of each digit 0-9): one row per digit, its first ``columns`` images."""
    rows = images.reshape(10, per_digit, DIGIT_SIZE, DIGIT_SIZE)[:, :columns]
    return mosaic(rows.reshape(-1, DIGIT_SIZE, DIGIT_SIZE), columns)


def log_training(seconds_per_epoch: list[float], seconds: float) -> None:
    """Log a training run's wall time and its time per epoch (times never go into an output)."""
    logger.info(
        "trained in %.1f s: %d epochs, %.1f s/epoch (median %.1f)",
        seconds, len(seconds_per_epoch), sum(seconds_per_epoch) / len(seconds_per_epoch), float(np.median(seconds_per_epoch)),
    )
