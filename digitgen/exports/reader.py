"""The streaming reader of split folders, sequences or canvases: the folder checked first, then one shard at a time.

A split folder is what the ``sequences`` and ``canvases`` stages (or
``digitgen dataset``) write: ``info.json``, ``manifest.csv`` and
``shard-00000.npz``, ``shard-00001.npz``, ... Its kind comes from
``info.json`` (``kind: canvases``; a sequence split's has no ``kind``). Each
shard is read without pickle (:func:`digitgen.io.read_npz`) and checked
against its kind's contract (:mod:`digitgen.contract`, :mod:`digitgen.canvas_contract`)
before any of it is used.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitgen import canvas_contract, contract
from digitgen.errors import InputError, invalid
from digitgen.io import read_npz


@dataclass(frozen=True)
class SplitFolder:
    """A split folder that looked like one: its kind, ``info.json`` and shard files (in order)."""

    path: Path
    kind: str
    split: str
    info: dict
    shards: tuple[Path, ...]
    shard_size: int

    def first_index(self, number: int) -> int:
        """The split index of the first row of shard ``number``."""
        return number * self.shard_size


def open_split(folder: str | os.PathLike, option: str = "DIR") -> SplitFolder:
    """Check that ``folder`` is a split folder digitgen wrote and return what it holds.

    Raises
    ------
    FileNotFoundError
        ``folder`` does not exist.
    digitgen.errors.InputError
        Naming ``option`` and the folder: not a folder, no ``info.json`` / ``manifest.csv`` / shards,
        an unreadable ``info.json``, shards not numbered from 0 without gaps.
    """
    path = Path(folder)
    if not path.exists():
        raise FileNotFoundError(f"{option} {str(path)!r} does not exist.")
    missing = [name for name in ("info.json", "manifest.csv") if not (path / name).is_file()]
    shards = sorted(path.glob(contract.SHARD_GLOB)) if path.is_dir() else []
    if not path.is_dir() or missing or not shards:
        lacking = missing + ([] if shards else [contract.SHARD_GLOB])
        raise invalid(option, str(path), f"is not a split folder written by digitgen (it lacks {', '.join(lacking) or 'nothing but is a file'}); give one such as outputs/canvases/train or outputs/sequences/test")
    try:
        info = json.loads((path / "info.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise invalid(option, str(path), f"is not a readable split folder: info.json is not valid JSON ({error})") from None
    if not isinstance(info, dict):
        raise invalid(option, str(path), "is not a readable split folder: info.json must hold a JSON object")
    expected = [contract.shard_file(i) for i in range(len(shards))]
    if [p.name for p in shards] != expected:
        raise invalid(option, str(path), f"holds shards {[p.name for p in shards][:5]}..., expected {expected[:5]}... numbered without gaps")
    kind = canvas_contract.KIND if info.get("kind") == canvas_contract.KIND else "sequences"
    shard_size = info.get("shard_size")
    if not isinstance(shard_size, int) or shard_size < 1:
        raise invalid(option, str(path), f"is not a readable split folder: info.json shard_size == {shard_size!r}, must be an integer >= 1")
    return SplitFolder(path, kind, str(info.get("split", path.name)), info, tuple(shards), shard_size)


def read_shard(split: SplitFolder, number: int) -> dict[str, np.ndarray]:
    """The arrays of shard ``number``, checked against the split's contract (and its row count against ``shard_size``).

    Raises
    ------
    digitgen.contract.ContractError, digitgen.errors.CorruptFileError
        Naming the shard.
    """
    path = split.shards[number]
    arrays = read_npz(path, what="shard", remedy="re-run the stage that wrote it or `dvc checkout`")
    if split.kind == canvas_contract.KIND:
        layout = canvas_contract.check_shard(arrays, str(path))
    else:
        layout = contract.check_shard(arrays, str(path))
    last = number == len(split.shards) - 1
    if (layout.count != split.shard_size and not last) or layout.count > split.shard_size:
        raise InputError(f"{path}: {layout.count} rows, but info.json says shards hold {split.shard_size}.")
    return arrays


def iter_shards(split: SplitFolder) -> Iterator[tuple[int, int, dict[str, np.ndarray]]]:
    """``(shard number, first index, arrays)`` for every shard, in order, one shard in memory at a time."""
    for number in range(len(split.shards)):
        yield number, split.first_index(number), read_shard(split, number)
