"""Tests of digitgen.model_folder: the one on-disk format of fitted generators."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

import digitgen
from digitgen import model_folder
from digitgen.errors import CorruptFileError, InputError

SPEC = {"format": "digitgen.test", "format_version": 3, "cls": "Thing"}


@dataclass(frozen=True)
class Part:
    sizes: tuple
    name: str


def write(path, *, payload=b"weights", **overrides):
    def files(folder):
        (folder / "a.bin").write_bytes(payload)
        (folder / "b.bin").write_bytes(b"more")

    model_folder.write(path, **{**SPEC, "params": {"sizes": (1, 2), "part": Part((3,), "x"), "scale": np.float32(0.5)},
                                "fitted": {"loss": 1.5}, "versions": model_folder.versions(extra="1.0"), "files": files, **overrides})


def read(path, **overrides):
    return model_folder.read(path, **{**SPEC, "stage": "make_thing", "what": "thing model", **overrides})


def test_write_lists_every_other_file_and_reads_back(tmp_path):
    write(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["a.bin", "b.bin", "model.json"]
    description = read(tmp_path / "m", files=("a.bin",), fitted=("loss",))
    assert set(description) == {"format", "format_version", "class", "params", "fitted", "versions", "sha256"}
    assert description["params"] == {"sizes": [1, 2], "part": {"sizes": [3], "name": "x"}, "scale": 0.5}
    assert description["versions"] == {"digitgen": digitgen.__version__, "numpy": np.__version__, "extra": "1.0"}
    assert sorted(description["sha256"]) == ["a.bin", "b.bin"] and all(len(v) == 64 for v in description["sha256"].values())


def test_the_same_state_gives_the_same_bytes_and_an_old_folder_is_replaced(tmp_path):
    write(tmp_path / "a")
    write(tmp_path / "b")
    for name in ("a.bin", "b.bin", "model.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    write(tmp_path / "a", payload=b"new")
    assert (tmp_path / "a" / "a.bin").read_bytes() == b"new" and read(tmp_path / "a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # no temporary folder left


def test_a_failed_write_leaves_the_old_folder(tmp_path):
    write(tmp_path / "m")

    def broken(folder):
        (folder / "a.bin").write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write(tmp_path / "m", files=broken)
    assert (tmp_path / "m" / "a.bin").read_bytes() == b"weights" and sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_read_names_the_stage_for_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^thing model file '.*nothing/model.json' does not exist; run `dvc repro make_thing` or fit"):
        read(tmp_path / "nothing")
    write(tmp_path / "m")
    (tmp_path / "m" / "b.bin").unlink()
    with pytest.raises(FileNotFoundError, match=r"^thing model file '.*m/b.bin' does not exist; run `dvc repro make_thing`"):
        read(tmp_path / "m")


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda d: {**d, "format_version": 2}, InputError, r"format 'digitgen.test' version 2, expected 'digitgen.test' version 3; run `dvc repro make_thing` to rebuild it\.$"),
        (lambda d: {**d, "format": "other"}, InputError, r"format 'other' version 3, expected 'digitgen.test' version 3"),
        (lambda d: {**d, "class": "Other"}, InputError, r"a model of class 'Other', expected 'Thing'; run `dvc repro make_thing` to rebuild it\.$"),
        (lambda d: {**d, "sha256": [1]}, CorruptFileError, r"its 'sha256' is not a JSON object"),
        (lambda d: {**d, "sha256": {"b.bin": d["sha256"]["b.bin"]}}, CorruptFileError, r"it records no SHA-256 of 'a.bin'"),
        (lambda d: {**d, "sha256": {**d["sha256"], "/etc/passwd": "0" * 64}}, CorruptFileError, r"it lists '/etc/passwd', not a file name"),
        (lambda d: {**d, "sha256": {**d["sha256"], "a.bin": "0" * 64}}, CorruptFileError,
         r"a.bin' is corrupt or truncated \(SHA-256 [0-9a-f]{64} differs from the 0{64} recorded in model.json\); run `dvc repro make_thing`"),
        (lambda d: {**d, "fitted": {}}, CorruptFileError, r"its 'fitted' lacks \['loss'\]"),
    ],
)
def test_read_refuses_what_was_not_written_by_write(tmp_path, change, error, message):
    write(tmp_path / "m")
    path = tmp_path / "m" / "model.json"
    path.write_text(json.dumps(change(json.loads(path.read_text()))))
    with pytest.raises(error, match=message):
        read(tmp_path / "m", files=("a.bin",), fitted=("loss",))


def test_read_refuses_a_description_that_is_not_json(tmp_path):
    write(tmp_path / "m")
    (tmp_path / "m" / "model.json").write_bytes(b"{not json")
    with pytest.raises(CorruptFileError, match=r"model.json' is corrupt or truncated \(not valid JSON: "):
        read(tmp_path / "m")
    (tmp_path / "m" / "model.json").write_text("[1, 2]")
    with pytest.raises(CorruptFileError, match=r"not a JSON object but list"):
        read(tmp_path / "m")


def test_write_refuses_a_folder_or_a_model_json_among_the_files(tmp_path):
    with pytest.raises(ValueError, match=r"a model's files must be plain files other than model.json, got \['sub'\]"):
        write(tmp_path / "m", files=lambda folder: (folder / "sub").mkdir())
    assert not (tmp_path / "m").exists()
