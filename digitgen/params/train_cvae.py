"""``train_cvae``: the conditional VAE and its bank (stage ``train_cvae``)."""

from __future__ import annotations

from dataclasses import dataclass

from digitgen.errors import invalid
from digitgen.params.core import setting
from digitgen.params.vae import VAE_RULES
from digitgen.rules import Int, Real

#: Rules of the sampling parameters of :class:`digitgen.generators.cvae.CvaeDigitGenerator`.
CVAE_RULES = {**VAE_RULES, "temperature": Real(0, 10, low_open=True, allowed="must be a number in (0, 10] (standard deviation of the prior draws)")}


@dataclass(frozen=True)
class TrainCvaeParams:
    """``train_cvae``: the conditional VAE (``data/models/cvae``) and its bank (``data/banks/cvae.npz``)."""

    seed: int = setting(0, VAE_RULES["seed"])
    latent_size: int = setting(8, VAE_RULES["latent_size"])
    filters: tuple[int, ...] = setting((16, 32), VAE_RULES["filters"])
    hidden: int = setting(256, VAE_RULES["hidden"])
    beta: float = setting(1.0, VAE_RULES["beta"])
    epochs: int = setting(10, VAE_RULES["epochs"])
    batch_size: int = setting(128, VAE_RULES["batch_size"])
    learning_rate: float = setting(0.002, VAE_RULES["learning_rate"])
    validation_fraction: float = setting(0.05, VAE_RULES["validation_fraction"])
    temperature: float = setting(0.8, CVAE_RULES["temperature"])
    bank_per_digit: int = setting(6000, Int(1, 1_000_000))
    mosaic_columns: int = setting(16, Int(1, 1000))

    def validate(self, key: str) -> None:
        if self.mosaic_columns > self.bank_per_digit:
            raise invalid(f"{key}.mosaic_columns", self.mosaic_columns, f"must be in 1..{key}.bank_per_digit ({self.bank_per_digit})")
