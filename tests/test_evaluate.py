"""Tests of digitgen.evaluate: metrics with known answers, source scoring, sequence checks and leakage."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from evaluation_fakes import CentroidClassifier, distinct_mnist_arrays, write_sequences
from scipy import linalg
from scipy.spatial.distance import cdist

from digitgen import evaluate as ev
from digitgen.compose import ink_extents
from digitgen.errors import ParamsError
from digitgen.io import write_npz
from digitgen.params.all import parse_params


def eval_params(**values):
    return parse_params({"evaluate": {"samples": 50, "kid_subsets": 20, "kid_subset_size": 30, "memorisation_samples": 25, **values}}).evaluate


# --------------------------------------------------------------------------- Fréchet distance


def test_frechet_distance_of_identical_sets_is_zero():
    features = np.random.default_rng(0).normal(size=(500, 8))
    assert ev.frechet_distance(features, features) == pytest.approx(0.0, abs=1e-8)


def standard_sample(n, d, rng):
    """n points in d dimensions whose sample mean is exactly 0 and sample covariance exactly I."""
    z = rng.normal(size=(n, d))
    z -= z.mean(0)
    return z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T


def test_frechet_distance_of_shifted_gaussians_matches_the_closed_form():
    rng = np.random.default_rng(1)
    shift, scale = np.array([1.0, -2.0, 0.5, 0.0]), np.array([1.0, 2.0, 0.5, 1.0])
    a = standard_sample(500, 4, rng)
    b = standard_sample(700, 4, rng) * scale + shift
    # N(0, I) vs N(shift, diag(scale^2)): |shift|^2 + sum (1 - scale)^2 = 5.25 + 1.25
    assert ev.frechet_distance(a, b) == pytest.approx(6.5, rel=1e-9)
    assert ev.frechet_distance(a, a + shift) == pytest.approx(5.25, rel=1e-9)
    # and on plain random samples, within sampling error
    c, e = rng.normal(size=(20000, 4)), rng.normal(size=(20000, 4)) * scale + shift
    assert ev.frechet_distance(c, e) == pytest.approx(6.5, abs=0.2)


def test_frechet_distance_from_moments_equals_the_sqrtm_formula():
    rng = np.random.default_rng(2)
    m1, m2 = rng.normal(size=(2, 6))
    x, y = rng.normal(size=(2, 6, 6))
    c1, c2 = x @ x.T + 0.1 * np.eye(6), y @ y.T + 0.1 * np.eye(6)
    reference = float(np.sum((m1 - m2) ** 2) + np.trace(c1 + c2 - 2 * np.real(linalg.sqrtm(c1 @ c2))))
    assert ev.frechet_distance_from_moments(m1, c1, m2, c2) == pytest.approx(reference, rel=1e-8)
    # diagonal covariances: |dm|^2 + sum (sqrt(v1) - sqrt(v2))^2
    v1, v2 = np.array([1.0, 4.0]), np.array([9.0, 1.0])
    assert ev.frechet_distance_from_moments([0, 0], np.diag(v1), [3, 4], np.diag(v2)) == pytest.approx(25 + 4 + 1)


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        (np.zeros((5, 3)), np.zeros((5, 4)), r"same D, got \(5, 3\) and \(5, 4\)"),
        (np.zeros((1, 3)), np.zeros((5, 3)), "at least 2 rows in each set, got 1 and 5"),
        (np.full((5, 3), np.nan), np.zeros((5, 3)), "NaN or infinite"),
    ],
)
def test_frechet_distance_refuses_bad_features(a, b, message):
    with pytest.raises(ValueError, match=message):
        ev.frechet_distance(a, b)


# --------------------------------------------------------------------------- KID


def brute_force_mmd2(x, y):
    """Unbiased MMD^2 with the cubic kernel, by explicit loops over pairs."""
    def k(u, v):
        return (u @ v / len(u) + 1) ** 3

    m = len(x)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kernel_distance_is_the_unbiased_mmd_of_each_subset():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(12, 3)), rng.normal(1.0, 1.0, size=(12, 3))
    mean, std = ev.kernel_distance(a, b, subsets=1, subset_size=12, rng=np.random.default_rng(0))
    assert mean == pytest.approx(brute_force_mmd2(a, b), rel=1e-5)
    assert std == 0.0


def test_kernel_distance_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(2000, 16)), rng.normal(size=(2000, 16))
    mean, std = ev.kernel_distance(a, b, subsets=50, subset_size=200, rng=np.random.default_rng(0))
    assert abs(mean) < 3 * std / np.sqrt(50) + 1e-3
    assert std > 0
    shifted, _ = ev.kernel_distance(a, b + 0.5, subsets=50, subset_size=200, rng=np.random.default_rng(0))
    assert shifted > 20 * std


def test_kernel_distance_caps_the_subset_size_and_is_reproducible():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(20, 4)), rng.normal(size=(30, 4))
    first = ev.kernel_distance(a, b, subsets=5, subset_size=1000, rng=np.random.default_rng(9))
    assert first == ev.kernel_distance(a, b, subsets=5, subset_size=1000, rng=np.random.default_rng(9))
    with pytest.raises(ValueError, match="subset_size == 1 >= 2"):
        ev.kernel_distance(a, b, subsets=5, subset_size=1, rng=rng)


# --------------------------------------------------------------------------- precision and recall


def test_knn_radii_match_brute_force():
    x = np.random.default_rng(6).normal(size=(300, 5)).astype(np.float32)
    d = np.sort(cdist(x, x), axis=1)
    np.testing.assert_allclose(ev.knn_radii(x, 3), d[:, 3], rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="N > k >= 1"):
        ev.knn_radii(x[:3], 3)


def test_precision_and_recall_of_identical_sets_are_one():
    x = np.random.default_rng(7).normal(size=(400, 6))
    assert ev.precision_recall(x, x, 3) == (1.0, 1.0)


def test_precision_and_recall_of_far_apart_sets_are_zero():
    x = np.random.default_rng(8).normal(size=(200, 3))
    assert ev.precision_recall(x, x + 100, 3) == (0.0, 0.0)


def test_collapsed_samples_have_high_precision_and_low_recall():
    rng = np.random.default_rng(9)
    real = rng.normal(size=(1000, 2))
    collapsed = rng.normal(scale=0.1, size=(1000, 2))  # all near the real mode
    precision, recall = ev.precision_recall(real, collapsed, 3)
    assert precision > 0.95 and recall < 0.3


def test_precision_recall_matches_a_brute_force_count():
    rng = np.random.default_rng(10)
    real, fake = rng.normal(size=(150, 3)), rng.normal(0.5, 1.2, size=(120, 3))
    real_r = np.sort(cdist(real, real), 1)[:, 3]
    fake_r = np.sort(cdist(fake, fake), 1)[:, 3]
    cross = cdist(fake, real)
    expected = ((cross <= real_r[None]).any(1).mean(), (cross <= fake_r[:, None]).any(0).mean())
    assert ev.precision_recall(real, fake, 3) == pytest.approx(expected, abs=1.5 / 120)


# --------------------------------------------------------------------------- pixels and labels


def test_pixel_index_finds_the_exact_nearest_training_digit():
    arrays = distinct_mnist_arrays()
    train, queries = arrays["x_train"], arrays["x_test"][:20]
    distances, index = ev.PixelIndex(train).nearest(queries)
    brute = cdist(queries.reshape(20, -1) / 255.0, train.reshape(len(train), -1) / 255.0)
    np.testing.assert_array_equal(index, brute.argmin(1))
    np.testing.assert_allclose(distances, brute.min(1), rtol=1e-9)
    copies, rows = ev.PixelIndex(train).nearest(train[[5, 17]])
    assert copies.tolist() == [0.0, 0.0] and rows.tolist() == [5, 17]


def test_memorisation_summary_flags_copies_of_training_digits():
    baseline = np.linspace(1.0, 5.0, 1001)
    copies = np.concatenate([np.zeros(30), np.linspace(1.0, 5.0, 70)])
    summary = ev.memorisation_summary(copies, baseline)
    assert summary["baseline_p1"] == pytest.approx(1.04)
    assert summary["below_baseline_p1"] == pytest.approx(0.31)  # 30 copies + 1 of the spread
    assert summary["exact_copies"] == pytest.approx(0.30)
    assert ev.memorisation_summary(baseline, baseline)["below_baseline_p1"] == pytest.approx(0.01, abs=1e-3)
    rows = ev.memorisation_histogram(copies, baseline, bins=10)
    assert len(rows) == 10 and sum(r["samples"] for r in rows) == pytest.approx(1.0)
    assert rows[0]["samples"] == pytest.approx(0.30) and rows[0]["real_test"] == 0.0


def test_label_accuracy_overall_and_per_digit():
    labels = np.array([0, 0, 1, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, 0, 2])
    scores = ev.label_accuracy(labels, predicted)
    assert scores["overall"] == pytest.approx(4 / 6)
    assert scores["per_digit"] == pytest.approx({"0": 0.5, "1": 2 / 3, "2": 1.0})
    pairs = np.array([[3, 8], [3, 8], [1, 7]])
    assert ev.label_accuracy(pairs, np.array([8, 5, 1])) == pytest.approx({"overall": 2 / 3})
    with pytest.raises(ValueError, match="labels"):
        ev.label_accuracy(labels, predicted[:3])


def test_pair_scores_give_the_mass_on_the_pair_and_the_smaller_probability():
    proba = np.zeros((3, 10))
    proba[0, [3, 8]] = [0.6, 0.4]
    proba[1, [3, 8, 1]] = [0.9, 0.05, 0.05]
    proba[2, [1, 7]] = [0.5, 0.5]
    scores = ev.pair_scores(proba, np.array([[3, 8], [8, 3], [7, 1]]))
    assert scores["pairs"]["3-8"] == pytest.approx({"count": 2, "mass": 0.975, "smaller": 0.225, "balanced": 0.5})
    assert scores["pairs"]["1-7"] == pytest.approx({"count": 1, "mass": 1.0, "smaller": 0.5, "balanced": 1.0})
    assert scores["mass"] == pytest.approx((1.0 + 0.95 + 1.0) / 3)
    assert scores["smaller"] == pytest.approx((0.4 + 0.05 + 0.5) / 3)
    assert scores["balanced"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="digits 0-9"):
        ev.pair_scores(proba, np.array([[3, 8], [8, 3], [7, 10]]))


def balance_example(dtype=np.float64):
    """Five ambiguous digits whose smaller intended probability is 0.25 exactly, just below it, or clearly on either side."""
    proba = np.zeros((5, 10), dtype)
    proba[0, [2, 5]] = [0.25, 0.75]  # smaller exactly 0.25: balanced
    proba[1, [5, 2, 0]] = [0.6, 0.2499, 0.1501]  # smaller just below 0.25: not balanced
    proba[2, [4, 9, 1]] = [0.25, 0.25, 0.5]  # both exactly 0.25, only half the mass on the pair: balanced
    proba[3, [9, 4, 3]] = [0.3, 0.26, 0.44]  # balanced
    proba[4, [0, 6, 7]] = [0.9, 0.02, 0.08]  # not balanced
    return proba, np.array([[2, 5], [5, 2], [4, 9], [9, 4], [6, 0]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pair_scores_count_a_sample_as_balanced_from_a_smaller_probability_of_exactly_0_25(dtype):
    assert ev.BALANCED_SMALLER == 0.25 and ev.BALANCED_TARGET == 0.5
    proba, pairs = balance_example(dtype)
    scores = ev.pair_scores(proba, pairs)
    assert scores["balanced"] == 0.6  # samples 0, 2 and 3 of 5
    assert list(scores["pairs"]) == ["0-6", "2-5", "4-9"]
    assert {key: v["balanced"] for key, v in scores["pairs"].items()} == {"0-6": 0.0, "2-5": 0.5, "4-9": 1.0}
    assert {key: v["count"] for key, v in scores["pairs"].items()} == {"0-6": 1, "2-5": 2, "4-9": 2}
    assert scores["pairs"]["2-5"] == pytest.approx({"count": 2, "mass": (1.0 + 0.8499) / 2, "smaller": (0.25 + 0.2499) / 2, "balanced": 0.5})
    assert scores["pairs"]["4-9"] == pytest.approx({"count": 2, "mass": (0.5 + 0.56) / 2, "smaller": (0.25 + 0.26) / 2, "balanced": 1.0})
    assert scores["smaller"] == pytest.approx((0.25 + 0.2499 + 0.25 + 0.26 + 0.02) / 5)
    assert all(isinstance(scores[key], float) for key in ("mass", "smaller", "balanced"))
    # the threshold is the module constant, not a literal
    proba[0, [2, 5]] = [0.2, 0.8]
    assert ev.pair_scores(proba, pairs)["balanced"] == 0.4


def test_the_balanced_share_reaches_banks_json_and_the_pair_table(tmp_path):
    proba, pairs = balance_example()
    scores = ev.pair_scores(proba, pairs)
    per_pair = scores.pop("pairs")
    result = ev.SourceResult("ambiguous", {"ambiguous": scores}, pairs, proba.argmax(1), np.zeros((28, 28), np.uint8), [], per_pair)
    ev.write_json(tmp_path / "banks.json", ev.bank_metrics([result]))
    assert json.loads((tmp_path / "banks.json").read_text())["ambiguous"]["ambiguous"]["balanced"] == 0.6
    ev.write_plots(tmp_path / "plots", [result], {})
    lines = (tmp_path / "plots" / "ambiguous" / "ambiguous.csv").read_text().splitlines()
    assert lines == ["pair,count,mass,smaller,balanced", "0-6,1,0.92,0.02,0.0", "2-5,2,0.92495,0.24995,0.5", "4-9,2,0.53,0.255,1.0"]


# --------------------------------------------------------------------------- sources


@pytest.fixture(scope="module")
def arrays():
    return distinct_mnist_arrays()


@pytest.fixture(scope="module")
def classifier(arrays):
    return CentroidClassifier(arrays["x_train"], arrays["y_train"])


@pytest.fixture(scope="module")
def reference(arrays, classifier):
    return ev.RealReference(classifier, arrays["x_train"], arrays["x_test"], arrays["y_test"], eval_params())


def test_real_row_is_the_real_baseline(reference, arrays, classifier):
    result = ev.evaluate_real(reference)
    m = result.metrics
    assert m["samples"] == 50 and m["fcd"] == m["fcd_baseline"]
    expected = np.mean(classifier.features_and_proba(arrays["x_test"])[1].argmax(1) == arrays["y_test"])
    assert m["label_accuracy"]["overall"] == pytest.approx(expected)
    assert m["memorisation"]["samples"] == 25 and m["memorisation"]["exact_copies"] == 0.0
    assert result.examples.shape == (10 * 30 - 2, 10 * 30 - 2) and result.examples.dtype == np.uint8


def test_copies_of_training_digits_score_like_real_digits_but_are_flagged_as_memorised(reference, arrays, classifier):
    copies = ev.SourceDigits("augmented", arrays["x_train"], arrays["y_train"].astype(np.int16))
    m = ev.evaluate_source(copies, classifier, reference).metrics
    assert m["memorisation"]["exact_copies"] == 1.0 and m["memorisation"]["below_baseline_p1"] == 1.0
    assert m["fcd"] == pytest.approx(m["fcd_baseline"], rel=0.5)
    noise = np.random.default_rng(0).integers(0, 256, (80, 28, 28)).astype(np.uint8)
    junk = ev.evaluate_source(ev.SourceDigits("kde", noise, np.resize(np.arange(10, dtype=np.int16), 80)), classifier, reference).metrics
    assert junk["fcd"] > 10 * m["fcd"] and junk["precision"] < 0.2
    assert junk["memorisation"]["below_baseline_p1"] == 0.0


def test_evaluate_source_is_deterministic_and_scores_ambiguous_pairs(reference, arrays, classifier):
    x, y = arrays["x_train"], arrays["y_train"].astype(np.int16)
    first_rows = np.arange(100)
    second_rows = np.array([next(j for j in range(100, 200) if y[j] == (y[i] + 1 + i % 9) % 10) for i in first_rows])
    blends = np.maximum(x[first_rows], x[second_rows])
    pairs = np.stack([y[first_rows], y[second_rows]], 1)
    assert (pairs[:, 0] != pairs[:, 1]).all()
    source = ev.SourceDigits("ambiguous", blends, pairs)
    first = ev.evaluate_source(source, classifier, reference)
    second = ev.evaluate_source(source, classifier, reference)
    assert json.dumps(first.metrics, sort_keys=True) == json.dumps(second.metrics, sort_keys=True)
    assert set(first.metrics["ambiguous"]) == {"mass", "smaller", "balanced"}
    assert "per_digit" not in first.metrics["label_accuracy"]
    assert sum(v["count"] for v in first.pairs.values()) == 50
    assert all(0 <= v["smaller"] <= v["mass"] / 2 + 1e-9 <= 0.5 + 1e-9 for v in first.pairs.values())
    assert all(0 <= v["balanced"] <= 1 for v in first.pairs.values())
    weighted = sum(v["count"] * v["balanced"] for v in first.pairs.values()) / 50
    assert first.metrics["ambiguous"]["balanced"] == pytest.approx(weighted)


def test_load_source_names_the_file_and_the_params_key(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"kde.npz.*evaluate.banks"):
        ev.load_source(tmp_path / "kde.npz", "kde")
    write_npz(tmp_path / "bad.npz", {"images": np.zeros((2, 28, 28), np.uint8), "labels": np.zeros(2, np.int64)})
    with pytest.raises(ValueError, match="labels must be int16, found int64"):
        ev.load_source(tmp_path / "bad.npz", "kde")
    write_npz(tmp_path / "pairs.npz", {"images": np.zeros((2, 28, 28), np.uint8), "labels": np.zeros((2, 3), np.int16)})
    with pytest.raises(ValueError, match=r"shape \(2,\) or \(2, 2\)"):
        ev.load_source(tmp_path / "pairs.npz", "ambiguous")


# --------------------------------------------------------------------------- sequences


@pytest.fixture
def dataset(tmp_path, arrays):
    write_npz(tmp_path / "mnist.npz", arrays)
    return write_sequences(tmp_path, tmp_path / "mnist.npz")


def pools(arrays, split):
    return {"real": ev.SourceDigits("real", arrays[f"x_{split}"], arrays[f"y_{split}"].astype(np.int16))}


def check(dataset, arrays, classifier, split, **params):
    training = ev.CropHashes(ev.digit_crops_of(arrays["x_train"])) if split == "test" else None
    return ev.check_split(dataset / split, split, pools(arrays, split), classifier, eval_params(**params), training=training)


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
        crops = ev.canonical_crops(shard["images"], seq, boxes)
        digits = arrays["x_test"][shard["source_index"][seq, slot]]
    np.testing.assert_array_equal(crops, ev.digit_crops_of(digits))
    # placed back by centre of mass, a digit lands within a few pixels of where it was drawn
    centred = ev.centre_crops(crops, boxes)
    moved = np.abs(ink_extents(centred).astype(int) - ink_extents(digits).astype(int))
    assert moved.max() <= 3 and centred.sum() == digits.sum()


def test_centre_crops_puts_the_centre_of_mass_at_the_mnist_centre():
    crops = np.zeros((2, 28, 28), np.uint8)
    crops[0, 0, 0] = 255  # one pixel
    crops[1, :3, :3] = 255  # a 3x3 block
    centred = ev.centre_crops(crops, np.array([[5, 5, 6, 6], [0, 0, 3, 3]]))
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
    training = ev.CropHashes(ev.digit_crops_of(arrays["x_train"]))
    result = ev.check_split(dataset / "test", "test", pools(arrays, "test"), classifier, eval_params(), training=training, duplicates=duplicates)
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
        ev.check_split(tmp_path / "test", "test", pools(arrays, "test"), classifier, eval_params())


def test_crop_hashes_find_equal_crops_only():
    crops = np.zeros((3, 28, 28), np.uint8)
    crops[0, 0, 0], crops[1, 1, 1], crops[2, 2, 2] = 1, 2, 3
    hashes = ev.CropHashes(crops[:2])
    assert hashes.find(crops).tolist() == [0, 1, -1]


# --------------------------------------------------------------------------- files and params


def test_write_json_rounds_floats_and_sorts_keys(tmp_path):
    ev.write_json(tmp_path / "m.json", {"b": np.float32(0.1234567891), "a": {"c": np.int64(3), "d": 1 / 3}})
    assert (tmp_path / "m.json").read_text() == '{\n  "a": {\n    "c": 3,\n    "d": 0.333333\n  },\n  "b": 0.123457\n}\n'


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"banks": ["kde", "kde"]}, "evaluate.banks == \\['kde', 'kde'\\], lists a bank more than once"),
        ({"banks": ["gan"]}, "evaluate.banks\\[0\\] == 'gan', must be one of"),
        ({"samples": 3}, "evaluate.samples == 3, must be >= 10"),
        ({"kid_subset_size": 1}, "evaluate.kid_subset_size == 1, must be >= 2"),
        ({"mosaic_per_digit": 0}, "evaluate.mosaic_per_digit == 0, must be in 1..50"),
        ({"strict": "yes"}, "evaluate.strict == 'yes', must be true or false"),
    ],
)
def test_evaluate_params_are_validated(values, message):
    with pytest.raises(ParamsError, match=message):
        parse_params({"evaluate": values})
