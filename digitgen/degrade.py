"""Image degradations of composed datasets: background, blur, contrast, gamma, noise and inversion.

:func:`degrade` takes a batch of uint8 images (0 = background, 255 = ink) and
returns the same shape and dtype. Per image, each degradation of
:class:`digitgen.params.degrade.DegradeParams` applies with its probability
``p`` and a strength drawn uniformly from its range, in this order:

1. **background**: a ground of brightest grey ``level`` under the ink, of one of
   the ``kinds``: ``flat`` (that level), ``noise`` (smooth procedural noise: a
   coarse random grid, one node every 8 px, bilinearly upsampled, in
   ``[0, level]``) or ``paper`` (a bright sheet of slow variations with fine
   grain). Ink is laid over it: ``g = bg + (255 - bg) * ink / 255``, so full
   ink stays 255;
2. **blur**: a Gaussian blur of standard deviation ``sigma`` px (rounded to
   0.05 px so that images sharing one are filtered together), its kernel cut
   at ``3 sigma``, edges extended;
3. **contrast** ``c``: ``g = 127.5 + (g - 127.5) c``; **gamma** ``y``:
   ``g = 255 (g / 255) ** y``; **invert**: ``g = 255 - g`` (dark ink on a light
   ground). These three are one lookup table per image, applied to the image
   rounded to integers after the blur;
4. **noise**: additive Gaussian noise of standard deviation ``std`` grey levels
   (last, so that it is not smoothed or inverted away), then clipping to 0-255.
   The standard normal values are the 65,536 quantiles of :data:`NORMAL_TABLE`
   indexed by random 16-bit words (a Gaussian quantised in probability, far
   cheaper to draw than one ``standard_normal`` per pixel).

Boxes do not change: a degradation moves no ink. Every random value comes
from the generator passed in; all per-image choices are drawn up front in a
fixed order, so the result depends only on the images, the parameters and the
generator's state. Work is done in chunks of :data:`CHUNK` images, so memory
stays a few times the chunk's size. Matrix products run on one BLAS thread
(the stage's workers already use every core).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.special import ndtri
from threadpoolctl import threadpool_limits

from digitgen.arrays import check_images
from digitgen.params.degrade import DegradeParams

#: Images degraded at a time (float32 working memory ~ 3 x CHUNK x H x W x 4 bytes).
CHUNK = 256
#: Spacing of the random grid nodes of the procedural backgrounds, in pixels.
GRID = 8
#: Blur sigmas are rounded to multiples of this, in pixels (images sharing one are filtered together).
SIGMA_STEP = 0.05
#: Blur kernels reach this many standard deviations each side.
BLUR_REACH = 3.0
#: float32 (65536,): the standard normal quantiles at probabilities (i + 0.5) / 65536.
NORMAL_TABLE = ndtri((np.arange(65536) + 0.5) / 65536).astype(np.float32)


def degrade(images: np.ndarray, params: DegradeParams, rng: np.random.Generator) -> np.ndarray:
    """Degrade a batch of images.

    Parameters
    ----------
    images : uint8 (n, H, W), 0 = background, 255 = ink.
    params : which degradations apply, how often and how strongly.
    rng : source of every random draw (nothing is drawn when no ``p`` is > 0).

    Returns
    -------
    uint8 (n, H, W); ``images`` itself when no degradation can apply.
    """
    images = check_images(images)
    if not params.active or not len(images):
        return images
    n = len(images)
    plan = _draw_plan(n, params, rng)
    out = np.empty_like(images)
    with threadpool_limits(limits=1, user_api="blas"):
        for start in range(0, n, CHUNK):
            rows = slice(start, min(start + CHUNK, n))
            out[rows] = _degrade_chunk(images[rows], {name: value[rows] for name, value in plan.items()}, params, rng)
    return out


def _draw_plan(n: int, params: DegradeParams, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per image: whether each degradation applies and its strength, all drawn in one fixed order."""
    plan = {}
    for name, spec, strength in (
        ("background", params.background, params.background.level),
        ("blur", params.blur, params.blur.sigma),
        ("contrast", params.contrast, params.contrast.factor),
        ("gamma", params.gamma, params.gamma.gamma),
        ("noise", params.noise, params.noise.std),
    ):
        plan[name] = rng.random(n) < spec.p
        plan[f"{name}_strength"] = rng.uniform(strength[0], strength[1], n)
    plan["background_kind"] = rng.integers(0, len(params.background.kinds), n)
    plan["invert"] = rng.random(n) < params.invert.p
    return plan


def _degrade_chunk(images: np.ndarray, plan: dict[str, np.ndarray], params: DegradeParams, rng: np.random.Generator) -> np.ndarray:
    """One chunk of :func:`degrade`: uint8 (m, H, W) -> a new uint8 (m, H, W).

    A flat background, contrast, gamma and inversion are per-pixel maps of the grey level, so they are one
    lookup table per image (a flat ground commutes with the blur: both are linear and the blur keeps constants).
    """
    m, height, width = images.shape
    out = images.copy()
    kinds = np.asarray(params.background.kinds)[plan["background_kind"]]
    textured = plan["background"] & (kinds != "flat")
    filtered = np.flatnonzero(textured | plan["blur"])
    if len(filtered):
        grey = out[filtered].astype(np.float32)
        inside = np.flatnonzero(textured[filtered])
        if len(inside):
            rows = filtered[inside]
            ground = _textures(kinds[rows], plan["background_strength"][rows].astype(np.float32), height, width, rng)
            layer = grey[inside]
            layer *= np.float32(1) - ground * np.float32(1 / 255)
            layer += ground
            grey[inside] = layer
        sigmas = np.where(plan["blur"][filtered], np.round(plan["blur_strength"][filtered] / SIGMA_STEP) * SIGMA_STEP, 0.0)
        for sigma in np.unique(sigmas[sigmas > 0]):
            group = np.flatnonzero(sigmas == sigma)
            for axis in (1, 2):
                grey[group] = gaussian_filter1d(grey[group], sigma, axis=axis, mode="nearest", truncate=BLUR_REACH)
        np.rint(grey, out=grey)
        np.clip(grey, 0, 255, out=grey)
        out[filtered] = grey
    tabled = np.flatnonzero((plan["background"] & ~textured) | plan["contrast"] | plan["gamma"] | plan["invert"])
    if len(tabled):
        tables = _tone_tables(plan, tabled, kinds != "flat")
        for table, row in zip(tables, tabled):  # one small gather per image
            np.take(table, out[row], out=out[row])
    noisy_rows = np.flatnonzero(plan["noise"])
    if len(noisy_rows):
        words = np.frombuffer(rng.bytes(2 * len(noisy_rows) * height * width), dtype="<u2")
        noisy = NORMAL_TABLE[words].reshape(len(noisy_rows), height, width)
        noisy *= plan["noise_strength"][noisy_rows].astype(np.float32)[:, None, None]
        noisy += out[noisy_rows]
        np.rint(noisy, out=noisy)
        np.clip(noisy, 0, 255, out=noisy)
        out[noisy_rows] = noisy
    return out


def _tone_tables(plan: dict[str, np.ndarray], rows: np.ndarray, textured: np.ndarray) -> np.ndarray:
    """uint8 (k, 256): each image's flat background, contrast, gamma and inversion as one table of grey -> grey."""
    grey = np.arange(256, dtype=np.float64)[None, :]
    ground = np.where(plan["background"][rows] & ~textured[rows], plan["background_strength"][rows], 0.0)[:, None]
    contrast = np.where(plan["contrast"][rows], plan["contrast_strength"][rows], 1.0)[:, None]
    gamma = np.where(plan["gamma"][rows], plan["gamma_strength"][rows], 1.0)[:, None]
    table = ground + (255.0 - ground) * grey / 255.0
    table = 127.5 + (table - 127.5) * contrast
    table = 255.0 * (np.clip(table, 0, 255) / 255.0) ** gamma
    table = np.where(plan["invert"][rows][:, None], 255.0 - table, table)
    return np.clip(np.rint(table), 0, 255).astype(np.uint8)


def _textures(kinds: np.ndarray, levels: np.ndarray, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """float32 (k, H, W) grounds in [0, level] of the ``noise`` and ``paper`` kinds (see the module docstring)."""
    ground = np.empty((len(kinds), height, width), np.float32)
    for kind in ("noise", "paper"):  # a fixed order of draws
        rows = np.flatnonzero(kinds == kind)
        if not len(rows):
            continue
        level = levels[rows][:, None, None]
        if kind == "noise":
            ground[rows] = level * _smooth_field(len(rows), height, width, GRID, rng)
        else:  # paper: a bright sheet with slow variations and fine grain
            sheet = _smooth_field(len(rows), height, width, 4 * GRID, rng)
            sheet *= np.float32(0.15)
            grain = np.frombuffer(rng.bytes(len(rows) * height * width), dtype=np.uint8).reshape(len(rows), height, width)
            sheet += grain * np.float32(0.1 / 255) + np.float32(0.75)
            ground[rows] = level * sheet
    return ground


def _smooth_field(k: int, height: int, width: int, grid: int, rng: np.random.Generator) -> np.ndarray:
    """float32 (k, H, W) in [0, 1]: a random grid with one node every ``grid`` px, bilinearly upsampled."""
    rows, columns = height // grid + 2, width // grid + 2
    nodes = rng.random((k * rows, columns), dtype=np.float32)
    across = (nodes @ _linear_weights(width, grid, columns).T).reshape(k, rows, width)  # two large matrix products
    down = _linear_weights(height, grid, rows) @ across.transpose(1, 0, 2).reshape(rows, k * width)
    return down.reshape(height, k, width).transpose(1, 0, 2)


def _linear_weights(size: int, grid: int, nodes: int) -> np.ndarray:
    """float32 (size, nodes): weights of linear interpolation between nodes ``grid`` pixels apart."""
    position = np.arange(size, dtype=np.float32) / grid
    left = position.astype(np.int64)
    weights = np.zeros((size, nodes), np.float32)
    weights[np.arange(size), left] = 1 - (position - left)
    weights[np.arange(size), left + 1] = position - left
    return weights
