"""DVC stage ``report``: one self-contained HTML page showing every digit source and dataset.

Inputs:  ``--metrics`` metric JSON files (classifier, banks and datasets of the evaluation, and other
         stages' metrics worth showing); ``--evaluation`` outputs/plots/evaluate/ (mosaics, confusion
         and memorisation tables, sample sequences); ``--history`` the classifier's per-epoch CSV;
         ``--figures`` any other plot files (PNG, SVG, CSV) such as other stages' mosaics, curves,
         clustering or t-SNE plots. Every file named here is a dep of the stage in dvc.yaml.
Outputs: ``--out`` outputs/report/index.html (images base64-embedded, charts inline SVG, no network needed)
Params:  report (title, zoom)
"""

from __future__ import annotations

import argparse
import logging

from digitgen.params.core import load_section
from digitgen.params.report import ReportParams
from digitgen.report import build_report, write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="params file (default: %(default)s)")
    parser.add_argument("--metrics", nargs="*", default=[], help="metric JSON files")
    parser.add_argument("--evaluation", help="the evaluate stage's plots folder")
    parser.add_argument("--history", help="the classifier's per-epoch CSV")
    parser.add_argument("--figures", nargs="*", default=[], help="other PNG, SVG or CSV plot files")
    parser.add_argument("--out", required=True, help="output HTML file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    params = load_section(args.params, "report", ReportParams)
    document = build_report(
        metrics=args.metrics, evaluation=args.evaluation, history=args.history, figures=args.figures,
        title=params.title, zoom=params.zoom,
    )
    write_report(args.out, document)
    logging.getLogger("report").info("wrote %s (%.1f MB)", args.out, len(document.encode()) / 1e6)


if __name__ == "__main__":
    main()
