"""``latent_report``: the clustering study of encoder codes and the ``clusters`` bank (stage ``latent_report``).

Two embedders are trained by the stage itself (:mod:`digitgen.generators.autoencoder`):
``autoencoder`` (plain, unsupervised) and ``semisupervised`` (the same with a
classification head on the code); the ambiguous-digit VAE and the CVAE come
from their stages. ``clusters`` configures the bank decoded around the
cluster centres of one of the two (:mod:`digitgen.generators.clusters`).
"""

from __future__ import annotations

from dataclasses import dataclass

from digitgen.errors import invalid
from digitgen.params.core import section, setting
from digitgen.params.train_classifier import TRAINING_RULES
from digitgen.rules import Int, ListOf, Nullable, OneOf, Real

#: Rules of :class:`digitgen.generators.autoencoder.AutoencoderEmbedder`, by name.
AUTOENCODER_RULES = {
    "latent_size": Int(1, 512),
    "hidden": ListOf(Int(1, 4096), 1, 4, allowed="must list 1 to 4 dense layer widths, each in 1..4096 (mirrored by the decoder)"),
    "class_weight": Real(0, 1000, allowed="must be a number in [0, 1000] (weight of the classification loss; 0 = a plain autoencoder)"),
    **TRAINING_RULES,
    "seed": Int(0, 2**32 - 1),
}
#: The embedders the stage trains, and the two it loads.
TRAINED_EMBEDDERS = ("autoencoder", "semisupervised")
#: The reductions of the codes before clustering.
REDUCTIONS = ("umap", "tsne")


@dataclass(frozen=True)
class AutoencoderParams:
    """``latent_report.autoencoder`` / ``latent_report.semisupervised``: a deterministic autoencoder (dense layers)."""

    latent_size: int = setting(10, AUTOENCODER_RULES["latent_size"])
    hidden: tuple[int, ...] = setting((500, 500), AUTOENCODER_RULES["hidden"])
    epochs: int = setting(8, TRAINING_RULES["epochs"])
    batch_size: int = setting(256, TRAINING_RULES["batch_size"])
    learning_rate: float = setting(0.001, TRAINING_RULES["learning_rate"])
    validation_fraction: float = setting(0.0, TRAINING_RULES["validation_fraction"])


@dataclass(frozen=True)
class SemisupervisedParams(AutoencoderParams):
    """``latent_report.semisupervised``: the autoencoder plus a classification head on the code.

    The loss is ``mean squared pixel error + class_weight x cross-entropy`` (the
    reference project's weights: 1 and 0.95).
    """

    class_weight: float = setting(0.95, AUTOENCODER_RULES["class_weight"])


@dataclass(frozen=True)
class ClustersParams:
    """``latent_report.clusters``: the ``clusters`` bank, decoded around KMeans centres of training codes."""

    embedder: str = setting("semisupervised", OneOf(TRAINED_EMBEDDERS))
    clusters: int = setting(10, Int(2, 1000))
    temperature: float = setting(1.0, Real(0, 10, low_open=True, allowed="must be a number in (0, 10] (scale of each cluster's covariance)"))
    per_cluster: int = setting(1000, Int(1, 100_000))
    mosaic_columns: int = setting(16, Int(1, 1000))

    def validate(self, key: str) -> None:
        if self.mosaic_columns > self.per_cluster:
            raise invalid(f"{key}.mosaic_columns", self.mosaic_columns, f"must be in 1..{key}.per_cluster ({self.per_cluster})")


@dataclass(frozen=True)
class LatentReportParams:
    """``latent_report``: embedders, clustering of the test digits' codes (raw and reduced), t-SNE pictures, the clusters bank."""

    seed: int = setting(0, Int(0, 2**32 - 1))
    autoencoder: AutoencoderParams = section(AutoencoderParams)
    semisupervised: SemisupervisedParams = section(SemisupervisedParams)
    reduction: str = setting("umap", OneOf(REDUCTIONS))
    reduced_size: int = setting(10, Int(2, 100, allowed="must be an integer in 2..100 (dimensions of the reduction clustered)"))
    neighbours: int = setting(20, Int(2, 200, allowed="must be an integer in 2..200 (UMAP's n_neighbors)"))
    min_samples: int | None = setting(None, Nullable(Int(2, 10_000), allowed="must be an integer in 2..10000 or null (2 x the code size)"))
    min_cluster_size: int = setting(100, Int(2, 100_000, allowed="must be an integer in 2..100000 (HDBSCAN's smallest cluster)"))
    tsne_samples: int = setting(1500, Int(10, 10_000))
    perplexity: float = setting(30.0, Real(1, 1000))
    clusters: ClustersParams = section(ClustersParams)

    def validate(self, key: str) -> None:
        if not self.perplexity < self.tsne_samples / 3:
            raise invalid(f"{key}.perplexity", self.perplexity, f"must be in [1, tsne_samples / 3) (tsne_samples == {self.tsne_samples})")
