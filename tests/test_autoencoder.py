"""The deterministic autoencoders of the clustering study (plain and semi-supervised) and the cluster generator."""

from __future__ import annotations

import numpy as np
import pytest

from digitgen.errors import InputError
from digitgen.generators.autoencoder import AutoencoderEmbedder
from digitgen.generators.clusters import ClusterDigitGenerator

TINY = {"latent_size": 3, "hidden": (16,), "epochs": 2, "batch_size": 32, "learning_rate": 0.01}


@pytest.fixture(scope="module")
def semisupervised(mnist_arrays):
    return AutoencoderEmbedder(**TINY, class_weight=0.95).fit(mnist_arrays["x_train"], mnist_arrays["y_train"])


def test_codes_and_reconstructions_have_the_documented_shapes_and_types(semisupervised, mnist_arrays):
    codes = semisupervised.encode(mnist_arrays["x_test"])
    assert codes.shape == (60, 3) and codes.dtype == np.float32 and np.all(np.isfinite(codes))
    images = semisupervised.decode(codes)
    assert images.shape == (60, 28, 28) and images.dtype == np.uint8
    assert semisupervised.encode(mnist_arrays["x_test"][:0]).shape == (0, 3)
    assert len(semisupervised.history_["loss"]) == 2 and semisupervised.train_count_ == 200


def test_training_is_deterministic_and_saving_round_trips_byte_for_byte(semisupervised, mnist_arrays, tmp_path):
    again = AutoencoderEmbedder(**TINY, class_weight=0.95).fit(mnist_arrays["x_train"], mnist_arrays["y_train"])
    np.testing.assert_array_equal(again.encode(mnist_arrays["x_test"]), semisupervised.encode(mnist_arrays["x_test"]))
    semisupervised.save(tmp_path / "a")
    again.save(tmp_path / "b")
    for name in ("encoder.keras", "decoder.keras", "model.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    loaded = AutoencoderEmbedder.load(tmp_path / "a")
    np.testing.assert_array_equal(loaded.encode(mnist_arrays["x_test"]), semisupervised.encode(mnist_arrays["x_test"]))


def test_a_semi_supervised_autoencoder_needs_labels_and_parameters_are_checked(mnist_arrays):
    with pytest.raises(ValueError, match="needs labels"):
        AutoencoderEmbedder(**TINY, class_weight=1.0).fit(mnist_arrays["x_train"])
    with pytest.raises(InputError, match=r"latent_size == 0, must be an integer in 1..512"):
        AutoencoderEmbedder(latent_size=0).fit(mnist_arrays["x_train"])
    with pytest.raises(InputError, match="not fitted yet"):
        AutoencoderEmbedder().encode(mnist_arrays["x_test"])


def test_clusters_are_named_by_their_majority_digit_and_sampled_around_their_centres(semisupervised, mnist_arrays, tmp_path):
    x, y = mnist_arrays["x_train"], mnist_arrays["y_train"]
    model = ClusterDigitGenerator(embedder=semisupervised, clusters=12, random_state=0).fit(x, y)
    assert model.centres_.shape == (12, 3) and model.cholesky_.shape == (12, 3, 3) and model.sizes_.sum() == len(x)
    assert np.all((model.purity_ > 0) & (model.purity_ <= 1)) and model.majority_.dtype == np.int16
    digit = model.digits_covered()[0]
    drawn = model.generate(20, digit, rng=1)
    assert drawn.images.shape == (20, 28, 28) and drawn.images.dtype == np.uint8
    assert np.all(drawn.labels == digit) and np.all(model.majority_[drawn.cluster] == digit)
    np.testing.assert_array_equal(model.sample(20, digit, rng=1), drawn.images)  # same generator state, same digits
    only = model.generate(5, rng=0, cluster=3)
    assert np.all(only.cluster == 3) and np.all(only.labels == model.majority_[3])
    model.save(tmp_path / "clusters")
    loaded = ClusterDigitGenerator.load(tmp_path / "clusters")
    np.testing.assert_array_equal(loaded.sample(20, digit, rng=1), drawn.images)
    missing = sorted(set(range(10)) - set(model.digits_covered()))
    if missing:
        with pytest.raises(InputError, match=rf"digit == {missing[0]}: no cluster has it as its majority"):
            model.sample(1, missing[0], rng=0)


def test_the_cluster_generator_needs_a_fitted_embedder(mnist_arrays):
    with pytest.raises(InputError, match="embedder must be a fitted AutoencoderEmbedder"):
        ClusterDigitGenerator(embedder=AutoencoderEmbedder()).fit(mnist_arrays["x_train"], mnist_arrays["y_train"])
    with pytest.raises(InputError, match=r"clusters == 1, must be an integer in 2..1000"):
        ClusterDigitGenerator(embedder=None, clusters=1).fit(mnist_arrays["x_train"], mnist_arrays["y_train"])
