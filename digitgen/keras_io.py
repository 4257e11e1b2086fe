"""Byte-reproducible ``.keras`` files.

Keras stamps the save time into ``metadata.json`` and the zip headers, and
numbers objects shared between layers (e.g. the dtype policy) in
``config.json`` by their Python ``id()``, which changes from process to
process. :func:`save_keras` replaces all three with fixed values, so the same
architecture and weights always give the same bytes (and DVC sees no change).
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import keras

from digitgen.errors import CorruptFileError

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def save_keras(model: keras.Model, path: str | os.PathLike) -> None:
    """Write ``model`` to the ``.keras`` file ``path``, reproducibly.

    Not atomic by itself: write to a path from :func:`digitgen.io.atomic_path`
    or into a folder from :func:`digitgen.io.atomic_directory`.
    """
    path = Path(path)
    raw = path.with_name(path.name + ".raw.keras")
    try:
        model.save(raw)
        with zipfile.ZipFile(raw) as src, zipfile.ZipFile(path, "w") as dst:
            for info in src.infolist():
                data = src.read(info)
                if info.filename == "metadata.json":
                    metadata = json.loads(data)
                    metadata.pop("date_saved", None)
                    data = json.dumps(metadata, sort_keys=True).encode()
                elif info.filename == "config.json":
                    data = json.dumps(_renumber_shared_objects(json.loads(data), {})).encode()
                member = zipfile.ZipInfo(info.filename, date_time=_ZIP_EPOCH)
                member.compress_type = info.compress_type
                member.external_attr = 0o644 << 16
                dst.writestr(member, data)
    finally:
        raw.unlink(missing_ok=True)


def _renumber_shared_objects(node: Any, numbers: dict[int, int]) -> Any:
    """Replace every ``shared_object_id`` in a Keras config by its rank of first appearance (in place)."""
    if isinstance(node, dict):
        if "shared_object_id" in node:
            node["shared_object_id"] = numbers.setdefault(node["shared_object_id"], len(numbers) + 1)
        for value in node.values():
            _renumber_shared_objects(value, numbers)
    elif isinstance(node, list):
        for value in node:
            _renumber_shared_objects(value, numbers)
    return node


#: What Keras raises somewhere inside loading a damaged ``.keras`` file (a zip of JSON and HDF5).
_LOAD_ERRORS = (zipfile.BadZipFile, ValueError, KeyError, TypeError, AttributeError, IndexError, EOFError, OSError, RuntimeError, json.JSONDecodeError)


def load_keras(path: str | os.PathLike, remedy: str = "re-run the stage that made it (`dvc repro`) or `dvc checkout` it") -> keras.Model:
    """Load a ``.keras`` file in safe mode (built-in layers only, no Python code in the file), without compiling.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    digitgen.errors.CorruptFileError
        A file Keras cannot read (truncated, damaged, not a Keras model), naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Keras model {str(path)!r} does not exist; {remedy}.")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except _LOAD_ERRORS as error:
        raise CorruptFileError(path, f"Keras could not load it: {type(error).__name__}: {' '.join(str(error).split())[:200]}", remedy) from None
