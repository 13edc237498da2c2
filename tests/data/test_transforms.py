"""striate.data.transforms: exact values, shapes, geometry and seeded reproducibility."""

import numpy as np
import pytest

import striate
from striate.data import transforms as T


@pytest.fixture
def batch(rng):
    return rng.random((6, 3, 8, 8)).astype(np.float32)


def test_tofloat_uint8_values_exact():
    x = np.arange(256, dtype=np.uint8).reshape(1, 1, 16, 16)
    y = T.ToFloat()(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_array_equal(y.ravel(), (np.arange(256) / 255).astype(np.float32))


def test_tofloat_adds_channel_to_2d_image_and_keeps_3d():
    assert T.ToFloat()(np.zeros((28, 28), np.uint8)).shape == (1, 28, 28)
    assert T.ToFloat()(np.zeros((3, 5, 5), np.uint8)).shape == (3, 5, 5)


def test_tofloat_casts_float64_without_scaling():
    y = T.ToFloat()(np.array([[[0.5, 2.0]]]))
    np.testing.assert_array_equal(y, np.array([[[0.5, 2.0]]], np.float32))


def test_normalize_per_channel_values(batch):
    mean, std = [0.1, 0.2, 0.3], [0.5, 0.25, 2.0]
    y = T.Normalize(mean, std)(batch)
    expected = (batch - np.float32(mean).reshape(1, 3, 1, 1)) / np.float32(std).reshape(1, 3, 1, 1)
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    assert y.dtype == np.float32


def test_normalize_single_image_equals_batch_row(batch):
    t = T.Normalize(0.5, 0.2)
    np.testing.assert_allclose(t(batch[2]), t(batch)[2], rtol=1e-7)


def test_normalize_rejects_bad_std_channel_count_and_uint8(batch):
    with pytest.raises(ValueError, match="std must be"):
        T.Normalize(0.5, 0.0)
    with pytest.raises(ValueError, match="2 values but the images have 3 channels"):
        T.Normalize([0.1, 0.2], 1.0)(batch)
    with pytest.raises(TypeError, match="apply ToFloat first"):
        T.Normalize(0.5, 0.5)(np.zeros((1, 4, 4), np.uint8))


def test_transform_rejects_wrong_rank():
    with pytest.raises(
        ValueError, match=r"RandomCrop: expected images .* got shape \(2, 3, 4, 5, 6\)"
    ):
        T.RandomCrop(2)(np.zeros((2, 3, 4, 5, 6)))


def test_horizontal_flip_p1_mirrors_and_p0_is_identity(batch):
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(batch), batch[..., ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(batch), batch)
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1.0)(batch), batch[..., ::-1, :])


def test_horizontal_flip_half_flips_some_images_whole(rng):
    x = rng.random((200, 1, 4, 4)).astype(np.float32)
    y = T.RandomHorizontalFlip()(x, rng=np.random.default_rng(1))
    flipped = np.all(y == x[..., ::-1], axis=(1, 2, 3))
    kept = np.all(y == x, axis=(1, 2, 3))
    np.testing.assert_array_equal(flipped | kept, True)
    assert 60 < flipped.sum() < 140


def test_random_crop_with_padding_is_a_shift_of_the_padded_image(rng):
    x = rng.random((50, 2, 6, 7)).astype(np.float32) + 1  # no zeros, so padding is recognisable
    y = T.RandomCrop((6, 7), padding=2)(x, rng=np.random.default_rng(0))
    assert y.shape == x.shape
    xp_ = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    offsets = set()
    for i in range(len(x)):
        hits = [
            (a, b)
            for a in range(5)
            for b in range(5)
            if np.array_equal(y[i], xp_[i, :, a : a + 6, b : b + 7])
        ]
        assert len(hits) == 1, f"image {i}: crop matches {hits}"
        offsets.add(hits[0])
    assert len(offsets) > 10  # offsets really vary


def test_random_crop_smaller_size_and_single_image(rng):
    x = rng.random((3, 10, 10)).astype(np.float32)
    y = T.RandomCrop(4)(x)
    assert y.shape == (3, 4, 4)
    with pytest.raises(ValueError, match="larger than the padded image"):
        T.RandomCrop(12, padding=0)(x)


def test_rotation_zero_is_identity(batch):
    np.testing.assert_array_equal(T.RandomRotation(0)(batch), batch)
    np.testing.assert_array_equal(T.RandomAffine(0, interpolation="nearest")(batch), batch)


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("angle,k", [(90, 1), (-90, -1), (180, 2)])
def test_rotation_by_quarter_turns_equals_rot90(batch, interpolation, angle, k):
    y = T.RandomRotation((angle, angle), interpolation=interpolation)(batch)
    np.testing.assert_allclose(y, np.rot90(batch, k, axes=(2, 3)), atol=1e-5)


def _shifted(x, dy, dx, fill):
    out = np.full_like(x, fill)
    H, W = x.shape[-2:]
    out[..., max(dy, 0) : H + min(dy, 0), max(dx, 0) : W + min(dx, 0)] = x[
        ..., max(-dy, 0) : H - max(dy, 0), max(-dx, 0) : W - max(dx, 0)
    ]
    return out


def test_affine_nearest_translation_is_an_integer_shift_with_fill(rng):
    x = rng.random((30, 1, 6, 7)).astype(np.float32) + 1
    y = T.RandomAffine(0, translate=(0.3, 0.3), interpolation="nearest", fill=-1.0)(
        x, rng=np.random.default_rng(2)
    )
    shifts = set()
    for i in range(len(x)):
        hits = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-3, 4)
            if np.array_equal(y[i], _shifted(x[i], dy, dx, -1.0))
        ]
        assert len(hits) == 1, f"image {i}: matches shifts {hits}"
        shifts.add(hits[0])
    assert len(shifts) > 5


def test_affine_scale_two_magnifies_about_centre(rng):
    x = np.zeros((1, 1, 5, 5), np.float32)
    x[0, 0, 2, 3] = 1.0  # one pixel right of centre moves two pixels right
    y = T.RandomAffine(0, scale=(2.0, 2.0), interpolation="nearest")(x)
    assert y[0, 0, 2, 4] == 1.0 and y[0, 0, 2, 2] == 0.0


def test_affine_uint8_stays_uint8_and_in_range(rng):
    x = rng.integers(0, 256, (4, 1, 9, 9), dtype=np.uint8)
    y = T.RandomAffine(30, translate=(0.2, 0.2), scale=(0.8, 1.2))(x)
    assert y.dtype == np.uint8 and y.shape == x.shape
    np.testing.assert_array_equal(T.RandomRotation(0)(x), x)


def test_random_transforms_reproducible_with_explicit_generator(batch):
    t = T.Compose(
        [
            T.RandomCrop(8, padding=1),
            T.RandomHorizontalFlip(),
            T.RandomAffine(15, (0.1, 0.1)),
            T.ColorJitter(0.3, 0.3, 0.3),
        ]
    )
    a = t(batch, rng=np.random.default_rng(7))
    b = t(batch, rng=np.random.default_rng(7))
    c = t(batch, rng=np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_random_transforms_follow_manual_seed(batch):
    t = T.RandomRotation(20)
    striate.manual_seed(3)
    a = t(batch)
    striate.manual_seed(3)
    np.testing.assert_array_equal(t(batch), a)


def test_use_generator_overrides_global_rng(batch):
    t = T.RandomAffine(20)
    with T.use_generator(np.random.default_rng(5)):
        a = t(batch)
    np.testing.assert_array_equal(a, t(batch, rng=np.random.default_rng(5)))


def test_color_jitter_brightness_within_bounds_and_contrast_keeps_mean(rng):
    x = rng.uniform(0.2, 0.6, (40, 1, 6, 6)).astype(np.float32)
    y = T.ColorJitter(brightness=0.25)(x, rng=np.random.default_rng(0))
    ratio = y / x
    np.testing.assert_allclose(ratio, ratio[:, :, :1, :1] * np.ones_like(ratio), rtol=1e-5)
    assert ratio.min() >= 0.75 - 1e-6 and ratio.max() <= 1.25 + 1e-6
    z = T.ColorJitter(contrast=(0.5, 0.5))(x)
    np.testing.assert_allclose(z.mean(axis=(2, 3)), x.mean(axis=(2, 3)), rtol=1e-5)
    np.testing.assert_allclose(
        z - z.mean(axis=(2, 3), keepdims=True),
        0.5 * (x - x.mean(axis=(2, 3), keepdims=True)),
        atol=1e-6,
    )


def test_color_jitter_saturation_zero_gives_grey(rng):
    x = rng.random((2, 3, 4, 4)).astype(np.float32)
    y = T.ColorJitter(saturation=(0.0, 0.0))(x)
    grey = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    for c in range(3):
        np.testing.assert_allclose(y[:, c], grey, rtol=1e-5)


@pytest.mark.parametrize("size", [(14, 14), (20, 11), (40, 57), 10])
def test_resize_bilinear_matches_torch_interpolate(rng, size):
    torch = pytest.importorskip("torch")
    x = rng.random((2, 3, 28, 31))
    y = T.Resize(size)(x)
    out = (size, int(31 * size / 28)) if isinstance(size, int) else size
    ref = torch.nn.functional.interpolate(
        torch.from_numpy(x), size=out, mode="bilinear", align_corners=False
    )
    np.testing.assert_allclose(y, ref.numpy(), rtol=1e-7, atol=1e-12)


def test_resize_nearest_integer_factor_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.random((1, 1, 8, 8))
    ref = torch.nn.functional.interpolate(torch.from_numpy(x), size=(4, 16), mode="nearest")
    np.testing.assert_array_equal(T.Resize((4, 16), interpolation="nearest")(x), ref.numpy())


def test_transforms_keep_batch_size_and_never_see_labels(batch):
    t = T.Compose([T.RandomCrop(6, padding=1), T.RandomHorizontalFlip(), T.Resize((8, 8))])
    assert t(batch).shape == batch.shape
