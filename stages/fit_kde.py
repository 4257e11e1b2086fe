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

from digitgen import entry

parser = entry.stage_parser(__doc__)
parser.add_argument("--mnist", required=True, help="decoded MNIST arrays (mnist.npz)")
parser.add_argument("--models", required=True, help="output folder of the two models")
parser.add_argument("--bank", required=True, help="output digit bank (kde.npz)")
parser.add_argument("--metrics", required=True, help="output metrics JSON")
parser.add_argument("--curves", required=True, help="output CSV of the bandwidth cross-validation curves")
parser.add_argument("--mosaic", required=True, help="output PNG mosaic of the bank")


def main(args) -> None:
    from digitgen.params.core import load_section
    from digitgen.params.fit_kde import KdeParams

    params = load_section(args.params, "fit_kde", KdeParams)  # checked first: before any data or TensorFlow is loaded
    from digitgen.pipeline import fit_kde

    fit_kde.run(params, mnist=args.mnist, models=args.models, bank=args.bank, metrics=args.metrics, curves=args.curves, mosaic=args.mosaic)


if __name__ == "__main__":
    raise SystemExit(entry.run_stage("fit_kde", parser, main))
