"""``evaluate_canvases``: the checks and scores of the detection canvases (stage ``evaluate_canvases``)."""

from __future__ import annotations

from dataclasses import dataclass

from digitgen.params.core import setting
from digitgen.rules import Bool, Int


@dataclass(frozen=True)
class EvaluateCanvasesParams:
    """``evaluate_canvases``: how many canvases have their digits cropped and classified, how many are drawn, whether a broken contract fails the stage."""

    canvases_checked: int = setting(2000, Int(0, 10**9))
    canvas_previews: int = setting(8, Int(0, 1000))
    strict: bool = setting(True, Bool())
