"""Digit generators: one module per generator, one shared protocol.

Every generator follows :class:`DigitGenerator` (scikit-learn estimator
conventions): ``__init__`` stores keyword parameters unchanged, ``fit``
validates them and the data and returns ``self``, learned state ends in
``_``, randomness enters only through a :class:`numpy.random.Generator`, and
a fitted generator is saved as NPZ + JSON, never pickled.

Generators: :mod:`digitgen.generators.kde` (PCA + kernel density).
"""

from __future__ import annotations

import os
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class DigitGenerator(Protocol):
    """What the pipeline, the CLI and the banks rely on in a digit generator."""

    def fit(self, images: np.ndarray, labels: np.ndarray) -> DigitGenerator:
        """Learn from real digits: ``images`` uint8 (N, 28, 28), ``labels`` int (N,) in 0-9; returns ``self``."""
        ...

    def sample(self, n: int, digit: int | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
        """Draw ``n`` digits (all ``digit`` if given) as uint8 (n, 28, 28), 0 = background, 255 = ink."""
        ...

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted state (NPZ arrays + JSON description) to the folder ``path``, atomically."""
        ...

    @classmethod
    def load(cls, path: str | os.PathLike) -> DigitGenerator:
        """Read a generator written by :meth:`save`."""
        ...
