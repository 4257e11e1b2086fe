"""Tests of digitgen.entry: one line and the right exit status for every kind of failure, and the native-log filter."""

from __future__ import annotations

import errno
import os

import pytest

from digitgen import entry
from digitgen.errors import CorruptFileError, InputError, RunError


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (InputError("width == 3, must be an integer >= 28."), 2, "width == 3, must be an integer >= 28."),
        (FileNotFoundError("params file 'x.yaml' does not exist."), 2, "params file 'x.yaml' does not exist."),
        (PermissionError(errno.EACCES, "Permission denied", "/out/x.png"), 2, "/out/x.png: Permission denied"),
        (OSError(errno.ENOSPC, "No space left on device", "/data/shard-00003.npz"), 1, "/data/shard-00003.npz: No space left on device"),
        (OSError(errno.EXDEV, "Invalid cross-device link", "/a", None, "/b"), 1, "/a -> /b: Invalid cross-device link"),
        (CorruptFileError("/b/kde.npz", "BadZipFile: File is not a zip file"), 2,
         "file '/b/kde.npz' is corrupt or truncated (BadZipFile: File is not a zip file); re-run `dvc repro` or `dvc checkout`."),
        (RunError("the sequence datasets break their contract"), 1, "the sequence datasets break their contract"),
        (MemoryError(), 1, "out of memory; ask for fewer or smaller items (see the caps in README.md, 'Failure behaviour')"),
        (KeyError("images"), 1, "KeyError: 'images' (set DIGITGEN_DEBUG=1 for the traceback)"),
    ],
)
def test_every_failure_is_one_line_with_its_exit_status(error, code, line, capsys, monkeypatch):
    monkeypatch.delenv(entry.DEBUG_ENV, raising=False)

    def work():
        raise error

    assert entry.guarded("digitgen x", work) == code
    err = capsys.readouterr().err
    assert err == f"digitgen x: error: {line}\n"


def test_ctrl_c_is_one_line_and_130(capsys):
    def work():
        raise KeyboardInterrupt

    assert entry.guarded("stage sequences", work) == 130
    assert capsys.readouterr().err == "stage sequences: interrupted\n"


def test_debug_adds_the_traceback(capsys, monkeypatch):
    monkeypatch.setenv(entry.DEBUG_ENV, "1")

    def work():
        raise InputError("bad")

    assert entry.guarded("digitgen x", work) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.endswith("digitgen x: error: bad\n")


def test_the_native_log_filter_drops_tensorflow_lines_and_keeps_the_rest(capfd, monkeypatch):
    monkeypatch.delenv(entry.TF_LOGS_ENV, raising=False)
    lines = [
        b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
        b"I0000 00:00:1796117170.588304    2591 cudart_stub.cc:31] Could not find cuda drivers on your machine.\n",
        b"E0000 00:00:1796118540.946638   12114 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)\n",
        b"To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.\n",
        b"INFO digitgen.shards: wrote 10 sequences\n",
        b"F0000 00:00:1.0   1 fatal.cc:1] a fatal native error stays visible\n",
    ]
    with entry.quiet_tensorflow():
        for line in lines:
            os.write(2, line)
    assert capfd.readouterr().err == "INFO digitgen.shards: wrote 10 sequences\nF0000 00:00:1.0   1 fatal.cc:1] a fatal native error stays visible\n"
