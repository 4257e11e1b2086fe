"""Sharded sequence datasets: NPZ (and WebDataset tar) shards, a manifest and PNG previews per split.

Layout of ``<out>/<split>/``::

    shard-00000.npz ...  images uint8 (n, H, W); labels int16 (n, L_max), -1 padded;
                         lengths int16 (n,); boxes int16 (n, L_max, 4), -1 padded;
                         sources int8 (n, L_max) indexing source_names (str),
                         -1 padded; source_index int32 (n, L_max), -1 padded
    shard-00000.tar ...  (format webdataset) <index>.png + <index>.json per sequence
    manifest.csv         index, shard, row, label, length, sources (one row per sequence)
    preview/<index>_<label>.png
    info.json            parameters, digit sources with their file hashes, statistics, versions

Each shard is a pure function of ``(seed, split, shard number)`` and the
parameters (its digits, gaps and degradations from one generator, the
per-digit variation from a second one seeded by the same triple, so that
turning it on changes no other draw), so shards are byte-identical whatever the executor (a local
process pool or a Dask cluster) and the number of workers. Workers compose
and write one shard at a time, so memory is bounded by the shard size, not by
the dataset size. ``<out>`` may be a local folder (replaced atomically once
complete) or an fsspec URL (each shard is one atomic upload; a split is
complete once its ``manifest.csv`` exists, which is written last).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import platform
import tarfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

import digitgen
from digitgen import contract, writer
from digitgen.bank import DigitBank, bank_path, load_bank
from digitgen.compose import ink_extents
from digitgen.constants import SOURCE_NAMES, SPLIT_NAMES
from digitgen.data.mnist import load_mnist_npz
from digitgen.executors import DaskExecutor, LocalExecutor
from digitgen.exports.assemble import write_shard_exports
from digitgen.io import (
    atomic_directory,
    npz_bytes,
    sha256_file,
)
from digitgen.layout import Layout, lay_out
from digitgen.params.sequences import SequencesParams
from digitgen.storage import Destination, is_url
from digitgen.writer import ShardDone, ShardTask

logger = logging.getLogger(__name__)

#: Columns of ``manifest.csv`` (the contract's, :data:`digitgen.contract.MANIFEST_COLUMNS`).
MANIFEST_COLUMNS = contract.MANIFEST_COLUMNS
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
    out_dir: Path | str
    statistics: dict[str, list[int]]
    source_names: tuple[str, ...]


# --------------------------------------------------------------------------- sources


def plan_sources(
    split: str, params: SequencesParams, mnist_path: str | os.PathLike, banks_dir: str | os.PathLike, section: str = "sequences"
) -> list[SourceSpec]:
    """Resolve the split's source weights to files, failing before any work if one is missing.

    The train split draws real *training* digits, the test split real *test*
    digits only; generated banks are fitted on the training split. ``params``
    is any section with ``splits`` (``sequences``, ``canvases``: ``section`` names it in messages).
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
                    f"bank {str(path)!r} for source {name!r} ({section}.splits.{split}.sources) does not exist; "
                    f"run `dvc repro` to build it or set its weight to 0."
                )
            specs.append(SourceSpec(name, weight, str(path), None))
    return specs


def load_source(spec: SourceSpec) -> DigitBank:
    """Load one source's digits."""
    if spec.mnist_split is not None:
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

    Returns the shard's arrays (see the module docstring for keys, dtypes, shapes),
    checked against :func:`digitgen.contract.check_shard`.
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
    laid = lay_out(pool.images, pool_index, Layout.of(params), rng=rng, variation_rng=variation_rng(params.seed, split, shard), extents=pool.extents)
    arrays = {
        "images": laid.images,
        "labels": np.where(active, digits, contract.PAD).astype(np.int16),
        "lengths": lengths.astype(np.int16),
        "boxes": laid.boxes,
        "sources": np.where(active, sources, contract.PAD).astype(np.int8),
        "source_index": source_index.astype(np.int32),
        "source_names": np.array([spec.name for spec in pool.specs]),
    }
    contract.check_shard(arrays, f"{split} shard {contract.shard_file(shard)}")
    return arrays


def variation_rng(seed: int, split: str, shard: int) -> np.random.Generator:
    """The generator of one shard's per-digit variation, apart from :func:`shard_rng` (so turning variation on changes no other draw)."""
    return np.random.default_rng([seed, _SPLIT_SEED_IDS[split], shard, 2])


def manifest_rows(arrays: Mapping[str, np.ndarray], shard_name: str, first_index: int) -> list[list[str]]:
    """Manifest rows for one shard: index, shard, row, label (e.g. ``2934``), length, sources (:func:`digitgen.contract.manifest_rows`)."""
    return contract.manifest_rows(arrays, shard_name, first_index)


def png_bytes(image: np.ndarray) -> bytes:
    """A uint8 (H, W) image encoded as PNG."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def sample_record(arrays: Mapping[str, np.ndarray], row: int, index: int, shard_name: str) -> dict:
    """The JSON label record of one sequence (WebDataset ``<index>.json``)."""
    length = int(arrays["lengths"][row])
    labels = [int(d) for d in arrays["labels"][row, :length]]
    return {
        "index": index,
        "shard": shard_name,
        "row": row,
        "label": "".join(map(str, labels)),
        "labels": labels,
        "length": length,
        "boxes": arrays["boxes"][row, :length].tolist(),
        "sources": [str(arrays["source_names"][s]) for s in arrays["sources"][row, :length]],
        "source_index": arrays["source_index"][row, :length].tolist(),
    }


def webdataset_tar(arrays: Mapping[str, np.ndarray], first_index: int, shard_name: str) -> bytes:
    """A WebDataset tar shard: ``<index>.png`` + ``<index>.json`` per sequence, deterministic bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for row in range(len(arrays["images"])):
            key = f"{first_index + row:06d}"
            record = json.dumps(sample_record(arrays, row, first_index + row, shard_name), sort_keys=True).encode()
            for suffix, data in ((".png", png_bytes(arrays["images"][row])), (".json", record)):
                info = tarfile.TarInfo(key + suffix)
                info.size, info.mtime, info.mode = len(data), 0, 0o644
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def shard_statistics(arrays: Mapping[str, np.ndarray]) -> dict[str, list[int]]:
    """Counts of digits, lengths and digit sources in one shard (summed over shards into info.json)."""
    labels = arrays["labels"]
    return {
        "digits": np.bincount(labels[labels >= 0], minlength=10).tolist(),
        "lengths": np.bincount(arrays["lengths"], minlength=labels.shape[1] + 1).tolist(),
        "sources": np.bincount(arrays["sources"][arrays["sources"] >= 0], minlength=len(arrays["source_names"])).tolist(),
    }


def run_shard(pool: SourcePool, params: SequencesParams, task: ShardTask) -> ShardDone:
    """Compose one shard and write its files (NPZ, tar, exports); return its manifest rows as CSV text, statistics and export records."""
    arrays = make_shard(pool, params, task.split, task.shard, task.size)
    stem = f"shard-{task.shard:05d}"
    if "npz" in params.formats:
        task.destination.write(f"{stem}.npz", npz_bytes(arrays, params.compress_level))
    if "webdataset" in params.formats:
        task.destination.write(f"{stem}.tar", webdataset_tar(arrays, task.first_index, stem))
    for row in range(max(0, min(params.previews - task.first_index, task.size))):
        label = "".join(str(int(d)) for d in arrays["labels"][row, : int(arrays["lengths"][row])])
        task.destination.write(f"preview/{task.first_index + row}_{label}.png", png_bytes(arrays["images"][row]))
    text = io.StringIO()
    shard_name = f"{stem}.npz" if "npz" in params.formats else f"{stem}.tar"
    csv.writer(text, lineterminator="\n").writerows(manifest_rows(arrays, shard_name, task.first_index))
    n_shards = -(-params.splits[task.split].count // params.shard_size)
    exports = write_shard_exports(params.formats, "sequences", task.split, arrays, task.shard, n_shards, task.first_index, task.destination)
    return ShardDone(text.getvalue(), shard_statistics(arrays), exports)


def run_shard_item(pool: SourcePool, item: tuple[SequencesParams, ShardTask]) -> ShardDone:
    """:func:`run_shard` as an executor's work item ``(params, task)`` (see :mod:`digitgen.executors`)."""
    return run_shard(pool, *item)


def make_executor(params: SequencesParams, workers: int | None = None) -> LocalExecutor | DaskExecutor:
    """The executor ``params`` ask for; ``workers`` overrides ``params.workers`` (local only)."""
    return writer.make_executor(params, workers)


# --------------------------------------------------------------------------- one split


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

    ``out_dir`` is a local folder, written into a temporary folder beside it
    that replaces it only once complete (on error nothing changes), or an
    fsspec URL (shards are single uploads; ``manifest.csv`` and ``info.json``
    are written last). ``workers`` overrides ``params.workers`` (0 = all cores).
    """
    specs = plan_sources(split, params, mnist_path, banks_dir)
    count = params.splits[split].count
    n_shards = -(-count // params.shard_size)
    with make_executor(params, workers) as executor:  # connects to a cluster before anything is written
        if is_url(out_dir):
            totals = _emit_into(Destination(str(out_dir)), executor, split, params, specs, count, n_shards)
        else:
            with atomic_directory(out_dir) as tmp:
                totals = _emit_into(Destination(str(tmp)), executor, split, params, specs, count, n_shards)
    out = out_dir if is_url(out_dir) else Path(out_dir)
    return SplitSummary(split, count, n_shards, out, totals, tuple(spec.name for spec in specs))


def write_datasets(
    params: SequencesParams,
    mnist_path: str | os.PathLike,
    banks_dir: str | os.PathLike,
    out: str | os.PathLike,
    metrics_path: str | os.PathLike,
) -> list[SplitSummary]:
    """What the ``sequences`` stage does: every split into ``out/<split>``, published together, and their metrics.

    Every split's inputs are checked before anything is written; the splits
    are assembled in temporary folders and swapped into place only once all
    of them are complete, so a failure leaves the previous datasets as they were.
    """
    plans = {split: plan_sources(split, params, mnist_path, banks_dir) for split in sorted(params.splits)}
    return writer.write_splits(SEQUENCES, params, plans, out, metrics_path, dataset_metrics, _summary)


def _summary(split: str, count: int, n_shards: int, folder: Path, totals: dict[str, list[int]], specs: list[SourceSpec]) -> SplitSummary:
    return SplitSummary(split, count, n_shards, folder, totals, tuple(spec.name for spec in specs))


def _emit_into(
    destination: Destination,
    executor: LocalExecutor | DaskExecutor,
    split: str,
    params: SequencesParams,
    specs: list[SourceSpec],
    count: int,
    n_shards: int,
) -> dict[str, list[int]]:
    return writer.emit_into(destination, executor, SEQUENCES, split, params, specs, count, n_shards)


def _write_info(
    destination: Destination, split: str, params: SequencesParams, specs: list[SourceSpec], n_shards: int, totals: dict[str, list[int]]
) -> None:
    """Provenance and statistics: parameters, each source file's SHA-256, counts, versions. No timestamps."""
    info = {
        "split": split,
        "count": params.splits[split].count,
        "shards": n_shards,
        "shard_size": params.shard_size,
        "formats": list(params.formats),
        "image_shape": [params.height, params.width],
        "max_length": params.length.max,
        "parameters": _jsonable(asdict(params)),
        "sources": source_provenance(specs),
        "statistics": {
            "digit_counts": totals["digits"],
            "length_counts": totals["lengths"],
            "source_counts": dict(zip([spec.name for spec in specs], totals["sources"])),
        },
    }
    write_info_file(destination, info)


def source_provenance(specs: list[SourceSpec]) -> list[dict]:
    """Each digit source of a split as ``info.json`` lists it: name, weight, file name, SHA-256, where its digits come from."""
    return [
        {
            "name": spec.name,
            "weight": spec.weight,
            "file": Path(spec.path).name,
            "sha256": sha256_file(spec.path),
            "digits_from": f"mnist {spec.mnist_split} split" if spec.mnist_split else "generated bank (fitted on the training split)",
        }
        for spec in specs
    ]


def write_info_file(destination: Destination, info: dict) -> None:
    """Write a split's ``info.json`` (sorted keys, the versions that made it added, no timestamps)."""
    info = {**info, "versions": {"digitgen": digitgen.__version__, "numpy": np.__version__, "python": platform.python_version()}}
    destination.write("info.json", (json.dumps(info, indent=2, sort_keys=True) + "\n").encode("utf-8"))


#: The sequence datasets, for :mod:`digitgen.writer`.
SEQUENCES = writer.DatasetKind("sequences", MANIFEST_COLUMNS, SourcePool, run_shard_item, _write_info, "sequences")


def dataset_metrics(summaries: list[SplitSummary]) -> dict[str, dict]:
    """DVC metrics of written splits: count, shards, mean length, digit and source fractions."""
    metrics = {}
    for summary in summaries:
        stats = summary.statistics
        digits = np.asarray(stats["digits"], dtype=np.float64)
        lengths = np.asarray(stats["lengths"], dtype=np.float64)
        sources = np.asarray(stats["sources"], dtype=np.float64)
        metrics[summary.split] = {
            "count": summary.count,
            "shards": summary.shards,
            "mean_length": round(float((lengths * np.arange(len(lengths))).sum() / lengths.sum()), 4),
            "digit_fraction": {str(d): round(float(f), 4) for d, f in enumerate(digits / digits.sum())},
            "source_fraction": {name: round(float(f), 4) for name, f in zip(summary.source_names, sources / sources.sum())},
        }
    return metrics


def _jsonable(value):
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
