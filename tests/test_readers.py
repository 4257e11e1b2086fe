"""Held-out readers (digitgen.evaluate.readers): three architectures, own seeds, trained on a subset."""

from __future__ import annotations

import numpy as np
import pytest

from digitgen.classifier import DigitClassifier
from digitgen.errors import ParamsError
from digitgen.evaluate.readers import build_reader, reader_seed, train_readers
from digitgen.params.all import parse_params
from digitgen.params.evaluate_banks import READER_KINDS


@pytest.mark.parametrize("kind", READER_KINDS)
def test_every_reader_maps_pixels_to_probabilities_and_has_features(kind):
    model = build_reader(kind)
    classifier = DigitClassifier(model)
    proba = classifier.predict_proba(np.zeros((3, 28, 28), np.uint8))
    assert proba.shape == (3, 10) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-5)
    assert classifier.feature_size > 0


def test_readers_train_on_their_own_subset_with_their_own_seed(mnist_arrays):
    params = parse_params({"evaluate_banks": {"readers": {"kinds": ["mlp"], "digits": 120, "epochs": 1}}}).evaluate_banks
    readers = train_readers(mnist_arrays["x_train"], mnist_arrays["y_train"], params.readers, 0)
    assert list(readers) == ["mlp"]
    again = train_readers(mnist_arrays["x_train"], mnist_arrays["y_train"], params.readers, 0)
    for kind in readers:
        np.testing.assert_array_equal(readers[kind].predict_proba(mnist_arrays["x_test"]), again[kind].predict_proba(mnist_arrays["x_test"]))
    assert len({reader_seed(0, kind) for kind in READER_KINDS}) == 3


def test_reader_params_are_checked():
    with pytest.raises(ParamsError, match=r"evaluate_banks.readers.kinds\[0\] == 'vit', must be one of \['wide_cnn', 'residual', 'mlp'\]"):
        parse_params({"evaluate_banks": {"readers": {"kinds": ["vit"]}}})
    with pytest.raises(ValueError, match="reader kind == 'vit'"):
        build_reader("vit")
