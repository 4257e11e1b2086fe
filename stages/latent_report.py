"""DVC stage ``latent_report``: the clustering study of four embedders on the MNIST test digits, and the ``clusters`` bank.

Inputs:  data/interim/mnist.npz (training split: the two autoencoders and the clusters; test split: the study),
         data/models/autoencoder/ (the ambiguous-digit VAE), data/models/cvae/ (its encoder is given each digit's label)
Outputs: data/models/latent/ (autoencoder/, semisupervised/: the two embedders trained here; clusters/: the cluster
         generator); data/banks/clusters.npz (images uint8 (N, 28, 28), labels int16 (N,) = the cluster's majority
         digit, cluster int16 (N,), purity float32 (N,), model_sha256; clusters x per_cluster digits);
         outputs/metrics/latent.json (per embedder, on its codes and on their reduction: KMeans, Gaussian mixture,
         DBSCAN (eps from the k-distance knee) and HDBSCAN with clusters found, noise fraction, NMI, ARI and matched
         accuracy; the clusters' sizes, majority digits and purities);
         outputs/plots/latent_tsne.png (t-SNE of latent_report.tsne_samples test digits, one panel per embedder);
         outputs/plots/clusters_mosaic.png (one row of the clusters bank per cluster)
Params:  latent_report (seed, autoencoder, semisupervised, reduction, reduced_size, neighbours, min_samples,
         min_cluster_size, tsne_samples, perplexity, clusters)
"""

from __future__ import annotations

from digitgen import entry

parser = entry.stage_parser(__doc__)
parser.add_argument("--mnist", required=True, help="decoded MNIST arrays (mnist.npz)")
parser.add_argument("--autoencoder", required=True, help="model folder of train_autoencoder")
parser.add_argument("--cvae", required=True, help="model folder of train_cvae")
parser.add_argument("--models", required=True, help="output folder of the embedders and the cluster generator")
parser.add_argument("--bank", required=True, help="output digit bank (clusters.npz)")
parser.add_argument("--metrics", required=True, help="output metrics JSON")
parser.add_argument("--plot", required=True, help="output PNG of the t-SNE scatter plots")
parser.add_argument("--mosaic", required=True, help="output PNG of the clusters bank, one row per cluster")


def main(args) -> None:
    from digitgen.params.core import load_section
    from digitgen.params.latent_report import LatentReportParams

    params = load_section(args.params, "latent_report", LatentReportParams)  # checked first: before any data or TensorFlow is loaded
    from digitgen.pipeline import latent_report

    latent_report.run(
        params, mnist=args.mnist, autoencoder=args.autoencoder, cvae=args.cvae, models=args.models, bank=args.bank,
        metrics=args.metrics, plot=args.plot, mosaic_plot=args.mosaic,
    )


if __name__ == "__main__":
    raise SystemExit(entry.run_stage("latent_report", parser, main))
