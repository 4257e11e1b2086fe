"""The studio's work for one request, run on a worker thread: compose or draw, encode, describe.

Each job returns a :class:`Result`: the bytes of the format asked for (PNG,
NPZ, GIF) or a JSON-ready dict, with the seed and the equivalent command line.
The pictures are made by the functions ``digitgen sequence`` and ``digitgen
sample`` call (:func:`digitgen.sequence.compose_record`,
:mod:`digitgen.sampling`) and encoded by the same PNG writer, so the command
shown writes the same bytes. NPZ downloads hold the arrays of the shard
contract (:data:`digitgen.contract.SHARD_ARRAYS`): a sequence is a one-row
shard; a grid of digits is ``n`` one-digit sequences (boxes = each digit's ink).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from digitgen import contract
from digitgen.compose import ink_extents
from digitgen.io import npz_bytes
from digitgen.pictures import png_bytes
from digitgen.sampling import (
    draw_digits,
    draw_series,
    grid_picture,
    series_animation,
    series_picture,
)
from digitgen.sequence import compose_record
from digitgen.studio.commands import sample_command, sample_file, sequence_command
from digitgen.studio.queries import SampleQuery, SequenceQuery
from digitgen.studio.registry import Registry, classify

MEDIA_TYPES = {"png": "image/png", "npz": "application/octet-stream", "gif": "image/gif", "json": "application/json"}


@dataclass(frozen=True)
class Result:
    """What a job made: ``body`` (bytes) for png/npz/gif, ``data`` for json."""

    format: str
    seed: int
    command: str
    filename: str
    body: bytes = b""
    data: dict[str, Any] = field(default_factory=dict)


def data_uri(png: bytes) -> str:
    """A PNG as a ``data:`` URI for an ``<img>``."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def sequence_job(registry: Registry, query: SequenceQuery) -> Result:
    """One sequence (``/api/sequence``)."""
    bank = registry.sequence_bank(query.source, query.split)
    arrays = compose_record(query.digits, query.layout, bank, np.random.default_rng(query.seed))
    command = sequence_command(query, registry.paths)
    name = "-".join(query.digits)
    if query.format == "npz":
        return Result("npz", query.seed, command, name + ".npz", body=npz_bytes(arrays))
    png = png_bytes(arrays["images"][0])
    if query.format == "png":
        return Result("png", query.seed, command, name + ".png", body=png)
    height, width = arrays["images"].shape[1:]
    data = {
        "digits": query.digits, "seed": query.seed, "command": command, "width": int(width), "height": int(height),
        "source": query.source, "split": query.split if query.source == "real" else None,
        "labels": arrays["labels"][0].tolist(), "boxes": arrays["boxes"][0].tolist(), "source_index": arrays["source_index"][0].tolist(),
        "png": data_uri(png),
    }
    return Result("json", query.seed, command, name + ".json", data=data)


def _digit_arrays(images: np.ndarray, labels: np.ndarray, source: str) -> dict[str, np.ndarray]:
    """``n`` digits as ``n`` one-digit sequences of the shard contract (ambiguous pairs kept under ``pairs``)."""
    n = len(images)
    pairs = labels if labels.ndim == 2 else None
    first = labels[:, 0] if pairs is not None else labels
    arrays = {
        "images": images,
        "labels": first.astype(np.int16)[:, None],
        "lengths": np.ones(n, np.int16),
        "boxes": ink_extents(images)[:, None, :],
        "sources": np.zeros((n, 1), np.int8),
        "source_names": np.array([source]),
        "source_index": np.full((n, 1), -1, np.int32),
    }
    contract.check_shard(arrays, "digits")
    if pairs is not None:
        arrays["pairs"] = pairs.astype(np.int16)
    return arrays


def digits_job(registry: Registry, query: SampleQuery) -> Result:
    """A grid of digits (``/api/digits``)."""
    request = query.request
    registry.require(request.generator)
    drawn = draw_digits(request, registry.models)
    command = sample_command(request, registry.paths)
    filename = sample_file(request, query.format)
    if query.format == "npz":
        return Result("npz", request.seed, command, filename, body=npz_bytes(_digit_arrays(drawn.images, drawn.labels, request.generator)))
    png = png_bytes(grid_picture(drawn, request.columns))
    if query.format == "png":
        return Result("png", request.seed, command, filename, body=png)
    data = {"generator": request.generator, "seed": request.seed, "n": request.n, "columns": min(request.columns, request.n),
            "command": command, "labels": drawn.labels.tolist(), "png": data_uri(png)}
    return Result("json", request.seed, command, filename, data=data)




def ambiguous_job(registry: Registry, query: SampleQuery) -> Result:
    """Interpolation series, the digits the judges keep and the evaluation classifier's reading (``/api/ambiguous``)."""
    request = query.request
    registry.require("ambiguous")
    draw = draw_series(request, registry.models)
    png_command = sample_command(request, registry.paths, series=True)
    gif_command = sample_command(request, registry.paths, gif=True)
    if query.format == "gif":
        return Result("gif", request.seed, gif_command, sample_file(request, "gif"), body=series_animation(draw))
    if query.format == "png":
        return Result("png", request.seed, png_command, sample_file(request), body=png_bytes(series_picture(draw)))
    series, kept = draw.series, draw.kept
    n, steps = series.images.shape[:2]
    proba = classify(registry, np.concatenate([series.images.reshape(n * steps, 28, 28), kept.images]))
    step_proba = None if proba is None else proba[: n * steps].reshape(n, steps, 10)
    kept_proba = None if proba is None else proba[n * steps :]
    if query.format == "npz":
        arrays = {"steps": series.images, "weights": series.weights.astype(np.float32), "chosen": series.chosen.astype(np.int16),
                  "kept": kept.images, "pairs": series.labels.astype(np.int16), "kept_weights": kept.weights}
        if proba is not None:
            arrays["step_proba"], arrays["kept_proba"] = step_proba, kept_proba
        return Result("npz", request.seed, png_command, sample_file(request, "npz"), body=npz_bytes(arrays))
    rows = []
    for i in range(n):
        rows.append({
            "pair": series.labels[i].tolist(),
            "chosen": int(series.chosen[i]),
            "steps": [
                {"weight": float(series.weights[k]), "png": data_uri(png_bytes(series.images[i, k])),
                 "judges_log_odds": None if not np.isfinite(series.judge_log_odds[i, k]) else float(series.judge_log_odds[i, k]),
                 "proba": None if step_proba is None else [round(float(p), 5) for p in step_proba[i, k]]}
                for k in range(steps)
            ],
            "kept": {"weight": float(kept.weights[i]), "png": data_uri(png_bytes(kept.images[i])),
                     "judges_smaller": None if not np.isfinite(kept.judge_smaller[i]) else float(kept.judge_smaller[i]),
                     "proba": None if kept_proba is None else [round(float(p), 5) for p in kept_proba[i]]},
        })
    classifier = registry.status["classifier"]
    data = {"seed": request.seed, "n": n, "series": rows, "png": data_uri(png_bytes(series_picture(draw))),
            "command": png_command, "gif_command": gif_command,
            "classifier": classifier.json()}
    return Result("json", request.seed, png_command, sample_file(request, "json"), data=data)
