"""DVC stage ``download``: fetch the four official MNIST IDX files.

Inputs:  params.yaml (section ``download``).
Outputs: ``--out`` (default data/raw/mnist/): train-images-idx3-ubyte,
         train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte,
         uncompressed, SHA-256 checked, written all or nothing.
Params:  download.source, download.mirrors, download.path, download.timeout,
         download.retries, download.verify.
"""

from __future__ import annotations

from digitgen import entry

parser = entry.stage_parser(__doc__)
parser.add_argument("--out", default="data/raw/mnist", help="output folder (default: %(default)s)")


def main(args) -> None:
    from digitgen.data.sources import fetch_mnist
    from digitgen.params.core import load_section
    from digitgen.params.download import DownloadParams

    fetch_mnist(load_section(args.params, "download", DownloadParams), args.out)


if __name__ == "__main__":
    raise SystemExit(entry.run_stage("download", parser, main))
