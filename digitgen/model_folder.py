"""The one on-disk format of a fitted generator: a folder of model files described by its ``model.json``.

A model folder holds the model's own files (``.keras``, ``.npz``) and
``model.json``::

    {"format": "digitgen.cvae", "format_version": 1, "class": "CvaeDigitGenerator",
     "params": {...constructor parameters...}, "fitted": {...summary of the fit...},
     "versions": {"digitgen": ..., "numpy": ..., ...what else the model needs},
     "sha256": {"decoder.keras": "...", "encoder.keras": "..."}}

``sha256`` lists every other file of the folder. :func:`write` publishes the
folder atomically with deterministic bytes (sorted keys, no timestamps: the
same fitted state gives the same files). :func:`read` checks the format, its
version and the class, and the SHA-256 of every listed file before anything
is loaded; a missing file names the stage that makes it, an old format asks
for a re-run of that stage. Nothing here unpickles: the model files are read
by their own safe readers (:func:`digitgen.io.read_npz`,
:func:`digitgen.keras_io.load_keras` in safe mode).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import digitgen
from digitgen.errors import CorruptFileError, InputError
from digitgen.io import atomic_directory, sha256_file, write_json

#: Name of the description file of a model folder.
MODEL_JSON = "model.json"
#: Largest ``model.json`` read, in bytes (a model's summary is a few kB).
MAX_JSON_BYTES = 16 << 20


def json_ready(value: Any) -> Any:
    """``value`` with tuples, NumPy scalars and arrays, and dataclasses turned into JSON lists, numbers and objects."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: json_ready(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, tuple | list | np.ndarray):
        return [json_ready(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def versions(**extra: str) -> dict[str, str]:
    """Versions a saved model depends on: digitgen, NumPy and ``extra`` (e.g. ``keras=keras.__version__``)."""
    return {"digitgen": digitgen.__version__, "numpy": np.__version__, **extra}


def write(
    path: str | os.PathLike,
    *,
    format: str,
    format_version: int,
    cls: str,
    params: Mapping[str, Any],
    fitted: Mapping[str, Any],
    versions: Mapping[str, str],
    files: Callable[[Path], None],
) -> None:
    """Write a model folder at ``path`` (an existing folder is replaced only once the new one is complete).

    Parameters
    ----------
    format, format_version, cls : what the folder holds (see the module docstring).
    params : constructor parameters (made JSON-ready with :func:`json_ready`).
    fitted : JSON-ready summary of the fit.
    versions : see :func:`versions`.
    files : writes the model's files into the temporary folder it is given
        (every file it writes is listed in ``sha256``).
    """
    with atomic_directory(path) as tmp:
        files(tmp)
        names = sorted(entry.name for entry in tmp.iterdir())
        if MODEL_JSON in names or any(not (tmp / name).is_file() for name in names):
            raise ValueError(f"a model's files must be plain files other than {MODEL_JSON}, got {names}.")
        write_json(
            tmp / MODEL_JSON,
            {
                "format": format,
                "format_version": format_version,
                "class": cls,
                "params": json_ready(dict(params)),
                "fitted": dict(fitted),
                "versions": dict(versions),
                "sha256": {name: sha256_file(tmp / name) for name in names},
            },
        )


def read(
    path: str | os.PathLike,
    *,
    format: str,
    format_version: int,
    cls: str,
    stage: str,
    files: Sequence[str] = (),
    fitted: Sequence[str] = (),
    what: str = "model",
) -> dict[str, Any]:
    """The checked description of the model folder ``path`` (its ``model.json``).

    Parameters
    ----------
    format, format_version, cls : what the folder must hold.
    stage : the DVC stage that makes such a folder (named in every remedy).
    files : files the model needs; each must be listed in ``sha256``.
    fitted : keys the model needs in ``fitted``.
    what : what the folder is, for messages (``"KDE model"``).

    Raises
    ------
    FileNotFoundError
        ``model.json`` or a listed file is missing (the message says to run ``stage``).
    digitgen.errors.CorruptFileError
        ``model.json`` is not a JSON description, lacks a needed file or
        fitted value, or a file's SHA-256 differs from the one recorded.
    digitgen.errors.InputError
        Another format, an older version or another class: re-run ``stage``.
    """
    folder = Path(path)
    json_path = folder / MODEL_JSON
    remedy = f"run `dvc repro {stage}` or fit and save a model there"
    if not json_path.is_file():
        raise FileNotFoundError(f"{what} file {str(json_path)!r} does not exist; {remedy}.")
    rebuild = f"run `dvc repro {stage}` to rebuild it"
    if json_path.stat().st_size > MAX_JSON_BYTES:
        raise CorruptFileError(json_path, f"{json_path.stat().st_size} bytes, more than the {MAX_JSON_BYTES} a description may hold", rebuild)
    try:
        description = json.loads(json_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CorruptFileError(json_path, f"not valid JSON: {error}", rebuild) from None
    if not isinstance(description, dict):
        raise CorruptFileError(json_path, f"not a JSON object but {type(description).__name__}", rebuild)
    found = (description.get("format"), description.get("format_version"))
    if found != (format, format_version):
        raise InputError(
            f"{json_path}: format {found[0]!r} version {found[1]!r}, expected {format!r} version {format_version}; {rebuild}."
        )
    if description.get("class") != cls:
        raise InputError(f"{json_path}: a model of class {description.get('class')!r}, expected {cls!r}; {rebuild}.")
    for key, kind in (("params", dict), ("fitted", dict), ("versions", dict), ("sha256", dict)):
        if not isinstance(description.get(key), kind):
            raise CorruptFileError(json_path, f"its {key!r} is not a JSON object", rebuild)
    missing = [key for key in fitted if key not in description["fitted"]]
    if missing:
        raise CorruptFileError(json_path, f"its 'fitted' lacks {missing}", rebuild)
    digests = description["sha256"]
    for name in files:
        if name not in digests:
            raise CorruptFileError(json_path, f"it records no SHA-256 of {name!r}", rebuild)
    for name, recorded in sorted(digests.items()):
        if not isinstance(name, str) or Path(name).name != name or name in ("", ".", "..", MODEL_JSON):
            raise CorruptFileError(json_path, f"it lists {name!r}, not a file name of the folder", rebuild)
        file = folder / name
        if not file.is_file():
            raise FileNotFoundError(f"{what} file {str(file)!r} does not exist; {remedy}.")
        digest = sha256_file(file)
        if digest != recorded:
            raise CorruptFileError(file, f"SHA-256 {digest} differs from the {recorded} recorded in {MODEL_JSON}", rebuild)
    return description

