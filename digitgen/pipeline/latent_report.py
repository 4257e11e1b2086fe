"""Stage ``latent_report``: how the encoder means of the MNIST test digits cluster by digit (metrics and a t-SNE picture)."""

from __future__ import annotations

import logging
import os

import numpy as np

from digitgen.data.mnist import load_mnist_npz
from digitgen.generators.ambiguous import AmbiguousDigitGenerator
from digitgen.generators.cvae import CvaeDigitGenerator
from digitgen.io import write_json
from digitgen.latent import latent_clustering, scatter_panels, tsne_embedding
from digitgen.params.latent_report import LatentReportParams
from digitgen.pictures import save_png

logger = logging.getLogger(__name__)


def run(
    params: LatentReportParams,
    *,
    mnist: str | os.PathLike,
    autoencoder: str | os.PathLike,
    cvae: str | os.PathLike,
    metrics: str | os.PathLike,
    plot: str | os.PathLike,
) -> None:
    """Cluster the test digits' codes under both encoders; write the metrics JSON and the t-SNE panels (PNG).

    The CVAE's encoder is given each digit's true label. KMeans, DBSCAN and
    t-SNE are seeded with ``latent_report.seed``; t-SNE draws
    ``latent_report.tsne_samples`` test digits.
    """
    arrays = load_mnist_npz(mnist)
    images, labels = arrays["x_test"], arrays["y_test"].astype(np.int64)
    if params.tsne_samples > len(images):
        raise ValueError(f"params: latent_report.tsne_samples == {params.tsne_samples}, must be <= the {len(images)} test digits.")
    autoencoder_model = AmbiguousDigitGenerator.load(autoencoder)
    cvae_model = CvaeDigitGenerator.load(cvae)

    encoders = {
        "autoencoder": ("autoencoder (unconditional VAE)", autoencoder_model.encode(images)),
        "cvae": ("CVAE encoder (given the label)", cvae_model.encode(images, labels)),
    }
    subset = np.sort(np.random.default_rng(params.seed).choice(len(images), params.tsne_samples, replace=False))
    values, panels = {}, []
    for name, (title, codes) in encoders.items():
        logger.info("%s: %d test codes of size %d", name, *codes.shape)
        values[name] = latent_clustering(codes, labels, seed=params.seed, min_samples=params.min_samples)
        embedding = tsne_embedding(codes[subset], seed=params.seed, perplexity=params.perplexity)
        panels.append((title, embedding, labels[subset]))
    values["tsne_samples"] = int(params.tsne_samples)
    write_json(metrics, values)
    save_png(plot, scatter_panels(panels))
