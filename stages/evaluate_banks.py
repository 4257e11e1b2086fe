"""DVC stage ``evaluate_banks``: score every digit source against real MNIST test digits.

Inputs:  ``--mnist`` data/interim/mnist.npz; ``--model`` data/models/classifier.keras;
         ``--banks`` data/banks/<source>.npz files (every source of ``evaluate_banks.banks`` must be among them)
Outputs: ``--metrics`` outputs/metrics/banks.json: per source (``real`` first, as the reference row) label
         accuracy, FCD with its real baseline, KID and its std, precision, recall, memorisation, ambiguous
         (mass on the intended pair, smaller of the two probabilities, balanced = fraction of samples whose
         smaller probability is >= the recorded ``balanced_threshold``, and the ``balanced_target``);
         ``--plots`` outputs/plots/evaluate_banks/: mosaics/<source>.png, confusion/<source>.csv (actual,
         predicted), memorisation/<source>.csv (histograms), ambiguous/<source>.csv (pair, count, mass,
         smaller, balanced; sources with pair labels only). Timings go to the log only.
Params:  evaluate_banks (seed, banks, samples, kid_subsets, kid_subset_size, nearest_k, memorisation_samples,
         mosaic_per_digit)
"""

from __future__ import annotations

from digitgen import entry

parser = entry.stage_parser(__doc__)
parser.add_argument("--mnist", required=True, help="decoded MNIST arrays (mnist.npz)")
parser.add_argument("--model", required=True, help="the evaluation classifier (.keras)")
parser.add_argument("--banks", nargs="+", required=True, help="bank files <source>.npz")
parser.add_argument("--metrics", required=True, help="output JSON: scores per digit source")
parser.add_argument("--plots", required=True, help="output folder of pictures and plot tables")


def main(args) -> None:
    from digitgen.params.core import load_section
    from digitgen.params.evaluate_banks import EvaluateBanksParams
    from digitgen.pipeline.evaluate_banks import run

    params = load_section(args.params, "evaluate_banks", EvaluateBanksParams)
    run(params, args.mnist, args.model, args.banks, args.metrics, args.plots)


if __name__ == "__main__":
    raise SystemExit(entry.run_stage("evaluate_banks", parser, main))
