"""Stage ``evaluate_canvases``: both canvas splits checked against their contract, their digits cropped and classified.

Writes ``canvas_checks.json`` and the canvas plots (``canvases/<split>.png``: sample canvases with their
number boxes in blue and digit boxes green where the classifier reads the label, red where not;
``confusion/canvases-<split>.csv``: columns actual, predicted). In strict mode a broken contract or
a leak fails the run (:class:`digitgen.errors.RunError`) and nothing is written. Canvas digits are
resampled, so none is byte-identical to its source digit: every checked crop goes through the
classifier (TensorFlow is imported, after every other input is checked, unless no canvas is checked).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from digitgen.bank import load_bank
from digitgen.canvas_pictures import draw_canvases
from digitgen.constants import SPLIT_NAMES
from digitgen.data.mnist import load_mnist_npz
from digitgen.errors import InputError, RunError
from digitgen.evaluate.canvases import CanvasSplitResult, check_canvas_split
from digitgen.evaluate.outputs import CONFUSION_COLUMNS, write_csv, write_json
from digitgen.evaluate.readings import Classify
from digitgen.io import atomic_directory, read_npz
from digitgen.params.evaluate_canvases import EvaluateCanvasesParams
from digitgen.pictures import save_png
from digitgen.pipeline.inputs import banks_by_name, check_model_file, load_classifier

logger = logging.getLogger(__name__)


def canvas_folders(folders: Sequence[str | os.PathLike]) -> dict[str, Path]:
    """Split name -> folder, for folders named after the splits (``outputs/canvases/train`` ...); every split once."""
    found: dict[str, Path] = {}
    for folder in map(Path, folders):
        if folder.name not in SPLIT_NAMES or folder.name in found:
            raise InputError(f"--canvases must name one folder per split {list(SPLIT_NAMES)}, named after it; got {[str(f) for f in folders]}.", "--canvases")
        if not folder.is_dir():
            raise FileNotFoundError(f"canvas split {str(folder)!r} does not exist; run `dvc repro canvases`.")
        found[folder.name] = folder
    missing = [split for split in SPLIT_NAMES if split not in found]
    if missing:
        raise InputError(f"--canvases names no folder for split(s) {missing}; got {[str(f) for f in folders]}.", "--canvases")
    return {split: found[split] for split in SPLIT_NAMES}


def _source_names(folder: Path) -> set[str]:
    names: set[str] = set()
    for path in sorted(folder.glob("shard-*.npz")):
        try:
            names.update(str(n) for n in read_npz(path, ["source_names"], what="shard")["source_names"].reshape(-1))
        except InputError:
            continue  # the check reports it
    return names


class _LazyClassifier:
    """Classifies crops with the evaluation classifier, loading it (and TensorFlow) on the first call."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path, self.model = path, None

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        if self.model is None:
            self.model = load_classifier(self.path)
        return self.model.features_and_proba(inputs)[1].argmax(1).astype(np.int64)


def run(
    params: EvaluateCanvasesParams,
    mnist: str | os.PathLike,
    model: str | os.PathLike,
    banks: Sequence[str | os.PathLike],
    canvases: Sequence[str | os.PathLike],
    metrics: str | os.PathLike,
    plots: str | os.PathLike,
    *,
    classify: Classify | None = None,
) -> dict[str, CanvasSplitResult]:
    """Check and score every canvas split; write ``metrics`` (``canvas_checks.json``) and the ``plots`` folder.

    Raises
    ------
    digitgen.errors.RunError
        In strict mode, when a split breaks its contract or the test split holds digits
        that are not real MNIST test digits; nothing is written then.
    """
    folders = canvas_folders(canvases)
    arrays = load_mnist_npz(mnist)
    check_model_file(model)
    bank_files = banks_by_name(banks)
    pools = {split: {"real": arrays[f"y_{split}"].astype(np.int16)} for split in SPLIT_NAMES}
    for name in sorted(_source_names(folders["train"]) - {"real"}):
        if name in bank_files:
            pools["train"][name] = load_bank(bank_files[name], name).intended
    classify = _LazyClassifier(model) if classify is None else classify
    results = {split: check_canvas_split(folders[split], split, pools[split], classify, params) for split in SPLIT_NAMES}
    failures = [f"{split}: {message}" for split, result in results.items() for message in result.messages]
    for message in failures:
        logger.error("%s", message)
    broken = {split: (r.metrics["contract_errors"], r.metrics["leaks"]) for split, r in results.items()}
    if params.strict and any(errors or leaks for errors, leaks in broken.values()):
        summary = "; ".join(f"{split}: {errors} contract errors, {leaks} leaks" for split, (errors, leaks) in broken.items())
        raise RunError(
            f"the canvas datasets break their contract ({summary}); nothing written "
            f"(set evaluate_canvases.strict: false to write the metrics anyway); first: {failures[0] if failures else '-'}"
        )
    with atomic_directory(plots) as folder:
        for split, result in results.items():
            if len(result.labels):
                write_csv(folder / "confusion" / f"canvases-{split}.csv", CONFUSION_COLUMNS, np.stack([result.labels, result.predicted], 1).tolist())
            preview = result.preview
            if preview:
                picture = draw_canvases(preview["images"], preview["digit_boxes"], preview["digit_labels"], preview["number_boxes"], preview["predicted"])
                save_png(folder / "canvases" / f"{split}.png", picture)
        write_json(metrics, {split: {**r.metrics, **({"messages": r.messages} if r.messages else {})} for split, r in results.items()})
    return results
