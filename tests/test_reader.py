"""Tests of digitgen.reader, the train_reader stage glue and ``digitgen read``: decoding, scoring, the CRNN, training, user images."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image
from test_shards import tiny_params

from digitgen import shards
from digitgen.errors import InputError
from digitgen.params.all import parse_params
from digitgen.params.train_reader import TrainReaderParams

reader = pytest.importorskip("digitgen.reader")

TINY = TrainReaderParams(epochs=1, batch_size=16, filters=(4, 8), width_pools=2, dense=8, units=4,
                         validation_sequences=8, errors_shown=4)


def one_hot_logits(steps: list[int]) -> np.ndarray:
    """float32 (1, T, 11) logits that put 10 nats on each chosen class."""
    logits = np.zeros((1, len(steps), reader.CLASSES), np.float32)
    logits[0, np.arange(len(steps)), steps] = 10.0
    return logits


def test_greedy_decode_collapses_repeats_and_drops_blanks():
    b = reader.BLANK
    texts, p = reader.greedy_decode(one_hot_logits([b, 1, 1, b, 1, 7, 7, b, b, 0]))
    assert texts == ["1170"]
    step = np.exp(10) / (np.exp(10) + 10)
    assert p[0] == pytest.approx(step**10)
    assert reader.greedy_decode(one_hot_logits([b, b]))[0] == [""]


def test_scores_exact_and_character_error_rate_per_length():
    scores = reader.score_readings(["12", "3", "455", ""], ["12", "8", "45", "6"])
    assert scores["sequences"] == 4 and scores["exact"] == 0.25
    assert scores["cer"] == pytest.approx(3 / 6)
    assert scores["per_length"] == {"1": {"sequences": 2, "exact": 0.0, "cer": 1.0},
                                    "2": {"sequences": 2, "exact": 0.5, "cer": 0.25}}
    assert reader.edit_distance("2934", "294") == 1 and reader.edit_distance("", "12") == 2
    assert reader.label_strings(np.array([[2, 9, -1], [-1, -1, -1]], np.int16)) == ["29", ""]
    with pytest.raises(ValueError, match="1 readings for 2 sequences"):
        reader.score_readings(["1"], ["1", "2"])


def test_params_rules_name_the_key():
    assert parse_params({}).train_reader == TrainReaderParams()
    with pytest.raises(InputError, match=r"train_reader.width_pools == 3, must be at most the number of conv blocks \(2\)"):
        parse_params({"train_reader": {"filters": [8, 8], "width_pools": 3}})
    with pytest.raises(InputError, match=r"unknown key train_reader.epoch;"):
        parse_params({"train_reader": {"epoch": 1}})


def test_the_crnn_reads_any_width_at_its_height():
    model = reader.build_reader(28, TINY)
    for width in (64, 170):
        out = model.predict_on_batch(np.zeros((2, 28, width, 1), np.float32))
        assert out.shape == (2, reader.time_steps(width, TINY.width_pools), reader.CLASSES)
    assert reader.model_height(model) == 28
    with pytest.raises(InputError, match="too small for 5 conv blocks"):
        reader.build_reader(16, replace(TINY, filters=(4,) * 5))


def test_ctc_loss_is_lower_for_the_right_reading():
    b = reader.BLANK
    labels = np.array([[1, 7, -1]], np.int32)
    right = float(reader.ctc_loss(labels, one_hot_logits([b, 1, b, 7, b])))
    wrong = float(reader.ctc_loss(labels, one_hot_logits([b, 2, b, 7, b])))
    assert right < 0.01 < wrong


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, mnist_arrays):
    from digitgen.io import write_npz

    base = tmp_path_factory.mktemp("reader")
    write_npz(base / "mnist.npz", mnist_arrays)
    params = tiny_params()
    for split in ("train", "test"):
        shards.emit_split(split, params, base / "mnist.npz", base / "banks", base / "seq" / split)
    return base


@pytest.fixture(scope="module")
def stage_outputs(dataset):
    from digitgen.pipeline import train_reader

    out = dataset / "out"
    paths = {name: out / f"{name}{suffix}" for name, suffix in
             (("model", ".keras"), ("metrics", ".json"), ("history", ".csv"), ("errors", ".png"))}
    train_reader.run(TINY, sequences=dataset / "seq", **paths)
    return paths


def test_the_stage_writes_its_outputs(stage_outputs):
    metrics = json.loads(stage_outputs["metrics"].read_text())
    assert metrics["test"]["sequences"] == 40 and 0 <= metrics["test"]["exact"] <= 1
    assert set(metrics["test"]["per_length"]) <= {"1", "2", "3", "4", "5"}
    assert (metrics["train_sequences"], metrics["validation_sequences"], metrics["image_shape"]) == (62, 8, [28, 170])
    assert metrics["parameters"]["filters"] == [4, 8]
    assert stage_outputs["history"].read_text().splitlines()[0] == "epoch,loss,val_loss"
    assert len(stage_outputs["history"].read_text().splitlines()) == 2
    assert Image.open(stage_outputs["errors"]).mode == "RGB"


def test_same_params_same_model_bytes_and_metrics(dataset, stage_outputs, tmp_path):
    from digitgen.pipeline import train_reader

    again = {name: tmp_path / path.name for name, path in stage_outputs.items()}
    train_reader.run(TINY, sequences=dataset / "seq", **again)
    for name in ("metrics", "history"):
        assert again[name].read_bytes() == stage_outputs[name].read_bytes(), name
    # byte-identical .keras files hold across processes (each stage run is one); within one process Keras's
    # config may differ, so compare the weights here
    from digitgen.keras_io import load_keras

    first, second = load_keras(stage_outputs["model"]), load_keras(again["model"])
    assert [w.name for w in first.weights] == [w.name for w in second.weights]
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_images_too_narrow_for_the_labels_fail_before_training(dataset):
    with pytest.raises(InputError, match=r"170 px wide give 5 CTC steps .* lower train_reader.width_pools"):
        reader.train_reader(str(dataset / "seq"), replace(TINY, filters=(4, 4, 4, 4, 4), width_pools=5))


def test_errors_picture_has_one_row_per_error():
    from digitgen.pipeline.train_reader import errors_picture

    strip = np.zeros((28, 100), np.uint8)
    assert errors_picture([(strip, "12", "13")] * 3, scale=2, gap=4).shape == (3 * 60 - 4, 200 + 180, 3)
    assert errors_picture([]).shape[2] == 3


def test_load_strip_resizes_and_inverts(tmp_path):
    dark_on_light = np.full((56, 100), 250, np.uint8)
    dark_on_light[10:40, 20:30] = 0
    Image.fromarray(dark_on_light).save(tmp_path / "photo.png")
    strip = reader.load_strip(tmp_path / "photo.png", 28)
    assert strip.shape == (28, 50) and strip.dtype == np.uint8
    assert strip[12, 12] > 200 and strip[2, 2] < 20  # ink became white on black
    assert reader.load_strip(tmp_path / "photo.png", 28, "never")[2, 2] > 200


def test_load_strip_errors_name_the_file(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="'.*missing.png': no such file"):
        reader.load_strip(tmp_path / "missing.png", 28)
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(InputError, match="'.*text.png' is not a readable image"):
        reader.load_strip(tmp_path / "text.png", 28)
    Image.fromarray(np.zeros((30, 40), np.uint8)).save(tmp_path / "big.png")
    monkeypatch.setattr(reader, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(InputError, match=r"'.*big.png': 40 x 30 pixels, more than the 1,000 read"):
        reader.load_strip(tmp_path / "big.png", 28)
    with pytest.raises(InputError, match="--invert == 'sometimes'"):
        reader.load_strip(tmp_path / "big.png", 28, "sometimes")


def test_cli_read_prints_one_line_per_image(stage_outputs, dataset, tmp_path, capsys):
    from digitgen.cli.app import main

    with np.load(next((dataset / "seq" / "test").glob("shard-*.npz"))) as shard:
        Image.fromarray(shard["images"][0]).save(tmp_path / "a.png")
        Image.fromarray(shard["images"][1][:, :90]).save(tmp_path / "b.png")
    assert main(["read", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--model", str(stage_outputs["model"])]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    for line, name in zip(lines, ("a.png", "b.png")):
        assert line.startswith(f"{tmp_path / name}: ") and line.endswith(")") and "(p = " in line
    assert main(["read", str(tmp_path / "a.png"), "--model", str(tmp_path / "none.keras")]) == 2
    assert "none.keras" in capsys.readouterr().err
    assert main(["read", str(tmp_path / "nothing.png"), "--model", str(stage_outputs["model"])]) == 2
    assert "nothing.png" in capsys.readouterr().err


def test_the_report_has_a_reader_section(tmp_path):
    from digitgen.report import build_report

    metrics = tmp_path / "reader.json"
    metrics.write_text(json.dumps({"test": {"sequences": 40, "exact": 0.975, "cer": 0.01,
                                            "per_length": {"1": {"sequences": 8, "exact": 1.0, "cer": 0.0}}},
                                   "train_sequences": 62, "decoding": "greedy"}))
    (tmp_path / "reader").mkdir()
    Image.fromarray(np.zeros((10, 20, 3), np.uint8)).save(tmp_path / "reader" / "errors.png")
    (tmp_path / "reader" / "history.csv").write_text("epoch,loss,val_loss\n1,3.0,2.5\n2,1.0,0.9\n")
    page = build_report(title="t", metrics=[metrics], figures=[tmp_path / "reader" / "errors.png", tmp_path / "reader" / "history.csv"])
    assert "Sequence reader" in page and "<b>97.50%</b> of 40 test sequences" in page
    assert "misread test sequences" in page and "Other figures" not in page and "Other metrics" not in page
