"""``sequences.degrade`` and ``canvases.degrade``: image degradations applied after composition (:mod:`digitgen.degrade`).

Each degradation has a probability ``p`` (the share of images it is applied
to, drawn per image) and a strength range ``[min, max]`` drawn uniformly per
image. Every ``p`` defaults to 0: a dataset is clean unless asked otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from digitgen.errors import invalid
from digitgen.params.core import section, setting
from digitgen.rules import ListOf, OneOf, Real

#: Background kinds: a flat grey level, smooth procedural noise, a paper-like texture.
BACKGROUND_KINDS = ("flat", "noise", "paper")
_P = Real(0, 1, allowed="must be a probability in [0, 1]")


def _range(low: float, high: float, what: str):
    return ListOf(Real(low, high), 2, 2, allowed=f"must be a range [min, max] of {what}, each in [{low:g}, {high:g}], min <= max")


def _check_order(key: str, values: tuple[float, float]) -> None:
    if values[0] > values[1]:
        raise invalid(key, list(values), "must be a range [min, max] with min <= max")


@dataclass(frozen=True)
class NoiseParams:
    """``degrade.noise``: additive Gaussian noise; ``std`` in grey levels (0-255)."""

    p: float = setting(0.0, _P)
    std: tuple[float, float] = setting((4.0, 16.0), _range(0, 128, "grey levels"))

    def validate(self, key: str) -> None:
        _check_order(f"{key}.std", self.std)


@dataclass(frozen=True)
class BlurParams:
    """``degrade.blur``: Gaussian blur; ``sigma`` in pixels."""

    p: float = setting(0.0, _P)
    sigma: tuple[float, float] = setting((0.4, 1.2), _range(0, 8, "pixels"))

    def validate(self, key: str) -> None:
        _check_order(f"{key}.sigma", self.sigma)


@dataclass(frozen=True)
class BackgroundParams:
    """``degrade.background``: the ground under the ink; ``level`` is its brightest grey (0-255), ink stays on top."""

    p: float = setting(0.0, _P)
    kinds: tuple[str, ...] = setting(BACKGROUND_KINDS, ListOf(OneOf(BACKGROUND_KINDS), 1, unique=True))
    level: tuple[float, float] = setting((20.0, 90.0), _range(0, 200, "grey levels"))

    def validate(self, key: str) -> None:
        _check_order(f"{key}.level", self.level)


@dataclass(frozen=True)
class ContrastParams:
    """``degrade.contrast``: the grey range shrunk by a factor about mid-grey (1 = unchanged)."""

    p: float = setting(0.0, _P)
    factor: tuple[float, float] = setting((0.5, 1.0), _range(0.05, 1, "factors"))

    def validate(self, key: str) -> None:
        _check_order(f"{key}.factor", self.factor)


@dataclass(frozen=True)
class GammaParams:
    """``degrade.gamma``: grey ``g`` becomes ``255 (g / 255) ** gamma`` (> 1 darkens mid-greys)."""

    p: float = setting(0.0, _P)
    gamma: tuple[float, float] = setting((0.6, 1.6), _range(0.1, 10, "exponents"))

    def validate(self, key: str) -> None:
        _check_order(f"{key}.gamma", self.gamma)


@dataclass(frozen=True)
class InvertParams:
    """``degrade.invert``: dark ink on a light ground (grey ``g`` becomes ``255 - g``)."""

    p: float = setting(0.0, _P)


@dataclass(frozen=True)
class DegradeParams:
    """All degradations, applied in this order: background, blur, contrast, gamma, noise, invert."""

    background: BackgroundParams = section(BackgroundParams)
    blur: BlurParams = section(BlurParams)
    contrast: ContrastParams = section(ContrastParams)
    gamma: GammaParams = section(GammaParams)
    noise: NoiseParams = section(NoiseParams)
    invert: InvertParams = section(InvertParams)

    @property
    def active(self) -> bool:
        """Whether any degradation can apply (some ``p`` > 0)."""
        return any(getattr(self, name).p > 0 for name in DEGRADATIONS)


#: The degradations, in the order they are applied.
DEGRADATIONS = ("background", "blur", "contrast", "gamma", "noise", "invert")
