"""The one writer of sharded datasets (sequences and canvases): shards on an executor, then manifest, exports and info.

A dataset kind (:class:`DatasetKind`) says how one shard is made and written
(``work``, run on the executor's workers), the manifest's columns and what
``info.json`` holds; everything else is shared: shard tasks of
``shard_size`` rows, the digit pool built once per worker, the manifest
streamed to a scratch file in shard order, the exports assembled from what
each shard returned (:mod:`digitgen.exports.assemble`), ``info.json``, and
``manifest.csv`` written last (a split is complete once it exists). A stage
publishes all its splits together (:func:`write_splits`): each is assembled
in a temporary folder and swapped into place only once every split is complete.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from digitgen import executors
from digitgen.exports.assemble import EXPORT_FORMATS, assembler
from digitgen.io import atomic_directories, write_json
from digitgen.storage import Destination

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShardTask:
    """One unit of work: shard number ``shard`` of ``split``, ``size`` rows, written into ``destination``."""

    split: str
    shard: int
    size: int
    first_index: int
    destination: Destination


@dataclass(frozen=True)
class ShardDone:
    """What a worker returns for one shard: its manifest rows as CSV text, its statistics and each export's record."""

    manifest: str
    statistics: dict[str, list[int]]
    exports: dict[str, Any]


@dataclass(frozen=True)
class DatasetKind:
    """What the writer needs to know about one kind of dataset.

    Attributes
    ----------
    name : the kind and its params section (``sequences``, ``canvases``), for messages and exports.
    manifest_columns : header of ``manifest.csv``.
    build : ``build(specs)`` -> the state of a worker (the digit pool); module-level, picklable.
    work : ``work(state, (params, ShardTask))`` -> :class:`ShardDone`; module-level, picklable.
    write_info : ``write_info(destination, split, params, specs, n_shards, totals)`` writes ``info.json``.
    unit : what a row is, for logs (``sequences``, ``canvases``).
    """

    name: str
    manifest_columns: tuple[str, ...]
    build: Callable[..., Any]
    work: Callable[[Any, Any], ShardDone]
    write_info: Callable[..., None]
    unit: str


def make_executor(params, workers: int | None = None) -> executors.LocalExecutor | executors.DaskExecutor:
    """The executor a params section asks for (``executor``, ``workers``, ``scheduler``); ``workers`` overrides ``params.workers``."""
    return executors.make_executor(
        params.executor, workers=params.workers if workers is None else workers, scheduler=params.scheduler, timeout=params.scheduler_timeout
    )


def shard_tasks(split: str, count: int, shard_size: int, destination: Destination) -> list[ShardTask]:
    """The tasks of a split of ``count`` rows in shards of ``shard_size``."""
    n_shards = -(-count // shard_size)
    return [ShardTask(split, shard, min(shard_size, count - shard * shard_size), shard * shard_size, destination) for shard in range(n_shards)]


def emit_into(
    destination: Destination,
    executor: executors.LocalExecutor | executors.DaskExecutor,
    kind: DatasetKind,
    split: str,
    params,
    specs: Sequence,
    count: int,
    n_shards: int,
) -> dict[str, list[int]]:
    """Write one split into ``destination``: every shard (on ``executor``), the exports, ``info.json``, then ``manifest.csv``.

    Returns the statistics of the split (each shard's summed).
    """
    tasks = shard_tasks(split, count, params.shard_size, destination)
    assert len(tasks) == n_shards
    logger.info("split %s: %d %s in %d shards on %s", split, count, kind.unit, n_shards, executor.describe(n_shards))
    exports = {fmt: assembler(fmt, kind.name, split) for fmt in params.formats if fmt in EXPORT_FORMATS}
    totals: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory(prefix="digitgen-manifest-") as scratch:
        manifest_path = Path(scratch) / "manifest.csv"
        with open(manifest_path, "w", encoding="utf-8", newline="") as manifest:
            manifest.write(",".join(kind.manifest_columns) + "\n")
            results = executor.map(kind.build, (list(specs),), kind.work, [(params, task) for task in tasks])
            for done in tqdm(results, total=n_shards, desc=f"{split} shards", unit="shard", disable=None):
                manifest.write(done.manifest)
                for key, values in done.statistics.items():
                    totals[key] = [a + b for a, b in zip(totals.get(key, [0] * len(values)), values)]
                for fmt, export in exports.items():
                    export.add(done.exports[fmt])
        for export in exports.values():
            export.finish(destination, scratch)
        kind.write_info(destination, split, params, list(specs), n_shards, totals)
        destination.put("manifest.csv", manifest_path)  # last: marks the split complete
    return totals


def write_splits(
    kind: DatasetKind,
    params,
    plans: Mapping[str, Sequence],
    out: str | os.PathLike,
    metrics_path: str | os.PathLike | None,
    metrics: Callable[[list], dict],
    summary: Callable[..., Any],
) -> list:
    """Every split of a stage into ``out/<split>``, published together, and the stage's metrics.

    ``plans``: split -> its resolved sources (checked before this is called, so a missing input
    fails before anything is written). ``summary(split, count, n_shards, folder, totals, specs)``
    builds what is returned per split and what ``metrics(summaries)`` turns into ``metrics_path``.
    """
    splits = sorted(plans)
    summaries = []
    with make_executor(params) as executor, atomic_directories([Path(out) / split for split in splits]) as temps:
        for split, tmp in zip(splits, temps):
            count = params.splits[split].count
            n_shards = -(-count // params.shard_size)
            totals = emit_into(Destination(str(tmp)), executor, kind, split, params, plans[split], count, n_shards)
            summaries.append(summary(split, count, n_shards, Path(out) / split, totals, plans[split]))
            logger.info("wrote %d %s %s in %d shards", count, split, kind.unit, n_shards)
    if metrics_path is not None:
        write_json(metrics_path, metrics(summaries))
    return summaries
