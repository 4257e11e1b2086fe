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
from digitgen.generators import DigitGenerator
from digitgen.generators.ambiguous import AmbiguousDigitGenerator, check_pair, make_bank, preview_pairs, series_strip
from digitgen.params import ParamsError, parse_params

TINY = {"latent_size": 4, "filters": (4, 8), "hidden": 16, "epochs": 2, "batch_size": 32, "validation_fraction": 0.1}
WEIGHTS = (0.3, 0.5, 0.7)


@pytest.fixture(scope="module")
def fitted(mnist_arrays) -> AmbiguousDigitGenerator:
    return AmbiguousDigitGenerator(**TINY, weights=WEIGHTS, random_state=0).fit(mnist_arrays["x_train"], mnist_arrays["y_train"])


def test_follows_the_generator_protocol(fitted):
    assert isinstance(fitted, DigitGenerator)


def test_generate_contract_and_provenance(fitted, mnist_arrays):
    drawn = fitted.generate(25, None, np.random.default_rng(0))
    assert drawn.images.dtype == np.uint8 and drawn.images.shape == (25, 28, 28)
    assert drawn.labels.dtype == np.int16 and drawn.labels.shape == (25, 2)
    assert drawn.weights.dtype == np.float32 and set(drawn.weights.tolist()) <= {np.float32(w) for w in WEIGHTS}
    assert drawn.source_index.dtype == np.int32 and drawn.source_index.shape == (25, 2)
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


def test_kept_step_is_the_most_balanced_reencoding(fitted):
    pairs = np.array([[4, 9], [3, 5], [1, 7]])
    series = fitted.series(pairs, np.random.default_rng(3))
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
    drawn = fitted.generate(3, None, np.random.default_rng(3), pair=(4, 9))
    np.testing.assert_array_equal(drawn.labels, [[4, 9]] * 3)


def test_series_with_ends_never_keeps_an_end(fitted):
    series = fitted.series(preview_pairs(fitted, 4), np.random.default_rng(0), ends=True)
    assert series.weights.tolist() == [0.0, *WEIGHTS, 1.0]
    assert np.all((series.chosen > 0) & (series.chosen < len(WEIGHTS) + 1))
    strip = series_strip(series)
    assert strip.shape == (4 * 30 - 2, (len(WEIGHTS) + 2) * 30 - 2) and strip.dtype == np.uint8
    top, left = 30 * 0 - 1, 30 * int(series.chosen[0]) - 1
    assert np.all(strip[top + 29, left : left + 30] == 255)  # the frame under the first row's kept image


def test_configured_pairs_and_digit(mnist_arrays, fitted):
    configured = AmbiguousDigitGenerator(**TINY, weights=WEIGHTS, pairs=((1, 7), (3, 8)))
    fitted_state = ("encoder_", "decoder_", "codes_", "code_labels_", "code_rows_", "class_means_", "precision_", "class_precisions_",
                    "class_log_dets_", "partners_")
    for name in fitted_state:
        setattr(configured, name, getattr(fitted, name))
    labels = configured.generate(30, None, np.random.default_rng(1)).labels
    assert {tuple(p) for p in labels.tolist()} <= {(1, 7), (3, 8)}
    labels = configured.generate(4, 2, np.random.default_rng(1)).labels
    np.testing.assert_array_equal(labels, [[2, fitted.partners_[2]]] * 4)
    with pytest.raises(ValueError, match=r"digit == 2 and pair == \(4, 9\) disagree"):
        configured.sample(1, 2, 0, pair=(4, 9))


@pytest.mark.parametrize("pair", [(4, 12), (3, 3), (4,), (4.0, 9), "49"])
def test_bad_pairs_are_rejected(fitted, pair):
    with pytest.raises(ValueError, match=r"pair == .*: a pair must be two different digits, each in 0\.\.9"):
        fitted.sample(2, pair=pair, rng=0)


def test_unknown_pair_digit_in_params_is_rejected_before_training(mnist_arrays):
    model = AmbiguousDigitGenerator(**TINY, pairs=((4, 9), (4, 10)))
    with pytest.raises(ValueError, match=r"pairs == \[4, 10\]: a pair must be two different digits"):
        model.fit(mnist_arrays["x_train"], mnist_arrays["y_train"])
    assert not hasattr(model, "decoder_")
    with pytest.raises(ParamsError, match=r"params: train_autoencoder\.pairs\[1\] == \[4, 10\], must be two different digits"):
        parse_params({"train_autoencoder": {"pairs": [[4, 9], [4, 10]]}})
    with pytest.raises(ParamsError, match=r"params: train_autoencoder\.latent_size == 0, must be >= 1"):
        parse_params({"train_autoencoder": {"latent_size": 0}})
    with pytest.raises(ParamsError, match=r"train_autoencoder\.weights == \[0\.5, 1\.0\]"):
        parse_params({"train_autoencoder": {"weights": [0.5, 1.0]}})


@pytest.mark.parametrize(("params", "message"), [({"latent_size": 0}, "latent_size == 0"), ({"weights": (0.5, 0.5)}, "must not repeat")])
def test_bad_params_are_rejected(mnist_arrays, params, message):
    with pytest.raises(ValueError, match=message):
        AmbiguousDigitGenerator(**{**TINY, **params}).fit(mnist_arrays["x_train"], mnist_arrays["y_train"])


def test_save_load_round_trip_gives_identical_samples(fitted, tmp_path):
    fitted.save(tmp_path / "a")
    fitted.save(tmp_path / "b")
    for name in ("encoder.keras", "decoder.keras", "model.npz", "model.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    loaded = AmbiguousDigitGenerator.load(tmp_path / "a")
    first, second = loaded.generate(12, None, np.random.default_rng(5)), fitted.generate(12, None, np.random.default_rng(5))
    for field in ("images", "labels", "weights", "source_index", "log_odds"):
        np.testing.assert_array_equal(getattr(first, field), getattr(second, field))


def test_bank_loads_as_a_sequence_source_under_its_first_class(fitted, tmp_path):
    from digitgen.io import write_npz

    bank = make_bank(fitted, 20, np.random.default_rng(0))
    write_npz(tmp_path / "ambiguous.npz", bank)
    loaded = load_bank(tmp_path / "ambiguous.npz", "ambiguous")
    np.testing.assert_array_equal(loaded.labels, bank["labels"][:, 0])


def test_check_pair_accepts_numpy_integers():
    assert check_pair(np.array([4, 9]), "pair") == (4, 9)


def test_stage_writes_every_output(mnist_npz, tmp_path, monkeypatch):
    params = tmp_path / "params.yaml"
    section = {**TINY, "filters": list(TINY["filters"]), "epochs": 1, "weights": list(WEIGHTS), "count": 12, "previews": 3}
    params.write_text(yaml.safe_dump({"train_autoencoder": section}))
    out = {name: tmp_path / name for name in ("model", "losses.csv", "ambiguous.npz", "autoencoder.json", "strip.png")}
    argv = ["train_autoencoder.py", "--params", str(params), "--mnist", str(mnist_npz), "--model", str(out["model"]),
            "--losses", str(out["losses.csv"]), "--bank", str(out["ambiguous.npz"]), "--metrics", str(out["autoencoder.json"]),
            "--strip", str(out["strip.png"])]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(Path(__file__).parents[1] / "stages" / "train_autoencoder.py"), run_name="__main__")
    with np.load(out["ambiguous.npz"]) as bank:
        assert bank["labels"].shape == (12, 2) and bank["labels"].dtype == np.int16
        assert bank["weights"].dtype == np.float32 and bank["source_index"].dtype == np.int32
    metrics = json.loads(out["autoencoder.json"].read_text())
    assert metrics["bank"]["count"] == 12 and len(metrics["partners"]) == 10
    assert (out["model"] / "model.npz").is_file() and out["strip.png"].stat().st_size > 0


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
    assert "pair == [4, 12]: a pair must be two different digits, each in 0..9" in capsys.readouterr().err
