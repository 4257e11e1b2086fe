"""Tests of digitgen.report: mosaics, PNG writing, sequence pictures and the self-contained HTML report."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
from evaluation_fakes import CentroidClassifier, distinct_mnist_arrays, write_sequences
from PIL import Image

from digitgen import report as rp
from digitgen.bank import DigitBank
from digitgen.errors import ParamsError
from digitgen.evaluate import banks as bk
from digitgen.evaluate import crops as cr
from digitgen.evaluate import outputs as out
from digitgen.evaluate import readings as rd
from digitgen.evaluate import sequences as sq
from digitgen.io import write_npz
from digitgen.params.all import parse_params
from digitgen.pictures import (
    BOX_AGREES,
    BOX_DISAGREES,
    draw_sequences,
    mosaic,
    save_png,
)
from digitgen.report import build_report, confusion_matrix, line_chart_svg, write_report


def test_mosaic_places_images_row_by_row():
    images = np.stack([np.full((2, 3), i + 1, np.uint8) for i in range(5)])
    tiled = mosaic(images, 2, gap=1)
    assert tiled.shape == (3 * 3 - 1, 2 * 4 - 1)
    assert tiled[0, 0] == 1 and tiled[0, 4] == 2 and tiled[3, 0] == 3 and tiled[6, 0] == 5
    assert tiled[6, 4] == 0 and tiled[2, 0] == 0  # padding cell and gap row are background


def test_mosaic_refuses_bad_input():
    with pytest.raises(ValueError, match=r"images must be uint8 \(N, H, W\), got float64"):
        mosaic(np.zeros((1, 2, 2)), 1)
    with pytest.raises(ValueError, match="columns == 0, must be >= 1"):
        mosaic(np.zeros((1, 2, 2), np.uint8), 0)


def test_save_png_round_trip(tmp_path):
    image = np.arange(60, dtype=np.uint8).reshape(6, 10)
    save_png(tmp_path / "m.png", image)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "m.png")), image)


# --------------------------------------------------------------------------- the HTML report


def test_draw_sequences_draws_boxes_coloured_by_agreement():
    images = np.zeros((2, 28, 60), np.uint8)
    boxes = np.full((2, 2, 4), -1, np.int16)
    boxes[0, 0], boxes[0, 1], boxes[1, 0] = [2, 3, 12, 20], [30, 5, 40, 25], [10, 2, 20, 26]
    labels = np.array([[3, 5], [7, -1]], np.int16)
    predicted = np.array([[3, 6], [7, -1]])
    picture = draw_sequences(images, boxes, labels, predicted, scale=2, gap=4)
    row = 28 * 2 + max(12, 10) + 4
    assert picture.shape == (2 * row - 4, 120, 3) and picture.dtype == np.uint8
    assert tuple(picture[3 * 2, 2 * 2 + 5]) == BOX_AGREES  # top edge of the first box
    assert tuple(picture[5 * 2, 30 * 2 + 5]) == BOX_DISAGREES  # 5 read as 6
    assert tuple(picture[row + 2 * 2, 10 * 2 + 5]) == BOX_AGREES
    with pytest.raises(ValueError, match="predicted must have the shape of labels"):
        draw_sequences(images, boxes, labels, predicted[:1])


def test_confusion_matrix_counts_pairs_and_ignores_padding():
    counts = confusion_matrix(np.array([0, 0, 1, 2, -1]), np.array([0, 1, 1, 2, 3]), classes=3)
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 1, 0], [0, 0, 1]])


def test_line_chart_is_inline_svg_with_escaped_names():
    svg = line_chart_svg([1, 2, 3], {"loss <train>": [3.0, 2.0, 1.5], "val": [3.5, float("nan"), 2.0]}, title="a & b", x_label="epoch")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<polyline") == 2 and "loss &lt;train&gt;" in svg and "a &amp; b" in svg
    assert "no data" in line_chart_svg([], {"x": []}, title="t", x_label="x")


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    """A whole tiny evaluation written as the evaluate_banks and evaluate_sequences stages write it (fake classifier, synthetic digits)."""
    root = tmp_path_factory.mktemp("evaluation")
    arrays = distinct_mnist_arrays()
    write_npz(root / "mnist.npz", arrays)
    sequences = write_sequences(root, root / "mnist.npz")
    classifier = CentroidClassifier(arrays["x_train"], arrays["y_train"])
    sections = parse_params({
        "evaluate_banks": {"samples": 50, "kid_subsets": 5, "kid_subset_size": 20, "memorisation_samples": 20},
        "evaluate_sequences": {"sequence_previews": 3},
    })
    reference = bk.RealReference(classifier, arrays["x_train"], arrays["x_test"], arrays["y_test"], sections.evaluate_banks)
    x, y = arrays["x_train"], arrays["y_train"].astype(np.int16)
    rows = np.flatnonzero(y[:100] != y[100:200])
    pairs = np.stack([y[rows], y[100 + rows]], 1)
    sources = [
        DigitBank("augmented", np.roll(x, 1, axis=2), y),
        DigitBank("ambiguous", np.maximum(x[rows], x[100 + rows]), pairs[:, 0].copy(), pairs),
    ]
    results = [bk.evaluate_real(reference)] + [bk.evaluate_source(s, classifier, reference) for s in sources]
    pools = {split: {"real": sq.make_pool("real", arrays[f"x_{split}"], arrays[f"y_{split}"].astype(np.int16))} for split in ("train", "test")}
    training = cr.CropHashes(cr.digit_crops_of(x))
    classify = rd.classify_with(classifier)
    checks = {
        split: sq.check_split(sequences / split, split, pools[split], classify, sections.evaluate_sequences, training=training if split == "test" else None)
        for split in ("train", "test")
    }
    metrics = root / "metrics"
    out.write_json(metrics / "banks.json", out.bank_metrics(results))
    out.write_json(metrics / "datasets.json", out.dataset_metrics(checks))
    out.write_json(metrics / "classifier.json", {"test_accuracy": 0.75, "test_accuracy_per_digit": {str(d): 0.7 for d in range(10)}})
    out.write_json(metrics / "sequences.json", {"train": {"count": 40}})
    out.write_bank_plots(root / "bank_plots", results)
    out.write_sequence_plots(root / "sequence_plots", checks)
    (root / "history.csv").write_text("epoch,accuracy,loss,val_accuracy,val_loss\n1,0.5,1.2,0.4,1.3\n2,0.7,0.8,0.6,0.9\n")
    (root / "tsne.png").write_bytes(_png_bytes(np.full((5, 7), 128, np.uint8)))
    (root / "bandwidth.csv").write_text("bandwidth,digit_0,global\n0.1,-5,-6\n0.2,-4,-5\n")
    return root


def _png_bytes(image):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def build(root, **overrides):
    arguments = {
        "metrics": [root / "metrics" / f"{name}.json" for name in ("classifier", "banks", "datasets", "sequences")],
        "bank_plots": root / "bank_plots",
        "sequence_plots": root / "sequence_plots",
        "history": root / "history.csv",
        "figures": [root / "tsne.png", root / "bandwidth.csv"],
        "title": "tiny <report>",
        "zoom": 2,
    }
    arguments.update(overrides)
    return build_report(**arguments)


def test_the_evaluation_writes_every_picture_and_table(evaluation):
    def listing(folder):
        return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.*"))

    assert listing(evaluation / "bank_plots") == [
        "ambiguous/ambiguous.csv", "confusion/augmented.csv", "confusion/real.csv",
        "memorisation/ambiguous.csv", "memorisation/augmented.csv", "memorisation/real.csv",
        "mosaics/ambiguous.png", "mosaics/augmented.png", "mosaics/real.png",
    ]
    assert listing(evaluation / "sequence_plots") == [
        "confusion/sequences-test.csv", "confusion/sequences-train.csv", "sequences/test.png", "sequences/train.png",
    ]
    banks = json.loads((evaluation / "metrics" / "banks.json").read_text())
    assert list(banks) == ["ambiguous", "augmented", "real"]
    assert set(banks["ambiguous"]["ambiguous"]) == {"mass", "smaller", "balanced", "balanced_threshold", "balanced_target"}
    assert (banks["ambiguous"]["ambiguous"]["balanced_threshold"], banks["ambiguous"]["ambiguous"]["balanced_target"]) == (0.25, 0.5)
    table = (evaluation / "bank_plots" / "ambiguous" / "ambiguous.csv").read_text().splitlines()
    assert table[0] == "pair,count,mass,smaller,balanced"
    pairs = rp._pairs_from_csv(evaluation / "bank_plots" / "ambiguous" / "ambiguous.csv")
    assert len(pairs) == len(table) - 1 and all(set(v) == {"count", "mass", "smaller", "balanced"} for v in pairs.values())
    weighted = sum(v["count"] * v["balanced"] for v in pairs.values()) / sum(v["count"] for v in pairs.values())
    assert banks["ambiguous"]["ambiguous"]["balanced"] == pytest.approx(weighted, abs=1e-5)


def test_the_pair_table_is_read_back_with_its_balanced_column(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("pair,count,mass,smaller,balanced\n2-5,2,0.92495,0.24995,0.5\n4-9,3,0.53,0.255,1.0\n")
    assert rp._pairs_from_csv(path) == {
        "2-5": {"count": 2, "mass": 0.92495, "smaller": 0.24995, "balanced": 0.5},
        "4-9": {"count": 3, "mass": 0.53, "smaller": 0.255, "balanced": 1.0},
    }
    path.write_text("pair,count,mass,smaller\n2-5,2,0.92495,0.24995\n")  # a table from before the balanced column
    assert rp._pairs_from_csv(path) is None
    path.write_text("pair,count,mass,balanced,smaller\n2-5,2,0.92495,0.5,0.24995\n")  # columns are read by their names
    assert rp._pairs_from_csv(path) == {"2-5": {"count": 2, "mass": 0.92495, "smaller": 0.24995, "balanced": 0.5}}
    path.write_text("pair,count,mass,smaller,share\n2-5,2,0.92495,0.24995,0.5\n")
    assert rp._pairs_from_csv(path) is None
    assert rp._pairs_from_csv(tmp_path / "missing.csv") is None


def test_the_pair_card_shows_the_balanced_share_per_pair_and_against_the_target():
    pairs = {"2-5": {"count": 2, "mass": 0.92495, "smaller": 0.24995, "balanced": 0.5}, "4-9": {"count": 3, "mass": 0.53, "smaller": 0.255, "balanced": 1.0}}
    recorded = {"balanced_threshold": 0.25, "balanced_target": 0.5}
    card = rp._pairs_html(pairs, {"mass": 0.7, "smaller": 0.25, "balanced": 0.4, **recorded})
    assert card.count('title="pair 2-5: 2 images, 50% balanced (smaller ≥ 0.25)"') == 2
    assert card.count('title="pair 4-9: 3 images, 100% balanced (smaller ≥ 0.25)"') == 2
    assert "Balanced (smaller probability ≥ 0.25): 40.0% of the samples; target ≥ 50%: " in card
    assert '<span class="bad">not met</span>' in card
    met = rp._pairs_html(pairs, {"balanced": 0.5, **recorded})
    assert "50.0% of the samples; target ≥ 50%: met." in met and "not met" not in met
    for overall in (None, {"mass": 0.7, "smaller": 0.25}):  # no banks.json, or one from before the balanced share
        assert "of the samples" not in rp._pairs_html(pairs, overall)
    # the threshold and the target are the ones banks.json records, not constants of the report
    other = rp._pairs_html(pairs, {"balanced": 0.55, "balanced_threshold": 0.3, "balanced_target": 0.6})
    assert "Balanced (smaller probability ≥ 0.3): 55.0% of the samples; target ≥ 60%: " in other and '<span class="bad">not met</span>' in other
    assert other.count('title="pair 2-5: 2 images, 50% balanced (smaller ≥ 0.3)"') == 2 and "≥ 0.25" not in other
    unrecorded = rp._pairs_html(pairs, {"balanced": 0.5})  # a banks.json from before the recorded threshold and target
    assert "Balanced: 50.0% of the samples.</p>" in unrecorded and "target" not in unrecorded and "≥" not in unrecorded
    assert 'title="pair 2-5: 2 images, 50% balanced"' in unrecorded


def test_the_report_is_self_contained_and_shows_every_source(evaluation):
    page = build(evaluation)
    assert page.startswith("<!DOCTYPE html>") and "tiny &lt;report&gt;" in page
    for source in ("real", "augmented", "ambiguous"):
        assert f"Source <code>{source}</code>" in page
    assert "Sample <code>train</code> sequences" in page and "Sample <code>test</code> sequences" in page
    assert "ambiguous pairs" in page and "per-digit confusion" in page and "sequences.json" in page
    balanced = json.loads((evaluation / "metrics" / "banks.json").read_text())["ambiguous"]["ambiguous"]["balanced"]
    assert f"Balanced (smaller probability ≥ 0.25): {balanced:.1%} of the samples; target ≥ 50%: " in page
    assert page.count("<svg") >= 5  # classifier curves, memorisation histograms, the bandwidth curve
    # nothing is fetched: no external source, link, stylesheet, script or font
    assert not re.search(r"""(src|href)=["'](?!data:)""", page)
    assert "<script" not in page and "@import" not in page and "url(" not in page
    sources = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(sources) == 3 + 2 + 1  # mosaics, sequences, the t-SNE figure
    for payload in sources:
        with Image.open(io.BytesIO(base64.b64decode(payload))) as picture:
            picture.verify()


def test_the_report_is_reproducible_and_written_atomically(evaluation, tmp_path):
    page = build(evaluation)
    assert build(evaluation) == page
    write_report(tmp_path / "out" / "index.html", page)
    assert (tmp_path / "out" / "index.html").read_text(encoding="utf-8") == page
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["index.html"]


def test_the_report_shows_contract_failures_and_missing_pieces(evaluation, tmp_path):
    broken = json.loads((evaluation / "metrics" / "datasets.json").read_text())
    broken["test"].update(contract_errors=2, leaks=1, messages=["shard-00000.npz: row 0 digit 0: leak: its pixels equal training digit 7"])
    out.write_json(tmp_path / "datasets.json", broken)
    page = build(evaluation, metrics=[tmp_path / "datasets.json"], bank_plots=None, sequence_plots=None, history=None, figures=[])
    assert '<span class="bad">1</span>' in page and "equal training digit 7" in page
    assert "No source metrics" in page and "No classifier metrics" in page
    with pytest.raises(FileNotFoundError, match="missing.json"):
        build(evaluation, metrics=[tmp_path / "missing.json"])
    with pytest.raises(FileNotFoundError, match=r"evaluate_banks plots folder '.*nowhere' does not exist; run `dvc repro evaluate_banks`"):
        build(evaluation, bank_plots=tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"evaluate_sequences plots folder '.*nowhere' does not exist; run `dvc repro evaluate_sequences`"):
        build(evaluation, sequence_plots=tmp_path / "nowhere")


@pytest.mark.parametrize(("values", "message"), [({"zoom": 0}, "report.zoom == 0, must be in 1..8"), ({"title": " "}, "report.title")])
def test_report_params_are_validated(values, message):
    with pytest.raises(ParamsError, match=message):
        parse_params({"report": values})


def test_the_report_imports_no_evaluation_code():
    import ast
    from pathlib import Path

    tree = ast.parse(Path(rp.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not {name for name in imported if name.startswith("digitgen.") and name != "digitgen.io"}, imported


def test_the_report_shows_the_threshold_recorded_in_banks_json(evaluation, tmp_path):
    banks = json.loads((evaluation / "metrics" / "banks.json").read_text())
    banks["ambiguous"]["ambiguous"].update(balanced_threshold=0.2, balanced_target=0.75)
    out.write_json(tmp_path / "banks.json", banks)
    page = build(evaluation, metrics=[tmp_path / "banks.json"])
    share = banks["ambiguous"]["ambiguous"]["balanced"]
    assert f"Balanced (smaller probability ≥ 0.2): {share:.1%} of the samples; target ≥ 75%: " in page and "≥ 0.25" not in page


def test_the_report_names_the_layout_options_of_a_split(evaluation, tmp_path):
    datasets = json.loads((evaluation / "metrics" / "datasets.json").read_text())
    datasets["train"]["layout_options"] = ["height", "rotation", "blur"]
    out.write_json(tmp_path / "datasets.json", datasets)
    page = build(evaluation, metrics=[tmp_path / "datasets.json"], bank_plots=None, sequence_plots=None, history=None, figures=[])
    assert "train: layout options in use: <code>height</code>, <code>rotation</code>, <code>blur</code>" in page
    assert "test: layout options in use" not in page
