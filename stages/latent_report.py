"""DVC stage ``latent_report``: how the encoder means of the MNIST test digits cluster by digit.

Inputs:  data/interim/mnist.npz (the test split), data/models/autoencoder/ (unconditional VAE),
         data/models/cvae/ (conditional VAE: its encoder is given each digit's true label)
Outputs: outputs/metrics/latent.json (per encoder: KMeans(10) NMI/ARI; DBSCAN eps from the k-distance knee,
         min_samples, clusters, noise fraction, NMI/ARI with noise as a cluster and on clustered points);
         outputs/plots/latent_tsne.png (t-SNE of latent_report.tsne_samples test digits, one panel per encoder)
Params:  latent_report (every key: seed, min_samples, tsne_samples, perplexity)
"""

from __future__ import annotations

from digitgen import entry

parser = entry.stage_parser(__doc__)
parser.add_argument("--mnist", required=True, help="decoded MNIST arrays (mnist.npz)")
parser.add_argument("--autoencoder", required=True, help="model folder of train_autoencoder")
parser.add_argument("--cvae", required=True, help="model folder of train_cvae")
parser.add_argument("--metrics", required=True, help="output metrics JSON")
parser.add_argument("--plot", required=True, help="output PNG of the t-SNE scatter plots")


def main(args) -> None:
    from digitgen.params.core import load_section
    from digitgen.params.latent_report import LatentReportParams

    params = load_section(args.params, "latent_report", LatentReportParams)  # checked first: before any data or TensorFlow is loaded
    from digitgen.pipeline import latent_report

    latent_report.run(params, mnist=args.mnist, autoencoder=args.autoencoder, cvae=args.cvae, metrics=args.metrics, plot=args.plot)


if __name__ == "__main__":
    raise SystemExit(entry.run_stage("latent_report", parser, main))
