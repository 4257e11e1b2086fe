"""Conditional VAE: tiny models trained for a few steps on synthetic digits."""

from __future__ import annotations

import json
import re
import runpy
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from digitgen.bank import load_bank
from digitgen.errors import CorruptFileError, InputError, ParamsError
from digitgen.generators.cvae import CvaeDigitGenerator
from digitgen.generators.vae import losses_csv
from digitgen.params.all import parse_params
from digitgen.pipeline.train_cvae import make_bank

#: A model small enough to train in about a second on the 200 synthetic digits.
TINY = {"latent_size": 3, "filters": (4, 8), "hidden": 16, "epochs": 2, "batch_size": 32, "validation_fraction": 0.1}


@pytest.fixture(scope="module")
def fitted(mnist_arrays) -> CvaeDigitGenerator:
    return CvaeDigitGenerator(**TINY, random_state=0).fit(mnist_arrays["x_train"], mnist_arrays["y_train"])


def _weights(model: CvaeDigitGenerator) -> list[np.ndarray]:
    return [np.asarray(w) for w in model.encoder_.get_weights() + model.decoder_.get_weights()]


def test_sample_shapes_dtypes_and_labels(fitted):
    images = fitted.sample(5, digit=3, rng=np.random.default_rng(0))
    assert images.dtype == np.uint8 and images.shape == (5, 28, 28)
    drawn = fitted.generate(40, None, np.random.default_rng(1))
    assert drawn.labels.dtype == np.int16 and drawn.labels.min() >= 0 and drawn.labels.max() <= 9
    assert len(np.unique(drawn.labels)) > 1  # digit=None draws several classes
    assert drawn.latent.shape == (40, 3) and drawn.latent.dtype == np.float32
    assert fitted.sample(0, digit=1, rng=0).shape == (0, 28, 28)


def test_temperature_scales_the_prior_draws(fitted):
    assert fitted.temperature == 0.8  # the default of train_cvae.temperature
    cold = CvaeDigitGenerator(**TINY, temperature=0.5)
    cold.decoder_, cold.priors_ = fitted.decoder_, fitted.priors_
    prior = fitted.generate(4, 2, np.random.default_rng(7)).latent / np.float32(fitted.temperature)
    np.testing.assert_allclose(cold.generate(4, 2, np.random.default_rng(7)).latent, prior * 0.5, rtol=1e-6)


def test_history_has_train_and_validation_losses_per_epoch(fitted):
    history = fitted.history_
    for name in ("reconstruction", "kl", "total"):
        for key in (name, f"val_{name}"):
            assert len(history[key]) == TINY["epochs"] and np.all(np.isfinite(history[key]))
    # total = reconstruction + beta * KL, batch by batch, so also for the epoch means (beta = 1 here)
    np.testing.assert_allclose(np.add(history["reconstruction"], history["kl"]), history["total"], rtol=1e-4)
    assert history["total"][-1] < history["total"][0]
    assert fitted.train_count_ == 180 and fitted.validation_count_ == 20


def test_same_params_give_the_same_weights_and_samples(mnist_arrays, fitted):
    again = CvaeDigitGenerator(**TINY, random_state=0).fit(mnist_arrays["x_train"], mnist_arrays["y_train"])
    for a, b in zip(_weights(fitted), _weights(again), strict=True):
        np.testing.assert_array_equal(a, b)
    assert again.history_ == fitted.history_
    np.testing.assert_array_equal(again.sample(8, 5, 3), fitted.sample(8, 5, 3))


@pytest.mark.slow
def test_another_seed_gives_other_weights(mnist_arrays, fitted):
    other = CvaeDigitGenerator(**{**TINY, "epochs": 1}, random_state=1).fit(mnist_arrays["x_train"], mnist_arrays["y_train"])
    assert not np.array_equal(_weights(other)[0], _weights(fitted)[0])


def test_save_load_round_trip_gives_identical_samples_and_bytes(fitted, tmp_path):
    fitted.save(tmp_path / "a")
    fitted.save(tmp_path / "b")
    for name in ("encoder.keras", "decoder.keras", "model.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    # regression: Keras numbers shared objects by id(), which differs between processes; the saved ids are ranks
    with zipfile.ZipFile(tmp_path / "a" / "decoder.keras") as archive:
        config = archive.read("config.json").decode()
    assert set(re.findall(r'"shared_object_id": (\d+)', config)) <= {"1", "2", "3"}
    loaded = CvaeDigitGenerator.load(tmp_path / "a")
    assert loaded.get_params() == {**fitted.get_params(), "filters": tuple(fitted.filters)}
    np.testing.assert_array_equal(loaded.sample(16, 3, 11), fitted.sample(16, 3, 11))
    np.testing.assert_array_equal(loaded.priors_, fitted.priors_)
    description = json.loads((tmp_path / "a" / "model.json").read_text())
    assert description["versions"]["keras"] and description["params"]["latent_size"] == 3


def test_load_rejects_a_changed_file(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    description = json.loads((tmp_path / "m" / "model.json").read_text())
    description["sha256"]["decoder.keras"] = "0" * 64
    (tmp_path / "m" / "model.json").write_text(json.dumps(description))
    with pytest.raises(CorruptFileError, match=r"decoder.keras' is corrupt or truncated \(SHA-256 [0-9a-f]{64} differs from the 0{64} "
                       r"recorded in model.json\); run `dvc repro train_cvae` to rebuild it\.$"):
        CvaeDigitGenerator.load(tmp_path / "m")
    with pytest.raises(FileNotFoundError, match=r"CVAE model file '.*missing/model.json' does not exist; run `dvc repro train_cvae`"):
        CvaeDigitGenerator.load(tmp_path / "missing")
    fitted.save(tmp_path / "m")
    (tmp_path / "m" / "encoder.keras").unlink()
    with pytest.raises(FileNotFoundError, match=r"CVAE model file '.*m/encoder.keras' does not exist; run `dvc repro train_cvae`"):
        CvaeDigitGenerator.load(tmp_path / "m")
    fitted.save(tmp_path / "m")
    description = json.loads((tmp_path / "m" / "model.json").read_text())
    (tmp_path / "m" / "model.json").write_text(json.dumps({**description, "class": "KdeDigitGenerator"}))
    with pytest.raises(InputError, match=r"a model of class 'KdeDigitGenerator', expected 'CvaeDigitGenerator'; run `dvc repro train_cvae`"):
        CvaeDigitGenerator.load(tmp_path / "m")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"latent_size": 0}, r"^latent_size == 0, must be an integer in 1\.\.512\.$"),
        ({"filters": (8,)}, r"^filters == \(8,\), must be two convolution widths, each in 1\.\.256 \(28 -> 14 -> 7 px\)\.$"),
        ({"beta": 0.0}, r"^beta == 0\.0, must be a number in \(0, 1000\] \(weight of the KL term\)\.$"),
        ({"epochs": 0}, r"^epochs == 0, must be an integer in 1\.\.1000\.$"),
        ({"learning_rate": 2.0}, r"^learning_rate == 2\.0, must be a number in \(0, 1\]\.$"),
        ({"validation_fraction": 0.5}, r"^validation_fraction == 0\.5, must be a number in \[0, 0\.5\)\.$"),
        ({"temperature": 0}, r"^temperature == 0, must be a number in \(0, 10\] \(standard deviation of the prior draws\)\.$"),
        ({"random_state": -1}, r"^random_state == -1, must be an integer in 0\.\.4294967295\.$"),
    ],
)
def test_bad_params_are_rejected_before_training(mnist_arrays, params, message):
    model = CvaeDigitGenerator(**{**TINY, **params})
    with pytest.raises(ValueError, match=message):
        model.fit(mnist_arrays["x_train"], mnist_arrays["y_train"])
    assert not hasattr(model, "decoder_")


def test_bad_data_and_requests_are_rejected(mnist_arrays, fitted):
    x, y = mnist_arrays["x_train"], mnist_arrays["y_train"]
    keep = y != 7
    with pytest.raises(ValueError, match=r"no image of digit\(s\) \[7\]"):
        CvaeDigitGenerator(**TINY).fit(x[keep], y[keep])
    with pytest.raises(ValueError, match="images must be uint8"):
        CvaeDigitGenerator(**TINY).fit(x.astype(np.float32), y)
    with pytest.raises(ValueError, match=r"digit == 10, must be an integer in 0\.\.9"):
        fitted.sample(2, digit=10)
    with pytest.raises(ValueError, match="not fitted yet"):
        CvaeDigitGenerator().sample(1)


def test_params_section_rejects_a_zero_latent_size_with_the_class_s_message(mnist_arrays):
    with pytest.raises(ParamsError) as from_params:
        parse_params({"train_cvae": {"latent_size": 0}})
    with pytest.raises(InputError) as from_class:
        CvaeDigitGenerator(latent_size=0).fit(mnist_arrays["x_train"], mnist_arrays["y_train"])
    assert str(from_class.value) == "latent_size == 0, must be an integer in 1..512."
    assert str(from_params.value) == "params: train_cvae.latent_size == 0, must be an integer in 1..512."
    with pytest.raises(ParamsError, match=r"train_cvae\.filters == \[4, 8, 16\], must be two convolution widths, each in 1\.\.256"):
        parse_params({"train_cvae": {"filters": [4, 8, 16]}})


def test_make_bank_and_losses_csv(fitted, tmp_path):
    bank = make_bank(fitted, 3, np.random.default_rng(0))
    assert bank["images"].shape == (30, 28, 28) and bank["images"].dtype == np.uint8
    np.testing.assert_array_equal(bank["labels"], np.repeat(np.arange(10, dtype=np.int16), 3))
    assert bank["latent"].shape == (30, 3)
    lines = losses_csv(fitted.history_).splitlines()
    assert lines[0] == "epoch,train_reconstruction,train_kl,train_total,val_reconstruction,val_kl,val_total"
    assert len(lines) == 1 + TINY["epochs"]
    assert float(lines[-1].split(",")[3]) == fitted.history_["total"][-1]


def test_stage_writes_every_output(mnist_npz, tmp_path, monkeypatch):
    params = tmp_path / "params.yaml"
    section = {**TINY, "filters": list(TINY["filters"]), "epochs": 1, "bank_per_digit": 4, "mosaic_columns": 4}
    params.write_text(yaml.safe_dump({"train_cvae": section}))
    out = {name: tmp_path / name for name in ("model", "losses.csv", "cvae.npz", "cvae.json", "mosaic.png")}
    argv = ["train_cvae.py", "--params", str(params), "--mnist", str(mnist_npz), "--model", str(out["model"]),
            "--losses", str(out["losses.csv"]), "--bank", str(out["cvae.npz"]), "--metrics", str(out["cvae.json"]),
            "--mosaic", str(out["mosaic.png"])]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exited:
        runpy.run_path(str(Path(__file__).parents[1] / "stages" / "train_cvae.py"), run_name="__main__")
    assert exited.value.code == 0
    bank = load_bank(out["cvae.npz"], "cvae")
    assert bank.images.shape == (40, 28, 28) and bank.labels.dtype == np.int16
    metrics = json.loads(out["cvae.json"].read_text())
    assert metrics["training_data"]["split"] == "train" and "val_total" in metrics["final"]
    assert (out["model"] / "decoder.keras").is_file() and out["mosaic.png"].stat().st_size > 0


def test_cli_sample_writes_a_mosaic(fitted, tmp_path, capsys):
    from PIL import Image

    from digitgen.cli import main

    fitted.save(tmp_path / "cvae")
    out = tmp_path / "grid.png"
    assert main(["sample", "--generator", "cvae", "--digit", "3", "-n", "16", "--models", str(tmp_path / "cvae"), "--out", str(out), "--seed", "1"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    picture = np.asarray(Image.open(out))
    assert picture.shape == (2 * 30 - 2, 8 * 30 - 2)
    np.testing.assert_array_equal(picture[:28, :28], fitted.sample(16, 3, np.random.default_rng(1))[0])
    assert main(["sample", "--generator", "cvae", "--pair", "4", "9", "--models", str(tmp_path / "cvae"), "--out", str(out)]) == 2
    assert "--pair applies to --generator ambiguous only" in capsys.readouterr().err
