"""Stage ``classify_digits``: the evaluation classifier's reading of every digit the sequence datasets can draw.

Reads real MNIST (both splits) and every bank the train split gives a weight
(``sequences.splits.train.sources``), and writes ``data/interim/digit_readings.npz``
(:mod:`digitgen.evaluate.readings`), which ``evaluate_sequences`` looks crops up in.
It runs when the classifier or a digit source changes, not when a dataset does.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence

import numpy as np

from digitgen.bank import load_bank
from digitgen.constants import SOURCE_NAMES, SPLIT_NAMES
from digitgen.data.mnist import load_mnist_npz
from digitgen.errors import InputError
from digitgen.evaluate.readings import (
    classify_with,
    images_sha256,
    pool_name,
    read_digits,
    write_readings,
)
from digitgen.pipeline.inputs import banks_by_name, check_model_file, load_classifier

logger = logging.getLogger(__name__)


def run(
    train_sources: Mapping[str, float],
    mnist: str | os.PathLike,
    model: str | os.PathLike,
    banks: Sequence[str | os.PathLike],
    out: str | os.PathLike,
) -> dict[str, np.ndarray]:
    """Read every digit of real MNIST and of each bank with a weight in ``train_sources``; write ``out``.

    Parameters
    ----------
    train_sources : ``sequences.splits.train.sources`` (source -> weight).
    mnist : ``data/interim/mnist.npz``; model : the evaluation classifier (``.keras``).
    banks : bank files ``<source>.npz``; each weighted bank must be among them.
    out : the readings file.

    Returns
    -------
    pool name -> int8 (N,) digits read.
    """
    start = time.perf_counter()
    arrays = load_mnist_npz(mnist)
    check_model_file(model)
    files = banks_by_name(banks)
    pools = {pool_name("real", split): arrays[f"x_{split}"] for split in SPLIT_NAMES}
    for name in SOURCE_NAMES[1:]:
        if train_sources.get(name, 0) > 0:
            if name not in files:
                raise InputError(
                    f"sequences.splits.train.sources gives {name!r} a weight, but --banks names no {name}.npz; "
                    "add data/banks/<source>.npz to the stage's cmd and deps in dvc.yaml.",
                    "sequences.splits.train.sources",
                )
            pools[name] = load_bank(files[name], name).images
    classify = classify_with(load_classifier(model))
    readings = {}
    for name, images in pools.items():
        lap = time.perf_counter()
        readings[name] = (read_digits(images, classify), images_sha256(images))
        logger.info("read %d digits of %s in %.1f s", len(images), name, time.perf_counter() - lap)
    write_readings(out, readings)
    logger.info("classify_digits took %.1f s in all", time.perf_counter() - start)
    return {name: digits for name, (digits, _) in readings.items()}
