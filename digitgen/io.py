"""Atomic file and folder writes, and a deterministic NPZ writer.

Every stage writes through these helpers so that an interrupted or failed run
never leaves a file at an output path that looks complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

# Fixed timestamp for NPZ members: `np.savez` stamps the current time into the
# zip headers, which would make identical arrays give different bytes.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is untouched.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".tmp-{final.name}.", dir=final.parent)
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
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}.", dir=final.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp creates 0700; give the usual folder mode
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".tmp-old-{final.name}.", dir=final.parent))
            old.rmdir()
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old)
        else:
            os.replace(tmp, final)
    finally:
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
