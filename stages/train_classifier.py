"""DVC stage ``train_classifier``: the MNIST CNN used only to evaluate digits, never to make or pick them.

Inputs:  ``--mnist`` data/interim/mnist.npz (fitted on x_train/y_train only; x_test/y_test score it)
Outputs: ``--model`` data/models/classifier.keras; ``--info`` data/models/classifier.json (provenance:
         parameters, SHA-256 of the data, digit counts, library versions);
         ``--metrics`` outputs/metrics/classifier.json (test accuracy overall and per digit, test loss,
         last-epoch training and validation figures); ``--history`` outputs/plots/classifier/history.csv
         (one row per epoch). Seconds per epoch go to the log only, so reruns give identical files.
Params:  train_classifier (seed, epochs, batch_size, learning_rate, filters, dense, dropout, validation_fraction)
"""

from __future__ import annotations

import argparse
import csv
import logging
import platform
from dataclasses import asdict
from pathlib import Path

import numpy as np

from digitgen.data.mnist import load_mnist_npz
from digitgen.io import atomic_path, sha256_file, write_json
from digitgen.params.core import load_section
from digitgen.params.train_classifier import TrainClassifierParams

#: Test accuracy the evaluation relies on; a lower figure is logged as a warning.
TARGET_ACCURACY = 0.99

logger = logging.getLogger("train_classifier")


def write_history(path: str | Path, history: dict[str, list[float]]) -> None:
    """Write one CSV row per epoch: ``epoch`` (from 1) then each metric, rounded to 6 decimals."""
    names = sorted(history)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["epoch", *names])
        for epoch, values in enumerate(zip(*(history[name] for name in names)), start=1):
            writer.writerow([epoch, *(f"{value:.6f}" for value in values)])


def score_test_split(proba: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy (overall and per digit) and mean cross-entropy of float32 (N, 10) ``proba`` against int (N,) ``labels``."""
    predicted = proba.argmax(axis=1)
    picked = np.clip(proba[np.arange(len(labels)), labels], 1e-7, 1.0).astype(np.float64)
    return {
        "test_accuracy": round(float(np.mean(predicted == labels)), 6),
        "test_loss": round(float(-np.mean(np.log(picked))), 6),
        "test_accuracy_per_digit": {
            str(d): round(float(np.mean(predicted[labels == d] == d)), 6) for d in range(10) if np.any(labels == d)
        },
        "test_digits": int(len(labels)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="params file (default: %(default)s)")
    parser.add_argument("--mnist", required=True, help="decoded MNIST arrays (mnist.npz)")
    parser.add_argument("--model", required=True, help="output .keras model")
    parser.add_argument("--info", required=True, help="output JSON: provenance of the model")
    parser.add_argument("--metrics", required=True, help="output JSON: test accuracy and loss")
    parser.add_argument("--history", required=True, help="output CSV: one row per epoch")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    params = load_section(args.params, "train_classifier", TrainClassifierParams)
    if Path(args.model).suffix != ".keras":
        raise SystemExit(f"--model {args.model!r} must end in '.keras'.")
    arrays = load_mnist_npz(args.mnist)

    import keras  # after the checks above: importing TensorFlow takes seconds
    import tensorflow as tf

    from digitgen.classifier import train_classifier

    result = train_classifier(arrays["x_train"], arrays["y_train"], params)
    per_epoch = result.seconds_per_epoch
    logger.info("trained %d epochs in %.1f s (%.1f s/epoch, first epoch %.1f s)", len(per_epoch), sum(per_epoch), sum(per_epoch) / len(per_epoch), per_epoch[0])
    scores = score_test_split(result.classifier.predict_proba(arrays["x_test"]), arrays["y_test"].astype(np.int64))
    logger.info("test accuracy %.4f, test loss %.4f", scores["test_accuracy"], scores["test_loss"])
    if scores["test_accuracy"] < TARGET_ACCURACY:
        logger.warning("test accuracy %.4f is below the %.2f the evaluation relies on", scores["test_accuracy"], TARGET_ACCURACY)
    last = {f"final_{name}": round(values[-1], 6) for name, values in result.history.items()}
    metrics = {**scores, **last, "train_digits": result.train_count, "validation_digits": result.validation_count,
               "parameters": int(result.classifier.model.count_params())}

    result.classifier.save(args.model)
    write_json(args.info, {
        "model": Path(args.model).name,
        "purpose": "evaluation only: scores digits; never used to generate or select them",
        "features_layer": "features",
        "feature_size": result.classifier.feature_size,
        "trained_on": {"file": Path(args.mnist).name, "sha256": sha256_file(args.mnist), "split": "train",
                       "train_digits": result.train_count, "validation_digits": result.validation_count},
        "parameters": {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(params).items()},
        "test_accuracy": scores["test_accuracy"],
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__, "numpy": np.__version__, "python": platform.python_version()},
    })
    write_json(args.metrics, metrics)
    write_history(args.history, result.history)
    logger.info("wrote %s, %s, %s and %s", args.model, args.info, args.metrics, args.history)


if __name__ == "__main__":
    main()
