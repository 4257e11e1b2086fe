"""DVC stage ``train_cvae``: the conditional VAE, its loss curves, the ``cvae`` digit bank and a mosaic.

Inputs:  data/interim/mnist.npz (the training split only)
Outputs: data/models/cvae/ (encoder.keras, decoder.keras, model.json);
         outputs/plots/cvae_losses.csv (DVC plot: per-epoch reconstruction, KL and total loss in nats per image,
         on the training digits and on the held-out validation slice);
         data/banks/cvae.npz (images uint8 (N, 28, 28), labels int16 (N,), latent float32 (N, d) = the decoded
         prior draws, model_sha256 of decoder.keras; train_cvae.bank_per_digit digits of each class 0-9);
         outputs/metrics/cvae.json (final losses, counts, training-data provenance);
         outputs/plots/cvae_mosaic.png (10 rows = digits 0-9 of the bank)
         Every output is a function of the params and the data (byte-identical on a re-run); training and
         sampling times are logged, not written.
Params:  train_cvae (every key: seed, latent_size, filters, hidden, beta, epochs, batch_size, learning_rate,
         validation_fraction, temperature, bank_per_digit, mosaic_columns)
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from digitgen.data.mnist import load_mnist_npz
from digitgen.generators.cvae import generator_from_params, losses_csv, make_bank
from digitgen.io import atomic_path, sha256_file, write_json, write_npz
from digitgen.params.core import load_section
from digitgen.params.train_cvae import TrainCvaeParams
from digitgen.pictures import mosaic, save_png

logger = logging.getLogger("train_cvae")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    parser.add_argument("--mnist", required=True, help="decoded MNIST arrays (mnist.npz)")
    parser.add_argument("--model", required=True, help="output model folder")
    parser.add_argument("--losses", required=True, help="output CSV of the per-epoch losses")
    parser.add_argument("--bank", required=True, help="output digit bank (cvae.npz)")
    parser.add_argument("--metrics", required=True, help="output metrics JSON")
    parser.add_argument("--mosaic", required=True, help="output PNG mosaic of the bank")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    params = load_section(args.params, "train_cvae", TrainCvaeParams)
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
    bank = make_bank(model, params.bank_per_digit, np.random.default_rng([params.seed, 1]))
    logger.info("drew the bank of %d digits in %.1f s", len(bank["labels"]), time.perf_counter() - start)

    model.save(args.model)
    bank["model_sha256"] = np.array(sha256_file(Path(args.model) / "decoder.keras"))
    write_npz(args.bank, bank)
    rows = bank["images"].reshape(10, params.bank_per_digit, 28, 28)[:, : params.mosaic_columns]
    save_png(args.mosaic, mosaic(rows.reshape(-1, 28, 28), params.mosaic_columns))
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
            "bank_size": len(bank["labels"]),
            "training_data": {"file": Path(args.mnist).name, "sha256": sha256_file(args.mnist), "split": "train", "images": len(labels)},
        },
    )


if __name__ == "__main__":
    main()
