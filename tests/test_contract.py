"""Tests of digitgen.contract: the sequence shard format stated once, and its users (writer, loader, checker) agreeing on it."""

from __future__ import annotations

import numpy as np
import pytest

from digitgen import contract, shards
from digitgen.errors import InputError


def valid_shard(n=3, length=4, width=60):
    """A small shard that follows the contract: sequences of 1, 2 and 4 digits."""
    lengths = np.array([1, 2, 4][:n] + [1] * max(0, n - 3), np.int16)
    active = contract.active_slots(lengths, length)
    images = np.zeros((n, 28, width), np.uint8)
    boxes = np.full((n, length, 4), -1, np.int16)
    for row, count in enumerate(lengths):
        for slot in range(count):
            boxes[row, slot] = [slot * 14 + 1, 4, slot * 14 + 12, 24]
            images[row, 10, slot * 14 + 5] = 200
    return {
        "images": images,
        "labels": np.where(active, 7, -1).astype(np.int16),
        "lengths": lengths,
        "boxes": boxes,
        "sources": np.where(active, 0, -1).astype(np.int8),
        "source_index": np.where(active, 5, -1).astype(np.int32),
        "source_names": np.array(["real"]),
    }


def test_the_contract_names_every_key_with_its_dtype_and_dimensions():
    assert contract.SHARD_KEYS == ("images", "labels", "lengths", "boxes", "sources", "source_index", "source_names")
    assert contract.BATCH_KEYS == ("images", "labels", "lengths", "boxes", "sources", "source_index")
    assert contract.PADDED_KEYS == ("labels", "boxes", "sources", "source_index")
    specs = {spec.key: (spec.dtype, spec.dims) for spec in contract.SHARD_ARRAYS}
    assert specs["images"] == (np.dtype(np.uint8), ("n", "H", "W")) and specs["boxes"] == (np.dtype(np.int16), ("n", "L", 4))
    assert specs["sources"][0] == np.int8 and specs["source_index"][0] == np.int32 and specs["source_names"] == (None, ("S",))
    assert contract.MANIFEST_COLUMNS == ("index", "shard", "row", "label", "length", "sources")
    assert shards.MANIFEST_COLUMNS is contract.MANIFEST_COLUMNS
    assert sorted(contract.INFO_FIELDS) == ["count", "image_shape", "max_length", "shards"]
    assert contract.shard_file(7) == "shard-00007.npz"


def test_a_valid_shard_passes_with_its_layout():
    layout = contract.check_shard(valid_shard(), "shard-00000.npz")
    assert layout == contract.ShardLayout(count=3, height=28, width=60, max_length=4, source_names=("real",))
    assert not any(bad.any() for _, bad in contract.value_problems(valid_shard(), layout))
    assert contract.agreement_problems(layout, "s", 60, 4) == []
    assert contract.agreement_problems(layout, "s", 64, 5) == [
        "s: images are 60 px wide, expected 64 (info.json / other shards)",
        "s: labels have 4 slots, expected 5 (info.json / other shards)",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.pop("boxes"), r"s.npz: missing array\(s\) \['boxes'\]"),
        (lambda a: a.update(images=a["images"].astype(np.float32)), r"s.npz: images must be uint8 with 3 dimensions, got float32 \(3, 28, 60\)"),
        (lambda a: a.update(labels=a["labels"][:, :, None]), r"s.npz: labels must be int16 with 2 dimensions, got int16 \(3, 4, 1\)"),
        (lambda a: a.update(sources=a["sources"].astype(np.int16)), r"s.npz: sources must be int8 with 2 dimensions, got int16"),
        (lambda a: a.update(source_index=a["source_index"].astype(np.int64)), r"s.npz: source_index must be int32 with 2 dimensions, got int64"),
        (lambda a: a.update(source_names=np.array([1])), r"s.npz: source_names must be a 1-D string array, got int64 \(1,\)"),
        (lambda a: a.update(labels=np.repeat(a["labels"], 34, axis=0)[:100]), r"s.npz: labels has shape \(100, 4\), expected \(3, 4\)"),
        (lambda a: a.update(lengths=a["lengths"][:2]), r"s.npz: lengths has shape \(2,\), expected \(3,\)"),
        (lambda a: a.update(boxes=a["boxes"][:, :3]), r"s.npz: boxes has shape \(3, 3, 4\), expected \(3, 4, 4\)"),
        (lambda a: a.update(boxes=a["boxes"][..., :2]), r"s.npz: boxes has shape \(3, 4, 2\), expected \(3, 4, 4\)"),
        (lambda a: a.update(sources=a["sources"][:, :2]), r"s.npz: sources has shape \(3, 2\), expected \(3, 4\)"),
        (lambda a: a.update(images=a["images"][:, :5]), r"s.npz: images are 5 px high, expected at least 8"),
    ],
)
def test_a_broken_shard_is_refused_naming_the_shard_the_key_and_the_expected_form(change, message):
    arrays = valid_shard()
    change(arrays)
    with pytest.raises(contract.ContractError, match=message):
        contract.check_shard(arrays, "s.npz")
    assert issubclass(contract.ContractError, InputError)


@pytest.mark.parametrize(
    ("key", "row", "slot", "value", "rule"),
    [
        ("lengths", 0, None, 0, "length outside 1..4"),
        ("labels", 1, 0, 10, "labels outside 0..9"),
        ("labels", 0, 3, 2, "labels not -1 after the sequence's length"),
        ("sources", 1, 1, 1, "sources outside 0..0"),
        ("sources", 0, 1, 0, "sources not -1 after the sequence's length"),
        ("source_index", 0, 2, 0, "source_index not -1 after the sequence's length"),
        ("source_index", 2, 3, -4, "source_index negative"),
        ("boxes", 0, 1, 3, "boxes not -1 after the sequence's length"),
    ],
)
def test_each_value_rule_flags_exactly_the_broken_place(key, row, slot, value, rule):
    arrays = valid_shard()
    if slot is None:
        arrays[key][row] = value
    else:
        arrays[key][row, slot] = value
    layout = contract.check_shard(arrays, "s")
    broken = {what: np.argwhere(bad.reshape(len(bad), -1).any(axis=1)).ravel().tolist() for what, bad in contract.value_problems(arrays, layout) if bad.any()}
    assert list(broken) == [rule] if key != "lengths" else rule in broken
    assert broken[rule] == [row]


def test_boxes_must_lie_inside_the_image():
    arrays = valid_shard()
    layout = contract.check_shard(arrays, "s")
    arrays["boxes"][0, 0] = [50, 4, 61, 24]  # past the right edge
    arrays["boxes"][2, 1] = [10, 4, 10, 24]  # empty
    arrays["boxes"][2, 2] = [0, 20, 10, 29]  # past the bottom edge
    arrays["boxes"][1, 0] = [0, 0, 40, 28]  # wider than a cell: a scaled-up digit's box may be
    bad = dict(contract.value_problems(arrays, layout))["box outside the image or empty (need 0 <= x0 < x1 <= 60, 0 <= y0 < y1 <= 28)"]
    assert np.argwhere(bad).tolist() == [[0, 0], [2, 1], [2, 2]]


def test_manifest_columns_join_the_active_digits_and_their_sources():
    arrays = valid_shard()
    arrays["source_names"] = np.array(["real", "kde"])
    arrays["sources"][2, 1:3] = 1
    arrays["labels"][2, :4] = [2, 9, 3, 4]
    columns = contract.manifest_columns(arrays, "shard-00003.npz", 30)
    assert list(columns) == list(contract.MANIFEST_COLUMNS)
    assert contract.manifest_rows(arrays, "shard-00003.npz", 30) == [
        ["30", "shard-00003.npz", "0", "7", "1", "real"],
        ["31", "shard-00003.npz", "1", "77", "2", "real|real"],
        ["32", "shard-00003.npz", "2", "2934", "4", "real|kde|kde|real"],
    ]
    assert shards.manifest_rows(arrays, "shard-00003.npz", 30) == contract.manifest_rows(arrays, "shard-00003.npz", 30)


def test_the_writer_checks_every_shard_it_makes(tmp_path, mnist_npz, monkeypatch):
    from test_shards import tiny_params

    params = tiny_params()
    pool = shards.SourcePool(shards.plan_sources("train", params, mnist_npz, tmp_path / "banks"))
    arrays = shards.make_shard(pool, params, "train", 0, 9)
    assert contract.check_shard(arrays, "made") == contract.ShardLayout(9, 28, 170, 5, ("real",))
    from digitgen import layout

    original = layout.compose_batch

    def wide_boxes(*args, **kwargs):
        composed = original(*args, **kwargs)
        return type(composed)(images=composed.images, boxes=composed.boxes.astype(np.int32))

    monkeypatch.setattr(layout, "compose_batch", wide_boxes)
    with pytest.raises(contract.ContractError, match=r"train shard shard-00000.npz: boxes must be int16 with 3 dimensions, got int32"):
        shards.make_shard(pool, params, "train", 0, 9)


def test_a_shard_of_another_height_is_valid_and_disagrees_with_a_split_of_28():
    arrays = valid_shard()
    arrays["images"] = np.zeros((3, 32, 60), np.uint8)
    layout = contract.check_shard(arrays, "tall")
    assert layout.height == 32
    assert contract.agreement_problems(layout, "tall", 60, 4, "info.json", height=28) == ["tall: images are 32 px high, expected 28 (info.json)"]
