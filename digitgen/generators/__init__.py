"""Digit generators: one module per generator, one shared protocol.

Every generator follows :class:`DigitGenerator` (scikit-learn estimator
conventions, :class:`digitgen.generators.base.BaseGenerator`): ``__init__``
stores keyword parameters unchanged (defaults: those of its params.yaml
section), ``fit`` checks them with the rule tables of :mod:`digitgen.params`
and returns ``self``, learned state ends in ``_``, randomness enters only
through a :class:`numpy.random.Generator`, and a fitted generator is saved as
a model folder (:mod:`digitgen.model_folder`), never pickled.

Generators: :mod:`~digitgen.generators.kde` (PCA + kernel density, numerics in
:mod:`~digitgen.generators.density`), :mod:`~digitgen.generators.cvae`
(conditional VAE) and :mod:`~digitgen.generators.ambiguous` (digits between two
classes, with :mod:`~digitgen.generators.geometry` and
:mod:`~digitgen.generators.judges`), both VAEs on the engine of
:mod:`~digitgen.generators.vae`.
"""

from __future__ import annotations

import os
from typing import Protocol

import numpy as np


class DigitGenerator(Protocol):
    """What the pipeline, the CLI and the banks rely on in a digit generator (a static type; ``tests/test_generators.py`` checks the behaviour)."""

    def fit(self, images: np.ndarray, labels: np.ndarray) -> DigitGenerator:
        """Learn from real digits: ``images`` uint8 (N, 28, 28), ``labels`` int (N,) in 0-9; returns ``self``."""
        ...

    def sample(self, n: int, digit: int | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
        """Draw ``n`` digits (all ``digit`` if given) as uint8 (n, 28, 28), 0 = background, 255 = ink."""
        ...

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted state to the model folder ``path``, atomically."""
        ...

    @classmethod
    def load(cls, path: str | os.PathLike) -> DigitGenerator:
        """Read a generator written by :meth:`save`."""
        ...
