"""Fault injection: a dataset run killed or interrupted at any point leaves nothing partial, no orphan, and its
leftovers are removed by the next run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

PARAMS = """
sequences:
  width: 200
  shard_size: 2000
  previews: 4
  splits:
    train: {count: 40000}
    test: {count: 2000}
"""


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "digitgen", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # its own process group, as a job started from a shell
    )


def _wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the run to reach the point of the fault")
        time.sleep(0.02)


def _temporaries(folder: Path) -> list[Path]:
    return sorted(folder.glob(".tmp-*"))


def _shards_written(folder: Path) -> int:
    return sum(len(list(tmp.glob("shard-*.npz"))) for tmp in _temporaries(folder))


def _gone(processes: list[psutil.Process], timeout: float = 10.0) -> bool:
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    return not alive


@pytest.fixture
def job(tmp_path, mnist_npz):
    (tmp_path / "params.yaml").write_text(PARAMS)
    out = tmp_path / "train"
    args = ["dataset", "train", "--params", str(tmp_path / "params.yaml"), "--mnist", str(mnist_npz), "--workers", "2", "--out", str(out)]
    return tmp_path, out, args


@pytest.mark.parametrize("moment", ["starting", "shards written", "most shards written"])
def test_a_killed_run_leaves_nothing_visible_no_orphan_and_is_cleaned_up_next_time(job, moment):
    folder, out, args = job
    process = _start(args, folder)
    if moment == "starting":
        time.sleep(0.3)
    else:
        _wait_for(lambda: _shards_written(folder) >= (1 if moment == "shards written" else 12))
    children = psutil.Process(process.pid).children(recursive=True)
    os.kill(process.pid, signal.SIGKILL)  # the parent only: its workers must follow by themselves
    process.wait(timeout=10)
    assert _gone(children), f"orphans left: {[p.pid for p in children if p.is_running()]}"
    assert not out.exists()  # nothing that looks like a dataset
    # the next run removes what the killed one left and publishes a complete split
    small = [*args[:-4], "--workers", "1", "--out", str(out)]
    (folder / "params.yaml").write_text(PARAMS.replace("count: 40000", "count: 4000"))
    result = subprocess.run([sys.executable, "-m", "digitgen", *small], cwd=folder, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert _temporaries(folder) == []
    assert sorted(p.name for p in out.glob("shard-*.npz")) == ["shard-00000.npz", "shard-00001.npz"]
    assert (out / "manifest.csv").is_file() and (out / "info.json").is_file()


def test_ctrl_c_ends_with_one_line_exit_130_and_nothing_left(job):
    folder, out, args = job
    process = _start(args, folder)
    _wait_for(lambda: _shards_written(folder) >= 1)
    children = psutil.Process(process.pid).children(recursive=True)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert err == "digitgen dataset: interrupted\n"
    assert _gone(children) and not out.exists() and _temporaries(folder) == []


def test_a_killed_sequences_stage_publishes_neither_split(tmp_path, mnist_npz):
    """Both splits or neither: a stage killed after its test split was made leaves no test/ beside no train/."""
    root = Path(__file__).resolve().parents[1]
    (tmp_path / "params.yaml").write_text(PARAMS)
    out = tmp_path / "sequences"
    command = [sys.executable, str(root / "stages" / "sequences.py"), "--params", str(tmp_path / "params.yaml"),
               "--mnist", str(mnist_npz), "--banks", str(tmp_path / "banks"), "--out", str(out), "--metrics", str(tmp_path / "m.json")]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    _wait_for(lambda: out.is_dir() and _shards_written(out) >= 3)  # the test split (1 shard) is done, train under way
    children = psutil.Process(process.pid).children(recursive=True)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert _gone(children)
    assert not (out / "test").exists() and not (out / "train").exists() and not (tmp_path / "m.json").exists()
