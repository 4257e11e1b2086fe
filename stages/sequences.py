"""DVC stage ``sequences``: sharded digit-sequence datasets for the train and test splits.

Inputs:  data/interim/mnist.npz (real digits), data/banks/<source>.npz (generated digits, when weighted)
Outputs: outputs/sequences/<split>/shard-*.npz (and *.tar), manifest.csv, preview/*.png, info.json;
         outputs/metrics/sequences.json (DVC metrics: counts, mean length, digit and source fractions)
Params:  sequences (every key: seed, width, mode, spacing, align, length, digit_weights, shard_size,
         compress_level, previews, workers, executor, scheduler, scheduler_timeout, formats, splits)
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from digitgen.io import write_json
from digitgen.params import load_params
from digitgen.shards import dataset_metrics, emit_split, plan_sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    parser.add_argument("--mnist", required=True, help="decoded MNIST arrays (mnist.npz)")
    parser.add_argument("--banks", required=True, help="folder of generated digit banks")
    parser.add_argument("--out", required=True, help="output folder; one sub-folder per split")
    parser.add_argument("--metrics", required=True, help="JSON file of dataset statistics (DVC metrics)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    params = load_params(args.params).sequences
    for split in sorted(params.splits):  # check every split's inputs before writing anything
        plan_sources(split, params, args.mnist, args.banks)
    summaries = []
    for split in sorted(params.splits):
        summary = emit_split(split, params, args.mnist, args.banks, Path(args.out) / split)
        logging.getLogger("sequences").info("wrote %d %s sequences in %d shards to %s", summary.count, split, summary.shards, summary.out_dir)
        summaries.append(summary)
    write_json(args.metrics, dataset_metrics(summaries))


if __name__ == "__main__":
    main()
