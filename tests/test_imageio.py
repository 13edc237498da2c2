"""Image files in (load_images) and out (save_image_grid) through Pillow."""
import sys

import numpy as np
import pytest

import striate
from striate.imageio import load_images, save_image_grid

Image = pytest.importorskip("PIL.Image")


def write(path, arr, mode=None, **kw):
    img = Image.fromarray(arr) if mode is None else Image.fromarray(arr).convert(mode)
    img.save(path, **kw)
    return str(path)


@pytest.fixture
def colour(rng):
    return rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)


# ---- load_images ----
def test_colour_png_round_trips_exactly(colour, tmp_path):
    x = load_images(write(tmp_path / "c.png", colour), channels=3)
    assert x.shape == (1, 3, 5, 7) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0], colour.transpose(2, 0, 1) / np.float32(255))


def test_grey_png_loads_without_inversion(rng, tmp_path):
    grey = rng.integers(0, 100, (6, 4), dtype=np.uint8)  # dark: mean below 0.5
    x = load_images([write(tmp_path / "g.png", grey)], channels=1)
    np.testing.assert_array_equal(x[0, 0], grey / np.float32(255))


def test_dark_on_light_grey_image_is_inverted_like_mnist(tmp_path):
    paper = np.full((28, 28), 255, np.uint8)
    paper[5:23, 12:16] = 0  # a black "1" on white paper
    path = write(tmp_path / "one.png", paper)
    x = load_images(path)
    assert x.mean() < 0.5
    np.testing.assert_array_equal(x[0, 0], 1 - paper / np.float32(255))
    np.testing.assert_array_equal(load_images(path, invert=False)[0, 0], paper / np.float32(255))
    dark = load_images(write(tmp_path / "dark.png", 255 - paper), invert=True)
    np.testing.assert_array_equal(dark[0, 0], paper / np.float32(255))


def test_colour_to_grey_uses_luma_and_grey_to_colour_repeats(tmp_path):
    red = np.zeros((3, 3, 3), np.uint8)
    red[..., 0] = 255
    x = load_images(write(tmp_path / "red.png", red), channels=1)
    np.testing.assert_allclose(x, 0.299, rtol=1e-6)
    grey = np.full((2, 2), 51, np.uint8)
    y = load_images(write(tmp_path / "grey.png", grey), channels=3)
    np.testing.assert_allclose(y, 0.2, rtol=1e-6)
    assert y.shape == (1, 3, 2, 2)


def test_transparent_pixels_count_as_white(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (0, 0, 0, 255)  # one opaque black pixel, the rest transparent black
    x = load_images(write(tmp_path / "t.png", rgba), channels=3)
    np.testing.assert_array_equal(x[0, :, 0, 0], [0, 0, 0])
    np.testing.assert_array_equal(x[0, :, 1, 1], [1, 1, 1])


def test_sixteen_bit_png_scales_by_65535(tmp_path):
    deep = np.array([[0, 65535], [32768, 1000]], np.uint16)
    Image.fromarray(deep).save(tmp_path / "d.png")
    x = load_images(str(tmp_path / "d.png"), invert=False)
    np.testing.assert_allclose(x[0, 0], deep / 65535, rtol=1e-6)


def test_jpeg_loads_close_to_its_pixels(tmp_path):
    smooth = np.tile(np.linspace(0, 255, 32).astype(np.uint8), (32, 1))
    smooth = np.stack([smooth, smooth.T, 255 - smooth], axis=2)
    x = load_images(write(tmp_path / "s.jpg", smooth, quality=95), channels=3)
    assert np.abs(x[0].transpose(1, 2, 0) - smooth / 255).max() < 0.06


def test_resize_shapes_and_preserves_a_constant(rng, tmp_path):
    flat = np.full((9, 13), 77, np.uint8)
    x = load_images(write(tmp_path / "f.png", flat), size=(4, 5))
    assert x.shape == (1, 1, 4, 5)
    np.testing.assert_allclose(x, 77 / 255, atol=1e-5)
    noisy = rng.integers(0, 256, (3, 2, 3), dtype=np.uint8)
    up = load_images(write(tmp_path / "n.png", noisy), channels=3, size=8)
    assert up.shape == (1, 3, 8, 8) and up.min() >= 0 and up.max() <= 1


def test_shrinking_averages_instead_of_skipping(tmp_path):
    stripes = np.zeros((16, 16), np.uint8)
    stripes[:, ::2] = 255  # one-pixel stripes: point sampling would give all 0 or all 1
    x = load_images(write(tmp_path / "s.png", stripes), size=4, invert=False)
    np.testing.assert_allclose(x, 0.5, atol=0.05)


def test_several_files_stack_in_order(rng, tmp_path):
    a = rng.integers(0, 100, (4, 4), dtype=np.uint8)
    b = rng.integers(0, 100, (4, 4), dtype=np.uint8)
    write(tmp_path / "b.png", b)
    x = load_images([write(tmp_path / "a.png", a), tmp_path / "b.png"])  # str and PathLike
    np.testing.assert_array_equal(x[:, 0], np.stack([a, b]) / np.float32(255))


def test_different_sizes_need_a_size(tmp_path):
    a = write(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    b = write(tmp_path / "b.png", np.zeros((5, 4), np.uint8))
    with pytest.raises(ValueError, match=r"differ in size.*b\.png' \(5, 4\).*size=\(H, W\)"):
        load_images([a, b])
    assert load_images([a, b], size=(3, 3)).shape == (2, 1, 3, 3)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.png"):
        load_images(str(tmp_path / "nope.png"))


def test_non_image_and_truncated_files_name_the_path(colour, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("this is not an image")
    with pytest.raises(ValueError, match="notes.png' is not an image"):
        load_images(str(text))
    write(tmp_path / "c.png", colour)
    good = (tmp_path / "c.png").read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="cut.png' is truncated or corrupt"):
        load_images(str(cut), channels=3)
    with pytest.raises(IsADirectoryError, match="folder"):
        load_images(str(tmp_path))


@pytest.mark.parametrize("kw", [dict(channels=2), dict(size=0), dict(size=(3, 3, 3)),
                                dict(invert="yes"), dict(paths=[]), dict(paths=[3])])
def test_bad_arguments_raise(kw, tmp_path):
    args = dict(paths=write(tmp_path / "a.png", np.zeros((4, 4), np.uint8)))
    args.update(kw)
    with pytest.raises((ValueError, TypeError), match="load_images"):
        load_images(**args)


# ---- save_image_grid ----
def test_grid_size_in_pixels_and_tile_placement(rng, tmp_path):
    images = rng.random((5, 1, 4, 6)).astype(np.float32)
    path = tmp_path / "grid.png"
    pixels = save_image_grid(images, path, nrow=3, padding=2, normalize=False)
    img = Image.open(path)
    assert img.size == (3 * (6 + 2) + 2, 2 * (4 + 2) + 2) and img.mode == "L"
    saved = np.asarray(img)
    np.testing.assert_array_equal(saved, pixels)
    # tile 4 sits in row 1, column 1
    np.testing.assert_array_equal(saved[8:12, 10:16], np.round(images[4, 0] * 255))
    assert saved[:2].max() == 0 and saved[6:8].max() == 0  # padding rows
    assert saved[8:12, 18:24].max() == 0  # the empty sixth slot


def test_colour_grid_and_normalization(rng, tmp_path):
    images = striate.tensor(rng.standard_normal((2, 3, 5, 5)).astype(np.float32) * 7 + 3)
    pixels = save_image_grid(images, tmp_path / "c.png", padding=0)
    assert pixels.shape == (5, 10, 3) and Image.open(tmp_path / "c.png").mode == "RGB"
    assert pixels.min() == 0 and pixels.max() == 255


def test_feature_maps_become_grey_tiles_and_scale_each(tmp_path):
    maps = np.stack([np.arange(16.0).reshape(4, 4) * s for s in (1, 100, 0.01, -2, 5)])
    pixels = save_image_grid(maps[None], tmp_path / "f.png", nrow=5, padding=1, scale_each=True)
    assert pixels.shape == (6, 26)
    for i in range(5):  # each map spans the full range on its own scale
        tile = pixels[1:5, 1 + 5 * i:5 + 5 * i]
        assert tile.min() == 0 and tile.max() == 255
    three_d = save_image_grid(maps, tmp_path / "g.png", nrow=5, padding=1, scale_each=True)
    np.testing.assert_array_equal(three_d, pixels)


def test_saved_grid_loads_back(rng, tmp_path):
    img = rng.random((1, 3, 6, 8)).astype(np.float32)
    save_image_grid(img, tmp_path / "r.png", padding=0, normalize=False)
    back = load_images(str(tmp_path / "r.png"), channels=3)
    np.testing.assert_allclose(back, img, atol=0.5 / 255 + 1e-6)


def test_grid_errors(tmp_path):
    with pytest.raises(ValueError, match="NaN"):
        save_image_grid(np.full((1, 1, 2, 2), np.nan), tmp_path / "n.png")
    with pytest.raises(ValueError, match="save_image_grid: expected"):
        save_image_grid(np.zeros((2, 2)), tmp_path / "n.png")
    with pytest.raises(ValueError, match="nrow"):
        save_image_grid(np.zeros((1, 2, 2)), tmp_path / "n.png", nrow=0)
    with pytest.raises(FileNotFoundError):
        save_image_grid(np.zeros((1, 2, 2)), tmp_path / "missing" / "n.png")
    assert not (tmp_path / "n.png").exists()


def test_missing_pillow_names_the_package(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match="pillow"):
        save_image_grid(np.zeros((1, 2, 2)), tmp_path / "n.png")
