"""DVC stage ``report``: one self-contained HTML page showing every digit source and dataset.

Inputs:  ``--metrics`` metric JSON files (classifier, banks and datasets of the evaluation, and other
         stages' metrics worth showing); ``--bank-plots`` outputs/plots/evaluate_banks/ (mosaics, confusion,
         memorisation and pair tables); ``--sequence-plots`` outputs/plots/evaluate_sequences/ (sample
         sequences, confusion of the cropped digits); ``--canvas-plots`` outputs/plots/evaluate_canvases/ (sample
         canvases with their boxes, confusion); ``--history`` the classifier's per-epoch CSV;
         ``--figures`` any other plot files (PNG, SVG, CSV) such as other stages' mosaics, curves,
         clustering or t-SNE plots. Every file named here is a dep of the stage in dvc.yaml.
Outputs: ``--out`` outputs/report/index.html (images base64-embedded, charts inline SVG, no network needed)
Params:  report (title, zoom)
"""

from __future__ import annotations

from digitgen import entry

parser = entry.stage_parser(__doc__)
parser.add_argument("--metrics", nargs="*", default=[], help="metric JSON files")
parser.add_argument("--bank-plots", help="the evaluate_banks stage's plots folder")
parser.add_argument("--sequence-plots", help="the evaluate_sequences stage's plots folder")
parser.add_argument("--canvas-plots", help="the evaluate_canvases stage's plots folder")
parser.add_argument("--history", help="the classifier's per-epoch CSV")
parser.add_argument("--figures", nargs="*", default=[], help="other PNG, SVG or CSV plot files")
parser.add_argument("--out", required=True, help="output HTML file")


def main(args) -> None:
    import logging

    from digitgen.params.core import load_section
    from digitgen.params.report import ReportParams
    from digitgen.report import build_report, write_report

    params = load_section(args.params, "report", ReportParams)
    document = build_report(
        metrics=args.metrics, bank_plots=args.bank_plots, sequence_plots=args.sequence_plots, canvas_plots=args.canvas_plots, history=args.history,
        figures=args.figures, title=params.title, zoom=params.zoom,
    )
    write_report(args.out, document)
    logging.getLogger("report").info("wrote %s (%.1f MB)", args.out, len(document.encode()) / 1e6)


if __name__ == "__main__":
    raise SystemExit(entry.run_stage("report", parser, main))
