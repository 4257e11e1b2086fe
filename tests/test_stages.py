"""Every stage script of dvc.yaml refuses a bad params.yaml with one line and exit status 2, before it writes anything.

The stages are run as DVC runs them (their ``cmd``), in an empty folder, with a
params file whose section for the stage is broken; no TensorFlow is imported
before the check, so each run takes about a second.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
WITH_PARAMS = sorted(name for name, stage in STAGES.items() if stage.get("params"))


def _command(stage: dict) -> list[str]:
    tokens = shlex.split(stage["cmd"])
    assert tokens[0] == "python" and tokens[1].startswith("stages/")
    return [sys.executable, str(ROOT / tokens[1]), *tokens[2:]]


@pytest.mark.parametrize("name", WITH_PARAMS)
def test_a_broken_params_section_stops_the_stage_with_one_line(name, tmp_path):
    section = str(STAGES[name]["params"][0]).split(".")[0]
    (tmp_path / "params.yaml").write_text(f"{section}: 5\n")
    result = subprocess.run(_command(STAGES[name]), cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"stage {name}: error: params.yaml: {section} == 5, must be a mapping of keys {_keys(section)}.\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]  # nothing written


def _keys(section: str) -> list[str]:
    import dataclasses

    from digitgen.params.all import SECTIONS

    return sorted(f.name for f in dataclasses.fields(SECTIONS[section]))
