"""Benchmark: batched augmentation (digitgen.augment) vs the legacy one-image-at-a-time ImageDataGenerator.

Usage::

    python benchmarks/augment.py                 # 60,000 digits per configuration, 3,000 for the legacy loop
    python benchmarks/augment.py --count 20000   # a quicker run
    python benchmarks/augment.py --data PATH     # another mnist.npz

All figures come from one process on real MNIST training digits (uint8 in,
uint8 out), on every core the process may use. The baseline is what the
published MNIST-sequence tool does: the legacy Keras
``ImageDataGenerator(rotation_range=10, width_shift_range=0.2,
height_shift_range=0.2, shear_range=0.2, zoom_range=0, fill_mode='nearest')``
with one ``flow(batch_size=1)`` call per image (importable as
``tf.keras.preprocessing.image.ImageDataGenerator`` in the pinned versions).
The same generator fed whole batches is shown for reference. digitgen is
timed with its default transform set (``params.yaml: augment``), with the
legacy tool's transforms and ranges, and with the affine and elastic parts
alone. Every figure, the baseline's included, is the best of ``--repeats``
runs after a warm-up call; the machine may be shared, so the best run is the
least disturbed one, the baseline is measured before and after digitgen and
the ratios use its faster measurement. The CPU time per digit (all threads of
the process) is less sensitive to other load than the rate.

Stroke sharpness: the share of ink pixels (> 25) that are near full
intensity (> 200); every bilinear resampling lowers it (MNIST: about 0.59).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Callable

import keras
import numpy as np
import scipy
import tensorflow as tf

from digitgen.augment import augment_digits
from digitgen.data.cache import load_real_bank
from digitgen.params.augment import AugmentParams

LEGACY_SETTINGS = dict(rotation_range=10, width_shift_range=0.2, height_shift_range=0.2, shear_range=0.2, zoom_range=0, fill_mode="nearest")


def sharp_share(images: np.ndarray) -> float:
    """Share of ink pixels (> 25) that are near full intensity (> 200)."""
    return float((images > 200).sum() / max((images > 25).sum(), 1))


def best_of(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Shortest wall-clock and process CPU seconds (all threads) of ``repeats`` calls of ``run``."""
    wall = cpu = float("inf")
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        wall, cpu = min(wall, time.perf_counter() - start), min(cpu, time.process_time() - start_cpu)
    return wall, cpu


def legacy_one_at_a_time(images: np.ndarray, repeats: int) -> tuple[float, float]:
    """Best images/s and CPU seconds per image of the legacy generator, one ``flow(batch_size=1)`` call per image."""
    generator = tf.keras.preprocessing.image.ImageDataGenerator(**LEGACY_SETTINGS)
    batch = images[:, :, :, None].astype(np.float32)
    next(generator.flow(batch[:1], batch_size=1, shuffle=False))  # warm-up

    def run() -> None:
        for i in range(len(batch)):
            next(generator.flow(batch[i : i + 1], batch_size=1, shuffle=False))

    wall, cpu = best_of(run, repeats)
    return len(batch) / wall, cpu / len(batch)


def legacy_batched(images: np.ndarray, batch_size: int = 1024) -> float:
    """Images/s of the legacy generator fed whole batches (for reference)."""
    generator = tf.keras.preprocessing.image.ImageDataGenerator(**LEGACY_SETTINGS)
    flow = generator.flow(images[:, :, :, None].astype(np.float32), batch_size=batch_size, shuffle=False)
    start = time.perf_counter()
    for _ in range(len(flow)):
        next(flow)
    return len(images) / (time.perf_counter() - start)


def ours(images: np.ndarray, params: AugmentParams, repeats: int) -> tuple[float, float, float]:
    """Best images/s and CPU seconds per image of :func:`augment_digits` after a warm-up, and the output's sharpness."""
    augment_digits(images[:1024], params)
    wall, cpu = best_of(lambda: augment_digits(images, params), repeats)
    return len(images) / wall, cpu / len(images), sharp_share(augment_digits(images[:10_000], params)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="mnist.npz (default: the project's, else the user cache)")
    parser.add_argument("--count", type=int, default=60_000, help="digits per digitgen configuration")
    parser.add_argument("--legacy-count", type=int, default=3_000, help="digits for the one-at-a-time legacy loop")
    parser.add_argument("--repeats", type=int, default=3, help="runs per digitgen configuration (best is shown)")
    args = parser.parse_args()
    logging.getLogger("digitgen").setLevel(logging.WARNING)

    bank = load_real_bank("train", args.data)
    images = np.resize(bank.images, (args.count, 28, 28))
    print(
        f"cores: {len(os.sched_getaffinity(0))}, tensorflow {tf.__version__}, keras {keras.__version__} "
        f"({keras.backend.backend()}), numpy {np.__version__}, scipy {scipy.__version__}"
    )
    print(f"MNIST training digits: share of ink pixels (> 25) above 200 (sharpness): {sharp_share(images):.3f}")
    legacy, legacy_cpu = legacy_one_at_a_time(images[: args.legacy_count], args.repeats)
    print(
        f"legacy ImageDataGenerator, flow(batch_size=1) per image     {legacy:>9,.0f} digits/s   "
        f"(baseline, {args.legacy_count:,} digits, best of {args.repeats})   cpu {legacy_cpu * 1e6:6.1f} us/digit"
    )
    batched = legacy_batched(images)
    print(f"legacy ImageDataGenerator, flow(batch_size=1024)            {batched:>9,.0f} digits/s   {batched / legacy:5.1f}x baseline")

    default = AugmentParams()
    configurations = [
        ("digitgen default set (" + ", ".join(default.transforms) + ")", default),
        ("digitgen, the legacy tool's transforms and ranges", AugmentParams(transforms=("rotation", "shift", "shear"), rotation=10, shift=0.2, shear=0.2)),
        ("digitgen, affine only (rotation, shift, shear, zoom)", AugmentParams(transforms=("rotation", "shift", "shear", "zoom"))),
        ("digitgen, elastic only (alpha 34, sigma 4)", AugmentParams(transforms=("elastic",))),
    ]
    results = [(label, *ours(images, params, args.repeats)) for label, params in configurations]
    # the machine may be shared: measure the baseline again and compare against its faster run (the conservative ratio)
    again, again_cpu = legacy_one_at_a_time(images[: args.legacy_count], args.repeats)
    print(f"legacy ImageDataGenerator, flow(batch_size=1) per image     {again:>9,.0f} digits/s   (baseline measured again)            cpu {again_cpu * 1e6:6.1f} us/digit")
    legacy, legacy_cpu = max(legacy, again), min(legacy_cpu, again_cpu)
    for label, rate, cpu, sharpness in results:
        print(
            f"{label:<60}{rate:>9,.0f} digits/s   {rate / legacy:5.1f}x baseline   cpu {cpu * 1e6:5.1f} us/digit ({legacy_cpu / cpu:4.1f}x less)   "
            f"sharpness {sharpness:.3f}   ({args.count:,} digits, best of {args.repeats})"
        )


if __name__ == "__main__":
    main()
