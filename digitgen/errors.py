"""The error types digitgen raises for bad input, and how a value is quoted in a message.

Library code raises these (or the built-in ``ValueError`` / ``FileNotFoundError``)
with the file, key or option, the value received and what is allowed; the CLI
and the stage scripts turn them into one line on stderr (:mod:`digitgen.entry`).
"""

from __future__ import annotations

from typing import Any

#: Longest quoted value in a message; longer ones are cut (a params file can hold a huge value).
QUOTE_LIMIT = 120


def quote(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` cut to ``limit`` characters (with ``...``), for error messages."""
    try:
        text = repr(value)
    except RecursionError:  # a self-referencing structure
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class InputError(ValueError):
    """A value, option, key or file given by the user is not allowed; the message says which and why.

    ``key`` is the parameter or option named, when the error is about one value.
    """

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class ParamsError(InputError):
    """A params.yaml value or key is not allowed; the message names the file, the key and what is allowed."""


class CorruptFileError(InputError):
    """A file exists but cannot be read as what it should be (truncated, bit-flipped, tampered with)."""

    def __init__(self, path: Any, reason: str, remedy: str = "re-run `dvc repro` or `dvc checkout`") -> None:
        super().__init__(f"file {str(path)!r} is corrupt or truncated ({reason}); {remedy}.")
        self.path = path


class RunError(RuntimeError):
    """A run failed for a reason other than bad input (e.g. its outputs break their contract); exit status 1."""


def invalid(key: str, value: Any, allowed: str) -> InputError:
    """``InputError("key == value, allowed.")``: the one shape of every value error."""
    return InputError(f"{key} == {quote(value)}, {allowed}.", key)
