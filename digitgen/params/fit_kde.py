"""``fit_kde``: the PCA + kernel-density generators and their bank (stage ``fit_kde``).

The rules of the keys shared with :class:`digitgen.generators.kde.KdeDigitGenerator`
are declared here once (:data:`KDE_RULES`) and used by both.
"""

from __future__ import annotations

from dataclasses import dataclass

from digitgen.constants import CLEANING_LEVELS, DIGIT_SIZE, REJECTION_LEVELS
from digitgen.errors import invalid
from digitgen.params.core import setting
from digitgen.rules import AnyOf, Bool, Int, ListOf, Nullable, OneOf, Real

#: Rules of the generator parameters, by name (the section and the class use the same objects).
KDE_RULES = {
    "n_components": Int(1, DIGIT_SIZE * DIGIT_SIZE),
    "whiten": Bool(),
    "holdout": Real(0, 0.5, low_open=True, allowed="must be a fraction in (0, 0.5] of each digit's training images"),
    "subsample": Nullable(Int(1), allowed="must be an integer >= 1 or null (all training codes)"),
    "bandwidths": ListOf(Real(0, low_open=True), 1, unique=True, allowed="must be a non-empty list of finite numbers > 0, no repeats"),
    "cv": Int(2, 100, allowed="must be an integer in 2..100 (cross-validation folds)"),
    "rejection": AnyOf(
        OneOf(tuple(REJECTION_LEVELS)), Real(0, 100, low_open=True, high_open=True),
        allowed=f"must be one of {list(REJECTION_LEVELS)} or a percentile in (0, 100)",
    ),
    "cleaning": OneOf(CLEANING_LEVELS),
    "candidate_budget": Real(1, 1e6, allowed="must be a number in [1, 1e6] (most candidates drawn per requested digit)"),
    "acceptance_candidates": Int(0, 1_000_000, allowed="must be an integer in 0..1000000 (0 = do not measure)"),
}
#: Bandwidth grid of the default configuration: 12 values, geometric from 0.1 to 1.
DEFAULT_BANDWIDTHS = (0.1, 0.123, 0.152, 0.187, 0.231, 0.285, 0.351, 0.433, 0.534, 0.658, 0.811, 1.0)


@dataclass(frozen=True)
class KdeParams:
    """``fit_kde``: the conditional and global models (``data/models/kde``) and the ``kde`` bank.

    ``subsample`` sizes each digit's density of the conditional model,
    ``global_subsample`` the single density of the global model.
    """

    seed: int = setting(0, Int(0))
    n_components: int = setting(50, KDE_RULES["n_components"])
    whiten: bool = setting(False, KDE_RULES["whiten"])
    holdout: float = setting(0.15, KDE_RULES["holdout"])
    subsample: int | None = setting(5000, KDE_RULES["subsample"])
    global_subsample: int | None = setting(10000, KDE_RULES["subsample"])
    bandwidths: tuple[float, ...] = setting(DEFAULT_BANDWIDTHS, KDE_RULES["bandwidths"])
    cv: int = setting(5, KDE_RULES["cv"])
    rejection: str | float = setting("medium", KDE_RULES["rejection"])
    cleaning: str = setting("medium", KDE_RULES["cleaning"])
    candidate_budget: float = setting(20.0, KDE_RULES["candidate_budget"])
    acceptance_candidates: int = setting(2000, KDE_RULES["acceptance_candidates"])
    bank_per_digit: int = setting(1000, Int(1, 1_000_000))
    mosaic_columns: int = setting(16, Int(1, 1000))

    def validate(self, key: str) -> None:
        if self.mosaic_columns > self.bank_per_digit:
            raise invalid(f"{key}.mosaic_columns", self.mosaic_columns, f"must be in 1..{key}.bank_per_digit ({self.bank_per_digit})")
