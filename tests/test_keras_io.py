"""Fast inference of loaded Keras models: the same numbers as ``model.predict``."""

from __future__ import annotations

import numpy as np
import pytest

from digitgen.keras_io import infer


@pytest.fixture(scope="module")
def two_in_two_out():
    import keras

    keras.utils.set_random_seed(0)
    codes, labels = keras.Input((3,)), keras.Input((10,))
    hidden = keras.layers.Dense(16, activation="relu")(keras.layers.Concatenate()([codes, labels]))
    pixels = keras.layers.Reshape((4, 4, 1))(keras.layers.Dense(16)(hidden))
    image = keras.layers.Conv2D(2, 3, padding="same")(pixels)
    return keras.Model([codes, labels], [hidden, image])


@pytest.mark.parametrize("rows", [1, 7, 40])
def test_infer_gives_what_predict_gives_bit_for_bit(two_in_two_out, rows):
    rng = np.random.default_rng(rows)
    inputs = [rng.standard_normal((rows, 3)).astype(np.float32), np.eye(10, dtype=np.float32)[rng.integers(0, 10, rows)]]
    expected = two_in_two_out.predict(inputs, batch_size=16, verbose=0)
    got = infer(two_in_two_out, inputs, 16)
    assert len(got) == 2
    for a, b in zip(expected, got):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def test_infer_of_a_single_output_model_and_of_no_rows():
    import keras

    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(2)])
    x = np.arange(15, dtype=np.float32).reshape(3, 5)
    np.testing.assert_array_equal(infer(model, x, 2), model.predict(x, batch_size=2, verbose=0))  # same blocks, same kernels
    with pytest.raises(ValueError, match="inputs hold no rows"):
        infer(model, x[:0], 2)
