"""Digits generated from clusters of an embedder's codes: decoded samples around each cluster's centre.

As the reference project's clustering script does: the training digits are
encoded (:class:`~digitgen.generators.autoencoder.AutoencoderEmbedder`), the
codes are clustered by KMeans (seeded; the labels play no part in forming the
clusters), and each cluster is described by its centre, the covariance of its
codes and, from the labels of its members, its majority digit and purity
(the share of its members that carry that digit). A sample of cluster ``c`` is
``decoder(centre_c + temperature x L_c e)``, ``e ~ N(0, I)``, ``L_c`` the
Cholesky factor of the cluster's covariance: a digit around the centre,
spread like the cluster's own codes. A sample is labelled with its cluster's
majority digit, so a bank of them is a digit source like the others.

Saved as a model folder (:mod:`digitgen.model_folder`): ``decoder.keras`` (the
embedder's decoder), ``model.npz`` (centres, Cholesky factors, sizes, majority
digits, purities) and ``model.json``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.cluster import KMeans

from digitgen import model_folder
from digitgen.arrays import check_training_data
from digitgen.constants import DIGIT_SIZE
from digitgen.errors import InputError
from digitgen.generators.base import BaseGenerator
from digitgen.generators.geometry import regularised
from digitgen.generators.vae import keras_versions
from digitgen.io import read_npz, write_npz
from digitgen.keras_io import load_keras, save_keras
from digitgen.params.core import rules_of
from digitgen.params.latent_report import ClustersParams
from digitgen.rules import Int

FORMAT = "digitgen.clusters"
FORMAT_VERSION = 1
ARRAYS = ("centres", "cholesky", "sizes", "majority", "purity")
#: Codes decoded at a time.
DECODE_BATCH = 2000


@dataclass(frozen=True)
class ClusterSamples:
    """What :meth:`ClusterDigitGenerator.generate` drew.

    Attributes
    ----------
    images : uint8 (n, 28, 28); labels : int16 (n,) the majority digit of each sample's cluster;
    cluster : int16 (n,) the cluster drawn from; purity : float32 (n,) that cluster's purity.
    """

    images: np.ndarray
    labels: np.ndarray
    cluster: np.ndarray
    purity: np.ndarray


class ClusterDigitGenerator(BaseGenerator):
    """Samples decoded around KMeans centres of an embedder's codes (see the module docstring).

    Parameters
    ----------
    embedder : a fitted :class:`~digitgen.generators.autoencoder.AutoencoderEmbedder` (only ``fit`` uses it).
    clusters : KMeans clusters, 2..1000.
    temperature : scale of each cluster's covariance at sampling time, in (0, 10].
    random_state : seed of KMeans.

    Attributes
    ----------
    centres_ : float32 (K, d); cholesky_ : float32 (K, d, d); sizes_ : int64 (K,) training codes per cluster;
    majority_ : int16 (K,) majority digit; purity_ : float32 (K,) share of members carrying it;
    decoder_ : the embedder's Keras decoder.
    """

    RULES = {
        "embedder": None,
        "clusters": rules_of(ClustersParams)["clusters"],
        "temperature": rules_of(ClustersParams)["temperature"],
        "random_state": Int(0, 2**32 - 1),
    }
    FITTED_ATTRIBUTE = "centres_"

    def __init__(self, *, embedder: Any = None, clusters: int = 10, temperature: float = 1.0, random_state: int = 0) -> None:
        self.embedder = embedder
        self.clusters = clusters
        self.temperature = temperature
        self.random_state = random_state

    def checked_params(self) -> dict[str, Any]:
        """Every parameter but the embedder checked by its rule."""
        return {
            "clusters": self.RULES["clusters"].check(self.clusters, "clusters"),
            "temperature": self.RULES["temperature"].check(self.temperature, "temperature"),
            "random_state": self.RULES["random_state"].check(self.random_state, "random_state"),
        }

    def fit(self, images: np.ndarray, labels: np.ndarray) -> ClusterDigitGenerator:
        """Encode uint8 (N, 28, 28) training digits, cluster their codes, name each cluster by its int (N,) labels."""
        p = self.checked_params()
        if self.embedder is None or not self.embedder.is_fitted():
            raise InputError("embedder must be a fitted AutoencoderEmbedder.")
        images, labels = check_training_data(images, labels)
        if len(images) < p["clusters"]:
            raise ValueError(f"{len(images)} digits are too few for clusters == {p['clusters']}.")
        codes = self.embedder.encode(images).astype(np.float64)
        assignment = KMeans(n_clusters=p["clusters"], n_init=10, random_state=p["random_state"]).fit_predict(codes)
        d = codes.shape[1]
        centres, factors = np.zeros((p["clusters"], d)), np.zeros((p["clusters"], d, d))
        sizes, majority, purity = np.zeros(p["clusters"], np.int64), np.zeros(p["clusters"], np.int16), np.zeros(p["clusters"], np.float32)
        for c in range(p["clusters"]):
            members = codes[assignment == c]
            sizes[c] = len(members)
            centres[c] = members.mean(axis=0)
            covariance = np.cov(members, rowvar=False).reshape(d, d) if len(members) > 1 else np.zeros((d, d))
            factors[c] = np.linalg.cholesky(regularised(covariance))
            counts = np.bincount(labels[assignment == c], minlength=10)
            majority[c], purity[c] = counts.argmax(), counts.max() / max(len(members), 1)
        self.centres_, self.cholesky_ = centres.astype(np.float32), factors.astype(np.float32)
        self.sizes_, self.majority_, self.purity_ = sizes, majority, purity
        self.decoder_ = self.embedder.decoder_
        return self

    def digits_covered(self) -> list[int]:
        """The digits that are the majority of at least one cluster (the only ones :meth:`sample` can draw)."""
        self._check_fitted()
        return sorted(set(self.majority_.tolist()))

    def sample(self, n: int, digit: int | None = None, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """uint8 (n, 28, 28) digits of clusters whose majority is ``digit`` (any cluster when None), clusters drawn by size."""
        return self.generate(n, digit, rng).images

    def generate(self, n: int, digit: int | None = None, rng: np.random.Generator | int | None = None, *, cluster: int | None = None) -> ClusterSamples:
        """Like :meth:`sample`, also returning labels, clusters and purities; ``cluster`` draws from that cluster only."""
        self._check_fitted()
        Int(0).check(n, "n")
        temperature = self.RULES["temperature"].check(self.temperature, "temperature")
        rng = np.random.default_rng(rng)
        if cluster is not None:
            Int(0, len(self.centres_) - 1).check(cluster, "cluster")
            chosen = np.full(n, cluster, np.int64)
        else:
            candidates = np.arange(len(self.centres_))
            if digit is not None:
                Int(0, 9).check(digit, "digit")
                candidates = candidates[self.majority_ == digit]
                if not len(candidates):
                    raise InputError(f"digit == {digit}: no cluster has it as its majority; the clusters cover digits {self.digits_covered()}.")
            weights = self.sizes_[candidates] / self.sizes_[candidates].sum()
            chosen = candidates[rng.choice(len(candidates), size=n, p=weights)]
        noise = rng.standard_normal((n, self.centres_.shape[1])).astype(np.float32)
        codes = self.centres_[chosen] + np.float32(temperature) * np.einsum("nij,nj->ni", self.cholesky_[chosen], noise)
        images = np.zeros((n, DIGIT_SIZE, DIGIT_SIZE), np.uint8)
        for start in range(0, n, DECODE_BATCH):
            pixels = self.decoder_.predict(codes[start : start + DECODE_BATCH], batch_size=DECODE_BATCH, verbose=0)
            images[start : start + DECODE_BATCH] = np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)
        return ClusterSamples(images, self.majority_[chosen].astype(np.int16), chosen.astype(np.int16), self.purity_[chosen])

    def summary(self) -> dict[str, Any]:
        """JSON-ready: per cluster its size, majority digit and purity."""
        self._check_fitted()
        return {
            "sizes": self.sizes_.tolist(),
            "majority": self.majority_.tolist(),
            "purity": [round(float(p), 6) for p in self.purity_],
            "digits_covered": self.digits_covered(),
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write the model folder ``path`` (``decoder.keras``, ``model.npz``, ``model.json``)."""
        self._check_fitted()

        def files(folder: Path) -> None:
            save_keras(self.decoder_, folder / "decoder.keras")
            write_npz(folder / "model.npz", {name: getattr(self, f"{name}_") for name in ARRAYS})

        model_folder.write(
            path, format=FORMAT, format_version=FORMAT_VERSION, cls=type(self).__name__, params=self.checked_params(),
            fitted=self.summary(), versions=model_folder.versions(**keras_versions()), files=files,
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> ClusterDigitGenerator:
        """Read a model folder written by :meth:`save` (no embedder: it samples, it does not fit)."""
        path = Path(path)
        description = model_folder.read(
            path, format=FORMAT, format_version=FORMAT_VERSION, cls=cls.__name__, stage="latent_report",
            files=("decoder.keras", "model.npz"), what="cluster generator",
        )
        json_path = path / model_folder.MODEL_JSON
        params = dict(description["params"])
        if set(params) != {"clusters", "temperature", "random_state"}:
            raise InputError(f"{json_path}: params {sorted(params)} are not those of {cls.__name__}; run `dvc repro latent_report`.")
        model = cls(**params)
        model.checked_params()
        arrays = read_npz(path / "model.npz", ARRAYS, what="cluster generator arrays", remedy="run `dvc repro latent_report`")
        for name in ARRAYS:
            setattr(model, f"{name}_", arrays[name])
        model.decoder_ = load_keras(path / "decoder.keras")
        return model
