"""DVC stage ``train_autoencoder``: the autoencoder of ambiguous digits, the ``ambiguous`` bank and a strip of series.

Inputs:  data/interim/mnist.npz (the training split only)
Outputs: data/models/autoencoder/ (encoder.keras, decoder.keras, judge_<k>.keras, model.npz, model.json);
         outputs/plots/autoencoder_losses.csv (DVC plot: per-epoch reconstruction, KL and total loss);
         data/banks/ambiguous.npz (images uint8 (N, 28, 28), labels int16 (N, 2) = (a, b), weights float32 (N,)
         = share of b's code at the chosen step, source_index int32 (N, 2) = training rows encoded, log_odds,
         judge_smaller and shift float32 (N,), model_sha256 of decoder.keras; train_autoencoder.count digits);
         outputs/metrics/autoencoder.json (final losses, nearest partners, each judge's test accuracy, bank
         statistics, provenance);
         outputs/plots/ambiguous_series.png (one interpolation series per row, from digit a's reconstruction
         to digit b's, the chosen step framed; after a gap, the digit kept once refined)
         Every output is a function of the params and the data (byte-identical on a re-run); training and
         sampling times are logged, not written.
Params:  train_autoencoder (every key: seed, latent_size, filters, hidden, beta, epochs, batch_size, learning_rate,
         validation_fraction, pairs, weights, judges, refine_steps, refine_rate, refine_anchor, count, previews)
The judges are trained on the training split only; the test split is read only to report their accuracy.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from digitgen.data.mnist import load_mnist_npz
from digitgen.generators.ambiguous import (
    bank_summary,
    generator_from_params,
    make_bank,
    preview_pairs,
)
from digitgen.generators.cvae import losses_csv
from digitgen.generators.judges import judge_seed
from digitgen.io import atomic_path, sha256_file, write_json, write_npz
from digitgen.params.core import load_section
from digitgen.params.train_autoencoder import TrainAutoencoderParams
from digitgen.pictures import save_png, series_strip

logger = logging.getLogger("train_autoencoder")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    parser.add_argument("--mnist", required=True, help="decoded MNIST arrays (mnist.npz)")
    parser.add_argument("--model", required=True, help="output model folder")
    parser.add_argument("--losses", required=True, help="output CSV of the per-epoch losses")
    parser.add_argument("--bank", required=True, help="output digit bank (ambiguous.npz)")
    parser.add_argument("--metrics", required=True, help="output metrics JSON")
    parser.add_argument("--strip", required=True, help="output PNG of interpolation series")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    params = load_section(args.params, "train_autoencoder", TrainAutoencoderParams)
    arrays = load_mnist_npz(args.mnist)
    images, labels = arrays["x_train"], arrays["y_train"]

    started = time.perf_counter()
    model = generator_from_params(params).fit(images, labels)
    seconds = model.seconds_per_epoch_
    logger.info(
        "trained in %.1f s: %d epochs, %.1f s/epoch (median %.1f)",
        time.perf_counter() - started, len(seconds), sum(seconds) / len(seconds), float(np.median(seconds)),
    )
    start = time.perf_counter()
    bank = make_bank(model, params.count, np.random.default_rng([params.seed, 1]))
    series = model.series(preview_pairs(model, params.previews), np.random.default_rng([params.seed, 2]), ends=True)
    kept = model.keep(series).images
    logger.info("drew the bank of %d digits and the preview in %.1f s", len(bank["labels"]), time.perf_counter() - start)

    model.save(args.model)
    summary = bank_summary(bank)
    bank["model_sha256"] = np.array(sha256_file(Path(args.model) / "decoder.keras"))
    write_npz(args.bank, bank)
    save_png(args.strip, series_strip(series.images, series.chosen, kept))
    with atomic_path(args.losses) as tmp:
        tmp.write_text(losses_csv(model.history_), encoding="utf-8")
    history = model.history_
    write_json(
        args.metrics,
        {
            "final": {name: values[-1] for name, values in history.items()},
            "epochs": len(history["total"]),
            "train_count": model.train_count_,
            "validation_count": model.validation_count_,
            "partners": {str(a): int(b) for a, b in enumerate(model.partners_.tolist())},
            "judges": [
                {
                    **{key: list(value) if key == "filters" else value for key, value in spec.items()},
                    "seed": judge_seed(params.seed, k),
                    "test_accuracy": float(np.mean(judge.predict_proba(arrays["x_test"]).argmax(axis=1) == arrays["y_test"])),
                }
                for k, (spec, judge) in enumerate(zip(model.judges, model.judges_))
            ],
            "bank": summary,
            "training_data": {"file": Path(args.mnist).name, "sha256": sha256_file(args.mnist), "split": "train", "images": len(labels)},
        },
    )


if __name__ == "__main__":
    main()
