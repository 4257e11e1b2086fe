"""Stage ``train_autoencoder``: the autoencoder of ambiguous digits and its judges, the ``ambiguous`` bank, its metrics, a strip of series.

The judges are trained on the training split only; the test split is read
only to report their accuracy. Every output is a function of the params and
the data (byte-identical on a re-run); training and sampling times are
logged, not written.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from digitgen.data.mnist import load_mnist_npz
from digitgen.generators.ambiguous import AmbiguousDigitGenerator, AmbiguousSamples
from digitgen.generators.judges import judge_seed
from digitgen.generators.vae import losses_csv
from digitgen.io import sha256_file, write_json, write_npz
from digitgen.model_folder import json_ready
from digitgen.params.train_autoencoder import TrainAutoencoderParams
from digitgen.pictures import save_png, series_strip
from digitgen.pipeline.common import log_training, training_data, write_text
from digitgen.rules import Int

logger = logging.getLogger(__name__)


def make_bank(model: AmbiguousDigitGenerator, count: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``count`` ambiguous digits (pairs drawn as :meth:`AmbiguousDigitGenerator.sample` with no digit) as a bank.

    Returns
    -------
    dict: ``images`` uint8 (N, 28, 28), ``labels`` int16 (N, 2), ``weights``
    float32 (N,), ``source_index`` int32 (N, 2), ``log_odds``, ``judge_smaller``
    and ``shift`` float32 (N,) (see :class:`~digitgen.generators.ambiguous.AmbiguousSamples`).
    """
    Int(1).check(count, "count")
    samples = model.generate(count, None, rng)
    return {name: getattr(samples, name) for name in AmbiguousSamples.__dataclass_fields__}


def preview_pairs(model: AmbiguousDigitGenerator, rows: int) -> np.ndarray:
    """Pairs of a preview strip: :meth:`AmbiguousDigitGenerator.pair_choices`, cycled; int16 (rows, 2)."""
    choices = model.pair_choices()
    return choices[np.arange(rows) % len(choices)]


def bank_summary(bank: dict[str, np.ndarray]) -> dict[str, Any]:
    """JSON-ready statistics of an ambiguous bank: pairs, chosen weights, latent balance, the judges' reading and the refinement's shift.

    ``judge_*`` entries are the judges' own view of the digits they refined
    (the evaluation stage measures them with an independent classifier); they
    are None without judges.
    """
    labels, weights, log_odds = bank["labels"], bank["weights"].astype(np.float64), np.abs(bank["log_odds"].astype(np.float64))
    pairs, counts = np.unique(labels, axis=0, return_counts=True)
    judged = bank["judge_smaller"].astype(np.float64)
    judged_any = not np.all(np.isnan(judged))
    return {
        "judge_smaller_mean": float(judged.mean()) if judged_any else None,
        "judge_fraction_smaller_at_least_quarter": float(np.mean(judged >= 0.25)) if judged_any else None,
        "shift_mean": float(bank["shift"].astype(np.float64).mean()),
        "count": int(len(labels)),
        "pairs": {f"{a}-{b}": int(c) for (a, b), c in zip(pairs.tolist(), counts.tolist())},
        "weight_mean": float(weights.mean()),
        "weight_histogram": {f"{w:g}": int(c) for w, c in zip(*np.unique(np.round(weights, 4), return_counts=True))},
        "abs_log_odds_median": float(np.median(log_odds)),
        "fraction_abs_log_odds_below_1": float(np.mean(log_odds < 1)),
    }


def judge_metrics(model: AmbiguousDigitGenerator, seed: int, test_images: np.ndarray, test_labels: np.ndarray) -> list[dict[str, Any]]:
    """Each judge's architecture, training seed and accuracy on the MNIST test digits."""
    return [
        {
            **json_ready(spec),
            "seed": judge_seed(seed, k),
            "test_accuracy": float(np.mean(judge.predict_proba(test_images).argmax(axis=1) == test_labels)),
        }
        for k, (spec, judge) in enumerate(zip(model.checked_params()["judges"], model.judges_))
    ]


def run(
    params: TrainAutoencoderParams,
    *,
    mnist: str | os.PathLike,
    model: str | os.PathLike,
    losses: str | os.PathLike,
    bank: str | os.PathLike,
    metrics: str | os.PathLike,
    strip: str | os.PathLike,
) -> None:
    """Train on the training split of ``mnist``, draw the bank and the preview, write every output of the stage.

    Outputs: ``model`` (model folder), ``losses`` (CSV per epoch), ``bank``
    (``train_autoencoder.count`` digits, with ``model_sha256`` of
    ``decoder.keras``), ``metrics`` (JSON: final losses, partners, judges,
    bank statistics, provenance) and ``strip`` (PNG: one series per row, the
    chosen step framed, then the digit kept).
    """
    arrays = load_mnist_npz(mnist)
    images, labels = arrays["x_train"], arrays["y_train"]
    started = time.perf_counter()
    generator = AmbiguousDigitGenerator.from_section(params).fit(images, labels)
    log_training(generator.seconds_per_epoch_, time.perf_counter() - started)
    start = time.perf_counter()
    drawn = make_bank(generator, params.count, np.random.default_rng([params.seed, 1]))
    series = generator.series(preview_pairs(generator, params.previews), np.random.default_rng([params.seed, 2]), ends=True)
    kept = generator.keep(series).images
    logger.info("drew the bank of %d digits and the preview in %.1f s", len(drawn["labels"]), time.perf_counter() - start)

    generator.save(model)
    summary = bank_summary(drawn)
    drawn["model_sha256"] = np.array(sha256_file(Path(model) / "decoder.keras"))
    write_npz(bank, drawn)
    save_png(strip, series_strip(series.images, series.chosen, kept))
    write_text(losses, losses_csv(generator.history_))
    history = generator.history_
    write_json(
        metrics,
        {
            "final": {name: values[-1] for name, values in history.items()},
            "epochs": len(history["total"]),
            "train_count": generator.train_count_,
            "validation_count": generator.validation_count_,
            "partners": {str(a): int(b) for a, b in enumerate(generator.partners_.tolist())},
            "judges": judge_metrics(generator, params.seed, arrays["x_test"], arrays["y_test"]),
            "bank": summary,
            "training_data": training_data(mnist, len(labels)),
        },
    )
