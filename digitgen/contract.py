"""The sequence dataset contract, stated once: what a split folder holds and what every shard's arrays must be.

A split folder ``<out>/<split>/`` holds ``shard-00000.npz``, ``shard-00001.npz``,
... (numbered without gaps), ``manifest.csv`` (:data:`MANIFEST_COLUMNS`, one row
per sequence, in shard order), ``info.json`` (of which the checks rely on
:data:`INFO_FIELDS`) and ``preview/``. Each shard holds the arrays of
:data:`SHARD_ARRAYS`; their dimensions agree (:func:`check_shard`), padded slots
hold :data:`PAD` (:func:`value_problems`) and every digit's box lies inside the image;
the manifest agrees with the shards (:func:`manifest_problems`) and so does
``info.json`` (:func:`read_info`).

Three parts of digitgen use this module and nothing else for the format:
the writer (:mod:`digitgen.shards` checks every shard it makes and writes the
manifest with :func:`manifest_columns`), the reader (:mod:`digitgen.loader`
checks every shard it streams) and the checker (:mod:`digitgen.evaluate.sequences`,
which adds what needs the digit sources: provenance, ink and leaks).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitgen.constants import DIGIT_SIZE
from digitgen.errors import InputError

#: Value of every padded slot (after a sequence's length) in the padded arrays.
PAD = -1
#: Height of sequence images by default (``sequences.height``); every image of a split has the split's height.
IMAGE_HEIGHT = DIGIT_SIZE
#: Smallest image height a shard may have, in pixels.
MIN_IMAGE_HEIGHT = 8
#: File names of a split's shards (``shard_file(number)``) and the glob that finds them.
SHARD_GLOB = "shard-*.npz"
#: Columns of ``manifest.csv``, in order.
MANIFEST_COLUMNS = ("index", "shard", "row", "label", "length", "sources")
#: The ``info.json`` fields the checks rely on -> what they must equal.
INFO_FIELDS = {
    "count": "sequences in the split (the shards' rows summed)",
    "shards": "number of shard files",
    "image_shape": "[height, width] of every image",
    "max_length": "slots L of the padded arrays",
}


@dataclass(frozen=True)
class ArraySpec:
    """One array of a shard: its dtype (None: a string array), its dimensions and whether it is padded.

    ``dims`` names each dimension: ``n`` sequences, ``H`` height, ``W`` width,
    ``L`` slots (the longest sequence), ``S`` digit sources; an int is a fixed size.
    """

    key: str
    dtype: np.dtype | None
    dims: tuple[str | int, ...]
    padded: bool
    meaning: str


SHARD_ARRAYS = (
    ArraySpec("images", np.dtype(np.uint8), ("n", "H", "W"), False, "0 = background, 255 = ink"),
    ArraySpec("labels", np.dtype(np.int16), ("n", "L"), True, "the digits 0-9, left to right"),
    ArraySpec("lengths", np.dtype(np.int16), ("n",), False, "digits per sequence, 1..L"),
    ArraySpec("boxes", np.dtype(np.int16), ("n", "L", 4), True, "each digit's ink box x0, y0, x1, y1 (exclusive ends)"),
    ArraySpec("sources", np.dtype(np.int8), ("n", "L"), True, "each digit's source, an index into source_names"),
    ArraySpec("source_index", np.dtype(np.int32), ("n", "L"), True, "each digit's row in its source"),
    ArraySpec("source_names", None, ("S",), False, "the digit sources used, e.g. ['real']"),
)
#: Every key of a shard.
SHARD_KEYS = tuple(spec.key for spec in SHARD_ARRAYS)
#: The keys with one row per sequence (what a loader batches).
BATCH_KEYS = tuple(spec.key for spec in SHARD_ARRAYS if spec.dims[0] == "n")
#: The keys padded with :data:`PAD` after each sequence's length.
PADDED_KEYS = tuple(spec.key for spec in SHARD_ARRAYS if spec.padded)


class ContractError(InputError):
    """A shard or split breaks the sequence dataset contract; the message names the file and the rule."""


@dataclass(frozen=True)
class ShardLayout:
    """The sizes of one shard that passed :func:`check_shard`."""

    count: int
    height: int
    width: int
    max_length: int
    source_names: tuple[str, ...]


def shard_file(number: int) -> str:
    """The file name of shard ``number`` (``shard-00007.npz``)."""
    return f"shard-{number:05d}.npz"


def _dtype_text(spec: ArraySpec) -> str:
    return "a string array" if spec.dtype is None else str(spec.dtype)


def check_shard(arrays: Mapping[str, np.ndarray], name: str) -> ShardLayout:
    """Check that ``arrays`` hold every key with its dtype, dimensions and agreeing sizes.

    Parameters
    ----------
    arrays : key -> array of one shard (extra keys are ignored).
    name : the shard's name, for messages (e.g. ``shard-00003.npz`` or a path).

    Returns
    -------
    ShardLayout

    Raises
    ------
    ContractError
        Naming the shard, the key and what was expected: a missing key, a wrong
        dtype or number of dimensions, or sizes that disagree between keys.
    """
    missing = [key for key in SHARD_KEYS if key not in arrays]
    if missing:
        raise ContractError(f"{name}: missing array(s) {missing}")
    for spec in SHARD_ARRAYS:
        array = arrays[spec.key]
        if spec.dtype is None:
            if array.dtype.kind != "U" or array.ndim != len(spec.dims):
                raise ContractError(f"{name}: {spec.key} must be a 1-D string array, got {array.dtype} {array.shape}")
        elif array.dtype != spec.dtype or array.ndim != len(spec.dims):
            raise ContractError(f"{name}: {spec.key} must be {spec.dtype} with {len(spec.dims)} dimensions, got {array.dtype} {array.shape}")
    images, labels = arrays["images"], arrays["labels"]
    n, length = images.shape[0], labels.shape[1]
    height = images.shape[1]
    if height < MIN_IMAGE_HEIGHT:
        raise ContractError(f"{name}: images are {height} px high, expected at least {MIN_IMAGE_HEIGHT}")
    sizes = {"n": n, "H": height, "W": images.shape[2], "L": length, "S": len(arrays["source_names"])}
    for spec in SHARD_ARRAYS:
        expected = tuple(sizes[d] if isinstance(d, str) else d for d in spec.dims)
        if arrays[spec.key].shape != expected:
            raise ContractError(f"{name}: {spec.key} has shape {arrays[spec.key].shape}, expected {expected}")
    if length < 1:
        raise ContractError(f"{name}: labels have {length} slots, expected at least 1")
    return ShardLayout(n, height, images.shape[2], length, tuple(str(s) for s in arrays["source_names"]))


def agreement_problems(
    layout: ShardLayout, name: str, width: int | None, max_length: int | None, against: str = "info.json / other shards",
    height: int | None = None,
) -> list[str]:
    """What disagrees between a shard and the split it belongs to (``against`` says where the expected sizes come from)."""
    problems = []
    if height is not None and layout.height != height:
        problems.append(f"{name}: images are {layout.height} px high, expected {height} ({against})")
    if width is not None and layout.width != width:
        problems.append(f"{name}: images are {layout.width} px wide, expected {width} ({against})")
    if max_length is not None and layout.max_length != max_length:
        problems.append(f"{name}: labels have {layout.max_length} slots, expected {max_length} ({against})")
    return problems


def active_slots(lengths: np.ndarray, max_length: int) -> np.ndarray:
    """bool (n, L): the slots holding a digit (slot < the sequence's length)."""
    return np.arange(max_length)[None, :] < np.asarray(lengths, np.int64)[:, None]


def value_problems(arrays: Mapping[str, np.ndarray], layout: ShardLayout) -> list[tuple[str, np.ndarray]]:
    """The value rules of a shard that passed :func:`check_shard`, as ``(rule broken, where)`` pairs.

    ``where`` is a bool array indexed by sequence row first ((n,), (n, L) or
    (n, L, 4)); a rule is broken where it is True. Rules: each length is in
    1..L; labels are digits 0-9 and sources index ``source_names`` in the
    active slots, and every padded key holds :data:`PAD` after the length;
    ``source_index`` is >= 0 where active; every active box lies inside the
    image and is not empty (a transformed digit's box may be wider than 28 px).

    Returns every rule with its mask (all-False masks included), so that a
    caller can count and name each kind of violation.
    """
    length = layout.max_length
    lengths = arrays["lengths"].astype(np.int64)
    active = active_slots(lengths, length)
    found = [(f"length outside 1..{length}", (lengths < 1) | (lengths > length))]
    for key, low, high in (("labels", 0, 9), ("sources", 0, len(layout.source_names) - 1)):
        values = arrays[key]
        found.append((f"{key} outside {low}..{high}", active & ((values < low) | (values > high))))
        found.append((f"{key} not -1 after the sequence's length", ~active & (values != PAD)))
    found.append(("source_index not -1 after the sequence's length", ~active & (arrays["source_index"] != PAD)))
    found.append(("source_index negative", active & (arrays["source_index"] < 0)))
    found.append(("boxes not -1 after the sequence's length", ~active[..., None] & (arrays["boxes"] != PAD)))
    found.append((
        f"box outside the image or empty (need 0 <= x0 < x1 <= {layout.width}, 0 <= y0 < y1 <= {layout.height})",
        active & ~boxes_inside(arrays["boxes"], layout),
    ))
    return found


def boxes_inside(boxes: np.ndarray, layout: ShardLayout) -> np.ndarray:
    """bool (n, L): boxes inside the image and not empty."""
    boxes = np.asarray(boxes, np.int64)
    x0, y0, x1, y1 = (boxes[..., i] for i in range(4))
    return (x0 >= 0) & (x1 <= layout.width) & (x0 < x1) & (y0 >= 0) & (y1 <= layout.height) & (y0 < y1)


def manifest_columns(arrays: Mapping[str, np.ndarray], shard_name: str, first_index: int) -> dict[str, np.ndarray]:
    """The manifest rows of one shard, column by column as strings (:data:`MANIFEST_COLUMNS`).

    ``label`` is the active digits joined (``2934``), ``sources`` the active
    digits' source names joined by ``|``; a source number outside
    ``source_names`` is left out (the value rules report it).

    Returns
    -------
    column name -> str array (n,)
    """
    labels, lengths, sources = arrays["labels"], arrays["lengths"].astype(np.int64), arrays["sources"].astype(np.int64)
    n, length = labels.shape
    active = active_slots(lengths, length)
    digits = np.where(active & (labels >= 0) & (labels <= 9), labels.astype(np.int64) + ord("0"), 0).astype(np.uint8)
    # trailing NUL bytes end a numpy bytes string: the active digits of each row, joined
    label = np.ascontiguousarray(digits).view(f"S{length}").ravel().astype(str) if n else np.zeros(0, str)
    names = [str(s) for s in arrays["source_names"]]
    known = active & (sources >= 0) & (sources < len(names))
    code = np.where(known, sources + 1, 0)  # 0 = left out
    unique, inverse = np.unique(code, axis=0, return_inverse=True) if n else (np.zeros((0, length), np.int64), np.zeros(0, np.int64))
    texts = ["|".join(names[c - 1] for c in row if c) for row in unique.tolist()]
    joined = np.array(texts, dtype=str)[inverse.reshape(-1)] if n else np.zeros(0, str)
    return {
        "index": np.arange(first_index, first_index + n).astype(str),
        "shard": np.full(n, shard_name),
        "row": np.arange(n).astype(str),
        "label": label,
        "length": lengths.astype(str),
        "sources": joined,
    }


def manifest_rows(arrays: Mapping[str, np.ndarray], shard_name: str, first_index: int) -> list[list[str]]:
    """The manifest rows of one shard (``index, shard, row, label, length, sources``), as CSV cells."""
    columns = manifest_columns(arrays, shard_name, first_index)
    return [list(row) for row in zip(*(columns[name].tolist() for name in MANIFEST_COLUMNS))]


def manifest_problems(path: str | os.PathLike, expected: Sequence[Mapping[str, np.ndarray]]) -> list[tuple[str, int]]:
    """What is wrong with a split's ``manifest.csv`` given the shards' :func:`manifest_columns` (in shard order).

    It must hold the columns :data:`MANIFEST_COLUMNS` and one row per sequence,
    as the shards say. Returns ``(message, cases)`` pairs (none when it agrees).
    """
    path = Path(path)
    if not path.is_file():
        return [(f"{path.name}: missing", 1)]
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header, rows = (rows[0], rows[1:]) if rows else ([], [])
    columns = list(MANIFEST_COLUMNS)
    if header != columns:
        return [(f"{path.name}: columns {header}, expected {columns}", 1)]
    count = sum(len(part["index"]) for part in expected)
    if len(rows) != count:
        return [(f"{path.name}: {len(rows)} rows, but the shards hold {count} sequences", 1)]
    ragged = [i for i, row in enumerate(rows) if len(row) != len(columns)]
    if ragged:
        return [(f"{path.name}: row {ragged[0]} has {len(rows[ragged[0]])} fields, expected {len(columns)}", len(ragged))]
    if not count:
        return []
    table = np.array(rows, dtype=str)
    wanted = np.stack([np.concatenate([part[column] for part in expected]).astype(str) for column in columns], axis=1)
    differs = (table != wanted).any(axis=1)
    if not differs.any():
        return []
    first = int(np.flatnonzero(differs)[0])
    return [(f"{path.name}: row {first} is {table[first].tolist()}, the shards say {wanted[first].tolist()}", int(differs.sum()))]


def read_info(path: str | os.PathLike) -> tuple[dict, list[str]]:
    """A split's ``info.json`` as a dict (empty when unusable) and what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        return {}, [f"{path.name}: missing (the contract puts one beside the shards)"]
    try:
        with open(path, encoding="utf-8") as handle:
            info = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return {}, [f"{path.name}: not valid JSON: {error}"]
    if not isinstance(info, dict):
        return {}, [f"{path.name}: must hold a JSON object with {sorted(INFO_FIELDS)}"]
    return info, []
