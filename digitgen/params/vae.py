"""Rules of the VAE architecture and training, shared by ``train_cvae`` and ``train_autoencoder`` and by their generator classes."""

from __future__ import annotations

from digitgen.params.train_classifier import TRAINING_RULES
from digitgen.rules import Int, ListOf, Real

#: Rules of the parameters of :func:`digitgen.generators.vae.train_vae`, by name.
VAE_RULES = {
    "latent_size": Int(1, 512),
    "filters": ListOf(Int(1, 256), 2, 2, allowed="must be two convolution widths, each in 1..256 (28 -> 14 -> 7 px)"),
    "hidden": Int(1, 4096),
    "beta": Real(0, 1000, low_open=True, allowed="must be a number in (0, 1000] (weight of the KL term)"),
    **TRAINING_RULES,
    "seed": Int(0, 2**32 - 1),
}
