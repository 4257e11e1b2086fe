"""Tests of digitgen.generators.kde and .density, the fit_kde stage and the `digitgen sample` command (tiny synthetic digits)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.special import logsumexp

from digitgen.bank import load_bank
from digitgen.cli import main as cli_main
from digitgen.constants import CLEANING_LEVELS, REJECTION_LEVELS
from digitgen.errors import CorruptFileError, InputError, ParamsError
from digitgen.generators.density import choose_bandwidth, fit_pca, log_kde
from digitgen.generators.kde import (
    BandwidthEdgeWarning,
    KdeDigitGenerator,
    RejectionBudgetError,
)
from digitgen.io import sha256_file, write_npz
from digitgen.params.all import parse_params
from digitgen.params.core import rules_of
from digitgen.params.fit_kde import KDE_RULES, KdeParams
from digitgen.pipeline.fit_kde import (
    bandwidth_curves_csv,
    kde_metrics,
    make_bank,
    models_of,
)

ROOT = Path(__file__).resolve().parents[1]
GRID = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
TINY = dict(n_components=10, bandwidths=GRID, cv=3, subsample=None, acceptance_candidates=200, rejection="none", cleaning="light")


def fit_tiny(mnist_arrays, **params) -> KdeDigitGenerator:
    model = KdeDigitGenerator(**(TINY | {"random_state": 0} | params))
    with warnings.catch_warnings():
        warnings.simplefilter("error", BandwidthEdgeWarning)  # the tiny grid holds every optimum
        return model.fit(mnist_arrays["x_train"], mnist_arrays["y_train"])


@pytest.fixture(scope="module")
def conditional(mnist_arrays) -> KdeDigitGenerator:
    return fit_tiny(mnist_arrays)


@pytest.fixture(scope="module")
def global_model(mnist_arrays) -> KdeDigitGenerator:
    return fit_tiny(mnist_arrays, conditional=False)


def variant(model: KdeDigitGenerator, **params) -> KdeDigitGenerator:
    """A copy of a fitted model with other sampling parameters (the module fixtures stay untouched)."""
    return copy.copy(model).set_params(**params)


# --------------------------------------------------------------------------- numerics


def reference_log_kde(queries, codes, bandwidth):
    """Slow float64 reference: log of the mean of Gaussian kernels."""
    queries, codes = queries.astype(np.float64), codes.astype(np.float64)
    dist = ((queries[:, None, :] - codes[None, :, :]) ** 2).sum(axis=2)
    d = codes.shape[1]
    return logsumexp(-dist / (2 * bandwidth**2), axis=1) - np.log(len(codes)) - d / 2 * np.log(2 * np.pi * bandwidth**2)


def test_log_kde_matches_a_float64_brute_force_reference():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(53, 6)).astype(np.float32)
    queries = np.concatenate([rng.normal(size=(36, 6)), np.full((1, 6), 40.0)]).astype(np.float32)  # one far away
    bandwidths = [0.3, 1.0, 3.0]
    fast = log_kde(queries, codes, bandwidths, chunk_bytes=4 * 53 * 5)  # 5 queries per chunk
    assert fast.shape == (37, 3) and fast.dtype == np.float64
    for i, h in enumerate(bandwidths):
        np.testing.assert_allclose(fast[:, i], reference_log_kde(queries, codes, h), rtol=1e-5, atol=2e-3)
    assert np.isfinite(fast).all()  # the far query underflows a naive exp, not this one


def test_log_kde_matches_scikit_learn_kernel_density():
    from sklearn.neighbors import KernelDensity

    rng = np.random.default_rng(1)
    codes, queries = rng.normal(size=(80, 4)), rng.normal(size=(20, 4))
    expected = KernelDensity(bandwidth=0.7, atol=0, rtol=0).fit(codes).score_samples(queries)
    np.testing.assert_allclose(log_kde(queries, codes, [0.7])[:, 0], expected, atol=1e-3)


def test_log_kde_refuses_bad_input():
    with pytest.raises(ValueError, match="must share d"):
        log_kde(np.zeros((2, 3)), np.zeros((4, 5)), [1.0])
    with pytest.raises(ValueError, match=r"bandwidths == \[1.0, 0.0\], each must be > 0"):
        log_kde(np.zeros((2, 3)), np.zeros((4, 3)), [1.0, 0.0])


def test_fit_pca_agrees_with_scikit_learn(mnist_arrays):
    from sklearn.decomposition import PCA

    pixels = mnist_arrays["x_train"].reshape(-1, 784) / 255.0
    ours = fit_pca(pixels, 12)
    theirs = PCA(12, svd_solver="full").fit(pixels)
    np.testing.assert_allclose(ours.explained_variance, theirs.explained_variance_, rtol=1e-6)
    np.testing.assert_allclose(ours.explained_variance_ratio, theirs.explained_variance_ratio_, rtol=1e-6)
    np.testing.assert_allclose(np.abs(np.sum(ours.components * theirs.components_, axis=1)), 1, atol=1e-4)
    assert ours.components.dtype == np.float32 and ours.mean.shape == (784,)


def test_choose_bandwidth_refines_between_the_grid_neighbours():
    codes = np.random.default_rng(2).normal(size=(300, 3)).astype(np.float32)
    grid = np.geomspace(0.05, 5, 7)
    h, likelihood, curve = choose_bandwidth(codes, grid, 5, np.random.default_rng(0))
    best = int(np.argmax(curve))
    assert 0 < best < len(grid) - 1 and grid[best - 1] < h < grid[best + 1]
    assert likelihood >= curve[best] and h != grid[best]
    edge, _, _ = choose_bandwidth(codes, np.array([0.001, 0.002]), 5, np.random.default_rng(0))
    assert edge == 0.002


# --------------------------------------------------------------------------- fit


def test_fitted_state_has_the_documented_shapes(conditional, mnist_arrays):
    m = conditional
    assert m.pca_.components.shape == (10, 784) and m.pca_.components.dtype == np.float32
    assert m.density_labels_.tolist() == list(range(10)) and m.density_names() == [str(d) for d in range(10)]
    counts = np.bincount(mnist_arrays["y_train"], minlength=10)
    for j, (codes, held) in enumerate(zip(m.codes_, m.heldout_log_density_)):
        assert codes.dtype == np.float32 and codes.shape[1] == 10
        assert len(held) == round(0.15 * counts[j]) and len(codes) + len(held) == counts[j]
        assert np.all(np.diff(held) >= 0)  # sorted
    assert np.all((GRID[0] < m.bandwidth_) & (m.bandwidth_ < GRID[-1]))
    assert m.cv_log_likelihood_.shape == (10, len(GRID))
    np.testing.assert_allclose(m.priors_.sum(), 1)
    assert set(m.acceptance_) == {"light", "medium", "strict"}
    for j in range(10):
        rates = [m.acceptance_[level][j] for level in ("light", "medium", "strict")]
        assert 0 <= rates[2] <= rates[1] <= rates[0] <= 1  # same candidates, stricter thresholds


def test_fit_is_deterministic_given_random_state(mnist_arrays, conditional):
    again = fit_tiny(mnist_arrays)
    for a, b in zip(conditional.codes_, again.codes_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(conditional.bandwidth_, again.bandwidth_)
    assert {k: v.tolist() for k, v in conditional.acceptance_.items()} == {k: v.tolist() for k, v in again.acceptance_.items()}
    other = fit_tiny(mnist_arrays, random_state=1)
    assert not np.array_equal(conditional.codes_[0], other.codes_[0])


def test_a_bandwidth_on_the_edge_of_the_grid_warns(mnist_arrays):
    model = KdeDigitGenerator(**(TINY | {"bandwidths": (0.001, 0.002), "random_state": 0, "acceptance_candidates": 0}))
    with pytest.warns(BandwidthEdgeWarning, match=r"the cross-validated bandwidth 0.002 is the largest value of the grid") as caught:
        model.fit(mnist_arrays["x_train"], mnist_arrays["y_train"])
    assert [str(w.message).split(":")[0] for w in caught] == [f"digit {d}" for d in range(10)]
    assert all(model.summary()["bandwidth_on_grid_edge"].values())
    assert model.acceptance_ == {}


def test_fit_and_sample_with_whitening(mnist_arrays):
    model = fit_tiny(mnist_arrays, whiten=True, bandwidths=(0.1, 0.2, 0.4, 0.8, 1.6, 3.2))
    np.testing.assert_allclose(model.scale_, np.sqrt(model.pca_.explained_variance), rtol=1e-6)
    assert model.sample(5, digit=2, rng=0).shape == (5, 28, 28)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_components": 0}, r"n_components == 0, must be an integer in 1..784"),
        ({"n_components": 2.5}, r"n_components == 2.5, must be an integer"),
        ({"whiten": "yes"}, r"^whiten == 'yes', must be true or false\.$"),
        ({"conditional": 1}, r"^conditional == 1, must be true or false\.$"),
        ({"subsample": 0}, r"^subsample == 0, must be an integer >= 1 or null \(all training codes\)\.$"),
        ({"holdout": 0.7}, r"holdout == 0.7, must be a fraction in \(0, 0.5\]"),
        ({"bandwidths": ()}, r"^bandwidths == \(\), must be a non-empty list of finite numbers > 0, no repeats\.$"),
        ({"bandwidths": (0.5, -1.0)}, r"^bandwidths\[1\] == -1.0, must be a number > 0\.$"),
        ({"bandwidths": (0.5, 0.5)}, r"^bandwidths == \(0.5, 0.5\), must be a non-empty list of finite numbers > 0, no repeats\.$"),
        ({"cv": 1}, r"^cv == 1, must be an integer in 2..100 \(cross-validation folds\)\.$"),
        ({"rejection": "extreme"}, r"rejection == 'extreme', must be one of \['none', 'light', 'medium', 'strict'\] or a percentile in \(0, 100\)"),
        ({"rejection": 100}, r"rejection == 100, must be one of"),
        ({"cleaning": "heavy"}, r"cleaning == 'heavy', must be one of \['none', 'light', 'medium', 'aggressive'\]"),
        ({"candidate_budget": 0.5}, r"^candidate_budget == 0.5, must be a number in \[1, 1e6\] \(most candidates drawn per requested digit\)\.$"),
        ({"batch_size": 0}, r"batch_size == 0, must be an integer >= 1"),
        ({"random_state": -1}, r"random_state == -1, must be an integer >= 0 or None"),
    ],
)
def test_bad_parameters_are_refused_by_fit(params, message, mnist_arrays):
    with pytest.raises(ValueError, match=message):
        KdeDigitGenerator(**params).fit(mnist_arrays["x_train"], mnist_arrays["y_train"])


def test_bad_training_data_is_refused(mnist_arrays):
    x, y = mnist_arrays["x_train"], mnist_arrays["y_train"]
    model = KdeDigitGenerator(**TINY)
    with pytest.raises(ValueError, match=r"images must be uint8 \(N, 28, 28\), got float64"):
        model.fit(x / 255.0, y)
    with pytest.raises(ValueError, match=r"labels must be digits 0-9, found 0..10"):
        model.fit(x, np.where(y == 9, 10, y))
    with pytest.raises(ValueError, match=r"labels hold no image of digit\(s\) \[7\]; a conditional model needs all ten"):
        model.fit(x[y != 7], y[y != 7])
    few = np.concatenate([np.flatnonzero(y == d)[: 3 if d == 4 else 20] for d in range(10)])
    with pytest.raises(ValueError, match=r"digit 4 has 2 training image\(s\) left after holding out holdout == 0.15 of them; cv == 3 folds need at least 3"):
        model.fit(x[few], y[few])
    with pytest.raises(ValueError, match=r"n_components == 50, must be <= the number of training images \(20\)"):
        KdeDigitGenerator(n_components=50, conditional=False).fit(x[:20], y[:20])


def test_an_unfitted_model_cannot_sample():
    with pytest.raises(ValueError, match=r"this KdeDigitGenerator is not fitted yet; call fit\(images, labels\)"):
        KdeDigitGenerator().sample(3)


def test_the_class_checks_a_parameter_with_the_rule_of_params_yaml():
    """One rule, two callers: the class's message is the params message without the section prefix."""
    with pytest.raises(InputError) as from_class:
        KdeDigitGenerator(n_components=0).fit(np.zeros((20, 28, 28), np.uint8), np.arange(20) % 10)
    with pytest.raises(ParamsError) as from_params:
        parse_params({"fit_kde": {"n_components": 0}})
    assert str(from_class.value) == "n_components == 0, must be an integer in 1..784."
    assert str(from_params.value) == "params: fit_kde." + str(from_class.value)
    shared = rules_of(KdeParams)
    assert all(KdeDigitGenerator.RULES[name] is shared[name] for name in KDE_RULES)


def test_set_params_refuses_unknown_names():
    model = KdeDigitGenerator()
    assert model.set_params(cleaning="none") is model and model.cleaning == "none"
    with pytest.raises(ValueError, match=r"unknown parameter 'bandwidth'; valid parameters are \["):
        model.set_params(bandwidth=0.3)


# --------------------------------------------------------------------------- sampling


def test_samples_have_the_contract_shapes_dtypes_and_ranges(conditional):
    drawn = conditional.generate(25, digit=3, rng=0)
    assert drawn.images.dtype == np.uint8 and drawn.images.shape == (25, 28, 28)
    assert drawn.labels.dtype == np.int16 and drawn.labels.tolist() == [3] * 25
    assert drawn.images.reshape(25, -1).max(axis=1).min() == 255  # light cleaning: every image has full ink
    assert drawn.candidates.tolist() == [0, 0, 0, 25] + [0] * 6  # no rejection: one candidate per digit
    assert conditional.sample(0, rng=0).shape == (0, 28, 28)


def test_conditional_sampling_without_a_digit_follows_the_class_frequencies(conditional):
    drawn = conditional.generate(1000, rng=5)
    counts = np.bincount(drawn.labels, minlength=10)
    assert counts.sum() == 1000 and counts.min() > 60 and counts.max() < 140  # priors are 1/10 each
    assert (drawn.candidates == counts).all()


def test_sampling_is_deterministic_given_a_seed(conditional, global_model):
    for model in (conditional, global_model):
        a = model.sample(30, rng=np.random.default_rng(7))
        np.testing.assert_array_equal(a, model.sample(30, rng=np.random.default_rng(7)))
        np.testing.assert_array_equal(a, model.sample(30, rng=7))
        assert not np.array_equal(a, model.sample(30, rng=8))


@pytest.mark.parametrize("level", CLEANING_LEVELS)
def test_every_cleaning_level_samples(conditional, level):
    images = variant(conditional, cleaning=level).sample(8, digit=5, rng=1)
    assert images.dtype == np.uint8 and images.shape == (8, 28, 28) and images.any()


def test_a_global_model_draws_unlabelled_digits_and_refuses_a_digit(global_model):
    drawn = global_model.generate(12, rng=0)
    assert drawn.images.shape == (12, 28, 28) and drawn.labels.tolist() == [-1] * 12
    assert global_model.density_names() == ["all"] and drawn.candidates.tolist() == [12]
    with pytest.raises(ValueError, match=r"digit == 3, but this model is global \(conditional=False\)"):
        global_model.sample(4, digit=3)


def test_bad_sampling_arguments_are_refused(conditional):
    with pytest.raises(ValueError, match=r"n == -1, must be an integer >= 0"):
        conditional.sample(-1)
    with pytest.raises(ValueError, match=r"digit == 10, must be an integer in 0..9"):
        conditional.sample(2, digit=10)
    with pytest.raises(ValueError, match=r"rejection == 'harsh'"):
        variant(conditional, rejection="harsh").sample(2)


def best_density(model: KdeDigitGenerator, level: str) -> int:
    return int(np.argmax(model.acceptance_[level]))


@pytest.mark.parametrize("level", ["light", "medium", "strict", 40.0])
def test_rejection_keeps_only_candidates_at_or_above_the_held_out_percentile(conditional, level):
    model = variant(conditional, rejection=level, candidate_budget=200)
    j = best_density(conditional, "strict")
    codes, drawn, accepted = model._sample_codes(j, 40, np.random.default_rng(3))
    percentile = REJECTION_LEVELS.get(level, level)
    threshold = np.percentile(model.heldout_log_density_[j], percentile)
    assert codes.shape == (40, 10) and drawn >= accepted >= 40
    assert model.density(j).score(codes).min() >= threshold - 1e-3


def test_a_candidate_s_own_kernel_bounds_its_log_density_and_decides_like_exact_scoring(conditional):
    rng = np.random.default_rng(9)
    for j in (0, 5):
        density = conditional.density(j)
        candidates, own = density.draw(300, rng)
        exact = density.score(candidates)
        assert own.shape == (300,) and np.all(own <= exact + 1e-3)
        threshold = float(np.median(exact))
        clear = np.abs(exact - threshold) > 1e-3
        np.testing.assert_array_equal(density.passes(candidates, own, threshold)[clear], (exact >= threshold)[clear])


def test_rejection_draws_in_batches_and_reports_acceptance(conditional):
    model = variant(conditional, rejection="light", candidate_budget=200, batch_size=16)
    j = best_density(conditional, "light")
    drawn = model.generate(100, digit=j, rng=0)
    assert drawn.candidates[j] >= 100 and drawn.accepted[j] >= 100
    assert 0 < drawn.acceptance[j] <= 1


def test_a_spent_budget_raises_and_states_the_acceptance_rate(conditional, global_model):
    for model, who in ((conditional, "digit 0"), (global_model, "all digits")):
        strict = variant(model, rejection=99.9, candidate_budget=1.5)
        with pytest.raises(RejectionBudgetError) as error:
            strict.sample(50, digit=0 if model.conditional else None, rng=0)
        message = str(error.value)
        assert f"rejection 99.9 ({who}: log-density >= " in message and "the 99.9th percentile of" in message
        assert "held-out real digits) accepted " in message
        accepted, drawn = map(int, message.split("accepted ")[1].split(" candidates")[0].split(" of "))
        assert drawn <= 75 and accepted < 50
        assert f"({accepted / drawn:.2%})" in message and "candidate_budget == 1.5 x 50 requested" in message
        assert isinstance(error.value, ValueError)


# --------------------------------------------------------------------------- persistence


def test_save_load_round_trip_gives_identical_samples(tmp_path, conditional, global_model):
    for name, model in (("conditional", conditional), ("global", global_model)):
        model = variant(model, rejection="light", candidate_budget=1000)
        model.save(tmp_path / name)
        assert sorted(p.name for p in (tmp_path / name).iterdir()) == ["model.json", "model.npz"]
        loaded = KdeDigitGenerator.load(tmp_path / name)
        assert loaded.get_params() == model.get_params()
        for a, b in zip(model.codes_, loaded.codes_):
            np.testing.assert_array_equal(a, b)
        digit = 1 if model.conditional else None
        np.testing.assert_array_equal(model.sample(20, digit, rng=4), loaded.sample(20, digit, rng=4))
        assert {k: v.tolist() for k, v in model.acceptance_.items()} == {k: v.tolist() for k, v in loaded.acceptance_.items()}
        loaded.save(tmp_path / f"{name}-again")
        for file in ("model.npz", "model.json"):
            assert sha256_file(tmp_path / name / file) == sha256_file(tmp_path / f"{name}-again" / file)


def test_the_model_json_describes_the_fit(tmp_path, conditional):
    conditional.save(tmp_path / "m")
    description = json.loads((tmp_path / "m" / "model.json").read_text())
    assert description["format"] == "digitgen.kde" and description["format_version"] == 2
    assert description["class"] == "KdeDigitGenerator"
    assert description["sha256"] == {"model.npz": sha256_file(tmp_path / "m" / "model.npz")}  # every other file of the folder
    assert description["params"]["bandwidths"] == list(GRID) and description["params"]["random_state"] == 0
    fitted = description["fitted"]
    assert fitted["densities"] == [str(d) for d in range(10)]
    assert set(fitted["acceptance"]) == {"light", "medium", "strict"}
    assert len(fitted["grid_cv_log_likelihood"]["7"]) == len(GRID)
    assert set(description["versions"]) == {"digitgen", "numpy", "scipy", "scikit-image"}


def test_load_refuses_missing_changed_or_foreign_files(tmp_path, conditional):
    with pytest.raises(FileNotFoundError, match=r"KDE model file '.*nothing/model.json' does not exist; run `dvc repro fit_kde`"):
        KdeDigitGenerator.load(tmp_path / "nothing")
    conditional.save(tmp_path / "m")
    write_npz(tmp_path / "m" / "model.npz", {"codes": np.zeros(3)})
    with pytest.raises(CorruptFileError, match=r"model.npz' is corrupt or truncated \(SHA-256 [0-9a-f]{64} differs from the [0-9a-f]{64} "
                       r"recorded in model.json\); run `dvc repro fit_kde` to rebuild it\.$"):
        KdeDigitGenerator.load(tmp_path / "m")
    (tmp_path / "m" / "model.npz").unlink()
    with pytest.raises(FileNotFoundError, match=r"KDE model file '.*m/model.npz' does not exist; run `dvc repro fit_kde`"):
        KdeDigitGenerator.load(tmp_path / "m")
    (tmp_path / "m" / "model.json").write_text(json.dumps({"format": "other", "format_version": 1}))
    with pytest.raises(InputError, match=r"format 'other' version 1, expected 'digitgen.kde' version 2; run `dvc repro fit_kde` to rebuild it\.$"):
        KdeDigitGenerator.load(tmp_path / "m")


def test_a_model_folder_of_the_old_format_asks_for_a_rerun(tmp_path, conditional):
    conditional.save(tmp_path / "m")
    description = json.loads((tmp_path / "m" / "model.json").read_text())
    old = {**description, "format_version": 1, "npz_sha256": description.pop("sha256")["model.npz"]}
    (tmp_path / "m" / "model.json").write_text(json.dumps(old))
    with pytest.raises(InputError, match=r"format 'digitgen.kde' version 1, expected 'digitgen.kde' version 2; run `dvc repro fit_kde`"):
        KdeDigitGenerator.load(tmp_path / "m")


def test_load_checks_the_saved_parameters_with_the_rules(tmp_path, conditional):
    conditional.save(tmp_path / "m")
    path = tmp_path / "m" / "model.json"
    description = json.loads(path.read_text())
    path.write_text(json.dumps({**description, "params": {**description["params"], "cleaning": "heavy"}}))
    with pytest.raises(InputError, match=r"model.json: params: cleaning == 'heavy', must be one of \['none', 'light', 'medium', 'aggressive'\]\.$"):
        KdeDigitGenerator.load(tmp_path / "m")
    path.write_text(json.dumps({**description, "params": {**description["params"], "layers": 3}}))
    with pytest.raises(CorruptFileError, match=r"its params \[.*'layers'.*\] are not those of KdeDigitGenerator"):
        KdeDigitGenerator.load(tmp_path / "m")
    path.write_text(json.dumps({**description, "sha256": {"../model.npz": description["sha256"]["model.npz"]}}))
    with pytest.raises(CorruptFileError, match=r"it records no SHA-256 of 'model.npz'"):
        KdeDigitGenerator.load(tmp_path / "m")
    path.write_text(json.dumps({**description, "sha256": {**description["sha256"], "../x.npz": "0" * 64}}))
    with pytest.raises(CorruptFileError, match=r"it lists '../x.npz', not a file name of the folder"):
        KdeDigitGenerator.load(tmp_path / "m")


# --------------------------------------------------------------------------- bank, metrics, sequences


def test_make_bank_follows_the_bank_contract(tmp_path, conditional, global_model):
    bank = make_bank(conditional, 6, np.random.default_rng(0))
    write_npz(tmp_path / "kde.npz", bank)
    loaded = load_bank(tmp_path / "kde.npz")
    assert loaded.images.shape == (60, 28, 28) and loaded.labels.tolist() == np.repeat(np.arange(10), 6).tolist()
    assert bank["candidates"].tolist() == [6] * 10 and str(bank["rejection"]) == "none"
    assert np.isnan(bank["rejection_percentile"]) and str(bank["cleaning"]) == "light"
    with pytest.raises(ValueError, match="a bank needs labels"):
        make_bank(global_model, 6, np.random.default_rng(0))


def test_curves_csv_and_metrics(conditional, global_model):
    models = {"conditional": conditional, "global": global_model}
    lines = bandwidth_curves_csv(models).splitlines()
    assert lines[0] == "bandwidth," + ",".join(f"digit_{d}" for d in range(10)) + ",global"
    assert [line.split(",")[0] for line in lines[1:]] == ["0.25", "0.5", "1", "2", "4", "8"]
    metrics = kde_metrics(models, make_bank(conditional, 3, np.random.default_rng(0)))
    assert set(metrics) == {"conditional", "global", "bank"}
    assert set(metrics["conditional"]["acceptance"]["medium"]) == {str(d) for d in range(10)} | {"mean"}
    assert metrics["global"]["bandwidth"]["all"] == round(float(global_model.bandwidth_[0]), 4)
    assert metrics["bank"]["acceptance"]["overall"] == 1.0 and metrics["bank"]["per_digit"] == 3


def test_train_sequences_mix_real_and_kde_digits(tmp_path, mnist_npz, mnist_arrays, conditional):
    from digitgen import shards

    bank = make_bank(conditional, 12, np.random.default_rng(0))
    write_npz(tmp_path / "banks" / "kde.npz", bank)
    raw = {
        "seed": 3, "width": 180, "shard_size": 400, "previews": 0, "workers": 1,
        "splits": {"train": {"count": 300, "sources": {"real": 0.8, "kde": 0.2}}, "test": {"count": 5}},
    }
    params = parse_params({"sequences": raw}).sequences
    shards.emit_split("train", params, mnist_npz, tmp_path / "banks", tmp_path / "train")
    with np.load(tmp_path / "train" / "shard-00000.npz") as shard:
        d = {key: shard[key] for key in shard.files}
    assert d["source_names"].tolist() == ["real", "kde"]
    active = d["sources"] >= 0
    kde = d["sources"] == 1
    assert 0.12 < kde.sum() / active.sum() < 0.28
    np.testing.assert_array_equal(bank["labels"][d["source_index"][kde]], d["labels"][kde])
    real = d["sources"] == 0
    np.testing.assert_array_equal(mnist_arrays["y_train"][d["source_index"][real]], d["labels"][real])
    for row, k in zip(*np.nonzero(kde)):
        x0, y0, x1, y1 = d["boxes"][row, k]
        digit = bank["images"][d["source_index"][row, k]]
        ys, xs = np.nonzero(digit)
        ink = digit[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        assert np.all(d["images"][row, y0:y1, x0:x1] >= ink)  # the kde digit it names is in the picture


# --------------------------------------------------------------------------- params, stage, CLI


def test_the_stage_models_come_from_the_params_section():
    section = parse_params({"fit_kde": {"n_components": 12, "seed": 4, "cleaning": "light"}}).fit_kde
    models = models_of(section)
    assert models["conditional"].conditional and not models["global"].conditional
    assert models["conditional"].subsample == 5000 and models["global"].subsample == 10000
    for model in models.values():
        assert (model.n_components, model.random_state, model.cleaning, model.batch_size) == (12, 4, "light", 4096)
        assert model.bandwidths == section.bandwidths


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"n_components": 0}, r"fit_kde.n_components == 0, must be an integer in 1..784\.$"),
        ({"rejection": "extreme"}, r"fit_kde.rejection == 'extreme', must be one of \['none', 'light', 'medium', 'strict'\] or a percentile in \(0, 100\)\.$"),
        ({"rejection": 120}, r"fit_kde.rejection == 120, must be one of \['none', 'light', 'medium', 'strict'\] or a percentile in \(0, 100\)\.$"),
        ({"cleaning": "heavy"}, r"fit_kde.cleaning == 'heavy', must be one of \['none', 'light', 'medium', 'aggressive'\]"),
        ({"bandwidths": [0.1, -0.2]}, r"fit_kde.bandwidths\[1\] == -0.2, must be a number > 0\.$"),
        ({"holdout": 0.9}, r"fit_kde.holdout == 0.9, must be a fraction in \(0, 0.5\]"),
        ({"mosaic_columns": 20, "bank_per_digit": 10}, r"fit_kde.mosaic_columns == 20, must be in 1..fit_kde.bank_per_digit \(10\)"),
        ({"subsample": 0}, r"fit_kde.subsample == 0, must be an integer >= 1 or null \(all training codes\)\.$"),
    ],
)
def test_bad_fit_kde_params_are_refused(raw, message):
    with pytest.raises(ParamsError, match=message):
        parse_params({"fit_kde": raw})


def run_stage(tmp_path: Path, mnist_npz: Path, out: str, **section) -> Path:
    return run_stage_process(tmp_path, mnist_npz, out, **section)[0]


def run_stage_process(tmp_path: Path, mnist_npz: Path, out: str, **section) -> tuple[Path, str]:
    """Run stages/fit_kde.py on tiny params; returns the output folder and the stage's stderr."""
    params = {"fit_kde": {"n_components": 10, "bandwidths": list(GRID), "cv": 3, "rejection": "none", "bank_per_digit": 8,
                          "mosaic_columns": 4, "acceptance_candidates": 100, **section}}
    (tmp_path / "params.yaml").write_text(json.dumps(params))
    o = tmp_path / out
    command = [sys.executable, str(ROOT / "stages" / "fit_kde.py"), "--params", str(tmp_path / "params.yaml"), "--mnist", str(mnist_npz),
               "--models", str(o / "models"), "--bank", str(o / "kde.npz"), "--metrics", str(o / "kde.json"),
               "--curves", str(o / "curves.csv"), "--mosaic", str(o / "mosaic.png")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert result.returncode == 0, result.stderr
    return o, result.stderr


def test_the_stage_reports_a_bandwidth_on_the_grid_edge_once(tmp_path, mnist_npz):
    """Regression: the warning was both warned and logged, so the stage printed it twice."""
    _, stderr = run_stage_process(tmp_path, mnist_npz, "edge", bandwidths=[0.001, 0.002], acceptance_candidates=0)
    for digit in range(10):
        assert stderr.count(f"digit {digit}: the cross-validated bandwidth 0.002 is the largest value of the grid") == 1, stderr
    assert stderr.count("global density: the cross-validated bandwidth 0.002 is the largest value") == 1, stderr
    assert "WARNING py.warnings" in stderr  # routed through the log by digitgen.entry.configure_logging


def test_the_stage_refuses_bad_params_in_one_line_and_writes_nothing(tmp_path, mnist_npz):
    (tmp_path / "params.yaml").write_text(json.dumps({"fit_kde": {"n_components": 0}}))
    command = [sys.executable, str(ROOT / "stages" / "fit_kde.py"), "--params", str(tmp_path / "params.yaml"), "--mnist", str(mnist_npz),
               "--models", str(tmp_path / "models"), "--bank", str(tmp_path / "kde.npz"), "--metrics", str(tmp_path / "kde.json"),
               "--curves", str(tmp_path / "curves.csv"), "--mosaic", str(tmp_path / "mosaic.png")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert result.returncode == 2
    assert result.stderr == f"stage fit_kde: error: {tmp_path / 'params.yaml'}: fit_kde.n_components == 0, must be an integer in 1..784.\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mnist.npz", "params.yaml"]


def test_the_stage_writes_deterministic_outputs(tmp_path, mnist_npz):
    first, second = run_stage(tmp_path, mnist_npz, "a"), run_stage(tmp_path, mnist_npz, "b")
    cached = ["models/conditional/model.npz", "models/conditional/model.json", "models/global/model.npz", "models/global/model.json",
              "kde.npz", "kde.json", "curves.csv", "mosaic.png"]
    for rel in cached:
        assert sha256_file(first / rel) == sha256_file(second / rel), rel
    assert load_bank(first / "kde.npz").images.shape == (80, 28, 28)
    assert np.asarray(Image.open(first / "mosaic.png")).shape == (10 * 30 - 2, 4 * 30 - 2)  # 10 rows = digits
    metrics = json.loads((first / "kde.json").read_text())
    assert metrics["training_data"]["sha256"] == sha256_file(mnist_npz) and metrics["training_data"]["images"] == 200
    with np.load(first / "kde.npz") as bank:
        assert str(bank["model_sha256"]) == sha256_file(first / "models/conditional/model.npz")


def test_cli_sample_writes_a_mosaic(tmp_path, conditional, global_model, capsys):
    conditional.save(tmp_path / "kde" / "conditional")
    global_model.save(tmp_path / "kde" / "global")
    out = tmp_path / "grid.png"
    args = ["sample", "--generator", "kde", "--digit", "7", "-n", "16", "--models", str(tmp_path / "kde"), "--seed", "1"]
    assert cli_main([*args, "--rejection", "light", "--cleaning", "medium", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    grid = np.asarray(Image.open(out))
    assert grid.shape == (2 * 30 - 2, 8 * 30 - 2) and grid.dtype == np.uint8
    assert cli_main([*args, "--rejection", "light", "--cleaning", "medium", "--out", str(tmp_path / "again.png")]) == 0
    np.testing.assert_array_equal(grid, np.asarray(Image.open(tmp_path / "again.png")))
    assert cli_main(["sample", "-n", "5", "--columns", "5", "--models", str(tmp_path / "kde"), "--out", str(tmp_path / "g.png")]) == 0
    assert np.asarray(Image.open(tmp_path / "g.png")).shape == (28, 5 * 30 - 2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--digit", "12"], "--digit == 12, must be a digit 0-9"),
        (["-n", "0"], "-n == 0, must be an integer in 1..100000."),
        (["--rejection", "extreme"], "rejection == 'extreme', must be one of"),
        (["--digit", "3", "--rejection", "99.9", "-n", "40"], "accepted"),
        (["--out", "/nonexistent/x.png"], "folder '/nonexistent' does not exist"),
    ],
)
def test_cli_sample_errors_are_one_line(args, message, tmp_path, conditional, global_model, capsys):
    conditional.save(tmp_path / "kde" / "conditional")
    global_model.save(tmp_path / "kde" / "global")
    argv = ["sample", "--models", str(tmp_path / "kde"), "--seed", "0", *args]
    if "--out" not in args:
        argv += ["--out", str(tmp_path / "x.png")]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("digitgen sample: error:") and message in err and err.count("\n") == 1
    assert not (tmp_path / "x.png").exists()
