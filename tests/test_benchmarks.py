"""The benchmark suite runs end to end and prints a striate/PyTorch ratio (no timing is checked)."""
import re
import subprocess
import sys
from pathlib import Path

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
