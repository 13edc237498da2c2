"""The gradient-variance estimator, the fits, and the two CLI commands end to end (tiny sizes)."""
import csv

import numpy as np
import pytest

from striate.quantum import Circuit
from striate.quantum.__main__ import main
from striate.quantum.experiments import (TRAINING_LINES, fit_line, gradient_variance,
                                         plateau_experiment, training_line)


def two_qubit_ry_cnot():
    """RY(a) x RY(b), CNOT(0 -> 1), cost <Z_1> = cos(a) cos(b)."""
    c = Circuit(2)
    c.ry(0), c.ry(1)
    c.cnot(0, 1)
    return c


def test_gradient_variance_on_two_qubits_matches_closed_form():
    # dC/da = -sin(a) cos(b); a, b ~ U[0, 2 pi): Var = E[sin^2] E[cos^2] = 1/4 (mean is 0)
    c = two_qubit_ry_cnot()
    var, grads = gradient_variance(c, "IZ", 0, 4000, np.random.default_rng(1))
    theta = np.random.default_rng(1).uniform(0, 2 * np.pi, size=(4000, 2))  # the same draws
    np.testing.assert_allclose(grads, -np.sin(theta[:, 0]) * np.cos(theta[:, 1]), atol=1e-12)
    np.testing.assert_allclose(var, np.var(grads, ddof=1), rtol=1e-12)
    # standard error of the estimate: sqrt((E[g^4] - 1/16) / N) = sqrt((9/64 - 4/64) / 4000)
    assert abs(var - 0.25) < 5 * np.sqrt(5 / 64 / 4000)


def test_gradient_variance_needs_two_samples():
    with pytest.raises(ValueError, match="gradient_variance: samples must be >= 2"):
        gradient_variance(two_qubit_ry_cnot(), "IZ", 0, 1, np.random.default_rng(0))


def test_fit_line_recovers_power_law_and_exponential():
    n = np.array([4.0, 6.0, 8.0, 10.0])
    power = fit_line(np.log(n), np.log(3.0 * n**-1.5))
    np.testing.assert_allclose([power["slope"], power["intercept"], power["r2"]],
                               [-1.5, np.log(3.0), 1.0], atol=1e-12)
    expo = fit_line(n, np.log(0.5 * 2.0**-n))
    np.testing.assert_allclose(expo["slope"], -np.log(2.0), rtol=1e-12)


def test_plateau_experiment_small_sizes_report_variances_and_fits():
    res = plateau_experiment(qubits=(2, 3, 4), samples=16, seed=0)
    assert [r["n"] for r in res["rows"]] == [2, 3, 4]
    for r in res["rows"]:
        assert r["var_qcnn"] > 0 and r["var_hea"] > 0 and r["seconds_qcnn"] >= 0
    assert set(res["fits"]) == {"qcnn", "hea"}
    assert set(res["fits"]["qcnn"]) == {"power", "exponential"}


def test_training_lines_have_exact_labels_at_the_self_dual_points():
    points, labels = training_line("h2=0", 40)
    np.testing.assert_allclose(points[:, 0], np.linspace(0, 2, 40))
    np.testing.assert_array_equal(points[:, 1], 0.0)
    np.testing.assert_array_equal(labels, points[:, 0] < 1)
    points, labels = training_line("h1=0", 9)
    np.testing.assert_array_equal(points[:, 0], 0.0)
    np.testing.assert_allclose(points[:, 1], np.linspace(-2, 2, 9))
    assert labels.tolist() == [0, 0, 0, 1, 1, 1, 0, 0, 0]  # |h2| = 1 is critical, not SPT
    assert TRAINING_LINES == ("h2=0", "h1=0")
    with pytest.raises(ValueError, match="training_line: name must be one of"):
        training_line("h1=1", 10)
    with pytest.raises(ValueError, match="training_line: n_points must be an int >= 2"):
        training_line("h2=0", 1)


def test_cli_plateaus_writes_csv_and_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["plateaus", "--max-qubits", "8", "--samples", "8", "--out", str(tmp_path)]) == 0
    rows = list(csv.DictReader((tmp_path / "qcnn_plateaus.csv").open()))
    assert [int(r["n"]) for r in rows] == [4, 6, 8]
    assert (tmp_path / "qcnn_plateaus.png").stat().st_size > 1000
    assert "QCNN: power law" in capsys.readouterr().out


def test_cli_phases_writes_grid_csv_and_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    args = ["phases", "--qubits", "4", "--train", "6", "--grid", "3", "--steps", "3",
            "--out", str(tmp_path)]
    assert main(args) == 0
    assert "trained on 12 ground states: 6 per line h2=0, h1=0" in capsys.readouterr().out
    grid = list(csv.DictReader((tmp_path / "qcnn_phases_grid.csv").open()))
    assert len(grid) == 9 and set(grid[0]) == {"h1", "h2", "string_order", "label_spt",
                                                "qcnn_p_spt"}
    assert len(list(csv.DictReader((tmp_path / "qcnn_phases_training.csv").open()))) == 3
    assert (tmp_path / "qcnn_phases.png").stat().st_size > 1000
    assert main(args + ["--lines", "h2=0", "--grad", "shift"]) == 0
    out = capsys.readouterr().out
    assert "trained on 6 ground states: 6 per line h2=0" in out and "test accuracy" in out


def test_cli_rejects_bad_sizes(tmp_path):
    with pytest.raises(ValueError, match="qcnn phases: --qubits must be in"):
        main(["phases", "--qubits", "2", "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="qcnn plateaus: need 2 <= --min-qubits"):
        main(["plateaus", "--max-qubits", "3", "--out", str(tmp_path)])
