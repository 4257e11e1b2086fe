"""Tests of digitgen.augment and the augment stage (digitgen.pipeline.augment): each transform does what its
parameter says, determinism, the bank, the stage, and the Keras 3 pitfalls the design works around (checked
against the pinned Keras)."""

from __future__ import annotations

import dataclasses
import json
import runpy
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from digitgen import augment
from digitgen.augment import (
    AffineDraws,
    augment_digits,
    elastic_displacements,
    transform_digits,
)
from digitgen.bank import load_bank
from digitgen.errors import ParamsError
from digitgen.io import write_npz
from digitgen.params.all import parse_params
from digitgen.params.augment import AugmentParams
from digitgen.pipeline.augment import build_augmented_bank

ROOT = Path(__file__).resolve().parents[1]
SIZE = 28
ROWS, COLS = np.mgrid[:SIZE, :SIZE].astype(np.float64)


def params(**augment_section) -> AugmentParams:
    return parse_params({"augment": augment_section}).augment


def fixed(count: int = 1, **values: float) -> AffineDraws:
    """The same affine parameters for ``count`` images."""
    return dataclasses.replace(AffineDraws.identity(count), **{k: np.full(count, v) for k, v in values.items()})


def bar(horizontal: bool = True, length: int = 20, thickness: int = 4) -> np.ndarray:
    """uint8 (1, 28, 28): a bar centred on the image centre (13.5, 13.5); even sizes only."""
    image = np.zeros((1, SIZE, SIZE), dtype=np.uint8)
    lo, hi = (SIZE - length) // 2, (SIZE + length) // 2
    mid = slice((SIZE - thickness) // 2, (SIZE + thickness) // 2)
    if horizontal:
        image[0, mid, lo:hi] = 255
    else:
        image[0, lo:hi, mid] = 255
    return image


def blob(cy: float = 13.5, cx: float = 13.5, radius: float = 4.0) -> np.ndarray:
    """uint8 (1, 28, 28): a soft disc."""
    distance = np.hypot(ROWS - cy, COLS - cx)
    return (255 * np.clip(radius + 0.5 - distance, 0, 1))[None].astype(np.uint8)


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(x, y) of an (H, W) image's ink."""
    weights = image.astype(np.float64)
    return (weights * COLS).sum() / weights.sum(), (weights * ROWS).sum() / weights.sum()


def moments(image: np.ndarray) -> tuple[float, float, float]:
    """Central second moments (mu20 along x, mu02 along y, mu11) of an (H, W) image's ink."""
    weights = image.astype(np.float64) / image.sum()
    x, y = centre_of_mass(image)
    return (weights * (COLS - x) ** 2).sum(), (weights * (ROWS - y) ** 2).sum(), (weights * (COLS - x) * (ROWS - y)).sum()


def orientation_deg(image: np.ndarray) -> float:
    """Angle of the ink's long axis, counter-clockwise on screen from the x axis, in (-90, 90]."""
    mu20, mu02, mu11 = moments(image)
    return -np.rad2deg(0.5 * np.arctan2(2 * mu11, mu20 - mu02))  # y runs down: flip the sign


def keras_layer_output(layer: keras.layers.Layer, images: np.ndarray) -> np.ndarray:
    """uint8 (n, H, W): a Keras preprocessing layer applied in training mode."""
    out = keras.ops.convert_to_numpy(layer(images[..., None].astype(np.float32), training=True))[..., 0]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- params


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"rotation": -1}, r"params: augment.rotation == -1, must be in \[0, 180\] degrees."),
        ({"rotation": 200}, r"params: augment.rotation == 200, must be in \[0, 180\] degrees."),
        ({"shift": 1}, r"params: augment.shift == 1, must be in \[0, 1\) \(a fraction of the image width and height\)."),
        ({"shift": -0.1}, r"augment.shift == -0.1, must be in \[0, 1\)"),
        ({"shear": 90}, r"augment.shear == 90, must be in \[0, 90\) degrees"),
        ({"shear": -5}, r"augment.shear == -5, must be in \[0, 90\) degrees"),
        ({"zoom": 1.0}, r"augment.zoom == 1.0, must be in \[0, 1\)"),
        ({"zoom": -0.2}, r"augment.zoom == -0.2, must be in \[0, 1\)"),
        ({"rotation": float("nan")}, r"augment.rotation == nan, must be in \[0, 180\] degrees"),
        ({"elastic": {"sigma": 0}}, r"augment.elastic.sigma == 0, must be a number of pixels in \(0, 100\] \(standard deviation of the Gaussian smoothing\)\.$"),
        ({"elastic": {"alpha": -34}}, r"augment.elastic.alpha == -34, must be a number of pixels in \[0, 1000\] \(displacement per unit of smoothed field\)\.$"),
        ({"elastic": {"alhpa": 34}}, r"unknown key augment.elastic.alhpa; valid keys of augment.elastic are \['alpha', 'sigma'\]"),
        ({"count": 5000}, r"augment.count == 5000, set exactly one of augment.copies .* and augment.count .*; the other must be null \(augment.copies == 1\)"),
        ({"copies": None}, r"augment.count == None, set exactly one of augment.copies"),
        ({"copies": 0}, r"augment.copies == 0, must be an integer in 1..1000 or null\.$"),
        ({"copies": None, "count": 0}, r"augment.count == 0, must be an integer in 1..10000000 or null\.$"),
        ({"transforms": []}, r"augment.transforms == \[\], must be a list of at least 1 items, each one of \['rotation', 'shift', 'shear', 'zoom', 'elastic'\], no repeats\.$"),
        ({"transforms": ["rotation", "rotation"]}, r"augment.transforms == \['rotation', 'rotation'\], must be a list of at least 1 items, each one of \[.*\], no repeats\.$"),
        ({"transforms": ["flip"]}, r"augment.transforms\[0\] == 'flip', must be one of \['rotation', 'shift', 'shear', 'zoom', 'elastic'\]"),
        ({"seed": -1}, r"augment.seed == -1, must be an integer >= 0\.$"),
    ],
)
def test_bad_params_are_refused_with_a_clear_message(section, message):
    with pytest.raises(ParamsError, match=message):
        params(**section)


def test_params_yaml_defaults_match_the_dataclass():
    assert parse_params({}).augment == AugmentParams()
    from digitgen.params.all import load_params

    project = load_params(ROOT / "params.yaml").augment
    assert project == AugmentParams()
    assert (project.elastic.alpha, project.elastic.sigma) == (34.0, 4.0)  # Simard et al.'s MNIST setting


# --------------------------------------------------------------------------- each transform


@pytest.mark.parametrize("angle", [30.0, -60.0, 10.0])
def test_rotation_turns_a_bar_counter_clockwise_by_the_angle_in_degrees(angle):
    out = transform_digits(bar(), fixed(rotation_deg=angle))
    assert orientation_deg(bar()[0]) == pytest.approx(0.0, abs=1e-9)
    assert orientation_deg(out[0]) == pytest.approx(angle, abs=0.7)
    assert centre_of_mass(out[0]) == pytest.approx((13.5, 13.5), abs=0.15)


def test_rotation_matches_keras_random_rotation_with_a_fixed_factor():
    """Degrees here are Keras's factor x 360 with the same sign (counter-clockwise)."""
    angle = 25.0
    layer = keras.layers.RandomRotation((angle / 360, angle / 360), fill_mode="constant", fill_value=0.0, interpolation="bilinear")
    ours = transform_digits(bar(), fixed(rotation_deg=angle))
    np.testing.assert_array_equal(ours, keras_layer_output(layer, bar()))


@pytest.mark.parametrize(("dx", "dy"), [(3.0, -2.0), (2.5, 1.25), (-4.0, 0.0)])
def test_shift_moves_the_centre_of_mass_by_the_shift_in_pixels(dx, dy):
    image = blob()
    out = transform_digits(image, fixed(shift_x_px=dx, shift_y_px=dy))
    x0, y0 = centre_of_mass(image[0])
    x1, y1 = centre_of_mass(out[0])
    assert (x1 - x0, y1 - y0) == pytest.approx((dx, dy), abs=0.03)


def test_shift_fraction_becomes_pixels_like_keras_random_translation():
    shifted = augment_digits(blob(), params(transforms=["shift"], shift=0.1))
    dx, dy = shifted[1]["shift_x_px"][0], shifted[1]["shift_y_px"][0]
    assert abs(dx) <= 2.8 and abs(dy) <= 2.8
    layer = keras.layers.RandomTranslation((dy / SIZE, dy / SIZE), (dx / SIZE, dx / SIZE), fill_mode="constant", fill_value=0.0)
    np.testing.assert_allclose(shifted[0].astype(int), keras_layer_output(layer, blob()).astype(int), atol=1)


def test_zoom_scales_the_digit_size_and_keras_positive_zoom_shrinks_it():
    image = blob(radius=5.0)
    size = np.sqrt(sum(moments(image[0])[:2]))
    bigger = transform_digits(image, fixed(scale=1.2))
    assert np.sqrt(sum(moments(bigger[0])[:2])) / size == pytest.approx(1.2, rel=0.02)
    # Keras RandomZoom: a positive factor zooms *out*; factor -1/6 is our scale 1.2
    keras_out = keras_layer_output(keras.layers.RandomZoom((0.2, 0.2), fill_mode="constant"), image)
    assert np.sqrt(sum(moments(keras_out[0])[:2])) / size == pytest.approx(1 / 1.2, rel=0.03)
    keras_in = keras_layer_output(keras.layers.RandomZoom((1 / 1.2 - 1, 1 / 1.2 - 1), fill_mode="constant"), image)
    np.testing.assert_allclose(keras_in.astype(int), bigger.astype(int), atol=1)


def test_shear_slants_a_vertical_bar_by_the_angle_about_the_centre():
    out = transform_digits(bar(horizontal=False), fixed(shear_deg=20.0))
    mu20, mu02, mu11 = moments(out[0])
    # x = x0 - tan(shear) * (y - cy): the top leans right, slope dx/dy = -tan(shear)
    assert mu11 / mu02 == pytest.approx(-np.tan(np.deg2rad(20.0)), abs=0.02)
    assert centre_of_mass(out[0]) == pytest.approx(centre_of_mass(bar(horizontal=False)[0]), abs=0.1)


def test_keras_random_shear_moves_the_digit_because_it_shears_about_the_corner():
    """Pitfall (pinned Keras): RandomShear's matrix has no centring term, so the digit moves sideways."""
    layer = keras.layers.RandomShear(x_factor=(0.2, 0.2), y_factor=0.0, fill_mode="constant", seed=0)
    images = np.repeat(blob(), 8, axis=0)
    moved = [centre_of_mass(image)[0] - 13.5 for image in keras_layer_output(layer, images)]
    np.testing.assert_allclose(np.abs(moved), 0.2 * 13.5, atol=0.1)  # tan factor x distance of the centre from row 0


def test_fill_is_background_zero():
    full = np.full((1, SIZE, SIZE), 255, dtype=np.uint8)
    turned = transform_digits(full, fixed(rotation_deg=45.0))
    assert turned[0, 0, 0] == turned[0, 0, -1] == turned[0, -1, 0] == turned[0, -1, -1] == 0
    assert turned[0, 14, 14] == 255
    shifted = transform_digits(full, fixed(shift_x_px=5.0))
    assert not shifted[0, :, :5].any() and (shifted[0, :, 5:] == 255).all()
    # Keras's default fill mode ("reflect") would mirror the ink into the corners
    layer = keras.layers.RandomRotation((45 / 360, 45 / 360))
    assert layer.fill_mode == "reflect"
    assert keras_layer_output(layer, full)[0, 0, 0] == 255


def test_identity_draws_leave_images_untouched(mnist_arrays):
    images = mnist_arrays["x_train"][:10]
    np.testing.assert_array_equal(transform_digits(images, AffineDraws.identity(10)), images)


# --------------------------------------------------------------------------- elastic


def test_elastic_x_and_y_fields_are_independent():
    fields = elastic_displacements(3, 0, 400, SIZE, SIZE, 34.0, 4.0)
    dx, dy = fields[:, 0], fields[:, 1]
    assert np.corrcoef(dx.ravel(), dy.ravel())[0, 1] == pytest.approx(0.0, abs=0.03)
    assert np.abs(dx - dy).mean() > 0.5 * np.abs(dx).mean()


@pytest.mark.parametrize("sigma", [2.0, 4.0])
def test_elastic_fields_have_the_requested_smoothness_and_strength(sigma):
    alpha = 34.0
    fields = elastic_displacements(4, 0, 1500, SIZE, SIZE, alpha, sigma)
    centre = slice(8, 20)
    for lag, expected in ((int(sigma), np.exp(-0.25)), (int(2 * sigma), np.exp(-1.0))):  # Gaussian-smoothed white noise
        for component in (0, 1):
            field = fields[:, component]
            along_x = np.corrcoef(field[:, centre, centre].ravel(), field[:, centre, 8 + lag : 20 + lag].ravel())[0, 1]
            along_y = np.corrcoef(field[:, centre, centre].ravel(), field[:, 8 + lag : 20 + lag, centre].ravel())[0, 1]
            assert along_x == pytest.approx(expected, abs=0.04) and along_y == pytest.approx(expected, abs=0.04)
    # uniform(-1, 1) noise (variance 1/3) through the normalised Gaussian, times alpha
    kernel = ndimage.gaussian_filter1d(np.eye(1, 101, 50)[0], sigma)
    expected_rms = alpha * np.sqrt(1 / 3) * (kernel**2).sum()
    assert fields[:, :, centre, centre].std() == pytest.approx(expected_rms, rel=0.05)
    np.testing.assert_allclose(elastic_displacements(4, 0, 5, SIZE, SIZE, 2 * alpha, sigma), 2 * fields[:5], rtol=1e-12)


def test_smoothing_matrix_is_scipy_gaussian_filter():
    fields = np.random.default_rng(0).uniform(-1, 1, size=(3, SIZE, SIZE))
    matrix = augment.gaussian_smoothing_matrix(SIZE, 4.0)
    expected = ndimage.gaussian_filter(fields, sigma=(0, 4.0, 4.0), mode="reflect")
    np.testing.assert_allclose(matrix @ fields @ matrix.T, expected, atol=1e-6)


def test_elastic_fields_do_not_depend_on_the_batch_they_are_drawn_in():
    whole = elastic_displacements(9, 0, 10, SIZE, SIZE, 34.0, 4.0)
    np.testing.assert_array_equal(elastic_displacements(9, 3, 4, SIZE, SIZE, 34.0, 4.0), whole[3:7])
    assert not np.array_equal(elastic_displacements(10, 0, 10, SIZE, SIZE, 34.0, 4.0), whole)


def test_elastic_sampling_matches_per_image_scipy_and_never_mixes_images():
    images = np.stack([np.zeros((SIZE, SIZE)), np.full((SIZE, SIZE), 255), blob()[0], np.zeros((SIZE, SIZE))]).astype(np.uint8)
    fields = elastic_displacements(1, 0, 4, SIZE, SIZE, 34.0, 4.0)
    out = transform_digits(images, AffineDraws.identity(4), fields)
    for i in range(4):
        single = ndimage.map_coordinates(images[i].astype(np.float64), [ROWS + fields[i, 1], COLS + fields[i, 0]], order=1, mode="grid-constant")
        assert np.abs(out[i] - np.rint(single)).max() <= 1  # float32 here, float64 in SciPy: a half may round the other way
        assert (out[i] == np.rint(single)).mean() > 0.99
    assert not out[0].any() and not out[3].any()
    assert out[1].min() < 255 and out[1].max() == 255  # sampled outside the frame near the edges: background 0 blends in
    # far outside the frame (in the flat batch: inside the neighbouring images) is background too
    full, empty = images[1], images[0]
    for shift in (20.0, -20.0):
        far = transform_digits(np.stack([full, empty, full]), fixed(3, shift_x_px=shift, shift_y_px=shift), fields[:3])
        assert not far[1].any() and far[0].any() and far[2].any()
    constant = np.zeros((1, 2, SIZE, SIZE))
    constant[:, 0] = 2.0  # sampled at x + 2: content moves 2 px left
    moved = transform_digits(blob(), AffineDraws.identity(1), constant)
    assert centre_of_mass(moved[0])[0] == pytest.approx(11.5, abs=0.01)


def test_one_resampling_reads_the_original_at_the_affine_then_elastic_position(mnist_arrays):
    """Output pixel p is the original sampled once, bilinearly, at A^-1(p + d(p)) (brute-force SciPy reference)."""
    images = mnist_arrays["x_train"][:8]
    draws = augment.draw_affine(8, params(rotation=30, shift=0.1, shear=20, zoom=0.2))
    fields = elastic_displacements(2, 0, 8, SIZE, SIZE, 34.0, 4.0)
    out = transform_digits(images, draws, fields)
    a0, a1, a2, b0, b1, b2 = draws.matrices(SIZE, SIZE).astype(np.float64).T[..., None, None]
    x, y = COLS + fields[:, 0], ROWS + fields[:, 1]
    for i in range(8):
        source = [b0[i] * x[i] + b1[i] * y[i] + b2[i], a0[i] * x[i] + a1[i] * y[i] + a2[i]]
        expected = np.rint(ndimage.map_coordinates(images[i].astype(np.float64), source, order=1, mode="grid-constant"))
        assert np.abs(out[i] - expected).max() <= 1 and (out[i] == expected).mean() > 0.99


def test_the_affine_map_comes_first_and_the_elastic_field_lives_on_the_output_grid():
    image = blob(cy=13.5, cx=17.5)
    constant = np.zeros((1, 2, SIZE, SIZE))
    constant[:, 0] = 2.0  # every output pixel reads 2 px to its right
    out = transform_digits(image, fixed(rotation_deg=90.0), constant)
    # turned a quarter counter-clockwise about (13.5, 13.5) the blob goes up to (13.5, 9.5), then 2 px left;
    # the other order would move it left first and then turn it, to (13.5, 11.5)
    assert centre_of_mass(out[0]) == pytest.approx((11.5, 9.5), abs=0.05)


def test_adding_elastic_distortion_costs_no_stroke_sharpness(mnist_arrays):
    """One resampling for the affine map and the elastic field together; a second one would soften strokes."""
    images = mnist_arrays["x_train"]

    def sharp_share(x: np.ndarray) -> float:  # share of ink pixels (> 25) that are near full intensity (> 200)
        return (x > 200).sum() / (x > 25).sum()

    affine = augment_digits(images, params(transforms=["rotation", "shift", "shear", "zoom"]))[0]
    both = augment_digits(images, AugmentParams())[0]
    assert sharp_share(affine) < 0.8 * sharp_share(images)  # a bilinear resampling does soften ...
    assert sharp_share(both) > sharp_share(affine) - 0.02  # ... but only once (two resamplings: about -0.12)


def test_keras_random_elastic_transform_draws_identical_x_and_y_fields_and_is_capped():
    """Pitfalls (pinned Keras, TensorFlow backend) that make us implement elastic distortion ourselves.

    If a Keras upgrade fixes them, this test fails and tells us to look again.
    """
    layer = keras.layers.RandomElasticTransform(factor=1.0, scale=1.0, fill_mode="nearest", seed=1)
    # strength tops out at alpha 2.8, sigma 1.4 on 28x28 (scale is capped at 1); Simard's is 34, 4
    assert layer.get_elastic_transform_params(SIZE, SIZE, 1.0) == pytest.approx((2.8, 1.4))
    with pytest.raises(ValueError, match="range \\[0, 1\\]"):
        keras.layers.RandomElasticTransform(scale=2.0)
    # channel 0 holds x, channel 1 holds y: bilinear sampling returns x + dx and y + dy
    ramps = np.repeat(np.stack([COLS, ROWS], axis=-1)[None], 4, axis=0).astype(np.float32)
    out = keras.ops.convert_to_numpy(layer(ramps, training=True))
    dx, dy = (out[..., 0] - COLS)[:, 4:24, 4:24], (out[..., 1] - ROWS)[:, 4:24, 4:24]
    assert np.abs(dx).mean() > 0.1  # it does move pixels ...
    np.testing.assert_allclose(dx, dy, atol=1e-4)  # ... always along the diagonal


def test_keras_layers_only_transform_in_training_mode():
    """Pitfall (pinned Keras): training=False and Model.predict leave images unchanged; a bare call transforms."""
    image = bar().astype(np.float32)[..., None]
    layer = keras.layers.RandomRotation((0.25, 0.25), fill_mode="constant")
    unchanged = keras.ops.convert_to_numpy(layer(image, training=False))
    np.testing.assert_array_equal(unchanged, image)
    model = keras.Sequential([keras.Input((SIZE, SIZE, 1)), layer])
    np.testing.assert_array_equal(model.predict(image, verbose=0), image)
    assert not np.array_equal(keras.ops.convert_to_numpy(layer(image)), image)
    assert not np.array_equal(keras.ops.convert_to_numpy(layer(image, training=True)), image)


# --------------------------------------------------------------------------- draws and determinism


def test_draws_stay_in_their_ranges_and_disabled_transforms_are_identity():
    draws = augment.draw_affine(2000, params(transforms=["rotation", "zoom"], rotation=15, zoom=0.2, shift=0.3, shear=20))
    assert draws.rotation_deg.dtype == np.float32 and draws.rotation_deg.shape == (2000,)
    assert np.abs(draws.rotation_deg).max() <= 15 and np.abs(draws.rotation_deg).max() > 14.9
    assert draws.scale.min() >= 0.8 and draws.scale.max() <= 1.2 and draws.scale.max() > 1.19
    assert not draws.shift_x_px.any() and not draws.shift_y_px.any() and not draws.shear_deg.any()


def test_enabling_a_transform_does_not_change_the_others_draws():
    alone = augment.draw_affine(50, params(transforms=["rotation"]))
    both = augment.draw_affine(50, params(transforms=["rotation", "shear"]))
    np.testing.assert_array_equal(alone.rotation_deg, both.rotation_deg)
    assert both.shear_deg.any()


def test_same_seed_gives_identical_bytes_whatever_the_batch_size_and_threads(mnist_arrays, monkeypatch):
    images = mnist_arrays["x_train"]
    reference, reference_transforms = augment_digits(images, AugmentParams(), batch_size=1000)
    assert reference.dtype == np.uint8 and reference.shape == images.shape
    for batch_size, threads, chunk in ((7, 2, augment._CHUNK), (64, 1, augment._CHUNK), (64, 3, augment._CHUNK), (150, 2, 48)):
        monkeypatch.setattr(augment, "_CHUNK", chunk)  # 48: the sampler compiled for another shape, several chunks per batch
        again, transforms = augment_digits(images, AugmentParams(), batch_size=batch_size, threads=threads)
        assert again.tobytes() == reference.tobytes()
        for key in augment.TRANSFORM_KEYS:
            assert transforms[key].tobytes() == reference_transforms[key].tobytes()
    monkeypatch.undo()
    other, _ = augment_digits(images, params(seed=6))
    assert (other != reference).mean() > 0.1
    assert (reference != images).mean() > 0.1  # it did augment


def test_augment_digits_refuses_bad_input(mnist_arrays):
    with pytest.raises(ValueError, match="images must be uint8 \\(N, H, W\\), got float32"):
        augment_digits(np.zeros((2, SIZE, SIZE), np.float32), AugmentParams())
    with pytest.raises(ValueError, match="source_index must lie in \\[0, 200\\), got 0..200"):
        augment_digits(mnist_arrays["x_train"], AugmentParams(), source_index=np.array([0, 200]))
    with pytest.raises(ValueError, match=r"^batch_size == 0, must be an integer >= 1\.$"):
        augment_digits(mnist_arrays["x_train"], AugmentParams(), batch_size=0)
    with pytest.raises(ValueError, match=r"^threads == -1, must be an integer >= 0 \(0 = one per core\)\.$"):
        augment_digits(mnist_arrays["x_train"], AugmentParams(), threads=-1)
    with pytest.raises(ValueError, match="scale must be > 0"):
        fixed(scale=0.0)


# --------------------------------------------------------------------------- the bank


def test_bank_keeps_labels_and_provenance(mnist_arrays):
    x, y = mnist_arrays["x_train"], mnist_arrays["y_train"]
    bank = build_augmented_bank(x, y, params(copies=2))
    n = 2 * len(x)
    assert bank["images"].dtype == np.uint8 and bank["images"].shape == (n, SIZE, SIZE)
    assert bank["labels"].dtype == np.int16 and bank["source_index"].dtype == np.int32
    np.testing.assert_array_equal(bank["labels"], y[bank["source_index"]])
    np.testing.assert_array_equal(np.bincount(bank["source_index"], minlength=len(x)), np.full(len(x), 2))
    for key in augment.TRANSFORM_KEYS:
        assert bank[key].dtype == np.float32 and bank[key].shape == (n,)
    assert bank["elastic_rms_px"].min() > 0
    provenance = json.loads(str(bank["provenance"]))
    assert provenance["params"]["elastic"] == {"alpha": 34.0, "sigma": 4.0} and provenance["params"]["copies"] == 2
    # the stored parameters (and the seed) reproduce every image exactly
    draws = AffineDraws(*(bank[key] for key in ("rotation_deg", "shift_x_px", "shift_y_px", "shear_deg", "scale")))
    fields = elastic_displacements(AugmentParams().seed, 0, n, SIZE, SIZE, 34.0, 4.0)
    np.testing.assert_array_equal(transform_digits(x[bank["source_index"]], draws, fields), bank["images"])


def test_count_spreads_evenly_and_a_smaller_bank_is_a_prefix_of_a_larger_one(mnist_arrays):
    x, y = mnist_arrays["x_train"], mnist_arrays["y_train"]
    small = build_augmented_bank(x, y, params(copies=None, count=50))
    large = build_augmented_bank(x, y, params(copies=None, count=250))
    assert len(set(small["source_index"].tolist())) == 50
    assert set(np.bincount(large["source_index"], minlength=len(x)).tolist()) == {1, 2}
    for key in ("images", "labels", "source_index", *augment.TRANSFORM_KEYS):
        np.testing.assert_array_equal(large[key][:50], small[key])


def test_stage_writes_a_loadable_bank_and_a_mosaic(tmp_path, mnist_npz, mnist_arrays, monkeypatch):
    params_file = tmp_path / "params.yaml"
    params_file.write_text("augment:\n  copies: 1\n  rotation: 15\n")
    out, plot = tmp_path / "banks" / "augmented.npz", tmp_path / "plots" / "mosaic.png"
    argv = ["augment.py", "--params", str(params_file), "--mnist", str(mnist_npz), "--out", str(out), "--plot", str(plot)]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exited:
        runpy.run_path(str(ROOT / "stages" / "augment.py"), run_name="__main__")
    assert exited.value.code == 0

    bank = load_bank(out, "augmented")
    assert len(bank.images) == 200
    with np.load(out, allow_pickle=False) as archive:
        assert json.loads(str(archive["provenance"]))["params"]["rotation"] == 15.0
        source_index = archive["source_index"]
    picture = np.asarray(Image.open(plot))
    assert picture.dtype == np.uint8 and picture.shape == (10 * 28 + 9 * 6, 4 * 57 + 3 * 6)  # 10 digits x 4 pairs
    first_digit0 = source_index[bank.labels == 0][0]
    np.testing.assert_array_equal(picture[:28, :28], mnist_arrays["x_train"][first_digit0])
    np.testing.assert_array_equal(picture[:28, 29:57], bank.images[np.flatnonzero(bank.labels == 0)[0]])
    assert not list(tmp_path.rglob(".tmp-*"))


def test_stage_refuses_bad_params_before_writing(tmp_path, mnist_npz, monkeypatch, capsys):
    params_file = tmp_path / "params.yaml"
    params_file.write_text("augment:\n  rotation: 200\n")
    out, plot = tmp_path / "banks" / "augmented.npz", tmp_path / "plots" / "mosaic.png"
    argv = ["augment.py", "--params", str(params_file), "--mnist", str(mnist_npz), "--out", str(out), "--plot", str(plot)]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exited:
        runpy.run_path(str(ROOT / "stages" / "augment.py"), run_name="__main__")
    assert exited.value.code == 2  # bad input: one line, no traceback
    assert capsys.readouterr().err == f"stage augment: error: {params_file}: augment.rotation == 200, must be in [0, 180] degrees.\n"
    assert not out.parent.exists() and not plot.parent.exists()


def test_sequences_draw_from_the_augmented_bank(tmp_path, mnist_npz, mnist_arrays):
    from digitgen.shards import emit_split

    bank = build_augmented_bank(mnist_arrays["x_train"], mnist_arrays["y_train"], AugmentParams())
    write_npz(tmp_path / "banks" / "augmented.npz", bank)
    sequences = parse_params(
        {"sequences": {"shard_size": 40, "previews": 0, "workers": 1, "splits": {"train": {"count": 40, "sources": {"real": 1, "augmented": 3}}, "test": {"count": 10}}}}
    ).sequences
    emit_split("train", sequences, mnist_npz, tmp_path / "banks", tmp_path / "train")
    with np.load(tmp_path / "train" / "shard-00000.npz", allow_pickle=False) as shard:
        augmented = shard["sources"] == shard["source_names"].tolist().index("augmented")
        assert augmented.sum() > 10
        np.testing.assert_array_equal(bank["labels"][shard["source_index"][augmented]], shard["labels"][augmented])


def test_check_params_summarises_the_augment_section(tmp_path, capsys):
    from digitgen.cli import main

    path = tmp_path / "params.yaml"
    path.write_text("augment:\n  copies: null\n  count: 5000\n  transforms: [rotation, elastic]\n")
    assert main(["check-params", str(path)]) == 0
    assert "augment: 5000 digits, transforms rotation, elastic" in capsys.readouterr().out
    path.write_text("augment:\n  shift: 1.5\n")
    assert main(["check-params", str(path)]) == 2
    assert "augment.shift == 1.5, must be in [0, 1)" in capsys.readouterr().err
