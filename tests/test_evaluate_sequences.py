"""Tests of digitgen.evaluate.crops, .readings and .sequences: the check of a sequence split, its crops and its leaks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from evaluation_fakes import CentroidClassifier, distinct_mnist_arrays, write_sequences

from digitgen.compose import ink_extents
from digitgen.evaluate import crops as cr
from digitgen.evaluate import readings as rd
from digitgen.evaluate import sequences as sq
from digitgen.io import write_npz
from digitgen.params.all import parse_params


def seq_params(**values):
    return parse_params({"evaluate_sequences": values}).evaluate_sequences


@pytest.fixture(scope="module")
def arrays():
    return distinct_mnist_arrays()


@pytest.fixture(scope="module")
def classifier(arrays):
    return CentroidClassifier(arrays["x_train"], arrays["y_train"])


@pytest.fixture
def dataset(tmp_path, arrays):
    write_npz(tmp_path / "mnist.npz", arrays)
    return write_sequences(tmp_path, tmp_path / "mnist.npz")


def pools(arrays, split, readings=None):
    return {"real": sq.make_pool("real", arrays[f"x_{split}"], arrays[f"y_{split}"].astype(np.int16), readings)}


def check(dataset, arrays, classifier, split, *, readings=None, **params):
    training = cr.CropHashes(cr.digit_crops_of(arrays["x_train"])) if split == "test" else None
    return sq.check_split(dataset / split, split, pools(arrays, split, readings), rd.classify_with(classifier), seq_params(**params), training=training)


def test_a_correct_dataset_passes_every_check(dataset, arrays, classifier):
    for split, count in (("train", 40), ("test", 30)):
        result = check(dataset, arrays, classifier, split, sequence_previews=5)
        m = result.metrics
        assert (m["sequences"], m["contract_errors"], m["checked_sequences"]) == (count, 0, count), result.messages
        assert m["checked_digits"] == m["digits"] and len(result.labels) == m["digits"]
        assert result.preview["images"].shape == (5, 28, 140) and result.preview["predicted"].shape == (5, 4)
        assert m.get("leaks", 0) == 0
    assert check(dataset, arrays, classifier, "test", sequences_checked=7).metrics["checked_sequences"] == 7


def test_crops_by_box_recover_the_source_digits(dataset, arrays, classifier):
    with np.load(dataset / "test" / "shard-00000.npz") as shard:
        seq, slot = np.nonzero(shard["labels"] >= 0)
        boxes = shard["boxes"][seq, slot]
        crops = cr.canonical_crops(shard["images"], seq, boxes)
        digits = arrays["x_test"][shard["source_index"][seq, slot]]
    np.testing.assert_array_equal(crops, cr.digit_crops_of(digits))
    # placed back by centre of mass, a digit lands within a few pixels of where it was drawn
    centred = cr.centre_crops(crops, boxes)
    moved = np.abs(ink_extents(centred).astype(int) - ink_extents(digits).astype(int))
    assert moved.max() <= 3 and centred.sum() == digits.sum()


def test_centre_crops_puts_the_centre_of_mass_at_the_mnist_centre():
    crops = np.zeros((2, 28, 28), np.uint8)
    crops[0, 0, 0] = 255  # one pixel
    crops[1, :3, :3] = 255  # a 3x3 block
    centred = cr.centre_crops(crops, np.array([[5, 5, 6, 6], [0, 0, 3, 3]]))
    assert centred[0, 14, 14] == 255 and centred[0].sum() == 255
    assert (centred[1, 13:16, 13:16] == 255).all() and centred[1].sum() == 9 * 255


def plant_training_digit(dataset, arrays, row=0):
    """Overwrite the first digit of test sequence ``row`` with a training digit, keeping labels and provenance."""
    path = dataset / "test" / "shard-00000.npz"
    with np.load(path) as shard:
        data = {key: shard[key] for key in shard.files}
    label = int(data["labels"][row, 0])
    train_row = int(np.flatnonzero(arrays["y_train"] == label)[0])
    digit = arrays["x_train"][train_row]
    x0 = int(data["boxes"][row, 0, 0] - ink_extents(arrays["x_test"][data["source_index"][row, :1]])[0, 0])
    data["images"][row, :, x0 : x0 + 28] = digit
    left, top, right, bottom = ink_extents(digit[None])[0]
    data["boxes"][row, 0] = [x0 + left, top, x0 + right, bottom]
    write_npz(path, data)
    return train_row


def test_the_leakage_check_catches_a_training_digit_planted_in_a_test_shard(dataset, arrays, classifier):
    train_row = plant_training_digit(dataset, arrays)
    result = check(dataset, arrays, classifier, "test")
    assert result.metrics["leaks"] == 1
    assert any(f"shard-00000.npz: row 0 digit 0: leak: its pixels equal training digit {train_row}" in m for m in result.messages)
    # provenance sees it too: the pixels are not those of the test digit the shard names
    assert result.metrics["contract_errors"] >= 1
    assert any("source_index" in m for m in result.messages)


def test_mnist_duplicates_are_not_counted_as_leaks(dataset, arrays, classifier):
    train_row = plant_training_digit(dataset, arrays)
    with np.load(dataset / "test" / "shard-00000.npz") as shard:
        claimed = int(shard["source_index"][0, 0])
    duplicates = np.zeros(len(arrays["x_test"]), bool)
    duplicates[claimed] = True  # as if MNIST itself held that test digit in its training split
    training = cr.CropHashes(cr.digit_crops_of(arrays["x_train"]))
    result = sq.check_split(dataset / "test", "test", pools(arrays, "test"), rd.classify_with(classifier), seq_params(), training=training, duplicates=duplicates)
    assert (result.metrics["leaks"], result.metrics["mnist_duplicates"]) == (0, 1)
    assert train_row >= 0


def corrupt(dataset, key, change):
    path = dataset / "test" / "shard-00001.npz"
    with np.load(path) as shard:
        data = {k: shard[k] for k in shard.files}
    data[key] = change(data[key].copy())
    write_npz(path, data)


@pytest.mark.parametrize(
    ("key", "change", "message"),
    [
        ("labels", lambda a: np.where(a < 0, 0, a).astype(np.int16), "labels not -1 after the sequence's length"),
        ("labels", lambda a: np.where(a >= 0, (a + 1) % 10, a).astype(np.int16), "label differs from 'real''s label"),
        ("lengths", lambda a: (a * 0 + 9).astype(np.int16), "length outside 1..4"),
        ("boxes", lambda a: np.where(a >= 0, a + 1, a).astype(np.int16), "box does not match the ink extent"),
        ("source_index", lambda a: np.where(a >= 0, 10**6, a).astype(np.int32), "source_index outside the 60 digits of 'real'"),
        ("source_names", lambda a: np.array(["kde"]), "the test split draws real MNIST test digits only"),
        ("images", lambda a: a.astype(np.int16), "images must be uint8 with 3 dimensions, got int16"),
    ],
)
def test_contract_violations_are_counted_and_named(dataset, arrays, classifier, key, change, message):
    corrupt(dataset, key, change)
    result = check(dataset, arrays, classifier, "test")
    assert result.metrics["contract_errors"] >= 1
    assert any(message in m and "shard-00001.npz" in m for m in result.messages), result.messages


def test_manifest_and_info_must_agree_with_the_shards(dataset, arrays, classifier):
    manifest = pd.read_csv(dataset / "test" / "manifest.csv", dtype=str, keep_default_na=False)
    manifest.loc[3, "label"] = "999"
    manifest.to_csv(dataset / "test" / "manifest.csv", index=False)
    info = json.loads((dataset / "test" / "info.json").read_text())
    info["count"] = 31
    (dataset / "test" / "info.json").write_text(json.dumps(info))
    result = check(dataset, arrays, classifier, "test")
    assert result.metrics["contract_errors"] == 2
    assert any("manifest.csv: row 3" in m for m in result.messages)
    assert any("info.json: count == 31, but the shards hold 30" in m for m in result.messages)


def test_check_split_needs_a_split_folder(tmp_path, arrays, classifier):
    with pytest.raises(FileNotFoundError, match="dvc repro sequences"):
        sq.check_split(tmp_path / "test", "test", pools(arrays, "test"), rd.classify_with(classifier), seq_params())


def test_crop_hashes_find_equal_crops_only():
    crops = np.zeros((3, 28, 28), np.uint8)
    crops[0, 0, 0], crops[1, 1, 1], crops[2, 2, 2] = 1, 2, 3
    hashes = cr.CropHashes(crops[:2])
    assert hashes.find(crops).tolist() == [0, 1, -1]


# --------------------------------------------------------------------------- files and params


# --------------------------------------------------------------------------- crops against a per-pixel reference


def reference_canonical(images, rows, boxes):
    """Canonical crops pixel by pixel: the box's pixels at the top-left corner of a blank cell."""
    out = np.zeros((len(boxes), 28, 28), np.uint8)
    for k, (row, (x0, y0, x1, y1)) in enumerate(zip(rows, boxes)):
        out[k, : y1 - y0, : x1 - x0] = images[row, y0:y1, x0:x1]
    return out


def reference_centre(crops, boxes):
    """Centred crops pixel by pixel: shifted so the centre of mass is at (14, 14), the box kept inside the cell."""
    out = np.zeros_like(crops)
    for k, (crop, (x0, y0, x1, y1)) in enumerate(zip(crops, boxes)):
        mass = crop.astype(np.float64)
        total = max(mass.sum(), 1e-12)
        com_row = (mass.sum(1) * np.arange(28)).sum() / total
        com_col = (mass.sum(0) * np.arange(28)).sum() / total
        dy = int(np.clip(np.round(14 - com_row), 0, 28 - (y1 - y0)))
        dx = int(np.clip(np.round(14 - com_col), 0, 28 - (x1 - x0)))
        out[k, dy : dy + y1 - y0, dx : dx + x1 - x0] = crop[: y1 - y0, : x1 - x0]
    return out


def random_boxes(rng, count, images, width):
    x0 = rng.integers(0, width, count)
    x1 = np.minimum(x0 + rng.integers(1, 29, count), width)
    y0 = rng.integers(0, 28, count)
    y1 = np.minimum(y0 + rng.integers(1, 29, count), 28)
    return rng.integers(0, len(images), count), np.stack([x0, y0, x1, y1], 1)


@pytest.mark.parametrize("width", [28, 29, 61])
def test_crops_equal_the_per_pixel_reference_for_any_box_in_any_image(width):
    rng = np.random.default_rng(width)
    images = rng.integers(0, 256, (7, 28, width)).astype(np.uint8)
    rows, boxes = random_boxes(rng, 500, images, width)
    boxes[:4] = [[0, 0, min(28, width), 28], [width - 1, 27, width, 28], [width - 28, 0, width, 28], [0, 27, 1, 28]]  # corners and edges
    rows[:4] = [0, len(images) - 1, len(images) - 1, 3]
    crops = cr.canonical_crops(images, rows, boxes)
    np.testing.assert_array_equal(crops, reference_canonical(images, rows, boxes))
    np.testing.assert_array_equal(cr.centre_crops(crops, boxes), reference_centre(crops, boxes))
    assert crops.dtype == np.uint8 and crops.shape == (500, 28, 28)
    assert cr.canonical_crops(images, rows[:0], boxes[:0]).shape == (0, 28, 28)


def test_classifier_inputs_of_a_digit_equal_its_centred_sequence_crop(dataset, arrays):
    with np.load(dataset / "train" / "shard-00000.npz") as shard:
        seq, slot = np.nonzero(shard["labels"] >= 0)
        boxes = shard["boxes"][seq, slot]
        from_sequences = cr.centre_crops(cr.canonical_crops(shard["images"], seq, boxes), boxes)
        rows = shard["source_index"][seq, slot]
    np.testing.assert_array_equal(from_sequences, cr.classifier_inputs(arrays["x_train"])[rows])


# --------------------------------------------------------------------------- readings


class CountingClassifier:
    """Wraps a fake classifier and counts the crops it is asked to classify."""

    def __init__(self, model):
        self.classify = rd.classify_with(model)
        self.crops = 0

    def __call__(self, inputs):
        self.crops += len(inputs)
        return self.classify(inputs)


def readings_of(arrays, classifier, split):
    return rd.read_digits(arrays[f"x_{split}"], rd.classify_with(classifier))


@pytest.mark.parametrize("spacing", [{"min": 0, "max": 4}, {"min": -6, "max": -3, "measure": "ink"}])
def test_looked_up_readings_give_exactly_what_classifying_every_crop_gives(tmp_path, arrays, classifier, spacing):
    write_npz(tmp_path / "mnist.npz", arrays)
    dataset = write_sequences(tmp_path, tmp_path / "mnist.npz", spacing=spacing)
    for split in ("train", "test"):
        training = cr.CropHashes(cr.digit_crops_of(arrays["x_train"])) if split == "test" else None
        counting = CountingClassifier(classifier)
        looked_up = sq.check_split(
            dataset / split, split, pools(arrays, split, readings_of(arrays, classifier, split)), counting, seq_params(), training=training
        )
        classified = sq.check_split(dataset / split, split, pools(arrays, split), rd.classify_with(classifier), seq_params(), training=training)
        assert json.dumps(looked_up.metrics, sort_keys=True) == json.dumps(classified.metrics, sort_keys=True)
        np.testing.assert_array_equal(looked_up.predicted, classified.predicted)
        np.testing.assert_array_equal(looked_up.labels, classified.labels)
        overlapping = looked_up.metrics["overlapping_digits"]
        assert looked_up.timings["classified"] == counting.crops
        assert looked_up.timings["looked_up"] + looked_up.timings["classified"] == looked_up.metrics["checked_digits"]
        if spacing["max"] >= 0:
            assert (overlapping, counting.crops) == (0, 0)  # every crop is its source digit: nothing classified
        else:
            assert overlapping > 0 and counting.crops >= overlapping  # merged ink: those crops go through the classifier


def test_readings_are_used_only_for_the_images_they_were_made_from(tmp_path, arrays, classifier):
    digits = readings_of(arrays, classifier, "train")
    assert digits.dtype == np.int8 and digits.shape == (200,) and set(np.unique(digits)) <= set(range(10))
    rd.write_readings(tmp_path / "r.npz", {"real_train": (digits, rd.images_sha256(arrays["x_train"]))})
    loaded = rd.load_readings(tmp_path / "r.npz")
    np.testing.assert_array_equal(loaded.for_images("real_train", arrays["x_train"]), digits)
    changed = arrays["x_train"].copy()
    changed[5, 3, 3] ^= 1
    assert loaded.for_images("real_train", changed) is None
    assert loaded.for_images("real_train", arrays["x_train"][:-1]) is None
    assert loaded.for_images("kde", arrays["x_train"]) is None
    first = (tmp_path / "r.npz").read_bytes()
    rd.write_readings(tmp_path / "r.npz", {"real_train": (digits, rd.images_sha256(arrays["x_train"]))})
    assert (tmp_path / "r.npz").read_bytes() == first
    write_npz(tmp_path / "bad.npz", {"real_train": digits.astype(np.int64)})
    with pytest.raises(ValueError, match=r"'real_train' must be int8 \(N,\) with a real_train.sha256 string; run `dvc repro classify_digits`"):
        rd.load_readings(tmp_path / "bad.npz")


# --------------------------------------------------------------------------- broken shards


def test_a_truncated_shard_is_a_contract_error_naming_it_and_the_others_are_still_checked(dataset, arrays, classifier):
    path = dataset / "test" / "shard-00001.npz"
    path.write_bytes(path.read_bytes()[:1000])
    result = check(dataset, arrays, classifier, "test")
    assert result.metrics["contract_errors"] >= 1
    assert any("shard-00001.npz" in m and "corrupt or truncated" in m for m in result.messages), result.messages
    # 30 test sequences in shards of 16 and 14: the first shard is still checked and classified
    assert (result.metrics["sequences"], result.metrics["checked_sequences"], result.metrics["shards"]) == (16, 16, 2)
    assert "manifest.csv: 30 rows, but the shards hold 16 sequences" in result.messages


def test_a_shard_whose_labels_disagree_with_its_images_is_named(dataset, arrays, classifier):
    corrupt(dataset, "labels", lambda a: a[:5])
    result = check(dataset, arrays, classifier, "test")
    assert any("shard-00001.npz: labels has shape (5, 4), expected (14, 4)" in m for m in result.messages), result.messages


def test_the_result_does_not_depend_on_the_number_of_threads(dataset, arrays, classifier):
    corrupt(dataset, "labels", lambda a: np.where(a < 0, 0, a).astype(np.int16))  # some problems, so message order matters
    training = cr.CropHashes(cr.digit_crops_of(arrays["x_train"]))
    results = [
        sq.check_split(dataset / "test", "test", pools(arrays, "test"), rd.classify_with(classifier), seq_params(), training=training, workers=n)
        for n in (1, 2, 3)
    ]
    for other in results[1:]:
        assert json.dumps(other.metrics, sort_keys=True) == json.dumps(results[0].metrics, sort_keys=True)
        assert other.messages == results[0].messages
        np.testing.assert_array_equal(other.predicted, results[0].predicted)
        for key in results[0].preview:
            np.testing.assert_array_equal(other.preview[key], results[0].preview[key])
    assert results[0].metrics["contract_errors"] >= 1


@pytest.mark.parametrize(
    ("layout", "used"),
    [
        ({"height": 48, "width": 240}, ["height"]),
        ({"digit": {"rotation": 8, "scale": [0.9, 1.1], "thickness": 0.5}, "width": 180}, ["scale", "rotation", "thickness"]),
        ({"degrade": {"invert": {"p": 1.0}, "blur": {"p": 0.5}}}, ["blur", "invert"]),
    ],
)
def test_a_layout_dataset_passes_the_checks_and_its_crops_are_still_read(tmp_path, arrays, classifier, layout, used):
    write_npz(tmp_path / "mnist.npz", arrays)
    dataset = write_sequences(tmp_path, tmp_path / "mnist.npz", **layout)
    plain = write_sequences(tmp_path / "plain", tmp_path / "mnist.npz")
    for split in ("train", "test"):
        baseline = check(plain, arrays, classifier, split).metrics  # the fake classifier reads about half of the plain crops
        result = check(dataset, arrays, classifier, split)
        m = result.metrics
        assert m["contract_errors"] == 0, result.messages
        assert m["layout_options"] == used
        assert m["checked_digits"] == m["digits"]
        assert "layout_options" not in baseline
        assert m["digit_accuracy"] >= baseline["digit_accuracy"] - 0.1, (m, baseline)
