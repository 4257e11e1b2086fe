"""DVC stage ``decode``: turn the raw MNIST IDX files into one NPZ of arrays.

Inputs:  ``--raw`` (default data/raw/mnist/): the four IDX files of the download stage.
Outputs: ``--out`` (default data/interim/mnist.npz): x_train uint8 (60000, 28, 28),
         y_train uint8 (60000,), x_test uint8 (10000, 28, 28), y_test uint8 (10000,).
Params:  none.
"""

from __future__ import annotations

import logging

from digitgen import entry

parser = entry.stage_parser(__doc__)
parser.add_argument("--raw", default="data/raw/mnist", help="folder of the four IDX files (default: %(default)s)")
parser.add_argument("--out", default="data/interim/mnist.npz", help="output NPZ (default: %(default)s)")


def main(args) -> None:
    from digitgen.data.decode import decode_mnist
    from digitgen.data.mnist import save_mnist_npz

    arrays = decode_mnist(args.raw)
    save_mnist_npz(arrays, args.out)
    logging.getLogger("decode").info("wrote %s: %d training and %d test images", args.out, len(arrays["y_train"]), len(arrays["y_test"]))


if __name__ == "__main__":
    raise SystemExit(entry.run_stage("decode", parser, main))
