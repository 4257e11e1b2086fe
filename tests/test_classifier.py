"""Tests of digitgen.classifier: a tiny CNN trained for a few steps, save/load, determinism, errors."""

from __future__ import annotations

import numpy as np
import pytest

from digitgen.classifier import DigitClassifier
from digitgen.classifier_training import build_model, train_classifier
from digitgen.errors import ParamsError
from digitgen.params.all import parse_params

TINY = {"epochs": 2, "batch_size": 32, "filters": [4], "dense": 8, "validation_fraction": 0.1, "learning_rate": 0.01}


def tiny_params(**values):
    return parse_params({"train_classifier": {**TINY, **values}}).train_classifier


@pytest.fixture(scope="module")
def trained(mnist_arrays):
    return train_classifier(mnist_arrays["x_train"], mnist_arrays["y_train"], tiny_params())


def test_training_reports_history_and_counts(trained):
    assert (trained.train_count, trained.validation_count) == (180, 20)
    assert set(trained.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 2 for values in trained.history.values())
    assert len(trained.seconds_per_epoch) == 2
    assert trained.history["loss"][1] < trained.history["loss"][0]


def test_features_and_probabilities_have_the_documented_shapes(trained, mnist_arrays):
    features, proba = trained.classifier.features_and_proba(mnist_arrays["x_test"])
    assert features.shape == (60, 8) and features.dtype == np.float32
    assert proba.shape == (60, 10) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    assert (features >= 0).all()  # ReLU activations of the penultimate layer
    np.testing.assert_array_equal(trained.classifier.features(mnist_arrays["x_test"]), features)
    np.testing.assert_array_equal(trained.classifier.predict_proba(mnist_arrays["x_test"]), proba)
    empty_features, empty_proba = trained.classifier.features_and_proba(np.zeros((0, 28, 28), np.uint8))
    assert empty_features.shape == (0, 8) and empty_proba.shape == (0, 10)


def test_save_load_round_trip_gives_identical_predictions_and_bytes(trained, mnist_arrays, tmp_path):
    trained.classifier.save(tmp_path / "a.keras")
    trained.classifier.save(tmp_path / "b.keras")
    assert (tmp_path / "a.keras").read_bytes() == (tmp_path / "b.keras").read_bytes()
    loaded = DigitClassifier.load(tmp_path / "a.keras")
    for mine, theirs in zip(trained.classifier.features_and_proba(mnist_arrays["x_test"]), loaded.features_and_proba(mnist_arrays["x_test"])):
        np.testing.assert_array_equal(mine, theirs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.keras", "b.keras"]  # no temporary files left


def test_training_is_deterministic_and_follows_the_seed(trained, mnist_arrays):
    again = train_classifier(mnist_arrays["x_train"], mnist_arrays["y_train"], tiny_params())
    for mine, theirs in zip(trained.classifier.model.get_weights(), again.classifier.model.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    assert again.history == trained.history
    other = train_classifier(mnist_arrays["x_train"], mnist_arrays["y_train"], tiny_params(seed=1, epochs=1))
    assert not np.array_equal(other.classifier.model.get_weights()[0], trained.classifier.model.get_weights()[0])


def test_architecture_follows_the_params():
    model = build_model(tiny_params(filters=[3, 5, 7], dense=11))
    assert [model.get_layer(f"conv{i}").filters for i in (1, 2, 3)] == [3, 5, 7]
    assert model.get_layer("features").output.shape[-1] == 11
    assert model.output.shape[-1] == 10


def test_bad_inputs_are_refused_with_clear_messages(trained, mnist_arrays, tmp_path):
    with pytest.raises(ValueError, match=r"images must be uint8 \(N, 28, 28\), got float64 \(2, 28, 28\)"):
        trained.classifier.features(np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match=r"training labels must be digits 0-9, found 0\.\.12"):
        train_classifier(mnist_arrays["x_train"][:3], np.array([0, 1, 12]), tiny_params())
    with pytest.raises(ValueError, match="0 training digits leave none to train on"):
        train_classifier(np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64), tiny_params())
    with pytest.raises(ValueError, match="must end in '.keras'"):
        trained.classifier.save(tmp_path / "model.h5")
    with pytest.raises(FileNotFoundError, match="dvc repro train_classifier"):
        DigitClassifier.load(tmp_path / "missing.keras")
    with pytest.raises(ValueError, match="has no layer named 'features'"):
        import keras

        DigitClassifier(keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10)]))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"epochs": 0}, r"train_classifier.epochs == 0, must be an integer in 1..1000\.$"),
        ({"filters": []}, r"train_classifier.filters == \[\], must list 1 to 4"),
        ({"filters": [8, 8, 8, 8, 8]}, "must list 1 to 4"),
        ({"dropout": 1.0}, r"train_classifier.dropout == 1.0, must be a number in \[0, 1\)\.$"),
        ({"validation_fraction": 0.5}, r"validation_fraction == 0.5, must be a number in \[0, 0.5\)\.$"),
        ({"learning_rate": 0}, r"learning_rate == 0, must be a number in \(0, 1\]\.$"),
    ],
)
def test_train_classifier_params_are_validated(values, message):
    with pytest.raises(ParamsError, match=message):
        parse_params({"train_classifier": values})


@pytest.mark.parametrize("damage", ["truncated", "not a zip", "config replaced"])
def test_a_damaged_keras_file_is_named_as_corrupt(tmp_path, damage):
    import zipfile

    from digitgen.errors import CorruptFileError

    params = parse_params({"train_classifier": TINY}).train_classifier
    path = tmp_path / "classifier.keras"
    DigitClassifier(build_model(params)).save(path)
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "not a zip":
        path.write_bytes(b"\x00" * 64)
    else:
        with zipfile.ZipFile(path) as src:
            members = {info.filename: src.read(info) for info in src.infolist()}
        members["config.json"] = b'{"class_name": "Functional", "config": {"layers": [{"class_name": 7}]}}'
        with zipfile.ZipFile(path, "w") as dst:
            for name, content in members.items():
                dst.writestr(name, content)
    with pytest.raises(CorruptFileError, match=rf"file '{path}' is corrupt or truncated \(Keras could not load it: "):
        DigitClassifier.load(path)
