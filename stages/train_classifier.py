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

from pathlib import Path

from digitgen import entry
from digitgen.errors import InputError

parser = entry.stage_parser(__doc__)
parser.add_argument("--mnist", required=True, help="decoded MNIST arrays (mnist.npz)")
parser.add_argument("--model", required=True, help="output .keras model")
parser.add_argument("--info", required=True, help="output JSON: provenance of the model")
parser.add_argument("--metrics", required=True, help="output JSON: test accuracy and loss")
parser.add_argument("--history", required=True, help="output CSV: one row per epoch")


def main(args) -> None:
    from digitgen.params.core import load_section
    from digitgen.params.train_classifier import TrainClassifierParams

    params = load_section(args.params, "train_classifier", TrainClassifierParams)  # checked first: before any data or TensorFlow is loaded
    if Path(args.model).suffix != ".keras":
        raise InputError(f"--model {args.model!r} must end in '.keras'.", "--model")
    from digitgen.pipeline import train_classifier

    train_classifier.run(params, mnist=args.mnist, model=args.model, info=args.info, metrics=args.metrics, history=args.history)


if __name__ == "__main__":
    raise SystemExit(entry.run_stage("train_classifier", parser, main))
