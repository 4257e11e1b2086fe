"""Tests of digitgen.evaluate.canvases and digitgen.pipeline.evaluate_canvases: the checks of canvas splits, their scores and outputs."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from evaluation_fakes import CentroidClassifier
from test_canvas import canvas_params

from digitgen import canvas_shards
from digitgen.errors import RunError
from digitgen.evaluate.canvases import boxes_hold_ink, check_canvas_split, digit_inputs
from digitgen.evaluate.readings import classify_with
from digitgen.io import read_npz, write_npz
from digitgen.params.all import parse_params
from digitgen.pipeline import evaluate_canvases


def eval_params(**values):
    return parse_params({"evaluate_canvases": {"canvases_checked": 30, "canvas_previews": 4, **values}}).evaluate_canvases


@pytest.fixture(scope="module")
def written(tmp_path_factory, mnist_arrays):
    root = tmp_path_factory.mktemp("evaluate_canvases")
    write_npz(root / "mnist.npz", mnist_arrays)
    canvas_shards.write_canvases(canvas_params(), root / "mnist.npz", root / "banks", root / "canvases", root / "canvases.json")
    (root / "model.keras").write_bytes(b"unused: a fake classifier is passed in")
    return root


@pytest.fixture(scope="module")
def classify(mnist_arrays):
    return classify_with(CentroidClassifier(mnist_arrays["x_train"], mnist_arrays["y_train"]))


def _copy(written, tmp_path):
    shutil.copytree(written / "canvases", tmp_path / "canvases")
    return tmp_path / "canvases"


def _run(written, folder, tmp_path, classify, **params):
    return evaluate_canvases.run(
        eval_params(**params), written / "mnist.npz", written / "model.keras", [], [folder / "train", folder / "test"],
        tmp_path / "out" / "canvas_checks.json", tmp_path / "out" / "plots", classify=classify,
    )


def test_correct_canvases_pass_every_check_and_their_digits_read(written, tmp_path, classify):
    results = _run(written, written / "canvases", tmp_path, classify)
    for split, count in (("train", 40), ("test", 20)):
        metrics = results[split].metrics
        assert metrics["canvases"] == count and metrics["contract_errors"] == 0 and metrics["leaks"] == 0
        assert 0 <= metrics["largest_iou"] <= metrics["max_iou"] == 0.1
        assert metrics["checked_canvases"] == min(count, 30) and metrics["checked_digits"] == len(results[split].labels)
        assert metrics["digit_accuracy"] > 0.5  # crops by box hold their digits
        assert set(metrics["accuracy_by_height"]) <= {"<16", "16-23", ">=24"}
    saved = json.loads((tmp_path / "out" / "canvas_checks.json").read_text())
    assert saved["test"]["canvases"] == 20 and "messages" not in saved["test"]
    assert (tmp_path / "out" / "plots" / "canvases" / "test.png").is_file()
    assert (tmp_path / "out" / "plots" / "confusion" / "canvases-train.csv").read_text().startswith("actual,predicted\n")


def test_digit_inputs_are_centred_28_pixel_digits(written):
    arrays = read_npz(written / "canvases" / "test" / "shard-00000.npz", what="shard")
    rows, slots = np.nonzero(arrays["digit_labels"] >= 0)
    inputs = digit_inputs(arrays["images"], rows[:10], arrays["digit_boxes"][rows[:10], slots[:10]])
    assert inputs.dtype == np.uint8 and inputs.shape == (10, 28, 28) and (inputs.reshape(10, -1).max(1) > 100).all()
    assert not inputs[:, :2].any() and not inputs[:, -2:].any()  # a margin, as in MNIST


def _tamper(folder, key, change):
    path = folder / "test" / "shard-00000.npz"
    arrays = read_npz(path, what="shard")
    change(arrays[key])
    write_npz(path, arrays)


@pytest.mark.parametrize(
    ("key", "change", "message"),
    [
        ("number_boxes", lambda a: a.__setitem__((0, 0), (*a[0, 0, :2], a[0, 0, 0] + 1, a[0, 0, 1] + 1)), "digit box not inside"),
        ("digit_boxes", lambda a: a.__setitem__((0, 0, 2), 90), "outside the canvas"),
        ("digit_labels", lambda a: a.__setitem__((0, 0), (a[0, 0] + 1) % 10), "number label differs from its digits"),
        ("source_index", lambda a: a.__setitem__((0, 0), 10**6), "source_index outside"),
    ],
)
def test_a_broken_shard_fails_the_strict_stage_naming_the_rule_and_writes_nothing(written, tmp_path, classify, key, change, message):
    folder = _copy(written, tmp_path)
    _tamper(folder, key, change)
    with pytest.raises(RunError, match="contract"):
        _run(written, folder, tmp_path, classify)
    assert not (tmp_path / "out").exists()
    results = _run(written, folder, tmp_path, classify, strict=False)
    assert results["test"].metrics["contract_errors"] >= 1 and any(message in m for m in results["test"].messages)
    assert results["train"].metrics["contract_errors"] == 0


def test_overlapping_numbers_break_the_iou_limit(written, tmp_path, classify):
    folder = _copy(written, tmp_path)
    path = folder / "test" / "shard-00000.npz"
    arrays = read_npz(path, what="shard")
    row = int(np.flatnonzero((arrays["number_labels"] != "").sum(1) >= 2)[0])
    arrays["number_boxes"][row, 1] = arrays["number_boxes"][row, 0]
    write_npz(path, arrays)
    result = check_canvas_split(folder / "test", "test", {"real": np.zeros(60, np.int16)}, classify, eval_params(canvases_checked=0))
    assert any("overlap by more than max_iou" in m for m in result.messages)


def test_a_test_digit_from_another_source_is_a_leak(written, tmp_path, classify):
    folder = _copy(written, tmp_path)
    path = folder / "test" / "shard-00000.npz"
    arrays = read_npz(path, what="shard")
    arrays["source_names"] = np.array(["kde"])
    write_npz(path, arrays)
    results = _run(written, folder, tmp_path, classify, strict=False)
    assert results["test"].metrics["leaks"] == int((arrays["digit_labels"] >= 0).sum()) > 0


def test_canvas_folders_must_be_named_after_the_splits(written, tmp_path, classify):
    with pytest.raises(ValueError, match="--canvases"):
        evaluate_canvases.canvas_folders([written / "canvases" / "train"])
    with pytest.raises(FileNotFoundError, match="model"):
        evaluate_canvases.run(eval_params(), written / "mnist.npz", tmp_path / "none.keras", [], [written / "canvases" / s for s in ("train", "test")],
                              tmp_path / "m.json", tmp_path / "plots", classify=classify)
    assert not (tmp_path / "m.json").exists()


def test_boxes_hold_ink_equals_the_per_box_reference():
    rng = np.random.default_rng(0)
    images = ((rng.random((700, 20, 30)) < 0.01) * 200).astype(np.uint8)
    rows = rng.integers(0, 700, 3000)
    boxes = np.stack([rng.integers(0, 30, 3000), rng.integers(0, 20, 3000)], 1)
    boxes = np.concatenate([boxes, boxes + rng.integers(1, 8, (3000, 2))], 1)  # may run past the edge: clipped
    expected = np.array([images[r, y0:y1, x0:x1].any() for r, (x0, y0, x1, y1) in zip(rows, boxes)])
    assert np.array_equal(boxes_hold_ink(images, rows, boxes, block=256), expected) and 0 < expected.mean() < 1
