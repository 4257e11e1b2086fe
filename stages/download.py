"""DVC stage ``download``: fetch the four official MNIST IDX files.

Inputs:  params.yaml (section ``download``).
Outputs: ``--out`` (default data/raw/mnist/): train-images-idx3-ubyte,
         train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte,
         uncompressed, SHA-256 checked, written all or nothing.
Params:  download.source, download.mirrors, download.path, download.timeout,
         download.retries, download.verify.
"""

from __future__ import annotations

import argparse
import logging

from digitgen.data import fetch_mnist
from digitgen.params import load_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="params file (default: %(default)s)")
    parser.add_argument("--out", default="data/raw/mnist", help="output folder (default: %(default)s)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    fetch_mnist(load_params(args.params).download, args.out)


if __name__ == "__main__":
    main()
