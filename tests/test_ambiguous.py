"""Ambiguous in-between digits: a tiny autoencoder trained for a few steps on synthetic digits."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.stats import multivariate_normal

from digitgen.bank import load_bank
from digitgen.errors import CorruptFileError, InputError, ParamsError
from digitgen.generators.ambiguous import AmbiguousDigitGenerator
from digitgen.generators.judges import judge_seed, pair_log_proba, refine_codes
from digitgen.params.all import parse_params
from digitgen.params.train_autoencoder import PAIR, JudgeParams
from digitgen.pictures import series_strip
from digitgen.pipeline.train_autoencoder import bank_summary, make_bank, preview_pairs

TINY_JUDGES = (JudgeParams((4,), 8, 2), JudgeParams((4, 8), 8, 2))
TINY = {
    "latent_size": 4, "filters": (4, 8), "hidden": 16, "epochs": 2, "batch_size": 32, "validation_fraction": 0.1,
    "judges": TINY_JUDGES, "refine_steps": 5, "refine_rate": 0.1,
}
WEIGHTS = (0.3, 0.5, 0.7)
FITTED_STATE = ("encoder_", "decoder_", "codes_", "code_labels_", "code_rows_", "class_means_", "precision_", "class_precisions_",
                "class_log_dets_", "partners_", "judges_")


@pytest.fixture(scope="module")
def fitted(mnist_arrays) -> AmbiguousDigitGenerator:
    return AmbiguousDigitGenerator(**TINY, weights=WEIGHTS, random_state=0).fit(mnist_arrays["x_train"], mnist_arrays["y_train"])


def refit(fitted: AmbiguousDigitGenerator, **params) -> AmbiguousDigitGenerator:
    """A generator with other sampling parameters sharing ``fitted``'s trained state (no training)."""
    model = AmbiguousDigitGenerator(**{**TINY, "weights": WEIGHTS, **params})
    for name in FITTED_STATE:
        setattr(model, name, getattr(fitted, name))
    model.judges_ = model.judges_[: len(model.judges)]
    return model


def test_generate_contract_and_provenance(fitted, mnist_arrays):
    drawn = fitted.generate(25, None, np.random.default_rng(0))
    assert drawn.images.dtype == np.uint8 and drawn.images.shape == (25, 28, 28)
    assert drawn.labels.dtype == np.int16 and drawn.labels.shape == (25, 2)
    assert drawn.weights.dtype == np.float32 and set(drawn.weights.tolist()) <= {np.float32(w) for w in WEIGHTS}
    assert drawn.source_index.dtype == np.int32 and drawn.source_index.shape == (25, 2)
    assert drawn.judge_smaller.dtype == np.float32 and np.all((drawn.judge_smaller > 0) & (drawn.judge_smaller <= 0.5))
    assert drawn.shift.dtype == np.float32 and np.all(drawn.shift > 0)
    # provenance: the rows encoded are training digits of the two classes
    np.testing.assert_array_equal(mnist_arrays["y_train"][drawn.source_index], drawn.labels)
    # without pairs, every draw mixes a class with its nearest class
    np.testing.assert_array_equal(drawn.labels[:, 1], fitted.partners_[drawn.labels[:, 0]])
    assert fitted.sample(0, rng=0).shape == (0, 28, 28)


def test_partners_are_the_nearest_class_means(fitted):
    means = fitted.class_means_.astype(np.float64)
    for a in range(10):
        distances = [np.inf if b == a else (means[a] - means[b]) @ fitted.precision_ @ (means[a] - means[b]) for b in range(10)]
        assert fitted.partners_[a] == int(np.argmin(distances))


def test_without_judges_the_kept_step_is_the_most_balanced_reencoding(fitted):
    latent_only = refit(fitted, judges=(), refine_steps=0)
    pairs = np.array([[4, 9], [3, 5], [1, 7]])
    series = latent_only.series(pairs, np.random.default_rng(3))
    assert np.all(np.isnan(series.judge_log_odds))
    assert series.images.shape == (3, len(WEIGHTS), 28, 28)
    codes = fitted.encode(series.images.reshape(-1, 28, 28)).astype(np.float64)
    for row, (a, b) in enumerate(pairs):
        for step in range(len(WEIGHTS)):  # brute-force log p(a|e) - log p(b|e), one Gaussian per class (scipy)
            e = codes[row * len(WEIGHTS) + step]
            la, lb = (
                multivariate_normal(fitted.class_means_[c], np.linalg.inv(fitted.class_precisions_[c])).logpdf(e) for c in (a, b)
            )
            assert series.log_odds[row, step] == pytest.approx(la - lb, rel=1e-4, abs=1e-4)
    np.testing.assert_array_equal(series.chosen, np.abs(series.log_odds).argmin(axis=1))
    drawn = latent_only.generate(3, None, np.random.default_rng(3), pair=(4, 9))
    np.testing.assert_array_equal(drawn.labels, [[4, 9]] * 3)
    # no refinement: the kept digit is the chosen step as decoded, and the judges' reading is absent
    again = latent_only.series(np.array([[4, 9]] * 3), np.random.default_rng(3))
    np.testing.assert_array_equal(drawn.images, again.images[np.arange(3), again.chosen])
    assert np.all(drawn.shift == 0) and np.all(np.isnan(drawn.judge_smaller))
    assert bank_summary(make_bank(latent_only, 6, np.random.default_rng(0)))["judge_smaller_mean"] is None


def test_with_judges_the_kept_step_is_the_judges_most_balanced(fitted):
    pairs = np.array([[4, 9], [3, 5], [1, 7]])
    series = fitted.series(pairs, np.random.default_rng(3))
    images = series.images.reshape(-1, 28, 28)
    step_pairs = np.repeat(pairs, len(WEIGHTS), axis=0)
    for row, step in [(0, 0), (1, 2), (2, 1)]:  # brute force: mean over judges of log p(a|x) - log p(b|x)
        i = row * len(WEIGHTS) + step
        expected = np.mean(
            [np.log(j.predict_proba(images[i : i + 1])[0, step_pairs[i]] + 1e-7) @ [1, -1] for j in fitted.judges_]
        )
        assert series.judge_log_odds[row, step] == pytest.approx(expected, abs=1e-4)
    np.testing.assert_array_equal(series.chosen, np.abs(series.judge_log_odds).argmin(axis=1))
    # the codes decoded are the mixtures of the two training digits' codes
    z_a, z_b = fitted.codes_[series.source_index[:, 0]], fitted.codes_[series.source_index[:, 1]]
    w = np.asarray(WEIGHTS)[None, :, None]
    np.testing.assert_allclose(series.codes, (1 - w) * z_a[:, None] + w * z_b[:, None], rtol=1e-6, atol=1e-6)


def test_generate_refines_the_chosen_steps(fitted):
    unrefined = refit(fitted, refine_steps=0).generate(40, None, np.random.default_rng(4))
    refined = fitted.generate(40, None, np.random.default_rng(4))
    for field in ("labels", "weights", "source_index"):  # same draws and choices; only the codes move
        np.testing.assert_array_equal(getattr(refined, field), getattr(unrefined, field))
    assert np.all(unrefined.shift == 0) and np.all(refined.shift > 0)
    # judge_smaller is the judges' mean of min(p(a|x), p(b|x)) of the digit kept
    for drawn in (refined, unrefined):
        expected = np.exp(pair_log_proba(fitted.judges_, drawn.images, drawn.labels).min(axis=2)).mean(axis=0)
        np.testing.assert_allclose(drawn.judge_smaller, expected, rtol=1e-5)


@pytest.fixture(scope="module")
def responsive_decoder():
    """A random dense decoder of 4-D codes whose pictures change with the code (the tiny autoencoder's barely do)."""
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(784, kernel_initializer=keras.initializers.RandomNormal(0, 2.0, seed=1)),
                             keras.layers.Reshape((28, 28, 1))])


def _judged_smaller(decoder, judges, codes, pairs) -> np.ndarray:
    """float (n,) the judges' mean of min(log p(a|x), log p(b|x)), the quantity the refinement raises."""
    pictures = np.round(1 / (1 + np.exp(-decoder.predict(codes, verbose=0)[..., 0])) * 255).astype(np.uint8)
    return pair_log_proba(judges, pictures, pairs).min(axis=2).mean(axis=0)


def test_refinement_raises_the_judges_smaller_probability(fitted, responsive_decoder):
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(30, 4)).astype(np.float32)
    pairs = np.stack([rng.integers(0, 10, 30), rng.integers(0, 10, 30)], axis=1)
    pairs[pairs[:, 0] == pairs[:, 1], 1] = (pairs[pairs[:, 0] == pairs[:, 1], 0] + 1) % 10
    refined = refine_codes(responsive_decoder, fitted.judges_, codes, pairs, steps=20, rate=0.1, anchor=0.0)
    before = _judged_smaller(responsive_decoder, fitted.judges_, codes, pairs)
    after = _judged_smaller(responsive_decoder, fitted.judges_, refined, pairs)
    assert after.mean() > before.mean() + 0.05  # log-probability units (the tiny judges are far from certain anywhere)
    assert np.mean(after > before) >= 0.8


def test_refinement_of_a_digit_does_not_depend_on_its_block(fitted, responsive_decoder):
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(6, 4)).astype(np.float32)
    pairs = np.array([[4, 9], [3, 5], [1, 7], [0, 6], [2, 8], [5, 3]])
    settings = {"steps": 4, "rate": 0.1, "anchor": 0.1}
    together = refine_codes(responsive_decoder, fitted.judges_, codes, pairs, **settings)
    alone = np.concatenate(
        [refine_codes(responsive_decoder, fitted.judges_, codes[i : i + 1], pairs[i : i + 1], **settings) for i in range(6)]
    )
    np.testing.assert_allclose(together, alone, rtol=1e-4, atol=1e-5)
    assert np.abs(together - codes).max() > 0.1
    np.testing.assert_array_equal(refine_codes(responsive_decoder, fitted.judges_, codes, pairs, **{**settings, "steps": 0}), codes)
    # a strong anchor keeps the codes near where they started
    anchored = refine_codes(responsive_decoder, fitted.judges_, codes, pairs, **{**settings, "anchor": 1e4})
    assert np.abs(anchored - codes).max() < 0.5 * np.abs(together - codes).max()  # Adam still steps ~rate, then swings back


def test_judges_have_their_own_seeds():
    seeds = [judge_seed(0, k) for k in range(5)]
    assert len(set(seeds)) == 5 and seeds == [judge_seed(0, k) for k in range(5)]
    assert judge_seed(1, 0) != judge_seed(0, 0) and 0 not in seeds


def test_series_with_ends_never_keeps_an_end(fitted):
    series = fitted.series(preview_pairs(fitted, 4), np.random.default_rng(0), ends=True)
    assert series.weights.tolist() == [0.0, *WEIGHTS, 1.0]
    assert np.all((series.chosen > 0) & (series.chosen < len(WEIGHTS) + 1))
    strip = series_strip(series.images, series.chosen)
    assert strip.shape == (4 * 30 - 2, (len(WEIGHTS) + 2) * 30 - 2) and strip.dtype == np.uint8
    top, left = 30 * 0 - 1, 30 * int(series.chosen[0]) - 1
    assert np.all(strip[top + 29, left : left + 30] == 255)  # the frame under the first row's kept image


def test_configured_pairs_and_digit(mnist_arrays, fitted):
    configured = refit(fitted, pairs=((1, 7), (3, 8)))
    labels = configured.generate(30, None, np.random.default_rng(1)).labels
    assert {tuple(p) for p in labels.tolist()} <= {(1, 7), (3, 8)}
    labels = configured.generate(4, 2, np.random.default_rng(1)).labels
    np.testing.assert_array_equal(labels, [[2, fitted.partners_[2]]] * 4)
    with pytest.raises(ValueError, match=r"digit == 2 and pair == \(4, 9\) disagree"):
        configured.sample(1, 2, 0, pair=(4, 9))


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ((4, 12), r"^pair\[1\] == 12, must be an integer in 0\.\.9\.$"),
        ((3, 3), r"^pair == \(3, 3\), must be two different digits, each in 0\.\.9\.$"),
        ((4,), r"^pair == \(4,\), must be two different digits, each in 0\.\.9\.$"),
        ((4.0, 9), r"^pair\[0\] == 4\.0, must be an integer in 0\.\.9\.$"),
        ("49", r"^pair == '49', must be two different digits, each in 0\.\.9\.$"),
    ],
)
def test_bad_pairs_are_rejected(fitted, pair, message):
    with pytest.raises(InputError, match=message):
        fitted.sample(2, pair=pair, rng=0)


def test_unknown_pair_digit_in_params_is_rejected_before_training(mnist_arrays):
    model = AmbiguousDigitGenerator(**TINY, pairs=((4, 9), (4, 10)))
    with pytest.raises(InputError, match=r"^pairs\[1\]\[1\] == 10, must be an integer in 0\.\.9\.$"):
        model.fit(mnist_arrays["x_train"], mnist_arrays["y_train"])
    assert not hasattr(model, "decoder_")
    with pytest.raises(ParamsError, match=r"^params: train_autoencoder\.pairs\[1\]\[1\] == 10, must be an integer in 0\.\.9\.$"):
        parse_params({"train_autoencoder": {"pairs": [[4, 9], [4, 10]]}})
    with pytest.raises(ParamsError, match=r"^params: train_autoencoder\.pairs\[0\] == \[4, 4\], must be two different digits, each in 0\.\.9\.$"):
        parse_params({"train_autoencoder": {"pairs": [[4, 4]]}})
    with pytest.raises(ParamsError, match=r"^params: train_autoencoder\.latent_size == 0, must be an integer in 1\.\.512\.$"):
        parse_params({"train_autoencoder": {"latent_size": 0}})
    with pytest.raises(ParamsError, match=r"^params: train_autoencoder\.weights\[1\] == 1\.0, must be a number in \(0, 1\)\.$"):
        parse_params({"train_autoencoder": {"weights": [0.5, 1.0]}})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"latent_size": 0}, r"^latent_size == 0, must be an integer in 1\.\.512\.$"),
        ({"weights": (0.5, 0.5)}, r"^weights == \(0\.5, 0\.5\), must list at least one interpolation weight, each in \(0, 1\), no repeats\.$"),
        ({"judges": ({"filters": (4,), "dense": 0, "epochs": 1},)},
         r"^judges\[0\]\.dense == 0, must be an integer in 1\.\.4096 \(the width of the penultimate layer\)\.$"),
        ({"judges": ({"filters": (), "dense": 8, "epochs": 1},)}, r"^judges\[0\]\.filters == \(\), must list 1 to 4 convolution widths"),
        ({"judges": ({"filters": (4,), "layers": 8},)},
         r"^unknown key judges\[0\]\.layers; valid keys of judges\[0\] are \['dense', 'epochs', 'filters'\]\.$"),
        ({"judges": "small"}, r"^judges == 'small', must be a list of 0 to 16 items, each a mapping\.$"),
        ({"refine_steps": -1}, r"^refine_steps == -1, must be an integer in 0\.\.10000 \(0: no refinement\)\.$"),
        ({"refine_rate": 0.0}, r"^refine_rate == 0\.0, must be a number in \(0, 1\]\.$"),
        ({"refine_anchor": -0.5}, r"^refine_anchor == -0\.5, must be a number in \[0, 1e\+06\]\.$"),
        ({"judges": (), "refine_steps": 3}, r"^refine_steps == 3, must be 0 when judges is empty \(nothing to refine against\)\.$"),
    ],
)
def test_bad_params_are_rejected(mnist_arrays, params, message):
    model = AmbiguousDigitGenerator(**{**TINY, **params})
    with pytest.raises(ValueError, match=message):
        model.fit(mnist_arrays["x_train"], mnist_arrays["y_train"])
    assert not hasattr(model, "decoder_")  # rejected before any training


def test_bad_judge_params_in_params_yaml_are_rejected():
    with pytest.raises(ParamsError, match=r"params: train_autoencoder\.judges\[1\]\.dense == 0, must be an integer in 1\.\.4096 "):
        parse_params({"train_autoencoder": {"judges": [{"filters": [4], "dense": 8, "epochs": 1}, {"filters": [4], "dense": 0, "epochs": 1}]}})
    with pytest.raises(ParamsError, match=r"unknown key train_autoencoder\.judges\[0\]\.layers; valid keys of .* are \['dense', 'epochs', 'filters'\]"):
        parse_params({"train_autoencoder": {"judges": [{"layers": 3}]}})
    with pytest.raises(ParamsError, match=r"train_autoencoder\.refine_steps == 30, must be 0 when judges is empty"):
        parse_params({"train_autoencoder": {"judges": []}})
    section = parse_params({"train_autoencoder": {"judges": [], "refine_steps": 0}}).train_autoencoder
    assert section.judges == () and section.refine_steps == 0
    default = parse_params({}).train_autoencoder
    assert [(j.filters, j.dense, j.epochs) for j in default.judges] == [((16, 32), 64, 2)] * 3 + [((32, 64), 128, 2)] * 2


def test_save_load_round_trip_gives_identical_samples(fitted, tmp_path):
    fitted.save(tmp_path / "a")
    fitted.save(tmp_path / "b")
    names = ("encoder.keras", "decoder.keras", "judge_0.keras", "judge_1.keras", "model.npz", "model.json")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(names)
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    loaded = AmbiguousDigitGenerator.load(tmp_path / "a")
    assert loaded.get_params() == fitted.get_params()
    first, second = loaded.generate(12, None, np.random.default_rng(5)), fitted.generate(12, None, np.random.default_rng(5))
    for field in ("images", "labels", "weights", "source_index", "log_odds", "judge_smaller", "shift"):
        np.testing.assert_array_equal(getattr(first, field), getattr(second, field))
    # a judge's file is checked like the others
    (tmp_path / "b" / "judge_1.keras").write_bytes((tmp_path / "b" / "judge_0.keras").read_bytes())
    with pytest.raises(CorruptFileError, match=r"judge_1\.keras' is corrupt or truncated \(SHA-256 [0-9a-f]{64} differs from the [0-9a-f]{64} "
                       r"recorded in model\.json\); run `dvc repro train_autoencoder` to rebuild it\.$"):
        AmbiguousDigitGenerator.load(tmp_path / "b")
    # a description that drops a judge's digest is refused, not loaded with one judge fewer
    description = json.loads((tmp_path / "a" / "model.json").read_text())
    del description["sha256"]["judge_1.keras"]
    (tmp_path / "a" / "model.json").write_text(json.dumps(description))
    with pytest.raises(CorruptFileError, match=r"it records no SHA-256 of \['judge_1\.keras'\]"):
        AmbiguousDigitGenerator.load(tmp_path / "a")


def test_a_model_of_the_older_format_asks_for_a_rebuild(fitted, tmp_path):
    fitted.save(tmp_path / "old")
    description = json.loads((tmp_path / "old" / "model.json").read_text())
    description["format_version"] = 1
    (tmp_path / "old" / "model.json").write_text(json.dumps(description))
    with pytest.raises(ValueError, match=r"version 1, expected 'digitgen\.ambiguous' version 2; run `dvc repro train_autoencoder`"):
        AmbiguousDigitGenerator.load(tmp_path / "old")


def test_bank_loads_as_a_sequence_source_under_its_first_class(fitted, tmp_path):
    from digitgen.io import write_npz

    bank = make_bank(fitted, 20, np.random.default_rng(0))
    write_npz(tmp_path / "ambiguous.npz", bank)
    loaded = load_bank(tmp_path / "ambiguous.npz", "ambiguous")
    np.testing.assert_array_equal(loaded.labels, bank["labels"][:, 0])


def test_the_pair_rule_accepts_numpy_integers():
    assert PAIR.check(np.array([4, 9]), "pair") == (4, 9)


def test_stage_writes_every_output(mnist_npz, tmp_path, monkeypatch):
    params = tmp_path / "params.yaml"
    judges = [{"filters": list(j.filters), "dense": j.dense, "epochs": 1} for j in TINY_JUDGES]
    section = {**TINY, "filters": list(TINY["filters"]), "epochs": 1, "weights": list(WEIGHTS), "count": 12, "previews": 3, "judges": judges}
    params.write_text(yaml.safe_dump({"train_autoencoder": section}))
    out = {name: tmp_path / name for name in ("model", "losses.csv", "ambiguous.npz", "autoencoder.json", "strip.png")}
    argv = ["train_autoencoder.py", "--params", str(params), "--mnist", str(mnist_npz), "--model", str(out["model"]),
            "--losses", str(out["losses.csv"]), "--bank", str(out["ambiguous.npz"]), "--metrics", str(out["autoencoder.json"]),
            "--strip", str(out["strip.png"])]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exited:
        runpy.run_path(str(Path(__file__).parents[1] / "stages" / "train_autoencoder.py"), run_name="__main__")
    assert exited.value.code == 0
    with np.load(out["ambiguous.npz"]) as bank:
        assert bank["labels"].shape == (12, 2) and bank["labels"].dtype == np.int16
        assert bank["weights"].dtype == np.float32 and bank["source_index"].dtype == np.int32
        assert bank["judge_smaller"].shape == (12,) and bank["shift"].dtype == np.float32
    metrics = json.loads(out["autoencoder.json"].read_text())
    assert metrics["bank"]["count"] == 12 and len(metrics["partners"]) == 10
    assert [(j["filters"], j["seed"]) for j in metrics["judges"]] == [([4], judge_seed(0, 0)), ([4, 8], judge_seed(0, 1))]
    assert all(0 <= j["test_accuracy"] <= 1 for j in metrics["judges"])
    assert 0 < metrics["bank"]["judge_smaller_mean"] <= 0.5 and metrics["bank"]["shift_mean"] > 0
    assert (out["model"] / "judge_1.keras").is_file() and (out["model"] / "model.npz").is_file()
    from PIL import Image

    strip = np.asarray(Image.open(out["strip.png"]))  # 3 rows of: a, 3 weights, b, a gap, the digit kept
    assert strip.shape == (3 * 30 - 2, (len(WEIGHTS) + 4) * 30 - 2)


def test_cli_sample_with_a_pair(fitted, tmp_path, capsys):
    from PIL import Image

    from digitgen.cli import main

    fitted.save(tmp_path / "autoencoder")
    out = tmp_path / "grid.png"
    argv = ["sample", "--generator", "ambiguous", "--pair", "4", "9", "-n", "16", "--models", str(tmp_path / "autoencoder"), "--out", str(out)]
    assert main([*argv, "--seed", "2"]) == 0
    picture = np.asarray(Image.open(out))
    np.testing.assert_array_equal(picture[:28, :28], fitted.sample(16, rng=np.random.default_rng(2), pair=(4, 9))[0])
    capsys.readouterr()
    assert main([*argv[:4], "4", "12", *argv[6:]]) == 2
    assert capsys.readouterr().err == "digitgen sample: error: --pair[1] == 12, must be an integer in 0..9.\n"
