"""DVC stage ``augment``: a bank of augmented MNIST training digits and a mosaic to look at.

Inputs:  data/interim/mnist.npz (the training split only)
Outputs: data/banks/augmented.npz (images, labels, source_index, per-image transform
         parameters, provenance), outputs/plots/augment_mosaic.png (originals beside
         their augmentations)
Params:  augment (every key: seed, copies, count, transforms, rotation, shift, shear,
         zoom, elastic.alpha, elastic.sigma)
"""

from __future__ import annotations

from digitgen import entry

parser = entry.stage_parser(__doc__)
parser.add_argument("--mnist", required=True, help="decoded MNIST arrays (mnist.npz)")
parser.add_argument("--out", required=True, help="the augmented bank (.npz)")
parser.add_argument("--plot", required=True, help="PNG mosaic of originals beside their augmentations")


def main(args) -> None:
    from digitgen.params.augment import AugmentParams
    from digitgen.params.core import load_section

    params = load_section(args.params, "augment", AugmentParams)  # checked first: before any data or TensorFlow is loaded
    from digitgen.pipeline import augment

    augment.run(params, mnist=args.mnist, out=args.out, plot=args.plot)


if __name__ == "__main__":
    raise SystemExit(entry.run_stage("augment", parser, main))
