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

from digitgen import entry

parser = entry.stage_parser(__doc__)
parser.add_argument("--mnist", required=True, help="decoded MNIST arrays (mnist.npz)")
parser.add_argument("--model", required=True, help="output model folder")
parser.add_argument("--losses", required=True, help="output CSV of the per-epoch losses")
parser.add_argument("--bank", required=True, help="output digit bank (ambiguous.npz)")
parser.add_argument("--metrics", required=True, help="output metrics JSON")
parser.add_argument("--strip", required=True, help="output PNG of interpolation series")


def main(args) -> None:
    from digitgen.params.core import load_section
    from digitgen.params.train_autoencoder import TrainAutoencoderParams

    params = load_section(args.params, "train_autoencoder", TrainAutoencoderParams)  # checked first: before any data or TensorFlow is loaded
    from digitgen.pipeline import train_autoencoder

    train_autoencoder.run(
        params, mnist=args.mnist, model=args.model, losses=args.losses, bank=args.bank, metrics=args.metrics, strip=args.strip
    )


if __name__ == "__main__":
    raise SystemExit(entry.run_stage("train_autoencoder", parser, main))
