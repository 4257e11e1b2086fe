"""Tests of digitgen.io: atomic writes and the deterministic NPZ writer."""

from __future__ import annotations

import os
import stat
import time

import numpy as np
import pytest

from digitgen.io import atomic_directory, atomic_path, sha256_file, write_npz


def test_write_npz_is_byte_identical_across_time(tmp_path):
    arrays = {"images": np.arange(3000, dtype=np.uint8).reshape(3, 1000), "names": np.array(["real", "kde"])}
    write_npz(tmp_path / "a.npz", arrays)
    time.sleep(2.1)  # zip timestamps have 2-second resolution
    write_npz(tmp_path / "b.npz", arrays)
    assert sha256_file(tmp_path / "a.npz") == sha256_file(tmp_path / "b.npz")
    with np.load(tmp_path / "a.npz", allow_pickle=False) as loaded:
        np.testing.assert_array_equal(loaded["images"], arrays["images"])
        assert loaded["names"].tolist() == ["real", "kde"]


@pytest.mark.parametrize("level", [0, 1, 9])
def test_write_npz_levels_round_trip(tmp_path, level):
    array = np.zeros((50, 28, 28), np.uint8)
    write_npz(tmp_path / "x.npz", {"x": array}, compress_level=level)
    with np.load(tmp_path / "x.npz") as loaded:
        np.testing.assert_array_equal(loaded["x"], array)
    size = (tmp_path / "x.npz").stat().st_size
    assert (size > array.nbytes) if level == 0 else (size < array.nbytes / 20)


def test_write_npz_refuses_objects_and_bad_levels(tmp_path):
    with pytest.raises(ValueError, match="dtype object"):
        write_npz(tmp_path / "o.npz", {"o": np.array([{}], dtype=object)})
    with pytest.raises(ValueError, match="compress_level == 12, must be an integer in 0..9"):
        write_npz(tmp_path / "o.npz", {"x": np.zeros(1)}, compress_level=12)
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_atomic_directory_swaps_only_when_complete(tmp_path):
    target = tmp_path / "split"
    with atomic_directory(target) as tmp:
        (tmp / "a").write_text("1")
    assert (target / "a").read_text() == "1"
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as tmp:
            (tmp / "b").write_text("2")
            raise RuntimeError("interrupted")
    assert sorted(p.name for p in target.iterdir()) == ["a"]
    with atomic_directory(target) as tmp:
        (tmp / "c").write_text("3")
    assert sorted(p.name for p in target.iterdir()) == ["c"]
    assert [p.name for p in tmp_path.iterdir()] == ["split"]


def test_atomic_outputs_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "f") as tmp:
            tmp.write_text("x")
        with atomic_directory(tmp_path / "d") as tmp:
            (tmp / "a").write_text("1")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755


def test_stale_temporaries_of_killed_writers_are_removed_and_live_ones_kept(tmp_path):
    import os
    import subprocess
    import sys

    from digitgen.io import remove_stale_temporaries

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    (tmp_path / f".tmp-train.{dead_pid}.abc123").mkdir()
    (tmp_path / f".tmp-train.{dead_pid}.abc123" / "shard-00000.npz").write_bytes(b"partial")
    (tmp_path / f".tmp-info.json.{dead_pid}.zz_9").write_bytes(b"partial")
    (tmp_path / f".tmp-test.{os.getpid()}.live12").mkdir()
    (tmp_path / "train").mkdir()
    removed = sorted(p.name for p in remove_stale_temporaries(tmp_path))
    assert removed == [f".tmp-info.json.{dead_pid}.zz_9", f".tmp-train.{dead_pid}.abc123"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".tmp-test.{os.getpid()}.live12", "train"]


def test_an_existing_file_is_never_replaced_by_an_output_folder(tmp_path):
    from digitgen.io import atomic_directory

    keep = tmp_path / "notes.txt"
    keep.write_text("mine")
    with pytest.raises(FileExistsError, match="notes.txt: exists and is not a folder"):
        with atomic_directory(keep):
            raise AssertionError("the body must not run")
    assert keep.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
