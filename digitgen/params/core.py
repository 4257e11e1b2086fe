"""Reading ``params.yaml``: a strict YAML loader and the builder of typed, validated sections.

A section is a frozen dataclass whose fields are declared with :func:`setting`
(a default and a :mod:`digitgen.rules` rule) or :func:`section` (a nested
section). :func:`build_section` checks every key of a mapping against them:
unknown keys are reported with the valid ones, a wrong value names the key,
the value and what is allowed; then the dataclass's own ``validate(key)``
checks rules that tie fields together.

The loader refuses what a params file never needs and a hostile one could
abuse: a document that expands to more than :data:`MAX_VALUES` values through
YAML aliases (an "alias bomb" of a few hundred bytes expands to billions; an
anchor reused a few times is fine), duplicate keys (the second would silently
win), files over :data:`MAX_FILE_BYTES`, non-UTF-8 bytes and an empty file.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from digitgen.errors import InputError, ParamsError, quote
from digitgen.rules import Rule

#: The top-level sections of params.yaml, one per pipeline stage that takes parameters.
SECTION_NAMES = (
    "download",
    "sequences",
    "augment",
    "fit_kde",
    "train_classifier",
    "evaluate_banks",
    "evaluate_sequences",
    "report",
    "train_cvae",
    "train_autoencoder",
    "latent_report",
    "canvases",
    "evaluate_canvases",
    "train_reader",
)
#: Largest params file read (the project's is about 11 kB).
MAX_FILE_BYTES = 1 << 20
#: Most values (scalars, lists, mappings) a params document may hold once its aliases are expanded.
MAX_VALUES = 100_000

Section = TypeVar("Section")


def setting(default: Any = dataclasses.MISSING, rule: Rule | None = None, *, factory: Any = dataclasses.MISSING) -> Any:
    """A section field: its default (or a ``factory`` for mutable defaults) and the rule its value must pass."""
    if rule is None:
        raise TypeError("setting() needs a rule")
    return dataclasses.field(default=default, default_factory=factory, metadata={"rule": rule})


def section(cls: type) -> Any:
    """A nested section field (defaults: the section's own defaults)."""
    return dataclasses.field(default_factory=cls, metadata={"rule": SectionRule(cls)})


class SectionRule(Rule):
    """A mapping checked as the section ``cls`` (see :func:`build_section`)."""

    def __init__(self, cls: type, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cls = cls

    def describe(self) -> str:
        return "a mapping"

    def convert(self, value: Any, key: str) -> Any:
        if isinstance(value, self.cls):
            return value
        return build_section(self.cls, value, key)


def key_name(key: Any) -> str:
    """A mapping key as shown in a message: the string itself (cut to a bounded length), else its quoted repr."""
    return quote(key)[1:-1] if isinstance(key, str) else quote(key)


def rules_of(cls: type) -> dict[str, Rule]:
    """Field name -> rule of a section class (for checking the same values elsewhere, e.g. a generator's)."""
    return {f.name: f.metadata["rule"] for f in dataclasses.fields(cls)}


def defaults_of(cls: type) -> dict[str, Any]:
    """Field name -> default value of a section class."""
    values = {}
    for f in dataclasses.fields(cls):
        values[f.name] = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    return values


def build_section(cls: type[Section], mapping: Any, key: str) -> Section:
    """Build section ``cls`` from ``mapping`` (None = all defaults), checking keys, values and cross-field rules.

    Raises
    ------
    InputError
        Naming the key (``key.field``), the value and what is allowed.
    """
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, Mapping):
        raise InputError(f"{key} == {quote(mapping)}, must be a mapping of keys {sorted(f.name for f in dataclasses.fields(cls))}.", key)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [name for name in mapping if name not in fields]
    if unknown:
        raise InputError(f"unknown key {key}.{key_name(unknown[0])}; valid keys of {key} are {sorted(fields)}.", f"{key}.{unknown[0]}")
    values = {}
    for name, f in fields.items():
        if name in mapping:
            values[name] = f.metadata["rule"].check(mapping[name], f"{key}.{name}")
        else:
            values[name] = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    instance = cls(**values)
    validate = getattr(instance, "validate", None)
    if validate is not None:
        validate(key)
    return instance


# --------------------------------------------------------------------------- the YAML file


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key (a list): SafeLoader reports it
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark, f"found duplicate key {quote(key)}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _yaml_problem(error: yaml.YAMLError) -> str:
    """`` at line L, column C: what went wrong`` of a YAML error, on one line."""
    mark = getattr(error, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(error, "problem", None) or str(error)
    return f"{where}: {' '.join(str(problem).split())[:200]}"


def read_params_file(path: str | os.PathLike) -> dict[str, Any]:
    """The raw mapping of a params file, strictly loaded (see the module docstring).

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    ParamsError
        Too large, not UTF-8 text, not valid YAML, an alias, a duplicate key,
        empty, or a top level that is not a mapping of known sections.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"params file {str(path)!r} does not exist{' (it is a folder)' if path.is_dir() else ''}.")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ParamsError(f"{path}: {size} bytes, more than the {MAX_FILE_BYTES} a params file may hold.")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ParamsError(f"{path}: not a UTF-8 text file (byte {error.start}: {error.reason}).") from None
    try:
        raw = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise ParamsError(f"{path}: not valid YAML{_yaml_problem(error)}") from None
    if raw is None:
        raise ParamsError(f"{path}: the file is empty; it must hold a mapping of sections ({', '.join(SECTION_NAMES)}).")
    if expanded_size(raw, MAX_VALUES) > MAX_VALUES:
        raise ParamsError(f"{path}: the document expands to more than {MAX_VALUES} values through YAML aliases; write the values out.")
    check_sections(raw, str(path))
    return raw


def expanded_size(value: Any, cap: int) -> int:
    """Number of values in ``value`` with every shared (aliased) part counted each time it appears, capped at ``cap + 1``.

    Linear in the number of distinct objects: sizes of shared parts are remembered.
    """
    sizes: dict[int, int] = {}

    def size(node: Any) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        if isinstance(node, Mapping):
            children = [*node.keys(), *node.values()]
        elif isinstance(node, list | tuple):
            children = list(node)
        else:
            return 1
        sizes[id(node)] = cap + 1  # a (self-)reference met while counting counts as too big
        total = 1
        for child in children:
            total = min(total + size(child), cap + 1)
        sizes[id(node)] = total
        return total

    return size(value)


def check_sections(raw: Any, source: str) -> None:
    """Raise :class:`ParamsError` unless ``raw`` is a mapping whose keys are section names."""
    if not isinstance(raw, Mapping):
        raise ParamsError(f"{source}: the top level must be a mapping of sections, got {type(raw).__name__}.")
    for name in raw:
        if name not in SECTION_NAMES:
            raise ParamsError(f"{source}: unknown key {key_name(name)}; valid keys are {sorted(SECTION_NAMES)}.")


def parse_section(raw: Mapping[str, Any], name: str, cls: type[Section], source: str = "params") -> Section:
    """Section ``name`` of an already-loaded params mapping, as ``cls``; errors are :class:`ParamsError` naming ``source``."""
    try:
        return build_section(cls, raw.get(name), name)
    except ParamsError:
        raise
    except InputError as error:
        raise ParamsError(f"{source}: {error}") from None


def load_section(path: str | os.PathLike, name: str, cls: type[Section]) -> Section:
    """Read ``path`` and return its section ``name`` as ``cls``, validated (what a stage needs, and no more)."""
    return parse_section(read_params_file(path), name, cls, str(path))
