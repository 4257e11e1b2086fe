"""Tests of digitgen.keras_train, the one training loop of the classifier, the judges and the VAEs."""

from __future__ import annotations

import logging

import keras
import numpy as np
import pytest
import tensorflow as tf

from digitgen.errors import InputError  # noqa: E402
from digitgen.keras_train import (  # noqa: E402
    EpochLog,
    batches,
    cosine_adam,
    holdout_split,
    train_model,
    validation_count,
)


def test_holdout_split_is_the_seeded_permutation_sorted_or_not():
    held, kept = holdout_split(20, 0.25, seed=3)
    order = np.random.default_rng(3).permutation(20)
    np.testing.assert_array_equal(held, order[:5])  # the classifier's split: in the permutation's order
    np.testing.assert_array_equal(kept, order[5:])
    sorted_held, sorted_kept = holdout_split(20, 0.25, seed=3, sort=True)  # the VAE's split: the same rows in row order
    np.testing.assert_array_equal(sorted_held, np.sort(order[:5]))
    np.testing.assert_array_equal(sorted_kept, np.sort(order[5:]))
    assert validation_count(20, 0.25) == 5 and validation_count(21, 0.05) == 1 and validation_count(9, 0.05) == 0
    held, kept = holdout_split(9, 0.05, seed=0)
    assert len(held) == 0 and sorted(kept.tolist()) == list(range(9))


def test_batches_shuffle_with_the_seed_map_and_keep_order_without_it():
    column = np.arange(10, dtype=np.int64)
    plain = [b[0].numpy().tolist() for b in batches([column], 4, lambda x: (x * 10,))]
    assert plain == [[0, 10, 20, 30], [40, 50, 60, 70], [80, 90]]
    tf.random.set_seed(0)
    first = [v for b in batches([column], 4, lambda x: (x,), shuffle_seed=5) for v in b[0].numpy().tolist()]
    tf.random.set_seed(0)
    again = [v for b in batches([column], 4, lambda x: (x,), shuffle_seed=5) for v in b[0].numpy().tolist()]
    assert first == again and sorted(first) == list(range(10)) and first != list(range(10))


def test_cosine_adam_decays_to_zero_over_the_steps():
    optimizer = cosine_adam(0.01, 100)
    assert isinstance(optimizer, keras.optimizers.Adam)
    schedule = optimizer._learning_rate
    assert float(schedule(0)) == pytest.approx(0.01) and float(schedule(50)) == pytest.approx(0.005) and float(schedule(100)) == pytest.approx(0.0)


def test_epoch_log_shows_metrics_derived_values_and_time(caplog):
    log = EpochLog(3, precision=2, derive=lambda logs: {"total": logs["a"] + logs["b"]})
    with caplog.at_level(logging.INFO, logger="digitgen.keras_train"):
        log.on_epoch_begin(0)
        log.on_epoch_end(0, {"a": 1.0, "b": 2.5})
    assert len(log.seconds) == 1 and log.seconds[0] >= 0
    assert caplog.records[-1].getMessage().startswith("epoch 1/3: a 1.00 b 2.50 total 3.50 (")


def tiny_model() -> keras.Model:
    inputs = keras.Input((3,))
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="out")(inputs))


def test_train_model_is_deterministic_and_reports_the_run():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)).astype(np.float32), rng.integers(0, 2, 40)
    fits = [
        train_model(tiny_model, (x, y), lambda a, b: (a, b), seed=1, epochs=2, batch_size=8, learning_rate=0.05, validation_fraction=0.25,
                    compile_args={"loss": "sparse_categorical_crossentropy"})
        for _ in range(2)
    ]
    for a, b in zip(fits[0].model.get_weights(), fits[1].model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert fits[0].history == fits[1].history and set(fits[0].history) == {"loss", "val_loss"}
    assert (fits[0].train_count, fits[0].validation_count) == (30, 10) and len(fits[0].seconds_per_epoch) == 2


def test_train_model_refuses_a_hold_out_that_leaves_nothing():
    with pytest.raises(InputError, match=r"^0 training digits leave none to train on after holding out train_classifier\.validation_fraction == 0\.1\.$"):
        train_model(tiny_model, (np.zeros((0, 3)),), lambda a: (a,), seed=0, epochs=1, batch_size=1, learning_rate=0.1,
                    validation_fraction=0.1, what="training digits", fraction_key="train_classifier.validation_fraction")
