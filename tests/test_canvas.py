"""Tests of digitgen.canvas (composition of detection canvases), the canvases params and the canvas contract rules."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from digitgen import canvas_contract
from digitgen.canvas import CanvasLayout, box_iou, box_iou_ok, compose_canvases
from digitgen.compose import ink_extents
from digitgen.errors import ParamsError
from digitgen.params.all import parse_params
from digitgen.params.canvases import CanvasesParams, largest_number_box, rotated_extent


def canvas_params(**overrides) -> CanvasesParams:
    raw = {
        "width": 64, "height": 64, "numbers": {"min": 1, "max": 4}, "length": {"min": 1, "max": 2},
        "number_height": [10, 24], "shard_size": 16, "previews": 2, "workers": 1,
        "splits": {"train": {"count": 40, "sources": {"real": 1.0}}, "test": {"count": 20, "sources": {"real": 1.0}}},
    }
    raw.update(overrides)
    return parse_params({"canvases": raw}).canvases


def _index(rng, n, slots, length, pool_size):
    numbers = rng.integers(1, slots + 1, n)
    lengths = rng.integers(1, length + 1, (n, slots))
    active = (np.arange(slots)[None, :, None] < numbers[:, None, None]) & (np.arange(length)[None, None, :] < lengths[:, :, None])
    return np.where(active, rng.integers(0, pool_size, (n, slots, length)), -1)


@pytest.fixture(scope="module")
def composed(mnist_arrays):
    pool = mnist_arrays["x_train"]
    layout = CanvasLayout(64, 64, (0, 4), "ink", (10, 24), 5.0, 0.1, 50)
    index = _index(np.random.default_rng(0), 60, 4, 3, len(pool))
    batch = compose_canvases(pool, index, layout, rng=np.random.default_rng(1))
    return pool, index, layout, batch


def test_canvases_have_the_asked_shape_and_dtypes(composed):
    _, index, _, batch = composed
    assert batch.images.dtype == np.uint8 and batch.images.shape == (60, 64, 64)
    assert batch.digit_boxes.dtype == np.int16 and batch.digit_boxes.shape == (60, 12, 4)
    assert batch.digit_number.dtype == np.int16 and batch.digit_number.shape == (60, 12)
    assert batch.number_boxes.dtype == np.int16 and batch.number_boxes.shape == (60, 4, 4)
    assert batch.images.max() > 200  # ink is drawn


def test_every_number_asked_is_placed_or_counted(composed):
    _, index, _, batch = composed
    asked = (index[:, :, 0] >= 0).sum()
    placed = (batch.number_slot >= 0).sum()
    assert placed + batch.dropped == asked
    assert ((batch.number_slot >= 0).sum(1) >= 1).all()  # the first number always fits


def test_boxes_are_inside_the_canvas_and_digits_inside_their_number(composed):
    _, _, layout, batch = composed
    digits = batch.digit_slot >= 0
    boxes = batch.digit_boxes.astype(np.int64)
    assert (boxes[digits][:, :2] >= 0).all() and (boxes[digits][:, 2] <= 64).all() and (boxes[digits][:, 3] <= 64).all()
    owner = np.take_along_axis(batch.number_boxes.astype(np.int64), np.maximum(batch.digit_number, 0)[..., None].astype(np.int64), 1)
    assert (boxes[digits][:, :2] >= owner[digits][:, :2]).all() and (boxes[digits][:, 2:] <= owner[digits][:, 2:]).all()
    assert (batch.digit_boxes[~digits] == -1).all() and (batch.digit_number[~digits] == -1).all()


def test_number_boxes_respect_the_iou_limit(composed):
    _, _, layout, batch = composed
    numbers = batch.number_slot >= 0
    m = numbers.shape[1]
    pair = numbers[:, :, None] & numbers[:, None, :] & ~np.eye(m, dtype=bool)
    iou = box_iou(batch.number_boxes[:, :, None], batch.number_boxes[:, None])
    assert iou[pair].max() <= layout.max_iou + 1e-12


def test_all_ink_lies_inside_the_number_boxes(composed):
    _, _, _, batch = composed
    covered = np.zeros(batch.images.shape, bool)
    for i, boxes in enumerate(batch.number_boxes):
        for x0, y0, x1, y1 in boxes[boxes[:, 0] >= 0]:
            covered[i, y0:y1, x0:x1] = True
    assert not batch.images[~covered].any()


def test_a_digit_box_holds_its_digit_scaled_without_rotation(mnist_arrays):
    pool = mnist_arrays["x_train"]
    layout = CanvasLayout(64, 64, (0, 0), "ink", (28, 28), 0.0, 1.0, 1)
    index = np.array([[[3]]])
    batch = compose_canvases(pool, index, layout, rng=np.random.default_rng(2))
    x0, y0, x1, y1 = batch.digit_boxes[0, 0]
    ex = ink_extents(pool[3:4])[0]  # x0, y0, x1, y1 of the digit's ink in its cell
    # scale 1: the box is the ink box grown by half a pixel each side, rounded outwards
    assert (x1 - x0, y1 - y0) == (ex[2] - ex[0] + 1, ex[3] - ex[1] + 1)
    assert batch.images[0, y0:y1, x0:x1].sum() == batch.images[0].sum()  # all the ink inside the box
    assert int(batch.images[0].sum(dtype=np.int64)) == pytest.approx(int(pool[3].sum(dtype=np.int64)), rel=0.02)  # ink kept


def test_max_iou_zero_gives_disjoint_numbers_and_one_number_canvases_never_drop(mnist_arrays):
    pool = mnist_arrays["x_train"]
    index = _index(np.random.default_rng(3), 40, 5, 2, len(pool))
    batch = compose_canvases(pool, index, CanvasLayout(64, 64, (0, 2), "cell", (12, 20), 0.0, 0.0, 30), rng=np.random.default_rng(4))
    numbers = batch.number_slot >= 0
    pair = numbers[:, :, None] & numbers[:, None, :] & ~np.eye(5, dtype=bool)
    assert box_iou(batch.number_boxes[:, :, None], batch.number_boxes[:, None])[pair].max() == 0
    single = compose_canvases(pool, index[:, :1], CanvasLayout(64, 64, (0, 2), "cell", (12, 20), 0.0, 0.0, 1), rng=np.random.default_rng(4))
    assert single.dropped == 0 and single.reduced == 0


def test_a_crowded_canvas_keeps_fewer_numbers_and_counts_them(mnist_arrays):
    pool = mnist_arrays["x_train"]
    index = _index(np.random.default_rng(5), 30, 8, 3, len(pool))
    index[:, :, 0] = np.maximum(index[:, :, 0], 0)  # every canvas asks for 8 numbers
    batch = compose_canvases(pool, index, CanvasLayout(40, 40, (0, 2), "ink", (16, 18), 0.0, 0.0, 5), rng=np.random.default_rng(6))
    placed = (batch.number_slot >= 0).sum(1)
    assert batch.dropped == 8 * 30 - placed.sum() > 0 and batch.reduced == (placed < 8).sum() > 0


def test_same_generator_gives_the_same_canvases(composed):
    pool, index, layout, batch = composed
    again = compose_canvases(pool, index, layout, rng=np.random.default_rng(1))
    assert np.array_equal(again.images, batch.images) and np.array_equal(again.digit_boxes, batch.digit_boxes)
    other = compose_canvases(pool, index, layout, rng=np.random.default_rng(9))
    assert not np.array_equal(other.images, batch.images)


def test_iou_helpers_agree():
    a = np.array([0, 0, 10, 10])
    b = np.array([5, 0, 15, 10])
    assert box_iou(a, b) == pytest.approx(50 / 150)
    assert box_iou_ok(a, b, 1 / 3) and not box_iou_ok(a, b, 0.33)
    assert box_iou(a, np.array([10, 0, 20, 10])) == 0


def test_rotated_extent_and_largest_box():
    assert rotated_extent(10, 4, 0) == pytest.approx((10, 4))
    w, h = rotated_extent(10, 4, 90)
    assert w == pytest.approx(np.hypot(10, 4)) and h == pytest.approx(np.hypot(10, 4))
    params = canvas_params(rotation=0, spacing={"min": 0, "max": 0}, length={"min": 1, "max": 2}, number_height=[28, 28])
    assert largest_number_box(params) == (2 * 28 + 1 + 2, 28 + 1 + 2)


def test_defaults_equal_params_yaml():
    import yaml

    with open("params.yaml", encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    assert parse_params(raw).canvases == CanvasesParams()


@pytest.mark.parametrize(
    ("overrides", "key", "value"),
    [
        ({"width": 30, "height": 30, "number_height": [10, 30], "length": {"min": 1, "max": 3}}, "canvases.width", "30"),
        ({"number_height": [10, 80]}, "canvases.number_height", "80"),
        ({"number_height": [30, 20]}, "canvases.number_height", "30"),
        ({"max_iou": 1.5}, "canvases.max_iou", "1.5"),
        ({"max_iou": -0.1}, "canvases.max_iou", "-0.1"),
        ({"numbers": {"min": 0, "max": 3}}, "canvases.numbers.min", "0"),
        ({"numbers": {"min": 3, "max": 2}}, "canvases.numbers.min", "3"),
        ({"formats": ["npz", "tiff"]}, "canvases.formats", "tiff"),
        ({"formats": ["coco"]}, "canvases.formats", "coco"),
        ({"splits": {"train": {"count": 4, "sources": {"real": 1.0}}, "test": {"count": 4, "sources": {"kde": 1.0}}}}, "canvases.splits.test.sources", "kde"),
    ],
)
def test_bad_params_name_the_key_and_the_value(overrides, key, value):
    with pytest.raises(ParamsError) as error:
        canvas_params(**overrides)
    assert key in str(error.value) and value in str(error.value)


def test_contract_value_rules_catch_a_digit_outside_its_number(composed):
    pool, index, layout, batch = composed
    n = len(batch.images)
    labels = np.where(batch.digit_slot >= 0, 1, -1).astype(np.int16)
    arrays = {
        "images": batch.images, "digit_labels": labels, "digit_boxes": batch.digit_boxes, "digit_number": batch.digit_number,
        "number_boxes": batch.number_boxes,
        "number_labels": canvas_contract.number_labels_of(labels.astype(np.int64), batch.digit_number.astype(np.int64), labels >= 0, 4),
        "sources": np.where(labels >= 0, 0, -1).astype(np.int8), "source_index": np.where(labels >= 0, 0, -1).astype(np.int32),
        "source_names": np.array(["real"]),
    }
    layout_ = canvas_contract.check_shard(arrays, "x")
    assert layout_.count == n and not any(bad.any() for _, bad in canvas_contract.value_problems(arrays, layout_, 0.1))
    broken = dict(arrays, digit_boxes=arrays["digit_boxes"].copy())
    broken["digit_boxes"][0, 0] = (0, 0, 64, 64)
    found = {rule for rule, bad in canvas_contract.value_problems(broken, layout_, 0.1) if bad.any()}
    assert "digit box not inside its number's box" in found
    with pytest.raises(canvas_contract.ContractError, match="digit_number"):
        canvas_contract.check_shard({k: v for k, v in arrays.items() if k != "digit_number"}, "x")
    assert dataclasses.is_dataclass(layout_)
