"""Circuits: simulation, expectations and both gradient methods against dense-matrix references."""
import numpy as np
import pytest

from striate.quantum import Circuit
from striate.quantum import circuits as circuits_module
from striate.quantum import gates as G

from ._dense import embed, expm_pauli, pauli, random_state


def random_circuit(rng, n, n_ops=12):
    """A random circuit and its own description: ("rot", local pauli, qubits, param, coeff) for
    every rotation (blocks expanded from their term tables) and ("fixed", matrix, qubits)."""
    c, desc = Circuit(n), []
    for _ in range(n_ops):
        kind = rng.choice(["rot", "rot2", "su4", "pool", "shared", "fixed"])
        q = [int(v) for v in rng.permutation(n)[:2]]
        if kind == "rot":
            s, coeff = str(rng.choice(list("XYZ"))), float(rng.choice([1.0, -0.5, 2.0]))
            p = c.rotation(s, q[:1], coeff=coeff)
            desc.append(("rot", s, q[:1], p, coeff))
        elif kind == "rot2":
            s = "".join(rng.choice(list("XYZ"), 2))
            desc.append(("rot", s, q, c.rotation(s, q), 1.0))
        elif kind in ("su4", "pool", "shared"):
            terms = G.POOL_TERMS if kind == "pool" else G.SU4_TERMS
            # "shared": reuse the parameters of the first SU(4) block, as a conv layer does
            first = next((d for d in desc if d[0] == "su4-params"), None)
            params = c.block(terms, q, first[1] if kind == "shared" and first else None)
            if kind == "su4":
                desc.append(("su4-params", params))
            desc += [("rot", s, q, params[j], 1.0) for s, j in terms]
        else:
            m = [G.CZ, G.CNOT, G.SWAP][rng.integers(3)] if rng.random() < 0.7 else G.H
            qs = q if len(m) == 4 else q[:1]
            c.gate(m, qs)
            desc.append(("fixed", m, qs))
    return c, [d for d in desc if d[0] != "su4-params"]


def dense_ops(desc, theta, n):
    return [embed(expm_pauli(d[1], d[4] * theta[d[3]]), d[2], n) if d[0] == "rot"
            else embed(d[1], d[2], n) for d in desc]


def dense_unitary(desc, theta, n):
    u = np.eye(2**n, dtype=complex)
    for m in dense_ops(desc, theta, n):
        u = m @ u
    return u


def dense_gradient(desc, theta, n, obs, psi):
    """dE/dtheta by the product rule on dense matrices: dR/dphi = (-i P / 2) R."""
    ops = dense_ops(desc, theta, n)
    before = [np.eye(2**n, dtype=complex)]  # before[i + 1] = ops[i] ... ops[0]
    for m in ops:
        before.append(m @ before[-1])
    after = [np.eye(2**n, dtype=complex)]  # after[j] = product of the last j ops
    for m in ops[::-1]:
        after.append(after[-1] @ m)
    u, grad = before[-1], np.zeros(len(theta))
    for i, d in enumerate(desc):
        if d[0] == "rot":
            du = after[len(ops) - 1 - i] @ embed(-0.5j * pauli(d[1]), d[2], n) @ before[i + 1]
            grad[d[3]] += d[4] * 2 * np.real(psi.conj() @ u.conj().T @ obs @ du @ psi)
    return grad


@pytest.mark.parametrize("n", [3, 4, 5])
def test_statevector_matches_dense_evolution(n, rng):
    c, desc = random_circuit(rng, n)
    theta = rng.uniform(0, 2 * np.pi, c.n_params)
    psi = random_state(rng, n)
    np.testing.assert_allclose(c.statevector(theta, psi), dense_unitary(desc, theta, n) @ psi,
                               atol=1e-12)
    np.testing.assert_allclose(c.statevector(theta), dense_unitary(desc, theta, n)[:, 0],
                               atol=1e-12)


@pytest.mark.parametrize("n", [3, 4])
def test_expectation_matches_dense(n, rng):
    c, desc = random_circuit(rng, n)
    theta = rng.uniform(0, 2 * np.pi, c.n_params)
    obs = [(0.7, "Z" + "I" * (n - 1)), (-1.2, "XY" + "Z" * (n - 2))]
    dense = sum(w * pauli(s) for w, s in obs)
    phi = dense_unitary(desc, theta, n)[:, 0]
    np.testing.assert_allclose(c.expectation(theta, obs), (phi.conj() @ dense @ phi).real,
                               atol=1e-12)


@pytest.mark.parametrize("n", [3, 4, 5])
@pytest.mark.parametrize("method", ["shift", "adjoint"])
def test_gradient_matches_dense_reference_and_finite_differences(n, method, rng):
    c, desc = random_circuit(rng, n)
    theta = rng.uniform(0, 2 * np.pi, c.n_params)
    psi = random_state(rng, n)
    obs = "Z" * (n - 1) + "X"
    got = c.gradient(theta, obs, psi, method=method)
    np.testing.assert_allclose(got, dense_gradient(desc, theta, n, pauli(obs), psi), atol=1e-10)
    eps, fd = 1e-6, np.zeros(c.n_params)
    for j in range(c.n_params):
        e = np.zeros(c.n_params)
        e[j] = eps
        fd[j] = (c.expectation(theta + e, obs, psi)
                 - c.expectation(theta - e, obs, psi)) / (2 * eps)
    np.testing.assert_allclose(got, fd, atol=1e-7)


def test_shared_parameter_gradient_sums_over_its_uses():
    # RY(t) twice on one qubit is RY(2t): d<Z>/dt = -2 sin(2t); coefficient -0.5 on a third use
    c = Circuit(1)
    p = c.ry(0)
    c.ry(0, param=p)
    c.rotation("Y", [0], param=p, coeff=-0.5)
    t = 0.3
    np.testing.assert_allclose(c.expectation([t], "Z"), np.cos(1.5 * t), atol=1e-15)
    np.testing.assert_allclose(c.gradient([t], "Z"), [-1.5 * np.sin(1.5 * t)], atol=1e-14)
    assert c.occurrences(p) == 3 and c.n_params == 1


def test_batched_parameters_and_states_equal_one_at_a_time(rng):
    n = 4
    c, _ = random_circuit(rng, n)
    thetas = rng.uniform(0, 2 * np.pi, (3, c.n_params))
    states = random_state(rng, n, batch=3)
    obs = "ZIXI"
    loop = np.array([c.gradient(thetas[b], obs, states[b]) for b in range(3)])
    np.testing.assert_allclose(c.gradient(thetas, obs, states), loop, atol=1e-12)
    np.testing.assert_allclose(c.gradient(thetas, obs, states, method="adjoint"), loop, atol=1e-12)
    # one parameter set, many states; many parameter sets, one state
    loop = np.array([c.expectation(thetas[0], obs, s) for s in states])
    np.testing.assert_allclose(c.expectation(thetas[0], obs, states), loop, atol=1e-12)
    loop = np.array([c.gradient(t, obs, states[0], params=[0, 2]) for t in thetas])
    np.testing.assert_allclose(c.gradient(thetas, obs, states[0], params=[0, 2]), loop, atol=1e-12)
    with pytest.raises(ValueError, match="3 parameter sets for 2 initial states"):
        c.expectation(thetas, obs, states[:2])


def test_chunked_simulation_equals_unchunked(rng, monkeypatch):
    n = 4
    c, _ = random_circuit(rng, n)
    thetas = rng.uniform(0, 2 * np.pi, (7, c.n_params))
    want_e, want_g = c.expectation(thetas, "XZZI"), c.gradient(thetas, "XZZI")
    monkeypatch.setattr(circuits_module, "MAX_AMPLITUDES", 2**n * 2)  # two states per chunk
    np.testing.assert_allclose(c.expectation(thetas, "XZZI"), want_e, atol=1e-13)
    np.testing.assert_allclose(c.gradient(thetas, "XZZI"), want_g, atol=1e-13)
    np.testing.assert_allclose(c.gradient(thetas, "XZZI", method="adjoint"), want_g, atol=1e-13)


def test_diagonal_gates_fuse_without_changing_the_result(rng):
    c = Circuit(3)
    c.h(0), c.h(1), c.h(2)
    c.cz(0, 1), c.cz(1, 2), c.gate(np.diag(np.exp(1j * rng.normal(size=2))), [2])
    p = c.rx(1)
    theta = np.array([0.4])
    steps = c._compile()
    assert [s[0] for s in steps] == ["fixed", "fixed", "fixed", "diag", "block"]
    u = np.eye(8, dtype=complex)
    for m, q in [(G.H, [0]), (G.H, [1]), (G.H, [2]), (G.CZ, [0, 1]), (G.CZ, [1, 2]),
                 (c._ops[5][2], [2]), (G.rx(0.4), [1])]:
        u = embed(m, q, 3) @ u
    np.testing.assert_allclose(c.statevector(theta), u[:, 0], atol=1e-12)
    assert p == 0


def test_depth_counts_parallel_gates_once():
    c = Circuit(4)
    for q in range(4):
        c.ry(q)
    c.cz(0, 1), c.cz(2, 3), c.cz(1, 2)
    assert c.depth() == 3
    assert c.n_terms == 4


def test_bad_arguments_name_the_circuit():
    c = Circuit(2)
    c.ry(0)
    with pytest.raises(ValueError, match=r"Circuit: theta must be \(1,\) or \(B, 1\)"):
        c.expectation(np.zeros(2), "ZI")
    with pytest.raises(ValueError, match=r"Circuit.block: expected 2 distinct qubits"):
        c.su4([0, 0])
    with pytest.raises(ValueError, match="Circuit.gradient: params must be in"):
        c.gradient(np.zeros(1), "ZI", params=[3])
    with pytest.raises(ValueError, match="method must be 'shift' or 'adjoint'"):
        c.gradient(np.zeros(1), "ZI", method="fd")
    with pytest.raises(ValueError, match=r"Circuit: initial state must be \(4,\)"):
        c.expectation(np.zeros(1), "ZI", np.ones(8))
