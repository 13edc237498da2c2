"""Cluster-Ising Hamiltonian and ground states against dense kron-built matrices."""
import numpy as np
import pytest

from striate.quantum.hamiltonians import (cluster_ising_terms, ground_state, ground_states,
                                          pauli_sum_matrix, string_order,
                                          string_order_operator)

from ._dense import pauli


def dense_cluster_ising(n, h1, h2, J=1.0, periodic=True):
    """H = -J sum Z X Z - h1 sum X - h2 sum X X, written out with np.kron."""
    def op(ops):
        return pauli("".join(ops.get(q, "I") for q in range(n)))
    sites = range(n) if periodic else range(1, n - 1)
    H = -J * sum(op({(i - 1) % n: "Z", i: "X", (i + 1) % n: "Z"}) for i in sites)
    H = H - h1 * sum(op({i: "X"}) for i in range(n))
    return H - h2 * sum(op({i: "X", (i + 1) % n: "X"}) for i in range(n if periodic else n - 1))


@pytest.mark.parametrize("boundary", ["periodic", "open"])
@pytest.mark.parametrize("h1,h2", [(0.0, 0.0), (0.5, 0.3), (1.2, -0.7)])
def test_ground_state_energy_and_state_match_dense_diagonalisation(boundary, h1, h2):
    n = 6
    H = dense_cluster_ising(n, h1, h2, periodic=boundary == "periodic")
    w, v = np.linalg.eigh(H)
    e, psi = ground_state(n, h1, h2, boundary=boundary)
    np.testing.assert_allclose(e, w[0], rtol=1e-12)
    np.testing.assert_allclose(psi.conj() @ H @ psi, w[0], rtol=1e-10)  # an eigenvector
    np.testing.assert_allclose(np.linalg.norm(psi), 1.0, rtol=1e-12)
    if w[1] - w[0] > 1e-6:  # non-degenerate: the same state up to phase
        np.testing.assert_allclose(abs(v[:, 0].conj() @ psi), 1.0, rtol=1e-10)


def test_sparse_eigensolver_matches_dense():
    pytest.importorskip("scipy")
    e_dense, psi_dense = ground_state(7, 0.6, 0.4, method="dense")
    e_sparse, psi_sparse = ground_state(7, 0.6, 0.4, method="sparse")
    np.testing.assert_allclose(e_sparse, e_dense, rtol=1e-10)
    np.testing.assert_allclose(abs(psi_dense.conj() @ psi_sparse), 1.0, rtol=1e-8)


def test_pauli_sum_matrix_matches_kron_dense_and_sparse():
    terms = cluster_ising_terms(4, 0.3, -0.8, J=1.5, boundary="open")
    want = dense_cluster_ising(4, 0.3, -0.8, J=1.5, periodic=False)
    np.testing.assert_allclose(pauli_sum_matrix(terms, 4), want, atol=1e-14)
    pytest.importorskip("scipy")
    np.testing.assert_allclose(pauli_sum_matrix(terms, 4, sparse=True).toarray(), want, atol=1e-14)


def test_term_counts_by_boundary():
    assert len(cluster_ising_terms(6, 1, 1, boundary="periodic")) == 18
    assert len(cluster_ising_terms(6, 1, 1, boundary="open")) == 4 + 6 + 5


def test_cluster_state_has_unit_string_order_and_paramagnet_none():
    n = 8
    energies, states = ground_states(n, [(0.0, 0.0), (20.0, 0.0)])
    np.testing.assert_allclose(energies[0], -n, rtol=1e-12)  # every stabiliser satisfied
    order = string_order(states)
    np.testing.assert_allclose(order[0], 1.0, atol=1e-10)
    assert abs(order[1]) < 0.005
    assert string_order_operator(8) == "IIZXIXZI"


def test_string_order_decreases_across_the_exact_transition_line():
    h1 = np.linspace(0.0, 2.0, 9)
    order = string_order(ground_states(6, [(h, 0.0) for h in h1])[1])
    assert np.all(np.diff(order) < 0)


@pytest.mark.parametrize("n", [6, 8])
def test_self_duality_fixes_the_exact_boundaries_of_the_training_lines(n):
    # h2 = 0: Z X Z <-> X gives E0(h1) = h1 E0(1/h1) (critical at h1 = 1); h1 = 0: Z X Z <-> X X
    # gives E0(h2) = h2 E0(1/h2) (critical at h2 = 1), and for n % 4 == 0 the spectrum is even
    # in h2 (so h2 = -1 too)
    for h in (0.5, 0.8):
        np.testing.assert_allclose(ground_state(n, h, 0.0)[0], h * ground_state(n, 1 / h, 0.0)[0],
                                   rtol=1e-10)
        np.testing.assert_allclose(ground_state(n, 0.0, h)[0], h * ground_state(n, 0.0, 1 / h)[0],
                                   rtol=1e-10)
    if n % 4 == 0:
        H = {s: pauli_sum_matrix(cluster_ising_terms(n, 0.0, s * 0.7), n) for s in (1, -1)}
        np.testing.assert_allclose(np.linalg.eigvalsh(H[1]), np.linalg.eigvalsh(H[-1]),
                                   atol=1e-10)
    assert abs(ground_state(n, 0.0, 0.5)[0] - ground_state(n, 0.5, 0.0)[0]) > 0.1  # not trivial


def test_bad_arguments_name_the_function():
    with pytest.raises(ValueError, match="ground_state: n_qubits must be an int >= 3"):
        ground_state(2, 0.0, 0.0)
    with pytest.raises(ValueError, match="boundary must be 'periodic' or 'open'"):
        cluster_ising_terms(4, 0.0, 0.0, boundary="ring")
    with pytest.raises(ValueError, match="ground_state: method must be"):
        ground_state(4, 0.0, 0.0, method="lanczos")
