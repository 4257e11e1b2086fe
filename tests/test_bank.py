"""Tests of digitgen.bank: drawing digits by label and the bank file contract."""

from __future__ import annotations

import numpy as np
import pytest

from digitgen.bank import DigitBank, bank_path, load_bank
from digitgen.data.cache import load_real_bank
from digitgen.io import write_npz


def test_draw_returns_rows_with_the_requested_label(mnist_arrays):
    bank = DigitBank("real", mnist_arrays["x_train"], mnist_arrays["y_train"].astype(np.int16))
    digits = np.random.default_rng(0).integers(0, 10, size=(40, 5))
    rows = bank.draw(digits, np.random.default_rng(1))
    assert rows.shape == (40, 5)
    np.testing.assert_array_equal(bank.labels[rows], digits)
    np.testing.assert_array_equal(rows, bank.draw(digits, np.random.default_rng(1)))


def test_draw_covers_every_image_of_a_digit(mnist_arrays):
    bank = DigitBank("real", mnist_arrays["x_train"], mnist_arrays["y_train"].astype(np.int16))
    rows = bank.draw(np.full(5000, 4), np.random.default_rng(0))
    assert set(rows.tolist()) == set(np.flatnonzero(bank.labels == 4).tolist())


def test_draw_of_a_missing_digit_names_it():
    bank = DigitBank("kde", np.zeros((2, 28, 28), np.uint8), np.array([1, 1], np.int16))
    with pytest.raises(ValueError, match=r"bank 'kde' holds no image of digit\(s\) \[3\]"):
        bank.draw(np.array([1, 3]), np.random.default_rng(0))


def test_bad_images_are_refused():
    with pytest.raises(ValueError, match=r"images must be uint8 \(N, 28, 28\), got float32"):
        DigitBank("x", np.zeros((2, 28, 28), np.float32), np.zeros(2, np.int16))
    with pytest.raises(ValueError, match="labels must be digits 0-9, found 0..11"):
        DigitBank("x", np.zeros((2, 28, 28), np.uint8), np.array([0, 11], np.int16))


def test_load_bank_round_trip_and_contract(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    write_npz(tmp_path / "kde.npz", {"images": images, "labels": np.arange(5, dtype=np.int16)})
    bank = load_bank(tmp_path / "kde.npz")
    assert bank.name == "kde"
    np.testing.assert_array_equal(bank.images, images)
    write_npz(tmp_path / "bad.npz", {"images": images, "labels": np.arange(5, dtype=np.int64)})
    with pytest.raises(ValueError, match="bad.npz: labels must be int16, found int64"):
        load_bank(tmp_path / "bad.npz")
    write_npz(tmp_path / "nolabels.npz", {"images": images})
    with pytest.raises(ValueError, match=r"nolabels.npz': missing array\(s\) \['labels'\]; found \['images'\]"):
        load_bank(tmp_path / "nolabels.npz")
    with pytest.raises(FileNotFoundError, match="bank file .*cvae.npz.* for source 'cvae' does not exist"):
        load_bank(tmp_path / "cvae.npz")


def test_bank_path_refuses_unknown_sources(tmp_path):
    assert bank_path(tmp_path, "kde") == tmp_path / "kde.npz"
    with pytest.raises(ValueError, match=r"source == 'gan', must be a generated bank, one of \['augmented', 'kde', 'cvae', 'ambiguous', 'clusters'\]"):
        bank_path(tmp_path, "gan")


def test_load_real_bank_reads_the_split(mnist_npz, mnist_arrays):
    bank = load_real_bank("train", mnist_npz)
    np.testing.assert_array_equal(bank.images, mnist_arrays["x_train"])
    assert bank.labels.dtype == np.int16
    with pytest.raises(ValueError, match=r"split == 'valid', must be one of \['train', 'test'\]"):
        load_real_bank("valid", mnist_npz)
