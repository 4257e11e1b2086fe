"""Tests of digitgen.shards: the sharded dataset contract, determinism, atomicity, provenance."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from digitgen import contract, executors, shards
from digitgen.io import sha256_file, write_npz
from digitgen.params.all import parse_params


def tiny_params(**sequences):
    raw = {
        "seed": 5,
        "width": 170,
        "spacing": {"min": -2, "max": 6},
        "length": {"min": 1, "max": 5},
        "shard_size": 32,
        "previews": 5,
        "workers": 1,
        "splits": {"train": {"count": 70, "sources": {"real": 1.0}}, "test": {"count": 40, "sources": {"real": 1.0}}},
    }
    raw.update(sequences)
    return parse_params({"sequences": raw}).sequences


def load_split(path):
    out = {}
    for shard in sorted(path.glob("shard-*.npz")):
        with np.load(shard, allow_pickle=False) as archive:
            out[shard.name] = {key: archive[key] for key in archive.files}
    return out


def test_split_follows_the_contract(tmp_path, mnist_npz, mnist_arrays):
    summary = shards.emit_split("train", tiny_params(), mnist_npz, tmp_path / "banks", tmp_path / "train")
    assert (summary.count, summary.shards) == (70, 3)
    data = load_split(tmp_path / "train")
    assert list(data) == ["shard-00000.npz", "shard-00001.npz", "shard-00002.npz"]
    assert [len(d["images"]) for d in data.values()] == [32, 32, 6]
    manifest = pd.read_csv(tmp_path / "train" / "manifest.csv", dtype={"label": str})
    assert list(manifest.columns) == ["index", "shard", "row", "label", "length", "sources"]
    assert manifest["index"].tolist() == list(range(70))
    for name, d in data.items():
        n = len(d["images"])
        assert d["images"].dtype == np.uint8 and d["images"].shape == (n, 28, 170)
        assert d["labels"].dtype == np.int16 and d["labels"].shape == (n, 5)
        assert d["lengths"].dtype == np.int16 and d["lengths"].shape == (n,)
        assert d["boxes"].dtype == np.int16 and d["boxes"].shape == (n, 5, 4)
        assert d["sources"].dtype == np.int8 and d["source_index"].dtype == np.int32
        assert d["source_names"].tolist() == ["real"]
        rows = manifest[manifest["shard"] == name]
        for row in range(n):
            length = int(d["lengths"][row])
            assert 1 <= length <= 5
            pad = slice(length, None)
            assert np.all(d["labels"][row, pad] == -1) and np.all(d["boxes"][row, pad] == -1)
            assert np.all(d["sources"][row, pad] == -1) and np.all(d["source_index"][row, pad] == -1)
            labels = d["labels"][row, :length]
            assert rows.iloc[row]["label"] == "".join(map(str, labels))
            assert rows.iloc[row]["sources"] == "|".join(["real"] * length)
            # provenance: each digit is the training digit its source_index names, and carries its label
            np.testing.assert_array_equal(mnist_arrays["y_train"][d["source_index"][row, :length]], labels)
            for k in range(length):
                x0, y0, x1, y1 = d["boxes"][row, k]
                assert 0 <= x0 < x1 <= 170 and 0 <= y0 < y1 <= 28
                digit = mnist_arrays["x_train"][d["source_index"][row, k]]
                crop = d["images"][row, y0:y1, x0:x1]
                assert np.all(crop >= _ink_of(digit))  # max-merge never removes a digit's own ink


def _ink_of(digit):
    cols = np.flatnonzero(digit.max(axis=0))
    rows = np.flatnonzero(digit.max(axis=1))
    return digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def test_test_split_uses_test_digits_only(tmp_path, mnist_npz, mnist_arrays):
    shards.emit_split("test", tiny_params(), mnist_npz, tmp_path / "banks", tmp_path / "test")
    for d in load_split(tmp_path / "test").values():
        for row in range(len(d["images"])):
            length = int(d["lengths"][row])
            idx = d["source_index"][row, :length]
            np.testing.assert_array_equal(mnist_arrays["y_test"][idx], d["labels"][row, :length])
            x0, y0, x1, y1 = d["boxes"][row, 0]
            np.testing.assert_array_equal(d["images"][row, y0:y1, x0:x1] >= _ink_of(mnist_arrays["x_test"][idx[0]]), True)
    info = json.loads((tmp_path / "test" / "info.json").read_text())
    assert info["sources"] == [
        {"name": "real", "weight": 1.0, "file": "mnist.npz", "sha256": sha256_file(mnist_npz), "digits_from": "mnist test split"}
    ]


def test_previews_are_capped_and_named_by_index_and_label(tmp_path, mnist_npz):
    shards.emit_split("train", tiny_params(previews=5), mnist_npz, tmp_path / "banks", tmp_path / "train")
    manifest = pd.read_csv(tmp_path / "train" / "manifest.csv", dtype={"label": str})
    names = sorted(p.name for p in (tmp_path / "train" / "preview").iterdir())
    expected = sorted(f"{i}_{manifest['label'][i]}.png" for i in range(5))
    assert names == expected


def test_same_params_give_byte_identical_shards_whatever_the_workers(tmp_path, mnist_npz):
    params = tiny_params()
    shards.emit_split("train", params, mnist_npz, tmp_path / "banks", tmp_path / "one", workers=1)
    shards.emit_split("train", params, mnist_npz, tmp_path / "banks", tmp_path / "two", workers=2)
    shards.emit_split("train", params, mnist_npz, tmp_path / "banks", tmp_path / "again", workers=1)
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*") if p.is_file())
    assert len(files) == 3 + 5 + 2
    for rel in files:
        digest = sha256_file(tmp_path / "one" / rel)
        assert digest == sha256_file(tmp_path / "two" / rel) == sha256_file(tmp_path / "again" / rel), rel


def test_seed_changes_the_data(tmp_path, mnist_npz):
    shards.emit_split("train", tiny_params(seed=1), mnist_npz, tmp_path / "banks", tmp_path / "a")
    shards.emit_split("train", tiny_params(seed=2), mnist_npz, tmp_path / "banks", tmp_path / "b")
    assert sha256_file(tmp_path / "a" / "shard-00000.npz") != sha256_file(tmp_path / "b" / "shard-00000.npz")


def test_digit_weights_are_respected(tmp_path, mnist_npz):
    weights = [0, 0, 0, 1, 0, 0, 0, 3, 0, 0]
    shards.emit_split("train", tiny_params(digit_weights=weights), mnist_npz, tmp_path / "banks", tmp_path / "w")
    labels = np.concatenate([d["labels"].ravel() for d in load_split(tmp_path / "w").values()])
    labels = labels[labels >= 0]
    assert set(labels.tolist()) == {3, 7}
    assert 0.6 < np.mean(labels == 7) < 0.9


def test_generated_bank_sources_are_recorded(tmp_path, mnist_npz, mnist_arrays):
    banks = tmp_path / "banks"
    fake = np.full((20, 28, 28), 0, np.uint8)
    fake[:, 10:18, 10:18] = 255
    write_npz(banks / "kde.npz", {"images": fake, "labels": np.resize(np.arange(10, dtype=np.int16), 20)})
    params = tiny_params(splits={"train": {"count": 64, "sources": {"real": 1, "kde": 1}}, "test": {"count": 8}})
    shards.emit_split("train", params, mnist_npz, banks, tmp_path / "train")
    d = load_split(tmp_path / "train")["shard-00000.npz"]
    assert d["source_names"].tolist() == ["real", "kde"]
    used = d["sources"][d["sources"] >= 0]
    assert set(used.tolist()) == {0, 1}
    kde = d["sources"] == 1
    assert d["source_index"][kde].max() < 20
    info = json.loads((tmp_path / "train" / "info.json").read_text())
    assert [s["name"] for s in info["sources"]] == ["real", "kde"]


def test_missing_inputs_fail_before_anything_is_written(tmp_path, mnist_npz):
    params = tiny_params(splits={"train": {"count": 10, "sources": {"real": 1, "cvae": 1}}, "test": {"count": 8}})
    with pytest.raises(FileNotFoundError, match=r"bank .*cvae.npz.* for source 'cvae' .* does not exist"):
        shards.emit_split("train", params, mnist_npz, tmp_path / "banks", tmp_path / "out")
    with pytest.raises(FileNotFoundError, match=r"MNIST arrays .*nothing.npz.* do not exist; run `dvc repro decode`"):
        shards.emit_split("train", tiny_params(), tmp_path / "nothing.npz", tmp_path / "banks", tmp_path / "out")
    assert list(tmp_path.iterdir()) == [mnist_npz]


def test_failure_mid_split_leaves_previous_output_and_no_temporaries(tmp_path, mnist_npz, monkeypatch):
    out = tmp_path / "out" / "train"
    shards.emit_split("train", tiny_params(), mnist_npz, tmp_path / "banks", out)
    before = {p.name: sha256_file(p) for p in out.glob("*.npz")}
    real_make_shard = shards.make_shard

    def failing(pool, params, split, shard, size):
        if shard == 2:
            raise RuntimeError("disk full")
        return real_make_shard(pool, params, split, shard, size)

    monkeypatch.setattr(shards, "make_shard", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        shards.emit_split("train", tiny_params(seed=99), mnist_npz, tmp_path / "banks", out, workers=1)
    assert {p.name: sha256_file(p) for p in out.glob("*.npz")} == before
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["train"]


def test_shard_rng_depends_only_on_seed_split_and_shard():
    a = shards.shard_rng(1, "train", 3).integers(0, 1 << 30, 4)
    assert np.array_equal(a, shards.shard_rng(1, "train", 3).integers(0, 1 << 30, 4))
    assert not np.array_equal(a, shards.shard_rng(1, "test", 3).integers(0, 1 << 30, 4))
    assert not np.array_equal(a, shards.shard_rng(1, "train", 4).integers(0, 1 << 30, 4))


def test_resolve_workers():
    assert executors.resolve_workers(3) == 3
    assert executors.resolve_workers(0) >= 1


def test_params_are_frozen_and_picklable():
    import pickle

    params = tiny_params()
    assert pickle.loads(pickle.dumps(params)) == params
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.seed = 3


def test_webdataset_tar_shards_hold_png_and_json_per_sequence(tmp_path, mnist_npz):
    import io
    import tarfile

    from PIL import Image

    params = tiny_params(formats=["npz", "webdataset"])
    shards.emit_split("train", params, mnist_npz, tmp_path / "banks", tmp_path / "a")
    shards.emit_split("train", params, mnist_npz, tmp_path / "banks", tmp_path / "b", workers=2)
    assert sha256_file(tmp_path / "a" / "shard-00001.tar") == sha256_file(tmp_path / "b" / "shard-00001.tar")
    npz = load_split(tmp_path / "a")["shard-00001.npz"]
    with tarfile.open(tmp_path / "a" / "shard-00001.tar") as tar:
        names = tar.getnames()
        assert names[:4] == ["000032.png", "000032.json", "000033.png", "000033.json"] and len(names) == 64
        image = np.asarray(Image.open(io.BytesIO(tar.extractfile("000033.png").read())))
        record = json.loads(tar.extractfile("000033.json").read())
    np.testing.assert_array_equal(image, npz["images"][1])
    length = int(npz["lengths"][1])
    assert record["labels"] == npz["labels"][1, :length].tolist() and record["length"] == length
    assert record["boxes"] == npz["boxes"][1, :length].tolist() and record["sources"] == ["real"] * length
    assert record["index"] == 33 and record["row"] == 1 and record["label"] == "".join(map(str, record["labels"]))


def test_webdataset_only(tmp_path, mnist_npz):
    shards.emit_split("test", tiny_params(formats=["webdataset"]), mnist_npz, tmp_path / "banks", tmp_path / "w")
    assert sorted(p.name for p in (tmp_path / "w").glob("shard-*")) == ["shard-00000.tar", "shard-00001.tar"]
    manifest = pd.read_csv(tmp_path / "w" / "manifest.csv")
    assert manifest["shard"].tolist()[:1] == ["shard-00000.tar"]


def test_statistics_in_info_and_metrics(tmp_path, mnist_npz):
    summary = shards.emit_split("train", tiny_params(), mnist_npz, tmp_path / "banks", tmp_path / "s")
    info = json.loads((tmp_path / "s" / "info.json").read_text())
    manifest = pd.read_csv(tmp_path / "s" / "manifest.csv", dtype={"label": str})
    digits = np.bincount([int(c) for c in "".join(manifest["label"])], minlength=10)
    assert info["statistics"]["digit_counts"] == digits.tolist()
    assert info["statistics"]["length_counts"] == np.bincount(manifest["length"], minlength=6).tolist()
    assert info["statistics"]["source_counts"] == {"real": int(digits.sum())}
    metrics = shards.dataset_metrics([summary])["train"]
    assert metrics["count"] == 70 and metrics["mean_length"] == round(manifest["length"].mean(), 4)
    assert metrics["source_fraction"] == {"real": 1.0}


def test_url_destination_writes_the_same_bytes(tmp_path, mnist_npz):
    import fsspec

    params = tiny_params()
    shards.emit_split("test", params, mnist_npz, tmp_path / "banks", tmp_path / "local")
    shards.emit_split("test", params, mnist_npz, tmp_path / "banks", "memory://digitgen-test/test")
    fs = fsspec.filesystem("memory")
    assert sorted(p.rsplit("/", 1)[1] for p in fs.find("/digitgen-test/test") if "/preview/" not in p) == [
        "info.json", "manifest.csv", "shard-00000.npz", "shard-00001.npz"
    ]
    for name in ("shard-00000.npz", "shard-00001.npz", "manifest.csv"):
        assert fs.cat_file(f"/digitgen-test/test/{name}") == (tmp_path / "local" / name).read_bytes()


def test_dask_executor_matches_the_local_executor(tmp_path, mnist_npz):
    import distributed  # in requirements.txt: a missing one is a failure, not a skip

    params = tiny_params(formats=["npz", "webdataset"])
    shards.emit_split("train", params, mnist_npz, tmp_path / "banks", tmp_path / "local", workers=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None, processes=True) as cluster:
        dask_params = dataclasses.replace(params, executor="dask", scheduler=cluster.scheduler_address)
        shards.emit_split("train", dask_params, mnist_npz, tmp_path / "banks", tmp_path / "dask")
    files = sorted(p.relative_to(tmp_path / "local") for p in (tmp_path / "local").rglob("*") if p.is_file() and p.name != "info.json")
    assert len(files) == 3 + 3 + 5 + 1
    for rel in files:
        assert sha256_file(tmp_path / "local" / rel) == sha256_file(tmp_path / "dask" / rel), rel


def test_unreachable_scheduler_fails_fast_and_writes_nothing(tmp_path, mnist_npz):
    import socket
    import time

    with socket.socket() as probe:  # a free port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    params = tiny_params(executor="dask", scheduler=f"tcp://127.0.0.1:{port}", scheduler_timeout=2)
    start = time.monotonic()
    with pytest.raises(ConnectionError, match=rf"could not reach the Dask scheduler at 'tcp://127.0.0.1:{port}' within 2 s"):
        shards.emit_split("train", params, mnist_npz, tmp_path / "banks", tmp_path / "out")
    assert time.monotonic() - start < 20
    assert list(tmp_path.iterdir()) == [mnist_npz]


EVERY_OPTION = {
    "height": 40,
    "width": 300,
    "digit": {"scale": [0.8, 1.2], "rotation": 12, "shear": 10, "offset_y": 2, "thickness": 0.8},
    "degrade": {"blur": {"p": 0.5}, "noise": {"p": 0.5}, "background": {"p": 0.5}, "invert": {"p": 0.3}},
}


def test_every_layout_option_on_gives_byte_identical_shards_whatever_the_workers(tmp_path, mnist_npz):
    params = tiny_params(**EVERY_OPTION)
    shards.emit_split("train", params, mnist_npz, tmp_path / "banks", tmp_path / "one", workers=1)
    shards.emit_split("train", params, mnist_npz, tmp_path / "banks", tmp_path / "two", workers=2)
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*") if p.is_file())
    for rel in files:
        assert sha256_file(tmp_path / "one" / rel) == sha256_file(tmp_path / "two" / rel), rel
    info = json.loads((tmp_path / "one" / "info.json").read_text())
    assert info["image_shape"] == [40, 300]


def test_a_layout_shard_has_the_height_asked_and_boxes_inside(tmp_path, mnist_npz):
    params = tiny_params(**EVERY_OPTION)
    pool = shards.SourcePool(shards.plan_sources("train", params, mnist_npz, tmp_path / "banks"))
    arrays = shards.make_shard(pool, params, "train", 0, 20)
    layout = contract.check_shard(arrays, "made")
    assert arrays["images"].shape == (20, 40, 300) and layout.height == 40
    assert not any(bad.any() for _, bad in contract.value_problems(arrays, layout))


def test_the_variation_draws_change_no_other_draw(tmp_path, mnist_npz):
    plain = tiny_params()
    varied = tiny_params(width=230, digit={"rotation": 10})
    pool = shards.SourcePool(shards.plan_sources("train", plain, mnist_npz, tmp_path / "banks"))
    a = shards.make_shard(pool, plain, "train", 0, 20)
    b = shards.make_shard(pool, varied, "train", 0, 20)
    for key in ("labels", "lengths", "sources", "source_index"):
        np.testing.assert_array_equal(a[key], b[key])
