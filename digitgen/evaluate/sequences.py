"""The check of one split of a sequence dataset: its contract, its provenance, its leaks, and how well its digits read.

For every shard: the format (:mod:`digitgen.contract`: keys, dtypes, shapes,
padding, boxes inside the image); every box holds ink; provenance (each
digit's label, box and pixels match the row of the source its ``sources`` /
``source_index`` name); the manifest and ``info.json`` agree with the shards.
For the test split, no digit's pixels may equal a training digit's (a leak).
The digits of the first ``evaluate_sequences.sequences_checked`` sequences
are cut out by their boxes, centred (:mod:`digitgen.evaluate.crops`) and
classified: a crop equal to its source digit's own crop takes that digit's
reading (:mod:`digitgen.evaluate.readings`), any other crop goes through the
classifier, so the result is the classifier's reading of every crop. A
split made with layout options that change its digits (``info.json``
parameters: height, per-digit variation, degradations) has only its labels'
provenance checked, and its crops normalised by
:mod:`digitgen.evaluate.layout_crops` and all classified; its metrics list
them as ``layout_options``.

Shards are read and checked on threads (:func:`_examine`) and merged in shard
order (:func:`check_split`), so counts and messages do not depend on the
number of threads. The module is about 480 lines because those two halves
and the problem record they share are one check: the order of its rules is
the order of its messages.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from digitgen import contract
from digitgen.compose import ink_extents
from digitgen.constants import SOURCE_NAMES
from digitgen.errors import InputError
from digitgen.evaluate.crops import (
    CropHashes,
    canonical_crops,
    centre_crops,
    covers,
    digit_crops_of,
    same_crops,
)
from digitgen.evaluate.layout_crops import layout_in_use, normalised_crops
from digitgen.evaluate.readings import Classify
from digitgen.io import read_npz
from digitgen.params.evaluate_sequences import EvaluateSequencesParams

#: Contract violations kept as messages per split (all of them are counted).
MAX_MESSAGES = 20



@dataclass(frozen=True)
class Pool:
    """The digits one source's ``source_index`` points into, with what the checks need computed once.

    Attributes
    ----------
    name : source name.
    images : uint8 (N, 28, 28).
    labels : int (N,) digits, or (N, 2) the intended pairs of ambiguous digits.
    extents : int64 (N, 4) ink boxes ``left, top, right, bottom``.
    crops : uint8 (N, 28, 28) canonical crops (:func:`digitgen.evaluate.crops.digit_crops_of`).
    readings : int8 (N,) the classifier's reading of each digit, or None (every crop is classified).
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    extents: np.ndarray
    crops: np.ndarray
    readings: np.ndarray | None = None


def make_pool(name: str, images: np.ndarray, labels: np.ndarray, readings: np.ndarray | None = None) -> Pool:
    """A :class:`Pool` of uint8 (N, 28, 28) digits and their int (N,) or (N, 2) labels."""
    extents = ink_extents(images).astype(np.int64)
    if readings is not None and np.shape(readings) != (len(images),):
        raise ValueError(f"readings of source {name!r} have shape {np.shape(readings)}, expected ({len(images)},).")
    return Pool(name, images, np.asarray(labels), extents, digit_crops_of(images, extents), readings)


@dataclass
class SplitResult:
    """What :func:`check_split` found.

    Attributes
    ----------
    split : ``train`` or ``test``.
    metrics : JSON-ready counts and accuracies (see :func:`check_split`).
    messages : the first :data:`MAX_MESSAGES` contract violations and leaks, as text.
    labels, predicted : int64 (K,) intended and classified digits of the checked digits.
    preview : the first sequences, for pictures: ``images`` uint8 (P, 28, W), ``boxes``
        int16 (P, L, 4), ``labels`` int16 (P, L), ``predicted`` int64 (P, L) (-1 where padded).
    timings : seconds per step (``read``, ``checks``, ``classify``, ``leaks``) and ``looked_up`` /
        ``classified`` crop counts; for logs only, never written to a file.
    """

    split: str
    metrics: dict
    messages: list[str]
    labels: np.ndarray
    predicted: np.ndarray
    preview: dict[str, np.ndarray]
    timings: dict[str, float] = field(default_factory=dict)


class _Problems:
    """Counts contract violations and keeps them in order; :attr:`messages` shows the first :data:`MAX_MESSAGES`."""

    def __init__(self) -> None:
        self.count = 0
        self.entries: list[tuple[str, int]] = []

    def add(self, message: str, count: int = 1) -> None:
        self.count += count
        self.entries.append((message, count))

    @property
    def messages(self) -> list[str]:
        return [message if count == 1 else f"{message} ({count} cases)" for message, count in self.entries[:MAX_MESSAGES]]

    def check(self, bad: np.ndarray, what: str, shard: str, seq: np.ndarray | None = None, slot: np.ndarray | None = None) -> None:
        """Record ``what`` if any element of the boolean array ``bad`` is set.

        ``bad`` is indexed by sequence row first, or, with ``seq`` and
        ``slot``, by digit (``seq[i]``, ``slot[i]``); the message names the first case.
        """
        count = int(np.count_nonzero(bad))
        if not count:
            return
        first = int(np.flatnonzero(bad.reshape(len(bad), -1).any(axis=1))[0])
        where = f"row {first}" if seq is None else f"row {seq[first]} digit {slot[first]}"
        self.add(f"{shard}: {where}: {what}", count)


class _Clock:
    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self.last = time.perf_counter()

    def lap(self, what: str) -> None:
        now = time.perf_counter()
        self.timings[what] = self.timings.get(what, 0.0) + now - self.last
        self.last = now


def split_source_names(split_dir: str | os.PathLike) -> list[str]:
    """Digit sources named by any shard of a split (reads only ``source_names``; unreadable shards are skipped)."""
    names: set[str] = set()
    for path in sorted(Path(split_dir).glob(contract.SHARD_GLOB)):
        try:
            names.update(str(n) for n in read_npz(path, ["source_names"], what="shard")["source_names"].reshape(-1))
        except InputError:
            continue  # check_split reports it
    return sorted(names, key=lambda n: (SOURCE_NAMES.index(n) if n in SOURCE_NAMES else len(SOURCE_NAMES), n))


def check_split(
    split_dir: str | os.PathLike,
    split: str,
    pools: Mapping[str, Pool],
    classify: Classify,
    params: EvaluateSequencesParams,
    *,
    training: CropHashes | None = None,
    duplicates: np.ndarray | None = None,
    workers: int | None = None,
) -> SplitResult:
    """Check one split of a sequence dataset against its contract and classify its digits.

    Parameters
    ----------
    split_dir : ``outputs/sequences/<split>`` (shards, ``manifest.csv``, ``info.json``).
    split : ``train`` or ``test``.
    pools : source name -> the digits its ``source_index`` points into (for ``real``,
        the MNIST split of the same name), with their readings when known.
    classify : the classifier, for crops that are not exactly a pool digit with a reading.
    params : the ``evaluate_sequences`` section.
    training : crop hashes of every training-split digit; given for the test split, whose
        digits must not equal any of them.
    duplicates : bool (len(pools['real'].images),): real test digits whose crop equals a
        training digit's in MNIST itself; their copies are counted as ``mnist_duplicates``, not leaks.
    workers : threads reading and checking shards at once (default: the cores available); the
        result does not depend on it (shards are merged in order), memory grows with it (a shard each).

    Returns
    -------
    SplitResult. ``metrics``: ``sequences``, ``shards``, ``digits``,
    ``contract_errors`` (violations of the shard contract, provenance or
    manifest), ``checked_sequences``, ``checked_digits``, ``digit_accuracy``,
    ``sequence_accuracy``, ``overlapping_digits`` (boxes that intersect a
    neighbour's, whose crops can hold foreign ink), ``clean_digit_accuracy``,
    ``overlapping_digit_accuracy`` (when there are any), ``accuracy_per_source``,
    and for the test split ``leaks`` and ``mnist_duplicates``.
    """
    split_dir = Path(split_dir)
    if not split_dir.is_dir():
        raise FileNotFoundError(f"sequence split folder {str(split_dir)!r} does not exist; run `dvc repro sequences`.")
    shard_paths = sorted(split_dir.glob(contract.SHARD_GLOB))
    if not shard_paths:
        raise FileNotFoundError(f"{split_dir} holds no {contract.SHARD_GLOB} files.")
    timings: dict[str, float] = {"looked_up": 0, "classified": 0}
    clock = _Clock(timings)
    workers = max(1, min(workers if workers is not None else len(os.sched_getaffinity(0)), len(shard_paths)))
    problems = _Problems()
    info, found = contract.read_info(split_dir / "info.json")
    for message in found:
        problems.add(message)
    expected_height, expected_width = (info.get("image_shape") or [None, None])[:2]
    expected_length = info.get("max_length")

    checked: list[tuple] = []
    leak_count = duplicate_count = total = digits = 0
    leaks: list[str] = []
    manifest: list[dict[str, np.ndarray]] = []
    preview: dict[str, list] = {"images": [], "boxes": [], "labels": []}
    options = layout_in_use((info.get("parameters") or {}) if isinstance(info.get("parameters"), dict) else {})
    examine = partial(_examine, split=split, pools=pools, training=training, duplicates=duplicates, transformed=bool(options))
    for report in _ordered_map(examine, list(enumerate(shard_paths)), workers):
        for key in ("read", "checks", "leaks"):
            timings[key] = timings.get(key, 0.0) + report.seconds.get(key, 0.0)
        for message, count in report.before.entries:
            problems.add(message, count)
        if report.layout is None:
            continue
        arrays, layout, shard, name = report.arrays, report.layout, report.shard, report.name
        for message in contract.agreement_problems(layout, name, expected_width, expected_length, height=expected_height):
            problems.add(message)
        expected_height = expected_height or layout.height
        expected_width = expected_width or layout.width
        expected_length = expected_length or layout.max_length
        for message, count in report.problems.entries:
            problems.add(message, count)
        clock.last = time.perf_counter()
        manifest.append(contract.manifest_columns(arrays, name, total))
        if training is not None:
            duplicate_count += report.duplicates
            leak_count += report.leaks
            leaks.extend(report.leak_messages[: MAX_MESSAGES - len(leaks)])
        take = (total + shard.seq) < params.sequences_checked
        if take.any():
            predicted = _read_crops(shard, take, classify, timings, arrays["images"] if options else None)
            overlapping = _overlaps_neighbour(arrays["boxes"], shard.active)[shard.seq, shard.slot]
            names = layout.source_names
            sources = np.array([names[s] if 0 <= s < len(names) else "?" for s in shard.source[take].tolist()], dtype=object)
            checked.append((total + shard.seq[take], shard.slot[take], shard.labels[take], predicted, sources, overlapping[take]))
        wanted = max(0, min(layout.count, params.sequence_previews - total))
        if wanted:
            for key, parts in preview.items():
                parts.append(arrays[key][:wanted])
        total += layout.count
        digits += int(shard.active.sum())
        clock.lap("classify")

    for message, count in contract.manifest_problems(split_dir / "manifest.csv", manifest):
        problems.add(message, count)
    if info and info.get("count") is not None and info.get("count") != total:
        problems.add(f"info.json: count == {info.get('count')}, but the shards hold {total} sequences")
    if info and info.get("shards") is not None and info.get("shards") != len(shard_paths):
        problems.add(f"info.json: shards == {info.get('shards')}, but the folder holds {len(shard_paths)} shard files")
    clock.lap("checks")

    metrics = {"sequences": total, "shards": len(shard_paths), "digits": digits, "contract_errors": problems.count}
    if options:
        metrics["layout_options"] = options
    labels = predicted = np.zeros(0, np.int64)
    preview_arrays = {key: np.concatenate(value) if value else np.zeros((0,), np.int16) for key, value in preview.items()}
    if checked:
        seq_ids, slots, labels, predicted, sources, overlapping = (np.concatenate(parts) for parts in zip(*checked))
        right = predicted == labels
        unique_seq, seq_pos = np.unique(seq_ids, return_inverse=True)
        seq_right = np.ones(len(unique_seq), bool)
        np.logical_and.at(seq_right, seq_pos, right)
        metrics.update({
            "checked_sequences": len(unique_seq),
            "checked_digits": len(labels),
            "digit_accuracy": float(right.mean()),
            "sequence_accuracy": float(seq_right.mean()),
            "overlapping_digits": int(overlapping.sum()),
            "accuracy_per_source": {name: float(right[sources == name].mean()) for name in sorted(set(sources.tolist()))},
        })
        if (~overlapping).any():
            metrics["clean_digit_accuracy"] = float(right[~overlapping].mean())
        if overlapping.any():
            metrics["overlapping_digit_accuracy"] = float(right[overlapping].mean())
        in_preview = seq_ids < params.sequence_previews
        if len(preview_arrays["labels"]):
            guess = np.full(preview_arrays["labels"].shape, -1, np.int64)
            guess[seq_ids[in_preview], slots[in_preview]] = predicted[in_preview]
            preview_arrays["predicted"] = guess
    if training is not None:
        metrics["leaks"] = leak_count
        metrics["mnist_duplicates"] = duplicate_count
    return SplitResult(split, metrics, (problems.messages + leaks)[:MAX_MESSAGES], labels, predicted, preview_arrays, timings)


@dataclass
class _ShardReport:
    """What :func:`_examine` found in one shard, before it is merged in shard order."""

    name: str
    before: _Problems  # naming and reading problems
    arrays: dict | None = None
    layout: contract.ShardLayout | None = None
    shard: _CheckedShard | None = None
    problems: _Problems = field(default_factory=_Problems)
    leaks: int = 0
    duplicates: int = 0
    leak_messages: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def _examine(
    item: tuple[int, Path], *, split: str, pools: Mapping[str, Pool], training: CropHashes | None, duplicates: np.ndarray | None,
    transformed: bool = False,
) -> _ShardReport:
    """Everything about one shard that does not depend on the shards before it (run in a worker thread)."""
    number, path = item
    report = _ShardReport(path.name, _Problems())
    if path.name != contract.shard_file(number):
        report.before.add(f"{path.name}: shards must be numbered shard-00000.npz, shard-00001.npz, ... without gaps (expected {contract.shard_file(number)})")
    clock = _Clock(report.seconds)
    try:
        arrays = read_npz(path, what="shard", remedy="re-run `dvc repro sequences` or `dvc checkout`")
        clock.lap("read")
        layout = contract.check_shard(arrays, path.name)
    except InputError as error:  # a corrupt file or a broken format: nothing more to check in this shard
        report.before.add(str(error).rstrip("."))
        return report
    report.arrays, report.layout = arrays, layout
    report.shard = shard = _check_shard(path.name, arrays, layout, split, pools, report.problems, transformed)
    clock.lap("checks")
    if training is not None:
        found = training.find(shard.crops)
        dup = np.zeros(len(found), bool) if duplicates is None else duplicates[np.clip(shard.index, 0, len(duplicates) - 1)]
        leaked = (found >= 0) & ~dup
        report.duplicates = int(np.count_nonzero((found >= 0) & dup))
        report.leaks = int(leaked.sum())
        report.leak_messages = [
            f"{path.name}: row {shard.seq[i]} digit {shard.slot[i]}: leak: its pixels equal training digit {found[i]}"
            for i in np.flatnonzero(leaked)[:MAX_MESSAGES]
        ]
        clock.lap("leaks")
    return report


def _ordered_map(function, items: list, workers: int) -> Iterator:
    """``map(function, items)`` on ``workers`` threads, in order, with at most ``workers + 1`` results waiting.

    numpy and zlib release the GIL for the bulk of a shard's work, so threads
    share it across cores; the bound keeps memory at a few shards.
    """
    if workers <= 1:
        yield from map(function, items)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="shard") as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


@dataclass(frozen=True)
class _CheckedShard:
    """The digits of one shard whose box passed the format rules, in (row, slot) order.

    ``active`` bool (n, L); per digit: ``seq``, ``slot``, ``boxes`` int64 (K, 4), ``labels``,
    ``source``, ``index`` int64 (K,), ``crops`` uint8 (K, 28, 28), ``exact`` bool (K,) (the crop is
    its source digit's own canonical crop) and ``reading`` int64 (K,) (that digit's reading, -1 unknown).
    """

    active: np.ndarray
    seq: np.ndarray
    slot: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    source: np.ndarray
    index: np.ndarray
    crops: np.ndarray
    exact: np.ndarray
    reading: np.ndarray


def _check_shard(
    name: str, arrays: Mapping[str, np.ndarray], layout: contract.ShardLayout, split: str, pools: Mapping[str, Pool], problems: _Problems,
    transformed: bool = False,
) -> _CheckedShard:
    """The value rules, the ink in every box and the provenance of every digit of one shard.

    ``transformed``: the split's layout options change its digits, so only their labels are
    checked against their source digits (not their boxes and pixels), and every crop is classified.
    """
    names = list(layout.source_names)
    unknown = [s for s in names if s not in SOURCE_NAMES]
    if unknown or len(set(names)) != len(names):
        problems.add(f"{name}: source_names {names} must be distinct names from {list(SOURCE_NAMES)}")
    if split == "test" and names != ["real"]:
        problems.add(f"{name}: test-split source_names == {names}; the test split draws real MNIST test digits only")
    for what, bad in contract.value_problems(arrays, layout):
        problems.check(bad, what, name)
    active = contract.active_slots(arrays["lengths"], layout.max_length) & contract.boxes_inside(arrays["boxes"], layout)
    seq, slot = np.nonzero(active)
    boxes = arrays["boxes"][seq, slot].astype(np.int64)
    crops = canonical_crops(arrays["images"], seq, boxes)
    no_ink = np.zeros(active.shape, bool)
    no_ink[seq, slot] = crops.max(axis=(1, 2), initial=0) == 0
    problems.check(no_ink, "box holds no ink", name)

    source = arrays["sources"][seq, slot].astype(np.int64)
    index = arrays["source_index"][seq, slot].astype(np.int64)
    labels = arrays["labels"][seq, slot].astype(np.int64)
    exact = np.zeros(len(seq), bool)
    reading = np.full(len(seq), -1, np.int64)
    for number, source_name in enumerate(names):
        mine = np.flatnonzero(source == number)
        if not len(mine):
            continue
        if source_name not in pools:
            problems.add(f"{name}: source {source_name!r} is not available to check provenance (have {sorted(pools)})", len(mine))
            continue
        pool = pools[source_name]
        out_of_range = (index[mine] < 0) | (index[mine] >= len(pool.images))
        problems.check(out_of_range, f"source_index outside the {len(pool.images)} digits of {source_name!r}", name, seq[mine], slot[mine])
        mine = mine[~out_of_range]
        rows = index[mine]
        intended = pool.labels[rows]
        label = labels[mine]
        wrong = (label != intended) if intended.ndim == 1 else ((label != intended[:, 0]) & (label != intended[:, 1]))
        problems.check(wrong, f"label differs from {source_name!r}'s label at its source_index", name, seq[mine], slot[mine])
        if transformed:
            continue
        ext, box = pool.extents[rows], boxes[mine]
        mismatch = (box[:, 2] - box[:, 0] != ext[:, 2] - ext[:, 0]) | (box[:, 1] != ext[:, 1]) | (box[:, 3] != ext[:, 3])
        problems.check(mismatch, f"box does not match the ink extent of {source_name!r}'s digit at its source_index", name, seq[mine], slot[mine])
        # Pixels: the box holds at least the source digit's ink (neighbours merge with max).
        own, seen = pool.crops[rows], crops if len(mine) == len(crops) else crops[mine]
        problems.check(~mismatch & ~covers(seen, own), f"pixels do not hold {source_name!r}'s digit at its source_index", name, seq[mine], slot[mine])
        same = ~mismatch & same_crops(seen, own)
        exact[mine] = same
        if pool.readings is not None:
            reading[mine[same]] = pool.readings[rows[same]]
    return _CheckedShard(active, seq, slot, boxes, labels, source, index, crops, exact, reading)


def _read_crops(
    shard: _CheckedShard, take: np.ndarray, classify: Classify, timings: dict[str, float], images: np.ndarray | None = None
) -> np.ndarray:
    """int64 (k,): the classifier's digit for each taken crop, looked up where known, else classified.

    ``images``: the shard's images when its layout options changed its digits; their crops are then
    normalised as MNIST's digits (:func:`digitgen.evaluate.layout_crops.normalised_crops`).
    """
    predicted = shard.reading[take].copy()
    unknown = predicted < 0
    if unknown.any():
        rows = np.flatnonzero(take)[unknown]
        if images is None:
            inputs = centre_crops(shard.crops[rows], shard.boxes[rows])
        else:
            inputs = normalised_crops(images, shard.seq[rows], shard.boxes[rows])
        predicted[unknown] = np.asarray(classify(inputs), np.int64)
    timings["looked_up"] += int((~unknown).sum())
    timings["classified"] += int(unknown.sum())
    return predicted


def _overlaps_neighbour(boxes: np.ndarray, active: np.ndarray) -> np.ndarray:
    """bool (n, L): active boxes whose x-range intersects the previous or next digit's."""
    x0, x1 = boxes[..., 0].astype(np.int64), boxes[..., 2].astype(np.int64)
    hit = np.zeros(active.shape, bool)
    both = active[:, 1:] & active[:, :-1]
    touch = both & (x1[:, :-1] > x0[:, 1:])
    hit[:, 1:] |= touch
    hit[:, :-1] |= touch
    return hit
