"""The one training loop of every Keras model digitgen trains: the evaluation classifier, the judges and the VAEs.

:func:`train_model` does, in this order (the order of the random draws is part
of the output: the same seed gives the same weights, so the same ``.keras``
bytes):

1. seed Python, NumPy and Keras (``keras.utils.set_random_seed``) and turn on
   TensorFlow's deterministic ops (:func:`seed_everything`);
2. hold out a seeded random fraction of the rows for the validation curve
   (:func:`holdout_split`; optionally in row order);
3. build the model (after seeding: its initial weights come from the seed);
4. compile it with Adam on a cosine-decayed learning rate that reaches 0 at
   the last step (:func:`cosine_adam`);
5. fit it on a ``tf.data`` pipeline: seeded shuffle (reshuffled each epoch),
   batch, a per-batch map to the model's inputs, prefetch (:func:`batches`),
   logging each epoch's metrics and wall time (:class:`EpochLog`).

The callers differ only in what they pass: the columns, the map, whether the
hold-out rows are sorted, the compile arguments and how the log shows a line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from digitgen.errors import InputError

logger = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and Keras with ``seed`` and make TensorFlow's ops deterministic (for the whole process)."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def validation_count(count: int, fraction: float) -> int:
    """Rows held out of ``count`` for a validation ``fraction``: ``round(fraction * count)``."""
    return int(round(fraction * count))


def holdout_split(count: int, fraction: float, seed: int, *, sort: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random hold-out: ``(held, kept)`` int64 row numbers of ``0 .. count - 1``.

    The first :func:`validation_count` rows of ``numpy.random.default_rng(seed).permutation(count)``
    are held out, the rest kept; ``sort`` puts each part in row order (the order
    the rows are then fed in, before the shuffle).
    """
    held_count = validation_count(count, fraction)
    order = np.random.default_rng(seed).permutation(count)
    held, kept = order[:held_count], order[held_count:]
    if sort:
        held, kept = np.sort(held), np.sort(kept)
    return held, kept


def batches(
    columns: Sequence[np.ndarray],
    batch_size: int,
    map_batch: Callable[..., Any],
    *,
    shuffle_seed: int | None = None,
) -> tf.data.Dataset:
    """``tf.data`` pipeline of row-aligned arrays: shuffle (when ``shuffle_seed`` is given), batch, ``map_batch``, prefetch.

    The shuffle buffer holds every row, and the order is redrawn each epoch
    from the seed (deterministic with :func:`seed_everything`).
    """
    data = tf.data.Dataset.from_tensor_slices(tuple(columns))
    if shuffle_seed is not None:
        data = data.shuffle(len(columns[0]), seed=shuffle_seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).map(map_batch).prefetch(tf.data.AUTOTUNE)


def cosine_adam(learning_rate: float, steps: int) -> keras.optimizers.Adam:
    """Adam whose learning rate starts at ``learning_rate`` and decays along a cosine to 0 over ``steps`` steps."""
    return keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps))


class EpochLog(keras.callbacks.Callback):
    """Log each epoch's metrics (``precision`` decimals) and wall time; ``derive`` adds shown values from the logs.

    The wall times are kept in :attr:`seconds` for the caller's log; they never
    go into an output file (they would change on every run).
    """

    def __init__(self, epochs: int, *, precision: int = 4, derive: Callable[[dict], Mapping[str, float]] | None = None) -> None:
        super().__init__()
        self.epochs = epochs
        self.precision = precision
        self.derive = derive
        self.seconds: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._start)
        shown = dict(logs or {})
        if self.derive is not None:
            shown.update(self.derive(shown))
        line = " ".join(f"{name} {value:.{self.precision}f}" for name, value in sorted(shown.items()))
        logger.info("epoch %d/%d: %s (%.1f s)", epoch + 1, self.epochs, line, self.seconds[-1])


@dataclass(frozen=True)
class KerasFit:
    """What :func:`train_model` returns.

    Attributes
    ----------
    model : the trained model (with its optimizer state).
    history : metric name -> one float per epoch (``val_*`` on the hold-out, when there is one).
    seconds_per_epoch : wall time of each epoch (for logs; never written to output files).
    train_count, validation_count : rows fitted and held out.
    """

    model: keras.Model
    history: dict[str, list[float]]
    seconds_per_epoch: list[float]
    train_count: int
    validation_count: int


def train_model(
    build: Callable[[], keras.Model],
    columns: Sequence[np.ndarray],
    map_batch: Callable[..., Any],
    *,
    seed: int,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    validation_fraction: float,
    sort_holdout: bool = False,
    compile_args: Mapping[str, Any] | None = None,
    log_precision: int = 4,
    log_derive: Callable[[dict], Mapping[str, float]] | None = None,
    what: str = "digits",
    fraction_key: str = "validation_fraction",
) -> KerasFit:
    """Train ``build()`` on ``columns`` deterministically (the steps of the module docstring).

    Parameters
    ----------
    build : makes the uncompiled model; called after seeding.
    columns : row-aligned arrays (e.g. images and labels), sliced by the hold-out split.
    map_batch : turns one batch of the columns into the model's ``fit`` inputs.
    seed : seeds Keras, the hold-out split and the shuffle.
    epochs, batch_size, learning_rate : the run; the cosine decay spans every step of it.
    validation_fraction : share of the rows held out for the ``val_*`` metrics, in [0, 0.5).
    sort_holdout : feed the kept (and held) rows in row order before the shuffle.
    compile_args : further arguments of ``model.compile`` (loss, metrics).
    log_precision, log_derive : how :class:`EpochLog` shows a line.
    what, fraction_key : names of the rows and of the fraction in the error below.

    Raises
    ------
    digitgen.errors.InputError
        When the hold-out leaves no row to train on (checked before anything is seeded).
    """
    count = len(columns[0])
    if count - validation_count(count, validation_fraction) < 1:
        raise InputError(f"{count} {what} leave none to train on after holding out {fraction_key} == {validation_fraction}.")
    seed_everything(seed)
    held, kept = holdout_split(count, validation_fraction, seed, sort=sort_holdout)
    model = build()
    steps = -(-len(kept) // batch_size) * epochs
    model.compile(optimizer=cosine_adam(learning_rate, steps), **(compile_args or {}))
    log = EpochLog(epochs, precision=log_precision, derive=log_derive)
    history = model.fit(
        batches([column[kept] for column in columns], batch_size, map_batch, shuffle_seed=seed),
        epochs=epochs,
        shuffle=False,  # tf.data shuffles, with the seed
        validation_data=batches([column[held] for column in columns], batch_size, map_batch) if len(held) else None,
        verbose=0,
        callbacks=[log],
    ).history
    return KerasFit(
        model=model,
        history={name: [float(v) for v in values] for name, values in history.items()},
        seconds_per_epoch=log.seconds,
        train_count=len(kept),
        validation_count=len(held),
    )
