"""Benchmark: the COCO, YOLO and Parquet exports of a canvas split against the PNG encoding that bounds them.

Usage::

    python benchmarks/exports.py                       # 10,000 default canvases
    python benchmarks/exports.py --count 4000 --workers 1

A canvas split (default ``canvases`` params, real MNIST training digits) is
written to a temporary folder; then, measured in the same run:

- the baseline: every image of the split encoded as PNG in memory by Pillow at
  the exports' level (:data:`digitgen.exports.records.PNG_LEVEL`), one core;
- ``digitgen export`` (:func:`digitgen.exports.run.export_split`) into each
  format, on ``--workers`` processes (0 = all cores), files written to disk.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from digitgen import canvas_shards
from digitgen.data.cache import default_mnist_npz
from digitgen.exports.reader import iter_shards, open_split
from digitgen.exports.records import png_bytes
from digitgen.exports.run import export_split
from digitgen.params.canvases import CanvasesParams
from digitgen.params.sequences import SplitParams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="mnist.npz (default: the project's, else the user cache)")
    parser.add_argument("--count", type=int, default=10_000, help="canvases of the split exported")
    parser.add_argument("--workers", type=int, default=0, help="export worker processes (0 = all cores)")
    args = parser.parse_args()
    print(f"cores: {len(os.sched_getaffinity(0))}, numpy {np.__version__}")
    mnist = Path(default_mnist_npz(args.data))
    params = dataclasses.replace(CanvasesParams(), splits={"train": SplitParams(args.count), "test": SplitParams(1)}, shard_size=2000)
    with tempfile.TemporaryDirectory(prefix="digitgen-bench-") as work:
        work = Path(work)
        canvas_shards.write_canvases(params, mnist, work / "banks", work / "canvases", None)
        folder = work / "canvases" / "train"
        start = time.perf_counter()
        for _, _, arrays in iter_shards(open_split(folder)):
            for image in arrays["images"]:
                png_bytes(image)
        baseline = args.count / (time.perf_counter() - start)
        print(f"PNG encoding only (read + encode, 1 core)  {baseline:>9,.0f} images/s")
        for fmt in ("coco", "yolo", "parquet"):
            start = time.perf_counter()
            export_split(folder, fmt, work / fmt, workers=args.workers)
            rate = args.count / (time.perf_counter() - start)
            print(f"digitgen export --format {fmt:<8} ({args.workers or 'all'} workers) {rate:>9,.0f} images/s   {rate / baseline:4.2f}x the PNG baseline")


if __name__ == "__main__":
    main()
