"""Detection canvases: several numbers, each a short digit string, scaled, turned and placed on one image.

A canvas of ``width`` x ``height`` pixels (0 = background, 255 = ink) holds
numbers; a number is composed as a sequence is (:func:`digitgen.compose.compose_batch`:
gaps drawn from the spacing range, measured between cells or ink), cut to the
ink of its digits, scaled to a height drawn from ``number_height`` (the height
of its 28-px cells: a factor ``h / 28``) and turned by an angle drawn from
``±rotation`` degrees (positive = counter-clockwise), in one bilinear resampling.

Boxes (``x0, y0, x1, y1``, exclusive ends, canvas pixels): a digit's box is the
axis-aligned box of its ink rectangle, grown by half a source pixel on each
side (how far bilinear resampling spreads ink), after the scaling and the
turn, rounded outwards; a number's box is the same for the ink rectangle of
all its digits, so every digit box lies inside its number's box and all of a
number's ink lies inside its box. Without rotation the boxes are the ink
boxes scaled; with a turn of ``t`` they are up to about ``h sin t`` px looser.

Placement: numbers are placed one after the other at uniformly drawn
positions that keep the whole number box on the canvas, each with up to
``tries`` candidate positions; a candidate is taken when its box overlaps no
box placed before on that canvas by more than ``max_iou`` (intersection over
union, :func:`box_iou`). A number no candidate fits is left out: the canvas is
kept with the numbers placed so far and those after it that do fit, and the
numbers left out are counted (:attr:`CanvasBatch.dropped`). The first number
always fits: the parameters are checked so that the largest number fits
the canvas (:func:`digitgen.params.canvases.largest_number_box`).

Everything is drawn from the generator passed in, in a fixed order, with
array operations over the whole batch; only the resampling and pasting of
each number is a (C-level) call per number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digitgen.compose import compose_batch, ink_extents
from digitgen.constants import DIGIT_SIZE

#: Value of every padded slot.
PAD = -1
#: Numbers resampled at a time (a few hundred kB per array: the work stays in the CPU caches).
RENDER_BLOCK = 128


@dataclass(frozen=True)
class CanvasLayout:
    """How canvases are composed (the geometric part of :class:`digitgen.params.canvases.CanvasesParams`)."""

    width: int
    height: int
    spacing: tuple[int, int]
    measure: str
    number_height: tuple[int, int]
    rotation: float
    max_iou: float
    tries: int

    @classmethod
    def of(cls, params) -> CanvasLayout:
        """The layout of a ``canvases`` params section."""
        return cls(
            params.width, params.height, (params.spacing.min, params.spacing.max), params.spacing.measure,
            tuple(params.number_height), params.rotation, params.max_iou, params.placement_tries,
        )


@dataclass(frozen=True)
class CanvasBatch:
    """A batch of composed canvases.

    Attributes
    ----------
    images : uint8 (n, H, W).
    digit_boxes : int16 (n, K, 4); digit_number : int16 (n, K) the number each digit belongs to;
        digit_slot : int64 (n, K) the digit's position ``m * L + l`` in the ``(n, M, L)`` index given
        (number ``m``, digit ``l``), so that any per-digit array can be gathered; -1 where padded.
        Digits of placed numbers come first, in number order, then padding.
    number_boxes : int16 (n, M, 4); number_slot : int64 (n, M) the number's position ``m`` in the
        index given; placed numbers first, -1 where padded.
    dropped : numbers that found no place; reduced : canvases holding fewer numbers than asked.
    """

    images: np.ndarray
    digit_boxes: np.ndarray
    digit_number: np.ndarray
    digit_slot: np.ndarray
    number_boxes: np.ndarray
    number_slot: np.ndarray
    dropped: int
    reduced: int


def box_iou_ok(boxes: np.ndarray, others: np.ndarray, max_iou: float) -> np.ndarray:
    """bool (broadcast shape): whether the IoU of ``boxes`` and ``others`` (int ``..., 4``, exclusive ends) is <= ``max_iou``.

    Computed as ``intersection <= max_iou * union`` in float64, so that the writer and the checker agree exactly.
    """
    boxes, others = np.asarray(boxes, np.int64), np.asarray(others, np.int64)
    wide = np.minimum(boxes[..., 2], others[..., 2]) - np.maximum(boxes[..., 0], others[..., 0])
    tall = np.minimum(boxes[..., 3], others[..., 3]) - np.maximum(boxes[..., 1], others[..., 1])
    inter = (np.maximum(wide, 0) * np.maximum(tall, 0)).astype(np.float64)
    area = lambda b: ((b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])).astype(np.float64)  # noqa: E731
    return inter <= max_iou * (area(boxes) + area(others) - inter)


def box_iou(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """float64 (broadcast shape): intersection over union of int boxes ``x0, y0, x1, y1`` (exclusive ends); 0 for empty unions."""
    boxes, others = np.asarray(boxes, np.int64), np.asarray(others, np.int64)
    wide = np.minimum(boxes[..., 2], others[..., 2]) - np.maximum(boxes[..., 0], others[..., 0])
    tall = np.minimum(boxes[..., 3], others[..., 3]) - np.maximum(boxes[..., 1], others[..., 1])
    inter = (np.maximum(wide, 0) * np.maximum(tall, 0)).astype(np.float64)
    union = ((boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1]) + (others[..., 2] - others[..., 0]) * (others[..., 3] - others[..., 1])) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _turned_boxes(rects: np.ndarray, centre: np.ndarray, scale: np.ndarray, cos: np.ndarray, sin: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """int64 (..., 4): the outward-rounded axis-aligned box of each rectangle after ``d = R S (q - centre) + origin``.

    ``rects`` float (..., 4) ``x0, y0, x1, y1`` in source coordinates; the other arrays broadcast against ``rects[..., 0]``.
    """
    xs = np.stack([rects[..., 0], rects[..., 2], rects[..., 0], rects[..., 2]], -1) - centre[..., 0, None]
    ys = np.stack([rects[..., 1], rects[..., 1], rects[..., 3], rects[..., 3]], -1) - centre[..., 1, None]
    px = scale[..., None] * (cos[..., None] * xs + sin[..., None] * ys) + origin[..., 0, None]
    py = scale[..., None] * (-sin[..., None] * xs + cos[..., None] * ys) + origin[..., 1, None]
    eps = 1e-6  # a corner that lands on a pixel edge up to rounding stays on that edge
    return np.stack([np.floor(px.min(-1) + eps), np.floor(py.min(-1) + eps), np.ceil(px.max(-1) - eps), np.ceil(py.max(-1) - eps)], -1).astype(np.int64)


def _render(
    images: np.ndarray, strips: np.ndarray, numbers: np.ndarray, canvases: np.ndarray, centre: np.ndarray, scale: np.ndarray,
    cos: np.ndarray, sin: np.ndarray, box_w: np.ndarray, box_h: np.ndarray, place_x: np.ndarray, place_y: np.ndarray,
) -> None:
    """Resample ``strips[numbers]`` (bilinear, zero outside) into their boxes on ``images[canvases]``, merged with a pixel-wise maximum.

    ``strips`` uint8 (N, 28 + 4, W + 4): the composed strips with a 2-px blank border. Every output
    pixel of every number is computed at once: its centre is mapped back into the strip
    (``q = S^-1 R^-1 d + centre``, ``d`` from the box centre) and the four strip pixels around it are
    blended. ``canvases`` must be distinct (one number per canvas): each pixel is written once.
    """
    _, strip_h, strip_w = strips.shape
    _, height, width = images.shape
    sizes = box_w * box_h
    which = np.repeat(np.arange(len(numbers)), sizes)
    local = np.arange(len(which)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    bw = box_w[which]
    v, u = np.divmod(local, bw)
    du = u.astype(np.float32) + ((1 - box_w) / 2).astype(np.float32)[which]
    dv = v.astype(np.float32) + ((1 - box_h) / 2).astype(np.float32)[which]
    c, s = (cos / scale).astype(np.float32)[which], (sin / scale).astype(np.float32)[which]
    # source pixel centres sit at integers after the -0.5; +2 for the border
    x = c * du - s * dv + (centre[:, 0] + 1.5).astype(np.float32)[which]
    y = s * du + c * dv + (centre[:, 1] + 1.5).astype(np.float32)[which]
    np.clip(x, 0, strip_w - 2, out=x)  # outside the strip: border pixels, blank
    np.clip(y, 0, strip_h - 2, out=y)
    x0, y0 = x.astype(np.int64), y.astype(np.int64)  # floor: x, y >= 0
    fx, fy = x - x0, y - y0
    at = numbers[which] * (strip_h * strip_w) + y0 * strip_w + x0
    flat = strips.reshape(-1)
    top = flat[at] * (1 - fx) + flat[at + 1] * fx
    bottom = flat[at + strip_w] * (1 - fx) + flat[at + strip_w + 1] * fx
    value = top * (1 - fy) + bottom * fy
    ink = np.flatnonzero(value >= 0.5)
    hit = which[ink]
    target = (canvases[hit] * height + place_y[hit] + v[ink]) * width + place_x[hit] + u[ink]
    out = images.reshape(-1)
    out[target] = np.maximum(out[target], np.minimum(value[ink] + 0.5, 255).astype(np.uint8))


def compose_canvases(
    pool: np.ndarray,
    index: np.ndarray,
    layout: CanvasLayout,
    *,
    rng: np.random.Generator,
    extents: np.ndarray | None = None,
) -> CanvasBatch:
    """Compose a batch of canvases.

    Parameters
    ----------
    pool : uint8 (N, 28, 28) digit images.
    index : int (n, M, L) rows of ``pool``: canvas, number, digit; -1 padded. Each canvas's
        numbers come first (a number is active when its first digit is), each number's digits first.
    layout : canvas size, spacing, heights, rotation, IoU limit, tries.
    rng : every random draw (gaps, heights, angles, positions), in that order.
    extents : int16 (N, 4) :func:`digitgen.compose.ink_extents` of ``pool``, when already computed.

    Returns
    -------
    CanvasBatch (see its attributes); ``K = M * L``.
    """
    index = np.asarray(index, np.int64)
    n, slots, length = index.shape
    active = index[:, :, 0] >= 0
    canvas_of, number_of = np.nonzero(active)
    rows = index[canvas_of, number_of]
    extents = ink_extents(pool) if extents is None else extents
    if len(rows):
        strips = compose_batch(pool, rows, layout.spacing, None, rng=rng, measure=layout.measure, align="center", extents=extents)
        strip_images, digit_boxes = strips.images, strips.boxes.astype(np.int64)
    else:
        strip_images, digit_boxes = np.zeros((0, DIGIT_SIZE, 1), np.uint8), np.zeros((0, length, 4), np.int64)
    count = len(rows)
    digit_on = rows >= 0
    big = np.iinfo(np.int64).max
    union = np.stack([
        np.where(digit_on, digit_boxes[..., 0], big).min(1), np.where(digit_on, digit_boxes[..., 1], big).min(1),
        np.where(digit_on, digit_boxes[..., 2], -big).max(1), np.where(digit_on, digit_boxes[..., 3], -big).max(1),
    ], 1)
    heights = rng.integers(layout.number_height[0], layout.number_height[1] + 1, count)
    angles = np.radians(rng.uniform(-layout.rotation, layout.rotation, count)) if layout.rotation > 0 else np.zeros(count)
    scale, cos, sin = heights / DIGIT_SIZE, np.cos(angles), np.sin(angles)

    # The number's box: its ink rectangle grown by half a source pixel, scaled, turned, centred in a whole-pixel region.
    ink_w, ink_h = (union[:, 2] - union[:, 0]).astype(np.float64), (union[:, 3] - union[:, 1]).astype(np.float64)
    ext_w, ext_h = (ink_w + 1) * scale, (ink_h + 1) * scale
    half_w = (np.abs(cos) * ext_w + np.abs(sin) * ext_h) / 2
    half_h = (np.abs(sin) * ext_w + np.abs(cos) * ext_h) / 2
    box_w = np.ceil(2 * half_w - 1e-6).astype(np.int64)
    box_h = np.ceil(2 * half_h - 1e-6).astype(np.int64)

    # Placement, number slot by number slot, every canvas at once.
    place_x, place_y = np.zeros(count, np.int64), np.zeros(count, np.int64)
    placed = np.zeros(count, bool)
    at = np.full((n, slots), -1, np.int64)  # canvas, number slot -> flat number
    at[canvas_of, number_of] = np.arange(count)
    canvas_boxes = np.zeros((n, slots, 4), np.int64)
    canvas_placed = np.zeros((n, slots), bool)
    for slot in range(slots):
        mine = at[:, slot]
        canvases = np.flatnonzero(mine >= 0)
        if not len(canvases):
            continue
        flat = mine[canvases]
        w, h = box_w[flat], box_h[flat]
        xs = rng.integers(0, layout.width - w + 1, (layout.tries, len(flat))).T
        ys = rng.integers(0, layout.height - h + 1, (layout.tries, len(flat))).T
        candidates = np.stack([xs, ys, xs + w[:, None], ys + h[:, None]], -1)  # (c, T, 4)
        fits = np.ones(xs.shape, bool)
        if slot and layout.max_iou < 1:
            before = canvas_boxes[canvases, :slot]  # (c, slot, 4)
            ok = box_iou_ok(candidates[:, :, None, :], before[:, None, :, :], layout.max_iou)
            fits = (ok | ~canvas_placed[canvases, None, :slot]).all(-1)
        found = fits.any(1)
        first = fits.argmax(1)
        chosen = candidates[np.arange(len(flat)), first]
        place_x[flat], place_y[flat] = chosen[:, 0], chosen[:, 1]
        placed[flat] = found
        canvas_boxes[canvases, slot] = chosen
        canvas_placed[canvases, slot] = found

    # Digit boxes: each digit's ink rectangle through the same map as its number.
    centre = np.stack([(union[:, 0] + union[:, 2]) / 2, (union[:, 1] + union[:, 3]) / 2], 1)
    origin = np.stack([place_x + box_w / 2, place_y + box_h / 2], 1)
    grown = digit_boxes.astype(np.float64) + np.array([-0.5, -0.5, 0.5, 0.5])
    turned = _turned_boxes(grown, centre[:, None, :], scale[:, None], cos[:, None], sin[:, None], origin[:, None, :])
    number_box = np.stack([place_x, place_y, place_x + box_w, place_y + box_h], 1)
    low, high = np.tile(number_box[:, None, :2], 2), np.tile(number_box[:, None, 2:], 2)
    turned = np.clip(turned, low, high)

    images = np.zeros((n, layout.height, layout.width), np.uint8)
    padded = np.pad(strip_images, ((0, 0), (2, 2), (2, 2)))
    order = np.flatnonzero(placed)
    order = order[np.argsort(number_of[order], kind="stable")]  # by number slot: a block never pastes twice into one canvas
    for start in range(0, len(order), RENDER_BLOCK):
        block = order[start : start + RENDER_BLOCK]
        for slot in np.unique(number_of[block]):
            mine = block[number_of[block] == slot]
            _render(images, padded, mine, canvas_of[mine], centre[mine], scale[mine], cos[mine], sin[mine], box_w[mine], box_h[mine], place_x[mine], place_y[mine])

    # Compaction: placed numbers first (in slot order), their digits first.
    number_ok = np.zeros((n, slots), bool)
    number_ok[canvas_of, number_of] = placed
    number_order = np.argsort(~number_ok, axis=1, kind="stable")
    kept = np.take_along_axis(number_ok, number_order, 1)
    number_slot = np.where(kept, number_order, PAD)
    flat_at = np.take_along_axis(at, number_order, 1)
    number_boxes = np.where(kept[..., None], number_box[np.maximum(flat_at, 0)], PAD)
    rank = np.cumsum(number_ok, 1) - 1  # the compacted number of each placed slot

    digit_mask = np.zeros((n, slots, length), bool)
    digit_mask[canvas_of, number_of] = digit_on & placed[:, None]
    flat_mask = digit_mask.reshape(n, slots * length)
    digit_order = np.argsort(~flat_mask, axis=1, kind="stable")
    digit_kept = np.take_along_axis(flat_mask, digit_order, 1)
    digit_slot = np.where(digit_kept, digit_order, PAD)
    number_index = np.where(digit_kept, np.take_along_axis(np.repeat(rank, length, 1), digit_order, 1), PAD)
    all_boxes = np.full((n, slots, length, 4), PAD, np.int64)
    all_boxes[canvas_of, number_of] = turned
    boxes = np.where(digit_kept[..., None], np.take_along_axis(all_boxes.reshape(n, slots * length, 4), digit_order[..., None], 1), PAD)

    asked = active.sum(1)
    return CanvasBatch(
        images=images,
        digit_boxes=boxes.astype(np.int16),
        digit_number=number_index.astype(np.int16),
        digit_slot=digit_slot,
        number_boxes=number_boxes.astype(np.int16),
        number_slot=number_slot,
        dropped=int(count - placed.sum()),
        reduced=int((number_ok.sum(1) < asked).sum()),
    )
