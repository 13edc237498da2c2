"""Gates: unitarity, agreement with exp(-i theta P / 2), and the structure of the QCNN blocks."""
import numpy as np
import pytest

from striate.quantum import gates as G

from ._dense import expm_pauli, pauli


def assert_unitary(u):
    eye = np.broadcast_to(np.eye(u.shape[-1]), u.shape)
    np.testing.assert_allclose(u.conj().swapaxes(-1, -2) @ u, eye, atol=1e-12)
    np.testing.assert_allclose(u @ u.conj().swapaxes(-1, -2), eye, atol=1e-12)


@pytest.mark.parametrize("name", ["I2", "H", "CZ", "CNOT", "SWAP"])
def test_fixed_gates_are_unitary(name):
    assert_unitary(getattr(G, name))


@pytest.mark.parametrize("string", ["X", "Y", "Z", "XX", "YZ", "ZY", "XYZ"])
def test_pauli_rotation_matches_matrix_exponential(string, rng):
    theta = rng.uniform(-7, 7, size=5)
    got = G.pauli_rotation(string, theta)
    want = np.stack([expm_pauli(string, t) for t in theta])
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert_unitary(got)


def test_single_qubit_rotations_closed_form():
    t = 0.37
    c, s = np.cos(t / 2), np.sin(t / 2)
    np.testing.assert_allclose(G.rx(t), [[c, -1j * s], [-1j * s, c]], atol=1e-15)
    np.testing.assert_allclose(G.ry(t), [[c, -s], [s, c]], atol=1e-15)
    np.testing.assert_allclose(G.rz(t), np.diag([np.exp(-0.5j * t), np.exp(0.5j * t)]), atol=1e-15)


def test_pauli_matrix_is_kron_in_qubit_order():
    np.testing.assert_allclose(G.pauli_matrix("XZY"), pauli("XZY"))
    with pytest.raises(ValueError, match="pauli_matrix"):
        G.pauli_matrix("XA")


def test_su4_random_parameters_unitary_with_unit_determinant(rng):
    u = G.su4(rng.uniform(0, 2 * np.pi, size=(50, 15)))
    assert u.shape == (50, 4, 4)
    assert_unitary(u)
    np.testing.assert_allclose(np.linalg.det(u), np.ones(50), atol=1e-12)


def test_su4_is_the_product_of_its_pauli_rotations(rng):
    theta = rng.uniform(0, 2 * np.pi, 15)
    want = np.eye(4, dtype=complex)
    for string, j in G.SU4_TERMS:  # first term acts first
        want = expm_pauli(string, theta[j]) @ want
    np.testing.assert_allclose(G.su4(theta), want, atol=1e-12)


def test_su4_reaches_generic_two_qubit_unitaries(rng):
    # 15 parameters: the Jacobian of theta -> U spans all 15 directions of su(4) at a random point
    theta, eps = rng.uniform(0, 2 * np.pi, 15), 1e-6
    u = G.su4(theta)
    basis = [pauli(a + b) for a in "IXYZ" for b in "IXYZ"][1:]
    cols = []
    for j in range(15):
        e = np.zeros(15)
        e[j] = eps
        du = (G.su4(theta + e) - G.su4(theta - e)) / (2 * eps)
        gen = 1j * du @ u.conj().T  # Hermitian generator of the move
        cols.append([np.trace(b @ gen).real / 4 for b in basis])
    assert np.linalg.matrix_rank(np.array(cols), tol=1e-6) == 15


def test_every_block_term_has_a_pauli_generator_so_two_term_shift_holds():
    for string, _ in G.SU4_TERMS + G.POOL_TERMS:
        p = pauli(string)
        np.testing.assert_allclose(p @ p, np.eye(len(p)), atol=1e-15)  # eigenvalues +-1


def test_controlled_pool_is_block_diagonal_in_the_control(rng):
    t = rng.uniform(0, 2 * np.pi, 6)
    u = G.controlled_pool(t)
    assert_unitary(u)
    np.testing.assert_allclose(u[:2, 2:], 0, atol=1e-15)
    np.testing.assert_allclose(u[2:, :2], 0, atol=1e-15)
    for b, s in ((0, 1), (1, -1)):  # control |b>: target gets RZ RY RZ with angles t_even +- t_odd
        v = G.rz(t[4] + s * t[5]) @ G.ry(t[2] + s * t[3]) @ G.rz(t[0] + s * t[1])
        np.testing.assert_allclose(u[2 * b:2 * b + 2, 2 * b:2 * b + 2], v, atol=1e-12)


def test_block_parameter_count_is_checked():
    with pytest.raises(ValueError, match=r"su4: expected parameters of shape \(\.\.\., 15\)"):
        G.su4(np.zeros(14))
    with pytest.raises(ValueError, match="controlled_pool"):
        G.controlled_pool(np.zeros(5))
