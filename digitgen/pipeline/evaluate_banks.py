"""Stage ``evaluate_banks``: every digit source scored against real MNIST test digits; ``banks.json`` and the bank plots.

Besides the scores in the evaluation classifier's features
(:mod:`digitgen.evaluate.banks`), the stage trains two kinds of classifiers of
its own, never saved and never used elsewhere: one train-on-synthetic
classifier per single-label source (:mod:`digitgen.evaluate.synthetic`) and the
held-out readers that score the ambiguous digits (:mod:`digitgen.evaluate.readers`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence

import numpy as np

from digitgen.bank import DigitBank, load_bank
from digitgen.constants import SOURCE_NAMES
from digitgen.data.mnist import load_mnist_npz
from digitgen.errors import InputError
from digitgen.evaluate.banks import (
    RealReference,
    SourceResult,
    evaluate_real,
    evaluate_source,
    label_accuracy,
    pair_scores,
)
from digitgen.evaluate.outputs import bank_metrics, write_bank_plots, write_json
from digitgen.io import atomic_directory, read_npz
from digitgen.params.evaluate_banks import EvaluateBanksParams
from digitgen.pipeline.inputs import banks_by_name, check_model_file, load_classifier

logger = logging.getLogger(__name__)

#: Source number of the "real + augmented" training set in the train-on-synthetic seeds (after every source's).
REAL_PLUS_AUGMENTED = len(SOURCE_NAMES)


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
    augmented_rows = None
    if "augmented" in params.banks:
        augmented_rows = read_npz(files["augmented"], ("source_index",), what="augmented bank", remedy="run `dvc repro augment`")["source_index"]
    classifier = load_classifier(model)
    reference = RealReference(classifier, arrays["x_train"], arrays["x_test"], arrays["y_test"], params)
    logger.info("real reference (test features, k-NN radii, training subset, pixel baseline): %.1f s", time.perf_counter() - start)
    results = [evaluate_real(reference)]
    for source in sources:
        lap = time.perf_counter()
        results.append(evaluate_source(source, classifier, reference))
        logger.info("source %s: %.1f s", source.name, time.perf_counter() - lap)
    add_train_on_synthetic(params, arrays, classifier.model, results, {s.name: s for s in sources}, augmented_rows)
    add_readers(params, arrays, results)
    with atomic_directory(plots) as folder:
        write_bank_plots(folder, results)
        write_json(metrics, bank_metrics(results))
    logger.info("evaluate_banks took %.1f s in all", time.perf_counter() - start)
    return results


def add_train_on_synthetic(
    params: EvaluateBanksParams,
    arrays: Mapping[str, np.ndarray],
    design,
    results: Sequence[SourceResult],
    sources: Mapping[str, DigitBank],
    augmented_rows: np.ndarray | None,
) -> None:
    """Add ``train_on_synthetic`` (accuracy, per digit, digits, gap to ``real``) to each single-label source's metrics.

    Every classifier starts from the same seeded weights (one seed for all, so that
    the gaps compare the data, not the draws) and trains on its own seeded subset
    of ``train_on_synthetic.digits`` digits. With the ``augmented`` bank, its entry
    also gets ``real_plus_augmented``: the real digits of the ``real`` row plus
    their augmented copies, and its ``gain`` over the ``real`` row.
    """
    settings = params.train_on_synthetic
    if settings.digits == 0:
        return
    from digitgen.evaluate.synthetic import tos_seed, train_on_synthetic, training_rows

    seed = tos_seed(params.seed, 0)
    test_images, test_labels = arrays["x_test"], arrays["y_test"]
    x_train, y_train = arrays["x_train"], arrays["y_train"]
    real_rows = training_rows(len(x_train), settings.digits, params.seed, SOURCE_NAMES.index("real"))
    scores = {"real": train_on_synthetic(design, x_train[real_rows], y_train[real_rows], test_images, test_labels, settings, seed)}
    for name, bank in sources.items():
        if bank.pairs is not None:
            continue  # a pair of labels has no single class to train on
        rows = training_rows(len(bank.images), settings.digits, params.seed, SOURCE_NAMES.index(name))
        scores[name] = train_on_synthetic(design, bank.images[rows], bank.labels[rows], test_images, test_labels, settings, seed)
    reference = scores["real"].accuracy
    by_name = {result.name: result for result in results}
    for name, score in scores.items():
        by_name[name].metrics["train_on_synthetic"] = score.metrics(None if name == "real" else reference)
        logger.info("train-on-synthetic %s: %.4f on the real test digits (%.1f s)", name, score.accuracy, score.seconds)
    if augmented_rows is not None and "augmented" in sources:
        copies = np.flatnonzero(np.isin(augmented_rows, real_rows))
        bank = sources["augmented"]
        images = np.concatenate([x_train[real_rows], bank.images[copies]])
        labels = np.concatenate([y_train[real_rows].astype(np.int64), bank.labels[copies].astype(np.int64)])
        both = train_on_synthetic(design, images, labels, test_images, test_labels, settings, seed)
        entry = by_name["augmented"].metrics["train_on_synthetic"]
        entry["real_plus_augmented"] = {**both.metrics(), "real_digits": int(len(real_rows)), "gain": both.accuracy - reference}
        logger.info("train-on-synthetic real + augmented (%d digits): %.4f (%.1f s)", both.digits, both.accuracy, both.seconds)


def add_readers(params: EvaluateBanksParams, arrays: Mapping[str, np.ndarray], results: Sequence[SourceResult]) -> None:
    """Train the held-out readers and add their readings: ``readers`` (label accuracy per reader) to every source,
    and per reader ``mass``, ``smaller``, ``balanced`` under ``ambiguous.readers`` for pair-label sources."""
    if not params.readers.kinds:
        return
    from digitgen.evaluate.readers import train_readers

    readers = train_readers(arrays["x_train"], arrays["y_train"], params.readers, params.seed)
    for result in results:
        proba = {kind: reader.predict_proba(result.images) for kind, reader in readers.items()}
        result.metrics["readers"] = {kind: label_accuracy(result.labels, p.argmax(1))["overall"] for kind, p in proba.items()}
        if result.labels.ndim == 2:
            scored = {kind: pair_scores(p, result.labels) for kind, p in proba.items()}
            result.reader_pairs = {kind: score.pop("pairs") for kind, score in scored.items()}
            result.metrics["ambiguous"]["readers"] = scored
            logger.info(
                "held-out readers of %s: balanced %s", result.name,
                ", ".join(f"{kind} {score['balanced']:.3f} (mass {score['mass']:.3f})" for kind, score in scored.items()),
            )
