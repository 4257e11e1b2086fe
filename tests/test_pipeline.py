"""End to end: `dvc repro` of the real dvc.yaml on a tiny synthetic `path` source in a temporary git repo."""

from __future__ import annotations

import copy
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from digitgen.data.idx import write_idx

ROOT = Path(__file__).resolve().parents[1]
IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def run(args, cwd, env):
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def _make_repo(base: Path, mnist_arrays) -> tuple[Path, dict, list[str]]:
    """A git + DVC repo holding the project's pipeline, with tiny params and a synthetic MNIST folder, in ``base``."""
    raw = base / "fixture"
    raw.mkdir()
    for key, name in IDX_NAMES.items():
        write_idx(raw / name, mnist_arrays[key])
    # the path source takes gzipped files as well as plain ones
    for name in ("train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"):
        (raw / f"{name}.gz").write_bytes(gzip.compress((raw / name).read_bytes(), mtime=0))
        (raw / name).unlink()

    repo = base / "repo"
    repo.mkdir()
    for item in ("dvc.yaml", ".dvcignore"):
        shutil.copy(ROOT / item, repo / item)
    for folder in ("stages", "digitgen"):
        shutil.copytree(ROOT / folder, repo / folder, ignore=shutil.ignore_patterns("__pycache__"))
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["download"].update(source="path", path=str(raw), verify=False)
    params["sequences"].update(width=180, shard_size=25, previews=3, workers=2)
    params["sequences"]["splits"]["train"]["count"] = 60
    params["sequences"]["splits"]["test"]["count"] = 30
    # 20 synthetic digits per class hold out 3 each: too few (and too alike) for rejection thresholds
    params["fit_kde"].update(rejection="none", bank_per_digit=10, mosaic_columns=5)
    # tiny neural generators: one epoch of a small network, small banks, a t-SNE of the 60 test digits
    tiny_vae = {"latent_size": 4, "filters": [4, 8], "hidden": 16, "epochs": 1, "batch_size": 32}
    params["train_cvae"].update(tiny_vae, bank_per_digit=10, mosaic_columns=5)
    tiny_judges = [{"filters": [4], "dense": 8, "epochs": 1}, {"filters": [4, 8], "dense": 8, "epochs": 1}]
    # a copy: one list object in two places would be written as a YAML alias, which params files refuse
    params["train_autoencoder"].update(copy.deepcopy(tiny_vae), judges=tiny_judges, refine_steps=3, count=20, previews=3)
    params["train_classifier"].update(epochs=1, filters=[8], dense=16)
    tiny_embedder = {"latent_size": 3, "hidden": [16], "epochs": 1, "batch_size": 32}
    params["latent_report"].update(
        tsne_samples=40, perplexity=5, reduction="tsne", reduced_size=2, min_cluster_size=5,
        autoencoder=copy.deepcopy(tiny_embedder), semisupervised={**copy.deepcopy(tiny_embedder), "class_weight": 0.95},
        clusters={"embedder": "semisupervised", "clusters": 4, "per_cluster": 5, "mosaic_columns": 5},
    )
    params["evaluate_banks"].update(train_on_synthetic={"digits": 100, "epochs": 1}, readers={"kinds": ["mlp"], "digits": 100, "epochs": 1})
    # tiny canvases, every export written by the stage
    params["canvases"].update(width=64, height=64, numbers={"min": 1, "max": 3}, length={"min": 1, "max": 2}, number_height=[10, 24],
                              shard_size=20, previews=3, workers=2, formats=["npz", "coco", "yolo", "parquet"])
    params["canvases"]["splits"]["train"]["count"] = 40
    params["canvases"]["splits"]["test"]["count"] = 20
    params["evaluate_canvases"].update(canvases_checked=20, canvas_previews=4)
    params["train_reader"].update(epochs=1, batch_size=16, filters=[4, 8], width_pools=2, dense=8, units=4,
                                  validation_sequences=8, errors_shown=4)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    env = dict(os.environ, DVC_NO_ANALYTICS="1", PYTHONPATH=str(repo))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    run(["git", "init", "-q"], repo, env)
    run(["git", "config", "user.email", "ci@example.invalid"], repo, env)
    run(["git", "config", "user.name", "ci"], repo, env)
    dvc = [sys.executable, "-m", "dvc"]
    run([*dvc, "init", "-q"], repo, env)
    run([*dvc, "config", "core.analytics", "false"], repo, env)
    run([*dvc, "config", "core.check_update", "false"], repo, env)
    return repo, env, dvc


@pytest.fixture(scope="module")
def built(tmp_path_factory, mnist_arrays):
    """The tiny pipeline, reproduced once for every test of this module: (repo, env, dvc command, log of the run)."""
    repo, env, dvc = _make_repo(tmp_path_factory.mktemp("pipeline"), mnist_arrays)
    return repo, env, dvc, run([*dvc, "repro"], repo, env)


@pytest.fixture
def repo(built, tmp_path):
    """A private copy of the reproduced tiny pipeline, for tests that change it."""
    source, env, dvc, _ = built
    copy = tmp_path / "repo"
    shutil.copytree(source, copy, symlinks=True)
    return copy, dict(env, PYTHONPATH=str(copy)), dvc


def _stages_run(log: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", log))


def test_dvc_repro_builds_every_stage_and_the_contract(built, mnist_arrays):
    repo, env, dvc, log = built
    assert _stages_run(log) == set(yaml.safe_load((repo / "dvc.yaml").read_text())["stages"])
    assert "Traceback" not in log and "cudart_stub" not in log  # quiet, useful logs

    raw = repo / "data" / "raw" / "mnist"
    assert sorted(p.name for p in raw.iterdir()) == sorted(IDX_NAMES.values())
    with np.load(repo / "data" / "interim" / "mnist.npz") as arrays:
        assert sorted(arrays.files) == ["x_test", "x_train", "y_test", "y_train"]
        for key, value in mnist_arrays.items():
            np.testing.assert_array_equal(arrays[key], value)
            assert arrays[key].dtype == np.uint8

    for split, count in (("train", 60), ("test", 30)):
        folder = repo / "outputs" / "sequences" / split
        shard_names = [f"shard-{i:05d}.npz" for i in range(-(-count // 25))]
        assert sorted(p.name for p in folder.glob("shard-*.npz")) == shard_names
        manifest = pd.read_csv(folder / "manifest.csv", dtype={"label": str})
        assert len(manifest) == count
        assert len(list((folder / "preview").glob("*.png"))) == 3
        with np.load(folder / "shard-00000.npz") as shard:
            assert shard["images"].shape == (25, 28, 180) and shard["images"].dtype == np.uint8
            assert shard["labels"].dtype == np.int16 and shard["boxes"].shape[2] == 4
            assert shard["source_names"].tolist() == ["real"]
            y = mnist_arrays[f"y_{split}"]
            for row in range(25):
                n = shard["lengths"][row]
                np.testing.assert_array_equal(y[shard["source_index"][row, :n]], shard["labels"][row, :n])

    assert "Data and pipelines are up to date" in run([*dvc, "status"], repo, env)
    shown = json.loads(run([*dvc, "metrics", "show", "--json"], repo, env).strip().splitlines()[-1])
    metrics = next(iter(shown.values()))["data"]["outputs/metrics/sequences.json"]["data"]
    assert metrics["train"]["count"] == 60 and metrics["test"]["count"] == 30
    assert metrics["test"]["source_fraction"] == {"real": 1.0}
    assert abs(sum(metrics["train"]["digit_fraction"].values()) - 1) < 1e-3
    assert (repo / "outputs" / "report" / "index.html").stat().st_size > 10_000

    for split, count in (("train", 40), ("test", 20)):
        folder = repo / "outputs" / "canvases" / split
        assert sorted(p.name for p in folder.glob("shard-*.npz")) == [f"shard-{i:05d}.npz" for i in range(count // 20)]
        assert len(pd.read_csv(folder / "manifest.csv")) == count
        assert len(list((folder / "coco" / "images").glob("*.png"))) == count and (folder / "coco" / "annotations.json").is_file()
        assert len(list((folder / "yolo" / "labels").glob("*.txt"))) == count and (folder / "yolo" / "data.yaml").is_file()
        assert len(list((folder / "parquet" / "data").glob("*.parquet"))) == count // 20
    checks = json.loads((repo / "outputs" / "metrics" / "canvas_checks.json").read_text())
    assert checks["test"]["contract_errors"] == 0 and checks["test"]["leaks"] == 0 and checks["train"]["canvases"] == 40
    assert "Detection canvases" in (repo / "outputs" / "report" / "index.html").read_text()


@pytest.mark.slow
def test_forcing_every_stage_to_run_again_changes_no_output(repo):
    """Whole-pipeline determinism: `dvc repro -f` leaves dvc.lock (every output hash) unchanged."""
    repo, env, dvc = repo
    lock = (repo / "dvc.lock").read_text()
    log = run([*dvc, "repro", "-f"], repo, env)
    assert {"download", "decode", "sequences", "train_cvae"} <= _stages_run(log)
    assert (repo / "dvc.lock").read_text() == lock


def test_a_sequences_change_reruns_exactly_the_sequences_their_evaluation_and_the_report(repo):
    repo, env, dvc = repo
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["sequences"]["width"] = 190
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    changed = {"sequences", "evaluate_sequences", "train_reader", "report"}  # the reader learns from the sequences
    status = run([*dvc, "status"], repo, env)
    assert set(re.findall(r"^(\w+):", status, flags=re.MULTILINE)) == {"sequences"}  # what changed; the rest follows
    log = run([*dvc, "repro"], repo, env)
    assert _stages_run(log) == changed, log  # the banks' scores and the digit readings stay as they are
    with np.load(repo / "outputs" / "sequences" / "test" / "shard-00000.npz") as shard:
        assert shard["images"].shape == (25, 28, 190)
    assert "Data and pipelines are up to date" in run([*dvc, "status"], repo, env)


def test_a_canvases_change_reruns_exactly_the_canvases_their_evaluation_and_the_report(repo):
    repo, env, dvc = repo
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["canvases"]["max_iou"] = 0.0
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    log = run([*dvc, "repro"], repo, env)
    assert _stages_run(log) == {"canvases", "evaluate_canvases", "report"}, log
    checks = json.loads((repo / "outputs" / "metrics" / "canvas_checks.json").read_text())
    assert checks["train"]["largest_iou"] == 0 and checks["train"]["max_iou"] == 0


def test_bad_params_stop_the_stage_with_one_line_before_it_writes(repo):
    repo, env, dvc = repo
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["sequences"]["splits"]["train"]["sources"] = {"real": 1.0, "gan": 1.0}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = subprocess.run([*dvc, "repro", "sequences"], cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "stage sequences: error: params.yaml: sequences.splits.train.sources == 'gan', is not a digit source" in output
    assert "Traceback" not in output
    # DVC removes a stage's outputs before running it; the stage itself must leave nothing behind
    written = [p for p in (repo / "outputs" / "sequences").rglob("*") if p.is_file() and p.name != ".gitignore"]
    leftovers = [p for p in (repo / "outputs").rglob(".tmp-*")]
    assert written == [] and leftovers == [] and not (repo / "outputs" / "metrics" / "sequences.json").exists()


def _wipe_cache_and_outputs(repo: Path) -> None:
    for folder in (repo / ".dvc" / "cache", repo / "data", repo / "outputs"):
        shutil.rmtree(folder, ignore_errors=True)


def _push_wipe_pull(repo, env, dvc, remote) -> None:
    """Push to ``remote``, delete the cache and every output, pull, and check nothing needs to run."""
    before = (repo / "outputs" / "sequences" / "train" / "shard-00001.npz").read_bytes()
    run([*dvc, "push", "-r", remote], repo, env)
    _wipe_cache_and_outputs(repo)
    assert "deleted" in run([*dvc, "status"], repo, env)
    run([*dvc, "pull", "-r", remote], repo, env)
    assert "Data and pipelines are up to date" in run([*dvc, "status"], repo, env)
    log = run([*dvc, "repro"], repo, env)
    assert "Running stage" not in log
    assert (repo / "outputs" / "sequences" / "train" / "shard-00001.npz").read_bytes() == before


def test_push_and_pull_through_a_local_and_an_s3_remote(repo, tmp_path):
    import boto3  # installed with dvc-s3 (requirements.txt): a missing one is a failure, not a skip
    import moto.server as moto_server

    repo, env, dvc = repo

    run([*dvc, "remote", "add", "local", str(tmp_path / "remote")], repo, env)
    _push_wipe_pull(repo, env, dvc, "local")

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        endpoint = "http://{}:{}".format(*server.get_host_and_port())
        env = dict(env, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
        s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
        s3.create_bucket(Bucket="digitgen-test")
        run([*dvc, "remote", "add", "s3", "s3://digitgen-test/store"], repo, env)
        run([*dvc, "remote", "modify", "s3", "endpointurl", endpoint], repo, env)
        _push_wipe_pull(repo, env, dvc, "s3")
        stored = s3.list_objects_v2(Bucket="digitgen-test", Prefix="store/")
        assert stored["KeyCount"] > 5
    finally:
        server.stop()


def _experiment_counts(shown: list) -> set[int]:
    counts = set()
    for commit in shown:
        for experiment in commit.get("experiments") or []:
            for revision in experiment["revs"]:
                counts.add(revision["data"]["metrics"]["outputs/metrics/sequences.json"]["data"]["train"]["count"])
    return counts


def _commit(repo, env) -> None:
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-q", "-m", "tiny pipeline"], repo, env)


def test_experiments_list_their_params_and_metrics(repo):
    repo, env, dvc = repo
    _commit(repo, env)
    for seed in (11, 12):
        log = run([*dvc, "exp", "run", "-S", f"sequences.seed={seed}", "-S", f"sequences.splits.train.count={50 + seed}"], repo, env)
        assert _stages_run(log) == {"sequences", "evaluate_sequences", "train_reader", "report"}  # the reader learns from the sequences
    assert _experiment_counts(json.loads(run([*dvc, "exp", "show", "--json"], repo, env))) == {61, 62}


@pytest.mark.slow
def test_experiment_queue_lists_metrics(repo):
    """The README's sweep: queued experiments run by `dvc queue start` (celery workers: about a minute)."""
    repo, env, dvc = repo
    _commit(repo, env)
    for seed in (11, 12):
        run([*dvc, "exp", "run", "--queue", "-S", f"sequences.seed={seed}", "-S", f"sequences.splits.train.count={50 + seed}"], repo, env)
    run([*dvc, "queue", "start", "--jobs", "1"], repo, env)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = run([*dvc, "queue", "status"], repo, env)
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(2)
    assert status.count("Success") == 2, status
    assert _experiment_counts(json.loads(run([*dvc, "exp", "show", "--json"], repo, env))) == {61, 62}
