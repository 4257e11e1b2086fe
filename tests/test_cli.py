"""Tests of the `digitgen` command."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from digitgen.cli import main
from digitgen.io import write_npz


def test_sequence_writes_the_classic_file_name(tmp_path, mnist_npz, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["sequence", "2934", "0", "10", "200", "--seed", "3", "--data", str(mnist_npz)]) == 0
    assert capsys.readouterr().out.strip() == "2-9-3-4.png"
    image = np.asarray(Image.open(tmp_path / "2-9-3-4.png"))
    assert image.shape == (28, 200) and image.dtype == np.uint8 and image.max() == 255
    main(["sequence", "2934", "0", "10", "200", "--seed", "3", "--data", str(mnist_npz), "--out", "again.png"])
    np.testing.assert_array_equal(image, np.asarray(Image.open(tmp_path / "again.png")))


def test_sequence_options(tmp_path, mnist_npz, capsys):
    out = tmp_path / "fill.png"
    args = ["sequence", "123", "10", "20", "110", "--mode", "fill", "--split", "train", "--data", str(mnist_npz), "--out", str(out)]
    assert main(args) == 0
    assert np.asarray(Image.open(out)).shape == (28, 110)
    assert main(["sequence", "77", "-4", "-4", "tight", "--measure", "ink", "--data", str(mnist_npz), "--out", str(out)]) == 0
    assert np.asarray(Image.open(out)).shape[0] == 28


def test_sequence_from_a_generated_bank(tmp_path, capsys):
    images = np.zeros((10, 28, 28), np.uint8)
    images[:, 4:24, 8:20] = 255
    write_npz(tmp_path / "kde.npz", {"images": images, "labels": np.arange(10, dtype=np.int16)})
    out = tmp_path / "k.png"
    assert main(["sequence", "42", "0", "0", "56", "--source", "kde", "--banks", str(tmp_path), "--out", str(out)]) == 0
    assert (np.asarray(Image.open(out)) == 255).sum() == 2 * 20 * 12


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["12a", "0", "10", "200"], "digits == '12a', must be a non-empty string of the characters 0-9"),
        (["1234", "10", "0", "200"], "spacing min == 10 is greater than spacing max == 0"),
        (["12345", "0", "10", "100"], "minimum width is 180"),
        (["12", "0", "1", "100", "--source", "gan"], "--source == 'gan', must be one of"),
        (["12", "0", "1", "100", "--source", "kde", "--banks", "/nonexistent"], "bank file '/nonexistent/kde.npz' for source 'kde' does not exist"),
        (["12", "0", "1", "100", "--data", "/nonexistent/mnist.npz"], "/nonexistent/mnist.npz"),
    ],
)
def test_sequence_errors_are_one_clear_line(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["sequence", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("digitgen sequence: error:") and message in err
    assert list(tmp_path.iterdir()) == []


def test_bad_width_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["sequence", "12", "0", "1", "wide"])
    assert exit_info.value.code == 2
    assert "WIDTH == 'wide', must be an integer number of pixels or 'tight'" in capsys.readouterr().err


def test_dataset_command(tmp_path, mnist_npz, capsys):
    params = tmp_path / "params.yaml"
    params.write_text("sequences:\n  shard_size: 8\n  previews: 2\n  splits:\n    train: {count: 20}\n    test: {count: 10}\n")
    assert main(["dataset", "test", "--params", str(params), "--mnist", str(mnist_npz), "--out", str(tmp_path / "test"), "--workers", "1"]) == 0
    assert "10 sequences in 2 shards" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "test").glob("*.npz")) == ["shard-00000.npz", "shard-00001.npz"]


def test_check_params(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text("sequences:\n  width: 220\n")
    assert main(["check-params", str(good)]) == 0
    assert "ok" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("sequences:\n  widht: 220\n")
    assert main(["check-params", str(bad)]) == 2
    assert "unknown key sequences.widht" in capsys.readouterr().err


def test_python_dash_m_runs_the_same_command(tmp_path, mnist_npz):
    result = subprocess.run(
        [sys.executable, "-m", "digitgen", "sequence", "07", "2", "2", "tight", "--seed", "1", "--data", str(mnist_npz)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0-7.png"
    assert np.asarray(Image.open(tmp_path / "0-7.png")).shape == (28, 58)


def test_dataset_to_a_url_and_an_unreachable_scheduler(tmp_path, mnist_npz, capsys):
    import fsspec

    params = tmp_path / "params.yaml"
    params.write_text("sequences:\n  shard_size: 8\n  previews: 0\n  scheduler_timeout: 0.5\n  splits:\n    train: {count: 20}\n    test: {count: 10}\n")
    assert main(["dataset", "test", "--params", str(params), "--mnist", str(mnist_npz), "--out", "memory://cli-test/test"]) == 0
    assert fsspec.filesystem("memory").exists("/cli-test/test/manifest.csv")
    capsys.readouterr()
    code = main(["dataset", "test", "--params", str(params), "--mnist", str(mnist_npz), "--out", str(tmp_path / "t"),
                 "--scheduler", "tcp://127.0.0.1:9"])
    assert code == 2
    assert "could not reach the Dask scheduler at 'tcp://127.0.0.1:9'" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()


def test_dataset_never_replaces_what_digitgen_did_not_write(tmp_path, mnist_npz, capsys):
    params = tmp_path / "params.yaml"
    params.write_text("sequences:\n  shard_size: 8\n  previews: 0\n  splits:\n    train: {count: 20}\n    test: {count: 10}\n")
    base = ["dataset", "test", "--params", str(params), "--mnist", str(mnist_npz), "--workers", "1", "--out"]
    mine = tmp_path / "notes.txt"
    mine.write_text("keep me")
    assert main([*base, str(mine)]) == 2
    assert "exists and is a file" in capsys.readouterr().err and mine.read_text() == "keep me"
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "cat.jpg").write_bytes(b"jpeg")
    assert main([*base, str(folder)]) == 2
    assert "is not a split folder written by digitgen" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["cat.jpg"]
    split = tmp_path / "split"
    assert main([*base, str(split)]) == 0 and main([*base, str(split)]) == 0  # its own output is replaced
    assert main([*base, str(folder), "--overwrite"]) == 0 and (folder / "manifest.csv").is_file()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sequence", "12", "0", "1", "100", "--seed", "-1"], "--seed == -1, must be an integer in 0.."),
        (["sequence", "12", "0", "1", "100000000"], "WIDTH == 100000000, must be an integer in 1..8192"),
        (["sequence", "1" * 65, "0", "1", "tight"], "DIGITS length == 65, must be 1 to 64 digits"),
        (["dataset", "test", "--out", "x", "--workers", "-3"], "--workers == -3, must be an integer in 0..256"),
        (["sample", "-n", "100000000"], "-n == 100000000, must be an integer in 1..100000"),
    ],
)
def test_bad_options_name_the_option_and_what_is_allowed(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("sequences: {}\n")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert list(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


def test_a_scheduler_that_is_not_an_address_is_refused_at_once(tmp_path, capsys):
    (tmp_path / "params.yaml").write_text("sequences: {}\n")
    code = main(["dataset", "test", "--params", str(tmp_path / "params.yaml"), "--out", str(tmp_path / "t"), "--scheduler", "notaurl"])
    assert code == 2
    assert "--scheduler == 'notaurl', must be a Dask scheduler address such as 'tcp://10.0.0.5:8786'" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()


def test_a_folder_given_as_data_or_out_is_named_as_a_folder(tmp_path, capsys):
    assert main(["sequence", "12", "0", "1", "100", "--data", str(tmp_path)]) == 2
    assert f"MNIST file {tmp_path} is a folder; give the mnist.npz file itself" in capsys.readouterr().err
    assert main(["sequence", "12", "0", "1", "100", "--out", str(tmp_path)]) == 2
    assert f"--out == '{tmp_path}', is a folder; give a file name such as out.png" in capsys.readouterr().err


def test_sequence_layout_options_change_the_height_and_the_ink(tmp_path, mnist_npz, capsys):
    plain, varied = tmp_path / "plain.png", tmp_path / "varied.png"
    base = ["sequence", "2934", "0", "6", "300", "--seed", "4", "--data", str(mnist_npz)]
    assert main([*base, "--out", str(plain)]) == 0
    assert main([*base, "--out", str(varied), "--height", "40", "--digit.scale", "0.8,1.2", "--digit.rotation", "10",
                 "--digit.shear", "5", "--digit.offset_y", "2", "--digit.thickness", "0.5", "--degrade.invert.p", "1"]) == 0
    assert np.asarray(Image.open(plain)).shape == (28, 300)
    image = np.asarray(Image.open(varied))
    assert image.shape == (40, 300) and image.dtype == np.uint8
    assert image[0, 0] == 255  # inverted: the background is white


def test_dataset_layout_options_override_the_params_file(tmp_path, mnist_npz, capsys):
    params = tmp_path / "params.yaml"
    params.write_text("sequences:\n  width: 300\n  shard_size: 8\n  previews: 1\n  splits:\n    train: {count: 20}\n    test: {count: 6}\n")
    out = tmp_path / "test"
    assert main(["dataset", "test", "--params", str(params), "--mnist", str(mnist_npz), "--out", str(out), "--workers", "1",
                 "--height", "32", "--digit.rotation", "8", "--degrade.blur.p", "0.5"]) == 0
    info = json.loads((out / "info.json").read_text())
    assert info["image_shape"] == [32, 300] and info["parameters"]["digit"]["rotation"] == 8.0
    assert info["parameters"]["degrade"]["blur"] == {"p": 0.5, "sigma": [0.4, 1.2]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sequence", "12", "0", "1", "100", "--digit.rotation=-3"], "--digit.rotation == -3, must be a number of degrees in [0, 90]"),
        (["sequence", "12", "0", "1", "100", "--digit.scale=-1,1"], "--digit.scale[0] == -1, must be a number in [0.25, 2]"),
        (["sequence", "12", "0", "1", "100", "--digit.scale", "1.5,1.2"], "--digit.scale == [1.5, 1.2], must be a range [min, max] with min <= max"),
        (["sequence", "12", "0", "1", "100", "--height", "7"], "--height == 7, must be an integer in 8..512"),
        (["sequence", "12", "0", "1", "100", "--degrade.blur.p", "1.5"], "--degrade.blur.p == 1.5, must be a probability in [0, 1]"),
        (["sequence", "2934", "0", "10", "200", "--height", "64"], "at height 64: the minimum width is 324"),
        (["dataset", "test", "--out", "x", "--digit.thickness", "9"], "--digit.thickness == 9, must be a number of pixels in [0, 4]"),
        (["dataset", "test", "--out", "x", "--height", "64"], "at height 64: the minimum width is 411"),
    ],
)
def test_bad_layout_options_are_refused_before_any_work(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("sequences: {}\n")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert list(p.name for p in tmp_path.iterdir()) == ["params.yaml"]
