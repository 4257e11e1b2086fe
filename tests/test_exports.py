"""Tests of digitgen.exports and `digitgen export`, checked with the libraries trainers use: pycocotools, datasets, pandas."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from evaluation_fakes import sequence_params
from PIL import Image
from test_canvas import canvas_params

from digitgen import canvas_shards, shards
from digitgen.cli import main
from digitgen.exports.reader import iter_shards, open_split
from digitgen.exports.records import NUMBER_CLASS
from digitgen.exports.run import export_split

FORMATS = ["npz", "coco", "yolo", "parquet"]


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def written(tmp_path_factory, mnist_arrays):
    """Canvases (both splits, every export) and sequences (every export) from the synthetic digits."""
    from digitgen.io import write_npz

    root = tmp_path_factory.mktemp("exports")
    write_npz(root / "mnist.npz", mnist_arrays)
    params = canvas_params(formats=FORMATS, workers=2)
    canvas_shards.write_canvases(params, root / "mnist.npz", root / "banks", root / "canvases", root / "canvases.json")
    seq = sequence_params(formats=FORMATS)
    shards.emit_split("train", seq, root / "mnist.npz", root / "banks", root / "sequences" / "train")
    return root


def _objects(folder: Path):
    """Per image index: (digit labels, digit boxes, number boxes) from the NPZ shards, x0 y0 x1 y1."""
    split = open_split(folder)
    out = {}
    for _, first, arrays in iter_shards(split):
        canvases = split.kind == "canvases"
        labels, boxes = (arrays["digit_labels"], arrays["digit_boxes"]) if canvases else (arrays["labels"], arrays["boxes"])
        for row in range(len(labels)):
            on = labels[row] >= 0
            numbers = arrays["number_boxes"][row][arrays["number_labels"][row] != ""] if canvases else np.zeros((0, 4), np.int16)
            out[first + row] = (labels[row][on].astype(int).tolist(), boxes[row][on].astype(int).tolist(), numbers.astype(int).tolist())
    return split, out


@pytest.mark.parametrize("kind", ["canvases", "sequences"])
def test_pycocotools_loads_the_coco_export_with_the_npz_boxes(written, kind):
    from pycocotools.coco import COCO

    folder = written / kind / "train"
    split, expected = _objects(folder)
    coco = COCO(str(folder / "coco" / "annotations.json"))
    names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    assert [names[i] for i in sorted(names)] == [str(d) for d in range(10)] + (["number"] if kind == "canvases" else [])
    assert sorted(coco.getImgIds()) == sorted(expected)
    for index, (labels, boxes, numbers) in expected.items():
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[index]))
        digits = [a for a in anns if names[a["category_id"]] != "number"]
        assert [int(names[a["category_id"]]) for a in digits] == labels
        assert [[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]] for a in digits] == boxes
        assert all(a["area"] == a["bbox"][2] * a["bbox"][3] and a["iscrowd"] == 0 for a in anns)
        assert all(a["digitgen"]["source"] == "real" and a["digitgen"]["source_index"] >= 0 for a in digits)
        got_numbers = [[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]] for a in anns if names[a["category_id"]] == "number"]
        assert got_numbers == numbers
        image = coco.loadImgs([index])[0]
        pixels = np.asarray(Image.open(folder / "coco" / "images" / image["file_name"]))
        assert pixels.shape == (image["height"], image["width"]) and pixels.dtype == np.uint8
    first = np.load(folder / "shard-00000.npz")["images"][0]
    assert np.array_equal(np.asarray(Image.open(folder / "coco" / "images" / "000000.png")), first)


@pytest.mark.parametrize("kind", ["canvases", "sequences"])
def test_yolo_labels_parse_back_to_the_npz_boxes_within_half_a_pixel(written, kind):
    import yaml

    folder = written / kind / "train"
    split, expected = _objects(folder)
    data = yaml.safe_load((folder / "yolo" / "data.yaml").read_text())
    assert data["train"] == "images" and data["nc"] == len(data["names"]) == (11 if kind == "canvases" else 10)
    height, width = np.load(folder / "shard-00000.npz")["images"].shape[1:]
    for index, (labels, boxes, numbers) in expected.items():
        assert (folder / "yolo" / "images" / f"{index:06d}.png").is_file()
        lines = [line.split() for line in (folder / "yolo" / "labels" / f"{index:06d}.txt").read_text().splitlines()]
        classes = [int(line[0]) for line in lines]
        assert classes == labels + [NUMBER_CLASS] * len(numbers)
        values = np.array([[float(v) for v in line[1:]] for line in lines]).reshape(-1, 4)
        assert ((values >= 0) & (values <= 1)).all()
        cx, cy, w, h = values[:, 0] * width, values[:, 1] * height, values[:, 2] * width, values[:, 3] * height
        back = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
        assert np.abs(back - np.array(boxes + numbers).reshape(-1, 4)).max() < 0.5


@pytest.mark.parametrize("kind", ["canvases", "sequences"])
def test_datasets_and_pandas_load_the_parquet_export(written, kind, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import datasets

    folder = written / kind / "train"
    split, expected = _objects(folder)
    files = sorted(str(p) for p in (folder / "parquet" / "data").glob("*.parquet"))
    assert len(files) == len(split.shards)
    loaded = datasets.load_dataset("parquet", data_files={"train": files}, cache_dir=str(tmp_path / "cache"))["train"]
    assert isinstance(loaded.features["image"], datasets.Image)
    assert loaded.features["objects"]["category"].feature.names[:10] == [str(d) for d in range(10)]
    assert len(loaded) == len(expected)
    frame = pd.read_parquet(folder / "parquet" / "data")
    assert len(frame) == len(expected)
    for row in range(len(loaded)):
        record = loaded[row]
        index = record["index"]
        labels, boxes, numbers = expected[index]
        assert record["digits"] == labels and frame["digits"].iloc[row].tolist() == labels
        assert isinstance(record["image"], Image.Image) and record["image"].size[0] > 0
        xywh = np.array(record["objects"]["bbox"]).reshape(-1, 4)
        assert np.array_equal(np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], 1), np.array(boxes + numbers).reshape(-1, 4))
        assert record["objects"]["category"] == labels + [NUMBER_CLASS] * len(numbers)
        assert record["sources"] == ["real"] * len(labels)
        words = record["label"].split(" ")
        assert "".join(words) == "".join(map(str, labels))


def test_cli_export_gives_the_bytes_the_stage_wrote_whatever_the_workers(written, tmp_path, capsys):
    folder = written / "canvases" / "test"
    for fmt in ("coco", "yolo", "parquet"):
        out = tmp_path / fmt
        assert main(["export", str(folder), "--format", fmt, "--out", str(out), "--workers", "2"]) == 0
        assert _tree(out) == _tree(folder / fmt)
        assert main(["export", str(folder), "--format", fmt, "--out", str(out), "--workers", "1"]) == 0  # replaces its own export
        assert _tree(out) == _tree(folder / fmt)
    assert "canvases images" in capsys.readouterr().out


def test_stage_exports_are_deterministic(written, tmp_path, mnist_arrays):
    again = tmp_path / "again"
    params = canvas_params(formats=FORMATS, workers=1)
    canvas_shards.write_canvases(params, written / "mnist.npz", written / "banks", again, None)
    for split in ("train", "test"):
        first, second = _tree(written / "canvases" / split), _tree(again / split)
        info = [json.loads(tree.pop("info.json")) for tree in (first, second)]
        assert first.keys() == second.keys() and first == second  # shards, manifest, previews, every export
        for values in info:  # info.json records the params, workers included; nothing else differs
            values["parameters"].pop("workers")
        assert info[0] == info[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "tiff"], "--format == 'tiff'"),
        (["--format", "coco", "--workers", "-1"], "--workers == -1"),
    ],
)
def test_bad_export_options_fail_with_one_line_and_write_nothing(written, tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert main(["export", str(written / "canvases" / "test"), "--out", str(out), *args]) == 2
    assert message in capsys.readouterr().err and not out.exists()


def test_export_of_a_folder_that_is_not_a_split_names_it(tmp_path, capsys):
    (tmp_path / "notasplit").mkdir()
    (tmp_path / "notasplit" / "a.txt").write_text("x")
    out = tmp_path / "out"
    assert main(["export", str(tmp_path / "notasplit"), "--format", "coco", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "notasplit" in err and "is not a split folder" in err and not out.exists()


def test_export_never_replaces_a_folder_it_did_not_write(written, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["export", str(written / "canvases" / "test"), "--format", "yolo", "--out", str(out)]) != 0
    assert "not an export folder" in capsys.readouterr().err
    assert sorted(os.listdir(out)) == ["keep.txt"]
    leftovers = [p for p in tmp_path.iterdir() if p.name != "mine"]
    assert leftovers == []


def test_export_refuses_a_corrupt_shard_and_writes_nothing(written, tmp_path):
    import shutil

    folder = tmp_path / "test"
    shutil.copytree(written / "canvases" / "test", folder)
    (folder / "shard-00001.npz").write_bytes(b"not a zip")
    with pytest.raises(Exception, match="shard-00001.npz"):
        export_split(folder, "coco", tmp_path / "out", workers=1)
    assert not (tmp_path / "out").exists()


def test_export_marker_names_the_format_kind_and_count(written):
    marker = json.loads((written / "canvases" / "train" / "parquet" / "export.json").read_text())
    assert marker["format"] == "parquet" and marker["kind"] == "canvases" and marker["split"] == "train" and marker["images"] == 40
