"""The evaluation classifier's reading of every digit a sequence can be built from, computed once per digit.

A digit cut from a sequence by its box and centred (:mod:`digitgen.evaluate.crops`)
is, byte for byte, the digit's own centred ink crop whenever nothing else
shares its box (no neighbour overlapping it). So instead of running the
classifier on every crop of every sequence each time a dataset changes, the
stage ``classify_digits`` reads every digit of every source once
(:func:`read_digits`), and the sequence check (:mod:`digitgen.evaluate.sequences`)
looks a crop's reading up by its ``(source, source_index)`` after checking that
the crop equals that digit's canonical crop; any other crop is classified.
The result is the same as classifying each crop: a lookup is only taken for
an input the classifier has already read.

File (``data/interim/digit_readings.npz``): per pool ``<name>`` an int8 (N,)
array of predicted digits and ``<name>.sha256``, a 0-d string array holding the
SHA-256 of the pool's images, so that a reading is never used for other digits
than the ones read. Pool names: :func:`pool_name`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from digitgen.evaluate.crops import classifier_inputs
from digitgen.io import read_npz, write_npz

#: Maps uint8 (K, 28, 28) classifier inputs to int (K,) digits.
Classify = Callable[[np.ndarray], np.ndarray]
#: Digits classified at once by :func:`read_digits` (the classifier batches within).
_BATCH = 20000


def pool_name(source: str, split: str) -> str:
    """The name of a pool in the readings file: ``real_train`` / ``real_test`` for MNIST, the bank's name otherwise."""
    return f"real_{split}" if source == "real" else source


def images_sha256(images: np.ndarray) -> str:
    """Hex SHA-256 of an image array's shape and bytes (C order)."""
    digest = hashlib.sha256(repr(tuple(images.shape)).encode())
    digest.update(np.ascontiguousarray(images).data)
    return digest.hexdigest()


def classify_with(model) -> Classify:
    """A :data:`Classify` from any object with ``features_and_proba(images)`` (a :class:`digitgen.evaluate.banks.FeatureModel`)."""
    return lambda inputs: model.features_and_proba(inputs)[1].argmax(1).astype(np.int64)


def read_digits(images: np.ndarray, classify: Classify) -> np.ndarray:
    """int8 (N,): the digit ``classify`` reads in each uint8 (N, 28, 28) digit placed as a sequence crop.

    ``classify`` maps uint8 (K, 28, 28) classifier inputs to int (K,) digits.
    """
    out = np.empty(len(images), np.int8)
    for start in range(0, len(images), _BATCH):
        out[start : start + _BATCH] = classify(classifier_inputs(images[start : start + _BATCH]))
    return out


@dataclass(frozen=True)
class Readings:
    """Readings of some pools: pool name -> (int8 (N,) digits, SHA-256 of the images read)."""

    pools: Mapping[str, tuple[np.ndarray, str]]

    def for_images(self, name: str, images: np.ndarray) -> np.ndarray | None:
        """The readings of pool ``name`` if they were made from exactly ``images``, else None."""
        entry = self.pools.get(name)
        if entry is None or len(entry[0]) != len(images) or entry[1] != images_sha256(images):
            return None
        return entry[0]


def write_readings(path: str | os.PathLike, readings: Mapping[str, tuple[np.ndarray, str]]) -> None:
    """Write pool name -> (digits, images SHA-256) as the readings NPZ, atomically and byte-reproducibly."""
    arrays = {}
    for name, (digits, sha) in sorted(readings.items()):
        arrays[name] = np.asarray(digits, np.int8)
        arrays[f"{name}.sha256"] = np.array(sha)
    write_npz(path, arrays, compress_level=1)


def load_readings(path: str | os.PathLike) -> Readings:
    """Read a readings NPZ written by :func:`write_readings` (see the module docstring)."""
    arrays = read_npz(path, what="digit readings", remedy="run `dvc repro classify_digits`")
    pools = {}
    for name, digits in arrays.items():
        if name.endswith(".sha256"):
            continue
        sha = arrays.get(f"{name}.sha256")
        if digits.dtype != np.int8 or digits.ndim != 1 or sha is None or sha.dtype.kind != "U":
            raise ValueError(f"digit readings {str(path)!r}: {name!r} must be int8 (N,) with a {name}.sha256 string; run `dvc repro classify_digits`.")
        pools[name] = (digits, str(sha))
    return Readings(pools)
