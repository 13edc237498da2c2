"""The benchmark suite runs end to end and prints a striate/PyTorch ratio (no timing is checked)."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
# | case | striate | PyTorch | ratio | ...: two positive figures with a unit, then "<number>x"
# and, with several rounds, the lowest and highest round's ratio
RATIO_LINE = re.compile(r"^\| LeNet-5 training.*\| [\d,.]+ img/s \| [\d,.]+ img/s \| "
                        r"\d+\.\d\dx( \(\d+\.\d\d-\d+\.\d\d\))? \|", re.M)


def _run(*args, tmp_path):
    out = tmp_path / "results.md"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", *args, "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, out


@pytest.mark.slow
def test_quick_lenet_train_prints_ratio_line_and_writes_results(tmp_path):
    stdout, out = _run("--quick", "--only", "lenet-train", "--threads", "1", tmp_path=tmp_path)
    assert RATIO_LINE.search(stdout), stdout
    text = out.read_text()
    assert RATIO_LINE.search(text), text
    assert "python -m benchmarks --quick --only lenet-train" in text
    assert "ResNet-20" not in text  # --only ran just the one case


def test_only_matching_nothing_is_a_usage_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--only", "no-such-case"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "matches no case" in proc.stderr


def test_round_ratios_pair_each_round_and_the_table_shows_their_range():
    from benchmarks.common import Result, round_ratios

    # striate: 10 steps in 2.0 s, then 2.5 s; PyTorch: 20 steps in 2.0 s, then 4.0 s
    rounds = round_ratios({"striate": [2.0, 2.5], "torch": [2.0, 4.0]},
                          {"striate": 10, "torch": 20})
    assert rounds == pytest.approx([0.5, 0.8])
    cells = Result("case", 450.0, 600.0, "img/s", ">= 0.8", "how", rounds).cells()
    assert cells[3] == "0.75x (0.50-0.80)"
    assert Result("case", 450.0, 600.0, "img/s").cells()[3] == "0.75x"  # one figure, no range


# ---- benchmarks.floor: the matrix products a lowered convolution cannot avoid ----
def test_floor_finds_each_lenet5_convolution_with_its_product_shape():
    from benchmarks.floor import conv_shapes

    assert conv_shapes("lenet5") == [
        # the first pads 28x28 by 2: 28 output columns x 32 padded rows x 5 taps x 1 channel
        dict(pixels=28 * 28, K=1 * 25, OC=6, lowered=28 * 32 * 5 * 1, first=True),
        dict(pixels=10 * 10, K=6 * 25, OC=16, lowered=10 * 14 * 5 * 6, first=False),
    ]


def test_floor_finds_all_19_resnet20_convolutions():
    from benchmarks.floor import conv_shapes

    shapes = [{k: v for k, v in s.items() if k != "lowered"} for s in conv_shapes("resnet20")]
    assert len(shapes) == 19 and [s["first"] for s in shapes].count(True) == 1
    assert shapes[0] == dict(pixels=32 * 32, K=27, OC=16, first=True)
    # the stride-2 convolution opening stage 2 reads 16 channels and writes 16x16 pixels
    assert dict(pixels=16 * 16, K=16 * 9, OC=32, first=False) in shapes
    assert sum(s == dict(pixels=8 * 8, K=64 * 9, OC=64, first=False) for s in shapes) == 5
    # stage 2's stride-2 layer lowers 16 output columns x 34 padded rows x 3 taps x 16 channels
    assert conv_shapes("resnet20")[7]["lowered"] == 16 * 34 * 3 * 16


def test_floor_blocks_cover_the_rows_exactly():
    from benchmarks.floor import blocks

    assert blocks(10, 4) == [4, 4, 2]
    assert blocks(8, 4) == [4, 4]
    assert blocks(3, 4) == [3]


@pytest.mark.parametrize("kind", ["forward", "weight", "input"])
def test_floor_product_computes_its_matrix_product(kind):
    import striate
    from benchmarks.floor import _Hot, _product

    hot, old = _Hot(), striate.get_num_threads()
    striate.set_num_threads(1)  # every block on this thread, so its arrays are the ones read
    try:
        _product(kind, 10, 6, 3, 4, hot)()  # blocks of 4, 4 and 2 rows
    finally:
        striate.set_num_threads(old)
    m = 2  # the last block written
    a, b = {"forward": ((m, 6), (6, 3)), "weight": ((m, 6), (m, 3)),
            "input": ((m, 3), (3, 6))}[kind]
    x, y = hot.get(*a), hot.get(*b)
    expect = x.T @ y if kind == "weight" else x @ y
    np.testing.assert_allclose(hot.get(*expect.shape, out=True), expect, rtol=1e-5)


def test_floor_lowering_writes_each_lowered_input_once_per_product(monkeypatch):
    import striate
    from benchmarks import floor

    copied, real = [], np.copyto
    monkeypatch.setattr(np, "copyto", lambda dst, src: (copied.append(dst.size), real(dst, src)))
    old = striate.get_num_threads()
    striate.set_num_threads(1)
    try:
        floor.lowering_step("lenet5", batch=2)()
    finally:
        striate.set_num_threads(old)
    # the first layer's input needs no gradient: forward and weight gradient only
    assert sum(copied) == 2 * (2 * 28 * 32 * 5) + 3 * (2 * 10 * 14 * 5 * 6)


@pytest.mark.slow
def test_floor_quick_run_prints_the_floor_beside_both_steps():
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.floor", "--model", "lenet5", "--quick",
         "--rounds", "1", "--threads", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert re.search(r"^\| \(12,800 x 150\) @ \(150 x 16\) \| 1 \| [\d.]+ ms", out, re.M), out
    assert re.search(r"PyTorch step: \d+\.\d ms; 0\.8x of its throughput allows \d+\.\d ms", out)
    for what in ("the floor .*", "lowering, at least .*"):
        assert re.search(what + r": \d+\.\d ms, \d+% of the allowed step", out), out
    assert re.search(r"PyTorch outside its convolutions .*: -?\d+\.\d ms, -?\d+% of its step, "
                     r"-?\d+% of the allowed step", out), out
    assert re.search(r"these three together: \d+% of the allowed step", out), out
    assert re.search(r"striate step: \d+\.\d ms \(\d\.\d\dx", out), out
