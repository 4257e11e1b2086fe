"""DVC stage ``sequences``: sharded digit-sequence datasets for the train and test splits.

Inputs:  data/interim/mnist.npz (real digits), data/banks/<source>.npz (generated digits, when weighted)
Outputs: outputs/sequences/<split>/shard-*.npz (and *.tar), manifest.csv, preview/*.png, info.json;
         outputs/metrics/sequences.json (DVC metrics: counts, mean length, digit and source fractions)
Params:  sequences (every key: seed, width, mode, spacing, align, length, digit_weights, shard_size,
         compress_level, previews, workers, executor, scheduler, scheduler_timeout, formats, splits)
"""

from __future__ import annotations

from digitgen import entry

parser = entry.stage_parser(__doc__)
parser.add_argument("--mnist", required=True, help="decoded MNIST arrays (mnist.npz)")
parser.add_argument("--banks", required=True, help="folder of generated digit banks")
parser.add_argument("--out", required=True, help="output folder; one sub-folder per split")
parser.add_argument("--metrics", required=True, help="JSON file of dataset statistics (DVC metrics)")


def main(args) -> None:
    from digitgen.params.core import load_section
    from digitgen.params.sequences import SequencesParams
    from digitgen.shards import write_datasets

    write_datasets(load_section(args.params, "sequences", SequencesParams), args.mnist, args.banks, args.out, args.metrics)


if __name__ == "__main__":
    raise SystemExit(entry.run_stage("sequences", parser, main))
