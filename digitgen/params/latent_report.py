"""``latent_report``: clustering of the encoder means of the MNIST test digits (stage ``latent_report``)."""

from __future__ import annotations

from dataclasses import dataclass

from digitgen.errors import invalid
from digitgen.params.core import setting
from digitgen.rules import Int, Nullable, Real


@dataclass(frozen=True)
class LatentReportParams:
    """``latent_report``: KMeans and DBSCAN on encoder means, and a t-SNE picture."""

    seed: int = setting(0, Int(0))
    min_samples: int | None = setting(None, Nullable(Int(2, 10_000), allowed="must be an integer in 2..10000 or null (2 x the latent size)"))
    tsne_samples: int = setting(1500, Int(10, 10_000))
    perplexity: float = setting(30.0, Real(1, 1000))

    def validate(self, key: str) -> None:
        if not self.perplexity < self.tsne_samples / 3:
            raise invalid(f"{key}.perplexity", self.perplexity, f"must be in [1, tsne_samples / 3) (tsne_samples == {self.tsne_samples})")
