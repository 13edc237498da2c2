"""Every plot writes a real PNG of the requested pixel size; feature maps come from hooks."""
import sys

import numpy as np
import pytest

import striate
from striate import nn, viz
from striate.train import History

Image = pytest.importorskip("PIL.Image")
pytest.importorskip("matplotlib")

SIZE, DPI = (4, 3), 50  # inches and dots per inch: a 200x150 PNG


def _check_png(path, size=(200, 150)):
    """The file is a PNG of ``size`` pixels that draws something (not one flat colour)."""
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.size == size
        pixels = np.asarray(im.convert("L"), dtype=np.float64)
    assert pixels.std() > 1.0


@pytest.fixture(scope="module")
def lenet():
    striate.manual_seed(0)
    return striate.models.lenet5().eval()


@pytest.fixture(scope="module")
def digits():
    test = striate.data.datasets.load("sample", train=False)
    x = (test.images[:12].astype(np.float32) / 255 - 0.1307) / 0.3081
    return x, test.labels[:12], test.images[:12], test.classes


def test_plot_history_from_history_and_from_csv(tmp_path):
    h = History([{"epoch": 1, "loss": 1.2, "accuracy": 0.6, "val_loss": 1.0, "val_accuracy": 0.7},
                 {"epoch": 2, "loss": 0.7, "accuracy": 0.8, "val_loss": 0.8, "val_accuracy": 0.75}])
    p = viz.plot_history(h, tmp_path / "a.png", figsize=SIZE, dpi=DPI)
    assert p == str(tmp_path / "a.png")
    _check_png(p)
    h.to_csv(str(tmp_path / "history.csv"))
    _check_png(viz.plot_history(str(tmp_path / "history.csv"), tmp_path / "b.png", figsize=SIZE,
                                dpi=DPI))
    fig = viz.plot_history(h)
    ax_loss, ax_acc = fig.axes
    np.testing.assert_allclose(ax_loss.lines[0].get_ydata(), [1.2, 0.7])
    np.testing.assert_allclose(ax_acc.lines[1].get_ydata(), [70.0, 75.0])  # validation, in %


def test_plot_history_rejects_empty_and_wrong_types(tmp_path):
    with pytest.raises(ValueError, match="no epochs"):
        viz.plot_history(History([]))
    with pytest.raises(TypeError, match="expected a History"):
        viz.plot_history(42)
    with pytest.raises(FileNotFoundError, match="no such history file"):
        viz.plot_history(str(tmp_path / "missing.csv"))


def test_plot_confusion_matrix_png_and_counts(tmp_path):
    m = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 9]])
    _check_png(viz.plot_confusion_matrix(m, ["a", "b", "c"], tmp_path / "cm.png", figsize=SIZE,
                                         dpi=DPI))
    fig = viz.plot_confusion_matrix(m, ["a", "b", "c"])
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == sorted(str(v) for v in m.ravel() if v)
    assert "accuracy 84.00%" in fig.axes[0].get_title()  # 21 of 25
    with pytest.raises(ValueError, match="2 class names for a 3x3 matrix"):
        viz.plot_confusion_matrix(m, ["a", "b"])


def test_confusion_matrix_counts_true_rows_predicted_columns():
    np.testing.assert_array_equal(viz.confusion_matrix([0, 1, 1, 2], [0, 0, 1, 2], 4),
                                  [[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]])


def test_plot_predictions_marks_wrong_ones_red(tmp_path, lenet, digits):
    x, y, raw, classes = digits
    _check_png(viz.plot_predictions(lenet, x, y, tmp_path / "p.png", class_names=classes,
                                    display_images=raw, figsize=SIZE, dpi=DPI))
    pred = np.array([int(v) for v in y])
    pred[[1, 4]] = (pred[[1, 4]] + 1) % 10
    fig = viz.plot_predictions(None, x, y, predictions=pred, class_names=classes)
    texts = fig.axes[0].texts
    red = [t.get_text() for t in texts if t.get_color() == "tab:red"]
    assert len(texts) == 12
    assert red == [f"{pred[i]} ({y[i]})" for i in (1, 4)]
    assert len(fig.axes[0].patches) == 2  # one frame per wrong image


@pytest.mark.parametrize("shape", [(8, 3, 5, 5), (6, 1, 5, 5), (16, 6, 3, 3)])
def test_plot_filters_colour_grey_and_per_channel(shape, tmp_path, rng):
    w = rng.standard_normal(shape).astype(np.float32)
    _check_png(viz.plot_filters(w, tmp_path / "f.png", figsize=SIZE, dpi=DPI))
    image = viz.plot_filters(w).axes[0].images[0].get_array()
    OC, IC, KH, KW = shape
    if IC == 3:  # each colour tile is its filter, scaled to [0, 1] on its own
        f = np.moveaxis(w[0], 0, -1)
        np.testing.assert_allclose(image[:KH, :KW], (f - f.min()) / (f.max() - f.min()),
                                   rtol=1e-6)
    else:
        f = w[0, 0] if IC == 1 else w[0]
        tile = (w[0, 0] - f.min()) / (f.max() - f.min())
        np.testing.assert_allclose(image[:KH, :KW], tile, rtol=1e-6)


def test_plot_filters_takes_a_layer_and_rejects_others(lenet):
    assert "6 filters of shape 1x5x5" in viz.plot_filters(lenet.features[0]).axes[0].get_title()
    with pytest.raises(TypeError, match="expected a conv layer"):
        viz.plot_filters(nn.ReLU())
    with pytest.raises(ValueError, match="expected a 4-D weight"):
        viz.plot_filters(np.zeros((3, 3)))


def test_feature_maps_are_the_layer_outputs_and_hooks_go_away(lenet, digits):
    x = digits[0][0]
    maps = viz.feature_maps(lenet, x)
    assert {k: v.shape for k, v in maps.items()} == {
        "features.0": (6, 28, 28), "features.2": (6, 14, 14),
        "features.3": (16, 10, 10), "features.5": (16, 5, 5)}
    with striate.no_grad():
        f = lenet.features
        want = f[2](f[1](f[0](striate.tensor(x[None])))).data[0]
    np.testing.assert_allclose(maps["features.2"], want, rtol=1e-6)
    assert all(not m._forward_hooks for m in lenet.modules())
    with pytest.raises(ValueError, match="has no layer 'features.9'"):
        viz.feature_maps(lenet, x, ["features.9"])


def test_plot_feature_maps_one_png_per_layer_with_shape_in_title(tmp_path, lenet, digits):
    paths = viz.plot_feature_maps(lenet, digits[0][0], out_dir=tmp_path, figsize=SIZE, dpi=DPI)
    assert list(paths) == ["features.0", "features.2", "features.3", "features.5"]
    for p in paths.values():
        _check_png(p)
    figs = viz.plot_feature_maps(lenet, digits[0][0], layers=["features.3"])
    assert "output 16x10x10" in figs["features.3"].axes[0].get_title()


def test_plot_grad_cam_saliency_and_receptive_field_pngs(tmp_path, lenet, digits):
    x = digits[0][0]
    _check_png(viz.plot_grad_cam(lenet, x, "features.3", tmp_path / "g.png", figsize=SIZE,
                                 dpi=DPI))
    _check_png(viz.plot_saliency(lenet, x, tmp_path / "s.png", figsize=SIZE, dpi=DPI))
    _check_png(viz.plot_receptive_field(lenet, x, "features.3", (1, 2), tmp_path / "r.png",
                                        figsize=SIZE, dpi=DPI))
    fig = viz.plot_receptive_field(lenet, None, "features.5", (0, 0), input_shape=(1, 28, 28))
    labels = [p.get_label() for p in fig.axes[0].patches]
    assert labels == ["theoretical, unclipped", "theoretical (0, 0, 14, 14)",
                      "empirical (0, 0, 14, 14)"]
    # neuron (0, 0) of the last pool is centred at start 6 -> pixel 5.5 in imshow coordinates
    np.testing.assert_allclose(fig.axes[0].lines[0].get_xydata(), [[5.5, 5.5]])


def test_missing_matplotlib_raises_import_error_naming_the_extra(monkeypatch, lenet):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"striate\[plot\]"):
        viz.plot_filters(lenet.features[0])
