"""Tests of digitgen.pipeline.evaluate_sequences / evaluate_banks and their stage scripts: inputs, strict failure, outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from evaluation_fakes import CentroidClassifier, distinct_mnist_arrays, write_sequences

from digitgen.errors import InputError, RunError
from digitgen.evaluate import readings as rd
from digitgen.io import write_npz
from digitgen.params.all import parse_params
from digitgen.pipeline import evaluate_banks, evaluate_sequences

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path):
    """mnist.npz, sequences of both splits, readings made by a fake classifier, a placeholder model file."""
    arrays = distinct_mnist_arrays()
    write_npz(tmp_path / "mnist.npz", arrays)
    sequences = write_sequences(tmp_path, tmp_path / "mnist.npz")
    classifier = CentroidClassifier(arrays["x_train"], arrays["y_train"])
    classify = rd.classify_with(classifier)
    rd.write_readings(tmp_path / "readings.npz", {
        f"real_{split}": (rd.read_digits(arrays[f"x_{split}"], classify), rd.images_sha256(arrays[f"x_{split}"])) for split in ("train", "test")
    })
    (tmp_path / "classifier.keras").write_bytes(b"never loaded: every crop has a reading")
    return tmp_path, sequences, classify


def run_sequences(root, sequences, classify, **params):
    section = parse_params({"evaluate_sequences": params}).evaluate_sequences
    return evaluate_sequences.run(
        section, root / "mnist.npz", root / "classifier.keras", [root / "banks" / "kde.npz"], root / "readings.npz",
        [sequences / "train", sequences / "test"], root / "out" / "datasets.json", root / "out" / "plots", classify=classify,
    )


def fade_first_digit(sequences):
    """Halve the ink of the first test digit: its pixels no longer hold the digit its source_index names."""
    path = sequences / "test" / "shard-00000.npz"
    with np.load(path) as shard:
        data = {key: shard[key] for key in shard.files}
    x0, y0, x1, y1 = (int(v) for v in data["boxes"][0, 0])
    data["images"][0, y0:y1, x0:x1] //= 2
    write_npz(path, data)


def test_the_stage_writes_datasets_json_and_the_sequence_plots(project):
    root, sequences, classify = project
    checks = run_sequences(root, sequences, classify, sequence_previews=3)
    written = json.loads((root / "out" / "datasets.json").read_text())
    assert list(written) == ["test", "train"] and written["test"]["contract_errors"] == 0 and written["test"]["leaks"] == 0
    assert written["train"]["sequences"] == 40 and written["train"]["checked_sequences"] == 40
    assert written["train"]["digit_accuracy"] == pytest.approx(checks["train"].metrics["digit_accuracy"], rel=1e-5)
    names = sorted(str(p.relative_to(root / "out" / "plots")) for p in (root / "out" / "plots").rglob("*.*"))
    assert names == ["confusion/sequences-test.csv", "confusion/sequences-train.csv", "sequences/test.png", "sequences/train.png"]
    table = pd.read_csv(root / "out" / "plots" / "confusion" / "sequences-test.csv")
    assert list(table.columns) == ["actual", "predicted"] and len(table) == written["test"]["checked_digits"]
    assert all(check.timings["classified"] == 0 for check in checks.values())  # every crop was looked up


def test_strict_mode_fails_with_a_one_line_summary_and_writes_nothing(project):
    root, sequences, classify = project
    manifest = sequences / "test" / "manifest.csv"
    manifest.write_text(manifest.read_text().replace(",shard-00000.npz,0,", ",shard-00000.npz,7,", 1))
    with pytest.raises(RunError) as failure:
        run_sequences(root, sequences, classify)
    message = str(failure.value)
    assert message.startswith("the sequence datasets break their contract (train: 0 contract errors, 0 leaks; test: 1 contract errors, 0 leaks); nothing written")
    assert "set evaluate_sequences.strict: false" in message and "first: test: manifest.csv: row 0 is" in message and "\n" not in message
    assert not (root / "out").exists()
    run_sequences(root, sequences, classify, strict=False)  # not strict: written, with the messages
    written = json.loads((root / "out" / "datasets.json").read_text())
    assert written["test"]["contract_errors"] == 1 and written["test"]["messages"][0].startswith("manifest.csv: row 0 is")


def test_a_test_digit_whose_pixels_differ_from_its_source_is_classified_and_reported(project):
    root, sequences, classify = project
    fade_first_digit(sequences)
    calls = []

    def counting(inputs):
        calls.append(len(inputs))
        return classify(inputs)

    with pytest.raises(RunError, match=r"test: 1 contract errors, 0 leaks.*first: test: shard-00000.npz: row 0 digit 0: pixels do not hold 'real''s digit"):
        run_sequences(root, sequences, counting)
    assert calls == [1]  # the one crop without a reading went through the classifier


def test_the_splits_must_be_named_folders(project):
    root, sequences, classify = project
    section = parse_params({}).evaluate_sequences
    with pytest.raises(InputError, match=r"--sequences names no folder for split\(s\) \['test'\]"):
        evaluate_sequences.run(section, root / "mnist.npz", root / "classifier.keras", [], root / "readings.npz",
                               [sequences / "train"], root / "d.json", root / "p", classify=classify)
    with pytest.raises(FileNotFoundError, match=r"sequence split '.*nowhere/test' does not exist; run `dvc repro sequences`"):
        evaluate_sequences.run(section, root / "mnist.npz", root / "classifier.keras", [], root / "readings.npz",
                               [sequences / "train", root / "nowhere" / "test"], root / "d.json", root / "p", classify=classify)


def test_evaluate_banks_checks_its_inputs_before_loading_the_classifier(project):
    root, _, _ = project
    params = parse_params({"evaluate_banks": {"banks": ["kde", "cvae"]}}).evaluate_banks
    with pytest.raises(FileNotFoundError, match=r"--model '.*missing.keras' does not exist; run `dvc repro train_classifier`"):
        evaluate_banks.run(params, root / "mnist.npz", root / "missing.keras", [], root / "banks.json", root / "plots")
    with pytest.raises(InputError, match=r"evaluate_banks.banks lists \['cvae'\], but --banks names no such file \(it names \['kde'\]\)"):
        evaluate_banks.run(params, root / "mnist.npz", root / "classifier.keras", [root / "kde.npz"], root / "banks.json", root / "plots")
    with pytest.raises(InputError, match=r"--banks == '.*gan.npz', must be bank files named <source>.npz"):
        evaluate_banks.run(params, root / "mnist.npz", root / "classifier.keras", [root / "gan.npz"], root / "banks.json", root / "plots")
    with pytest.raises(FileNotFoundError, match=r"bank file '.*kde.npz' for source 'kde' does not exist"):
        evaluate_banks.run(params, root / "mnist.npz", root / "classifier.keras", [root / "kde.npz", root / "cvae.npz"], root / "banks.json", root / "plots")
    assert not (root / "plots").exists() and not (root / "banks.json").exists()


def test_the_stage_script_exits_1_with_one_line_when_the_contract_is_broken(project):
    root, sequences, _ = project
    (sequences / "train" / "info.json").write_text("{}")
    manifest = sequences / "train" / "manifest.csv"
    manifest.write_text(manifest.read_text() + "40,shard-00002.npz,8,1,1,real\n")
    (root / "params.yaml").write_text("evaluate_sequences: {strict: true}\n")
    command = [
        sys.executable, str(ROOT / "stages" / "evaluate_sequences.py"), "--params", str(root / "params.yaml"),
        "--mnist", str(root / "mnist.npz"), "--model", str(root / "classifier.keras"), "--banks", str(root / "banks" / "kde.npz"),
        "--readings", str(root / "readings.npz"), "--sequences", str(sequences / "train"), str(sequences / "test"),
        "--metrics", str(root / "out" / "datasets.json"), "--plots", str(root / "out" / "plots"),
    ]
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("stage evaluate_sequences: error: the sequence datasets break their contract (train: 1 contract errors, 0 leaks; test: 0 contract errors, 0 leaks)")
    assert "train: manifest.csv: 41 rows, but the shards hold 40 sequences" in last
    assert not (root / "out").exists()
