"""Stage ``latent_report``: the clustering study of four embedders on the MNIST test digits, and the ``clusters`` bank.

Embedders: a plain and a semi-supervised autoencoder trained here on the
training split (:mod:`digitgen.generators.autoencoder`), the ambiguous-digit
VAE (``train_autoencoder``) and the CVAE (``train_cvae``, its encoder given each
digit's label). For each, the test digits' codes are clustered as they are and
after a reduction (UMAP or t-SNE, :mod:`digitgen.latent_reduction`) by KMeans,
a Gaussian mixture, DBSCAN and HDBSCAN (:mod:`digitgen.latent`), and a t-SNE of
a subset is drawn. The ``clusters`` bank is decoded around KMeans centres of
the training codes of one trained embedder (:mod:`digitgen.generators.clusters`).
Every output is a function of the params and the data; times go to the log.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np

from digitgen.constants import DIGIT_SIZE
from digitgen.data.mnist import load_mnist_npz
from digitgen.generators.ambiguous import AmbiguousDigitGenerator
from digitgen.generators.autoencoder import AutoencoderEmbedder
from digitgen.generators.clusters import ClusterDigitGenerator, ClusterSamples
from digitgen.generators.cvae import CvaeDigitGenerator
from digitgen.io import atomic_directory, sha256_file, write_json, write_npz
from digitgen.latent import latent_clustering
from digitgen.latent_plots import scatter_panels
from digitgen.latent_reduction import reduce_codes, tsne_embedding
from digitgen.params.latent_report import LatentReportParams
from digitgen.pictures import mosaic, save_png
from digitgen.pipeline.common import training_data

logger = logging.getLogger(__name__)

#: Titles of the t-SNE panels, by embedder.
TITLES = {
    "autoencoder": "plain autoencoder",
    "semisupervised": "semi-supervised autoencoder",
    "vae": "ambiguous-digit VAE (unconditional)",
    "cvae": "CVAE encoder (given the label)",
}


def make_cluster_bank(model: ClusterDigitGenerator, per_cluster: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``per_cluster`` samples of each cluster, in cluster order: ``images`` uint8, ``labels`` int16 (majority digit),
    ``cluster`` int16, ``purity`` float32 (of the cluster)."""
    parts = [model.generate(per_cluster, rng=rng, cluster=c) for c in range(len(model.centres_))]
    return {name: np.concatenate([getattr(p, name) for p in parts]) for name in ClusterSamples.__dataclass_fields__}


def run(
    params: LatentReportParams,
    *,
    mnist: str | os.PathLike,
    autoencoder: str | os.PathLike,
    cvae: str | os.PathLike,
    models: str | os.PathLike,
    bank: str | os.PathLike,
    metrics: str | os.PathLike,
    plot: str | os.PathLike,
    mosaic_plot: str | os.PathLike,
) -> None:
    """Train the two embedders, run the study on the test digits, draw the clusters bank; write every output.

    Outputs: ``models`` (folder: ``autoencoder/``, ``semisupervised/``, ``clusters/`` model folders), ``bank``
    (``clusters.npz``), ``metrics`` (``latent.json``), ``plot`` (t-SNE panels, one per embedder) and
    ``mosaic_plot`` (one row per cluster).
    """
    arrays = load_mnist_npz(mnist)
    images, labels = arrays["x_test"], arrays["y_test"].astype(np.int64)
    if params.tsne_samples > len(images):
        raise ValueError(f"params: latent_report.tsne_samples == {params.tsne_samples}, must be <= the {len(images)} test digits.")
    vae = AmbiguousDigitGenerator.load(autoencoder)
    cvae_model = CvaeDigitGenerator.load(cvae)
    trained = {}
    for name, section in (("autoencoder", params.autoencoder), ("semisupervised", params.semisupervised)):
        started = time.perf_counter()
        trained[name] = AutoencoderEmbedder.from_section(section, random_state=params.seed).fit(arrays["x_train"], arrays["y_train"])
        logger.info("%s trained in %.1f s", name, time.perf_counter() - started)

    codes = {
        "autoencoder": trained["autoencoder"].encode(images),
        "semisupervised": trained["semisupervised"].encode(images),
        "vae": vae.encode(images),
        "cvae": cvae_model.encode(images, labels),
    }
    subset = np.sort(np.random.default_rng(params.seed).choice(len(images), params.tsne_samples, replace=False))
    values: dict = {}
    panels = []
    for name, code in codes.items():
        reduced = reduce_codes(code, params.reduction, size=params.reduced_size, seed=params.seed, neighbours=params.neighbours,
                               perplexity=params.perplexity)
        values[name] = {
            "codes": latent_clustering(code, labels, seed=params.seed, min_samples=params.min_samples, min_cluster_size=params.min_cluster_size),
            params.reduction: latent_clustering(reduced, labels, seed=params.seed, min_cluster_size=params.min_cluster_size),
        }
        if params.reduction == "tsne" and params.reduced_size == 2:
            drawn_points = reduced[subset]  # the 2-D t-SNE of every test code already exists: draw its subset
        else:
            drawn_points = tsne_embedding(code[subset], seed=params.seed, perplexity=params.perplexity)
        panels.append((TITLES[name], drawn_points, labels[subset]))
    values["test_digits"] = int(len(images))
    values["tsne_samples"] = int(params.tsne_samples)
    values["reduction"] = {"method": params.reduction, "size": params.reduced_size, "neighbours": params.neighbours}

    settings = params.clusters
    generator = ClusterDigitGenerator(
        embedder=trained[settings.embedder], clusters=settings.clusters, temperature=settings.temperature, random_state=params.seed
    ).fit(arrays["x_train"], arrays["y_train"])
    drawn = make_cluster_bank(generator, settings.per_cluster, np.random.default_rng([params.seed, 1]))
    values["clusters"] = {"embedder": settings.embedder, **generator.summary(), "bank_size": int(len(drawn["labels"]))}
    values["training_data"] = training_data(mnist, len(arrays["y_train"]))

    with atomic_directory(models) as folder:
        for name, model in trained.items():
            model.save(folder / name)
        generator.save(folder / "clusters")
    drawn["model_sha256"] = np.array(sha256_file(Path(models) / "clusters" / "model.npz"))
    write_npz(bank, drawn)
    rows = drawn["images"].reshape(settings.clusters, settings.per_cluster, DIGIT_SIZE, DIGIT_SIZE)[:, : settings.mosaic_columns]
    save_png(mosaic_plot, mosaic(rows.reshape(-1, DIGIT_SIZE, DIGIT_SIZE), settings.mosaic_columns))
    write_json(metrics, values)
    save_png(plot, scatter_panels(panels, columns=2))
