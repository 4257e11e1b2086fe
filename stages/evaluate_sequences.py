"""DVC stage ``evaluate_sequences``: check both sequence splits against their contract and classify their digits.

Inputs:  ``--mnist`` data/interim/mnist.npz; ``--model`` data/models/classifier.keras (only loaded for crops
         that are not exactly a source digit); ``--banks`` data/banks/<source>.npz files the train split may
         draw (provenance); ``--readings`` data/interim/digit_readings.npz (stage classify_digits);
         ``--sequences`` outputs/sequences/train and outputs/sequences/test (shards, manifest.csv, info.json)
Outputs: ``--metrics`` outputs/metrics/datasets.json: per split contract errors, leaks, digit/sequence accuracy
         of the digits cropped by their boxes; ``--plots`` outputs/plots/evaluate_sequences/:
         confusion/sequences-<split>.csv (actual, predicted), sequences/<split>.png (sample sequences with
         their boxes). In strict mode a broken contract or a leak fails the stage and writes nothing.
Params:  evaluate_sequences (sequences_checked, sequence_previews, strict)
"""

from __future__ import annotations

from digitgen import entry

parser = entry.stage_parser(__doc__)
parser.add_argument("--mnist", required=True, help="decoded MNIST arrays (mnist.npz)")
parser.add_argument("--model", required=True, help="the evaluation classifier (.keras)")
parser.add_argument("--banks", nargs="+", required=True, help="bank files <source>.npz the train split may draw")
parser.add_argument("--readings", required=True, help="the classifier's reading of every source digit (classify_digits)")
parser.add_argument("--sequences", nargs="+", required=True, help="the split folders, named train and test")
parser.add_argument("--metrics", required=True, help="output JSON: checks per sequence split")
parser.add_argument("--plots", required=True, help="output folder of pictures and plot tables")


def main(args) -> None:
    from digitgen.params.core import load_section
    from digitgen.params.evaluate_sequences import EvaluateSequencesParams
    from digitgen.pipeline.evaluate_sequences import run

    params = load_section(args.params, "evaluate_sequences", EvaluateSequencesParams)
    run(params, args.mnist, args.model, args.banks, args.readings, args.sequences, args.metrics, args.plots)


if __name__ == "__main__":
    raise SystemExit(entry.run_stage("evaluate_sequences", parser, main))
