"""Tiny synthetic MNIST-like data for tests: digits drawn with Pillow's built-in font.

Nothing here downloads anything; every array is built from a seed.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def render_digits(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """Draw each label as a 28x28 glyph with a random size and shift.

    Returns uint8 (n, 28, 28), 0 = background, 255 = ink, like MNIST.
    """
    rng = np.random.default_rng(seed)
    fonts = {size: ImageFont.load_default(size=size) for size in (18, 20, 22, 24)}
    images = np.zeros((len(labels), 28, 28), dtype=np.uint8)
    for i, label in enumerate(labels):
        canvas = Image.new("L", (28, 28))
        draw = ImageDraw.Draw(canvas)
        size = int(rng.choice(list(fonts)))
        centre = (14 + int(rng.integers(-2, 3)), 14 + int(rng.integers(-2, 3)))
        draw.text(centre, str(int(label)), fill=255, font=fonts[size], anchor="mm", stroke_width=int(rng.integers(0, 2)), stroke_fill=255)
        images[i] = np.asarray(canvas)
    return images


def make_mnist_arrays(n_train: int = 200, n_test: int = 60, seed: int = 0) -> dict[str, np.ndarray]:
    """A tiny dataset with the keys and dtypes of ``data/interim/mnist.npz``."""
    rng = np.random.default_rng(seed)
    y_train = np.resize(np.arange(10, dtype=np.uint8), n_train)
    y_test = np.resize(np.arange(10, dtype=np.uint8), n_test)
    rng.shuffle(y_train)
    rng.shuffle(y_test)
    return {
        "x_train": render_digits(y_train, seed + 1),
        "y_train": y_train,
        "x_test": render_digits(y_test, seed + 2),
        "y_test": y_test,
    }
