"""DVC stage ``latent_report``: how the encoder means of the MNIST test digits cluster by digit.

Inputs:  data/interim/mnist.npz (the test split), data/models/autoencoder/ (unconditional VAE),
         data/models/cvae/ (conditional VAE: its encoder is given each digit's true label)
Outputs: outputs/metrics/latent.json (per encoder: KMeans(10) NMI/ARI; DBSCAN eps from the k-distance knee,
         min_samples, clusters, noise fraction, NMI/ARI with noise as a cluster and on clustered points);
         outputs/plots/latent_tsne.png (t-SNE of latent_report.tsne_samples test digits, one panel per encoder)
Params:  latent_report (every key: seed, min_samples, tsne_samples, perplexity)
"""

from __future__ import annotations

import argparse
import logging

import numpy as np

from digitgen.data.mnist import load_mnist_npz
from digitgen.generators.ambiguous import AmbiguousDigitGenerator
from digitgen.generators.cvae import CvaeDigitGenerator
from digitgen.io import write_json
from digitgen.latent import latent_clustering, scatter_panels, tsne_embedding
from digitgen.params.core import load_section
from digitgen.params.latent_report import LatentReportParams
from digitgen.pictures import save_png

logger = logging.getLogger("latent_report")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    parser.add_argument("--mnist", required=True, help="decoded MNIST arrays (mnist.npz)")
    parser.add_argument("--autoencoder", required=True, help="model folder of train_autoencoder")
    parser.add_argument("--cvae", required=True, help="model folder of train_cvae")
    parser.add_argument("--metrics", required=True, help="output metrics JSON")
    parser.add_argument("--plot", required=True, help="output PNG of the t-SNE scatter plots")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    params = load_section(args.params, "latent_report", LatentReportParams)
    arrays = load_mnist_npz(args.mnist)
    images, labels = arrays["x_test"], arrays["y_test"].astype(np.int64)
    if params.tsne_samples > len(images):
        raise ValueError(f"params: latent_report.tsne_samples == {params.tsne_samples}, must be <= the {len(images)} test digits.")
    autoencoder = AmbiguousDigitGenerator.load(args.autoencoder)
    cvae = CvaeDigitGenerator.load(args.cvae)

    encoders = {
        "autoencoder": ("autoencoder (unconditional VAE)", autoencoder.encode(images)),
        "cvae": ("CVAE encoder (given the label)", cvae.encode(images, labels)),
    }
    subset = np.sort(np.random.default_rng(params.seed).choice(len(images), params.tsne_samples, replace=False))
    metrics, panels = {}, []
    for name, (title, codes) in encoders.items():
        logger.info("%s: %d test codes of size %d", name, *codes.shape)
        metrics[name] = latent_clustering(codes, labels, seed=params.seed, min_samples=params.min_samples)
        embedding = tsne_embedding(codes[subset], seed=params.seed, perplexity=params.perplexity)
        panels.append((title, embedding, labels[subset]))
    metrics["tsne_samples"] = int(params.tsne_samples)
    write_json(args.metrics, metrics)
    save_png(args.plot, scatter_panels(panels))


if __name__ == "__main__":
    main()
