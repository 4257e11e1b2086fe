"""Stream a sequence dataset's NPZ shards back as numpy batches or a ``tf.data.Dataset``.

One shard is held in memory at a time, so a dataset of any size streams in
bounded memory, from a local folder or any fsspec URL.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import numpy as np

from digitgen.constants import SPLIT_NAMES
from digitgen.storage import list_files, read_bytes

#: Arrays yielded per batch.
BATCH_KEYS = ("images", "labels", "lengths", "boxes", "sources", "source_index")


class SequenceLoader:
    """Iterable over batches of one split; see :func:`load_sequences`."""

    def __init__(self, root: str, split: str, batch_size: int, shuffle: bool, seed: int | None) -> None:
        self.split_location = f"{str(root).rstrip('/')}/{split}"
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.shards = list_files(self.split_location, "shard-*.npz")
        if not self.shards:
            raise FileNotFoundError(
                f"no NPZ shards (shard-*.npz) in {self.split_location!r}; run `dvc repro sequences` "
                f"(or `dvc pull`), or check the path and that sequences.formats includes 'npz'."
            )
        with np.load(io.BytesIO(read_bytes(self.shards[0])), allow_pickle=False) as first:
            self.image_shape = tuple(first["images"].shape[1:])
            self.max_length = int(first["labels"].shape[1])

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(len(self.shards)) if self.shuffle else range(len(self.shards))
        carry: dict[str, np.ndarray] | None = None
        for shard_number in order:
            with np.load(io.BytesIO(read_bytes(self.shards[shard_number])), allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in BATCH_KEYS}
            if self.shuffle:
                rows = rng.permutation(len(arrays["images"]))
                arrays = {key: value[rows] for key, value in arrays.items()}
            if carry is not None:
                arrays = {key: np.concatenate([carry[key], arrays[key]]) for key in BATCH_KEYS}
            full = len(arrays["images"]) // self.batch_size * self.batch_size
            for start in range(0, full, self.batch_size):
                yield {key: value[start : start + self.batch_size] for key, value in arrays.items()}
            carry = {key: value[full:] for key, value in arrays.items()} if full < len(arrays["images"]) else None
        if carry is not None:
            yield carry

    def to_tf_dataset(self):
        """The same batches as a ``tf.data.Dataset`` of dicts (uint8 images, int16 labels ...), prefetched."""
        import tensorflow as tf

        height, width = self.image_shape
        signature = {
            "images": tf.TensorSpec((None, height, width), tf.uint8),
            "labels": tf.TensorSpec((None, self.max_length), tf.int16),
            "lengths": tf.TensorSpec((None,), tf.int16),
            "boxes": tf.TensorSpec((None, self.max_length, 4), tf.int16),
            "sources": tf.TensorSpec((None, self.max_length), tf.int8),
            "source_index": tf.TensorSpec((None, self.max_length), tf.int32),
        }
        return tf.data.Dataset.from_generator(self.__iter__, output_signature=signature).prefetch(tf.data.AUTOTUNE)


def load_sequences(
    path_or_url: str | os.PathLike,
    split: str,
    *,
    batch_size: int = 256,
    shuffle: bool = False,
    seed: int | None = None,
) -> SequenceLoader:
    """Stream a split of a sequence dataset as batches.

    Parameters
    ----------
    path_or_url : the dataset folder holding ``train/`` and ``test/`` (e.g.
        ``outputs/sequences``), local or an fsspec URL (``s3://bucket/sequences``).
    split : ``train`` or ``test``.
    batch_size : sequences per batch; the last batch may be smaller.
    shuffle : visit shards in a random order and shuffle rows within each shard.
    seed : seed of the shuffle (same seed, same order).

    Returns
    -------
    SequenceLoader
        Iterating yields dicts: ``images`` uint8 (b, 28, W), ``labels`` int16
        (b, L_max), ``lengths`` int16 (b,), ``boxes`` int16 (b, L_max, 4),
        ``sources`` int8 (b, L_max), ``source_index`` int32 (b, L_max).
        ``.to_tf_dataset()`` gives the same as a ``tf.data.Dataset``.
    """
    if split not in SPLIT_NAMES:
        raise ValueError(f"split == {split!r}, must be one of {list(SPLIT_NAMES)}.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size == {batch_size!r}, must be a positive integer.")
    return SequenceLoader(str(path_or_url), split, batch_size, shuffle, seed)
