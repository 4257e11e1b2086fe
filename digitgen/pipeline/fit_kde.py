"""Stage ``fit_kde``: the conditional and global KDE models, the ``kde`` bank, its metrics, curves and mosaic.

Every output is a function of the params and the data (byte-identical on a
re-run); fit and sampling times are logged, not written.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from digitgen.data.mnist import load_mnist_npz
from digitgen.generators.kde import KdeDigitGenerator, rejection_percentile
from digitgen.io import atomic_directory, sha256_file, write_json, write_npz
from digitgen.params.fit_kde import KdeParams
from digitgen.pictures import save_png
from digitgen.pipeline.common import bank_mosaic, training_data, write_text
from digitgen.rules import Int

logger = logging.getLogger(__name__)


def models_of(params: KdeParams) -> dict[str, KdeDigitGenerator]:
    """The stage's two unfitted models, ``conditional`` and ``global``, from the ``fit_kde`` params.

    Both use the same seed, so they hold out the same digits and share the
    same PCA; they differ in the densities (one per digit with ``subsample``
    codes each, or one with ``global_subsample`` codes).
    """
    return {
        "conditional": KdeDigitGenerator.from_section(params, conditional=True),
        "global": KdeDigitGenerator.from_section(params, conditional=False, subsample=params.global_subsample),
    }


def make_bank(model: KdeDigitGenerator, per_digit: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draw ``per_digit`` digits of each class 0-9 from a conditional model, as a digit bank.

    Returns
    -------
    dict of arrays for :func:`digitgen.io.write_npz`: ``images`` uint8
    (10 * per_digit, 28, 28) and ``labels`` int16, in digit order; and the
    provenance of the draw: ``candidates`` / ``accepted`` int64 (10,) per
    digit, ``rejection`` and ``cleaning`` (str), ``rejection_percentile``
    float64 (NaN for ``none``).
    """
    model._check_fitted()
    if not model.conditional:
        raise ValueError("a bank needs labels: draw it from a conditional model (conditional=True).")
    Int(1).check(per_digit, "per_digit")
    images, labels = [], []
    candidates = np.zeros(10, dtype=np.int64)
    accepted = np.zeros(10, dtype=np.int64)
    for digit in range(10):
        drawn = model.generate(per_digit, digit=digit, rng=rng)
        images.append(drawn.images)
        labels.append(drawn.labels)
        candidates[digit], accepted[digit] = drawn.candidates[digit], drawn.accepted[digit]
    percentile = rejection_percentile(model.rejection)
    return {
        "images": np.concatenate(images),
        "labels": np.concatenate(labels),
        "candidates": candidates,
        "accepted": accepted,
        "rejection": np.array(str(model.rejection)),
        "rejection_percentile": np.array(np.nan if percentile is None else percentile),
        "cleaning": np.array(model.cleaning),
    }


def bandwidth_curves_csv(models: dict[str, KdeDigitGenerator]) -> str:
    """CSV text of the cross-validation curves: ``bandwidth`` then one column per density.

    Columns ``digit_0`` .. ``digit_9`` for a conditional model and
    ``global`` for a global one; rows are the grid values. All models must
    share the grid.
    """
    grids = {tuple(model.bandwidth_grid_.tolist()) for model in models.values()}
    if len(grids) != 1:
        raise ValueError(f"the models were fitted on different bandwidth grids: {sorted(grids)}.")
    columns, curves = ["bandwidth"], []
    for model in models.values():
        for name, curve in zip(model.density_names(), model.cv_log_likelihood_):
            columns.append(f"digit_{name}" if name != "all" else "global")
            curves.append(curve)
    lines = [",".join(columns)]
    for i, bandwidth in enumerate(next(iter(grids))):
        lines.append(",".join([f"{bandwidth:g}"] + [f"{curve[i]:.4f}" for curve in curves]))
    return "\n".join(lines) + "\n"


def kde_metrics(models: dict[str, KdeDigitGenerator], bank: dict[str, np.ndarray]) -> dict[str, Any]:
    """Deterministic DVC metrics of the stage: per model and density the bandwidth, its CV
    log-likelihood, edge flags and acceptance per level; per digit the bank's acceptance."""
    metrics: dict[str, Any] = {}
    for key, model in models.items():
        summary = model.summary()
        metrics[key] = {
            "explained_variance": round(summary["explained_variance"], 4),
            "bandwidth": {name: round(h, 4) for name, h in summary["bandwidth"].items()},
            "bandwidth_on_grid_edge": summary["bandwidth_on_grid_edge"],
            "cv_log_likelihood": {name: round(v, 3) for name, v in summary["bandwidth_cv_log_likelihood"].items()},
            "acceptance": {
                level: {name: round(rate, 4) for name, rate in rates.items()} | {"mean": round(float(np.mean(list(rates.values()))), 4)}
                for level, rates in summary["acceptance"].items()
            },
        }
    rates = bank["accepted"] / bank["candidates"]
    metrics["bank"] = {
        "per_digit": int(len(bank["labels"]) // 10),
        "rejection": str(bank["rejection"]),
        "cleaning": str(bank["cleaning"]),
        "acceptance": {str(d): round(float(r), 4) for d, r in enumerate(rates)}
        | {"overall": round(float(bank["accepted"].sum() / bank["candidates"].sum()), 4)},
    }
    return metrics


def run(
    params: KdeParams,
    *,
    mnist: str | os.PathLike,
    models: str | os.PathLike,
    bank: str | os.PathLike,
    metrics: str | os.PathLike,
    curves: str | os.PathLike,
    mosaic: str | os.PathLike,
) -> None:
    """Fit both models on the training split of ``mnist``, draw the bank, write every output of the stage.

    Outputs: ``models/conditional/`` and ``models/global/`` (model folders),
    ``bank`` (``fit_kde.bank_per_digit`` digits of each class from the
    conditional model, with ``model_sha256`` of its ``model.npz``), ``metrics``
    (JSON), ``curves`` (CSV of the bandwidth search) and ``mosaic`` (PNG, one row per digit).
    """
    arrays = load_mnist_npz(mnist)
    images, labels = arrays["x_train"], arrays["y_train"]
    fitted = models_of(params)
    for name, model in fitted.items():
        start = time.perf_counter()
        model.fit(images, labels)
        logger.info("fitted the %s model in %.1f s", name, time.perf_counter() - start)

    start = time.perf_counter()
    drawn = make_bank(fitted["conditional"], params.bank_per_digit, np.random.default_rng([params.seed, 1]))
    elapsed = time.perf_counter() - start
    logger.info("drew the bank of %d digits in %.1f s (%.0f digits/s)", len(drawn["labels"]), elapsed, len(drawn["labels"]) / max(elapsed, 1e-9))

    with atomic_directory(models) as tmp:
        for name, model in fitted.items():
            model.save(tmp / name)
    drawn["model_sha256"] = np.array(sha256_file(Path(models) / "conditional" / "model.npz"))
    write_npz(bank, drawn)
    save_png(mosaic, bank_mosaic(drawn["images"], params.bank_per_digit, params.mosaic_columns))
    write_text(curves, bandwidth_curves_csv(fitted))
    values = kde_metrics(fitted, drawn)
    values["training_data"] = training_data(mnist, len(labels))
    write_json(metrics, values)
