"""Digit banks: labelled 28x28 digit images that sequences draw from.

A bank on disk (``data/banks/<source>.npz``) holds ``images`` uint8 (N, 28, 28)
and ``labels`` int16 (N,), plus whatever provenance fields its source adds.
A bank of ambiguous digits holds ``labels`` int16 (N, 2) = ``(a, b)``, the two
classes mixed; :func:`load_bank` files each of its digits under its first
class ``a``, which is the label it gets in a sequence (the pair stays
available through the sequence's ``source_index``).
The ``real`` source is not a file of its own: it is a split of
``data/interim/mnist.npz``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from digitgen.params import DIGIT_SIZE, SOURCE_NAMES


@dataclass(frozen=True)
class DigitBank:
    """Labelled digit images.

    Attributes
    ----------
    name : source name (``real``, ``kde``, ...).
    images : uint8 (N, 28, 28), 0 = background, 255 = ink.
    labels : int16 (N,), digits 0-9.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        images, labels = self.images, self.labels
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (DIGIT_SIZE, DIGIT_SIZE):
            raise ValueError(
                f"bank {self.name!r}: images must be uint8 (N, 28, 28), got {images.dtype} {images.shape}."
            )
        if labels.shape != (len(images),):
            raise ValueError(f"bank {self.name!r}: labels must have shape ({len(images)},), got {labels.shape}.")
        if len(labels) and (labels.min() < 0 or labels.max() > 9):
            raise ValueError(f"bank {self.name!r}: labels must be digits 0-9, found {labels.min()}..{labels.max()}.")

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
            raise ValueError(f"bank {self.name!r} holds no image of digit(s) {missing}.")
        picks = rng.integers(0, counts[digits]) if digits.size else np.zeros(0, dtype=np.int64)
        return order[starts[digits] + picks]


def load_real_bank(split: str = "test", data: str | os.PathLike | None = None) -> DigitBank:
    """Real MNIST digits of ``split`` (``train`` or ``test``) as a bank.

    ``data`` is a path to ``mnist.npz``; by default the project's
    ``data/interim/mnist.npz`` or the user cache (see
    :func:`digitgen.data.mnist.default_mnist_npz`).
    """
    from digitgen.data.mnist import default_mnist_npz, load_mnist_npz

    if split not in ("train", "test"):
        raise ValueError(f"split == {split!r}, must be 'train' or 'test'.")
    arrays = load_mnist_npz(default_mnist_npz(data))
    return DigitBank("real", arrays[f"x_{split}"], arrays[f"y_{split}"].astype(np.int16))


def bank_path(banks_dir: str | os.PathLike, name: str) -> Path:
    """Where the bank of generated source ``name`` lives."""
    if name not in SOURCE_NAMES or name == "real":
        generated = [s for s in SOURCE_NAMES if s != "real"]
        raise ValueError(f"source == {name!r}, generated banks are {generated} ('real' comes from mnist.npz).")
    return Path(banks_dir) / f"{name}.npz"


def load_bank(path: str | os.PathLike, name: str | None = None) -> DigitBank:
    """Read a bank NPZ, checking its ``images`` and ``labels`` against the contract.

    ``labels`` (N, 2) (ambiguous digits) become their first column ``a``.
    """
    path = Path(path)
    name = name or path.stem
    if not path.is_file():
        raise FileNotFoundError(
            f"bank file {str(path)!r} for source {name!r} does not exist; run the pipeline stage that makes it "
            f"(`dvc repro`) or drop {name!r} from the source weights."
        )
    with np.load(path, allow_pickle=False) as archive:
        for key in ("images", "labels"):
            if key not in archive.files:
                raise ValueError(f"{path}: missing array {key!r}; found {sorted(archive.files)}.")
        images, labels = archive["images"], archive["labels"]
    if labels.dtype != np.int16:
        raise ValueError(f"{path}: labels must be int16, found {labels.dtype}.")
    if labels.ndim == 2 and labels.shape[1] == 2:  # ambiguous digits (a, b): filed under a
        labels = labels[:, 0]
    try:
        return DigitBank(name, images, labels)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
