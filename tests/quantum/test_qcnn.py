"""QCNN structure (brick convolutions, pooling, weight sharing, log depth) and a training run."""
import math

import numpy as np
import pytest

from striate.quantum import QCNN, hardware_efficient_ansatz
from striate.quantum.experiments import phase_experiment


def designed_ops(n):
    """The op sequence the QCNN is designed to have: per level, even-row pairs, odd-row pairs,
    then pooling pairs (discarded control, kept target); then the final block."""
    active, ops = list(range(n)), []
    while len(active) > 2:
        ops += [("block", (active[i], active[i + 1])) for i in range(0, len(active) - 1, 2)]
        ops += [("block", (active[i], active[i + 1])) for i in range(1, len(active) - 1, 2)]
        ops += [("block", (active[i], active[i + 1])) for i in range(0, len(active) - 1, 2)]
        active = active[1::2] + ([active[-1]] if len(active) % 2 else [])
    return ops + [("block", tuple(active))]


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6, 7, 8, 12, 16])
def test_op_sequence_is_the_designed_brick_and_pooling_pattern(n):
    assert QCNN(n).circuit.ops == designed_ops(n)


def test_pooling_halves_active_qubits_8_4_2_1_and_measures_the_last():
    model = QCNN(8)
    assert model.levels == [list(range(8)), [1, 3, 5, 7], [3, 7], [7]]
    assert model.measured == 7 and model.observable == "IIIIIIIZ"
    assert [len(a) for a in QCNN(12).levels] == [12, 6, 3, 2, 1]


@pytest.mark.parametrize("n", [4, 6, 8, 11, 16])
def test_discarded_qubits_are_never_used_again(n):
    model = QCNN(n)
    ops = model.circuit.ops
    start = 0
    for level, active in enumerate(model.levels[:-1]):
        m = len(active)
        if m <= 2:
            break
        start += m // 2 + (m - 1) // 2 + m // 2  # conv rows and pooling of this level
        kept = set(model.levels[level + 1])
        assert all(set(q) <= kept for _, q in ops[start:]), f"level {level}"


def test_depth_grows_logarithmically():
    depths = {n: QCNN(n).depth() for n in (4, 8, 16, 32, 64)}
    assert depths == {4: 4, 8: 7, 16: 10, 32: 13, 64: 16}  # 3 log2(n) - 2
    for n in range(3, 40):
        assert QCNN(n).depth() <= 3 * math.ceil(math.log2(n)) + 1


def test_weight_sharing_parameters_per_layer_do_not_depend_on_n():
    for n in (4, 8, 16):
        model = QCNN(n)
        sizes = {name: len(ids) for name, ids in model.groups.items()}
        levels = len(model.levels) - 2
        assert sizes == {**{f"conv{i}.{r}": 15 for i in range(levels) for r in ("even", "odd")},
                         **{f"pool{i}": 6 for i in range(levels)}, "final": 15}
        assert model.n_params == 36 * levels + 15
        for p in model.groups["conv0.even"]:
            assert model.circuit.occurrences(p) == n // 2  # one kernel for the whole row
        for p in model.groups["pool0"]:
            assert model.circuit.occurrences(p) == n // 2
    assert QCNN(5, conv="ryzz", pool="cnot").n_params == 2 * (2 * 3) + 3


def test_output_is_a_valid_probability_and_gradient_shapes(rng):
    model = QCNN(6)
    theta = model.init_params(rng)
    states = rng.normal(size=(3, 64)) + 1j * rng.normal(size=(3, 64))
    states /= np.linalg.norm(states, axis=1, keepdims=True)
    p = model.predict_proba(theta, states)
    assert p.shape == (3,) and np.all((p >= 0) & (p <= 1))
    g = model.gradient(theta, states)
    assert g.shape == (3, model.n_params)
    np.testing.assert_allclose(model.gradient(theta, states, method="adjoint"), g, atol=1e-12)


def test_bad_configuration_names_the_qcnn():
    with pytest.raises(ValueError, match="QCNN: n_qubits must be an int >= 2"):
        QCNN(1)
    with pytest.raises(ValueError, match=r"QCNN: conv must be one of \['ryzz', 'su4'\]"):
        QCNN(4, conv="so4")
    with pytest.raises(ValueError, match="QCNN: pool must be one of"):
        QCNN(4, pool="max")


def test_hardware_efficient_ansatz_structure():
    c = hardware_efficient_ansatz(5, layers=5)
    assert c.n_params == 2 * 5 * 5
    assert all(c.occurrences(p) == 1 for p in range(c.n_params))
    assert c.depth() == 3 * 5  # rotations, then CZs on even and odd bonds
    with pytest.raises(ValueError, match="layers must be an int >= 1"):
        hardware_efficient_ansatz(3, 0)


def test_six_qubit_qcnn_learns_the_spt_phase_including_the_antiferromagnet():
    # train on the exact lines h2 = 0 (SPT iff h1 < 1) and h1 = 0 (SPT iff |h2| < 1); test off
    # the lines against string-order labels, on a grid that reaches into the antiferromagnet
    # (h2 < -1), which this seed calls SPT when trained on h2 = 0 alone; ~2 s
    res = phase_experiment(6, n_train=12, h1_grid=np.linspace(0.1, 1.6, 6),
                           h2_grid=np.linspace(-1.6, 1.2, 6), steps=60, lr=0.1, seed=2)
    history = res["history"]
    assert history[-1][1] < 0.7 * history[0][1], history[::10]
    assert res["train_accuracy"] >= 0.9
    assert res["test_accuracy"] >= 0.9, (res["labels"], res["proba"].round(2))
    assert res["recall_spt"] >= 0.85 and res["recall_other"] >= 0.9
    afm = (res["labels"] == 0) & (res["h2"][:, None] < -1)
    assert afm.sum() >= 8 and (res["proba"][afm] < 0.5).all(), res["proba"].round(2)
    assert res["train_points"].shape == (24, 2) and res["y_train"].sum() == 6 + 6
