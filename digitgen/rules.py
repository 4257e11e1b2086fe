"""Parameter rules, declared once as data and used wherever a value is checked.

The same rule object checks a key of ``params.yaml`` (:mod:`digitgen.params`),
a constructor parameter of a generator class, a CLI option and an HTTP query
parameter, so a rule has one message everywhere::

    Int(1, 512).check(0, "train_cvae.latent_size")
    # InputError: train_cvae.latent_size == 0, must be an integer in 1..512.

A rule returns the value in its canonical type (``int``, ``float``, ``tuple``
of items, ``dict``) or raises :class:`digitgen.errors.InputError` naming the
key, the value received (quoted, cut to a bounded length) and what is allowed.
Numbers must be finite; booleans are never integers.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from digitgen.errors import InputError, invalid


class Rule:
    """What one value may be. Subclasses implement :meth:`convert` and :meth:`describe`.

    Parameters
    ----------
    allowed : replaces the generated ``must be ...`` phrase of the message.
    """

    def __init__(self, *, allowed: str | None = None) -> None:
        self._allowed = allowed

    def describe(self) -> str:
        """A noun phrase such as ``an integer in 1..512`` (used inside other rules' messages)."""
        raise NotImplementedError

    def allowed(self) -> str:
        """The phrase after the value in a message: ``must be an integer in 1..512``."""
        return self._allowed or f"must be {self.describe()}"

    def convert(self, value: Any, key: str) -> Any:
        """The canonical value, or raise :class:`InputError` (see :meth:`fail`)."""
        raise NotImplementedError

    def check(self, value: Any, key: str) -> Any:
        """Check ``value`` as the parameter ``key``; returns the canonical value."""
        return self.convert(value, key)

    def fail(self, key: str, value: Any) -> InputError:
        """The error for ``value`` at ``key``: ``key == value, must be ...``."""
        return invalid(key, value, self.allowed())

    def accepts(self, value: Any) -> bool:
        """Whether :meth:`check` would pass."""
        try:
            self.check(value, "value")
        except InputError:
            return False
        return True


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


class Int(Rule):
    """An integer in ``low..high`` (either bound may be None)."""

    def __init__(self, low: int | None = None, high: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.low, self.high = low, high

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            return f"an integer in {self.low}..{self.high}"
        if self.low is not None:
            return f"an integer >= {self.low}"
        if self.high is not None:
            return f"an integer <= {self.high}"
        return "an integer"

    def convert(self, value: Any, key: str) -> int:
        if not _is_integer(value) or (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise self.fail(key, value)
        return int(value)


class Real(Rule):
    """A finite number (integers are accepted and become floats) in an interval.

    ``low_open`` / ``high_open`` exclude the bound itself.
    """

    def __init__(
        self,
        low: float | None = None,
        high: float | None = None,
        *,
        low_open: bool = False,
        high_open: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open

    def describe(self) -> str:
        low, high = self.low, self.high
        if low is not None and high is not None:
            return f"a number in {'(' if self.low_open else '['}{low:g}, {high:g}{')' if self.high_open else ']'}"
        if low is not None:
            return f"a number {'>' if self.low_open else '>='} {low:g}"
        if high is not None:
            return f"a number {'<' if self.high_open else '<='} {high:g}"
        return "a finite number"

    def convert(self, value: Any, key: str) -> float:
        if not _is_real(value) or not math.isfinite(value):
            raise self.fail(key, value)
        number = float(value)
        if self.low is not None and (number < self.low or (self.low_open and number == self.low)):
            raise self.fail(key, value)
        if self.high is not None and (number > self.high or (self.high_open and number == self.high)):
            raise self.fail(key, value)
        return number


class Bool(Rule):
    """``true`` or ``false`` (never 0 or 1)."""

    def describe(self) -> str:
        return "true or false"

    def convert(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool | np.bool_):
            raise self.fail(key, value)
        return bool(value)


class Text(Rule):
    """A string, non-empty (after stripping) unless ``empty`` is allowed, at most ``max_length`` characters."""

    def __init__(self, *, empty: bool = False, max_length: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.empty, self.max_length = empty, max_length

    def describe(self) -> str:
        size = f" of at most {self.max_length} characters" if self.max_length is not None else ""
        return f"{'a' if self.empty else 'a non-empty'} string{size}"

    def convert(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or (not self.empty and not value.strip()):
            raise self.fail(key, value)
        if self.max_length is not None and len(value) > self.max_length:
            raise self.fail(key, value)
        return value


class Pattern(Text):
    """A string matching the regular expression ``pattern`` in full; ``example`` shows what is allowed."""

    def __init__(self, pattern: str, example: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pattern, self.example = re.compile(pattern), example

    def describe(self) -> str:
        return f"a string like {self.example!r}"

    def convert(self, value: Any, key: str) -> str:
        value = super().convert(value, key)
        if not self.pattern.fullmatch(value):
            raise self.fail(key, value)
        return value


class OneOf(Rule):
    """One of a fixed set of values (strings, usually)."""

    def __init__(self, choices: Iterable[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.choices = tuple(choices)

    def describe(self) -> str:
        return f"one of {list(self.choices)}"

    def convert(self, value: Any, key: str) -> Any:
        if isinstance(value, bool | np.bool_) or not isinstance(value, str | numbers.Number) or value not in self.choices:
            raise self.fail(key, value)
        return self.choices[self.choices.index(value)]


class Nullable(Rule):
    """``null`` (None), or a value ``rule`` accepts."""

    def __init__(self, rule: Rule, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rule = rule

    def describe(self) -> str:
        return f"{self.rule.describe()} or null"

    def allowed(self) -> str:
        if self._allowed is None and self.rule._allowed is not None:
            return f"{self.rule._allowed}, or null"
        return super().allowed()

    def convert(self, value: Any, key: str) -> Any:
        if value is None:
            return None
        try:
            return self.rule.check(value, key)
        except InputError as error:
            raise (error if error.key not in (None, key) else self.fail(key, value)) from None


class AnyOf(Rule):
    """A value accepted by the first of ``rules`` that accepts it."""

    def __init__(self, *rules: Rule, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rules = rules

    def describe(self) -> str:
        return " or ".join(rule.describe() for rule in self.rules)

    def convert(self, value: Any, key: str) -> Any:
        deeper = None
        for rule in self.rules:
            try:
                return rule.check(value, key)
            except InputError as error:
                if deeper is None and error.key not in (None, key):
                    deeper = error  # an item or field of the value is wrong: that is the more useful message
        raise (deeper or self.fail(key, value)) from None


class ListOf(Rule):
    """A list of ``min_length``..``max_length`` items each accepted by ``item``; returned as a tuple.

    ``unique`` refuses a repeated item. An item's error names it as ``key[i]``.
    """

    def __init__(
        self,
        item: Rule,
        min_length: int = 0,
        max_length: int | None = None,
        *,
        unique: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.item, self.min_length, self.max_length, self.unique = item, min_length, max_length, unique

    def describe(self) -> str:
        if self.max_length is not None and self.max_length == self.min_length:
            size = f"{self.min_length}"
        elif self.max_length is not None:
            size = f"{self.min_length} to {self.max_length}"
        elif self.min_length:
            size = f"at least {self.min_length}"
        else:
            size = "any number of"
        distinct = ", no repeats" if self.unique else ""
        return f"a list of {size} items, each {self.item.describe()}{distinct}"

    def convert(self, value: Any, key: str) -> tuple:
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence | np.ndarray):
            raise self.fail(key, value)
        if len(value) < self.min_length or (self.max_length is not None and len(value) > self.max_length):
            raise self.fail(key, value)
        items = tuple(self.item.check(item, f"{key}[{i}]") for i, item in enumerate(value))
        if self.unique and len(set(items)) != len(items):
            raise self.fail(key, value)
        return items


class MappingOf(Rule):
    """A mapping whose keys ``key_rule`` and values ``value_rule`` accept (at least ``min_length`` entries); a dict."""

    def __init__(self, key_rule: Rule, value_rule: Rule, min_length: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key_rule, self.value_rule, self.min_length = key_rule, value_rule, min_length

    def describe(self) -> str:
        return f"a mapping of {self.key_rule.describe()} to {self.value_rule.describe()}"

    def convert(self, value: Any, key: str) -> dict:
        if not isinstance(value, Mapping) or len(value) < self.min_length:
            raise self.fail(key, value)
        return {self.key_rule.check(k, key): self.value_rule.check(v, f"{key}.{k}") for k, v in value.items()}


def check_values(values: Mapping[str, Any], rules: Mapping[str, Rule], prefix: str = "") -> dict[str, Any]:
    """Check every ``values[name]`` that has a rule; returns the canonical values (the others unchanged).

    Errors name ``prefix + name``, e.g. ``latent_size == 0, must be an integer in 1..512.``
    """
    return {name: rules[name].check(value, prefix + name) if name in rules else value for name, value in values.items()}
