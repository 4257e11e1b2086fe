"""Tests of digitgen.loader: streaming shards back as batches and as a tf.data.Dataset, each shard checked against the contract."""

from __future__ import annotations

import numpy as np
import pytest
from test_shards import load_split, tiny_params

from digitgen import load_sequences, shards
from digitgen.contract import ContractError
from digitgen.errors import CorruptFileError, InputError
from digitgen.io import write_npz


@pytest.fixture
def dataset(tmp_path, mnist_npz):
    params = tiny_params()
    for split in ("train", "test"):
        shards.emit_split(split, params, mnist_npz, tmp_path / "banks", tmp_path / "seq" / split)
    return tmp_path / "seq"


def test_batches_cover_the_split_in_order(dataset):
    batches = list(load_sequences(dataset, "train", batch_size=16))
    assert [len(b["images"]) for b in batches] == [16, 16, 16, 16, 6]
    stored = load_split(dataset / "train")
    expected = np.concatenate([d["images"] for d in stored.values()])
    np.testing.assert_array_equal(np.concatenate([b["images"] for b in batches]), expected)
    assert batches[0]["labels"].dtype == np.int16 and batches[0]["boxes"].shape == (16, 5, 4)


def test_shuffle_is_a_seeded_permutation(dataset):
    def labels(seed):
        return np.concatenate([b["labels"] for b in load_sequences(dataset, "test", batch_size=7, shuffle=True, seed=seed)])

    plain = np.concatenate([b["labels"] for b in load_sequences(dataset, "test", batch_size=7)])
    first, again, other = labels(1), labels(1), labels(2)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, plain) and not np.array_equal(first, other)
    assert sorted(map(tuple, first)) == sorted(map(tuple, plain))


def test_reads_from_an_fsspec_url(tmp_path, mnist_npz):
    shards.emit_split("test", tiny_params(), mnist_npz, tmp_path / "banks", "memory://loader-test/seq/test", workers=1)
    batches = list(load_sequences("memory://loader-test/seq", "test", batch_size=100))
    assert len(batches) == 1 and batches[0]["images"].shape == (40, 28, 170)


def test_errors_name_the_problem(dataset, tmp_path):
    with pytest.raises(ValueError, match="split == 'valid', must be one of"):
        load_sequences(dataset, "valid")
    with pytest.raises(ValueError, match="batch_size == 0, must be a positive integer"):
        load_sequences(dataset, "train", batch_size=0)
    with pytest.raises(FileNotFoundError, match=r"no NPZ shards .* in '.*empty/train'"):
        load_sequences(tmp_path / "empty", "train")


def test_tf_dataset_yields_the_same_batches(dataset):
    import tensorflow as tf  # in requirements.txt: a missing one is a failure, not a skip

    loader = load_sequences(dataset, "train", batch_size=32)
    from_tf = list(loader.to_tf_dataset().as_numpy_iterator())
    from_numpy = list(loader)
    assert len(from_tf) == len(from_numpy) == 3
    for a, b in zip(from_tf, from_numpy):
        for key in b:
            np.testing.assert_array_equal(a[key], b[key])
    assert loader.to_tf_dataset().element_spec["images"].dtype == tf.uint8


def rewrite_shard(path, **changes):
    with np.load(path) as shard:
        data = {key: shard[key] for key in shard.files}
    for key, change in changes.items():
        if change is None:
            data.pop(key)
        else:
            data[key] = change(data[key])
    write_npz(path, data)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"labels": lambda a: a[:3]}, r"shard-00001.npz: labels has shape \(3, 5\), expected \(32, 5\)"),
        ({"boxes": None}, r"shard '.*shard-00001.npz': missing array\(s\) \['boxes'\]"),
        ({"source_index": lambda a: a.astype(np.int64)}, r"shard-00001.npz: source_index must be int32 with 2 dimensions, got int64 \(32, 5\)"),
        ({"images": lambda a: a[:, :, :160]}, r"shard-00001.npz: images are 160 px wide, expected 170 \(as in .*shard-00000.npz\)"),
    ],
)
def test_a_shard_that_breaks_the_contract_stops_the_stream_naming_it(dataset, changes, message):
    rewrite_shard(dataset / "train" / "shard-00001.npz", **changes)
    loader = load_sequences(dataset, "train", batch_size=16)
    batches = iter(loader)
    assert len(next(batches)["images"]) == 16  # the first shard streams
    with pytest.raises(InputError, match=message):
        list(batches)


def test_a_broken_first_shard_fails_at_once(dataset):
    rewrite_shard(dataset / "test" / "shard-00000.npz", lengths=lambda a: a[:-1])
    with pytest.raises(ContractError, match=r"test/shard-00000.npz: lengths has shape \(31,\), expected \(32,\)"):
        load_sequences(dataset, "test")
    (dataset / "test" / "shard-00000.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CorruptFileError, match=r"shard-00000.npz' is corrupt or truncated"):
        load_sequences(dataset, "test")
