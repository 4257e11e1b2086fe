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

from digitgen import entry

parser = entry.stage_parser(__doc__)
parser.add_argument("--mnist", required=True, help="decoded MNIST arrays (mnist.npz)")
parser.add_argument("--model", required=True, help="output model folder")
parser.add_argument("--losses", required=True, help="output CSV of the per-epoch losses")
parser.add_argument("--bank", required=True, help="output digit bank (cvae.npz)")
parser.add_argument("--metrics", required=True, help="output metrics JSON")
parser.add_argument("--mosaic", required=True, help="output PNG mosaic of the bank")


def main(args) -> None:
    from digitgen.params.core import load_section
    from digitgen.params.train_cvae import TrainCvaeParams

    params = load_section(args.params, "train_cvae", TrainCvaeParams)  # checked first: before any data or TensorFlow is loaded
    from digitgen.pipeline import train_cvae

    train_cvae.run(
        params, mnist=args.mnist, model=args.model, losses=args.losses, bank=args.bank, metrics=args.metrics, mosaic=args.mosaic
    )


if __name__ == "__main__":
    raise SystemExit(entry.run_stage("train_cvae", parser, main))
