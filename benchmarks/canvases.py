"""Benchmark: the canvas composer vs a naive per-canvas Pillow loop, and the canvases stage end to end.

Usage::

    python benchmarks/canvases.py                     # composer + stage at 100k canvases
    python benchmarks/canvases.py --stage 20000       # a quicker stage run
    python benchmarks/canvases.py --data PATH         # another mnist.npz

Part 1 (one core, in process): one shard of 128 x 128 canvases with 1-5
numbers of 1-3 real MNIST training digits, heights 12-36 px, rotation ±5
degrees, IoU limit 0.1 (the default ``canvases`` params), composed by
:func:`digitgen.canvas_shards.make_canvas_shard` (digit draws, composition,
contract check). The baseline does the same work canvas by canvas the usual
way: each number's digits ``np.hstack``-ed, resized and rotated with Pillow,
placed by rejection sampling against the boxes placed before, pasted with a
pixel-wise maximum.

Part 2: :func:`digitgen.canvas_shards.write_canvases` on all cores (NPZ
shards, manifest, previews, info written to a temporary folder): wall time
and canvases/s, the start-up of the worker pool included.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from digitgen import canvas_shards
from digitgen.canvas import box_iou_ok
from digitgen.data.cache import default_mnist_npz
from digitgen.params.canvases import CanvasesParams
from digitgen.params.sequences import SplitParams
from digitgen.shards import SourcePool, plan_sources


def naive_canvases(images: np.ndarray, labels: np.ndarray, count: int, params: CanvasesParams, rng: np.random.Generator) -> list[np.ndarray]:
    """The per-canvas baseline (see the module docstring)."""
    by_digit = [np.flatnonzero(labels == d) for d in range(10)]
    out = []
    for _ in range(count):
        canvas = np.zeros((params.height, params.width), np.uint8)
        boxes: list[tuple[int, int, int, int]] = []
        for _ in range(rng.integers(params.numbers.min, params.numbers.max + 1)):
            digits = rng.integers(0, 10, rng.integers(params.length.min, params.length.max + 1))
            parts = []
            for position, digit in enumerate(digits):
                if position:
                    parts.append(np.zeros((28, rng.integers(params.spacing.min, params.spacing.max + 1)), np.uint8))
                parts.append(images[rng.choice(by_digit[digit])])
            strip = Image.fromarray(np.hstack(parts))
            height = int(rng.integers(params.number_height[0], params.number_height[1] + 1))
            strip = strip.resize((max(1, round(strip.width * height / 28)), height), Image.Resampling.BILINEAR)
            strip = np.asarray(strip.rotate(rng.uniform(-params.rotation, params.rotation), Image.Resampling.BILINEAR, expand=True))
            h, w = strip.shape
            for _ in range(params.placement_tries):
                x, y = int(rng.integers(0, params.width - w + 1)), int(rng.integers(0, params.height - h + 1))
                box = (x, y, x + w, y + h)
                if all(box_iou_ok(np.array(box), np.array(other), params.max_iou) for other in boxes):
                    boxes.append(box)
                    np.maximum(canvas[y : y + h, x : x + w], strip, out=canvas[y : y + h, x : x + w])
                    break
        out.append(canvas)
    return out


def best_time(function, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def part_composer(mnist: Path, params: CanvasesParams, naive_count: int, shard: int) -> None:
    specs = plan_sources("train", params, mnist, mnist.parent)
    pool = SourcePool(specs)
    with np.load(mnist) as data:
        images, labels = data["x_train"], data["y_train"]
    naive = naive_count / best_time(lambda: naive_canvases(images, labels, naive_count, params, np.random.default_rng(0)), 2)
    print(f"naive per-canvas Pillow loop                   {naive:>10,.0f} canvases/s")
    fast = shard / best_time(lambda: canvas_shards.make_canvas_shard(pool, params, "train", 0, shard), 3)
    print(f"make_canvas_shard, one shard of {shard:>6,}, 1 core {fast:>10,.0f} canvases/s   {fast / naive:5.1f}x naive")


def part_stage(mnist: Path, params: CanvasesParams, count: int) -> None:
    staged = dataclasses.replace(params, splits={"train": SplitParams(count), "test": SplitParams(params.splits["test"].count)}, workers=0, previews=16)
    total = count + staged.splits["test"].count
    with tempfile.TemporaryDirectory(prefix="digitgen-bench-") as work:
        start = time.perf_counter()
        canvas_shards.write_canvases(staged, mnist, Path(work) / "banks", Path(work) / "canvases", None)
        elapsed = time.perf_counter() - start
        on_disk = sum(p.stat().st_size for p in Path(work).rglob("*") if p.is_file())
    print(f"write_canvases, {total:>8,} canvases (train + test), all cores: {elapsed:6.1f} s  {total / elapsed:>9,.0f} canvases/s  on disk {on_disk / 2**20:6.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="mnist.npz (default: the project's, else the user cache)")
    parser.add_argument("--naive", type=int, default=1000, help="canvases for the naive loop")
    parser.add_argument("--shard", type=int, default=5000, help="canvases of the one shard composed in process")
    parser.add_argument("--stage", type=int, default=100_000, help="train canvases of the stage run (plus the default test split)")
    args = parser.parse_args()
    print(f"cores: {len(os.sched_getaffinity(0))}, numpy {np.__version__}")
    mnist = Path(default_mnist_npz(args.data))
    params = CanvasesParams()
    part_composer(mnist, params, args.naive, args.shard)
    part_stage(mnist, params, args.stage)


if __name__ == "__main__":
    main()
