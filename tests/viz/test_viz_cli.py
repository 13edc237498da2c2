"""``striate show ...`` and ``striate report RUN_DIR`` write their files and print the paths."""
import os

import pytest

from striate.cli import main

Image = pytest.importorskip("PIL.Image")
pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def files(tiny_run, tmp_path_factory):
    d = tmp_path_factory.mktemp("show")
    digit = d / "seven.png"
    Image.fromarray(tiny_run["test"].images[0, 0]).save(digit)  # a 28x28 grey "7"
    return {"ckpt": str(tiny_run["dir"] / "last.ckpt"), "image": str(digit), "dir": d}


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out.strip().splitlines()


def _png(path):
    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size


def test_show_filters_writes_the_first_conv_layer(files, capsys):
    out = str(files["dir"] / "filters.png")
    assert _run(capsys, "show", "filters", files["ckpt"], "--out", out) == [out]
    _png(out)
    out2 = str(files["dir"] / "f3.png")
    assert _run(capsys, "show", "filters", files["ckpt"], "--layer", "features.3",
                "--out", out2) == [out2]
    _png(out2)


def test_show_features_one_png_per_layer_or_the_named_one(files, capsys, monkeypatch):
    out = str(files["dir"] / "maps.png")
    assert _run(capsys, "show", "features", files["ckpt"], files["image"], "--layer",
                "features.0", "--out", out) == [out]
    _png(out)
    monkeypatch.chdir(files["dir"])
    lines = _run(capsys, "show", "features", files["ckpt"], files["image"])
    assert lines == [f"features_features.{i}.png" for i in (0, 2, 3, 5)]
    assert all(os.path.exists(files["dir"] / p) for p in lines)


def test_show_rf_on_a_zoo_model_and_on_a_checkpoint_with_an_image(files, capsys):
    out = str(files["dir"] / "rf.png")
    lines = _run(capsys, "show", "rf", "lenet5", "--layer", "features.3", "--position", "0", "0",
                 "--input-shape", "1", "28", "28", "--out", out)
    assert lines == ["features.3: input rows 0..11, columns 0..11 (12x12 pixels)", out]
    _png(out)
    lines = _run(capsys, "show", "rf", files["ckpt"], "--layer", "features.5", "--image",
                 files["image"], "--out", out)
    assert lines[0].startswith("features.5: input rows 6..21, columns 6..21") and lines[1] == out


def test_show_gradcam_writes_the_overlay(files, capsys):
    out = str(files["dir"] / "cam.png")
    assert _run(capsys, "show", "gradcam", files["ckpt"], files["image"], "--class", "7",
                "--out", out) == [out]
    assert _png(out) == (800, 400)


def test_show_errors_are_one_line_user_errors(files, capsys):
    assert main(["show", "filters", files["ckpt"], "--layer", "features.9"]) == 1
    err = capsys.readouterr().err
    assert "has no layer 'features.9'" in err and "Traceback" not in err
    assert main(["show", "gradcam", files["ckpt"], str(files["dir"] / "none.png")]) == 1
    assert "none.png" in capsys.readouterr().err
    assert main(["show", "rf", "lenet5", "--layer", "features.3", "--position", "10", "0",
                 "--input-shape", "1", "28", "28"]) == 1
    assert "outside the 10x10 output" in capsys.readouterr().err


@pytest.mark.slow
def test_report_command_rebuilds_the_page(tiny_run, files, capsys):
    out = str(files["dir"] / "report.html")
    assert _run(capsys, "report", str(tiny_run["dir"]), "--out", out) == [out]
    with open(out, encoding="utf-8") as f:
        text = f.read()
    assert text.startswith("<!DOCTYPE html>") and 'id="summary"' in text
    assert text.count("data:image/png;base64,") == 11
    assert main(["report", str(files["dir"] / "missing")]) == 1
    assert "no such run folder" in capsys.readouterr().err
