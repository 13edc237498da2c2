"""The ``striate`` command: exit codes, messages, and a tiny end-to-end run."""
import gzip
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

import striate
import striate.checkpoint
from striate.cli import main

MNIST_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")


def run_cli(*args, cwd=None):
    """Run the real console entry point in a subprocess: exit code, stdout, stderr."""
    p = subprocess.run([sys.executable, "-m", "striate", *args], capture_output=True, text=True,
                       cwd=cwd, timeout=600)
    return p.returncode, p.stdout, p.stderr


def test_help_on_every_subcommand_exits_zero():
    for cmd in ("train", "evaluate", "predict", "summary", "models", "export", "show", "report", "qcnn"):
        code, out, _ = run_cli(cmd, "--help")
        assert code == 0, cmd
        assert "usage: striate " + cmd in out


def test_bad_usage_exits_2_with_argparse_message():
    code, _, err = run_cli("train", "--epochs", "0")
    assert code == 2
    assert "expected a positive integer, got 0" in err
    code, _, err = run_cli("fly")
    assert code == 2 and "invalid choice: 'fly'" in err


def test_unknown_model_exits_1_and_lists_known_models(capsys):
    assert main(["train", "lenet6", "--data", "sample", "--epochs", "1", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "unknown model 'lenet6'" in err and "lenet5" in err and "Traceback" not in err


def test_missing_data_file_says_which_file_and_where(tmp_path, capsys):
    code = main(["train", "--data", "fashion-mnist", "--data-dir", str(tmp_path), "--epochs", "1", "--quiet",
                 "--out", str(tmp_path / "run")])
    assert code == 1
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte.gz" in err and str(tmp_path) in err


def _write_idx_gz(path, magic, dims, payload):
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + payload)


def test_corrupt_data_file_exits_1_with_one_line_reason(tmp_path, capsys):
    d = tmp_path / "mnist"
    d.mkdir()
    # a truncated image file: the header claims 10 images, the body holds 3
    _write_idx_gz(d / "train-images-idx3-ubyte.gz", 0x803, (10, 28, 28), bytes(3 * 784))
    _write_idx_gz(d / "train-labels-idx1-ubyte.gz", 0x801, (10,), bytes(10))
    _write_idx_gz(d / "t10k-images-idx3-ubyte.gz", 0x803, (2, 28, 28), bytes(2 * 784))
    _write_idx_gz(d / "t10k-labels-idx1-ubyte.gz", 0x801, (2,), bytes(2))
    code = main(["train", "--data", "mnist", "--data-dir", str(d), "--epochs", "1", "--quiet",
                 "--out", str(tmp_path / "run")])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert "train-images-idx3-ubyte.gz" in err and "Traceback" not in err
    assert len(err.splitlines()) == 1


def test_evaluate_missing_checkpoint_exits_1(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nope.ckpt")]) == 1
    assert "no such checkpoint" in capsys.readouterr().err


def test_evaluate_corrupt_checkpoint_exits_1(tmp_path, capsys):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"\x80\x04garbage that is no checkpoint")
    assert main(["evaluate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and "Traceback" not in err


def test_models_lists_the_zoo(capsys):
    assert main(["models"]) == 0
    names = capsys.readouterr().out.split()
    assert "lenet5" in names and "resnet20" in names


def test_summary_prints_lenet_table(capsys):
    assert main(["summary", "lenet5"]) == 0
    out = capsys.readouterr().out
    assert "61,706" in out or "61706" in out


@pytest.mark.slow
def test_train_evaluate_predict_end_to_end_on_sample(tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "run"
    assert main(["train", "--data", "sample", "--epochs", "1", "--quiet", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "test accuracy" in text and str(out / "last.ckpt") in text
    acc = float(text.split("test accuracy ")[1].split("%")[0])
    assert acc > 80.0
    # the checkpoint rebuilds the model on its own: no model flag needed
    assert main(["evaluate", str(out / "last.ckpt")]) == 0
    assert f"accuracy {acc:.2f}%" in capsys.readouterr().out
    # predict a real test digit saved as a PNG (white digit on black, as MNIST)
    test = striate.data.datasets.load("sample", train=False)
    png = tmp_path / "digit.png"
    Image.fromarray(test.images[0, 0]).save(png)
    assert main(["predict", str(out / "last.ckpt"), str(png)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{png}: {test.labels[0]} (")
    # export rebuilds the model too, and onnxruntime agrees with striate on the digit
    import onnxruntime

    assert main(["export", str(out / "last.ckpt"), "--onnx", str(tmp_path / "m.onnx")]) == 0
    model, meta = striate.checkpoint.load_model(str(out / "last.ckpt"))
    x = ((test.images[:3] / 255.0 - meta["mean"][0]) / meta["std"][0]).astype(np.float32)
    sess = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"))
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(got, model(striate.tensor(x)).data, atol=1e-4)


def test_channel_stats_are_exact_even_where_a_strided_subsample_is_biased():
    from striate.cli import channel_stats

    rng = np.random.default_rng(0)
    # even-numbered images darker than odd ones, as in MNIST's training set
    images = rng.integers(0, 256, size=(20001, 2, 5, 5), dtype=np.uint8)
    images[::2] //= 2
    mean, std = channel_stats(images)
    x = images.astype(np.float64) / 255
    np.testing.assert_allclose(mean, x.mean(axis=(0, 2, 3)), atol=5e-5)
    np.testing.assert_allclose(std, x.std(axis=(0, 2, 3)), atol=5e-5)


def test_train_lenet5_on_cifar10_sized_images_and_evaluate_the_checkpoint(tmp_path, capsys):
    """32x32 RGB images: LeNet-5 is built for their size (no padding, 16x5x5 features) and the
    checkpoint records it, so evaluate rebuilds the same network from the file alone."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar10" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)

    def records(n):  # CIFAR-10's binary format: a label byte, then 3072 pixel bytes
        rows = np.concatenate([rng.integers(0, 10, (n, 1)), rng.integers(0, 256, (n, 3072))], 1)
        return rows.astype(np.uint8).tobytes()

    for i in range(1, 6):
        (folder / f"data_batch_{i}.bin").write_bytes(records(4))
    (folder / "test_batch.bin").write_bytes(records(6))
    out = tmp_path / "run"
    assert main(["train", "lenet5", "--data", "cifar10", "--data-dir", str(tmp_path),
                 "--epochs", "1", "--quiet", "--out", str(out)]) == 0
    assert "test accuracy" in capsys.readouterr().out
    model, meta = striate.checkpoint.load_model(str(out / "last.ckpt"))
    assert meta["model_kwargs"] == {"in_channels": 3, "num_classes": 10, "input_size": 32}
    assert model.input_shape == (3, 32, 32) and model.features[0].padding == (0, 0)
    assert main(["evaluate", str(out / "last.ckpt"), "--data-dir", str(tmp_path)]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_model_that_cannot_take_the_images_exits_1_with_one_line(capsys):
    """DeepID needs larger patches than MNIST's 28x28: a clear error, not a traceback."""
    assert main(["train", "deepid", "--data", "sample", "--epochs", "1", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "deepid cannot be built for sample's 1x28x28 images" in err and "at least 6x6" in err
    assert "Traceback" not in err
