"""Stage ``evaluate_sequences``: both sequence splits checked against their contract, their digits classified.

Writes ``datasets.json`` and the sequence plots; in strict mode a broken
contract or a leak fails the run (:class:`digitgen.errors.RunError`) and
nothing is written. TensorFlow is imported only if some crop is not exactly
a source digit with a known reading (see :mod:`digitgen.evaluate.readings`);
with the default layouts none is, so the stage runs on numpy alone.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from digitgen.bank import load_bank
from digitgen.constants import SPLIT_NAMES
from digitgen.data.mnist import load_mnist_npz
from digitgen.errors import InputError, RunError
from digitgen.evaluate.crops import CropHashes
from digitgen.evaluate.outputs import dataset_metrics, write_json, write_sequence_plots
from digitgen.evaluate.readings import Classify, Readings, load_readings, pool_name
from digitgen.evaluate.sequences import (
    Pool,
    SplitResult,
    check_split,
    make_pool,
    split_source_names,
)
from digitgen.io import atomic_directory
from digitgen.params.evaluate_sequences import EvaluateSequencesParams
from digitgen.pipeline.inputs import banks_by_name, check_model_file, load_classifier

logger = logging.getLogger(__name__)


class LazyClassifier:
    """Classifies crops with the evaluation classifier, loading it (and TensorFlow) only on the first call."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = path
        self.model = None
        self.calls = 0

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        if self.model is None:
            logger.info("%d crops are not exactly a source digit with a reading: loading the classifier", len(inputs))
            self.model = load_classifier(self.path)
        self.calls += 1
        return self.model.features_and_proba(inputs)[1].argmax(1).astype(np.int64)


def split_folders(folders: Sequence[str | os.PathLike]) -> dict[str, Path]:
    """Split name -> folder, for folders named after the splits (``outputs/sequences/train`` ...); every split once."""
    found: dict[str, Path] = {}
    for folder in map(Path, folders):
        if folder.name not in SPLIT_NAMES or folder.name in found:
            raise InputError(f"--sequences must name one folder per split {list(SPLIT_NAMES)}, named after it; got {[str(f) for f in folders]}.", "--sequences")
        if not folder.is_dir():
            raise FileNotFoundError(f"sequence split {str(folder)!r} does not exist; run `dvc repro sequences`.")
        found[folder.name] = folder
    missing = [split for split in SPLIT_NAMES if split not in found]
    if missing:
        raise InputError(f"--sequences names no folder for split(s) {missing}; got {[str(f) for f in folders]}.", "--sequences")
    return {split: found[split] for split in SPLIT_NAMES}


def make_pools(
    mnist: Mapping[str, np.ndarray], train_dir: Path, banks: Mapping[str, Path], readings: Readings
) -> dict[str, dict[str, Pool]]:
    """Split -> source -> the digits its ``source_index`` points into, with their readings where they match.

    The test split draws real MNIST test digits; the train split real training
    digits and every bank its shards name (a source without a bank file is
    left out, and the check reports its digits as unverifiable).
    """
    pools: dict[str, dict[str, Pool]] = {}
    for split in SPLIT_NAMES:
        images = mnist[f"x_{split}"]
        pools[split] = {"real": make_pool("real", images, mnist[f"y_{split}"].astype(np.int16), readings.for_images(pool_name("real", split), images))}
    for name in split_source_names(train_dir):
        if name != "real" and name in banks:
            bank = load_bank(banks[name], name)
            pools["train"][name] = make_pool(name, bank.images, bank.intended, readings.for_images(name, bank.images))
    for split, sources in pools.items():
        for name, pool in sources.items():
            if pool.readings is None:
                logger.warning("no reading of the %s digits of %s matches them: every crop of them is classified", split, name)
    return pools


def run(
    params: EvaluateSequencesParams,
    mnist: str | os.PathLike,
    model: str | os.PathLike,
    banks: Sequence[str | os.PathLike],
    readings: str | os.PathLike,
    sequences: Sequence[str | os.PathLike],
    metrics: str | os.PathLike,
    plots: str | os.PathLike,
    *,
    classify: Classify | None = None,
) -> dict[str, SplitResult]:
    """Check and score every split; write ``metrics`` (``datasets.json``) and the ``plots`` folder.

    Parameters
    ----------
    params : the ``evaluate_sequences`` section.
    mnist : ``data/interim/mnist.npz``; model : the evaluation classifier (``.keras``).
    banks : bank files ``<source>.npz`` the train split may draw (for provenance).
    readings : ``data/interim/digit_readings.npz`` (stage ``classify_digits``).
    sequences : the split folders ``outputs/sequences/train`` and ``outputs/sequences/test``.
    metrics : output JSON; plots : output folder (see :mod:`digitgen.evaluate.outputs`).
    classify : classifies crops without a reading; default: the classifier in ``model``, loaded on first use.

    Raises
    ------
    digitgen.errors.RunError
        In strict mode, when a split breaks its contract or the test split leaks
        training digits; nothing is written then.
    """
    start = time.perf_counter()
    folders = split_folders(sequences)
    arrays = load_mnist_npz(mnist)
    check_model_file(model)
    pools = make_pools(arrays, folders["train"], banks_by_name(banks), load_readings(readings))
    training = CropHashes(np.concatenate([pool.crops for pool in pools["train"].values()]))
    duplicates = training.find(pools["test"]["real"].crops) >= 0
    if duplicates.any():
        logger.warning("%d real test digits equal a training digit in mnist.npz itself", int(duplicates.sum()))
    prepared = time.perf_counter()
    classify = LazyClassifier(model) if classify is None else classify
    checks = {}
    for split in SPLIT_NAMES:
        test = split == "test"
        checks[split] = check_split(
            folders[split], split, pools[split], classify, params,
            training=training if test else None, duplicates=duplicates if test else None,
        )
    checked = time.perf_counter()

    failures = [f"{split}: {message}" for split, check in checks.items() for message in check.messages]
    broken = {split: (c.metrics["contract_errors"], c.metrics.get("leaks", 0)) for split, c in checks.items()}
    for message in failures:
        logger.error("%s", message)
    if params.strict and any(errors or leaks for errors, leaks in broken.values()):
        first = failures[0] if failures else "-"
        summary = "; ".join(f"{split}: {errors} contract errors, {leaks} leaks" for split, (errors, leaks) in broken.items())
        raise RunError(
            f"the sequence datasets break their contract ({summary}); nothing written "
            f"(set evaluate_sequences.strict: false to write the metrics anyway); first: {first}"
        )
    with atomic_directory(plots) as folder:
        write_sequence_plots(folder, checks)
        write_json(metrics, dataset_metrics(checks))
    _log_timings(checks, prepared - start, checked - prepared, time.perf_counter() - checked)
    return checks


def _log_timings(checks: Mapping[str, SplitResult], prepare: float, check: float, write: float) -> None:
    """Where the stage's time went (logs only: timings never go into output files)."""
    steps: dict[str, float] = {}
    for result in checks.values():
        for key, value in result.timings.items():
            steps[key] = steps.get(key, 0) + value
    logger.info(
        "inputs, pools and training hashes %.2f s; splits %.2f s (reading shards %.2f, contract and provenance %.2f, "
        "leak check %.2f, classification %.2f: %d crops looked up, %d classified); outputs %.2f s",
        prepare, check, steps.get("read", 0), steps.get("checks", 0), steps.get("leaks", 0), steps.get("classify", 0),
        steps.get("looked_up", 0), steps.get("classified", 0), write,
    )
