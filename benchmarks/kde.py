"""Benchmark: the PCA + kernel-density generators on real MNIST, default config of params.yaml.

Usage::

    python benchmarks/kde.py                    # fit both models, sample, compare with scikit-learn
    python benchmarks/kde.py --samples 50000    # a longer sampling run
    python benchmarks/kde.py --data PATH        # another mnist.npz

Prints, for the ``fit_kde`` defaults of ``params.yaml`` (the project's file):

1. fit time (PCA, 5-fold bandwidth search and refinement, thresholds,
   acceptance measurement) of the conditional and the global model; chosen
   bandwidths; explained variance;
2. acceptance per rejection level and digit, measured on fresh candidates;
3. sampling rate (digits/s, rejection and cleaning included) for the
   conditional model (digits drawn with the class frequencies) and the global
   model, per rejection level and per cleaning level; the best of
   ``--repeats`` runs;
4. the log-density scorer against scikit-learn's ``KernelDensity`` (default
   kd_tree) on one digit's density: time per candidate and largest
   difference in nats. For scale: the published "This Number Does Not Exist"
   notebook reports about 6 images/s conditional and 55/s global.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from digitgen.constants import REJECTION_LEVELS
from digitgen.data.cache import default_mnist_npz
from digitgen.data.mnist import load_mnist_npz
from digitgen.generators.density import RejectionBudgetError, log_kde
from digitgen.params.all import load_params
from digitgen.pipeline.fit_kde import models_of

ROOT = Path(__file__).resolve().parents[1]


def best_rate(function, count: int, repeats: int) -> float:
    """Best items/s over ``repeats`` calls of ``function``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return count / best


def exact_log_kde(queries: np.ndarray, codes: np.ndarray, bandwidth: float) -> np.ndarray:
    """float64 reference log-density (slow; a few queries only)."""
    from scipy.special import logsumexp

    dist = ((queries[:, None, :].astype(np.float64) - codes[None, :, :].astype(np.float64)) ** 2).sum(axis=2)
    d = codes.shape[1]
    return logsumexp(-dist / (2 * bandwidth**2), axis=1) - np.log(len(codes)) - d / 2 * np.log(2 * np.pi * bandwidth**2)


def row(label: str, values, fmt: str = "{:6.3f}") -> str:
    return f"{label:<22}" + " ".join(fmt.format(v) for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="mnist.npz (default: the project's, else the user cache)")
    parser.add_argument("--samples", type=int, default=20_000, help="digits per sampling run (default: 20000)")
    parser.add_argument("--repeats", type=int, default=3, help="sampling runs per setting; the best is reported")
    parser.add_argument("--sklearn-queries", type=int, default=200, help="candidates scored by scikit-learn (0 = skip)")
    args = parser.parse_args()

    params = load_params(ROOT / "params.yaml").fit_kde
    arrays = load_mnist_npz(default_mnist_npz(args.data))
    images, labels = arrays["x_train"], arrays["y_train"]
    print(f"cores: {len(os.sched_getaffinity(0))}, numpy {np.__version__}, {len(labels):,} training digits")
    print(f"config: {params.n_components} components, whiten {params.whiten}, subsample {params.subsample}/digit, "
          f"global {params.global_subsample}, {len(params.bandwidths)} bandwidths x {params.cv} folds, cleaning {params.cleaning}")

    models = models_of(params)
    print("\n1. fit")
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(images, labels)
        elapsed = time.perf_counter() - start
        print(f"{name:<12} fit {elapsed:6.1f} s  explained variance {model.pca_.explained_variance_ratio.sum():.3f}  "
              f"bandwidth {' '.join(f'{h:.3f}' for h in model.bandwidth_)}")
    conditional, global_model = models["conditional"], models["global"]

    print("\n2. acceptance per level (fit-time measurement)    digits 0-9 | mean    | global")
    for level in ("light", "medium", "strict"):
        rates = conditional.acceptance_[level]
        print(row(f"{level} (p{REJECTION_LEVELS[level]:g})", rates, "{:5.2f}") + f" | {rates.mean():.3f}   | {global_model.acceptance_[level][0]:.3f}")

    print(f"\n3. sampling, {args.samples:,} digits, best of {args.repeats}")
    for level in ("none", "light", "medium", "strict"):
        for name, model in models.items():
            model.set_params(rejection=level, candidate_budget=200)
            try:
                rate = best_rate(lambda m=model: m.sample(args.samples, rng=0), args.samples, args.repeats)
            except RejectionBudgetError as error:
                print(f"{name:<12} rejection {level:<7} failed: {error}")
                continue
            drawn = model.generate(args.samples, rng=0)
            pooled = drawn.accepted.sum() / drawn.candidates.sum()
            print(f"{name:<12} rejection {level:<7} cleaning {model.cleaning:<10} {rate:>9,.0f} digits/s  "
                  f"acceptance {pooled:.3f} of all candidates, {np.nanmean(drawn.acceptance):.3f} mean per density")
    medium = conditional.set_params(rejection="medium", candidate_budget=params.candidate_budget).generate(args.samples, rng=1)
    print(row("medium, per digit", medium.acceptance, "{:5.2f}") + "   (acceptance while sampling)")
    for cleaning in ("none", "light", "aggressive"):
        conditional.set_params(cleaning=cleaning)
        rate = best_rate(lambda: conditional.sample(args.samples, rng=0), args.samples, args.repeats)
        print(f"{'conditional':<12} rejection medium  cleaning {cleaning:<10} {rate:>9,.0f} digits/s")
    conditional.set_params(cleaning=params.cleaning)

    if args.sklearn_queries:
        from sklearn.neighbors import KernelDensity

        digit = 3
        codes, h = conditional.codes_[digit], conditional.bandwidth_[digit]
        queries = conditional.density(digit).draw(args.sklearn_queries, np.random.default_rng(2))[0]
        start = time.perf_counter()
        ours = log_kde(queries, codes, [h])[:, 0]
        ours_time = time.perf_counter() - start
        start = time.perf_counter()
        theirs = KernelDensity(bandwidth=h).fit(codes).score_samples(queries)
        theirs_time = time.perf_counter() - start
        exact = exact_log_kde(queries[:20], codes, h)
        print(f"\n4. log-density of {len(queries)} candidates against digit {digit}'s {len(codes)} codes")
        print(f"brute force (float32, this project) {ours_time * 1e3:8.1f} ms   scikit-learn KernelDensity {theirs_time * 1e3:8.1f} ms   "
              f"({theirs_time / ours_time:,.0f}x)")
        print(f"largest difference to scikit-learn {np.abs(ours - theirs).max():.3f} nats; "
              f"float32 vs float64 on 20 candidates {np.abs(ours[:20] - exact).max():.2e} nats")


if __name__ == "__main__":
    main()
