"""DVC stage ``evaluate``: score every digit source and check the sequence datasets.

Inputs:  ``--mnist`` data/interim/mnist.npz; ``--model`` data/models/classifier.keras;
         ``--banks`` data/banks/<source>.npz for each source in ``evaluate.banks``;
         ``--sequences`` outputs/sequences/{train,test}/ (shards, manifest.csv, info.json)
Outputs: ``--bank-metrics`` outputs/metrics/banks.json: per source (``real`` first, as the
         reference row) label accuracy, FCD with its real baseline, KID and its std, precision,
         recall, memorisation, ambiguous (mass on the intended pair, smaller of the two
         probabilities, balanced = fraction of samples whose smaller probability is >= 0.25);
         ``--dataset-metrics`` outputs/metrics/datasets.json: per split contract errors, leaks,
         digit/sequence accuracy of the digits cropped by their boxes;
         ``--plots`` outputs/plots/evaluate/: mosaics/<source>.png, confusion/<source>.csv and
         confusion/sequences-<split>.csv (actual, predicted), memorisation/<source>.csv (histograms),
         ambiguous/<source>.csv (pair, count, mass, smaller, balanced; sources with pair labels only),
         sequences/<split>.png (sample sequences with their boxes).
         Timings go to the log only, so reruns give identical files.
Params:  evaluate (seed, banks, samples, kid_subsets, kid_subset_size, nearest_k, memorisation_samples,
         mosaic_per_digit, sequences_checked, sequence_previews, strict)
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from digitgen.bank import bank_path
from digitgen.constants import SPLIT_NAMES
from digitgen.data.mnist import load_mnist_npz
from digitgen.evaluate import (
    CropHashes,
    RealReference,
    SourceDigits,
    bank_metrics,
    check_split,
    dataset_metrics,
    digit_crops_of,
    evaluate_real,
    evaluate_source,
    load_source,
    split_source_names,
    write_json,
    write_plots,
)
from digitgen.io import atomic_directory
from digitgen.params.core import parse_section, read_params_file
from digitgen.params.evaluate_banks import EvaluateBanksParams
from digitgen.params.evaluate_sequences import EvaluateSequencesParams

logger = logging.getLogger("evaluate")


class _Clock:
    """Logs the wall time of each step (timings never go into output files)."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()

    def lap(self, what: str) -> None:
        now = time.perf_counter()
        logger.info("%s: %.1f s", what, now - self.last)
        self.last = now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="params file (default: %(default)s)")
    parser.add_argument("--mnist", required=True, help="decoded MNIST arrays (mnist.npz)")
    parser.add_argument("--model", required=True, help="the evaluation classifier (.keras)")
    parser.add_argument("--banks", required=True, help="folder of generated digit banks")
    parser.add_argument("--sequences", required=True, help="folder holding the train/ and test/ sequence splits")
    parser.add_argument("--bank-metrics", required=True, help="output JSON: scores per digit source")
    parser.add_argument("--dataset-metrics", required=True, help="output JSON: checks per sequence split")
    parser.add_argument("--plots", required=True, help="output folder of pictures and plot tables")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    clock = _Clock()

    # Every input is checked before TensorFlow is imported or anything is computed.
    raw = read_params_file(args.params)
    params = parse_section(raw, 'evaluate_banks', EvaluateBanksParams, args.params)
    seq_params = parse_section(raw, 'evaluate_sequences', EvaluateSequencesParams, args.params)
    mnist = load_mnist_npz(args.mnist)
    if not Path(args.model).is_file():
        raise SystemExit(f"--model {args.model!r} does not exist; run `dvc repro train_classifier`.")
    sources = [load_source(bank_path(args.banks, name), name) for name in params.banks]
    split_dirs = {split: Path(args.sequences) / split for split in SPLIT_NAMES}
    for split, folder in split_dirs.items():
        if not folder.is_dir():
            raise SystemExit(f"sequence split {str(folder)!r} does not exist; run `dvc repro sequences`.")
    pools = {"train": {"real": SourceDigits("real", mnist["x_train"], mnist["y_train"].astype(np.int16))},
             "test": {"real": SourceDigits("real", mnist["x_test"], mnist["y_test"].astype(np.int16))}}
    loaded = {source.name: source for source in sources}
    for name in split_source_names(split_dirs["train"]):
        if name not in pools["train"]:
            pools["train"][name] = loaded.get(name) or load_source(bank_path(args.banks, name), name)
    clock.lap("inputs read and checked")

    import tensorflow as tf  # after the checks above: importing TensorFlow takes seconds

    from digitgen.classifier import DigitClassifier

    tf.config.experimental.enable_op_determinism()  # identical features, so identical metric files, on every run
    classifier = DigitClassifier.load(args.model)
    clock.lap("classifier loaded")
    training_digits = np.concatenate([pool.images for pool in pools["train"].values()])
    training = CropHashes(digit_crops_of(training_digits))
    duplicates = training.find(digit_crops_of(mnist["x_test"])) >= 0
    if duplicates.any():
        logger.warning("%d real test digits equal a training digit in mnist.npz itself", int(duplicates.sum()))
    checks = {}
    for split in SPLIT_NAMES:
        test = split == "test"
        checks[split] = check_split(
            split_dirs[split], split, pools[split], classifier, seq_params,
            training=training if test else None, duplicates=duplicates if test else None,
        )
        clock.lap(f"sequences {split}")

    failures = [f"{split}: {message}" for split, check in checks.items() for message in check.messages]
    broken = {split: (c.metrics["contract_errors"], c.metrics.get("leaks", 0)) for split, c in checks.items()}
    if seq_params.strict and any(errors or leaks for errors, leaks in broken.values()):
        summary = ", ".join(f"{split}: {errors} contract errors, {leaks} leaks" for split, (errors, leaks) in broken.items())
        raise SystemExit("evaluate: the sequence datasets break their contract (" + summary + "); nothing written "
                         "(set evaluate.strict: false to write the report anyway):\n  " + "\n  ".join(failures))
    for message in failures:
        logger.error("%s", message)

    reference = RealReference(classifier, mnist["x_train"], mnist["x_test"], mnist["y_test"], params)
    clock.lap("real reference (test features, k-NN radii, training subset, pixel baseline)")
    results = [evaluate_real(reference)]
    clock.lap("source real")
    for source in sources:
        results.append(evaluate_source(source, classifier, reference))
        clock.lap(f"source {source.name}")

    with atomic_directory(args.plots) as plots:
        write_plots(plots, results, checks)
    write_json(args.bank_metrics, bank_metrics(results))
    write_json(args.dataset_metrics, dataset_metrics(checks))
    clock.lap("outputs written")
    logger.info("evaluation took %.1f s in all", time.perf_counter() - clock.start)


if __name__ == "__main__":
    main()
