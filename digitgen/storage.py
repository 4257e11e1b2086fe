"""Where dataset files go: a local folder or any fsspec URL (``s3://``, ``gs://``, ``file://`` ...).

Writes are all-or-nothing per file: locally a temporary file renamed into
place, remotely a single object upload (an interrupted upload leaves no
object), so a shard interrupted mid-write never looks complete.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import fsspec

from digitgen.io import atomic_path


def is_url(location: str | os.PathLike) -> bool:
    """True for ``scheme://...`` locations (handled by fsspec), False for plain paths."""
    return "://" in str(location)


@dataclass(frozen=True)
class Destination:
    """A folder, local or remote, that files are written into by name (picklable, for workers)."""

    location: str

    def write(self, name: str, data: bytes) -> None:
        """Write ``data`` to ``<location>/<name>``, creating parent folders."""
        if is_url(self.location):
            fs, root = fsspec.core.url_to_fs(self.location)
            target = f"{root.rstrip('/')}/{name}"
            fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            fs.pipe_file(target, data)
        else:
            with atomic_path(Path(self.location) / name) as tmp:
                tmp.write_bytes(data)

    def put(self, name: str, local_file: str | os.PathLike) -> None:
        """Copy the local file ``local_file`` to ``<location>/<name>`` without reading it into memory."""
        if is_url(self.location):
            fs, root = fsspec.core.url_to_fs(self.location)
            fs.put_file(str(local_file), f"{root.rstrip('/')}/{name}")
        else:
            with atomic_path(Path(self.location) / name) as tmp:
                shutil.copyfile(local_file, tmp)


def list_files(location: str | os.PathLike, pattern: str) -> list[str]:
    """Sorted paths or URLs of the files in ``location`` matching the glob ``pattern``."""
    if is_url(location):
        fs, root = fsspec.core.url_to_fs(str(location))
        protocol = str(location).split("://", 1)[0]
        return sorted(f"{protocol}://{path}" for path in fs.glob(f"{root.rstrip('/')}/{pattern}"))
    return sorted(str(path) for path in Path(location).glob(pattern))


def read_bytes(location: str | os.PathLike) -> bytes:
    """All bytes of a local file or a URL."""
    if is_url(location):
        with fsspec.open(str(location), "rb") as handle:
            return handle.read()
    return Path(location).read_bytes()
