"""digitgen: reproducible synthetic handwritten-digit datasets.

Public API::

    digitgen.compose_sequence(digits, spacing_range, image_width, *, bank=None, rng=None, ...)
    digitgen.compose_batch(pool, index, spacing_range, width, *, rng, ...)
    digitgen.DigitBank, digitgen.load_real_bank, digitgen.load_bank
    digitgen.emit_split(split, params, mnist_path, banks_dir, out_dir)
    digitgen.load_sequences(path_or_url, split, batch_size=256, shuffle=False, seed=None)
    digitgen.load_params(path)
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("digitgen")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

from digitgen.bank import DigitBank, load_bank, load_real_bank  # noqa: E402
from digitgen.compose import compose_batch, compose_sequence  # noqa: E402
from digitgen.loader import load_sequences  # noqa: E402
from digitgen.params import load_params  # noqa: E402
from digitgen.shards import emit_split  # noqa: E402

__all__ = [
    "DigitBank",
    "__version__",
    "compose_batch",
    "compose_sequence",
    "emit_split",
    "load_bank",
    "load_sequences",
    "load_params",
    "load_real_bank",
]
