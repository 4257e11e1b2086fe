"""DVC stage ``train_reader``: a compact CRNN trained with CTC to read whole digit sequences.

Inputs:  ``--sequences`` outputs/sequences (trained on train/, scored on every sequence of test/)
Outputs: ``--model`` data/models/reader.keras; ``--metrics`` outputs/metrics/reader.json (test exact-sequence
         accuracy and character error rate, overall and per length; last-epoch losses; parameters; counts;
         versions); ``--history`` outputs/plots/reader/history.csv (one row per epoch: loss, val_loss);
         ``--errors`` outputs/plots/reader/errors.png (misread test sequences, for the report).
         Wall times go to the log only, so reruns give identical files.
Params:  train_reader (seed, epochs, batch_size, learning_rate, warmup, filters, width_pools, dense, units,
         dropout, validation_sequences, errors_shown)
"""

from __future__ import annotations

from pathlib import Path

from digitgen import entry
from digitgen.errors import InputError

parser = entry.stage_parser(__doc__)
parser.add_argument("--sequences", required=True, help="sequence dataset folder holding train/ and test/")
parser.add_argument("--model", required=True, help="output .keras model")
parser.add_argument("--metrics", required=True, help="output JSON: test accuracy and character error rate")
parser.add_argument("--history", required=True, help="output CSV: one row per epoch")
parser.add_argument("--errors", required=True, help="output PNG: misread test sequences")


def main(args) -> None:
    from digitgen.params.core import load_section
    from digitgen.params.train_reader import TrainReaderParams

    params = load_section(args.params, "train_reader", TrainReaderParams)  # checked first: before any data or TensorFlow is loaded
    if Path(args.model).suffix != ".keras":
        raise InputError(f"--model {args.model!r} must end in '.keras'.", "--model")
    from digitgen.pipeline import train_reader

    train_reader.run(params, sequences=args.sequences, model=args.model, metrics=args.metrics, history=args.history,
                     errors=args.errors)


if __name__ == "__main__":
    raise SystemExit(entry.run_stage("train_reader", parser, main))
