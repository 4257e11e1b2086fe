"""The studio's query strings: each parameter parsed and checked with the rules of params.yaml and the CLI.

A query is a mapping of parameter -> text. Layout options are the
``sequences`` keys of :func:`digitgen.sequence.layout_options`, spelt as in
params.yaml relative to the section (``degrade.blur.p``), with three short
names of the classic tool: ``min``, ``max`` and ``measure``
(:data:`QUERY_NAMES`). Augmentation options are the ``augment`` keys
(``rotation``, ``elastic.alpha``, ...). An unknown parameter, a parameter
given twice or a bad value raises :class:`digitgen.errors.InputError` whose
``key`` is the parameter as the query spells it. Sizes are
capped by the same rules (width: ``sequences.width``'s, length:
``sequences.length``'s) and the number of digits of one draw by
:class:`digitgen.studio.limits.Limits`.

Each parser also returns the equivalent ``digitgen`` command line, which
writes the bytes the API returns (:mod:`digitgen.studio.commands`).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from digitgen.compose import parse_digits
from digitgen.constants import SOURCE_NAMES, SPLIT_NAMES
from digitgen.errors import InputError
from digitgen.options import parse_text
from digitgen.params.fit_kde import KDE_RULES
from digitgen.params.train_autoencoder import PAIR
from digitgen.params.train_cvae import CVAE_RULES
from digitgen.rules import Int, OneOf, Rule
from digitgen.sampling import (
    DIGIT_RULE,
    GENERATORS,
    SampleRequest,
    augment_options,
    check_sample,
)
from digitgen.sequence import LENGTH_RULE, Layout, build_layout, layout_options
from digitgen.studio.limits import Limits


class ParameterError(InputError):
    """A parameter that is unknown, repeated or missing (HTTP 400; a bad value is 422)."""


#: Layout options with a short query name; every other option is spelt as its key.
QUERY_NAMES = {"spacing.min": "min", "spacing.max": "max", "spacing.measure": "measure"}
#: Rule of ``seed``.
SEED_RULE = Int(0, 2**63 - 1)
#: What each endpoint can return.
FORMATS = {"sequence": ("png", "npz", "json"), "digits": ("png", "npz", "json"), "ambiguous": ("png", "gif", "npz", "json")}
_WIDTH_WORDS = ("tight", "none")


def query_name(key: str) -> str:
    """How a query spells layout option ``key``."""
    return QUERY_NAMES.get(key, key)


def _single(query: Mapping[str, list[str]], known: set[str]) -> dict[str, str]:
    """One text per parameter; refuses unknown and repeated parameters."""
    values = {}
    for name, texts in query.items():
        if name not in known:
            raise ParameterError(f"unknown parameter {name!r}; valid parameters are {sorted(known)}.", name)
        if len(texts) != 1:
            raise ParameterError(f"parameter {name!r} is given {len(texts)} times; give it once.", name)
        values[name] = texts[0]
    return values


def _seed(values: Mapping[str, str]) -> int:
    """The seed asked for, or a fresh one (reported back, so the result can be reproduced)."""
    if "seed" not in values or not values["seed"].strip():
        return secrets.randbits(63)
    return parse_text(SEED_RULE, values["seed"], "seed")


def _choice(values: Mapping[str, str], name: str, rule: OneOf, default: Any) -> Any:
    return default if name not in values else parse_text(rule, values[name], name)


def _flag(values: Mapping[str, str], name: str) -> bool:
    text = values.get(name, "0").strip().lower()
    if text not in ("0", "1", "true", "false", ""):
        raise InputError(f"{name} == {text!r}, must be 1 or 0.", name)
    return text in ("1", "true")


@dataclass(frozen=True)
class SequenceQuery:
    """A checked ``/api/sequence`` query."""

    digits: str
    layout: Layout
    source: str
    split: str
    seed: int
    format: str
    download: bool


def sequence_query(query: Mapping[str, list[str]], limits: Limits) -> SequenceQuery:
    """Check an ``/api/sequence`` query: ``digits``, ``min``, ``max``, ``width`` (or ``tight``), ``seed``, ``source``,
    ``split``, ``format``, ``download`` and every layout option."""
    options = layout_options()
    known = {"digits", "seed", "source", "split", "format", "download", *(query_name(k) for k in options)}
    values = _single(query, known)
    for required in ("digits", "min", "max", "width"):
        if required not in values:
            raise ParameterError(f"parameter {required!r} is missing; /api/sequence needs digits, min, max and width (or width=tight).", required)
    digits = values["digits"].strip()
    try:
        parsed = parse_digits(digits)
    except InputError as error:
        raise InputError(str(error), "digits") from None
    LENGTH_RULE.check(len(parsed), "digits length")
    layout_values: dict[str, Any] = {}
    for key, option in options.items():
        name = query_name(key)
        if name not in values:
            continue
        if key == "width" and values[name].strip().lower() in _WIDTH_WORDS:
            layout_values[key] = None
            continue
        layout_values[key] = option.parse(values[name], name)
    layout = build_layout(len(parsed), layout_values, query_name)
    return SequenceQuery(
        digits=digits,
        layout=layout,
        source=_choice(values, "source", OneOf(SOURCE_NAMES), "real"),
        split=_choice(values, "split", OneOf(SPLIT_NAMES), "test"),
        seed=_seed(values),
        format=_choice(values, "format", OneOf(FORMATS["sequence"]), "png"),
        download=_flag(values, "download"),
    )


@dataclass(frozen=True)
class SampleQuery:
    """A checked ``/api/digits`` or ``/api/ambiguous`` query."""

    request: SampleRequest
    format: str
    download: bool


#: Parameters of ``/api/digits`` besides the augmentation options, with their rules (None: checked by check_sample).
_DIGITS_RULES: dict[str, Rule | None] = {
    "generator": OneOf(GENERATORS), "n": None, "seed": None, "digit": DIGIT_RULE, "rejection": KDE_RULES["rejection"],
    "cleaning": KDE_RULES["cleaning"], "temperature": CVAE_RULES["temperature"], "split": OneOf(SPLIT_NAMES),
    "columns": Int(1, 1000), "a": Int(0, 9), "b": Int(0, 9),
}


def _sample_values(values: Mapping[str, str]) -> dict[str, Any]:
    """Typed values of the sampling parameters present in ``values``."""
    typed: dict[str, Any] = {}
    options = augment_options()
    for name, text in values.items():
        if name in ("format", "download", "seed"):
            continue
        if name in options:
            typed["augment." + name] = options[name].parse(text, name)
        elif name == "n":
            try:
                typed["n"] = int(text.strip(), 10)
            except ValueError:
                typed["n"] = text  # check_sample's rule names it
        elif name in ("a", "b"):
            typed[name] = parse_text(Int(0, 9), text, name)
        elif _DIGITS_RULES.get(name) is not None:
            typed[name] = parse_text(_DIGITS_RULES[name], text, name)
        else:
            typed[name] = text
    typed["seed"] = _seed(values)
    return typed


def digits_query(query: Mapping[str, list[str]], limits: Limits) -> SampleQuery:
    """Check a ``/api/digits`` query: ``generator``, ``n``, ``seed``, ``digit``, ``columns``, ``split``, ``rejection``,
    ``cleaning``, ``temperature``, ``a`` and ``b`` (a pair, generator ambiguous), the augmentation options, ``format``."""
    known = set(_DIGITS_RULES) | {"format", "download"} | set(augment_options())
    values = _single(query, known)
    typed = _sample_values(values)
    typed.setdefault("generator", "kde")
    typed.setdefault("n", 16)
    _pair(typed)
    request = check_sample(typed, max_n=limits.max_digits, name=_sample_name)
    return SampleQuery(request, _choice(values, "format", OneOf(FORMATS["digits"]), "png"), _flag(values, "download"))


def ambiguous_query(query: Mapping[str, list[str]], limits: Limits) -> SampleQuery:
    """Check an ``/api/ambiguous`` query: ``a`` and ``b`` (or ``digit``), ``n`` series (default 1), ``seed``, ``format``."""
    known = {"a", "b", "digit", "n", "seed", "format", "download"}
    values = _single(query, known)
    typed = _sample_values(values)
    typed["generator"] = "ambiguous"
    typed.setdefault("n", 1)
    _pair(typed)
    request = check_sample(typed, max_n=limits.max_series, name=_sample_name)
    return SampleQuery(request, _choice(values, "format", OneOf(FORMATS["ambiguous"]), "png"), _flag(values, "download"))


def _pair(typed: dict[str, Any]) -> None:
    """``a`` and ``b`` -> ``pair``, checked by the pair rule of params.yaml (two different digits)."""
    if "a" in typed or "b" in typed:
        if "a" not in typed or "b" not in typed:
            missing = "b" if "a" in typed else "a"
            raise ParameterError(f"parameter {missing!r} is missing; a pair needs both a and b.", missing)
        a, b = typed.pop("a"), typed.pop("b")
        if a == b:
            raise InputError(f"a == {a} and b == {b}: {PAIR.allowed().removeprefix('must be ')} are needed.", "b")
        typed["pair"] = PAIR.check([a, b], "pair")


def _sample_name(key: str) -> str:
    """Query names of the options of :func:`digitgen.sampling.check_sample`."""
    return "a" if key == "pair" else key.removeprefix("augment.")
