"""DVC stage ``fit_kde``: PCA + kernel-density digit generators, the ``kde`` bank and its figures.

Inputs:  data/interim/mnist.npz (the training split only)
Outputs: data/models/kde/conditional/ and data/models/kde/global/ (model.npz + model.json each);
         data/banks/kde.npz (fit_kde.bank_per_digit digits of each class from the conditional model);
         outputs/metrics/kde.json (bandwidths, CV log-likelihood, explained variance, acceptance per level
         and digit); outputs/plots/kde_bandwidth.csv (CV log-likelihood per bandwidth and density);
         outputs/plots/kde_mosaic.png (10 rows = digits 0-9 of the bank)
         Every output is a function of the params and the data (byte-identical on a re-run); the fit and
         sampling times are logged, not written (they would make `dvc repro -f` change dvc.lock).
Params:  fit_kde (every key: seed, n_components, whiten, holdout, subsample, global_subsample, bandwidths,
         cv, rejection, cleaning, candidate_budget, acceptance_candidates, bank_per_digit, mosaic_columns)
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from digitgen.data.mnist import load_mnist_npz
from digitgen.generators.kde import (
    bandwidth_curves_csv,
    generators_from_params,
    kde_metrics,
    make_bank,
)
from digitgen.io import (
    atomic_directory,
    atomic_path,
    sha256_file,
    write_json,
    write_npz,
)
from digitgen.params.core import load_section
from digitgen.params.fit_kde import KdeParams
from digitgen.pictures import mosaic, save_png

logger = logging.getLogger("fit_kde")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    parser.add_argument("--mnist", required=True, help="decoded MNIST arrays (mnist.npz)")
    parser.add_argument("--models", required=True, help="output folder of the two models")
    parser.add_argument("--bank", required=True, help="output digit bank (kde.npz)")
    parser.add_argument("--metrics", required=True, help="output metrics JSON")
    parser.add_argument("--curves", required=True, help="output CSV of the bandwidth cross-validation curves")
    parser.add_argument("--mosaic", required=True, help="output PNG mosaic of the bank")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)

    params = load_section(args.params, "fit_kde", KdeParams)
    arrays = load_mnist_npz(args.mnist)
    images, labels = arrays["x_train"], arrays["y_train"]

    models = generators_from_params(params)
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(images, labels)
        logger.info("fitted the %s model in %.1f s", name, time.perf_counter() - start)

    start = time.perf_counter()
    bank = make_bank(models["conditional"], params.bank_per_digit, np.random.default_rng([params.seed, 1]))
    elapsed = time.perf_counter() - start
    logger.info("drew the bank of %d digits in %.1f s (%.0f digits/s)", len(bank["labels"]), elapsed, len(bank["labels"]) / elapsed)

    with atomic_directory(args.models) as tmp:
        for name, model in models.items():
            model.save(tmp / name)
    bank["model_sha256"] = np.array(sha256_file(Path(args.models) / "conditional" / "model.npz"))
    write_npz(args.bank, bank)

    rows = bank["images"].reshape(10, params.bank_per_digit, 28, 28)[:, : params.mosaic_columns]
    save_png(args.mosaic, mosaic(rows.reshape(-1, 28, 28), params.mosaic_columns))
    with atomic_path(args.curves) as tmp:
        tmp.write_text(bandwidth_curves_csv(models), encoding="utf-8")
    metrics = kde_metrics(models, bank)
    metrics["training_data"] = {"file": Path(args.mnist).name, "sha256": sha256_file(args.mnist), "split": "train", "images": len(labels)}
    write_json(args.metrics, metrics)


if __name__ == "__main__":
    main()
