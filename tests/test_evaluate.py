"""Tests of digitgen.evaluate.features, .pixels, .banks and .outputs: metrics with known answers and source scoring."""

from __future__ import annotations

import json

import numpy as np
import pytest
from evaluation_fakes import CentroidClassifier, distinct_mnist_arrays
from scipy import linalg
from scipy.spatial.distance import cdist

from digitgen.bank import DigitBank
from digitgen.errors import ParamsError
from digitgen.evaluate import banks as bk
from digitgen.evaluate import features as ft
from digitgen.evaluate import outputs as out
from digitgen.evaluate import pixels as px
from digitgen.params.all import parse_params


def eval_params(**values):
    return parse_params({"evaluate_banks": {"samples": 50, "kid_subsets": 20, "kid_subset_size": 30, "memorisation_samples": 25, **values}}).evaluate_banks


# --------------------------------------------------------------------------- Fréchet distance


def test_frechet_distance_of_identical_sets_is_zero():
    features = np.random.default_rng(0).normal(size=(500, 8))
    assert ft.frechet_distance(features, features) == pytest.approx(0.0, abs=1e-8)


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
    assert ft.frechet_distance(a, b) == pytest.approx(6.5, rel=1e-9)
    assert ft.frechet_distance(a, a + shift) == pytest.approx(5.25, rel=1e-9)
    # and on plain random samples, within sampling error
    c, e = rng.normal(size=(20000, 4)), rng.normal(size=(20000, 4)) * scale + shift
    assert ft.frechet_distance(c, e) == pytest.approx(6.5, abs=0.2)


def test_frechet_distance_from_moments_equals_the_sqrtm_formula():
    rng = np.random.default_rng(2)
    m1, m2 = rng.normal(size=(2, 6))
    x, y = rng.normal(size=(2, 6, 6))
    c1, c2 = x @ x.T + 0.1 * np.eye(6), y @ y.T + 0.1 * np.eye(6)
    reference = float(np.sum((m1 - m2) ** 2) + np.trace(c1 + c2 - 2 * np.real(linalg.sqrtm(c1 @ c2))))
    assert ft.frechet_distance_from_moments(m1, c1, m2, c2) == pytest.approx(reference, rel=1e-8)
    # diagonal covariances: |dm|^2 + sum (sqrt(v1) - sqrt(v2))^2
    v1, v2 = np.array([1.0, 4.0]), np.array([9.0, 1.0])
    assert ft.frechet_distance_from_moments([0, 0], np.diag(v1), [3, 4], np.diag(v2)) == pytest.approx(25 + 4 + 1)


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
        ft.frechet_distance(a, b)


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
    mean, std = ft.kernel_distance(a, b, subsets=1, subset_size=12, rng=np.random.default_rng(0))
    assert mean == pytest.approx(brute_force_mmd2(a, b), rel=1e-5)
    assert std == 0.0


def test_kernel_distance_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(2000, 16)), rng.normal(size=(2000, 16))
    mean, std = ft.kernel_distance(a, b, subsets=50, subset_size=200, rng=np.random.default_rng(0))
    assert abs(mean) < 3 * std / np.sqrt(50) + 1e-3
    assert std > 0
    shifted, _ = ft.kernel_distance(a, b + 0.5, subsets=50, subset_size=200, rng=np.random.default_rng(0))
    assert shifted > 20 * std


def test_kernel_distance_caps_the_subset_size_and_is_reproducible():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(20, 4)), rng.normal(size=(30, 4))
    first = ft.kernel_distance(a, b, subsets=5, subset_size=1000, rng=np.random.default_rng(9))
    assert first == ft.kernel_distance(a, b, subsets=5, subset_size=1000, rng=np.random.default_rng(9))
    with pytest.raises(ValueError, match="subset_size == 1 >= 2"):
        ft.kernel_distance(a, b, subsets=5, subset_size=1, rng=rng)


# --------------------------------------------------------------------------- precision and recall


def test_knn_radii_match_brute_force():
    x = np.random.default_rng(6).normal(size=(300, 5)).astype(np.float32)
    d = np.sort(cdist(x, x), axis=1)
    np.testing.assert_allclose(ft.knn_radii(x, 3), d[:, 3], rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="N > k >= 1"):
        ft.knn_radii(x[:3], 3)


def test_precision_and_recall_of_identical_sets_are_one():
    x = np.random.default_rng(7).normal(size=(400, 6))
    assert ft.precision_recall(x, x, 3) == (1.0, 1.0)


def test_precision_and_recall_of_far_apart_sets_are_zero():
    x = np.random.default_rng(8).normal(size=(200, 3))
    assert ft.precision_recall(x, x + 100, 3) == (0.0, 0.0)


def test_collapsed_samples_have_high_precision_and_low_recall():
    rng = np.random.default_rng(9)
    real = rng.normal(size=(1000, 2))
    collapsed = rng.normal(scale=0.1, size=(1000, 2))  # all near the real mode
    precision, recall = ft.precision_recall(real, collapsed, 3)
    assert precision > 0.95 and recall < 0.3


def test_precision_recall_matches_a_brute_force_count():
    rng = np.random.default_rng(10)
    real, fake = rng.normal(size=(150, 3)), rng.normal(0.5, 1.2, size=(120, 3))
    real_r = np.sort(cdist(real, real), 1)[:, 3]
    fake_r = np.sort(cdist(fake, fake), 1)[:, 3]
    cross = cdist(fake, real)
    expected = ((cross <= real_r[None]).any(1).mean(), (cross <= fake_r[:, None]).any(0).mean())
    assert ft.precision_recall(real, fake, 3) == pytest.approx(expected, abs=1.5 / 120)


# --------------------------------------------------------------------------- pixels and labels


def test_pixel_index_finds_the_exact_nearest_training_digit():
    arrays = distinct_mnist_arrays()
    train, queries = arrays["x_train"], arrays["x_test"][:20]
    distances, index = px.PixelIndex(train).nearest(queries)
    brute = cdist(queries.reshape(20, -1) / 255.0, train.reshape(len(train), -1) / 255.0)
    np.testing.assert_array_equal(index, brute.argmin(1))
    np.testing.assert_allclose(distances, brute.min(1), rtol=1e-9)
    copies, rows = px.PixelIndex(train).nearest(train[[5, 17]])
    assert copies.tolist() == [0.0, 0.0] and rows.tolist() == [5, 17]


def test_memorisation_summary_flags_copies_of_training_digits():
    baseline = np.linspace(1.0, 5.0, 1001)
    copies = np.concatenate([np.zeros(30), np.linspace(1.0, 5.0, 70)])
    summary = px.memorisation_summary(copies, baseline)
    assert summary["baseline_p1"] == pytest.approx(1.04)
    assert summary["below_baseline_p1"] == pytest.approx(0.31)  # 30 copies + 1 of the spread
    assert summary["exact_copies"] == pytest.approx(0.30)
    assert px.memorisation_summary(baseline, baseline)["below_baseline_p1"] == pytest.approx(0.01, abs=1e-3)
    rows = px.memorisation_histogram(copies, baseline, bins=10)
    assert len(rows) == 10 and sum(r["samples"] for r in rows) == pytest.approx(1.0)
    assert rows[0]["samples"] == pytest.approx(0.30) and rows[0]["real_test"] == 0.0


def test_label_accuracy_overall_and_per_digit():
    labels = np.array([0, 0, 1, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, 0, 2])
    scores = bk.label_accuracy(labels, predicted)
    assert scores["overall"] == pytest.approx(4 / 6)
    assert scores["per_digit"] == pytest.approx({"0": 0.5, "1": 2 / 3, "2": 1.0})
    pairs = np.array([[3, 8], [3, 8], [1, 7]])
    assert bk.label_accuracy(pairs, np.array([8, 5, 1])) == pytest.approx({"overall": 2 / 3})
    with pytest.raises(ValueError, match="labels"):
        bk.label_accuracy(labels, predicted[:3])


def test_pair_scores_give_the_mass_on_the_pair_and_the_smaller_probability():
    proba = np.zeros((3, 10))
    proba[0, [3, 8]] = [0.6, 0.4]
    proba[1, [3, 8, 1]] = [0.9, 0.05, 0.05]
    proba[2, [1, 7]] = [0.5, 0.5]
    scores = bk.pair_scores(proba, np.array([[3, 8], [8, 3], [7, 1]]))
    assert scores["pairs"]["3-8"] == pytest.approx({"count": 2, "mass": 0.975, "smaller": 0.225, "balanced": 0.5})
    assert scores["pairs"]["1-7"] == pytest.approx({"count": 1, "mass": 1.0, "smaller": 0.5, "balanced": 1.0})
    assert scores["mass"] == pytest.approx((1.0 + 0.95 + 1.0) / 3)
    assert scores["smaller"] == pytest.approx((0.4 + 0.05 + 0.5) / 3)
    assert scores["balanced"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="digits 0-9"):
        bk.pair_scores(proba, np.array([[3, 8], [8, 3], [7, 10]]))


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
    assert bk.BALANCED_SMALLER == 0.25 and bk.BALANCED_TARGET == 0.5
    proba, pairs = balance_example(dtype)
    scores = bk.pair_scores(proba, pairs)
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
    assert bk.pair_scores(proba, pairs)["balanced"] == 0.4


def test_the_balanced_share_reaches_banks_json_and_the_pair_table(tmp_path):
    proba, pairs = balance_example()
    scores = bk.pair_scores(proba, pairs)
    per_pair = scores.pop("pairs")
    result = bk.SourceResult("ambiguous", {"ambiguous": scores}, pairs, proba.argmax(1), np.zeros((28, 28), np.uint8), [], per_pair)
    out.write_json(tmp_path / "banks.json", out.bank_metrics([result]))
    assert json.loads((tmp_path / "banks.json").read_text())["ambiguous"]["ambiguous"]["balanced"] == 0.6
    out.write_bank_plots(tmp_path / "plots", [result])
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
    return bk.RealReference(classifier, arrays["x_train"], arrays["x_test"], arrays["y_test"], eval_params())


def test_real_row_is_the_real_baseline(reference, arrays, classifier):
    result = bk.evaluate_real(reference)
    m = result.metrics
    assert m["samples"] == 50 and m["fcd"] == m["fcd_baseline"]
    expected = np.mean(classifier.features_and_proba(arrays["x_test"])[1].argmax(1) == arrays["y_test"])
    assert m["label_accuracy"]["overall"] == pytest.approx(expected)
    assert m["memorisation"]["samples"] == 25 and m["memorisation"]["exact_copies"] == 0.0
    assert result.examples.shape == (10 * 30 - 2, 10 * 30 - 2) and result.examples.dtype == np.uint8


def test_copies_of_training_digits_score_like_real_digits_but_are_flagged_as_memorised(reference, arrays, classifier):
    copies = DigitBank("augmented", arrays["x_train"], arrays["y_train"].astype(np.int16))
    m = bk.evaluate_source(copies, classifier, reference).metrics
    assert m["memorisation"]["exact_copies"] == 1.0 and m["memorisation"]["below_baseline_p1"] == 1.0
    assert m["fcd"] == pytest.approx(m["fcd_baseline"], rel=0.5)
    noise = np.random.default_rng(0).integers(0, 256, (80, 28, 28)).astype(np.uint8)
    junk = bk.evaluate_source(DigitBank("kde", noise, np.resize(np.arange(10, dtype=np.int16), 80)), classifier, reference).metrics
    assert junk["fcd"] > 10 * m["fcd"] and junk["precision"] < 0.2
    assert junk["memorisation"]["below_baseline_p1"] == 0.0


def test_evaluate_source_is_deterministic_and_scores_ambiguous_pairs(reference, arrays, classifier):
    x, y = arrays["x_train"], arrays["y_train"].astype(np.int16)
    first_rows = np.arange(100)
    second_rows = np.array([next(j for j in range(100, 200) if y[j] == (y[i] + 1 + i % 9) % 10) for i in first_rows])
    blends = np.maximum(x[first_rows], x[second_rows])
    pairs = np.stack([y[first_rows], y[second_rows]], 1)
    assert (pairs[:, 0] != pairs[:, 1]).all()
    source = DigitBank("ambiguous", blends, pairs[:, 0].copy(), pairs)
    first = bk.evaluate_source(source, classifier, reference)
    second = bk.evaluate_source(source, classifier, reference)
    assert json.dumps(first.metrics, sort_keys=True) == json.dumps(second.metrics, sort_keys=True)
    assert set(first.metrics["ambiguous"]) == {"mass", "smaller", "balanced", "balanced_threshold", "balanced_target"}
    assert (first.metrics["ambiguous"]["balanced_threshold"], first.metrics["ambiguous"]["balanced_target"]) == (bk.BALANCED_SMALLER, bk.BALANCED_TARGET) == (0.25, 0.5)
    assert "per_digit" not in first.metrics["label_accuracy"]
    assert sum(v["count"] for v in first.pairs.values()) == 50
    assert all(0 <= v["smaller"] <= v["mass"] / 2 + 1e-9 <= 0.5 + 1e-9 for v in first.pairs.values())
    assert all(0 <= v["balanced"] <= 1 for v in first.pairs.values())
    weighted = sum(v["count"] * v["balanced"] for v in first.pairs.values()) / 50
    assert first.metrics["ambiguous"]["balanced"] == pytest.approx(weighted)



# --------------------------------------------------------------------------- files and params


def test_write_json_rounds_floats_and_sorts_keys(tmp_path):
    out.write_json(tmp_path / "m.json", {"b": np.float32(0.1234567891), "a": {"c": np.int64(3), "d": 1 / 3}})
    assert (tmp_path / "m.json").read_text() == '{\n  "a": {\n    "c": 3,\n    "d": 0.333333\n  },\n  "b": 0.123457\n}\n'


@pytest.mark.parametrize(
    ("section", "values", "message"),
    [
        ("evaluate_banks", {"banks": ["kde", "kde"]}, "evaluate_banks.banks == \\['kde', 'kde'\\], must be a list of any number of items, each one of \\['augmented', 'kde', 'cvae', 'ambiguous', 'clusters'\\], no repeats"),
        ("evaluate_banks", {"banks": ["gan"]}, "evaluate_banks.banks\\[0\\] == 'gan', must be one of \\['augmented', 'kde', 'cvae', 'ambiguous', 'clusters'\\]"),
        ("evaluate_banks", {"banks": ["real"]}, "evaluate_banks.banks\\[0\\] == 'real', must be one of \\['augmented', 'kde', 'cvae', 'ambiguous', 'clusters'\\]"),
        ("evaluate_banks", {"samples": 3}, "evaluate_banks.samples == 3, must be an integer in 10..1000000"),
        ("evaluate_banks", {"samples": 10, "nearest_k": 10}, "evaluate_banks.samples == 10, must be > evaluate_banks.nearest_k \\(10\\)"),
        ("evaluate_banks", {"kid_subset_size": 1}, "evaluate_banks.kid_subset_size == 1, must be an integer in 2..100000"),
        ("evaluate_banks", {"mosaic_per_digit": 0}, "evaluate_banks.mosaic_per_digit == 0, must be an integer in 1..50"),
        ("evaluate_banks", {"seed": -1}, "evaluate_banks.seed == -1, must be an integer >= 0"),
        ("evaluate_banks", {"sequences_checked": 5}, "unknown key evaluate_banks.sequences_checked; valid keys of evaluate_banks are \\['banks', 'kid_subset_size', 'kid_subsets', 'memorisation_samples', 'mosaic_per_digit', 'nearest_k', 'readers', 'samples', 'seed', 'train_on_synthetic'\\]"),
        ("evaluate_sequences", {"strict": "yes"}, "evaluate_sequences.strict == 'yes', must be true or false"),
        ("evaluate_sequences", {"sequences_checked": -1}, "evaluate_sequences.sequences_checked == -1, must be an integer in 0..1000000000"),
        ("evaluate_sequences", {"sequence_previews": 1001}, "evaluate_sequences.sequence_previews == 1001, must be an integer in 0..1000"),
        ("evaluate_sequences", {"samples": 50}, "unknown key evaluate_sequences.samples; valid keys of evaluate_sequences are \\['sequence_previews', 'sequences_checked', 'strict'\\]"),
        ("evaluate", {}, "unknown key evaluate; valid keys are \\[.*'evaluate_banks', .*'evaluate_sequences'.*\\]"),
    ],
)
def test_evaluate_params_are_validated(section, values, message):
    with pytest.raises(ParamsError, match=message):
        parse_params({section: values})


def test_evaluate_params_defaults_are_the_documented_ones():
    params = parse_params({})
    banks, sequences = params.evaluate_banks, params.evaluate_sequences
    assert (banks.seed, banks.banks, banks.samples, banks.kid_subsets, banks.kid_subset_size) == (0, ("augmented", "kde", "cvae", "ambiguous", "clusters"), 10000, 100, 1000)
    assert (banks.nearest_k, banks.memorisation_samples, banks.mosaic_per_digit) == (3, 2000, 10)
    tos, readers = banks.train_on_synthetic, banks.readers
    assert (tos.digits, tos.epochs, tos.batch_size, tos.learning_rate) == (10000, 3, 128, 0.002)
    assert (readers.kinds, readers.digits, readers.epochs) == (("wide_cnn", "residual", "mlp"), 20000, 2)
    assert (sequences.sequences_checked, sequences.sequence_previews, sequences.strict) == (10000, 12, True)
