"""Checks of the arrays every part of digitgen passes around: digit images and their labels.

One place for the rules, so that a bank, a generator, the classifier and the
evaluation all refuse the same inputs with the same message.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from digitgen.constants import DIGIT_SIZE
from digitgen.errors import InputError


def check_digits(images: Any, name: str = "images") -> np.ndarray:
    """Return ``images`` as an array if it is uint8 (N, 28, 28), else raise an InputError naming ``name``."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (DIGIT_SIZE, DIGIT_SIZE):
        raise InputError(f"{name} must be uint8 (N, {DIGIT_SIZE}, {DIGIT_SIZE}), got {images.dtype} {images.shape}.")
    return images


def check_images(images: Any, name: str = "images") -> np.ndarray:
    """Return ``images`` as an array if it is uint8 (N, H, W), else raise an InputError naming ``name``."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise InputError(f"{name} must be uint8 (N, H, W), got {images.dtype} {images.shape}.")
    return images


def check_labels(labels: Any, count: int, name: str = "labels", *, columns: int | None = None) -> np.ndarray:
    """Return ``labels`` if they are integers 0-9 of shape (count,) (or (count, columns)), else raise an InputError."""
    labels = np.asarray(labels)
    shape = (count,) if columns is None else (count, columns)
    if labels.shape != shape or not np.issubdtype(labels.dtype, np.integer):
        raise InputError(f"{name} must be integers of shape {shape}, got {labels.dtype} {labels.shape}.")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise InputError(f"{name} must be digits 0-9, found {labels.min()}..{labels.max()}.")
    return labels


def check_training_data(images: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """``images`` uint8 (N, 28, 28) and ``labels`` as int64 (N,) digits 0-9, or raise an InputError."""
    images = check_digits(images)
    return images, check_labels(labels, len(images)).astype(np.int64)
