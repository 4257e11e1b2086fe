"""DVC stage ``classify_digits``: the evaluation classifier's reading of every digit a sequence can be built from.

Inputs:  ``--mnist`` data/interim/mnist.npz; ``--model`` data/models/classifier.keras; ``--banks``
         data/banks/<source>.npz files (each bank the train split gives a weight must be among them)
Outputs: ``--out`` data/interim/digit_readings.npz: per pool (real_train, real_test, each weighted bank) the
         digit the classifier reads in each digit's ink crop centred as evaluate_sequences centres a crop, and
         the SHA-256 of the images read. evaluate_sequences looks each crop equal to its source digit up here.
Params:  sequences.splits.train.sources (which banks to read)
"""

from __future__ import annotations

from digitgen import entry

parser = entry.stage_parser(__doc__)
parser.add_argument("--mnist", required=True, help="decoded MNIST arrays (mnist.npz)")
parser.add_argument("--model", required=True, help="the evaluation classifier (.keras)")
parser.add_argument("--banks", nargs="+", required=True, help="bank files <source>.npz")
parser.add_argument("--out", required=True, help="output NPZ of readings")


def main(args) -> None:
    from digitgen.params.core import load_section
    from digitgen.params.sequences import SequencesParams
    from digitgen.pipeline.classify_digits import run

    sources = load_section(args.params, "sequences", SequencesParams).splits["train"].sources
    run(sources, args.mnist, args.model, args.banks, args.out)


if __name__ == "__main__":
    raise SystemExit(entry.run_stage("classify_digits", parser, main))
