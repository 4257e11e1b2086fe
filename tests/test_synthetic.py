"""Train-on-synthetic scores (digitgen.evaluate.synthetic): a fresh classifier of the evaluation design per source."""

from __future__ import annotations

import numpy as np
import pytest

from digitgen.classifier_training import build_model
from digitgen.evaluate.synthetic import tos_seed, train_on_synthetic, training_rows
from digitgen.params.all import parse_params


@pytest.fixture(scope="module")
def design():
    return build_model(parse_params({"train_classifier": {"filters": [4], "dense": 8}}).train_classifier)


def settings(**values):
    return parse_params({"evaluate_banks": {"train_on_synthetic": {"epochs": 1, **values}}}).evaluate_banks.train_on_synthetic


def test_the_score_is_the_accuracy_on_the_real_test_digits_is_reproducible_and_never_trains_the_design(design, mnist_arrays):
    a = mnist_arrays
    before = [w.copy() for w in design.get_weights()]
    first = train_on_synthetic(design, a["x_train"], a["y_train"], a["x_test"], a["y_test"], settings(), 5)
    for old, new in zip(before, design.get_weights()):  # only the architecture is copied
        np.testing.assert_array_equal(old, new)
    again = train_on_synthetic(design, a["x_train"], a["y_train"], a["x_test"], a["y_test"], settings(), 5)
    assert (first.accuracy, first.per_digit) == (again.accuracy, again.per_digit)
    assert 0 <= first.accuracy <= 1 and first.digits == 200 and sorted(first.per_digit) == [str(d) for d in range(10)]
    expected = np.mean([first.per_digit[str(d)] * np.sum(a["y_test"] == d) for d in range(10)]) * 10 / len(a["y_test"])
    assert first.accuracy == pytest.approx(expected)
    assert first.metrics(0.5)["gap"] == pytest.approx(first.accuracy - 0.5) and "gap" not in first.metrics()


def test_subsets_and_seeds_are_seeded_and_distinct_per_source():
    rows = training_rows(100, 30, seed=0, number=2)
    assert len(rows) == 30 and np.all(np.diff(rows) > 0)
    np.testing.assert_array_equal(rows, training_rows(100, 30, seed=0, number=2))
    assert not np.array_equal(rows, training_rows(100, 30, seed=0, number=3))
    assert len(training_rows(10, 30, seed=0, number=2)) == 10  # all of a smaller source
    assert tos_seed(0, 0) != tos_seed(1, 0) and 0 <= tos_seed(0, 0) < 2**32


def test_train_on_synthetic_params_are_checked():
    with pytest.raises(Exception, match=r"evaluate_banks.train_on_synthetic.digits == -1, must be an integer in 0..1000000"):
        settings(digits=-1)
