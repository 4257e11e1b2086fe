"""Stage ``train_classifier``: the MNIST CNN used only to evaluate digits, its provenance, test metrics and history.

Seconds per epoch go to the log only, so re-runs give identical files.
"""

from __future__ import annotations

import logging
import os
import platform
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from digitgen.classifier import FEATURES_LAYER
from digitgen.classifier_training import train_classifier
from digitgen.data.mnist import load_mnist_npz
from digitgen.io import sha256_file, write_history, write_json
from digitgen.params.train_classifier import TrainClassifierParams

logger = logging.getLogger(__name__)

#: Test accuracy the evaluation relies on; a lower figure is logged as a warning.
TARGET_ACCURACY = 0.99


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


def run(
    params: TrainClassifierParams,
    *,
    mnist: str | os.PathLike,
    model: str | os.PathLike,
    info: str | os.PathLike,
    metrics: str | os.PathLike,
    history: str | os.PathLike,
) -> None:
    """Train on ``x_train``/``y_train`` of ``mnist``, score on ``x_test``/``y_test``, write every output of the stage.

    Outputs: ``model`` (``.keras``), ``info`` (JSON provenance: parameters,
    SHA-256 of the data, digit counts, library versions), ``metrics`` (JSON:
    test accuracy overall and per digit, test loss, last-epoch figures) and
    ``history`` (CSV, one row per epoch).
    """
    arrays = load_mnist_npz(mnist)
    result = train_classifier(arrays["x_train"], arrays["y_train"], params)
    per_epoch = result.seconds_per_epoch
    logger.info("trained %d epochs in %.1f s (%.1f s/epoch, first epoch %.1f s)", len(per_epoch), sum(per_epoch), sum(per_epoch) / len(per_epoch), per_epoch[0])
    scores = score_test_split(result.classifier.predict_proba(arrays["x_test"]), arrays["y_test"].astype(np.int64))
    logger.info("test accuracy %.4f, test loss %.4f", scores["test_accuracy"], scores["test_loss"])
    if scores["test_accuracy"] < TARGET_ACCURACY:
        logger.warning("test accuracy %.4f is below the %.2f the evaluation relies on", scores["test_accuracy"], TARGET_ACCURACY)
    last = {f"final_{name}": round(values[-1], 6) for name, values in result.history.items()}
    values = {**scores, **last, "train_digits": result.train_count, "validation_digits": result.validation_count,
              "parameters": int(result.classifier.model.count_params())}

    result.classifier.save(model)
    write_json(info, {
        "model": Path(model).name,
        "purpose": "evaluation only: scores digits; never used to generate or select them",
        "features_layer": FEATURES_LAYER,
        "feature_size": result.classifier.feature_size,
        "trained_on": {"file": Path(mnist).name, "sha256": sha256_file(mnist), "split": "train",
                       "train_digits": result.train_count, "validation_digits": result.validation_count},
        "parameters": {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(params).items()},
        "test_accuracy": scores["test_accuracy"],
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__, "numpy": np.__version__, "python": platform.python_version()},
    })
    write_json(metrics, values)
    write_history(history, result.history)
    logger.info("wrote %s, %s, %s and %s", model, info, metrics, history)
