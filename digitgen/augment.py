"""Augmented digits: rotation, shift, shear, zoom and elastic distortion in one batched resampling.

Every output pixel is computed by exactly one bilinear sampling of the
original digit, with background 0 outside the frame. For output pixel
``p = (x, y)`` of image ``i``:

1. affine map: zoom, rotation, shear (all about the image centre) and shift
   compose one map ``A`` of the digit, applied *first*;
2. elastic distortion (Simard et al. 2003), applied to the affine result:
   independent x and y displacement fields ``d``, uniform in [-1, 1) per
   pixel, smoothed by a Gaussian of standard deviation ``sigma`` pixels and
   multiplied by ``alpha``, defined on the output grid;

so the output is the original sampled at ``A^-1(p + d(p))``. Composing the
maps before sampling, instead of resampling the image once per transform,
keeps the strokes sharp (each bilinear resampling averages neighbouring
pixels; README.md gives the measured loss of sharpness). Affine-then-elastic is the cheap
composition: the field is read at grid points, where elastic-then-affine
would first have to interpolate it at ``A^-1(p)``, about doubling the
sampling work. Both draw the same kind of digit: the fields are isotropic and
stationary, so a rotation leaves their distribution unchanged, and the zoom
(at most +-10% by default) and shear change their strength and smoothness in
the digit's frame by about that fraction.

The sampling is written in Keras ops (a four-neighbour gather with
``keras.ops.take``) and compiled by XLA on the TensorFlow backend into one
fused kernel for a fixed chunk of :data:`_CHUNK` images (the last chunk padded);
the elastic fields come from NumPy (random bits, then the Gaussian smoothing
as two small matrix products per field).

Why not the Keras preprocessing layers: each layer draws its own random
values per call (so the output would depend on how images are batched),
chaining four of them resamples four times (blurring the strokes), their
default fill mode ``reflect`` mirrors strokes into the frame, ``RandomShear``
shears about the top-left corner (moving the digit) and takes ``tan`` of the
angle rather than degrees, and ``RandomElasticTransform`` cannot reach
Simard's strength on 28x28 and draws identical x and y fields on the
TensorFlow backend (``tests/test_augment.py`` checks each of these against the
pinned Keras). ``keras.ops.image.map_coordinates``, batched with an integer
image coordinate, gives the same pixels but reads eight neighbours instead of
four.

Randomness: every image's parameters are a function of ``(seed, image
index)`` only. The affine parameters of all images are drawn up front from
one ``numpy`` generator; the elastic fields come from a PCG64DXSM stream
advanced to the image's own offset. Every image goes through the same compiled code
and every output pixel depends on its own image alone, so the output is
byte-identical whatever the batch size or the number of threads working
through the batches, and a bank of ``n`` images is the first ``n`` rows of a
larger bank with the same seed.

Conventions: images are ``uint8 (n, H, W)``, 0 = background, 255 = ink; x
runs right, y runs down; positive rotation is counter-clockwise on screen,
positive shear leans the top of the digit to the right, ``scale > 1`` makes
the digit bigger, positive shifts move it right / down.

The ``augmented`` bank built from these transforms (which training digit each
row augments, provenance, the mosaic) is stage logic:
:mod:`digitgen.pipeline.augment`.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import ops
from scipy import ndimage

from digitgen.params.augment import AugmentParams
from digitgen.rules import Int

logger = logging.getLogger(__name__)

#: A tensor of the Keras backend (``tf.Tensor`` on TensorFlow) or a NumPy array passed to Keras ops.
_Tensor = Any

#: Images per task (elastic fields, then resampling); memory ~ batch x H x W x 40 bytes; the output does not depend on it.
DEFAULT_BATCH_SIZE = 1024
#: Per-image transform parameters a bank stores (float32 (N,) each), in the units of the names.
TRANSFORM_KEYS = ("rotation_deg", "shift_x_px", "shift_y_px", "shear_deg", "scale", "elastic_rms_px")
#: Independent random streams derived from the one seed: bank sources, affine draws, elastic fields.
STREAM_SOURCES, STREAM_AFFINE, STREAM_ELASTIC = 0, 1, 2
# Images per call of the compiled sampler: every call has this shape (the last chunk of a batch is
# padded), so it is compiled once and every image goes through the same machine code.
_CHUNK = 1024


# --------------------------------------------------------------------------- affine


@dataclass(frozen=True)
class AffineDraws:
    """Per-image affine parameters, each a float32 array of shape (n,).

    Attributes
    ----------
    rotation_deg : counter-clockwise rotation about the image centre, degrees.
    shift_x_px, shift_y_px : translation in pixels, positive = right / down.
    shear_deg : horizontal shear about the centre, degrees; positive leans the top right.
    scale : digit size factor about the centre, > 0; 1 = unchanged, > 1 = bigger.
    """

    rotation_deg: np.ndarray
    shift_x_px: np.ndarray
    shift_y_px: np.ndarray
    shear_deg: np.ndarray
    scale: np.ndarray

    def __post_init__(self) -> None:
        for name in ("rotation_deg", "shift_x_px", "shift_y_px", "shear_deg", "scale"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.float32).reshape(-1))
        sizes = {len(getattr(self, f.name)) for f in dataclasses.fields(self)}
        if len(sizes) != 1:
            raise ValueError(f"affine draws must all have the same length, got lengths {sorted(sizes)}.")
        if not np.all(self.scale > 0):
            raise ValueError(f"scale must be > 0 for every image, got minimum {self.scale.min()}.")

    @classmethod
    def identity(cls, count: int) -> AffineDraws:
        """``count`` images left as they are."""
        zeros = np.zeros(count, dtype=np.float32)
        return cls(zeros, zeros, zeros, zeros, np.ones(count, dtype=np.float32))

    def __len__(self) -> int:
        return len(self.scale)

    def rows(self, index: slice | np.ndarray) -> AffineDraws:
        """The draws of the selected images."""
        return AffineDraws(*(getattr(self, f.name)[index] for f in dataclasses.fields(self)))

    def matrices(self, height: int, width: int) -> np.ndarray:
        """The inverse affine maps, one per image.

        Returns
        -------
        float32 (n, 6): ``[a0, a1, a2, b0, b1, b2]``, mapping each output
        position ``(x, y)`` to the input position ``(a0 x + a1 y + a2, b0 x + b1 y + b2)``
        it is sampled from (the first six entries of the transforms of
        ``keras.ops.image.affine_transform``).

        The forward map of image content is ``p -> c + t + s R H (p - c)`` with
        ``c`` the image centre, ``H`` the shear, ``R`` the rotation, ``s`` the
        scale and ``t`` the shift; the matrix is its inverse.
        """
        theta = np.deg2rad(self.rotation_deg.astype(np.float64))
        tan_shear = np.tan(np.deg2rad(self.shear_deg.astype(np.float64)))
        scale = self.scale.astype(np.float64)
        cos, sin = np.cos(theta), np.sin(theta)
        # inverse of s R H with R = [[cos, sin], [-sin, cos]] (y down) and H = [[1, -tan], [0, 1]]
        a0, a1 = (cos + tan_shear * sin) / scale, (tan_shear * cos - sin) / scale
        b0, b1 = sin / scale, cos / scale
        cx, cy = (width - 1) / 2, (height - 1) / 2
        ox = cx + self.shift_x_px.astype(np.float64)
        oy = cy + self.shift_y_px.astype(np.float64)
        a2 = cx - a0 * ox - a1 * oy
        b2 = cy - b0 * ox - b1 * oy
        return np.stack([a0, a1, a2, b0, b1, b2], axis=1).astype(np.float32)


def draw_affine(count: int, params: AugmentParams, height: int = 28, width: int = 28) -> AffineDraws:
    """Draw the affine parameters of images ``0 .. count - 1``.

    Every image takes five uniform numbers in [-1, 1] (rotation, shift x,
    shift y, shear, zoom) from the ``(seed, affine)`` stream, whichever
    transforms are enabled, so enabling one transform never changes another's
    draws, and the draws of ``count`` images are a prefix of those of more.
    Disabled transforms get the identity value.
    """
    unit = np.random.default_rng([params.seed, STREAM_AFFINE]).uniform(-1.0, 1.0, size=(count, 5))
    enabled = set(params.transforms)

    def spread(column: int, name: str, magnitude: float) -> np.ndarray:
        return unit[:, column] * (magnitude if name in enabled else 0.0)

    return AffineDraws(
        rotation_deg=spread(0, "rotation", params.rotation),
        shift_x_px=spread(1, "shift", params.shift * width),
        shift_y_px=spread(2, "shift", params.shift * height),
        shear_deg=spread(3, "shear", params.shear),
        scale=1.0 + spread(4, "zoom", params.zoom),
    )


# --------------------------------------------------------------------------- elastic


def gaussian_smoothing_matrix(size: int, sigma: float) -> np.ndarray:
    """float32 (size, size) ``G`` with ``G @ v == scipy.ndimage.gaussian_filter1d(v, sigma, mode="reflect")``.

    Smoothing a batch of fields is then two small matrix products per field
    (``G_rows @ field @ G_cols.T``) instead of a filter pass.
    """
    return ndimage.gaussian_filter1d(np.eye(size), sigma, axis=0, mode="reflect").astype(np.float32)


def elastic_displacements(seed: int, first: int, count: int, height: int, width: int, alpha: float, sigma: float) -> np.ndarray:
    """Simard et al. (2003) displacement fields of images ``first .. first + count - 1``.

    The x and y fields are independent: every pixel of each draws its own
    uniform number in [-1, 1) (23 random bits: the top of one 32-bit half of a
    PCG64DXSM output as the mantissa of a float32 in [1, 2), then ``2 u - 3``);
    each field is smoothed by a Gaussian of standard deviation ``sigma``
    pixels (``reflect`` at the borders, as ``scipy.ndimage.gaussian_filter``)
    and multiplied by ``alpha``. Image ``i``'s noise is read from the
    ``(seed, elastic)`` PCG64DXSM stream advanced to output ``i x height x width``
    (one 64-bit output per pixel: x and y), so it does not depend on
    ``first`` or ``count``.

    Returns
    -------
    float32 (count, 2, height, width): ``[:, 0]`` = dx (pixels, right),
    ``[:, 1]`` = dy (pixels, down).
    """
    if first < 0 or count < 0:
        raise ValueError(f"first == {first}, count == {count}: both must be >= 0.")
    bit_generator = np.random.PCG64DXSM(np.random.SeedSequence([seed, STREAM_ELASTIC]))
    bit_generator.advance(first * height * width)
    bits = bit_generator.random_raw(count * height * width).view(np.uint32)  # raw bits: cheaper than Generator.random
    bits >>= np.uint32(9)
    bits |= np.uint32(0x3F800000)  # exponent of 1.0: a float32 in [1, 2)
    fields = bits.view(np.float32).reshape(count, 2, height, width)
    fields *= np.float32(2)
    fields -= np.float32(3)
    smooth_rows = gaussian_smoothing_matrix(height, sigma) * np.float32(alpha)
    smooth_cols_t = np.ascontiguousarray(gaussian_smoothing_matrix(width, sigma).T)  # contiguous: a transposed view is slower
    return smooth_rows @ fields @ smooth_cols_t


# --------------------------------------------------------------------------- one resampling


def _bilinear_sample(images: _Tensor, inverse: _Tensor, displacements: _Tensor | None) -> _Tensor:
    """Sample each image at ``A^-1(p + d(p))`` for every output pixel ``p`` (Keras ops).

    Bilinear from the four neighbours; the image is extended by background 0,
    so a position up to one pixel outside the frame blends the edge pixel with
    0 and one further out reads 0 (SciPy's ``grid-constant``).

    Parameters
    ----------
    images : uint8 (n, H, W).
    inverse : float32 (n, 6), :meth:`AffineDraws.matrices`.
    displacements : float32 (n, 2, H, W) elastic fields (dx, dy in output
        pixels), or None for none.

    Returns
    -------
    uint8 (n, H, W), rounded half to even.
    """
    count, height, width = images.shape
    x = ops.arange(width, dtype="float32")[None, None, :]
    y = ops.arange(height, dtype="float32")[None, :, None]
    if displacements is not None:
        x, y = x + displacements[:, 0], y + displacements[:, 1]
    a0, a1, a2, b0, b1, b2 = (inverse[:, k, None, None] for k in range(6))
    # positions in the frame padded by one pixel of zeros: 0 and H + 1 (W + 1) are background
    source_x = ops.clip(a0 * x + a1 * y + (a2 + 1), 0, width + 1)
    source_y = ops.clip(b0 * x + b1 * y + (b2 + 1), 0, height + 1)
    left, top = ops.minimum(ops.floor(source_x), width), ops.minimum(ops.floor(source_y), height)
    right_weight, bottom_weight = source_x - left, source_y - top
    padded = ops.reshape(ops.pad(ops.cast(images, "float32"), ((0, 0), (1, 1), (1, 1))), (-1,))
    first = ops.arange(count, dtype="int32")[:, None, None] * ((height + 2) * (width + 2))
    top_left = first + ops.cast(top, "int32") * (width + 2) + ops.cast(left, "int32")
    upper_left, upper_right = ops.take(padded, top_left), ops.take(padded, top_left + 1)
    lower_left, lower_right = ops.take(padded, top_left + (width + 2)), ops.take(padded, top_left + (width + 3))
    upper = upper_left + right_weight * (upper_right - upper_left)
    lower = lower_left + right_weight * (lower_right - lower_left)
    value = upper + bottom_weight * (lower - upper)
    return ops.cast(ops.clip(ops.round(value), 0, 255), "uint8")


@functools.cache
def _compiled_sampler() -> Callable[..., _Tensor]:
    """:func:`_bilinear_sample`, XLA-compiled on the TensorFlow backend (one fused kernel per chunk shape).

    Eager, the same ops dispatch one kernel each over the whole chunk (much
    slower); other backends run them eagerly.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.function(_bilinear_sample, jit_compile=True)
    return _bilinear_sample


def _pad_to_chunk(array: np.ndarray) -> np.ndarray:
    """``array`` with zero rows appended along axis 0 up to :data:`_CHUNK` rows (itself when it has them)."""
    if len(array) == _CHUNK:
        return array
    return np.concatenate([array, np.zeros((_CHUNK - len(array), *array.shape[1:]), dtype=array.dtype)])


def transform_digits(images: np.ndarray, draws: AffineDraws, displacements: np.ndarray | None = None) -> np.ndarray:
    """The affine maps, then the elastic displacements (when given), in one bilinear resampling.

    Output pixel ``p`` of image ``i`` is image ``i`` sampled at
    ``A_i^-1(p + d_i(p))``, background 0 outside the frame, rounded to uint8.

    Parameters
    ----------
    images : uint8 (n, H, W), 0 = background.
    draws : the n images' affine parameters (``A``).
    displacements : float (n, 2, H, W) elastic fields ``d`` (dx, dy in
        pixels of the output grid), or None for none.

    Returns
    -------
    uint8 (n, H, W).
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(f"images must be uint8 (n, H, W), got {images.dtype} {images.shape}.")
    count, height, width = images.shape
    if len(draws) != count:
        raise ValueError(f"{len(draws)} affine draws for {count} images.")
    if displacements is not None:
        displacements = np.asarray(displacements, dtype=np.float32)
        if displacements.shape != (count, 2, height, width):
            raise ValueError(f"displacements must have shape {(count, 2, height, width)}, got {displacements.shape}.")
    inverse = draws.matrices(height, width)
    sample = _compiled_sampler()
    out = np.empty_like(images)
    for start in range(0, count, _CHUNK):
        stop = min(start + _CHUNK, count)
        fields = None if displacements is None else _pad_to_chunk(displacements[start:stop])
        chunk = sample(_pad_to_chunk(images[start:stop]), _pad_to_chunk(inverse[start:stop]), fields)
        out[start:stop] = ops.convert_to_numpy(chunk)[: stop - start]
    return out


def augment_digits(
    images: np.ndarray,
    params: AugmentParams,
    *,
    source_index: np.ndarray | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    threads: int = 0,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Augment digits with the transforms and ranges of ``params``.

    Parameters
    ----------
    images : uint8 (N, H, W), 0 = background, 255 = ink.
    params : validated ``augment`` parameters (transforms, ranges, seed).
    source_index : int (n,) rows of ``images`` to augment, repeats allowed;
        default every row once. Output row ``i`` draws its parameters from
        ``(params.seed, i)``.
    batch_size : images per task (elastic fields, then resampling); changes
        speed and memory, never the output.
    threads : batches processed at once (NumPy and TensorFlow release the
        GIL); 0 = one per core. Never changes the output.

    Returns
    -------
    images : uint8 (n, H, W).
    transforms : float32 (n,) arrays keyed by :data:`TRANSFORM_KEYS`, the
        parameters each image was drawn (``elastic_rms_px``: root mean square
        length of its displacement field, in output pixels; 0 without elastic
        distortion).
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(f"images must be uint8 (N, H, W), got {images.dtype} {images.shape}.")
    Int(1).check(batch_size, "batch_size")
    Int(0, allowed="must be an integer >= 0 (0 = one per core)").check(threads, "threads")
    if source_index is None:
        source_index = np.arange(len(images))
    source_index = np.asarray(source_index)
    if source_index.ndim != 1 or not np.issubdtype(source_index.dtype, np.integer):
        raise ValueError(f"source_index must be a 1-D integer array, got {source_index.dtype} {source_index.shape}.")
    if source_index.size and (source_index.min() < 0 or source_index.max() >= len(images)):
        raise ValueError(f"source_index must lie in [0, {len(images)}), got {source_index.min()}..{source_index.max()}.")

    count, (height, width) = len(source_index), images.shape[1:]
    affine = draw_affine(count, params, height, width)
    elastic = "elastic" in params.transforms
    out = np.empty((count, height, width), dtype=np.uint8)
    elastic_rms = np.zeros(count, dtype=np.float32)

    def augment_batch(start: int) -> None:  # writes only rows start .. stop - 1
        stop = min(start + batch_size, count)
        displacements = None
        if elastic:
            displacements = elastic_displacements(params.seed, start, stop - start, height, width, params.elastic.alpha, params.elastic.sigma)
            flat = displacements.reshape(stop - start, -1)
            elastic_rms[start:stop] = np.sqrt(np.einsum("ij,ij->i", flat, flat) / (height * width))
        out[start:stop] = transform_digits(images[source_index[start:stop]], affine.rows(slice(start, stop)), displacements)

    started = time.perf_counter()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with concurrent.futures.ThreadPoolExecutor(threads or cores) as pool:
        for _ in pool.map(augment_batch, range(0, count, batch_size)):  # re-raises a batch's error
            pass
    seconds = time.perf_counter() - started
    logger.info("augmented %d digits (%s) in %.1f s, %.0f digits/s", count, ", ".join(params.transforms), seconds, count / max(seconds, 1e-9))
    transforms = {
        "rotation_deg": affine.rotation_deg,
        "shift_x_px": affine.shift_x_px,
        "shift_y_px": affine.shift_y_px,
        "shear_deg": affine.shear_deg,
        "scale": affine.scale,
        "elastic_rms_px": elastic_rms,
    }
    return out, transforms
