"""Read and write IDX files, the format of the official MNIST distribution.

An IDX file is a big-endian header -- a magic number whose last byte is the
number of dimensions (2049 = 1-D unsigned bytes, 2051 = 3-D unsigned bytes),
then one int32 per dimension -- followed by the raw uint8 data in C order.

Files are read with a size cap (:data:`MAX_IDX_BYTES` unless a smaller one is
given): a gzipped file is decompressed in chunks and refused as soon as it
would exceed the cap, so a small "zip bomb" cannot fill the memory.
"""

from __future__ import annotations

import math
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from digitgen.errors import CorruptFileError, InputError
from digitgen.io import atomic_path

_GZIP_MAGIC = b"\x1f\x8b"
#: Largest IDX file (uncompressed) read unless a smaller cap is given; MNIST's largest is 47,040,016 bytes.
MAX_IDX_BYTES = 256 << 20
_CHUNK = 1 << 20
#: magic number -> (number of dimensions, what MNIST stores in such a file)
_MAGICS = {2049: (1, "labels"), 2051: (3, "images")}


def _expected_magics(name: str) -> dict[int, tuple[int, str]]:
    """The magic numbers allowed for a file, judged by its name (``...-images-...`` / ``...-labels-...``)."""
    base = Path(name).name
    allowed = {magic: kind for magic, kind in _MAGICS.items() if kind[1] in base}
    return allowed or _MAGICS


def _corrupt(name: str, reason: str) -> InputError:
    return InputError(f"{name}: {reason}")


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
    digitgen.errors.InputError
        Wrong magic number, header cut short, or data shorter or longer than the
        header declares; the message names the file and the field.
    """
    allowed = _expected_magics(name)
    wanted = " or ".join(f"{magic} ({kind})" for magic, (_, kind) in allowed.items())
    if len(data) < 4:
        raise _corrupt(name, f"{len(data)} bytes, too short for an IDX magic number (4 bytes)")
    magic = int.from_bytes(data[:4], "big")
    if magic not in allowed:
        layout = f" ({magic & 0xFF}-D uint8)" if magic >> 8 == 0x08 else ""
        raise _corrupt(name, f"magic number == {magic}{layout}, expected {wanted}")
    ndim = allowed[magic][0]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise _corrupt(name, f"header of {len(data)} bytes, expected {header} (magic and {ndim} dimension sizes)")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">i4", count=ndim, offset=4))
    declared = math.prod(shape)
    found = len(data) - header
    if found != declared:
        dims = "x".join(str(d) for d in shape)
        state = "truncated" if found < declared else "oversized"
        raise _corrupt(name, f"declared {dims} = {declared} bytes of data, found {found} ({state})")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def gunzip_chunks(stream: BinaryIO, max_bytes: int, name: str) -> Iterator[bytes]:
    """Decompress a gzip stream (one or more members) in chunks, refusing more than ``max_bytes`` of output.

    Raises
    ------
    digitgen.errors.InputError
        The data would exceed ``max_bytes``.
    digitgen.errors.CorruptFileError
        Not gzip, damaged, or truncated (naming ``name``).
    """
    produced = 0
    decompressor = zlib.decompressobj(wbits=31)
    try:
        while True:
            data = decompressor.unconsumed_tail or stream.read(_CHUNK)
            if not data:
                if not decompressor.eof:
                    raise EOFError("the compressed data ends before its end-of-stream marker")
                return
            out = decompressor.decompress(data, max_bytes - produced + 1)
            produced += len(out)
            if produced > max_bytes:
                raise InputError(f"{name}: decompresses to more than {max_bytes} bytes, more than the file may hold.")
            if out:
                yield out
            if decompressor.eof:
                rest = decompressor.unused_data + stream.read(_CHUNK)
                if not rest.strip(b"\x00"):
                    if not stream.read(1):
                        return
                    rest = rest + stream.read(_CHUNK)
                if rest[:2] != _GZIP_MAGIC:
                    raise zlib.error("trailing bytes after the gzip member")
                decompressor = zlib.decompressobj(wbits=31)
                out = decompressor.decompress(rest, max_bytes - produced + 1)
                produced += len(out)
                if produced > max_bytes:
                    raise InputError(f"{name}: decompresses to more than {max_bytes} bytes, more than the file may hold.")
                if out:
                    yield out
    except (zlib.error, EOFError) as error:
        raise CorruptFileError(name, f"gzip: {error}", "replace it with a good copy") from None


def read_idx(path: str | os.PathLike, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Read an IDX file, plain or gzipped (detected by its first two bytes), at most ``max_bytes`` uncompressed.

    Returns uint8 (N,) or (N, rows, cols); see :func:`parse_idx` for the structural errors, and
    :func:`gunzip_chunks` for a damaged or oversized gzip file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file {str(path)!r} does not exist{' (it is a folder)' if path.is_dir() else ''}.")
    with open(path, "rb") as handle:
        if handle.read(2) == _GZIP_MAGIC:
            handle.seek(0)
            data = b"".join(gunzip_chunks(handle, max_bytes, str(path)))
        else:
            size = path.stat().st_size
            if size > max_bytes:
                raise InputError(f"{path}: {size} bytes, more than the {max_bytes} an IDX file may hold here.")
            handle.seek(0)
            data = handle.read()
    return parse_idx(data, str(path))


def gunzip_file(source: str | os.PathLike, target: str | os.PathLike, max_bytes: int = MAX_IDX_BYTES) -> None:
    """Decompress the gzip file ``source`` into ``target`` (not atomic), at most ``max_bytes``."""
    with open(source, "rb") as src, open(target, "wb") as dst:
        for chunk in gunzip_chunks(src, max_bytes, str(source)):
            dst.write(chunk)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write a uint8 array of shape (N,) or (N, rows, cols) as an uncompressed IDX file, atomically."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise InputError(f"{path}: array dtype == {array.dtype}, expected uint8")
    magic = {ndim: magic for magic, (ndim, _) in _MAGICS.items()}.get(array.ndim)
    if magic is None:
        raise InputError(f"{path}: array has {array.ndim} dimensions, expected 1 (labels) or 3 (images)")
    header = np.array([magic, *array.shape], dtype=">i4").tobytes()
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(header)
        handle.write(np.ascontiguousarray(array).tobytes())
