"""Digit banks: labelled 28x28 digit images that datasets draw from, and the one reader of bank files.

A bank on disk (``data/banks/<source>.npz``) holds ``images`` uint8 (N, 28, 28)
and ``labels`` int16 (N,), plus whatever provenance fields its source adds.
A bank of ambiguous digits holds ``labels`` int16 (N, 2) = ``(a, b)``, the two
classes mixed; :func:`load_bank` keeps the pair (``DigitBank.pairs``) and files
each digit under its first class ``a``, the label it gets in a sequence (the
pair stays available through the sequence's ``source_index``).
The ``real`` source is not a file of its own: it is a split of
``data/interim/mnist.npz`` (:func:`digitgen.data.cache.load_real_bank`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from digitgen.arrays import check_digits, check_labels
from digitgen.constants import GENERATED_SOURCES
from digitgen.errors import InputError, invalid
from digitgen.io import read_npz


@dataclass(frozen=True)
class DigitBank:
    """Labelled digit images.

    Attributes
    ----------
    name : source name (``real``, ``kde``, ...).
    images : uint8 (N, 28, 28), 0 = background, 255 = ink.
    labels : int16 (N,), digits 0-9: the label each digit gets in a dataset.
    pairs : int16 (N, 2) the two classes ``(a, b)`` of ambiguous digits (``labels`` is then ``pairs[:, 0]``), else None.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    pairs: np.ndarray | None = None

    def __post_init__(self) -> None:
        check_digits(self.images, f"bank {self.name!r}: images")
        check_labels(self.labels, len(self.images), f"bank {self.name!r}: labels")
        if self.pairs is not None:
            check_labels(self.pairs, len(self.images), f"bank {self.name!r}: pairs", columns=2)

    @property
    def intended(self) -> np.ndarray:
        """What each digit is meant to be: int16 (N, 2) pairs for ambiguous digits, else the labels (N,)."""
        return self.labels if self.pairs is None else self.pairs

    @cached_property
    def _rows_by_digit(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        order = np.argsort(self.labels, kind="stable")
        counts = np.bincount(self.labels.astype(np.int64), minlength=10)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        return order, counts, starts

    def draw(self, digits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Pick one random row of the bank for each requested digit.

        Parameters
        ----------
        digits : int array of any shape, values 0-9.
        rng : source of the draw.

        Returns
        -------
        int64 array of the same shape: rows of ``images`` whose label is the digit.
        """
        digits = np.asarray(digits, dtype=np.int64)
        order, counts, starts = self._rows_by_digit
        missing = sorted(set(np.unique(digits).tolist()) - set(np.flatnonzero(counts).tolist()))
        if missing:
            raise InputError(f"bank {self.name!r} holds no image of digit(s) {missing}.")
        picks = rng.integers(0, counts[digits]) if digits.size else np.zeros(0, dtype=np.int64)
        return order[starts[digits] + picks]


def bank_path(banks_dir: str | os.PathLike, name: str) -> Path:
    """Where the bank of generated source ``name`` lives."""
    if name not in GENERATED_SOURCES:
        raise invalid("source", name, f"must be a generated bank, one of {list(GENERATED_SOURCES)} ('real' comes from mnist.npz)")
    return Path(banks_dir) / f"{name}.npz"


def load_bank(path: str | os.PathLike, name: str | None = None) -> DigitBank:
    """Read a bank NPZ (only ``images`` and ``labels``), checking them against the contract.

    ``labels`` int16 (N,) or, for ambiguous digits, (N, 2) (see the module docstring).

    Raises
    ------
    FileNotFoundError
        The file does not exist (the message says how to build it).
    digitgen.errors.InputError
        A missing array, a wrong dtype or shape, labels outside 0-9.
    digitgen.errors.CorruptFileError
        A truncated or damaged file.
    """
    path = Path(path)
    name = name or path.stem
    remedy = f"run the stage that builds it (`dvc repro`) or `dvc checkout {path}`, or stop using the source {name!r}"
    if not path.is_file():
        raise FileNotFoundError(f"bank file {str(path)!r} for source {name!r} does not exist; {remedy}.")
    arrays = read_npz(path, ("images", "labels"), what=f"bank of source {name!r}", remedy=remedy)
    labels = arrays["labels"]
    if labels.dtype != np.int16:
        raise InputError(f"{path}: labels must be int16, found {labels.dtype}.")
    try:
        if labels.ndim == 2 and labels.shape[1:] == (2,):
            return DigitBank(name, arrays["images"], labels[:, 0].copy(), labels)
        return DigitBank(name, arrays["images"], labels)
    except InputError as error:
        raise InputError(f"{path}: {error}") from None

