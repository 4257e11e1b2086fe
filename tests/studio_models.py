"""Tiny fitted models and inputs for the studio tests: built from the synthetic digits in seconds, saved like the pipeline's."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from digitgen.io import write_npz

#: Parameters small enough to fit each model in about a second on 200 synthetic digits.
KDE = dict(n_components=10, bandwidths=(0.25, 0.5, 1.0, 2.0, 4.0, 8.0), cv=3, subsample=None, acceptance_candidates=0,
           rejection="none", cleaning="light", random_state=0)
CVAE = dict(latent_size=3, filters=(4, 8), hidden=16, epochs=1, batch_size=32, validation_fraction=0.1, random_state=0)
WEIGHTS = (0.3, 0.5, 0.7)


def build_inputs(root: Path, arrays: dict[str, np.ndarray], *, models: bool = True) -> dict[str, Path]:
    """``root/mnist.npz``, ``root/banks/{kde,cvae,augmented}.npz`` and (with ``models``) ``root/models/`` holding
    ``kde/{conditional,global}``, ``cvae``, ``autoencoder`` (two tiny judges) and ``classifier.keras``."""
    root.mkdir(parents=True, exist_ok=True)
    write_npz(root / "mnist.npz", arrays)
    banks, folder = root / "banks", root / "models"
    banks.mkdir(exist_ok=True)
    folder.mkdir(exist_ok=True)
    images, labels = arrays["x_train"], arrays["y_train"]
    for name in ("kde", "cvae", "augmented"):  # any labelled digits will do as a bank for sequences
        write_npz(banks / f"{name}.npz", {"images": images[::-1].copy(), "labels": labels[::-1].astype(np.int16)})
    if models:
        fit_models(folder, images, labels)
    return {"root": root, "data": root / "mnist.npz", "banks": banks, "models": folder}


def fit_models(folder: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """Fit and save every model the studio loads."""
    from threadpoolctl import threadpool_limits

    from digitgen.classifier_training import train_classifier
    from digitgen.generators.ambiguous import AmbiguousDigitGenerator
    from digitgen.generators.cvae import CvaeDigitGenerator
    from digitgen.generators.kde import KdeDigitGenerator
    from digitgen.params.all import parse_params
    from digitgen.params.train_autoencoder import JudgeParams

    with threadpool_limits(1):  # BLAS on one thread: on a busy shared machine its threads made PCA's eigh 20x slower
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            KdeDigitGenerator(**KDE).fit(images, labels).save(folder / "kde" / "conditional")
            KdeDigitGenerator(**KDE, conditional=False).fit(images, labels).save(folder / "kde" / "global")
        CvaeDigitGenerator(**CVAE).fit(images, labels).save(folder / "cvae")
        judges = (JudgeParams((4,), 8, 1), JudgeParams((4, 8), 8, 1))
        AmbiguousDigitGenerator(latent_size=4, filters=(4, 8), hidden=16, epochs=1, batch_size=32, validation_fraction=0.1, judges=judges,
                                refine_steps=3, refine_rate=0.1, weights=WEIGHTS, random_state=0).fit(images, labels).save(folder / "autoencoder")
        params = parse_params({"train_classifier": {"epochs": 1, "batch_size": 32, "filters": [4], "dense": 8, "validation_fraction": 0.1}}).train_classifier
        train_classifier(images, labels, params).classifier.save(folder / "classifier.keras")


def shared_inputs(tmp_path_factory, arrays: dict[str, np.ndarray]) -> dict[str, Path]:
    """:func:`build_inputs` once per test session (the studio's test modules share the fitted models)."""
    root = tmp_path_factory.getbasetemp() / "studio-inputs"
    done = root / "built"
    if not done.exists():
        build_inputs(root, arrays)
        done.write_text("ok")
    return {"root": root, "data": root / "mnist.npz", "banks": root / "banks", "models": root / "models"}
