"""The sequence reader: a compact CRNN trained with CTC, its streaming training loop, greedy decoding and scoring.

The model (:func:`build_reader`) takes greyscale strips of any width at the
height it was trained on (white ink on black, uint8 values as float32): conv
blocks (3x3 conv, batch norm, ReLU, max-pool) halve the height at every block
and the width only at the first ``width_pools`` blocks, so each digit keeps
several time steps for CTC; the remaining rows are flattened into one feature
vector per column, projected, read by a bidirectional GRU and mapped to 11
logits per time step (digits 0-9 and the CTC blank, :data:`BLANK`).

Training (:func:`train_reader`) streams the NPZ shards of a split one at a time
(:class:`digitgen.loader.SequenceLoader` reads and checks them), in a seeded
order redrawn every epoch; the first ``validation_sequences`` rows of the first
shard (in file order) are held out for the validation curve. Adam follows a
linear warm-up then a cosine decay to 0.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from digitgen.errors import InputError
from digitgen.keras_train import EpochLog, seed_everything
from digitgen.loader import SequenceLoader, load_sequences
from digitgen.params.train_reader import TrainReaderParams

logger = logging.getLogger(__name__)

#: Index of the CTC blank among the model's 11 outputs (0-9 are the digits).
BLANK = 10
#: Outputs per time step.
CLASSES = 11


def build_reader(height: int, params: TrainReaderParams) -> keras.Model:
    """The CRNN for strips ``height`` pixels high and any width.

    Input float32 (b, height, W, 1), 0-255; output float32 logits (b, T, 11)
    with ``T = W // 2**width_pools`` (see :func:`time_steps`).

    Raises
    ------
    digitgen.errors.InputError
        When ``height`` is too small for the conv blocks (fewer than 1 row left).
    """
    rows = height
    for _ in params.filters:
        rows //= 2
    if rows < 1:
        raise InputError(f"images {height} px high are too small for {len(params.filters)} conv blocks "
                         f"(each halves the height); use fewer train_reader.filters.", "train_reader.filters")
    inputs = keras.Input((height, None, 1), name="image")
    x = keras.layers.Rescaling(1 / 255, name="scale")(inputs)
    for number, channels in enumerate(params.filters):
        x = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False, name=f"conv{number + 1}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{number + 1}")(x)
        x = keras.layers.ReLU(name=f"relu{number + 1}")(x)
        x = keras.layers.MaxPooling2D((2, 2) if number < params.width_pools else (2, 1), name=f"pool{number + 1}")(x)
    x = keras.layers.Permute((2, 1, 3), name="columns_first")(x)  # (b, T, rows, channels)
    x = keras.layers.Reshape((-1, rows * params.filters[-1]), name="columns")(x)
    x = keras.layers.Dense(params.dense, activation="relu", name="project")(x)
    x = keras.layers.Dropout(params.dropout, name="dropout")(x)
    x = keras.layers.Bidirectional(keras.layers.GRU(params.units, return_sequences=True, name="gru"), name="bigru")(x)
    outputs = keras.layers.Dense(CLASSES, name="logits")(x)
    return keras.Model(inputs, outputs, name="reader")


def time_steps(width: int, width_pools: int) -> int:
    """CTC time steps of an image ``width`` pixels wide: ``width // 2**width_pools``."""
    for _ in range(width_pools):
        width //= 2
    return width


def ctc_loss(labels, logits):
    """Mean CTC loss of int (b, L) ``labels`` padded with -1 against float32 (b, T, 11) ``logits``.

    The labels go to ``tf.nn.ctc_loss`` as a sparse tensor, which runs TensorFlow's
    native CTC kernel; ``keras.ops.ctc_loss`` passes them dense, which on CPU runs
    a graph-level loop (measured several times slower; see README).
    """
    labels = tf.cast(labels, tf.int32)
    where = tf.where(labels >= 0)
    sparse = tf.SparseTensor(where, tf.gather_nd(labels, where), tf.shape(labels, out_type=tf.int64))
    logit_length = tf.fill([tf.shape(logits)[0]], tf.shape(logits)[1])
    loss = tf.nn.ctc_loss(sparse, tf.cast(logits, tf.float32), None, logit_length, logits_time_major=False, blank_index=BLANK)
    return tf.reduce_mean(loss)


def to_inputs(images, labels):
    """One batch: uint8 (b, H, W) images -> float32 (b, H, W, 1); int16 labels -> int32."""
    return tf.cast(images, tf.float32)[..., None], tf.cast(labels, tf.int32)


# --------------------------------------------------------------------------- decoding and scoring


def greedy_decode(logits: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Best-path CTC decoding of float (n, T, 11) logits.

    Returns
    -------
    texts : n strings of digits (may be empty).
    probabilities : float64 (n,), the probability of each best path (product of its per-step maxima).
    """
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=2, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
    best = log_probs.argmax(axis=2)
    probabilities = np.exp(log_probs.max(axis=2).sum(axis=1))
    keep = best != BLANK
    keep[:, 1:] &= best[:, 1:] != best[:, :-1]
    texts = ["".join(str(int(d)) for d in row[mask]) for row, mask in zip(best, keep)]
    return texts, probabilities


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings."""
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, start=1):
        current = [i]
        for j, other in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other)))
        previous = current
    return previous[-1]


def label_strings(labels: np.ndarray) -> list[str]:
    """int (n, L) labels padded with -1 -> n digit strings."""
    return ["".join(str(int(d)) for d in row if d >= 0) for row in np.asarray(labels)]


def score_readings(predicted: list[str], truth: list[str]) -> dict:
    """Exact-sequence accuracy and character error rate (edit distance / true digits), overall and per true length."""
    if len(predicted) != len(truth) or not truth:
        raise ValueError(f"{len(predicted)} readings for {len(truth)} sequences; need the same positive number.")
    exact = np.array([p == t for p, t in zip(predicted, truth)])
    edits = np.array([edit_distance(p, t) for p, t in zip(predicted, truth)])
    lengths = np.array([len(t) for t in truth])

    def figures(rows: np.ndarray) -> dict:
        return {"sequences": int(rows.sum()), "exact": round(float(exact[rows].mean()), 6),
                "cer": round(float(edits[rows].sum() / max(1, lengths[rows].sum())), 6)}

    every = np.ones(len(truth), dtype=bool)
    return {**figures(every), "per_length": {str(n): figures(lengths == n) for n in sorted(set(lengths.tolist()))}}


def read_split(model: keras.Model, root: str, split: str, batch_size: int) -> dict[str, np.ndarray | list[str]]:
    """Read every sequence of ``split``: ``truth``, ``predicted`` (strings), ``probability`` float64 (n,), ``images`` of the errors."""
    predicted, truth, probability, wrong = [], [], [], []
    for batch in load_sequences(root, split, batch_size=batch_size):
        texts, p = greedy_decode(model.predict_on_batch(batch["images"].astype(np.float32)[..., None]))
        labels = label_strings(batch["labels"])
        predicted += texts
        truth += labels
        probability.append(p)
        wrong += [(image, text, label) for image, text, label in zip(batch["images"], texts, labels) if text != label][:64]
    return {"predicted": predicted, "truth": truth, "probability": np.concatenate(probability), "errors": wrong[:64]}


# --------------------------------------------------------------------------- training


def _epoch_dataset(loader: SequenceLoader, batch_size: int, seed: int, held: int, rows: int) -> tf.data.Dataset:
    """One epoch's batches as a ``tf.data.Dataset`` (a new seeded order each time it is iterated).

    ``rows`` (the split's row count less ``held``) gives the number of batches, declared to Keras.
    """
    state = {"epoch": 0}

    def one_epoch():
        rng_seed = (seed, state["epoch"])
        state["epoch"] += 1
        rng = np.random.default_rng(rng_seed)
        carry_images = np.zeros((0, *loader.image_shape), np.uint8)
        carry_labels = np.zeros((0, loader.max_length), np.int16)
        for number in rng.permutation(len(loader.shards)):
            arrays = loader.read_shard(int(number))
            images, labels = arrays["images"], arrays["labels"]
            if number == 0:
                images, labels = images[held:], labels[held:]
            rows = rng.permutation(len(images))
            images, labels = np.concatenate([carry_images, images[rows]]), np.concatenate([carry_labels, labels[rows]])
            full = len(images) // batch_size * batch_size
            for start in range(0, full, batch_size):
                yield images[start:start + batch_size], labels[start:start + batch_size]
            carry_images, carry_labels = images[full:], labels[full:]
        if len(carry_images):
            yield carry_images, carry_labels

    height, width = loader.image_shape
    signature = (tf.TensorSpec((None, height, width), tf.uint8), tf.TensorSpec((None, loader.max_length), tf.int16))
    data = tf.data.Dataset.from_generator(one_epoch, output_signature=signature)
    data = data.apply(tf.data.experimental.assert_cardinality(math.ceil(rows / batch_size)))
    return data.map(to_inputs).prefetch(2)


def warmup_cosine_adam(learning_rate: float, steps: int, warmup: float) -> keras.optimizers.Adam:
    """Adam: the rate rises linearly from ``learning_rate / 10`` to ``learning_rate`` over ``warmup`` of the steps, then a cosine to 0."""
    warmup_steps = int(round(warmup * steps))
    schedule = keras.optimizers.schedules.CosineDecay(
        learning_rate / 10 if warmup_steps else learning_rate, decay_steps=max(1, steps - warmup_steps),
        warmup_target=learning_rate if warmup_steps else None, warmup_steps=warmup_steps,
    )
    return keras.optimizers.Adam(schedule, clipnorm=5.0)


@dataclass(frozen=True)
class ReaderFit:
    """What :func:`train_reader` returns: the model, per-epoch history, wall times (log only) and row counts."""

    model: keras.Model
    history: dict[str, list[float]]
    seconds_per_epoch: list[float]
    seconds: float
    train_count: int
    validation_count: int
    image_shape: tuple[int, int]


def train_reader(root: str, params: TrainReaderParams) -> ReaderFit:
    """Train the reader on the ``train`` split of the dataset folder ``root``, deterministically.

    Raises
    ------
    digitgen.errors.InputError
        When the images are too narrow for the CTC time steps of the longest
        label, or holding out ``validation_sequences`` leaves nothing to train on.
    """
    loader = load_sequences(root, "train", batch_size=params.batch_size)
    height, width = loader.image_shape
    steps_per_image = time_steps(width, params.width_pools)
    if steps_per_image < 2 * loader.max_length:
        raise InputError(f"images {width} px wide give {steps_per_image} CTC steps for labels of up to {loader.max_length} "
                         f"digits (need >= {2 * loader.max_length}); lower train_reader.width_pools.", "train_reader.width_pools")
    first = loader.read_shard(0)
    first_count = len(first["images"])
    held = min(params.validation_sequences, first_count)
    total = _count_rows(loader, first_count)
    if total - held < 1:
        raise InputError(f"{total} train sequences leave none to train on after holding out "
                         f"train_reader.validation_sequences == {params.validation_sequences}.", "train_reader.validation_sequences")
    seed_everything(params.seed)
    model = build_reader(height, params)
    steps = math.ceil((total - held) / params.batch_size) * params.epochs
    model.compile(optimizer=warmup_cosine_adam(params.learning_rate, steps, params.warmup), loss=ctc_loss)
    validation = None
    if held:
        validation = tf.data.Dataset.from_tensor_slices((first["images"][:held], first["labels"][:held])).batch(256).map(to_inputs)
    log = EpochLog(params.epochs)
    start = time.perf_counter()
    history = model.fit(_epoch_dataset(loader, params.batch_size, params.seed, held, total - held), epochs=params.epochs,
                        validation_data=validation, shuffle=False, verbose=0, callbacks=[log]).history
    return ReaderFit(model=model, history={name: [float(v) for v in values] for name, values in history.items()},
                     seconds_per_epoch=log.seconds, seconds=time.perf_counter() - start,
                     train_count=total - held, validation_count=held, image_shape=(height, width))


def _count_rows(loader: SequenceLoader, first_count: int) -> int:
    """Rows of the split: from ``info.json``'s ``count`` when present, else by reading every shard."""
    import json

    from digitgen.storage import read_bytes

    try:
        return int(json.loads(read_bytes(f"{loader.split_location}/info.json"))["count"])
    except (OSError, KeyError, ValueError, TypeError):
        return first_count + sum(len(loader.read_shard(n)["images"]) for n in range(1, len(loader.shards)))


# --------------------------------------------------------------------------- reading user images

#: Largest image (pixels) ``digitgen read`` decodes; checked from the header, before decoding.
MAX_IMAGE_PIXELS = 4096 * 4096
#: Widest strip fed to the model after resizing to its height.
MAX_READ_WIDTH = 8192
#: Choices of ``invert``: ``auto`` inverts an image whose median grey is above 127 (dark ink on a light ground).
INVERT_CHOICES = ("auto", "always", "never")


def load_strip(path: str | os.PathLike, height: int, invert: str = "auto") -> np.ndarray:
    """An image file as the reader's input: greyscale, white ink on black, ``height`` px high, aspect kept.

    Returns uint8 (height, W). ``invert``: one of :data:`INVERT_CHOICES`.

    Raises
    ------
    FileNotFoundError
        No such file.
    digitgen.errors.InputError
        Not an image Pillow can read, more than :data:`MAX_IMAGE_PIXELS` pixels,
        or wider than :data:`MAX_READ_WIDTH` once resized; the message names the file.
    """
    from PIL import Image, UnidentifiedImageError

    if invert not in INVERT_CHOICES:
        raise InputError(f"--invert == {invert!r}, must be one of {list(INVERT_CHOICES)}.", "--invert")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{str(path)!r}: no such file.")
    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise InputError(f"{str(path)!r}: {image.width} x {image.height} pixels, more than the "
                                 f"{MAX_IMAGE_PIXELS:,} read (crop or shrink it).", str(path))
            grey = image.convert("L")
            grey.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise InputError(f"{str(path)!r} is not a readable image ({type(error).__name__}: {error}).", str(path)) from None
    width = max(1, round(grey.width * height / grey.height))
    if width > MAX_READ_WIDTH:
        raise InputError(f"{str(path)!r}: {width} px wide at height {height} (aspect {grey.width}:{grey.height}), "
                         f"more than {MAX_READ_WIDTH}.", str(path))
    array = np.asarray(grey.resize((width, height), Image.Resampling.LANCZOS), dtype=np.uint8)
    if invert == "always" or (invert == "auto" and np.median(array) > 127):
        array = 255 - array
    return array


def read_strips(model: keras.Model, strips: list[np.ndarray]) -> list[tuple[str, float]]:
    """Read uint8 (H, W) strips one at a time (widths may differ): (digits, best-path probability) each."""
    results = []
    for strip in strips:
        texts, p = greedy_decode(model.predict_on_batch(strip.astype(np.float32)[None, ..., None]))
        results.append((texts[0], float(p[0])))
    return results


def model_height(model: keras.Model) -> int:
    """Image height the reader was built for (its input is (b, height, W, 1))."""
    return int(model.input_shape[1])
