"""Statevector kernels against dense matrices built entry by entry."""
import numpy as np
import pytest

from striate.quantum import gates as G
from striate.quantum.simulator import (apply_gate, apply_pauli, expectation, num_qubits,
                                       parse_observable, pauli_permutation, zero_state)

from ._dense import embed, pauli, random_state


def random_unitary(rng, d, batch=None):
    shape = (d, d) if batch is None else (batch, d, d)
    q, r = np.linalg.qr(rng.normal(size=shape) + 1j * rng.normal(size=shape))
    d = np.diagonal(r, axis1=-2, axis2=-1)
    return q * (d / abs(d))[..., None, :]  # fix the phases: Haar-distributed


def test_zero_state():
    np.testing.assert_allclose(zero_state(3), np.eye(8)[0])
    assert zero_state(2, batch=5).shape == (5, 4)
    with pytest.raises(ValueError, match="zero_state"):
        zero_state(0)


@pytest.mark.parametrize("n,qubits", [
    (3, (0,)), (3, (2,)), (4, (0, 1)), (4, (2, 3)), (4, (1, 3)), (4, (3, 1)), (5, (4, 0)),
    (5, (2, 1)), (4, (0, 2, 3)), (5, (3, 0, 1)),
])
def test_apply_gate_matches_dense_embedding(n, qubits, rng):
    u = random_unitary(rng, 2 ** len(qubits))
    psi = random_state(rng, n, batch=3)
    np.testing.assert_allclose(apply_gate(psi, u, qubits), psi @ embed(u, qubits, n).T, atol=1e-12)
    np.testing.assert_allclose(apply_gate(psi[0], u, qubits), embed(u, qubits, n) @ psi[0],
                               atol=1e-12)


@pytest.mark.parametrize("qubits", [(1,), (0, 1), (3, 1), (2, 0, 3)])
def test_apply_gate_batch_of_gates_is_one_gate_per_state(qubits, rng):
    n, B = 4, 5
    u = random_unitary(rng, 2 ** len(qubits), batch=B)
    psi = random_state(rng, n, batch=B)
    want = np.stack([embed(u[b], qubits, n) @ psi[b] for b in range(B)])
    np.testing.assert_allclose(apply_gate(psi, u, qubits), want, atol=1e-12)
    # one state broadcast to every gate of the batch
    want = np.stack([embed(u[b], qubits, n) @ psi[0] for b in range(B)])
    np.testing.assert_allclose(apply_gate(psi[:1], u, qubits), want, atol=1e-12)


def test_bell_state():
    bell = apply_gate(apply_gate(zero_state(2), G.H, [0]), G.CNOT, [0, 1])
    np.testing.assert_allclose(bell, np.array([1, 0, 0, 1]) / np.sqrt(2), atol=1e-15)


def test_apply_gate_bad_input_names_the_op():
    psi = zero_state(3)
    with pytest.raises(ValueError, match="apply_gate: qubits must be distinct"):
        apply_gate(psi, G.CZ, [1, 1])
    with pytest.raises(ValueError, match=r"apply_gate: a gate on 2 qubit\(s\) must be \(4, 4\)"):
        apply_gate(psi, G.H, [0, 1])
    with pytest.raises(ValueError, match="apply_gate: 2 gates for 3 states"):
        apply_gate(zero_state(3, batch=3), np.stack([G.H, G.H]), [0])
    with pytest.raises(ValueError, match="statevector"):
        num_qubits(np.ones(6))


@pytest.mark.parametrize("string", ["ZII", "IXI", "YYZ", "XYZ", "ZZZ", "IIY", "XXXX", "YIXZ"])
def test_pauli_expectation_and_action_match_dense(string, rng):
    n = len(string)
    psi = random_state(rng, n, batch=4)
    p = pauli(string)
    want = np.einsum("bi,ij,bj->b", psi.conj(), p, psi).real
    np.testing.assert_allclose(expectation(psi, string), want, atol=1e-12)
    np.testing.assert_allclose(apply_pauli(psi, string), psi @ p.T, atol=1e-12)
    perm, phase = pauli_permutation(string)
    dense = np.zeros((2**n, 2**n), dtype=complex)
    dense[perm, np.arange(2**n)] = phase
    np.testing.assert_allclose(dense, p, atol=1e-15)


def test_expectation_of_weighted_pauli_sum_and_dict(rng):
    psi = random_state(rng, 3)
    obs = [(0.5, "XZI"), (-2.0, "IYY"), (1.5, "ZIZ")]
    dense = sum(c * pauli(s) for c, s in obs)
    np.testing.assert_allclose(expectation(psi, obs), (psi.conj() @ dense @ psi).real, atol=1e-12)
    np.testing.assert_allclose(expectation(psi, {2: "Z"}), expectation(psi, "IIZ"))
    assert parse_observable({0: "X"}, 2) == [(1.0, "XI")]
    with pytest.raises(ValueError, match="observable: expected a 3-letter string"):
        expectation(psi, "ZZ")
