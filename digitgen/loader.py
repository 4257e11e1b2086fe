"""Stream a sequence dataset's NPZ shards back as numpy batches or a ``tf.data.Dataset``.

One shard is held in memory at a time, so a dataset of any size streams in
bounded memory, from a local folder or any fsspec URL. Every shard is checked
against the contract (:mod:`digitgen.contract`: each key, its dtype, its
dimensions and their agreement, and the same width and slots as the first
shard) before any of its rows is yielded; an error names the shard.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from digitgen import contract
from digitgen.constants import SPLIT_NAMES
from digitgen.io import read_npz
from digitgen.storage import list_files, read_bytes

#: Arrays yielded per batch.
BATCH_KEYS = contract.BATCH_KEYS


class SequenceLoader:
    """Iterable over batches of one split; see :func:`load_sequences`."""

    def __init__(self, root: str, split: str, batch_size: int, shuffle: bool, seed: int | None) -> None:
        self.split_location = f"{str(root).rstrip('/')}/{split}"
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.shards = list_files(self.split_location, contract.SHARD_GLOB)
        if not self.shards:
            raise FileNotFoundError(
                f"no NPZ shards ({contract.SHARD_GLOB}) in {self.split_location!r}; run `dvc repro sequences` "
                f"(or `dvc pull`), or check the path and that sequences.formats includes 'npz'."
            )
        self.layout: contract.ShardLayout | None = None
        self.read_shard(0)
        self.image_shape = (self.layout.height, self.layout.width)
        self.max_length = self.layout.max_length

    def read_shard(self, number: int) -> dict[str, np.ndarray]:
        """The batch arrays of shard ``number``, checked against the contract and against the first shard.

        Raises
        ------
        digitgen.errors.ContractError
            A missing key, a wrong dtype or number of dimensions, sizes that
            disagree between keys or with the first shard; the message names the shard.
        digitgen.errors.CorruptFileError
            A truncated or damaged file.
        """
        location = self.shards[number]
        arrays = read_npz(location, contract.SHARD_KEYS, what="shard", remedy="re-run `dvc repro sequences` or `dvc pull`",
                          data=read_bytes(location))
        layout = contract.check_shard(arrays, location)
        if self.layout is None:
            self.layout = layout
        problems = contract.agreement_problems(layout, location, self.layout.width, self.layout.max_length, f"as in {self.shards[0]}", self.layout.height)
        if problems:
            raise contract.ContractError(problems[0])
        return {key: arrays[key] for key in BATCH_KEYS}

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(len(self.shards)) if self.shuffle else range(len(self.shards))
        carry: dict[str, np.ndarray] | None = None
        for shard_number in order:
            arrays = self.read_shard(int(shard_number))
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
        Iterating yields dicts: ``images`` uint8 (b, H, W), ``labels`` int16
        (b, L_max), ``lengths`` int16 (b,), ``boxes`` int16 (b, L_max, 4),
        ``sources`` int8 (b, L_max), ``source_index`` int32 (b, L_max).
        ``.to_tf_dataset()`` gives the same as a ``tf.data.Dataset``.

    Raises
    ------
    digitgen.errors.ContractError
        While iterating (and for the first shard, at once): a shard that breaks
        the contract; the message names it.
    """
    if split not in SPLIT_NAMES:
        raise ValueError(f"split == {split!r}, must be one of {list(SPLIT_NAMES)}.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size == {batch_size!r}, must be a positive integer.")
    return SequenceLoader(str(path_or_url), split, batch_size, shuffle, seed)
