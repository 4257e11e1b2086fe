"""Atomic file and folder writes, a deterministic NPZ writer and a defensive NPZ reader.

Every stage writes through these helpers so that an interrupted or failed run
never leaves a file at an output path that looks complete. :func:`read_npz`
reads any NPZ a user could hand over (a bank, a shard, ``mnist.npz``, a model)
without pickle, checking each array's declared size before allocating it and
turning every way a file can be truncated or corrupted into one
:class:`digitgen.errors.CorruptFileError` naming the file.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from digitgen.errors import CorruptFileError, InputError

#: Largest array :func:`read_npz` allocates unless told otherwise, in bytes.
MAX_ARRAY_BYTES = 4 << 30
# Errors a truncated, bit-flipped or foreign file raises somewhere inside zipfile, zlib or numpy.
_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError, KeyError, RuntimeError)

_READ_CHUNK = 1 << 24

# Fixed timestamp for NPZ members: `np.savez` stamps the current time into the
# zip headers, which would make identical arrays give different bytes.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Temporary files and folders are named ``.tmp-<name>.<pid>.<random>`` (``.tmp-old-...`` while a folder is swapped).
_TEMPORARY = re.compile(r"^\.tmp-.*\.(\d+)\.[A-Za-z0-9_]+$")


def _temporary_prefix(final: Path, old: bool = False) -> str:
    return f".tmp-{'old-' if old else ''}{final.name}.{os.getpid()}."


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files and folders in ``folder`` left by writers that no longer run (killed mid-write).

    Returns what was removed. A temporary whose process is alive is kept.
    """
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        match = _TEMPORARY.match(entry.name)
        if match is None or _process_alive(int(match.group(1))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user's process
        return True
    except OverflowError:
        return False
    return True


_cleaned: set[Path] = set()  # folders already cleared of stale temporaries by this process


def _prepare_parent(final: Path) -> None:
    """Create the folder of ``final`` and clear it (once per process) of stale temporaries of earlier, killed runs."""
    final.parent.mkdir(parents=True, exist_ok=True)
    folder = final.parent.resolve()
    if folder not in _cleaned:
        remove_stale_temporaries(folder)
        _cleaned.add(folder)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is untouched.
    Temporaries of earlier runs that were killed are removed first.
    """
    final = Path(path)
    if final.is_dir():
        raise IsADirectoryError(f"{final}: is a folder; cannot write a file there.")
    _prepare_parent(final)
    fd, tmp_name = tempfile.mkstemp(prefix=_temporary_prefix(final), dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual file mode
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; swap it into place on success.

    An existing folder at ``path`` is replaced only after the new one is
    complete. On any exception the temporary folder is removed.
    """
    with atomic_directories([path]) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_directories(paths: Iterable[str | os.PathLike]) -> Iterator[list[Path]]:
    """Like :func:`atomic_directory` for several folders published together, once every one is complete.

    The folders are swapped into place one after the other only after the
    ``with`` body has finished without error, so a failure anywhere leaves
    every old folder as it was and no new one. An existing *file* at one of
    the paths is never replaced (FileExistsError, before anything is written).
    Temporaries of earlier runs that were killed are removed first.
    """
    finals = [Path(path) for path in paths]
    for final in finals:
        if final.exists() and not final.is_dir():
            raise FileExistsError(f"{final}: exists and is not a folder; refusing to replace it with an output folder.")
    temps: list[Path] = []
    try:
        for final in finals:
            _prepare_parent(final)
            temps.append(Path(tempfile.mkdtemp(prefix=_temporary_prefix(final), dir=final.parent)))
        yield list(temps)
        for tmp, final in zip(temps, finals):
            os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp creates 0700; give the usual folder mode
        for tmp, final in zip(temps, finals):
            if final.exists():
                old = Path(tempfile.mkdtemp(prefix=_temporary_prefix(final, old=True), dir=final.parent))
                old.rmdir()
                os.replace(final, old)
                os.replace(tmp, final)
                shutil.rmtree(old)
            else:
                os.replace(tmp, final)
    finally:
        for tmp in temps:
            if tmp.exists():
                shutil.rmtree(tmp)


def write_npz(path: str | os.PathLike, arrays: Mapping[str, np.ndarray], compress_level: int = 1) -> None:
    """Write ``arrays`` to an NPZ archive readable by ``np.load``, atomically.

    Unlike ``np.savez``, the output bytes depend only on the arrays (fixed zip
    timestamps), so identical inputs give byte-identical files.

    Parameters
    ----------
    path : destination ``.npz`` file.
    arrays : name -> array; object arrays are refused (they would need pickle).
    compress_level : 0 stores the arrays uncompressed; 1-9 is the zlib level.
    """
    _check_level(compress_level)
    with atomic_path(path) as tmp:
        _write_npz_archive(tmp, arrays, compress_level)


def npz_bytes(arrays: Mapping[str, np.ndarray], compress_level: int = 1) -> bytes:
    """The bytes :func:`write_npz` would write, built in memory (for remote destinations)."""
    _check_level(compress_level)
    buffer = io.BytesIO()
    _write_npz_archive(buffer, arrays, compress_level)
    return buffer.getvalue()


def _check_level(compress_level: int) -> None:
    if not 0 <= compress_level <= 9:
        raise ValueError(f"compress_level == {compress_level!r}, must be an integer in 0..9.")


def _write_npz_archive(target, arrays: Mapping[str, np.ndarray], compress_level: int) -> None:
    compression = zipfile.ZIP_STORED if compress_level == 0 else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(target, "w", compression=compression, compresslevel=compress_level or None) as archive:
        for name, value in arrays.items():
            array = np.asarray(value)
            if array.dtype.hasobject:
                raise ValueError(f"array {name!r} has dtype object; NPZ files here never hold pickled objects.")
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.compress_type = compression
            info.external_attr = 0o644 << 16
            _set_member_level(info, compress_level)
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def _set_member_level(info: zipfile.ZipInfo, compress_level: int) -> None:
    """Set a member's zlib level (the attribute is private before Python 3.13)."""
    if not compress_level:
        return
    if hasattr(info, "compress_level"):
        info.compress_level = compress_level
    else:
        info._compresslevel = compress_level


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as indented JSON with sorted keys (stable bytes), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_npz(
    path: str | os.PathLike,
    keys: Iterable[str] | None = None,
    *,
    what: str = "NPZ file",
    remedy: str = "re-run `dvc repro` or `dvc checkout`",
    max_bytes: int = MAX_ARRAY_BYTES,
    data: bytes | None = None,
) -> dict[str, np.ndarray]:
    """The arrays of an NPZ file, read without pickle and with sizes checked before allocation.

    Parameters
    ----------
    path : the ``.npz`` file (with ``data``: only its name or URL, for messages).
    keys : arrays to read (all when None); a missing one is an error naming the file and the keys found.
    what : what the file is, for messages (``"bank"``, ``"shard"``, ...).
    remedy : how to get a good file back, for messages.
    max_bytes : largest array allowed, in bytes.
    data : the file's bytes, when they were read elsewhere (e.g. from an fsspec URL).

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    digitgen.errors.InputError
        A missing key, an object (pickled) array, or an array larger than ``max_bytes``.
    digitgen.errors.CorruptFileError
        Not a zip archive, truncated, a bad CRC, a damaged array header, or an
        array whose declared size differs from the bytes the archive holds.
    """
    if data is None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{what} {str(path)!r} does not exist{' (it is a folder)' if path.is_dir() else ''}; {remedy}.")
    try:
        with zipfile.ZipFile(path if data is None else io.BytesIO(data)) as archive:
            members = {info.filename[:-4]: info for info in archive.infolist() if info.filename.endswith(".npy")}
            wanted = list(members) if keys is None else list(keys)
            missing = [key for key in wanted if key not in members]
            if missing:
                raise InputError(f"{what} {str(path)!r}: missing array(s) {missing}; found {sorted(members)}; {remedy}.")
            return {key: _read_member(archive, members[key], path, what, max_bytes) for key in wanted}
    except (InputError, FileNotFoundError):
        raise
    except _READ_ERRORS as error:
        raise CorruptFileError(path, f"{type(error).__name__}: {str(error)[:200]}", remedy) from None


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path, what: str, max_bytes: int) -> np.ndarray:
    """One ``.npy`` member: header checked against the member's size, then read."""
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise ValueError(f"unknown .npy format version {version}")
        header = member.tell()
        key = info.filename[:-4]
        if dtype.hasobject:
            raise InputError(f"{what} {str(path)!r}: array {key!r} holds Python objects (pickle); digitgen never loads those.")
        if any(int(s) < 0 for s in shape):
            raise ValueError(f"array {key!r} declares the negative shape {shape}")
        declared = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize if len(shape) else dtype.itemsize
        if declared > max_bytes:
            raise InputError(f"{what} {str(path)!r}: array {key!r} declares {declared} bytes {shape}, more than the {max_bytes} allowed.")
        if declared != info.file_size - header:
            raise ValueError(f"array {key!r} declares {declared} bytes {tuple(shape)} {dtype} but the archive holds {info.file_size - header}")
        buffer = np.empty(declared, np.uint8)
        view, done = memoryview(buffer), 0
        while done < declared:  # in chunks: memory stays the array's own size
            count = member.readinto(view[done : done + _READ_CHUNK])
            if not count:
                raise EOFError(f"array {key!r} ends after {done} of {declared} bytes")
            done += count
    array = buffer.view(dtype)
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)


def write_history(path: str | os.PathLike, history: dict[str, list[float]]) -> None:
    """Write a training history as CSV, atomically: one row per epoch, ``epoch`` (from 1) then each metric, rounded to 6 decimals."""
    names = sorted(history)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["epoch", *names])
        for epoch, values in enumerate(zip(*(history[name] for name in names)), start=1):
            writer.writerow([epoch, *(f"{value:.6f}" for value in values)])
