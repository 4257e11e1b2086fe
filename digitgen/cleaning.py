"""Clean generated digit images, one image at a time.

Generated digits (PCA reconstructions, decoder outputs) carry faint haze,
isolated specks and broken strokes. :func:`clean_digits` removes them at one
of four levels; every statistic it uses (the threshold, the components) is
computed per image, never over the batch, so an image is cleaned the same
whatever else is in the batch.

=========== ==============================================================
level       steps, in order
=========== ==============================================================
none        clip to [0, 1] and round to uint8
light       threshold: zero every pixel below ``threshold`` x the image's
            own maximum and stretch the rest linearly to [0, 255]
medium      light, then remove connected ink components (8-connected)
            smaller than ``min_size`` pixels, always keeping the largest
aggressive  bilateral denoise (edge-preserving), then medium, then a grey
            morphological closing with a 3x3 square that fills gaps of
            one pixel in a stroke
=========== ==============================================================
"""

from __future__ import annotations

import numpy as np
from skimage import measure, morphology, restoration

from digitgen.params.fit_kde import KDE_RULES
from digitgen.rules import Int, Real, check_values

#: Rules of the arguments of :func:`clean_digits` (``level`` is checked as ``cleaning``, the rule of params.yaml).
CLEANING_RULES = {
    "cleaning": KDE_RULES["cleaning"],
    "threshold": Real(0, 1, high_open=True),
    "min_size": Int(1),
    "sigma_color": Real(0, low_open=True),
    "sigma_spatial": Real(0, low_open=True),
}


def clean_digits(
    images: np.ndarray,
    level: str,
    *,
    threshold: float = 0.25,
    min_size: int = 8,
    sigma_color: float = 0.1,
    sigma_spatial: float = 1.0,
) -> np.ndarray:
    """Clean a batch of digit images at ``level`` (see the module docstring).

    Parameters
    ----------
    images : (n, H, W) array, uint8 (0-255) or float (0 = background,
        1 = ink; values outside [0, 1] are clipped). Not modified.
    level : one of :data:`digitgen.constants.CLEANING_LEVELS`.
    threshold : fraction of each image's own maximum below which a pixel
        becomes background (``light`` and up); in [0, 1).
    min_size : ink components with fewer pixels are removed (``medium`` and
        up), except each image's largest component; >= 1.
    sigma_color : bilateral filter's range scale, in units of [0, 1]
        intensity (``aggressive``); > 0.
    sigma_spatial : bilateral filter's spatial scale in pixels
        (``aggressive``); > 0.

    Returns
    -------
    uint8 (n, H, W), 0 = background, 255 = ink.
    """
    check_values(
        {"cleaning": level, "threshold": threshold, "min_size": min_size, "sigma_color": sigma_color, "sigma_spatial": sigma_spatial},
        CLEANING_RULES,
    )
    pixels = _as_unit_float(images)
    if level == "none":
        return _to_uint8(pixels)
    if level == "aggressive":
        pixels = bilateral(pixels, sigma_color=sigma_color, sigma_spatial=sigma_spatial)
    pixels = soft_threshold(pixels, threshold)
    if level in ("medium", "aggressive"):
        pixels = remove_specks(pixels, min_size)
    out = _to_uint8(pixels)
    if level == "aggressive":
        out = close_gaps(out)
    return out


def _as_unit_float(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n, H, W), got {images.shape}.")
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255)
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(f"images must be uint8 or float, got {images.dtype}.")
    if np.isnan(images).any():
        raise ValueError("images contain NaN.")
    return np.clip(images, 0, 1).astype(np.float32)


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    return np.rint(pixels * np.float32(255)).astype(np.uint8)


def soft_threshold(pixels: np.ndarray, threshold: float) -> np.ndarray:
    """Per image: zero pixels below ``threshold`` x its maximum, stretch the rest to [0, 1].

    ``pixels`` float32 (n, H, W) in [0, 1]; returns float32 (n, H, W) in
    [0, 1] whose maximum is 1 in every image that has ink. The ramp is
    continuous (the threshold maps to 0), so stroke edges stay anti-aliased.
    """
    peak = pixels.max(axis=(1, 2), keepdims=True)
    floor = np.float32(threshold) * peak
    span = np.where(peak > 0, peak - floor, np.float32(1))
    return np.clip((pixels - floor) / span, 0, 1).astype(np.float32)


def remove_specks(pixels: np.ndarray, min_size: int) -> np.ndarray:
    """Zero the ink components (8-connected, ink = pixel > 0) smaller than ``min_size`` pixels.

    Each image keeps its largest component whatever its size, so no image
    is blanked. ``pixels`` float (n, H, W); returns a copy.

    The images are labelled in one call as a tall stack separated by empty
    rows, which no 8-connected component can cross.
    """
    count, height, width = pixels.shape
    tall = np.zeros((count, height + 1, width), dtype=bool)
    tall[:, :height] = pixels > 0
    labels = measure.label(tall.reshape(count * (height + 1), width), connectivity=2)
    labels = labels.reshape(count, height + 1, width)[:, :height]
    ink = labels > 0
    ids = labels[ink]
    sizes = np.bincount(ids, minlength=labels.max(initial=0) + 1)
    owner = np.zeros(len(sizes), dtype=np.int64)  # image index of each label
    owner[ids] = np.nonzero(ink)[0]
    largest = np.zeros(count, dtype=np.int64)
    np.maximum.at(largest, owner[1:], sizes[1:])
    keep = (sizes >= min_size) | (sizes == largest[owner])
    keep[0] = False  # background
    return np.where(keep[labels], pixels, 0).astype(pixels.dtype)


def bilateral(pixels: np.ndarray, *, sigma_color: float, sigma_spatial: float) -> np.ndarray:
    """Edge-preserving bilateral denoise of each image (scikit-image), zero padding.

    ``pixels`` float32 (n, H, W) in [0, 1]; returns float32 (n, H, W). The
    filter runs image by image, since its range look-up table depends on
    the image's maximum.
    """
    out = np.empty_like(pixels)
    for i, image in enumerate(pixels):
        out[i] = restoration.denoise_bilateral(
            image, win_size=5, sigma_color=sigma_color, sigma_spatial=sigma_spatial, mode="constant", cval=0
        )
    return out


def close_gaps(images: np.ndarray) -> np.ndarray:
    """Grey morphological closing of each image with a 3x3 square (dilate, then erode).

    Fills dark gaps narrower than 3 pixels between ink, such as a one-pixel
    break in a stroke, with the surrounding ink value. ``images`` uint8
    (n, H, W); returns uint8 (n, H, W). The footprint is (1, 3, 3), so no
    image reaches into its neighbours, and pixels beyond the border are ignored
    (the closing never removes ink).
    """
    return morphology.closing(images, np.ones((1, 3, 3), dtype=bool), mode="ignore")
