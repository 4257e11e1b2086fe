"""Keys of a params section as flat options: for command lines, HTTP queries and the studio's controls.

A section's nested dataclasses (``sequences.degrade.blur.p``) become flat keys
relative to the section (``degrade.blur.p``), each with the rule of its
params.yaml key (declared once in :mod:`digitgen.params`), its default and a
JSON description of the control that edits it. So an option another engineer
adds to a section appears on the command line, in the HTTP API and on the
page without code of its own.

Values arrive as text (a query string, a word of a command line) and are
turned into the type the rule expects, then checked by that rule, so a bad
value gets the message params.yaml would give: ``degrade.blur.p == 2.0, must be
a probability in [0, 1].`` Text forms: numbers as written (``-4``, ``0.5``),
``true`` / ``false``, ``null``, lists comma-separated (``0.4,1.2``), mappings
as comma-separated ``key:value`` pairs. :func:`format_value` writes a value
back in that form, so ``parse_text(rule, format_value(v))`` gives ``v`` again
(floats are written with ``repr``, which round-trips).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from digitgen.errors import InputError
from digitgen.params.core import SectionRule
from digitgen.rules import (
    AnyOf,
    Bool,
    Int,
    ListOf,
    MappingOf,
    Nullable,
    OneOf,
    Real,
    Rule,
    Text,
)

#: Longest text accepted for one option value (a query string or a command-line word).
MAX_TEXT = 4096
_NULL = ("null", "none", "~")


@dataclass(frozen=True)
class Option:
    """One flat option of a section.

    Attributes
    ----------
    key : dotted key relative to the section, e.g. ``degrade.blur.p``.
    rule : the rule of the params.yaml key.
    default : the section's default value (in the rule's canonical type).
    """

    key: str
    rule: Rule
    default: Any

    def parse(self, text: str, name: str) -> Any:
        """The value of ``text``, checked by the rule; errors name ``name`` (the option as the user wrote it)."""
        return parse_text(self.rule, text, name)

    def describe(self) -> dict[str, Any]:
        """JSON-ready description of the option: key, default, what is allowed, and the control kind (see :func:`describe_rule`)."""
        return {"key": self.key, "default": jsonable(self.default), "allowed": self.rule.allowed(), **describe_rule(self.rule)}


def flat_options(cls: type, exclude: Iterable[str] = ()) -> dict[str, Option]:
    """Every leaf key of section ``cls`` (nested sections flattened), in declaration order, but those in ``exclude``.

    ``exclude`` names keys or whole nested sections (``"length"`` drops ``length.min`` and ``length.max``).
    """
    excluded = set(exclude)
    options: dict[str, Option] = {}

    def walk(section: type, default: Any, prefix: str) -> None:
        for field in dataclasses.fields(section):
            key = prefix + field.name
            if key in excluded:
                continue
            rule = field.metadata["rule"]
            value = getattr(default, field.name)
            if isinstance(rule, SectionRule):
                walk(rule.cls, value, key + ".")
            else:
                options[key] = Option(key, rule, value)

    walk(cls, cls(), "")
    return options


def nest(values: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys to nested mappings: ``{"degrade.blur.p": 0.5}`` -> ``{"degrade": {"blur": {"p": 0.5}}}``."""
    nested: dict[str, Any] = {}
    for key, value in values.items():
        *parents, leaf = key.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


# --------------------------------------------------------------------------- text <-> values


def parse_text(rule: Rule, text: str, key: str) -> Any:
    """Turn ``text`` into the value ``rule`` expects and check it; returns the canonical value.

    Raises
    ------
    InputError
        Naming ``key``, the text received and what the rule allows.
    """
    if not isinstance(text, str):
        raise InputError(f"{key}: expected text, got {type(text).__name__}.", key)
    if len(text) > MAX_TEXT:
        raise rule.fail(key, text)
    return rule.check(_convert(rule, text.strip(), key), key)


def _convert(rule: Rule, text: str, key: str) -> Any:
    """The Python value ``text`` stands for under ``rule`` (unchecked; what cannot be converted stays text, for the rule's message)."""
    if isinstance(rule, Nullable):
        return None if text.lower() in _NULL or not text else _convert(rule.rule, text, key)
    if isinstance(rule, AnyOf):
        for inner in rule.rules:
            value = _convert(inner, text, key)
            if inner.accepts(value):
                return value
        return text
    if isinstance(rule, Bool):
        return {"true": True, "false": False}.get(text.lower(), text)
    if isinstance(rule, Int):
        return _number(text, integer=True)
    if isinstance(rule, Real):
        return _number(text, integer=False)
    if isinstance(rule, OneOf):
        if any(isinstance(choice, str) for choice in rule.choices):
            return text
        return _number(text, integer=all(isinstance(c, int) for c in rule.choices))
    if isinstance(rule, ListOf):
        items = [part.strip() for part in text.split(",")] if text else []
        return [_convert(rule.item, item, key) for item in items]
    if isinstance(rule, MappingOf):
        pairs = [part.split(":", 1) for part in text.split(",")] if text else []
        if any(len(pair) != 2 for pair in pairs):
            return text
        return {_convert(rule.key_rule, k.strip(), key): _convert(rule.value_rule, v.strip(), key) for k, v in pairs}
    return text


def _number(text: str, *, integer: bool) -> Any:
    """``int`` or ``float`` of ``text``, or ``text`` itself when it is not one (the rule then refuses it)."""
    try:
        return int(text, 10)
    except ValueError:
        pass
    if integer:
        return text
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


def format_value(value: Any) -> str:
    """A value in the text form :func:`parse_text` reads (lists comma-separated, ``true``/``false``, ``null``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, Mapping):
        return ",".join(f"{format_value(k)}:{format_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ",".join(format_value(v) for v in value)
    return str(value)


def jsonable(value: Any) -> Any:
    """A value as JSON can hold it (tuples as lists, mappings as dicts)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def describe_rule(rule: Rule) -> dict[str, Any]:
    """The control a rule calls for, JSON-ready.

    ``kind`` is ``integer`` / ``number`` (with ``min``, ``max`` and whether
    each bound is open), ``boolean``, ``choice`` (``choices``), ``multi`` (a
    list of distinct choices), ``list`` (``item``: the description of each
    item, ``min_length``, ``max_length``) or ``text``; ``nullable`` is true
    when ``null`` is allowed.
    """
    if isinstance(rule, Nullable):
        return {**describe_rule(rule.rule), "nullable": True}
    if isinstance(rule, Bool):
        return {"kind": "boolean"}
    if isinstance(rule, Int):
        return {"kind": "integer", "min": rule.low, "max": rule.high}
    if isinstance(rule, Real):
        return {"kind": "number", "min": rule.low, "max": rule.high, "min_open": rule.low_open, "max_open": rule.high_open}
    if isinstance(rule, OneOf):
        return {"kind": "choice", "choices": list(rule.choices)}
    if isinstance(rule, ListOf) and isinstance(rule.item, OneOf) and rule.unique:
        return {"kind": "multi", "choices": list(rule.item.choices), "min_length": rule.min_length}
    if isinstance(rule, ListOf):
        return {"kind": "list", "item": describe_rule(rule.item), "min_length": rule.min_length, "max_length": rule.max_length}
    if isinstance(rule, Text):
        return {"kind": "text"}
    return {"kind": "text"}
