"""Stage ``augment``: the ``augmented`` bank of MNIST training digits with provenance, and a mosaic to look at.

Every bank row's transform is drawn from ``(augment.seed, row)`` (see
:mod:`digitgen.augment`), and which training digit it augments from a seeded
order that does not depend on the bank's size, so a smaller bank is a prefix
of a larger one with the same seed.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time

import keras
import numpy as np
import scipy

from digitgen.augment import DEFAULT_BATCH_SIZE, STREAM_SOURCES, augment_digits
from digitgen.bank import DigitBank
from digitgen.data.mnist import load_mnist_npz
from digitgen.io import write_npz
from digitgen.params.augment import AugmentParams
from digitgen.pictures import mosaic, save_png

logger = logging.getLogger(__name__)


def bank_sources(train_count: int, params: AugmentParams) -> np.ndarray:
    """Which training digit each bank row augments.

    ``copies`` uses every training digit exactly that many times; ``count``
    cycles through the training digits in one seeded random order, so any
    ``count`` spreads evenly. The order is the same for every size, so a
    smaller bank is a prefix of a larger one with the same seed.

    Returns
    -------
    int32 (count,) rows of the training split.
    """
    if train_count < 1:
        raise ValueError(f"train_count == {train_count}, the training split holds no digit to augment.")
    count = params.count if params.count is not None else params.copies * train_count
    order = np.random.default_rng([params.seed, STREAM_SOURCES]).permutation(train_count)
    return order[np.arange(count) % train_count].astype(np.int32)


def build_augmented_bank(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    params: AugmentParams,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> dict[str, np.ndarray]:
    """The ``augmented`` digit bank: augmented MNIST *training* digits with provenance.

    Parameters
    ----------
    train_images : uint8 (N, 28, 28), the training split.
    train_labels : integer (N,), digits 0-9.
    params : the ``augment`` parameters.
    batch_size : see :func:`augment_digits`.

    Returns
    -------
    dict of arrays for ``data/banks/augmented.npz``: ``images`` uint8 (n, 28, 28),
    ``labels`` int16 (n,), ``source_index`` int32 (n,) (row of the training
    split each image came from), the float32 (n,) arrays of
    :data:`TRANSFORM_KEYS`, and ``provenance``: a JSON string with the
    parameters and library versions.
    """
    train_labels = np.asarray(train_labels)
    if train_labels.shape != (len(train_images),):
        raise ValueError(f"train_labels must have shape ({len(train_images)},), got {train_labels.shape}.")
    source_index = bank_sources(len(train_images), params)
    images, transforms = augment_digits(train_images, params, source_index=source_index, batch_size=batch_size)
    bank = DigitBank("augmented", images, train_labels[source_index].astype(np.int16))  # checks the bank contract
    provenance = {
        "source": "augmented MNIST training digits",
        "params": dataclasses.asdict(params),
        "order": (
            "one affine map A (zoom, rotation, shear about the centre, shift), then elastic distortion d, composed: "
            "output pixel p is the original sampled once at A^-1(p + d(p)), bilinear, background 0"
        ),
        "versions": {"keras": keras.__version__, "keras_backend": keras.backend.backend(), "numpy": np.__version__, "scipy": scipy.__version__},
    }
    return {
        "images": bank.images,
        "labels": bank.labels,
        "source_index": source_index,
        **transforms,
        "provenance": np.array(json.dumps(provenance, sort_keys=True)),
    }


def augment_mosaic(
    train_images: np.ndarray,
    bank: dict[str, np.ndarray],
    *,
    per_digit: int = 4,
    augmentations: int = 3,
) -> np.ndarray:
    """A picture of originals beside their augmentations.

    One row per digit 0-9, ``per_digit`` tiles per row; a tile is a training
    digit followed by up to ``augmentations`` of its augmented copies in the
    bank (fewer when the bank holds fewer; the rest stays background).

    Parameters
    ----------
    train_images : uint8 (N, 28, 28), the training split the bank was built from.
    bank : arrays of :func:`build_augmented_bank` (``images``, ``labels``, ``source_index``).

    Returns
    -------
    uint8 (H, W) image.
    """
    images, labels, source_index = bank["images"], bank["labels"], bank["source_index"]
    if not len(images):
        raise ValueError("the bank holds no image to show.")
    chosen: list[list[tuple[int, np.ndarray]]] = []  # per digit: (training row, its bank rows)
    for digit in range(10):
        rows = np.flatnonzero(labels == digit)
        sources, first = np.unique(source_index[rows], return_index=True)
        chosen.append([(int(source), rows[source_index[rows] == source][:augmentations]) for source in sources[np.argsort(first)][:per_digit]])
    shown = max(len(copies) for tiles in chosen for _, copies in tiles)
    height, width = train_images.shape[1:]
    blank = np.zeros((1 + shown, height, width), dtype=np.uint8)
    tiles = []
    for digit_tiles in chosen:
        for slot in range(per_digit):
            strip = blank.copy()
            if slot < len(digit_tiles):
                source, copies = digit_tiles[slot]
                strip[0] = train_images[source]
                strip[1 : 1 + len(copies)] = images[copies]
            tiles.append(mosaic(strip, 1 + shown, gap=1))
    return mosaic(np.stack(tiles), per_digit, gap=6)


def run(params: AugmentParams, *, mnist: str | os.PathLike, out: str | os.PathLike, plot: str | os.PathLike) -> None:
    """Augment the training split of ``mnist`` into the bank ``out`` (NPZ) and draw ``plot`` (PNG mosaic)."""
    arrays = load_mnist_npz(mnist)
    started = time.perf_counter()
    bank = build_augmented_bank(arrays["x_train"], arrays["y_train"], params)
    write_npz(out, bank)
    save_png(plot, augment_mosaic(arrays["x_train"], bank))
    logger.info("wrote %d augmented digits to %s and a mosaic to %s in %.1f s", len(bank["images"]), out, plot, time.perf_counter() - started)
