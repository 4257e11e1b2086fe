"""Stage ``evaluate_banks``: every digit source scored against real MNIST test digits; ``banks.json`` and the bank plots."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence

from digitgen.bank import load_bank
from digitgen.data.mnist import load_mnist_npz
from digitgen.errors import InputError
from digitgen.evaluate.banks import (
    RealReference,
    SourceResult,
    evaluate_real,
    evaluate_source,
)
from digitgen.evaluate.outputs import bank_metrics, write_bank_plots, write_json
from digitgen.io import atomic_directory
from digitgen.params.evaluate_banks import EvaluateBanksParams
from digitgen.pipeline.inputs import banks_by_name, check_model_file, load_classifier

logger = logging.getLogger(__name__)


def run(
    params: EvaluateBanksParams,
    mnist: str | os.PathLike,
    model: str | os.PathLike,
    banks: Sequence[str | os.PathLike],
    metrics: str | os.PathLike,
    plots: str | os.PathLike,
) -> list[SourceResult]:
    """Score ``real`` (the reference row) and every bank of ``params.banks``; write ``metrics`` and the ``plots`` folder.

    Parameters
    ----------
    params : the ``evaluate_banks`` section.
    mnist : ``data/interim/mnist.npz``; model : the evaluation classifier (``.keras``).
    banks : bank files ``<source>.npz``; each source of ``params.banks`` must be among them.
    metrics : output JSON (``banks.json``); plots : output folder (see :mod:`digitgen.evaluate.outputs`).

    Every input is checked before TensorFlow is imported; the plots folder is
    published (renamed into place) only after the metrics file is written.
    """
    start = time.perf_counter()
    arrays = load_mnist_npz(mnist)
    check_model_file(model)
    files = banks_by_name(banks)
    missing = [name for name in params.banks if name not in files]
    if missing:
        raise InputError(
            f"evaluate_banks.banks lists {missing}, but --banks names no such file (it names {sorted(files)}); "
            "add data/banks/<source>.npz to the stage's cmd and deps in dvc.yaml, or remove the source from evaluate_banks.banks.",
            "evaluate_banks.banks",
        )
    sources = [load_bank(files[name], name) for name in params.banks]
    classifier = load_classifier(model)
    reference = RealReference(classifier, arrays["x_train"], arrays["x_test"], arrays["y_test"], params)
    logger.info("real reference (test features, k-NN radii, training subset, pixel baseline): %.1f s", time.perf_counter() - start)
    results = [evaluate_real(reference)]
    for source in sources:
        lap = time.perf_counter()
        results.append(evaluate_source(source, classifier, reference))
        logger.info("source %s: %.1f s", source.name, time.perf_counter() - lap)
    with atomic_directory(plots) as folder:
        write_bank_plots(folder, results)
        write_json(metrics, bank_metrics(results))
    logger.info("evaluate_banks took %.1f s in all", time.perf_counter() - start)
    return results
