"""``evaluate_sequences``: the checks and scores of the sequence datasets (stage ``evaluate_sequences``)."""

from __future__ import annotations

from dataclasses import dataclass

from digitgen.params.core import setting
from digitgen.rules import Bool, Int


@dataclass(frozen=True)
class EvaluateSequencesParams:
    """``evaluate_sequences``: how many sequences are classified and drawn; whether a broken contract fails the stage."""

    sequences_checked: int = setting(10000, Int(0, 10**9))
    sequence_previews: int = setting(12, Int(0, 1000))
    strict: bool = setting(True, Bool())
