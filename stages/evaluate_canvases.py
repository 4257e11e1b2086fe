"""DVC stage ``evaluate_canvases``: check both canvas splits against their contract and classify their digits.

Inputs:  ``--mnist`` data/interim/mnist.npz (labels for provenance); ``--model`` data/models/classifier.keras;
         ``--banks`` data/banks/<source>.npz files the train split may draw (provenance);
         ``--canvases`` outputs/canvases/train and outputs/canvases/test
Outputs: ``--metrics`` outputs/metrics/canvas_checks.json: per split contract errors, leaks, the largest IoU
         between number boxes, digit and number accuracy of the digits cropped by their boxes (by box height
         and source); ``--plots`` outputs/plots/evaluate_canvases/: canvases/<split>.png (sample canvases with
         their boxes), confusion/canvases-<split>.csv (actual, predicted). In strict mode a broken contract or
         a leak fails the stage and writes nothing.
Params:  evaluate_canvases (canvases_checked, canvas_previews, strict)
"""

from __future__ import annotations

from digitgen import entry

parser = entry.stage_parser(__doc__)
parser.add_argument("--mnist", required=True, help="decoded MNIST arrays (mnist.npz)")
parser.add_argument("--model", required=True, help="the evaluation classifier (.keras)")
parser.add_argument("--banks", nargs="+", required=True, help="bank files <source>.npz the train split may draw")
parser.add_argument("--canvases", nargs="+", required=True, help="the canvas split folders, named train and test")
parser.add_argument("--metrics", required=True, help="output JSON: checks per canvas split")
parser.add_argument("--plots", required=True, help="output folder of pictures and plot tables")


def main(args) -> None:
    from digitgen.params.core import load_section
    from digitgen.params.evaluate_canvases import EvaluateCanvasesParams
    from digitgen.pipeline.evaluate_canvases import run

    params = load_section(args.params, "evaluate_canvases", EvaluateCanvasesParams)
    run(params, args.mnist, args.model, args.banks, args.canvases, args.metrics, args.plots)


if __name__ == "__main__":
    raise SystemExit(entry.run_stage("evaluate_canvases", parser, main))
