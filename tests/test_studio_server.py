"""``digitgen serve`` as a process: a port in use is a clear error, SIGINT/SIGTERM stop it cleanly, and other hosts warn."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

READY = "studio ready: http://"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(tmp_path: Path, mnist_npz: Path, port: int, *extra: str) -> subprocess.Popen:
    empty = tmp_path / "nothing"
    empty.mkdir(exist_ok=True)
    command = [sys.executable, "-m", "digitgen", "serve", "--port", str(port), "--models", str(empty), "--banks", str(empty),
               "--data", str(mnist_npz), "--no-warm-up", *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def _wait_ready(process: subprocess.Popen, timeout: float = 120) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        if READY in line:
            return lines
    process.kill()
    raise AssertionError("the studio did not start:\n" + "".join(lines) + process.stderr.read())


def test_port_in_use_is_a_clear_error(tmp_path, mnist_npz):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        process = _serve(tmp_path, mnist_npz, port)
        out, err = process.communicate(timeout=120)
    assert process.returncode == 2
    assert err.strip().splitlines()[-1] == (f"digitgen serve: error: --port == {port}: 127.0.0.1:{port} is already in use "
                                            "(another server is listening there); stop it or choose another --port.")
    assert "Traceback" not in err and "loaded" not in err  # refused before loading anything


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serves_then_stops_cleanly_on_a_signal(tmp_path, mnist_npz, stop):
    port = _free_port()
    process = _serve(tmp_path, mnist_npz, port)
    try:
        lines = _wait_ready(process)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=10) as response:
            health = json.loads(response.read())
        assert health["status"] == "ok" and health["pid"] == process.pid
        assert health["sources"]["digits"]["real"]["available"] and not health["sources"]["digits"]["cvae"]["available"]
        assert any("cvae unavailable" in line and "dvc repro train_cvae" in line for line in lines)
        process.send_signal(stop)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert err.strip().splitlines()[-1].endswith(f"studio stopped on {stop.name}")
    assert "Traceback" not in err
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2)


def test_bad_options_before_anything_starts(tmp_path, mnist_npz):
    process = subprocess.run([sys.executable, "-m", "digitgen", "serve", "--port", "70000"], capture_output=True, text=True, timeout=60)
    assert process.returncode == 2 and "--port == 70000" in process.stderr
    process = subprocess.run([sys.executable, "-m", "digitgen", "serve", "--models", str(tmp_path / "no")], capture_output=True, text=True, timeout=60)
    assert process.returncode == 2 and "--models" in process.stderr and "is not a folder" in process.stderr


def test_other_host_warns(monkeypatch, caplog):
    """Listening on another address than loopback logs a warning (the studio has no authentication)."""
    import argparse

    from digitgen.cli import serve as cli_serve

    seen = {}
    monkeypatch.setattr(cli_serve, "_serve", lambda args, sock, limits, paths, exposed: seen.update(exposed=exposed))
    for host, exposed in (("0.0.0.0", True), ("127.0.0.1", False)):
        caplog.clear()
        args = argparse.Namespace(host=host, port=_free_port(), models=None, banks=None, data=None, max_digits=256, max_series=8,
                                  rate=1000.0, burst=1000, no_warm_up=True)
        with caplog.at_level("WARNING", logger="digitgen.serve"):
            cli_serve.run(args)
        assert seen == {"exposed": exposed}
        warned = [r.getMessage() for r in caplog.records if r.name == "digitgen.serve"]
        assert warned == ([f"listening on 0.0.0.0, not only on this machine: anyone who can reach 0.0.0.0:{args.port} can use "
                           "the studio (no authentication)."] if exposed else [])
