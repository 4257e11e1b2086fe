"""What every digit generator class shares: parameters checked by the rule tables, the fitted check, building from params.

A generator follows scikit-learn's estimator conventions: ``__init__`` stores
its keyword parameters unchanged; ``fit`` checks them with the class's
:attr:`BaseGenerator.RULES` (the rules of its ``params.yaml`` section, from
:mod:`digitgen.params`, plus rules of class-only parameters declared in the
class's module), so a class and params.yaml give the same message for the
same rule: ``latent_size == 0, must be an integer in 1..512.`` from the
class, ``params: train_cvae.latent_size == 0, must be an integer in 1..512.``
from params.yaml. Learned state ends in ``_``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from digitgen.errors import CorruptFileError, InputError
from digitgen.rules import Rule, check_values


class BaseGenerator:
    """Parameter handling and the fitted check of a generator class (see the module docstring)."""

    #: Constructor parameter -> its rule; every parameter has one.
    RULES: ClassVar[Mapping[str, Rule]] = {}
    #: An attribute that exists once the generator is fitted (or loaded).
    FITTED_ATTRIBUTE: ClassVar[str] = ""

    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        """The constructor parameters, in signature order."""
        return tuple(name for name in inspect.signature(cls.__init__).parameters if name != "self")

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters, by name, as given."""
        return {name: getattr(self, name) for name in self.param_names()}

    def set_params(self, **params: Any) -> BaseGenerator:
        """Change constructor parameters; returns ``self``. They are checked when next used (``fit``, ``sample``)."""
        valid = self.param_names()
        for name, value in params.items():
            if name not in valid:
                raise InputError(f"unknown parameter {name!r}; valid parameters are {sorted(valid)}.", name)
            setattr(self, name, value)
        return self

    def checked_params(self) -> dict[str, Any]:
        """Every parameter checked by its rule, in its canonical type (tuples, floats); errors name the parameter."""
        return check_values(self.get_params(), self.RULES)

    @classmethod
    def from_section(cls, section: Any, **overrides: Any) -> BaseGenerator:
        """The unfitted generator of a params section: each parameter the section has, ``random_state`` from its ``seed``."""
        values = {name: getattr(section, name) for name in cls.param_names() if hasattr(section, name)}
        if "random_state" in cls.param_names() and hasattr(section, "seed"):
            values["random_state"] = section.seed
        return cls(**{**values, **overrides})

    @classmethod
    def from_saved_params(cls, params: Mapping[str, Any], json_path: Path, stage: str) -> BaseGenerator:
        """An unfitted generator of the ``params`` of a saved ``model.json``, checked and in their canonical types."""
        names = set(cls.param_names())
        if set(params) != names:
            raise CorruptFileError(
                json_path, f"its params {sorted(params)} are not those of {cls.__name__} {sorted(names)}", f"run `dvc repro {stage}`"
            )
        try:
            return cls(**check_values(params, cls.RULES))
        except InputError as error:
            raise InputError(f"{json_path}: params: {error}") from None

    def is_fitted(self) -> bool:
        """Whether the generator holds fitted state."""
        return hasattr(self, self.FITTED_ATTRIBUTE)

    def _check_fitted(self) -> None:
        if not self.is_fitted():
            name = type(self).__name__
            raise InputError(f"this {name} is not fitted yet; call fit(images, labels) or {name}.load(path) first.")
