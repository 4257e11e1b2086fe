"""DVC stage ``augment``: a bank of augmented MNIST training digits and a mosaic to look at.

Inputs:  data/interim/mnist.npz (the training split only)
Outputs: data/banks/augmented.npz (images, labels, source_index, per-image transform
         parameters, provenance), outputs/plots/augment_mosaic.png (originals beside
         their augmentations)
Params:  augment (every key: seed, copies, count, transforms, rotation, shift, shear,
         zoom, elastic.alpha, elastic.sigma)
"""

from __future__ import annotations

import argparse
import logging
import time

from digitgen.data.mnist import load_mnist_npz
from digitgen.io import write_npz
from digitgen.params.augment import AugmentParams
from digitgen.params.core import load_section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    parser.add_argument("--mnist", required=True, help="decoded MNIST arrays (mnist.npz)")
    parser.add_argument("--out", required=True, help="the augmented bank (.npz)")
    parser.add_argument("--plot", required=True, help="PNG mosaic of originals beside their augmentations")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("augment")

    params = load_section(args.params, "augment", AugmentParams)  # validate before loading data or TensorFlow
    mnist = load_mnist_npz(args.mnist)

    from digitgen.augment import (  # imports TensorFlow (seconds)
        augment_mosaic,
        build_augmented_bank,
    )
    from digitgen.pictures import save_png

    started = time.perf_counter()
    bank = build_augmented_bank(mnist["x_train"], mnist["y_train"], params)
    write_npz(args.out, bank)
    save_png(args.plot, augment_mosaic(mnist["x_train"], bank))
    log.info("wrote %d augmented digits to %s and a mosaic to %s in %.1f s", len(bank["images"]), args.out, args.plot, time.perf_counter() - started)


if __name__ == "__main__":
    main()
