"""Read and write IDX files, the format of the official MNIST distribution.

An IDX file is a big-endian header -- a magic number whose last byte is the
number of dimensions (2049 = 1-D unsigned bytes, 2051 = 3-D unsigned bytes),
then one int32 per dimension -- followed by the raw uint8 data in C order.
"""

from __future__ import annotations

import gzip
import math
import os
from pathlib import Path

import numpy as np

from digitgen.io import atomic_path

_GZIP_MAGIC = b"\x1f\x8b"
#: magic number -> (number of dimensions, what MNIST stores in such a file)
_MAGICS = {2049: (1, "labels"), 2051: (3, "images")}


def _expected_magics(name: str) -> dict[int, tuple[int, str]]:
    """The magic numbers allowed for a file, judged by its name (``...-images-...`` / ``...-labels-...``)."""
    base = Path(name).name
    allowed = {magic: kind for magic, kind in _MAGICS.items() if kind[1] in base}
    return allowed or _MAGICS


def parse_idx(data: bytes, name: str) -> np.ndarray:
    """Decode the bytes of an uncompressed IDX file.

    Parameters
    ----------
    data : the whole file.
    name : the file's name, used in error messages; a name containing
        ``images`` (``labels``) admits only magic 2051 (2049).

    Returns
    -------
    numpy.ndarray
        uint8, shape (N,) for labels or (N, rows, cols) for images; a
        read-only view of ``data`` when ``data`` is ``bytes``.

    Raises
    ------
    ValueError
        Wrong magic number, header cut short, or data shorter or longer than the
        header declares; the message names the file and the field.
    """
    allowed = _expected_magics(name)
    wanted = " or ".join(f"{magic} ({kind})" for magic, (_, kind) in allowed.items())
    if len(data) < 4:
        raise ValueError(f"{name}: {len(data)} bytes, too short for an IDX magic number (4 bytes)")
    magic = int.from_bytes(data[:4], "big")
    if magic not in allowed:
        layout = f" ({magic & 0xFF}-D uint8)" if magic >> 8 == 0x08 else ""
        raise ValueError(f"{name}: magic number == {magic}{layout}, expected {wanted}")
    ndim = allowed[magic][0]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{name}: header of {len(data)} bytes, expected {header} (magic and {ndim} dimension sizes)")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">i4", count=ndim, offset=4))
    declared = math.prod(shape)
    found = len(data) - header
    if found != declared:
        dims = "x".join(str(d) for d in shape)
        state = "truncated" if found < declared else "oversized"
        raise ValueError(f"{name}: declared {dims} = {declared} bytes of data, found {found} ({state})")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file, plain or gzipped (detected by its first two bytes).

    Returns uint8 (N,) or (N, rows, cols); see :func:`parse_idx` for the errors.
    """
    path = Path(path)
    data = path.read_bytes()
    if data[:2] == _GZIP_MAGIC:
        data = gzip.decompress(data)
    return parse_idx(data, str(path))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write a uint8 array of shape (N,) or (N, rows, cols) as an uncompressed IDX file, atomically."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"{path}: array dtype == {array.dtype}, expected uint8")
    magic = {ndim: magic for magic, (ndim, _) in _MAGICS.items()}.get(array.ndim)
    if magic is None:
        raise ValueError(f"{path}: array has {array.ndim} dimensions, expected 1 (labels) or 3 (images)")
    header = np.array([magic, *array.shape], dtype=">i4").tobytes()
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(header)
        handle.write(np.ascontiguousarray(array).tobytes())
