"""Sharded detection-canvas datasets: one shard made and written, the canvas kind of :mod:`digitgen.writer`, info and metrics.

Layout of ``<out>/<split>/`` (the contract: :mod:`digitgen.canvas_contract`)::

    shard-00000.npz ...  images uint8 (n, H, W); digit_labels int16 (n, K); digit_boxes int16 (n, K, 4);
                         digit_number int16 (n, K); number_boxes int16 (n, M, 4); number_labels str (n, M);
                         sources int8 (n, K), source_names str (S,), source_index int32 (n, K); -1 / '' padded
    manifest.csv         index, shard, row, label, numbers, digits, sources (one row per canvas)
    preview/<index>_<label>.png
    info.json            kind, parameters, digit sources with their file hashes, statistics, versions
    coco/ yolo/ parquet/ the exports listed in ``canvases.formats`` (:mod:`digitgen.exports`)

The digit sources and the split rule are the sequences stage's
(:func:`digitgen.shards.plan_sources`: test canvases draw real MNIST test
digits only). Each shard is a pure function of ``(seed, split, shard number)``
and the parameters, so the bytes do not depend on the executor or the number of workers.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

import numpy as np

from digitgen import canvas_contract, contract, writer
from digitgen.canvas import CanvasLayout, compose_canvases
from digitgen.degrade import degrade
from digitgen.exports.assemble import write_shard_exports
from digitgen.io import npz_bytes
from digitgen.params.canvases import CanvasesParams
from digitgen.shards import (
    SourcePool,
    SourceSpec,
    SplitSummary,
    plan_sources,
    png_bytes,
    shard_rng,
    source_provenance,
    write_info_file,
)
from digitgen.storage import Destination
from digitgen.writer import ShardDone, ShardTask


def make_canvas_shard(pool: SourcePool, params: CanvasesParams, split: str, shard: int, size: int) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Draw and compose one shard's canvases.

    Returns the shard's arrays (keys, dtypes, shapes: the module docstring), checked against
    :func:`digitgen.canvas_contract.check_shard` and its value rules, and the placement counts
    ``numbers_drawn``, ``numbers_dropped``, ``canvases_reduced``.
    """
    rng = shard_rng(params.seed, split, shard)
    slots, length = params.numbers.max, params.length.max
    numbers = rng.integers(params.numbers.min, slots + 1, size=size)
    lengths = rng.integers(params.length.min, length + 1, size=(size, slots))
    active = (np.arange(slots)[None, :, None] < numbers[:, None, None]) & (np.arange(length)[None, None, :] < lengths[:, :, None])
    digit_p = None
    if params.digit_weights is not None:
        digit_p = np.asarray(params.digit_weights, dtype=np.float64)
        digit_p = digit_p / digit_p.sum()
    digits = rng.choice(10, size=(size, slots, length), p=digit_p)
    sources = rng.choice(len(pool.banks), size=(size, slots, length), p=pool.probabilities)
    source_index = np.full((size, slots, length), -1, dtype=np.int64)
    for number, bank in enumerate(pool.banks):
        wanted = active & (sources == number)
        source_index[wanted] = bank.draw(digits[wanted], rng)
    pool_index = np.where(active, pool.offsets[sources] + source_index, -1)
    batch = compose_canvases(pool.images, pool_index, CanvasLayout.of(params), rng=rng, extents=pool.extents)

    kept = batch.digit_slot >= 0
    slot = np.maximum(batch.digit_slot, 0)
    gather = lambda values: np.where(kept, np.take_along_axis(values.reshape(size, -1), slot, 1), canvas_contract.PAD)  # noqa: E731
    digit_labels = gather(digits)
    arrays = {
        "images": degrade(batch.images, params.degrade, rng),
        "digit_labels": digit_labels.astype(np.int16),
        "digit_boxes": batch.digit_boxes,
        "digit_number": batch.digit_number,
        "number_boxes": batch.number_boxes,
        "number_labels": canvas_contract.number_labels_of(digit_labels, batch.digit_number.astype(np.int64), kept, slots).astype(f"<U{length}"),
        "sources": gather(sources).astype(np.int8),
        "source_index": gather(source_index).astype(np.int32),
        "source_names": np.array([spec.name for spec in pool.specs]),
    }
    name = f"{split} shard {contract.shard_file(shard)}"
    layout = canvas_contract.check_shard(arrays, name)
    broken = [(rule, int(bad.sum())) for rule, bad in canvas_contract.value_problems(arrays, layout, params.max_iou) if bad.any()]
    if broken:  # a bug, never bad input: the composer must keep the contract
        raise RuntimeError(f"{name}: the composed canvases break their contract: {broken}")
    counts = {"numbers_drawn": int(numbers.sum()), "numbers_dropped": batch.dropped, "canvases_reduced": batch.reduced}
    return arrays, counts


def shard_statistics(arrays: Mapping[str, np.ndarray], counts: Mapping[str, int], max_numbers: int) -> dict[str, list[int]]:
    """Counts of one shard, summed over shards into info.json: digits, numbers per canvas, digit sources, placement."""
    labels = arrays["digit_labels"]
    per_canvas = canvas_contract.number_active(arrays).sum(1)
    return {
        "digits": np.bincount(labels[labels >= 0], minlength=10).tolist(),
        "numbers": np.bincount(per_canvas, minlength=max_numbers + 1).tolist(),
        "sources": np.bincount(arrays["sources"][arrays["sources"] >= 0], minlength=len(arrays["source_names"])).tolist(),
        "placement": [counts["numbers_drawn"], counts["numbers_dropped"], counts["canvases_reduced"]],
    }


def run_canvas_shard(pool: SourcePool, item: tuple[CanvasesParams, ShardTask]) -> ShardDone:
    """Executor work item: compose one shard, write its NPZ, previews and exports; return its manifest rows, statistics and export records."""
    params, task = item
    arrays, counts = make_canvas_shard(pool, params, task.split, task.shard, task.size)
    stem = f"shard-{task.shard:05d}"
    task.destination.write(f"{stem}.npz", npz_bytes(arrays, params.compress_level))
    for row in range(max(0, min(params.previews - task.first_index, task.size))):
        label = "-".join(label for label in arrays["number_labels"][row].tolist() if label)
        task.destination.write(f"preview/{task.first_index + row}_{label}.png", png_bytes(arrays["images"][row]))
    columns = canvas_contract.manifest_columns(arrays, f"{stem}.npz", task.first_index)
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(zip(*(columns[name].tolist() for name in canvas_contract.MANIFEST_COLUMNS)))
    n_shards = -(-params.splits[task.split].count // params.shard_size)
    exports = write_shard_exports(params.formats, canvas_contract.KIND, task.split, arrays, task.shard, n_shards, task.first_index, task.destination)
    return ShardDone(text.getvalue(), shard_statistics(arrays, counts, params.numbers.max), exports)


def write_info(destination: Destination, split: str, params: CanvasesParams, specs: list[SourceSpec], n_shards: int, totals: dict[str, list[int]]) -> None:
    """Provenance and statistics of a canvas split: parameters, each source file's SHA-256, counts, versions. No timestamps."""
    drawn, dropped, reduced = totals["placement"]
    info = {
        "kind": canvas_contract.KIND,
        "split": split,
        "count": params.splits[split].count,
        "shards": n_shards,
        "shard_size": params.shard_size,
        "formats": list(params.formats),
        "image_shape": [params.height, params.width],
        "max_numbers": params.numbers.max,
        "max_digits": params.max_digits,
        "max_iou": params.max_iou,
        "parameters": _jsonable(asdict(params)),
        "sources": source_provenance(specs),
        "statistics": {
            "digit_counts": totals["digits"],
            "number_counts": totals["numbers"],
            "source_counts": dict(zip([spec.name for spec in specs], totals["sources"])),
            "numbers_drawn": drawn,
            "numbers_dropped": dropped,
            "canvases_reduced": reduced,
        },
    }
    write_info_file(destination, info)


#: The canvas datasets, for :mod:`digitgen.writer`.
CANVASES = writer.DatasetKind(canvas_contract.KIND, canvas_contract.MANIFEST_COLUMNS, SourcePool, run_canvas_shard, write_info, "canvases")


def canvas_metrics(summaries: list[SplitSummary]) -> dict[str, dict]:
    """DVC metrics of written canvas splits: counts, mean numbers and digits per canvas, fractions, numbers left out."""
    metrics = {}
    for summary in summaries:
        stats = summary.statistics
        digits = np.asarray(stats["digits"], dtype=np.float64)
        numbers = np.asarray(stats["numbers"], dtype=np.float64)
        sources = np.asarray(stats["sources"], dtype=np.float64)
        drawn, dropped, reduced = stats["placement"]
        metrics[summary.split] = {
            "count": summary.count,
            "shards": summary.shards,
            "digits": int(digits.sum()),
            "numbers": int((numbers * np.arange(len(numbers))).sum()),
            "mean_numbers": round(float((numbers * np.arange(len(numbers))).sum() / numbers.sum()), 4),
            "mean_digits": round(float(digits.sum() / summary.count), 4),
            "numbers_dropped": dropped,
            "dropped_fraction": round(dropped / drawn, 6) if drawn else 0.0,
            "canvases_reduced": reduced,
            "digit_fraction": {str(d): round(float(f), 4) for d, f in enumerate(digits / digits.sum())},
            "source_fraction": {name: round(float(f), 4) for name, f in zip(summary.source_names, sources / sources.sum())},
        }
    return metrics


def _summary(split: str, count: int, n_shards: int, folder: Path, totals: dict[str, list[int]], specs: list[SourceSpec]) -> SplitSummary:
    return SplitSummary(split, count, n_shards, folder, totals, tuple(spec.name for spec in specs))


def plan_canvas_sources(params: CanvasesParams, mnist_path: str | os.PathLike, banks_dir: str | os.PathLike) -> dict[str, list[SourceSpec]]:
    """Split -> its digit sources resolved to files; fails before any work if one is missing."""
    return {split: plan_sources(split, params, mnist_path, banks_dir, section="canvases") for split in sorted(params.splits)}


def write_canvases(
    params: CanvasesParams,
    mnist_path: str | os.PathLike,
    banks_dir: str | os.PathLike,
    out: str | os.PathLike,
    metrics_path: str | os.PathLike | None,
) -> list[SplitSummary]:
    """What the ``canvases`` stage does: every split into ``out/<split>``, published together, and their metrics."""
    plans = plan_canvas_sources(params, mnist_path, banks_dir)
    return writer.write_splits(CANVASES, params, plans, out, metrics_path, canvas_metrics, _summary)


def _jsonable(value):
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
