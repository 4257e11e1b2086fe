"""``train_autoencoder``: the autoencoder of ambiguous digits, its judges and its bank (stage ``train_autoencoder``)."""

from __future__ import annotations

from dataclasses import dataclass

from digitgen.errors import invalid
from digitgen.params.core import SectionRule, setting
from digitgen.params.train_classifier import CNN_RULES
from digitgen.params.vae import VAE_RULES
from digitgen.rules import Int, ListOf, Nullable, Real

#: Default interpolation weights (share of the partner's code): 0.25, 0.30, ..., 0.75.
DEFAULT_WEIGHTS = tuple(round(0.25 + 0.05 * k, 2) for k in range(11))


@dataclass(frozen=True)
class JudgeParams:
    """``train_autoencoder.judges[k]``: one CNN of the ensemble that chooses and refines ambiguous digits."""

    filters: tuple[int, ...] = setting((16, 32), CNN_RULES["filters"])
    dense: int = setting(64, CNN_RULES["dense"])
    epochs: int = setting(2, CNN_RULES["epochs"])


def _default_judges() -> tuple[JudgeParams, ...]:
    small, large = JudgeParams((16, 32), 64, 2), JudgeParams((32, 64), 128, 2)
    return (small, small, small, large, large)


#: The default ensemble: three small CNNs and two of the evaluation classifier's size, 2 epochs each.
DEFAULT_JUDGES = _default_judges()
_DIGIT = Int(0, 9)
#: Rule of one class pair ``(a, b)``: a ``pairs`` entry, and the ``pair`` asked of the generator or the CLI.
PAIR = ListOf(_DIGIT, 2, 2, unique=True, allowed="must be two different digits, each in 0..9")

#: Rules of the in-between method, shared with :class:`digitgen.generators.ambiguous.AmbiguousDigitGenerator`.
AMBIGUOUS_RULES = {
    **VAE_RULES,
    "pairs": Nullable(
        ListOf(PAIR, 1),
        allowed="must be null (each digit with its nearest class) or list at least one [a, b] pair of different digits",
    ),
    "weights": ListOf(
        Real(0, 1, low_open=True, high_open=True), 1, unique=True,
        allowed="must list at least one interpolation weight, each in (0, 1), no repeats",
    ),
    "judges": ListOf(SectionRule(JudgeParams), 0, 16),
    "refine_steps": Int(0, 10_000, allowed="must be an integer in 0..10000 (0: no refinement)"),
    "refine_rate": Real(0, 1, low_open=True),
    "refine_anchor": Real(0, 1e6),
}


def check_refinement(refine_steps: int, judges: tuple, key: str = "") -> None:
    """Refinement needs judges: raise unless ``refine_steps`` is 0 when ``judges`` is empty."""
    if refine_steps > 0 and not judges:
        raise invalid(f"{key}refine_steps", refine_steps, "must be 0 when judges is empty (nothing to refine against)")


@dataclass(frozen=True)
class TrainAutoencoderParams:
    """``train_autoencoder``: the autoencoder (``data/models/autoencoder``) and the ``ambiguous`` bank."""

    seed: int = setting(0, VAE_RULES["seed"])
    latent_size: int = setting(16, VAE_RULES["latent_size"])
    filters: tuple[int, ...] = setting((16, 32), VAE_RULES["filters"])
    hidden: int = setting(256, VAE_RULES["hidden"])
    beta: float = setting(1.0, VAE_RULES["beta"])
    epochs: int = setting(6, VAE_RULES["epochs"])
    batch_size: int = setting(128, VAE_RULES["batch_size"])
    learning_rate: float = setting(0.002, VAE_RULES["learning_rate"])
    validation_fraction: float = setting(0.05, VAE_RULES["validation_fraction"])
    pairs: tuple[tuple[int, int], ...] | None = setting(None, AMBIGUOUS_RULES["pairs"])
    weights: tuple[float, ...] = setting(DEFAULT_WEIGHTS, AMBIGUOUS_RULES["weights"])
    judges: tuple[JudgeParams, ...] = setting(DEFAULT_JUDGES, AMBIGUOUS_RULES["judges"])
    refine_steps: int = setting(30, AMBIGUOUS_RULES["refine_steps"])
    refine_rate: float = setting(0.05, AMBIGUOUS_RULES["refine_rate"])
    refine_anchor: float = setting(0.1, AMBIGUOUS_RULES["refine_anchor"])
    count: int = setting(5000, Int(1, 1_000_000))
    previews: int = setting(10, Int(1, 100, allowed="must be an integer in 1..100 (rows of the interpolation strip)"))

    def validate(self, key: str) -> None:
        check_refinement(self.refine_steps, self.judges, f"{key}.")
