"""The one generator protocol, checked by behaviour on every generator (tiny fixtures), and class defaults = params defaults.

``fit(images, labels) -> self``, ``sample(n, digit=None, rng=None) -> uint8
(n, 28, 28)``, ``save(path)``, ``load(path)``: a runtime ``isinstance`` check
of a Protocol would pass on method names alone, so each promise is exercised.
"""

from __future__ import annotations

import inspect
import json
import zipfile

import numpy as np
import pytest

from digitgen.errors import InputError
from digitgen.generators.ambiguous import AmbiguousDigitGenerator
from digitgen.generators.cvae import CvaeDigitGenerator
from digitgen.generators.kde import KdeDigitGenerator
from digitgen.params.core import defaults_of, rules_of
from digitgen.params.fit_kde import KdeParams
from digitgen.params.train_autoencoder import JudgeParams, TrainAutoencoderParams
from digitgen.params.train_cvae import TrainCvaeParams

VAE = {"latent_size": 3, "filters": (4, 8), "hidden": 16, "epochs": 3, "batch_size": 32, "learning_rate": 0.01, "validation_fraction": 0.1}
#: name -> (class, tiny parameters, whether ``digit=`` applies)
GENERATORS = {
    "kde": (KdeDigitGenerator, {"n_components": 8, "bandwidths": (0.5, 1.0, 2.0, 4.0), "cv": 3, "subsample": None,
                                "acceptance_candidates": 0, "rejection": "light", "candidate_budget": 200, "random_state": 0}, True),
    "kde-global": (KdeDigitGenerator, {"n_components": 8, "bandwidths": (0.5, 1.0, 2.0, 4.0), "cv": 3, "subsample": None, "conditional": False,
                                       "acceptance_candidates": 0, "rejection": "none", "random_state": 0}, False),
    "cvae": (CvaeDigitGenerator, {**VAE, "random_state": 0}, True),
    "ambiguous": (AmbiguousDigitGenerator, {**VAE, "weights": (0.3, 0.5, 0.7), "judges": (JudgeParams((4,), 8, 1),), "refine_steps": 2,
                                            "random_state": 0}, True),
}
#: class -> (its params.yaml section, its class-only parameters)
SECTIONS = {
    KdeDigitGenerator: (KdeParams, {"conditional", "batch_size", "random_state"}),
    CvaeDigitGenerator: (TrainCvaeParams, set()),
    AmbiguousDigitGenerator: (TrainAutoencoderParams, set()),
}


@pytest.fixture(scope="module")
def fitted(mnist_arrays) -> dict:
    models = {}
    for name, (cls, params, _) in GENERATORS.items():
        model = cls(**params)
        assert model.fit(mnist_arrays["x_train"], mnist_arrays["y_train"]) is model  # fit returns self
        models[name] = model
    return models


def labels_of(model, drawn) -> np.ndarray:
    """The class each drawn digit was asked to be (the first class ``a`` of an ambiguous pair)."""
    labels = drawn.labels
    return labels[:, 0] if labels.ndim == 2 else labels


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_samples_are_uint8_digits_in_range_and_deterministic(fitted, name):
    model = fitted[name]
    images = model.sample(6, rng=np.random.default_rng(3))
    assert images.dtype == np.uint8 and images.shape == (6, 28, 28)
    assert images.reshape(6, -1).std(axis=1).min() > 0  # pictures, not constant images
    np.testing.assert_array_equal(images, model.sample(6, rng=np.random.default_rng(3)))  # same seed, same digits
    np.testing.assert_array_equal(images, model.sample(6, rng=3))  # a seed works as well as a Generator
    assert not np.array_equal(images, model.sample(6, rng=np.random.default_rng(4)))
    assert model.sample(0, rng=0).shape == (0, 28, 28)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_digit_is_honoured_where_it_applies(fitted, name):
    model, takes_digit = fitted[name], GENERATORS[name][2]
    if not takes_digit:
        with pytest.raises(ValueError, match=r"digit == 3, but this model is global"):
            model.sample(2, digit=3, rng=0)
        return
    for digit in (2, 7):
        drawn = model.generate(5, digit, np.random.default_rng(0))
        assert labels_of(model, drawn).tolist() == [digit] * 5
        np.testing.assert_array_equal(drawn.images, model.sample(5, digit=digit, rng=np.random.default_rng(0)))
    with pytest.raises(InputError, match=r"^digit == 10, must be an integer in 0\.\.9\.$"):
        model.sample(1, digit=10, rng=0)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_save_load_round_trip_gives_identical_samples(fitted, name, tmp_path):
    model, cls = fitted[name], GENERATORS[name][0]
    model.save(tmp_path / name)
    loaded = cls.load(tmp_path / name)
    assert type(loaded) is cls and loaded.get_params() == model.get_params()
    digit = 4 if GENERATORS[name][2] else None
    np.testing.assert_array_equal(loaded.sample(7, digit, rng=11), model.sample(7, digit, rng=11))
    loaded.save(tmp_path / "again")
    assert sorted(p.name for p in (tmp_path / "again").iterdir()) == sorted(p.name for p in (tmp_path / name).iterdir())
    for path in sorted((tmp_path / name).iterdir()):  # saving what was loaded gives the same state
        again = tmp_path / "again" / path.name
        if path.suffix == ".keras":  # the weights; Keras numbers shared config objects differently after a load
            with zipfile.ZipFile(path) as first, zipfile.ZipFile(again) as second:
                assert first.read("model.weights.h5") == second.read("model.weights.h5"), path.name
        elif path.name == "model.json" and any(f.suffix == ".keras" for f in (tmp_path / name).iterdir()):  # all but those digests
            first, second = json.loads(path.read_text()), json.loads(again.read_text())
            assert {k: v for k, v in first.items() if k != "sha256"} == {k: v for k, v in second.items() if k != "sha256"}
            assert sorted(first["sha256"]) == sorted(second["sha256"])
        else:
            assert path.read_bytes() == again.read_bytes(), path.name


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_an_unfitted_generator_says_so(name, tmp_path):
    cls = GENERATORS[name][0]
    message = rf"^this {cls.__name__} is not fitted yet; call fit\(images, labels\) or {cls.__name__}\.load\(path\) first\.$"
    with pytest.raises(InputError, match=message):
        cls().sample(1, rng=0)
    with pytest.raises(InputError, match=message):
        cls().save(tmp_path / "m")
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("cls", list(SECTIONS), ids=lambda cls: cls.__name__)
def test_class_defaults_are_the_params_yaml_defaults(cls):
    section, class_only = SECTIONS[cls]
    defaults = {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items() if name != "self"}
    expected = defaults_of(section)
    shared = {name for name in defaults if name not in class_only}
    assert shared, cls
    for name in shared:
        assert defaults[name] == expected["seed" if name == "random_state" else name], name
    assert set(cls.RULES) == set(defaults)  # every parameter has a rule ...
    rules = rules_of(section)
    for name in shared:  # ... and a shared one is the section's own rule object
        assert cls.RULES[name] is rules["seed" if name == "random_state" else name], name


def test_cvae_defaults_are_those_of_params_yaml():
    """Regression: the class defaulted to latent 16 and temperature 1.0 while params.yaml says 8 and 0.8."""
    model = CvaeDigitGenerator()
    assert (model.latent_size, model.temperature) == (8, 0.8)


@pytest.mark.parametrize("cls", list(SECTIONS), ids=lambda cls: cls.__name__)
def test_from_section_passes_every_parameter_of_the_section(cls):
    section, _ = SECTIONS[cls]
    default = section()
    model = cls.from_section(default)
    for name, value in model.get_params().items():
        if hasattr(default, name):
            assert value == getattr(default, name), name
    assert model.random_state == default.seed
