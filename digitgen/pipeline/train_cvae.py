"""Stage ``train_cvae``: the conditional VAE, its loss curves, the ``cvae`` bank, its metrics and mosaic.

Every output is a function of the params and the data (byte-identical on a
re-run); training and sampling times are logged, not written.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np

from digitgen.data.mnist import load_mnist_npz
from digitgen.generators.cvae import CvaeDigitGenerator
from digitgen.generators.vae import losses_csv
from digitgen.io import sha256_file, write_json, write_npz
from digitgen.params.train_cvae import TrainCvaeParams
from digitgen.pictures import save_png
from digitgen.pipeline.common import (
    bank_mosaic,
    log_training,
    training_data,
    write_text,
)
from digitgen.rules import Int

logger = logging.getLogger(__name__)


def make_bank(model: CvaeDigitGenerator, per_digit: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``per_digit`` samples of each digit 0-9, in digit order, as a bank.

    Returns
    -------
    dict: ``images`` uint8 (10 * per_digit, 28, 28), ``labels`` int16 (10 * per_digit,),
    ``latent`` float32 (10 * per_digit, d) (the decoded prior draws: provenance).
    """
    Int(1).check(per_digit, "per_digit")
    parts = [model.generate(per_digit, digit, rng) for digit in range(10)]
    return {
        "images": np.concatenate([p.images for p in parts]),
        "labels": np.concatenate([p.labels for p in parts]),
        "latent": np.concatenate([p.latent for p in parts]),
    }


def run(
    params: TrainCvaeParams,
    *,
    mnist: str | os.PathLike,
    model: str | os.PathLike,
    losses: str | os.PathLike,
    bank: str | os.PathLike,
    metrics: str | os.PathLike,
    mosaic: str | os.PathLike,
) -> None:
    """Train the CVAE on the training split of ``mnist``, draw the bank, write every output of the stage.

    Outputs: ``model`` (model folder), ``losses`` (CSV per epoch), ``bank``
    (``train_cvae.bank_per_digit`` digits of each class, with ``model_sha256``
    of ``decoder.keras``), ``metrics`` (JSON) and ``mosaic`` (PNG, one row per digit).
    """
    arrays = load_mnist_npz(mnist)
    images, labels = arrays["x_train"], arrays["y_train"]
    started = time.perf_counter()
    generator = CvaeDigitGenerator.from_section(params).fit(images, labels)
    log_training(generator.seconds_per_epoch_, time.perf_counter() - started)
    start = time.perf_counter()
    drawn = make_bank(generator, params.bank_per_digit, np.random.default_rng([params.seed, 1]))
    logger.info("drew the bank of %d digits in %.1f s", len(drawn["labels"]), time.perf_counter() - start)

    generator.save(model)
    drawn["model_sha256"] = np.array(sha256_file(Path(model) / "decoder.keras"))
    write_npz(bank, drawn)
    save_png(mosaic, bank_mosaic(drawn["images"], params.bank_per_digit, params.mosaic_columns))
    write_text(losses, losses_csv(generator.history_))
    history = generator.history_
    write_json(
        metrics,
        {
            "final": {name: values[-1] for name, values in history.items()},
            "epochs": len(history["total"]),
            "train_count": generator.train_count_,
            "validation_count": generator.validation_count_,
            "bank_size": len(drawn["labels"]),
            "training_data": training_data(mnist, len(labels)),
        },
    )
