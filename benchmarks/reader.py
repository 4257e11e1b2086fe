"""Train the reader on one sequence dataset and score it on the test splits of others (the README's 2 x 2 table).

    python benchmarks/reader.py --params params.yaml --train /tmp/reader/clean \
        --test /tmp/reader/clean /tmp/reader/degraded

Prints one line per test dataset: exact-sequence accuracy and character error rate,
and the training time (measured on this machine; say how loaded it was).
"""

from __future__ import annotations

import argparse
import time

from digitgen.params.core import load_section
from digitgen.params.train_reader import TrainReaderParams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml", help="params file whose train_reader section is used")
    parser.add_argument("--train", required=True, help="dataset folder whose train/ split is trained on")
    parser.add_argument("--test", nargs="+", required=True, help="dataset folders whose test/ split is scored")
    args = parser.parse_args()
    params = load_section(args.params, "train_reader", TrainReaderParams)
    from digitgen.reader import read_split, score_readings, train_reader

    start = time.perf_counter()
    fit = train_reader(args.train, params)
    print(f"trained on {args.train}/train ({fit.train_count} sequences, {params.epochs} epochs) in {time.perf_counter() - start:.0f} s")
    for root in args.test:
        readings = read_split(fit.model, root, "test", batch_size=256)
        scores = score_readings(readings["predicted"], readings["truth"])
        print(f"  {root}/test: exact {scores['exact']:.2%} of {scores['sequences']}, character error rate {scores['cer']:.2%}")


if __name__ == "__main__":
    main()
