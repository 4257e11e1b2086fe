"""Decoding raw IDX files into ``mnist.npz``, its contract, and where the default copy comes from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from digitgen.data import cache as mnist_module
from digitgen.data import (
    decode_mnist,
    default_mnist_npz,
    load_mnist_npz,
    save_mnist_npz,
    write_idx,
)
from digitgen.io import write_npz
from digitgen.params.download import DownloadParams

ROOT = Path(__file__).resolve().parents[1]
RAW_KEYS = {
    "train-images-idx3-ubyte": "x_train",
    "train-labels-idx1-ubyte": "y_train",
    "t10k-images-idx3-ubyte": "x_test",
    "t10k-labels-idx1-ubyte": "y_test",
}


def write_raw(folder: Path, arrays: dict[str, np.ndarray]) -> Path:
    for name, key in RAW_KEYS.items():
        write_idx(folder / name, arrays[key])
    return folder


def test_decode_round_trip(tmp_path: Path, mnist_arrays: dict[str, np.ndarray]) -> None:
    arrays = decode_mnist(write_raw(tmp_path, mnist_arrays))
    assert list(arrays) == ["x_train", "y_train", "x_test", "y_test"]
    for key, expected in mnist_arrays.items():
        assert arrays[key].dtype == np.uint8
        np.testing.assert_array_equal(arrays[key], expected)
    save_mnist_npz(arrays, tmp_path / "mnist.npz")
    loaded = load_mnist_npz(tmp_path / "mnist.npz")
    for key, expected in mnist_arrays.items():
        np.testing.assert_array_equal(loaded[key], expected)


def test_decode_count_mismatch_names_both_files(tmp_path: Path, mnist_arrays: dict[str, np.ndarray]) -> None:
    write_raw(tmp_path, mnist_arrays)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", mnist_arrays["y_test"][:-1])
    with pytest.raises(ValueError, match=rf"^{tmp_path}/t10k-labels-idx1-ubyte has 59 labels but {tmp_path}/t10k-images-idx3-ubyte has 60 images$"):
        decode_mnist(tmp_path)


def test_decode_refuses_labels_outside_0_to_9(tmp_path: Path, mnist_arrays: dict[str, np.ndarray]) -> None:
    write_raw(tmp_path, mnist_arrays)
    labels = mnist_arrays["y_train"].copy()
    labels[17] = 10
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    with pytest.raises(ValueError, match=rf"^{tmp_path}/train-labels-idx1-ubyte: label 10 at index 17, expected 0\.\.9$"):
        decode_mnist(tmp_path)


def test_decode_refuses_other_image_sizes(tmp_path: Path, mnist_arrays: dict[str, np.ndarray]) -> None:
    write_raw(tmp_path, mnist_arrays)
    write_idx(tmp_path / "train-images-idx3-ubyte", mnist_arrays["x_train"][:, :, :27].copy())
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: images are 28x27, expected 28x28"):
        decode_mnist(tmp_path)


def test_decode_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        decode_mnist(tmp_path)


def test_load_missing_file_says_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=rf"MNIST arrays '{tmp_path}/mnist\.npz' does not exist; create it with `dvc repro decode`"):
        load_mnist_npz(tmp_path / "mnist.npz")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.pop("y_test"), r"missing array\(s\) \['y_test'\]; found \['x_test', 'x_train', 'y_train'\]; create it with .*"),
        (lambda a: a.update(x_train=a["x_train"].astype(np.float32)), r"key 'x_train' has dtype float32, expected uint8"),
        (lambda a: a.update(y_train=a["y_train"].astype(np.int64)), r"key 'y_train' has dtype int64, expected uint8"),
        (lambda a: a.update(x_test=a["x_test"][:, :, :27]), r"key 'x_test' has shape \(60, 28, 27\), expected \(60, 28, 28\)"),
        (lambda a: a.update(y_train=a["y_train"][:-1]), r"key 'y_train' has shape \(199,\), expected \(200,\)"),
        (lambda a: a.update(y_test=a["y_test"].reshape(6, 10)), r"key 'y_test' has shape \(6, 10\), expected \(60,\)"),
    ],
)
def test_load_checks_the_contract(tmp_path: Path, mnist_arrays: dict[str, np.ndarray], change, message: str) -> None:
    arrays = dict(mnist_arrays)
    change(arrays)
    write_npz(tmp_path / "mnist.npz", arrays)
    with pytest.raises(ValueError, match=rf"^(MNIST arrays ')?{tmp_path}/mnist\.npz'?: {message}$"):
        load_mnist_npz(tmp_path / "mnist.npz")


# --------------------------------------------------------------------------- default_mnist_npz


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No project checkout, no cache variables, and a working directory that looks like a project."""
    monkeypatch.setattr(mnist_module, "_PROJECT_ROOT", tmp_path / "no-project")
    for name in ("DIGITGEN_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cwd = tmp_path / "cwd"
    (cwd / "data" / "interim").mkdir(parents=True)
    (cwd / "dvc.yaml").write_text("stages: {}\n")
    (cwd / "data" / "interim" / "mnist.npz").write_bytes(b"")
    monkeypatch.chdir(cwd)

    def no_fetch(*args: object, **kwargs: object) -> None:
        raise AssertionError("default_mnist_npz must not fetch here")

    monkeypatch.setattr(mnist_module, "fetch_mnist", no_fetch)
    return tmp_path


def test_default_explicit_path(isolated: Path, mnist_npz: Path) -> None:
    assert default_mnist_npz(mnist_npz) == mnist_npz.resolve()
    assert default_mnist_npz(str(mnist_npz)) == mnist_npz.resolve()
    with pytest.raises(FileNotFoundError, match=rf"MNIST file {isolated}/missing\.npz does not exist"):
        default_mnist_npz(isolated / "missing.npz")


def test_default_prefers_the_project_checkout(isolated: Path, monkeypatch: pytest.MonkeyPatch, mnist_npz: Path) -> None:
    project = isolated / "project"
    (project / "data" / "interim").mkdir(parents=True)
    (project / "data" / "interim" / "mnist.npz").write_bytes(mnist_npz.read_bytes())
    monkeypatch.setattr(mnist_module, "_PROJECT_ROOT", project)
    monkeypatch.setenv("DIGITGEN_CACHE_DIR", str(isolated / "cache"))
    (isolated / "cache").mkdir()
    (isolated / "cache" / "mnist.npz").write_bytes(mnist_npz.read_bytes())
    assert default_mnist_npz() == isolated / "cache" / "mnist.npz"  # no dvc.yaml: not a project checkout
    (project / "dvc.yaml").write_text("stages: {}\n")
    assert default_mnist_npz() == project / "data" / "interim" / "mnist.npz"


@pytest.mark.parametrize(
    ("variable", "folder"),
    [("DIGITGEN_CACHE_DIR", "custom"), ("XDG_CACHE_HOME", "xdg/digitgen"), (None, "home/.cache/digitgen")],
)
def test_default_user_cache(isolated: Path, monkeypatch: pytest.MonkeyPatch, mnist_npz: Path, variable: str | None, folder: str) -> None:
    if variable == "DIGITGEN_CACHE_DIR":
        monkeypatch.setenv(variable, str(isolated / "custom"))
    elif variable == "XDG_CACHE_HOME":
        monkeypatch.setenv(variable, str(isolated / "xdg"))
    cached = isolated / folder / "mnist.npz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(mnist_npz.read_bytes())
    assert default_mnist_npz() == cached


def test_default_fills_an_empty_cache_once(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, mnist_arrays: dict[str, np.ndarray], caplog: pytest.LogCaptureFixture
) -> None:
    from digitgen.data.sources import fetch_mnist

    calls = []

    def counting_fetch(*args: object, **kwargs: object) -> dict[str, str]:
        calls.append(args)
        return fetch_mnist(*args, **kwargs)

    monkeypatch.setattr(mnist_module, "fetch_mnist", counting_fetch)
    monkeypatch.setenv("DIGITGEN_CACHE_DIR", str(isolated / "cache"))
    params = DownloadParams(source="path", path=str(write_raw(isolated, mnist_arrays)), verify=False)
    with caplog.at_level("INFO"):
        path = default_mnist_npz(params=params)
    assert path == isolated / "cache" / "mnist.npz"
    assert "MNIST not in the user cache: fetching it (source path)" in caplog.text
    loaded = load_mnist_npz(path)
    for key, expected in mnist_arrays.items():
        np.testing.assert_array_equal(loaded[key], expected)
    assert default_mnist_npz(params=params) == path
    assert len(calls) == 1
    assert sorted(p.name for p in (isolated / "cache").iterdir()) == ["mnist.npz"]


# --------------------------------------------------------------------------- stage scripts


def test_download_and_decode_stages(tmp_path: Path, mnist_arrays: dict[str, np.ndarray]) -> None:
    (tmp_path / "source").mkdir()
    source = write_raw(tmp_path / "source", mnist_arrays)
    (tmp_path / "params.yaml").write_text(f"download:\n  source: path\n  path: {source}\n  verify: false\n")
    run = {"cwd": tmp_path, "check": True, "capture_output": True, "text": True}
    download = subprocess.run([sys.executable, ROOT / "stages" / "download.py", "--params", "params.yaml", "--out", "raw"], **run)
    assert "not guaranteed to be official MNIST" in download.stderr
    decode = subprocess.run([sys.executable, ROOT / "stages" / "decode.py", "--raw", "raw", "--out", "interim/mnist.npz"], **run)
    assert "wrote interim/mnist.npz: 200 training and 60 test images" in decode.stderr
    loaded = load_mnist_npz(tmp_path / "interim" / "mnist.npz")
    for key, expected in mnist_arrays.items():
        np.testing.assert_array_equal(loaded[key], expected)
