"""``report``: the self-contained HTML page of every source and dataset (stage ``report``)."""

from __future__ import annotations

from dataclasses import dataclass

from digitgen.params.core import setting
from digitgen.rules import Int, Text


@dataclass(frozen=True)
class ReportParams:
    """``report``: the page's title and the zoom of its digit pictures."""

    title: str = setting("digitgen: digit sources and datasets", Text(max_length=200))
    zoom: int = setting(2, Int(1, 8, allowed="must be in 1..8 (screen pixels per digit pixel)"))
