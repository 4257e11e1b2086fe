"""IDX read/write: byte layout, round trips, and errors that name the file and the field."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from digitgen.data import parse_idx, read_idx, write_idx


def _header(magic: int, *dims: int) -> bytes:
    return np.array([magic, *dims], dtype=">i4").tobytes()


def test_write_idx_bytes_follow_the_format(tmp_path: Path) -> None:
    labels = np.array([7, 0, 255], dtype=np.uint8)
    write_idx(tmp_path / "x-labels", labels)
    assert (tmp_path / "x-labels").read_bytes() == b"\x00\x00\x08\x01" + b"\x00\x00\x00\x03" + bytes([7, 0, 255])
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "x-images", images)
    assert (tmp_path / "x-images").read_bytes() == _header(2051, 2, 3, 4) + images.tobytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x-images", "x-labels"]  # no temporary files left


@pytest.mark.parametrize("key", ["x_train", "y_train", "x_test", "y_test"])
@pytest.mark.parametrize("compressed", [False, True])
def test_round_trip(tmp_path: Path, mnist_arrays: dict[str, np.ndarray], key: str, compressed: bool) -> None:
    name = "t-images-idx3-ubyte" if key.startswith("x") else "t-labels-idx1-ubyte"
    path = tmp_path / name
    write_idx(path, mnist_arrays[key])
    if compressed:
        path.write_bytes(gzip.compress(path.read_bytes()))
    array = read_idx(path)
    assert array.dtype == np.uint8
    assert array.shape == mnist_arrays[key].shape
    np.testing.assert_array_equal(array, mnist_arrays[key])


def test_parse_idx_wrong_magic() -> None:
    data = _header(1234, 1, 28, 28) + bytes(784)
    with pytest.raises(ValueError, match=r"^train-images-idx3-ubyte: magic number == 1234, expected 2051 \(images\)$"):
        parse_idx(data, "train-images-idx3-ubyte")


def test_parse_idx_unknown_name_accepts_both_kinds_only() -> None:
    assert parse_idx(_header(2049, 2) + b"\x01\x02", "blob").tolist() == [1, 2]
    assert parse_idx(_header(2051, 1, 1, 2) + b"\x01\x02", "blob").shape == (1, 1, 2)
    with pytest.raises(ValueError, match=r"blob: magic number == 2050 \(2-D uint8\), expected 2049 \(labels\) or 2051 \(images\)"):
        parse_idx(_header(2050, 1, 2) + b"\x01\x02", "blob")


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        # a labels file (1-D) where images (3-D) are expected, and the reverse
        ("train-images-idx3-ubyte", _header(2049, 3) + bytes(3), r"magic number == 2049 \(1-D uint8\), expected 2051 \(images\)"),
        ("t10k-labels-idx1-ubyte", _header(2051, 1, 2, 2) + bytes(4), r"magic number == 2051 \(3-D uint8\), expected 2049 \(labels\)"),
        ("t10k-images-idx3-ubyte", _header(2050, 4, 784) + bytes(4 * 784), r"magic number == 2050 \(2-D uint8\), expected 2051 \(images\)"),
    ],
)
def test_parse_idx_wrong_dimensions(name: str, data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name}: {message}$"):
        parse_idx(data, name)


def test_parse_idx_truncated_data() -> None:
    data = _header(2051, 3, 28, 28) + bytes(3 * 784 - 1)
    with pytest.raises(ValueError, match=r"^x-images: declared 3x28x28 = 2352 bytes of data, found 2351 \(truncated\)$"):
        parse_idx(data, "x-images")


def test_parse_idx_oversized_data() -> None:
    data = _header(2049, 5) + bytes(6)
    with pytest.raises(ValueError, match=r"^x-labels: declared 5 = 5 bytes of data, found 6 \(oversized\)$"):
        parse_idx(data, "x-labels")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x00", r"2 bytes, too short for an IDX magic number"),
        (_header(2051, 3, 28), r"header of 12 bytes, expected 16 \(magic and 3 dimension sizes\)"),
    ],
)
def test_parse_idx_truncated_header(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=rf"^x-images: {message}"):
        parse_idx(data, "x-images")


def test_read_idx_names_the_file_and_handles_truncated_gzip_content(tmp_path: Path) -> None:
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(_header(2049, 10) + bytes(9)))
    with pytest.raises(ValueError, match=rf"^{path}: declared 10 = 10 bytes of data, found 9 \(truncated\)$"):
        read_idx(path)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((2, 28), dtype=np.uint8), r"array has 2 dimensions, expected 1 \(labels\) or 3 \(images\)"),
        (np.zeros((2, 28, 28), dtype=np.float32), r"array dtype == float32, expected uint8"),
    ],
)
def test_write_idx_refuses_other_arrays(tmp_path: Path, array: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_idx(tmp_path / "out", array)
    assert list(tmp_path.iterdir()) == []
