"""The studio's HTTP API (FastAPI test client) on tiny fitted models: every endpoint, every bad input, determinism,
and the command line shown writing the same bytes."""

from __future__ import annotations

import asyncio
import io
import json
import re
import shlex

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from studio_models import shared_inputs

from digitgen import contract
from digitgen.studio.app import create_app, page_html
from digitgen.studio.limits import Limits
from digitgen.studio.registry import Paths, Registry


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, mnist_arrays):
    return shared_inputs(tmp_path_factory, mnist_arrays)


def _registry(inputs, models=None, banks=None) -> Registry:
    registry = Registry(Paths(models=models or inputs["models"], banks=banks or inputs["banks"], data=inputs["data"],
                              models_given=True, banks_given=True))
    registry.load()
    return registry


@pytest.fixture(scope="module")
def registry(inputs):
    registry = _registry(inputs)
    yield registry
    registry.close()


@pytest.fixture(scope="module")
def client(registry):
    with TestClient(create_app(registry)) as client:
        yield client


def _png(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)))


def _npz(response) -> dict[str, np.ndarray]:
    assert response.status_code == 200, response.text
    with np.load(io.BytesIO(response.content), allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def _grid(rows: int, columns: int) -> tuple[int, int]:
    """Size of a mosaic of 28 x 28 digits with 2-pixel gaps."""
    return rows * 30 - 2, columns * 30 - 2


SEQ = "/api/sequence?digits=2934&min=0&max=10&width=200&seed=1"


# ------------------------------------------------------------------ health, options, page


def test_health_lists_every_source(client):
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert set(body["sources"]["digits"]) == {"real", "augmented", "kde", "cvae", "ambiguous"}
    assert all(status["available"] for status in body["sources"]["digits"].values())
    assert body["sources"]["classifier"]["available"]
    assert body["sources"]["sequence"]["real"]["available"] and body["sources"]["sequence"]["kde"]["available"]
    assert not body["sources"]["sequence"]["ambiguous"]["available"]  # no ambiguous bank in the fixture
    assert "dvc repro train_autoencoder" in body["sources"]["sequence"]["ambiguous"]["message"]


def test_options_come_from_the_params_rules(client):
    from digitgen.sequence import layout_options

    body = client.get("/api/options").json()
    names = {option["name"] for option in body["sequence"]["options"]}
    assert {"min", "max", "measure", "width", "mode", "align"} <= names
    expected = {{"spacing.min": "min", "spacing.max": "max", "spacing.measure": "measure"}.get(key, key) for key in layout_options()}
    assert names == expected
    assert any(name.startswith("degrade.") for name in names)
    width = next(option for option in body["sequence"]["options"] if option["name"] == "width")
    assert (width["kind"], width["min"], width["max"], width["default"]) == ("integer", 1, 8192, 200)
    assert body["limits"]["max_digits"] == 256
    assert "medium" in body["kde"]["rejection_levels"] and "aggressive" in body["kde"]["cleaning_levels"]
    assert body["augment"] and all("." not in option["name"] or option["name"].split(".")[0] for option in body["augment"])


def test_page_is_self_contained(client):
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert html == page_html()
    assert "/*STUDIO_CSS*/" not in html and "//STUDIO_JS" not in html
    assert "function" in html and "font-family" in html  # the script and the stylesheet are inlined
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert not re.search(r"@import|url\(\s*['\"]?https?:|<link\b", html)
    assert "fetch(\"/api/" in html or "fetch('/api/" in html


def test_unknown_route_is_json_404(client):
    response = client.get("/api/nothing")
    assert response.status_code == 404 and "error" in response.json()


# ------------------------------------------------------------------ /api/sequence


def test_sequence_png_size_and_determinism(client):
    first = client.get(SEQ)
    image = _png(first)
    assert image.shape == (28, 200) and image.dtype == np.uint8 and image.max() > 0
    assert first.headers["x-digitgen-seed"] == "1"
    assert client.get(SEQ).content == first.content
    assert client.get(SEQ.replace("seed=1", "seed=2")).content != first.content
    assert _png(client.get("/api/sequence?digits=29&min=0&max=0&width=tight&seed=1")).shape == (28, 56)


def test_sequence_without_seed_reports_the_seed_it_used(client):
    response = client.get("/api/sequence?digits=12&min=0&max=4&width=100")
    seed = response.headers["x-digitgen-seed"]
    assert client.get(f"/api/sequence?digits=12&min=0&max=4&width=100&seed={seed}").content == response.content


def test_sequence_npz_is_a_one_row_shard(client):
    arrays = _npz(client.get(SEQ + "&format=npz"))
    contract.check_shard(arrays, "sequence")
    assert arrays["images"].shape == (1, 28, 200)
    assert arrays["labels"][0].tolist() == [2, 9, 3, 4] and arrays["lengths"].tolist() == [4]
    assert np.array_equal(arrays["images"][0], _png(client.get(SEQ)))


def test_sequence_json(client):
    body = client.get(SEQ + "&format=json").json()
    assert (body["width"], body["height"], body["labels"], body["seed"]) == (200, 28, [2, 9, 3, 4], 1)
    assert body["png"].startswith("data:image/png;base64,")
    assert body["command"].startswith("digitgen sequence 2934 0 10 200 --seed 1")


def test_sequence_layout_options_and_sources(client):
    base = _png(client.get(SEQ))
    aligned = client.get(SEQ + "&align=center")
    assert _png(aligned).shape == (28, 200) and aligned.content != client.get(SEQ).content
    assert "--align center" in aligned.headers["x-digitgen-command"]
    assert _png(client.get(SEQ + "&source=kde")).shape == (28, 200)
    assert _png(client.get(SEQ + "&split=train")).shape == base.shape


@pytest.mark.parametrize(
    "query, status, parameter",
    [
        ("digits=2934&min=0&max=10&width=20&seed=1", 422, "width"),
        ("digits=2934&min=0&max=10&width=100000&seed=1", 422, "width"),
        ("digits=29a4&min=0&max=10&width=200", 422, "digits"),
        ("digits=" + "1" * 65 + "&min=0&max=0&width=tight", 422, "digits length"),
        ("digits=2934&min=5&max=2&width=200", 422, "min"),
        ("digits=2934&min=-28&max=2&width=200", 422, "min"),
        ("digits=2934&min=0&max=ten&width=200", 422, "max"),
        ("digits=2934&min=0&max=10&width=200&seed=-1", 422, "seed"),
        ("digits=2934&min=0&max=10&width=200&seed=1.5", 422, "seed"),
        ("digits=2934&min=0&max=10&width=200&format=bmp", 422, "format"),
        ("digits=2934&min=0&max=10&width=200&source=nowhere", 422, "source"),
        ("digits=2934&min=0&max=10&width=200&split=val", 422, "split"),
        ("digits=2934&min=0&max=10&width=200&mode=spiral", 422, "mode"),
        ("digits=2934&min=0&max=10&width=200&align=up", 422, "align"),
        ("digits=2934&min=0&max=10&width=200&colour=red", 400, "colour"),
        ("digits=2934&digits=1&min=0&max=10&width=200", 400, "digits"),
        ("digits=2934&min=0&max=10", 400, "width"),
        ("digits=2934&min=0&max=10&width=200&source=ambiguous", 503, None),
    ],
)
def test_sequence_bad_input_is_json_naming_the_parameter(client, query, status, parameter):
    response = client.get("/api/sequence?" + query)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] and "Traceback" not in body["error"] and "\n" not in body["error"]
    if parameter is not None:
        assert body["parameter"] == parameter


def test_too_small_width_says_the_minimum_width(client):
    body = client.get("/api/sequence?digits=2934&min=0&max=10&width=20&seed=1").json()
    assert body["minimum_width"] == 142 and body["value"] == "20"
    assert "the minimum width is 142" in body["error"]


def test_missing_bank_names_its_stage(client):
    body = client.get(SEQ + "&source=ambiguous").json()
    assert "dvc repro train_autoencoder" in body["error"]


# ------------------------------------------------------------------ /api/digits


@pytest.mark.parametrize("generator, extra", [("real", ""), ("augmented", "&rotation=15"), ("kde", "&rejection=light&cleaning=medium"),
                                              ("kde", "&rejection=30"), ("cvae", "&temperature=0.5")])
def test_digits_grid_size_and_determinism(client, generator, extra):
    url = f"/api/digits?generator={generator}&digit=7&n=12&seed=3&columns=5" + extra
    first = client.get(url)
    assert _png(first).shape == _grid(3, 5)
    assert client.get(url).content == first.content
    assert client.get(url.replace("seed=3", "seed=4")).content != first.content


def test_kde_global_model_without_digit(client):
    assert _png(client.get("/api/digits?generator=kde&n=16&seed=1")).shape == _grid(2, 8)


def test_digits_npz_and_json(client):
    arrays = _npz(client.get("/api/digits?generator=cvae&digit=7&n=6&seed=1&format=npz"))
    contract.check_shard(arrays, "digits")
    assert arrays["images"].shape == (6, 28, 28) and arrays["labels"][:, 0].tolist() == [7] * 6
    body = client.get("/api/digits?generator=cvae&digit=7&n=6&seed=1&format=json").json()
    assert body["labels"] == [7] * 6 and body["columns"] == 6 and body["png"].startswith("data:image/png")


@pytest.mark.parametrize(
    "query, status, parameter",
    [
        ("generator=kde&n=257", 422, "n"),
        ("generator=kde&n=0", 422, "n"),
        ("generator=kde&n=many", 422, "n"),
        ("generator=gan&n=4", 422, "generator"),
        ("generator=kde&digit=10", 422, "digit"),
        ("generator=kde&rejection=extreme", 422, "rejection"),
        ("generator=kde&rejection=100", 422, "rejection"),
        ("generator=kde&cleaning=total", 422, "cleaning"),
        ("generator=cvae&temperature=0", 422, "temperature"),
        ("generator=cvae&temperature=nan", 422, "temperature"),
        ("generator=cvae&rejection=light", 422, "rejection"),
        ("generator=kde&temperature=1", 422, "temperature"),
        ("generator=kde&rotation=10", 422, "rotation"),
        ("generator=augmented&rotation=1000", 422, "rotation"),
        ("generator=kde&columns=0", 422, "columns"),
        ("generator=kde&format=gif", 422, "format"),
        ("generator=kde&style=bold", 400, "style"),
        ("generator=kde&n=2&n=3", 400, "n"),
    ],
)
def test_digits_bad_input(client, query, status, parameter):
    response = client.get("/api/digits?" + query)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["parameter"] == parameter and body["error"] and "Traceback" not in body["error"]


def test_bad_value_names_what_is_allowed(client):
    body = client.get("/api/digits?generator=kde&n=257").json()
    assert body == {"error": "n == 257, must be an integer in 1..256.", "parameter": "n", "value": "257", "allowed": "must be an integer in 1..256"}


# ------------------------------------------------------------------ /api/ambiguous


def test_ambiguous_json_series_kept_and_probabilities(client):
    body = client.get("/api/ambiguous?a=4&b=9&seed=1&format=json").json()
    (row,) = body["series"]
    assert row["pair"] == [4, 9] and 0 <= row["chosen"] < len(row["steps"])
    assert [step["weight"] for step in row["steps"]][0] == 0.0
    for reading in [row["kept"]["proba"], *(step["proba"] for step in row["steps"])]:
        assert len(reading) == 10 and abs(sum(reading) - 1) < 1e-3
    assert body["command"].endswith("--series --out ambiguous-4-9.png") and body["gif_command"].endswith("--gif ambiguous-4-9.gif")


def test_ambiguous_png_gif_npz_deterministic(client):
    png = client.get("/api/ambiguous?a=4&b=9&seed=1")
    assert _png(png).shape[0] > 0 and client.get("/api/ambiguous?a=4&b=9&seed=1").content == png.content
    gif = client.get("/api/ambiguous?a=4&b=9&seed=1&format=gif&download=1")
    assert gif.status_code == 200 and gif.content[:6] == b"GIF89a"
    assert gif.headers["content-disposition"] == 'attachment; filename="ambiguous-4-9.gif"'
    assert Image.open(io.BytesIO(gif.content)).n_frames > 1
    arrays = _npz(client.get("/api/ambiguous?a=4&b=9&seed=1&format=npz"))
    assert arrays["steps"].ndim == 4 and arrays["kept"].shape == (1, 28, 28) and arrays["kept_proba"].shape == (1, 10)


@pytest.mark.parametrize("query, status, parameter", [
    ("a=4&b=4", 422, "b"), ("a=4", 400, "b"), ("a=4&b=12", 422, "b"), ("a=4&b=9&n=9", 422, "n"),
    ("a=4&b=9&format=jpeg", 422, "format"), ("a=4&b=9&temperature=1", 400, "temperature"),
])
def test_ambiguous_bad_input(client, query, status, parameter):
    response = client.get("/api/ambiguous?" + query)
    assert response.status_code == status, response.text
    assert response.json()["parameter"] == parameter


# ------------------------------------------------------------------ the command line shown writes the same bytes


@pytest.mark.parametrize("url", [
    SEQ, SEQ + "&align=center&degrade.blur.p=1", SEQ + "&source=kde", "/api/sequence?digits=707&min=1&max=3&width=tight&seed=5&split=train",
    "/api/digits?generator=kde&digit=7&n=16&seed=1", "/api/digits?generator=kde&n=10&seed=2&rejection=strict&cleaning=none&columns=4",
    "/api/digits?generator=cvae&digit=3&n=8&seed=1&temperature=1.2", "/api/digits?generator=real&digit=1&n=5&seed=1&split=test",
    "/api/digits?generator=augmented&n=6&seed=1&rotation=20", "/api/ambiguous?a=4&b=9&seed=1", "/api/ambiguous?a=1&b=7&seed=2&format=gif",
])
def test_command_shown_writes_the_same_bytes(client, url, tmp_path, monkeypatch, capsys):
    from digitgen.cli.app import main

    response = client.get(url)
    assert response.status_code == 200, response.text
    words = shlex.split(response.headers["x-digitgen-command"])
    assert words[0] == "digitgen"
    if words[1] == "sequence":
        words += ["--out", "out.png"]
    monkeypatch.chdir(tmp_path)
    assert main(words[1:]) == 0, capsys.readouterr().err
    written = capsys.readouterr().out.split()[-1]
    assert (tmp_path / written).read_bytes() == response.content


# ------------------------------------------------------------------ missing models, caps, rate, concurrency


def test_missing_models_leave_the_rest_working(inputs, tmp_path):
    empty = tmp_path / "models"
    empty.mkdir()
    registry = _registry(inputs, models=empty, banks=tmp_path)
    try:
        with TestClient(create_app(registry)) as client:
            health = client.get("/api/health").json()["sources"]
            assert health["digits"]["real"]["available"] and not health["digits"]["cvae"]["available"]
            assert health["digits"]["cvae"]["stage"] == "train_cvae"
            response = client.get("/api/digits?generator=cvae&n=4&seed=1")
            assert response.status_code == 503 and "dvc repro train_cvae" in response.json()["error"]
            assert client.get("/api/ambiguous?a=4&b=9").status_code == 503
            assert _png(client.get("/api/digits?generator=real&n=4&seed=1")).shape == _grid(1, 4)
            assert _png(client.get(SEQ)).shape == (28, 200)
            assert client.get("/").status_code == 200
    finally:
        registry.close()


def test_rate_limit_per_client(registry):
    client = TestClient(create_app(registry, Limits(rate=0.5, burst=2)))  # no `with`: its lifespan would close the shared registry
    assert client.get(SEQ).status_code == 200 and client.get(SEQ).status_code == 200
    refused = client.get(SEQ)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert "requests per second" in refused.json()["error"]
    assert client.get("/api/health").status_code == 200  # health is never limited


def test_smaller_caps(registry):
    client = TestClient(create_app(registry, Limits(max_digits=4, max_series=1)))
    assert client.get("/api/digits?generator=real&n=5").json()["allowed"] == "must be an integer in 1..4"
    assert client.get("/api/ambiguous?a=4&b=9&n=2").status_code == 422


def test_concurrent_requests_give_the_sequential_bytes(registry):
    import httpx

    urls = [f"/api/digits?generator=cvae&digit={d}&n=8&seed={d}" for d in range(4)]
    urls += [f"/api/digits?generator=kde&digit={d}&n=8&seed={d}" for d in range(2)]
    urls += [f"/api/ambiguous?a={d}&b=9&seed=1&format=npz" for d in range(2)] + [SEQ, SEQ + "&format=npz"]

    async def fetch_all():
        transport = httpx.ASGITransport(app=create_app(registry))
        async with httpx.AsyncClient(transport=transport, base_url="http://studio") as client:
            together = await asyncio.gather(*(client.get(url) for url in urls * 2))
            alone = [await client.get(url) for url in urls]
        return together, alone

    together, alone = asyncio.run(fetch_all())
    assert all(response.status_code == 200 for response in together)
    assert [r.content for r in together[: len(urls)]] == [r.content for r in alone] == [r.content for r in together[len(urls):]]


def test_error_body_is_json_even_for_an_unexpected_error(registry, monkeypatch):
    from digitgen.studio import jobs

    def broken(registry, query):
        raise RuntimeError("boom\nTraceback (most recent call last)")

    monkeypatch.setattr(jobs, "sequence_job", broken)
    response = TestClient(create_app(registry), raise_server_exceptions=False).get(SEQ)
    assert response.status_code == 500
    assert json.loads(response.text) == {"error": "internal error (RuntimeError); the server log has the details.", "parameter": None}


@pytest.mark.parametrize("values", [{}, {"spacing.measure": "ink", "spacing.min": -4, "spacing.max": 2, "width": None, "align": "center"},
                                    {"mode": "fill", "width": 160}])
def test_compose_record_is_the_batch_composer_on_the_whole_bank(registry, values):
    """compose_record composes from the drawn digits only: the same picture, boxes and draws as from the whole bank."""
    from digitgen.compose import compose_batch
    from digitgen.degrade import degrade
    from digitgen.sequence import build_layout, compose_record

    bank = registry.real["test"]
    layout = build_layout(5, values)
    p = layout.params
    for seed in range(5):
        arrays = compose_record("29341", layout, bank, np.random.default_rng(seed))
        rng = np.random.default_rng(seed)
        rows = bank.draw(np.array([2, 9, 3, 4, 1]), rng)
        whole = compose_batch(bank.images, rows[None, :], (p.spacing.min, p.spacing.max), layout.width, rng=rng, mode=p.mode,
                              measure=p.spacing.measure, align=p.align)
        assert np.array_equal(arrays["images"], degrade(whole.images, p.degrade, rng))
        assert np.array_equal(arrays["boxes"], whole.boxes) and arrays["source_index"][0].tolist() == rows.tolist()
