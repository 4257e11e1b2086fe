"""The evaluation's files: metric JSON with rounded floats, plot tables as CSV, and pictures.

Floats are written to 6 significant digits, so that the same inputs give the
same bytes and experiment tables stay readable. Nothing here computes a metric.

Bank plots (stage ``evaluate_banks``), in one folder: ``mosaics/<source>.png``;
``confusion/<source>.csv`` (single-label sources), columns ``actual, predicted``;
``memorisation/<source>.csv``, columns ``distance, samples, real_test``;
``ambiguous/<source>.csv`` (pair-label sources), columns :data:`PAIR_COLUMNS`;
``ambiguous_readers/<source>.csv`` (pair-label sources scored by held-out readers), columns
:data:`READER_PAIR_COLUMNS`.
Sequence plots (stage ``evaluate_sequences``), in another: ``confusion/sequences-<split>.csv``,
columns ``actual, predicted``; ``sequences/<split>.png``, sample sequences with boxes and labels.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from digitgen.io import atomic_path
from digitgen.io import write_json as _write_sorted_json
from digitgen.pictures import draw_sequences, save_png

if TYPE_CHECKING:  # the writers of one stage do not import the other stage's scoring code
    from digitgen.evaluate.banks import SourceResult
    from digitgen.evaluate.sequences import SplitResult

#: Columns of the per-pair table ``ambiguous/<source>.csv`` (one row per pair, see :func:`digitgen.evaluate.banks.pair_scores`).
PAIR_COLUMNS = ("pair", "count", "mass", "smaller", "balanced")
#: Columns of the per-pair table of the held-out readers ``ambiguous_readers/<source>.csv`` (one row per reader and pair).
READER_PAIR_COLUMNS = ("reader", "pair", "count", "mass", "smaller", "balanced")
#: Columns of every confusion table.
CONFUSION_COLUMNS = ("actual", "predicted")
#: Columns of every memorisation histogram.
HISTOGRAM_COLUMNS = ("distance", "samples", "real_test")


def bank_metrics(results: Sequence[SourceResult]) -> dict:
    """The content of ``banks.json``: source name -> its metrics."""
    return {result.name: result.metrics for result in results}


def dataset_metrics(checks: Mapping[str, SplitResult]) -> dict:
    """The content of ``datasets.json``: split -> its metrics, plus ``messages`` when something failed."""
    return {split: {**check.metrics, **({"messages": check.messages} if check.messages else {})} for split, check in checks.items()}


def write_bank_plots(folder: str | os.PathLike, results: Sequence[SourceResult]) -> None:
    """Write the pictures and plot tables of scored sources into ``folder`` (see the module docstring)."""
    folder = Path(folder)
    for result in results:
        save_png(folder / "mosaics" / f"{result.name}.png", result.examples)
        if result.labels.ndim == 1:
            write_csv(folder / "confusion" / f"{result.name}.csv", CONFUSION_COLUMNS, np.stack([result.labels, result.predicted], 1).tolist())
        write_csv(
            folder / "memorisation" / f"{result.name}.csv", HISTOGRAM_COLUMNS,
            [[row[column] for column in HISTOGRAM_COLUMNS] for row in result.histogram],
        )
        if result.pairs:
            write_csv(
                folder / "ambiguous" / f"{result.name}.csv", PAIR_COLUMNS,
                [[pair, *(v[column] for column in PAIR_COLUMNS[1:])] for pair, v in result.pairs.items()],
            )
        if result.reader_pairs:
            write_csv(
                folder / "ambiguous_readers" / f"{result.name}.csv", READER_PAIR_COLUMNS,
                [
                    [reader, pair, *(v[column] for column in READER_PAIR_COLUMNS[2:])]
                    for reader, pairs in result.reader_pairs.items()
                    for pair, v in pairs.items()
                ],
            )


def write_sequence_plots(folder: str | os.PathLike, checks: Mapping[str, SplitResult]) -> None:
    """Write the confusion tables and sample pictures of checked splits into ``folder`` (see the module docstring)."""
    folder = Path(folder)
    for split, check in checks.items():
        if len(check.labels):
            write_csv(folder / "confusion" / f"sequences-{split}.csv", CONFUSION_COLUMNS, np.stack([check.labels, check.predicted], 1).tolist())
        preview = check.preview
        if len(preview["labels"]):
            picture = draw_sequences(preview["images"], preview["boxes"], preview["labels"], preview.get("predicted"))
            save_png(folder / "sequences" / f"{split}.png", picture)


def rounded(value):
    """``value`` with floats to 6 significant digits and numpy scalars as Python numbers (JSON-ready)."""
    if isinstance(value, Mapping):
        return {str(k): rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value


def write_json(path: str | os.PathLike, data: Mapping) -> None:
    """Write ``data`` as sorted, indented JSON with floats to 6 significant digits, atomically."""
    _write_sorted_json(path, rounded(data))


def write_csv(path: str | os.PathLike, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
    """Write a CSV table atomically; floats to 6 significant digits."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(list(columns))
        writer.writerows([rounded(list(row)) for row in rows])
