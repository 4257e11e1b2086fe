"""Sharded sequence datasets: NPZ shards, a manifest and PNG previews per split.

Layout of ``<out>/<split>/``::

    shard-00000.npz ...  images uint8 (n, 28, W); labels int16 (n, L_max), -1 padded;
                         lengths int16 (n,); boxes int16 (n, L_max, 4), -1 padded;
                         sources int8 (n, L_max) indexing source_names (str),
                         -1 padded; source_index int32 (n, L_max), -1 padded
    manifest.csv         index, shard, row, label, length, sources (one row per sequence)
    preview/<index>_<label>.png
    info.json            parameters, digit sources with their file hashes, versions

Each shard is a pure function of ``(seed, split, shard number)`` and the
parameters, so shards are byte-identical whatever the number of workers.
Workers compose and write one shard at a time, so memory is bounded by the
shard size, not by the dataset size.
"""

from __future__ import annotations

import concurrent.futures
import csv
import io
import json
import logging
import multiprocessing
import os
import platform
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

import digitgen
from digitgen.bank import DigitBank, bank_path, load_bank
from digitgen.compose import compose_batch, ink_extents
from digitgen.io import atomic_directory, sha256_file, write_npz
from digitgen.params import SOURCE_NAMES, SPLIT_NAMES, SequencesParams

logger = logging.getLogger(__name__)

MANIFEST_COLUMNS = ("index", "shard", "row", "label", "length", "sources")
# Stable numbers for the split name in each shard's seed.
_SPLIT_SEED_IDS = {name: number for number, name in enumerate(SPLIT_NAMES)}


@dataclass(frozen=True)
class SourceSpec:
    """Where one digit source of a split comes from (picklable, for worker processes)."""

    name: str
    weight: float
    path: str
    mnist_split: str | None  # for ``real``: which split of mnist.npz; None for bank files


@dataclass(frozen=True)
class SplitSummary:
    """What :func:`emit_split` wrote."""

    split: str
    count: int
    shards: int
    out_dir: Path


# --------------------------------------------------------------------------- sources


def plan_sources(split: str, params: SequencesParams, mnist_path: str | os.PathLike, banks_dir: str | os.PathLike) -> list[SourceSpec]:
    """Resolve the split's source weights to files, failing before any work if one is missing.

    The train split draws real *training* digits, the test split real *test*
    digits only; generated banks are fitted on the training split.
    """
    if split not in params.splits:
        raise ValueError(f"split == {split!r}, params define the splits {sorted(params.splits)}.")
    specs = []
    for name in SOURCE_NAMES:  # fixed order: source numbers in shards do not depend on YAML order
        weight = params.splits[split].sources.get(name, 0.0)
        if weight <= 0:
            continue
        if name == "real":
            path = Path(mnist_path)
            if not path.is_file():
                raise FileNotFoundError(f"MNIST arrays {str(path)!r} do not exist; run `dvc repro decode` first.")
            specs.append(SourceSpec(name, weight, str(path), split))
        else:
            if split == "test":
                raise ValueError(f"the test split draws real MNIST test digits only, got source {name!r}.")
            path = bank_path(banks_dir, name)
            if not path.is_file():
                raise FileNotFoundError(
                    f"bank {str(path)!r} for source {name!r} (sequences.splits.{split}.sources) does not exist; "
                    f"run `dvc repro` to build it or set its weight to 0."
                )
            specs.append(SourceSpec(name, weight, str(path), None))
    return specs


def load_source(spec: SourceSpec) -> DigitBank:
    """Load one source's digits."""
    if spec.mnist_split is not None:
        from digitgen.data.mnist import load_mnist_npz

        arrays = load_mnist_npz(spec.path)
        return DigitBank("real", arrays[f"x_{spec.mnist_split}"], arrays[f"y_{spec.mnist_split}"].astype(np.int16))
    return load_bank(spec.path, spec.name)


class SourcePool:
    """All sources of a split concatenated into one image pool for the composer."""

    def __init__(self, specs: list[SourceSpec]) -> None:
        self.specs = specs
        self.banks = [load_source(spec) for spec in specs]
        self.offsets = np.cumsum([0] + [len(bank.images) for bank in self.banks])[:-1]
        self.images = np.concatenate([bank.images for bank in self.banks]) if len(self.banks) > 1 else self.banks[0].images
        self.extents = ink_extents(self.images)
        weights = np.array([spec.weight for spec in specs], dtype=np.float64)
        self.probabilities = weights / weights.sum()


# --------------------------------------------------------------------------- one shard


def shard_rng(seed: int, split: str, shard: int) -> np.random.Generator:
    """The generator of one shard: a function of (seed, split, shard) only."""
    return np.random.default_rng([seed, _SPLIT_SEED_IDS[split], shard])


def make_shard(pool: SourcePool, params: SequencesParams, split: str, shard: int, size: int) -> dict[str, np.ndarray]:
    """Draw and compose one shard's sequences.

    Returns the shard's arrays (see the module docstring for keys, dtypes, shapes).
    """
    rng = shard_rng(params.seed, split, shard)
    max_length = params.length.max
    lengths = rng.integers(params.length.min, max_length + 1, size=size)
    active = np.arange(max_length)[None, :] < lengths[:, None]
    digit_p = None
    if params.digit_weights is not None:
        digit_p = np.asarray(params.digit_weights, dtype=np.float64)
        digit_p = digit_p / digit_p.sum()
    digits = rng.choice(10, size=(size, max_length), p=digit_p)
    sources = rng.choice(len(pool.banks), size=(size, max_length), p=pool.probabilities)
    source_index = np.full((size, max_length), -1, dtype=np.int64)
    for number, bank in enumerate(pool.banks):
        wanted = active & (sources == number)
        source_index[wanted] = bank.draw(digits[wanted], rng)
    pool_index = np.where(active, pool.offsets[sources] + source_index, -1)
    composed = compose_batch(
        pool.images,
        pool_index,
        (params.spacing.min, params.spacing.max),
        params.width,
        rng=rng,
        mode=params.mode,
        measure=params.spacing.measure,
        align=params.align,
        extents=pool.extents,
    )
    return {
        "images": composed.images,
        "labels": np.where(active, digits, -1).astype(np.int16),
        "lengths": lengths.astype(np.int16),
        "boxes": composed.boxes,
        "sources": np.where(active, sources, -1).astype(np.int8),
        "source_index": source_index.astype(np.int32),
        "source_names": np.array([spec.name for spec in pool.specs]),
    }


def manifest_rows(arrays: Mapping[str, np.ndarray], shard_name: str, first_index: int) -> list[list]:
    """Manifest rows for one shard: index, shard, row, label (e.g. ``2934``), length, sources."""
    names = arrays["source_names"]
    rows = []
    for row, (labels, length, sources) in enumerate(zip(arrays["labels"], arrays["lengths"], arrays["sources"])):
        length = int(length)
        label = "".join(str(int(d)) for d in labels[:length])
        rows.append([first_index + row, shard_name, row, label, length, "|".join(names[s] for s in sources[:length])])
    return rows


def write_previews(arrays: Mapping[str, np.ndarray], preview_dir: Path, first_index: int, limit: int) -> None:
    """Write PNGs ``<index>_<label>.png`` for the shard's sequences whose index is below ``limit``."""
    for row in range(max(0, min(limit - first_index, len(arrays["images"])))):
        length = int(arrays["lengths"][row])
        label = "".join(str(int(d)) for d in arrays["labels"][row, :length])
        Image.fromarray(arrays["images"][row]).save(preview_dir / f"{first_index + row}_{label}.png")


# --------------------------------------------------------------------------- workers

_worker_pool: SourcePool | None = None


def _init_worker(specs: list[SourceSpec]) -> None:
    global _worker_pool
    _worker_pool = SourcePool(specs)


def _shard_task(task: tuple[SequencesParams, str, int, int, int, str]) -> str:
    """Compose and write one shard in a worker; return its manifest rows as CSV text."""
    params, split, shard, size, first_index, out_dir = task
    arrays = make_shard(_worker_pool, params, split, shard, size)
    name = f"shard-{shard:05d}.npz"
    write_npz(Path(out_dir) / name, arrays, params.compress_level)
    write_previews(arrays, Path(out_dir) / "preview", first_index, params.previews)
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(manifest_rows(arrays, name, first_index))
    return text.getvalue()


def _run_tasks(tasks: list[tuple], specs: list[SourceSpec], workers: int) -> Iterator[str]:
    if workers == 1 or len(tasks) == 1:
        _init_worker(specs)
        yield from map(_shard_task, tasks)
        return
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(specs,)) as executor:
        yield from executor.map(_shard_task, tasks)


def resolve_workers(workers: int) -> int:
    """``0`` means all cores available to this process."""
    if workers > 0:
        return workers
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def emit_split(
    split: str,
    params: SequencesParams,
    mnist_path: str | os.PathLike,
    banks_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    workers: int | None = None,
) -> SplitSummary:
    """Write one split's shards, manifest, previews and info into ``out_dir``.

    Everything is written to a temporary folder beside ``out_dir`` that
    replaces it only once complete; on error nothing changes at ``out_dir``.
    ``workers`` overrides ``params.workers`` (0 = all cores).
    """
    specs = plan_sources(split, params, mnist_path, banks_dir)
    if params.width is None:
        raise ValueError("params: sequences.width == None; a dataset needs a fixed integer width (tight images are for single sequences).")
    count = params.splits[split].count
    n_workers = resolve_workers(params.workers if workers is None else workers)
    n_shards = -(-count // params.shard_size)
    out_dir = Path(out_dir)
    with atomic_directory(out_dir) as tmp:
        (tmp / "preview").mkdir()
        tasks = [
            (params, split, shard, min(params.shard_size, count - shard * params.shard_size), shard * params.shard_size, str(tmp))
            for shard in range(n_shards)
        ]
        logger.info("split %s: %d sequences in %d shards, %d worker(s)", split, count, n_shards, min(n_workers, n_shards))
        with open(tmp / "manifest.csv", "w", encoding="utf-8", newline="") as manifest:
            manifest.write(",".join(MANIFEST_COLUMNS) + "\n")
            results = _run_tasks(tasks, specs, min(n_workers, n_shards))
            for text in tqdm(results, total=n_shards, desc=f"{split} shards", unit="shard", disable=None):
                manifest.write(text)
        _write_info(tmp / "info.json", split, params, specs, n_shards)
    return SplitSummary(split, count, n_shards, out_dir)


def _write_info(path: Path, split: str, params: SequencesParams, specs: list[SourceSpec], n_shards: int) -> None:
    """Provenance: the parameters, each source file's SHA-256, library versions. No timestamps."""
    info = {
        "split": split,
        "count": params.splits[split].count,
        "shards": n_shards,
        "shard_size": params.shard_size,
        "image_shape": [28, params.width],
        "max_length": params.length.max,
        "parameters": _jsonable(asdict(params)),
        "sources": [
            {
                "name": spec.name,
                "weight": spec.weight,
                "file": Path(spec.path).name,
                "sha256": sha256_file(spec.path),
                "digits_from": f"mnist {spec.mnist_split} split" if spec.mnist_split else "generated bank (fitted on the training split)",
            }
            for spec in specs
        ],
        "versions": {"digitgen": digitgen.__version__, "numpy": np.__version__, "python": platform.python_version()},
    }
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(info, handle, indent=2, sort_keys=True)
        handle.write("\n")


def _jsonable(value):
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
