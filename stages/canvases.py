"""DVC stage ``canvases``: detection canvases (several numbers per image) for the train and test splits.

Inputs:  data/interim/mnist.npz (real digits), data/banks/<source>.npz (generated digits, when weighted)
Outputs: outputs/canvases/<split>/shard-*.npz, manifest.csv, preview/*.png, info.json, and the exports
         coco/, yolo/, parquet/ listed in canvases.formats; outputs/metrics/canvases.json (DVC metrics:
         counts, numbers and digits per canvas, numbers left out, digit and source fractions)
Params:  canvases (every key: seed, width, height, numbers, length, spacing, number_height, rotation, max_iou,
         placement_tries, digit_weights, shard_size, compress_level, previews, workers, executor, scheduler,
         scheduler_timeout, degrade, formats, splits)
"""

from __future__ import annotations

from digitgen import entry

parser = entry.stage_parser(__doc__)
parser.add_argument("--mnist", required=True, help="decoded MNIST arrays (mnist.npz)")
parser.add_argument("--banks", required=True, help="folder of generated digit banks")
parser.add_argument("--out", required=True, help="output folder; one sub-folder per split")
parser.add_argument("--metrics", required=True, help="JSON file of dataset statistics (DVC metrics)")


def main(args) -> None:
    from digitgen.canvas_shards import write_canvases
    from digitgen.params.canvases import CanvasesParams
    from digitgen.params.core import load_section

    write_canvases(load_section(args.params, "canvases", CanvasesParams), args.mnist, args.banks, args.out, args.metrics)


if __name__ == "__main__":
    raise SystemExit(entry.run_stage("canvases", parser, main))
