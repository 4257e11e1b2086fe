"""The self-contained HTML report of every digit source and dataset (built from metric files and pictures).

Everything shown comes from the files given: metric names, the ambiguous
digits' ``balanced_threshold`` and ``balanced_target`` (recorded in
``banks.json``) and table columns (read from each CSV's header). This module
imports no evaluation code.

It is longer than the other modules (about 600 lines) because it is one page:
its style sheet, an inline SVG line chart, the confusion and pair tables and
the page's sections; none of it is used anywhere else.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from digitgen.io import atomic_path


def confusion_matrix(actual: np.ndarray, predicted: np.ndarray, classes: int = 10) -> np.ndarray:
    """int64 (classes, classes): counts of (actual row, predicted column); values outside 0..classes-1 are ignored."""
    actual, predicted = np.asarray(actual, np.int64), np.asarray(predicted, np.int64)
    keep = (actual >= 0) & (actual < classes) & (predicted >= 0) & (predicted < classes)
    return np.bincount(actual[keep] * classes + predicted[keep], minlength=classes * classes).reshape(classes, classes)


# --------------------------------------------------------------------------- the HTML report

_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#000000")

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1320px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; } h3 { margin-top: 1.5em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .5em; text-align: right; }
th { background: #f2f2f2; } td.name, th.name { text-align: left; }
table.confusion, table.pairs { font-size: .8em; }
table.confusion td, table.confusion th, table.pairs td, table.pairs th { padding: .15em .3em; min-width: 2em; }
.cards { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .8em; background: #fafafa; }
img.pixels { image-rendering: pixelated; image-rendering: crisp-edges; display: block; }
.note { color: #555; font-size: .88em; max-width: 75em; }
.bad { color: #b00; font-weight: bold; }
code { background: #f2f2f2; padding: 0 .2em; }
"""

_SOURCE_COLUMNS = (
    ("label_accuracy.overall", "label accuracy", "{:.2%}"),
    ("fcd", "FCD", "{:.3f}"),
    ("fcd_baseline", "FCD real baseline", "{:.3f}"),
    ("kid", "KID", "{:.5f}"),
    ("kid_std", "KID std", "{:.5f}"),
    ("precision", "precision", "{:.3f}"),
    ("recall", "recall", "{:.3f}"),
    ("memorisation.median", "NN distance median", "{:.3f}"),
    ("memorisation.baseline_median", "real test median", "{:.3f}"),
    ("memorisation.below_baseline_p1", "below real p1", "{:.2%}"),
    ("memorisation.exact_copies", "exact copies", "{:.2%}"),
    ("samples", "samples", "{:d}"),
)

_SPLIT_COLUMNS = (
    ("sequences", "sequences", "{:d}"),
    ("shards", "shards", "{:d}"),
    ("digits", "digits", "{:d}"),
    ("contract_errors", "contract errors", "{:d}"),
    ("leaks", "leaks from training", "{:d}"),
    ("checked_sequences", "classified sequences", "{:d}"),
    ("digit_accuracy", "digit accuracy", "{:.2%}"),
    ("sequence_accuracy", "sequence accuracy", "{:.2%}"),
    ("clean_digit_accuracy", "accuracy, clean boxes", "{:.2%}"),
    ("overlapping_digits", "overlapping digits", "{:d}"),
    ("overlapping_digit_accuracy", "accuracy, overlapping", "{:.2%}"),
)


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _lookup(data: dict, dotted: str):
    for part in dotted.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _fmt(value, pattern: str = "{}") -> str:
    if value is None:
        return "–"
    try:
        return pattern.format(value)
    except (ValueError, TypeError):
        return str(value)


def _flatten(data, prefix: str = "") -> list[tuple[str, object]]:
    if isinstance(data, dict):
        rows = []
        for key in sorted(data):
            rows.extend(_flatten(data[key], f"{prefix}.{key}" if prefix else str(key)))
        return rows
    return [(prefix, data)]


def png_data_uri(path: str | os.PathLike) -> str:
    """``data:image/png;base64,...`` of a PNG file, for embedding."""
    return "data:image/png;base64," + _b64(path)


def _img(path, alt: str, zoom: int = 1) -> str:
    with Image.open(path) as picture:
        width = picture.width
    return f'<img class="pixels" src="{png_data_uri(path)}" alt="{_esc(alt)}" width="{width * zoom}">'


def line_chart_svg(x: Sequence[float], series: Mapping[str, Sequence[float]], *, title: str, x_label: str, width: int = 460, height: int = 250) -> str:
    """A self-contained inline SVG line chart of one or more series over ``x``.

    Parameters
    ----------
    x : float (n,) abscissae, increasing; series : name -> float (n,) values (NaN gaps allowed).
    title, x_label : text drawn on the chart.

    Returns
    -------
    str: an ``<svg>`` element (no scripts, no external references).
    """
    x = np.asarray(x, np.float64)
    values = {name: np.asarray(v, np.float64) for name, v in series.items()}
    finite = np.concatenate([v[np.isfinite(v)] for v in values.values()] + [np.zeros(0)])
    if not len(x) or not finite.size:
        return f"<p class='note'>{_esc(title)}: no data.</p>"
    left, right, top, bottom = 58, 24, 30 + 14 * (-(-len(values) // 3)), 40
    x_lo, x_hi = float(x.min()), float(x.max())
    y_lo, y_hi = float(finite.min()), float(finite.max())
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 1, x_hi + 1
    if y_hi == y_lo:
        y_lo, y_hi = y_lo - 1, y_hi + 1
    pad = (y_hi - y_lo) * 0.05
    y_lo, y_hi = (y_lo - pad if y_lo - pad >= 0 or y_lo < 0 else 0.0), y_hi + pad
    integer_x = len(x) <= 12 and np.all(x == np.round(x))
    x_ticks = x if integer_x else x_lo + np.array([0.0, 0.25, 0.5, 0.75, 1.0]) * (x_hi - x_lo)

    def px(value: float) -> float:
        return left + (value - x_lo) / (x_hi - x_lo) * (width - left - right)

    def py(value: float) -> float:
        return top + (y_hi - value) / (y_hi - y_lo) * (height - top - bottom)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2:.1f}" y="16" text-anchor="middle" font-size="13">{_esc(title)}</text>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#444"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#444"/>',
        f'<text x="{(left + width - right) / 2:.1f}" y="{height - 6}" text-anchor="middle">{_esc(x_label)}</text>',
    ]
    for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
        y_value = y_lo + fraction * (y_hi - y_lo)
        parts.append(f'<line x1="{left - 4}" y1="{py(y_value):.1f}" x2="{width - right}" y2="{py(y_value):.1f}" stroke="#e4e4e4"/>')
        parts.append(f'<text x="{left - 6}" y="{py(y_value) + 4:.1f}" text-anchor="end">{y_value:.4g}</text>')
    for x_value in x_ticks:
        parts.append(f'<text x="{px(x_value):.1f}" y="{height - bottom + 14}" text-anchor="middle">{x_value:.4g}</text>')
    for number, (name, v) in enumerate(values.items()):
        colour = _PALETTE[number % len(_PALETTE)]
        points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(x, v) if np.isfinite(b))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" points="{points}"/>')
        if len(x) <= 30:
            parts.extend(f'<circle cx="{px(a):.1f}" cy="{py(b):.1f}" r="2.5" fill="{colour}"/>' for a, b in zip(x, v) if np.isfinite(b))
        legend_x, legend_y = left + 130 * (number % 3), 30 + 14 * (number // 3)
        parts.append(f'<line x1="{legend_x}" y1="{legend_y}" x2="{legend_x + 16}" y2="{legend_y}" stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<text x="{legend_x + 20}" y="{legend_y + 4}">{_esc(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f'<th class="name">{_esc(h)}</th>' if i == 0 else f"<th>{_esc(h)}</th>" for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f'<td class="name">{c}</td>' if i == 0 else f"<td>{c}</td>" for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _confusion_html(counts: np.ndarray) -> str:
    """An HTML table of int (10, 10) counts, shaded by each row's share: blue on the diagonal, red off it."""
    totals = counts.sum(axis=1, keepdims=True)
    share = counts / np.maximum(totals, 1)
    head = "".join(f"<th>{d}</th>" for d in range(len(counts)))
    body = []
    for digit in range(len(counts)):
        tds = [f"<th>{digit}</th>"]
        for column in range(len(counts)):
            alpha = share[digit, column]
            colour = f"rgba(31,119,180,{alpha:.3f})" if digit == column else f"rgba(214,39,40,{min(1.0, alpha * 5):.3f})"
            tds.append(f'<td style="background:{colour}" title="{share[digit, column]:.2%} of intended {digit}">{counts[digit, column]}</td>')
        tds.append(f"<td>{share[digit, digit]:.1%}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    return (
        f'<table class="confusion"><tr><th>intended \\ classified</th>{head}<th>correct</th></tr>'
        + "".join(body) + "</table>"
    )


#: Columns the pair card needs in ``ambiguous/<source>.csv`` (read by name, in any order).
_PAIR_FIELDS = {"count": int, "mass": float, "smaller": float, "balanced": float}


def _pairs_from_csv(path: Path) -> dict | None:
    """``"a-b"`` -> ``count``, ``mass``, ``smaller``, ``balanced`` from the evaluation's pair table, or None.

    Columns are found by the names in the table's header (``pair`` and
    :data:`_PAIR_FIELDS`); None when the file is missing or lacks one of them,
    e.g. a table written before ``balanced`` existed.
    """
    if not path.is_file():
        return None
    header, rows = _read_csv(path)
    if "pair" not in header or any(name not in header for name in _PAIR_FIELDS):
        return None
    at = {name: header.index(name) for name in ("pair", *_PAIR_FIELDS)}
    return {row[at["pair"]]: {name: kind(row[at[name]]) for name, kind in _PAIR_FIELDS.items()} for row in rows}


def _pairs_html(pairs: Mapping[str, Mapping], overall: Mapping | None = None) -> str:
    """A 10x10 table of ambiguous pairs ``"a-b"``: mass on the pair above the diagonal, the smaller probability below.

    Each cell's tooltip gives the pair's image count and balanced share.
    ``overall`` is the source's ``ambiguous`` metrics from ``banks.json``: with
    ``balanced`` it adds a line with the overall balanced share; the threshold
    (``balanced_threshold``) and the target (``balanced_target``) are shown as
    recorded there, and left out when the file does not record them.
    """
    overall = overall or {}
    threshold, target = overall.get("balanced_threshold"), overall.get("balanced_target")
    rule = f" (smaller ≥ {threshold:g})" if threshold is not None else ""
    cells = [["" for _ in range(10)] for _ in range(10)]
    for key, value in pairs.items():
        a, b = (int(part) for part in key.split("-"))
        tip = f"pair {a}-{b}: {value['count']} images, {value['balanced']:.0%} balanced{rule}"
        cells[min(a, b)][max(a, b)] = f'<td style="background:rgba(31,119,180,{value["mass"]:.3f})" title="{tip}">{value["mass"]:.2f}</td>'
        if a != b:
            cells[max(a, b)][min(a, b)] = f'<td style="background:rgba(44,160,44,{min(1.0, 2 * value["smaller"]):.3f})" title="{tip}">{value["smaller"]:.2f}</td>'
    head = "".join(f"<th>{d}</th>" for d in range(10))
    body = "".join(f"<tr><th>{r}</th>" + "".join(c or "<td></td>" for c in row) + "</tr>" for r, row in enumerate(cells))
    share = overall.get("balanced")
    summary = ""
    if share is not None:
        what = f"Balanced (smaller probability ≥ {threshold:g})" if threshold is not None else "Balanced"
        summary = f"<p>{what}: {share:.1%} of the samples"
        if target is not None:
            verdict = "met" if share >= target else '<span class="bad">not met</span>'
            summary += f"; target ≥ {target:.0%}: {verdict}"
        summary += ".</p>"
    balanced_note = (
        f"<br>Balanced: share of images whose smaller probability is ≥ {threshold:g} (in each cell's tooltip)." if threshold is not None else ""
    )
    return (
        f'<table class="pairs"><tr><th></th>{head}</tr>{body}</table>{summary}'
        '<p class="note">Above the diagonal: mean probability mass on the pair (ideal 1).<br>'
        f"Below: mean of the smaller of the two probabilities (ideal 0.5 for a true blend).{balanced_note}</p>"
    )


def _read_csv(path) -> tuple[list[str], list[list[str]]]:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return (rows[0], rows[1:]) if rows else ([], [])


def _confusion_from_csv(path) -> np.ndarray | None:
    """Counts of a table with columns ``actual`` and ``predicted`` (found by name), or None without them."""
    header, rows = _read_csv(path)
    if "actual" not in header or "predicted" not in header or not rows:
        return None
    actual, predicted = header.index("actual"), header.index("predicted")
    data = np.array([[int(r[actual]), int(r[predicted])] for r in rows], np.int64)
    return confusion_matrix(data[:, 0], data[:, 1])


def _curve_from_csv(path, x_name: str) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
    header, rows = _read_csv(path)
    if x_name not in header or not rows:
        return None
    try:
        data = np.array([[float(v) if v != "" else np.nan for v in row] for row in rows], np.float64)
    except ValueError:
        return None
    column = header.index(x_name)
    return data[:, column], {name: data[:, i] for i, name in enumerate(header) if i != column}


def _load_json(path) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _training_curves(path, title: str) -> str:
    curve = _curve_from_csv(path, "epoch")
    if curve is None:
        return ""
    epochs, series = curve
    losses = {name: v for name, v in series.items() if "loss" in name}
    others = {name: v for name, v in series.items() if "loss" not in name}
    charts = [line_chart_svg(epochs, group, title=f"{title}: {kind}", x_label="epoch") for kind, group in (("loss", losses), ("metrics", others)) if group]
    return '<div class="cards">' + "".join(f'<div class="card">{c}</div>' for c in charts) + "</div>"


def build_report(
    *,
    metrics: Sequence[str | os.PathLike] = (),
    bank_plots: str | os.PathLike | None = None,
    sequence_plots: str | os.PathLike | None = None,
    canvas_plots: str | os.PathLike | None = None,
    history: str | os.PathLike | None = None,
    figures: Sequence[str | os.PathLike] = (),
    title: str,
    zoom: int = 2,
) -> str:
    """The self-contained HTML page of the evaluation.

    Parameters
    ----------
    metrics : metric JSON files. ``classifier.json``, ``banks.json`` and
        ``datasets.json`` (the evaluation's) get their own sections; any other
        file is shown as a table under its name.
    bank_plots : the ``evaluate_banks`` stage's plots folder: ``mosaics/<source>.png``,
        ``confusion/<source>.csv`` (columns actual, predicted), ``memorisation/<source>.csv``,
        ``ambiguous/<source>.csv``.
    sequence_plots : the ``evaluate_sequences`` stage's plots folder:
        ``confusion/sequences-<split>.csv``, ``sequences/<split>.png``.
    canvas_plots : the ``evaluate_canvases`` stage's plots folder: ``canvases/<split>.png``,
        ``confusion/canvases-<split>.csv``; shown with ``canvas_checks.json`` and ``canvases.json``.
    history : the classifier's per-epoch CSV (column ``epoch`` first).
    figures : any other plots: PNG and SVG files are embedded (clustering,
        t-SNE, mosaics of other stages); CSV files are drawn as line charts of
        every numeric column against ``epoch`` when present, else the first column.
    title : page title; zoom : screen pixels per digit pixel of the mosaics.

    Returns
    -------
    str: the HTML document; images are base64 ``data:`` URIs and charts inline
    SVG, so it opens offline with no external file, font, style or script.
    The page holds no timestamp: the same inputs give the same bytes.

    Raises
    ------
    FileNotFoundError
        If a file or folder named in the arguments does not exist.
    """
    import digitgen

    for path in [*metrics, *figures, *(p for p in (history,) if p is not None)]:
        if not Path(path).is_file():
            raise FileNotFoundError(f"report input {str(path)!r} does not exist; run `dvc repro` to make it.")
    for folder, stage in ((bank_plots, "evaluate_banks"), (sequence_plots, "evaluate_sequences"), (canvas_plots, "evaluate_canvases")):
        if folder is not None and not Path(folder).is_dir():
            raise FileNotFoundError(f"{stage} plots folder {str(folder)!r} does not exist; run `dvc repro {stage}`.")
    if zoom < 1:
        raise ValueError(f"zoom == {zoom}, must be >= 1.")
    loaded = {Path(path).stem: _load_json(path) for path in metrics}
    banks_folder = Path(bank_plots) if bank_plots is not None else None
    sequences_folder = Path(sequence_plots) if sequence_plots is not None else None
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_esc(title)}</h1>",
        (
            f'<p class="note">digitgen {_esc(digitgen.__version__)}. Every figure on this page is embedded; it needs no network. '
            "Metrics are computed by the <code>evaluate_banks</code> and <code>evaluate_sequences</code> stages in the "
            "penultimate-layer features of an MNIST classifier trained on the training split only and used for nothing but evaluation.</p>"
        ),
    ]
    out += _classifier_section(loaded.get("classifier"), history)
    out += _sources_section(loaded.get("banks") or {}, banks_folder, zoom)
    out += _datasets_section(loaded.get("datasets") or {}, sequences_folder)
    if canvas_plots is not None or "canvas_checks" in loaded:
        out += _canvases_section(loaded.get("canvas_checks") or {}, loaded.get("canvases") or {}, Path(canvas_plots) if canvas_plots is not None else None)
    reader_figures = [Path(path) for path in figures if Path(path).parent.name == "reader"]
    figures = [path for path in figures if Path(path) not in reader_figures]
    out += _reader_section(loaded.get("reader"), reader_figures)
    others = {name: values for name, values in loaded.items() if name not in ("classifier", "banks", "datasets", "canvas_checks", "canvases", "reader")}
    if others:
        out.append("<h2>Other metrics</h2>")
        for name, values in others.items():
            rows = [[_esc(k), _esc(_fmt(v, "{:.6g}" if isinstance(v, float) else "{}"))] for k, v in _flatten(values)]
            out.append(f"<h3><code>{_esc(name)}.json</code></h3>" + _table(["metric", "value"], rows))
    if figures:
        out.append("<h2>Other figures</h2><div class='cards'>")
        for path in map(Path, figures):
            caption = f"<div><b><code>{_esc(path.name)}</code></b></div>"
            if path.suffix.lower() == ".png":
                out.append(f'<div class="card">{caption}{_img(path, path.stem)}</div>')
            elif path.suffix.lower() == ".svg":
                out.append(f'<div class="card">{caption}<img src="data:image/svg+xml;base64,{_b64(path)}" alt="{_esc(path.stem)}"></div>')
            elif path.suffix.lower() == ".csv":
                out.append(f'<div class="card">{caption}{_csv_chart(path)}</div>')
            else:
                out.append(f'<div class="card">{caption}: not a PNG, SVG or CSV file; not shown</div>')
        out.append("</div>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _csv_chart(path: Path) -> str:
    header, _ = _read_csv(path)
    if not header:
        return "<p class='note'>empty table</p>"
    x_name = "epoch" if "epoch" in header else header[0]
    curve = _curve_from_csv(path, x_name)
    if curve is None:
        return "<p class='note'>no numeric columns to draw</p>"
    return line_chart_svg(curve[0], curve[1], title=path.stem, x_label=x_name)


def _reader_section(reader: dict | None, figures: Sequence[Path]) -> list[str]:
    """The CTC reader (stage ``train_reader``): test exact-sequence accuracy and CER, per length, its loss curve and misreadings."""
    if not reader and not figures:
        return []
    out = ["<h2>Sequence reader (CRNN + CTC, stage <code>train_reader</code>)</h2>"]
    if reader:
        test = reader.get("test") or {}
        out.append(
            f"<p>Trained on {_esc(reader.get('train_sequences'))} train sequences, read "
            f"<b>{_fmt(test.get('exact'), '{:.2%}')}</b> of {_esc(test.get('sequences'))} test sequences (real MNIST test digits) "
            f"exactly; character error rate {_fmt(test.get('cer'), '{:.2%}')}. Decoding: {_esc(reader.get('decoding'))}.</p>"
        )
        per_length = test.get("per_length") or {}
        rows = [[_esc(n), _esc(v.get("sequences")), _fmt(v.get("exact"), "{:.2%}"), _fmt(v.get("cer"), "{:.2%}")]
                for n, v in per_length.items()]
        if rows:
            out.append(_table(["length", "sequences", "exact", "character error rate"], rows))
    out.append("<div class='cards'>")
    for path in figures:
        caption = f"<div><b><code>{_esc(path.name)}</code></b></div>"
        if path.suffix.lower() == ".png":
            out.append(f'<div class="card">{caption}<div class="note">misread test sequences</div>{_img(path, path.stem)}</div>')
        elif path.suffix.lower() == ".csv":
            out.append(f'<div class="card">{caption}{_csv_chart(path)}</div>')
    out.append("</div>")
    return out


def _classifier_section(classifier: dict | None, history) -> list[str]:
    out = ["<h2>Evaluation classifier</h2>"]
    if classifier:
        per_digit = classifier.get("test_accuracy_per_digit") or {}
        rows = [
            [_esc(k), _esc(_fmt(v, "{:.4f}" if isinstance(v, float) else "{}"))]
            for k, v in _flatten(classifier)
            if not k.startswith("test_accuracy_per_digit")
        ]
        out.append('<div class="cards"><div>' + _table(["metric", "value"], rows) + "</div>")
        if per_digit:
            cells = [f"{v:.2%}" for v in per_digit.values()]
            out.append("<div><b>test accuracy per digit</b>" + _table(["digit", *per_digit], [["accuracy", *cells]]) + "</div>")
        out.append("</div>")
    else:
        out.append('<p class="note">No classifier metrics (classifier.json) given.</p>')
    if history is not None:
        out.append(_training_curves(history, "classifier"))
    return out


def _sources_section(banks: dict, evaluated: Path | None, zoom: int) -> list[str]:
    out = ["<h2>Digit sources</h2>"]
    if banks:
        out.append(
            '<p class="note"><b>label accuracy</b>: how often the classifier reads the intended digit (for <code>real</code>: '
            "its accuracy on the test digits). <b>FCD</b>: Fréchet distance of the classifier features against all real test "
            "digits; its scale depends on the feature layer, so read it against the <b>real baseline</b>: real training "
            "digits of the same sample size against the test digits. <b>KID</b>: unbiased kernel distance (cubic kernel), "
            "mean and standard deviation over subsets; about 0 for a perfect source. <b>precision / recall</b>: "
            "Kynkäänniemi et al. 2019 (k-NN manifolds) in the same features. <b>NN distance</b>: pixel distance (intensities "
            "in [0, 1]) from each sample to its nearest training digit, against the same for real test digits; "
            "<b>below real p1</b>: fraction of samples closer than the 1st percentile of the real test digits (about 1% for "
            "real digits; much more means copies of training digits).</p>"
        )
        header = ["source"] + [label for _, label, _ in _SOURCE_COLUMNS]
        rows = [
            [_esc(name)] + [_esc(_fmt(_lookup(banks[name], key), pattern)) for key, _, pattern in _SOURCE_COLUMNS]
            for name in sorted(banks, key=lambda n: (n != "real", n))
        ]
        out.append(_table(header, rows))
    else:
        out.append('<p class="note">No source metrics (banks.json) given.</p>')
    names = set(banks)
    if evaluated is not None:
        names |= {p.stem for p in (evaluated / "mosaics").glob("*.png")}
    for name in sorted(names, key=lambda n: (n != "real", n)):
        out.append(f"<h3>Source <code>{_esc(name)}</code></h3><div class='cards'>")
        picture = evaluated / "mosaics" / f"{name}.png" if evaluated is not None else None
        if picture is not None and picture.is_file():
            out.append(f'<div class="card"><b>examples, one row per digit</b>{_img(picture, f"{name} digits", zoom)}</div>')
        else:
            out.append('<div class="card">no mosaic</div>')
        if evaluated is not None:
            confusion = evaluated / "confusion" / f"{name}.csv"
            counts = _confusion_from_csv(confusion) if confusion.is_file() else None
            if counts is not None:
                out.append(f'<div class="card"><b>per-digit confusion</b>{_confusion_html(counts)}</div>')
            hist = evaluated / "memorisation" / f"{name}.csv"
            curve = _curve_from_csv(hist, "distance") if hist.is_file() else None
            if curve is not None:
                chart = line_chart_svg(curve[0], curve[1], title="distance to the nearest training digit", x_label="pixel distance")
                out.append(f'<div class="card">{chart}</div>')
        pairs = _pairs_from_csv(evaluated / "ambiguous" / f"{name}.csv") if evaluated is not None else None
        if pairs:
            out.append(f'<div class="card"><b>ambiguous pairs</b>{_pairs_html(pairs, _lookup(banks.get(name) or {}, "ambiguous"))}</div>')
        out.append("</div>")
    return out


def _datasets_section(datasets: dict, evaluated: Path | None) -> list[str]:
    out = ["<h2>Sequence datasets</h2>"]
    if datasets:
        out.append(
            '<p class="note">Each digit is cropped by its box, centred in a 28x28 cell by its centre of mass as MNIST digits '
            "are (no rescaling) and classified. Boxes that overlap a neighbour's (negative spacing) can carry the neighbour's "
            "ink into the crop, so their accuracy is shown apart. Contract errors count violations of the shard format, "
            "provenance (box and pixels match the bank row named) and manifest; leaks count test-split digits whose pixels "
            "equal a training digit.</p>"
        )
        header = ["split"] + [label for _, label, _ in _SPLIT_COLUMNS]
        rows = []
        for split, values in datasets.items():
            cells = [_esc(split)]
            for key, _, pattern in _SPLIT_COLUMNS:
                value = values.get(key)
                text = _esc(_fmt(value, pattern))
                cells.append(f'<span class="bad">{text}</span>' if key in ("contract_errors", "leaks") and value else text)
            rows.append(cells)
        out.append(_table(header, rows))
        for split, values in datasets.items():
            options = values.get("layout_options") or []
            if options:
                shown = ", ".join(f"<code>{_esc(o)}</code>" for o in options)
                out.append(
                    f"<p>{_esc(split)}: layout options in use: {shown}; its digits are no copies of their sources, so only "
                    "their labels' provenance is checked, and every crop is brought back to the 28-px scale (inverted images "
                    "back to bright ink) and classified. The sample below shows them with their boxes.</p>"
                )
            per_source = values.get("accuracy_per_source") or {}
            if per_source:
                shown = ", ".join(f"<code>{_esc(s)}</code> {a:.2%}" for s, a in per_source.items())
                out.append(f"<p>{_esc(split)}: digit accuracy per source: {shown}</p>")
            out.extend(f'<p class="bad">{_esc(split)}: {_esc(message)}</p>' for message in values.get("messages") or [])
    else:
        out.append('<p class="note">No dataset checks (datasets.json) given.</p>')
    if evaluated is not None:
        for picture in sorted((evaluated / "sequences").glob("*.png")):
            split = picture.stem
            out.append(f"<h3>Sample <code>{_esc(split)}</code> sequences</h3><div class='cards'>")
            out.append(f'<div class="card">boxes: green = the classifier reads the label, red = it does not{_img(picture, f"{split} sequences")}</div>')
            confusion = evaluated / "confusion" / f"sequences-{split}.csv"
            counts = _confusion_from_csv(confusion) if confusion.is_file() else None
            if counts is not None:
                out.append(f'<div class="card"><b>per-digit confusion of the cropped digits</b>{_confusion_html(counts)}</div>')
            out.append("</div>")
    return out


_CANVAS_COLUMNS = (
    ("canvases", "canvases", "{:d}"),
    ("numbers", "numbers", "{:d}"),
    ("digits", "digits", "{:d}"),
    ("contract_errors", "contract errors", "{:d}"),
    ("leaks", "leaks from training", "{:d}"),
    ("largest_iou", "largest IoU", "{:.3f}"),
    ("max_iou", "IoU limit", "{:.3f}"),
    ("numbers_dropped", "numbers left out", "{:d}"),
    ("checked_digits", "classified digits", "{:d}"),
    ("digit_accuracy", "digit accuracy", "{:.2%}"),
    ("number_accuracy", "number accuracy", "{:.2%}"),
)


def _canvases_section(checks: dict, stats: dict, evaluated: Path | None) -> list[str]:
    out = ["<h2>Detection canvases</h2>"]
    if checks:
        out.append(
            '<p class="note">Each canvas holds several numbers placed so that no two number boxes overlap by more than the IoU '
            "limit. Every digit is cropped by its box, scaled so that its longer side is 20 px, centred by its centre of mass "
            "and classified; a number counts as read when all its digits are. Contract errors count violations of the shard "
            "format (boxes inside the canvas, digit boxes inside their number's box, the IoU limit, labels, padding), of "
            "provenance and of the manifest; leaks count test digits that are not real MNIST test digits.</p>"
        )
        header = ["split"] + [label for _, label, _ in _CANVAS_COLUMNS]
        rows = []
        for split, values in checks.items():
            cells = [_esc(split)]
            for key, _, pattern in _CANVAS_COLUMNS:
                value = values.get(key)
                text = _esc(_fmt(value, pattern))
                cells.append(f'<span class="bad">{text}</span>' if key in ("contract_errors", "leaks") and value else text)
            rows.append(cells)
        out.append(_table(header, rows))
        for split, values in checks.items():
            by_height = values.get("accuracy_by_height") or {}
            if by_height:
                shown = ", ".join(f"{_esc(k)} px: {v:.2%}" for k, v in by_height.items())
                out.append(f"<p>{_esc(split)}: digit accuracy by box height: {shown}</p>")
            out.extend(f'<p class="bad">{_esc(split)}: {_esc(message)}</p>' for message in values.get("messages") or [])
    else:
        out.append('<p class="note">No canvas checks (canvas_checks.json) given.</p>')
    if stats:
        rows = [[_esc(split), _esc(_fmt(v.get("count"), "{}")), _esc(_fmt(v.get("mean_numbers"), "{:.2f}")), _esc(_fmt(v.get("mean_digits"), "{:.2f}")),
                 _esc(_fmt(v.get("dropped_fraction"), "{:.3%}"))] for split, v in stats.items()]
        out.append(_table(["split", "canvases", "numbers per canvas", "digits per canvas", "numbers left out"], rows))
    if evaluated is not None:
        for picture in sorted((evaluated / "canvases").glob("*.png")):
            split = picture.stem
            out.append(f"<h3>Sample <code>{_esc(split)}</code> canvases</h3><div class='cards'>")
            out.append(f'<div class="card">blue: number boxes; green: digits the classifier reads as labelled, red: not{_img(picture, f"{split} canvases")}</div>')
            confusion = evaluated / "confusion" / f"canvases-{split}.csv"
            counts = _confusion_from_csv(confusion) if confusion.is_file() else None
            if counts is not None:
                out.append(f'<div class="card"><b>per-digit confusion of the cropped digits</b>{_confusion_html(counts)}</div>')
            out.append("</div>")
    return out


def _b64(path) -> str:
    with open(path, "rb") as handle:
        return base64.b64encode(handle.read()).decode("ascii")


def write_report(path: str | os.PathLike, document: str) -> None:
    """Write an HTML document (UTF-8), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(document, encoding="utf-8")
