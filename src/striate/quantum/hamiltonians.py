"""The cluster-Ising chain, its exact ground states and its string order parameter.

``H = -J sum_i Z_{i-1} X_i Z_{i+1} - h1 sum_i X_i - h2 sum_i X_i X_{i+1}`` (Cong, Choi and Lukin
2019, Eq. 2). At ``h1 = h2 = 0`` the ground state is the cluster state, in the Z2 x Z2
symmetry-protected topological (SPT) phase; along ``h2 = 0`` the model maps to two decoupled
transverse-field Ising chains, so the SPT / paramagnet transition is exactly at ``h1 = J``.

Boundary: periodic by default. On an open chain the SPT phase has edge modes, a fourfold
(quasi-)degenerate ground space split only by ``exp(-n / xi)``, and an eigensolver returns an
arbitrary, solver-dependent mixture of edge states; on a ring the ground state is unique and
translation invariant, which suits a weight-shared QCNN and makes the data reproducible.
``boundary="open"`` is available for comparison.

Exact diagonalisation: dense ``eigh`` up to 6 qubits (NumPy only), then
``scipy.sparse.linalg.eigsh`` (scipy is an optional dependency, imported when first needed).
"""
from __future__ import annotations

from functools import lru_cache

from ..backend import xp
from .simulator import expectation, pauli_permutation

__all__ = ["cluster_ising_terms", "pauli_sum_matrix", "ground_state", "ground_states",
           "string_order_operator", "string_order", "DENSE_MAX_QUBITS"]

#: Up to this many qubits ground states come from a dense eigh (NumPy only); beyond, sparse
#: Lanczos is faster (12 qubits: ~30 ms a point).
DENSE_MAX_QUBITS = 6


def _check(n_qubits: int, boundary: str, name: str) -> None:
    if not isinstance(n_qubits, int) or n_qubits < 3:
        raise ValueError(f"{name}: n_qubits must be an int >= 3, got {n_qubits!r}")
    if boundary not in ("periodic", "open"):
        raise ValueError(f"{name}: boundary must be 'periodic' or 'open', got {boundary!r}")


def _string(n: int, ops: dict[int, str]) -> str:
    return "".join(ops.get(q, "I") for q in range(n))


def cluster_ising_terms(n_qubits: int, h1: float, h2: float, J: float = 1.0,
                        boundary: str = "periodic") -> list[tuple[float, str]]:
    """The cluster-Ising Hamiltonian as ``(coefficient, Pauli string)`` pairs.

    Args:
        n_qubits (int): chain length, >= 3.
        h1, h2 (float): the X field and the XX coupling.
        J (float, default 1.0): the cluster coupling.
        boundary (str, default "periodic"): "periodic" or "open" (see the module docstring).

    >>> cluster_ising_terms(3, 0.5, 0.0, boundary="open")[:2]
    [(-1.0, 'ZXZ'), (-0.5, 'XII')]
    """
    _check(n_qubits, boundary, "cluster_ising_terms")
    n, ring = n_qubits, boundary == "periodic"
    sites = range(n) if ring else range(1, n - 1)
    terms = [(-J, _string(n, {(i - 1) % n: "Z", i: "X", (i + 1) % n: "Z"})) for i in sites]
    terms += [(-h1, _string(n, {i: "X"})) for i in range(n)]
    terms += [(-h2, _string(n, {i: "X", (i + 1) % n: "X"})) for i in range(n if ring else n - 1)]
    return [(float(c), p) for c, p in terms]


def pauli_sum_matrix(terms, n_qubits: int, sparse: bool = False):
    """The matrix of ``sum_k c_k P_k``: dense ndarray, or a scipy CSR matrix if ``sparse``.

    Each Pauli string is a signed permutation, so the matrix is assembled from
    ``pauli_permutation`` without any Kronecker products. Real when no string contains Y.
    """
    N = 2**n_qubits
    real = not any("Y" in p for _, p in terms)
    rows, cols, vals = [], [], []
    j = xp.arange(N)
    for c, p in terms:
        if len(p) != n_qubits:
            raise ValueError(f"pauli_sum_matrix: a {len(p)}-letter string for {n_qubits} qubits")
        perm, phase = pauli_permutation(p)
        rows.append(perm)
        cols.append(j)
        vals.append(c * (phase.real if real else phase))
    rows, cols, vals = xp.concatenate(rows), xp.concatenate(cols), xp.concatenate(vals)
    if not sparse:
        out = xp.zeros((N, N), dtype=vals.dtype)
        xp.add.at(out, (rows, cols), vals)
        return out
    sp = _scipy_sparse()
    return sp.coo_matrix((vals, (rows, cols)), shape=(N, N)).tocsr()


def _scipy_sparse():
    try:
        import scipy.sparse
        import scipy.sparse.linalg
    except ImportError as e:
        raise ImportError(
            "striate.quantum: ground states beyond 8 qubits use scipy.sparse.linalg.eigsh; "
            "install scipy (pip install 'striate[quantum]')"
        ) from e
    return scipy.sparse


@lru_cache(maxsize=8)
def _parts(n: int, boundary: str, sparse: bool):
    """The three coupling-free parts (cluster, X field, XX) so each point costs one sum."""
    def part(h1, h2, J):
        terms = cluster_ising_terms(n, h1, h2, J, boundary)
        return pauli_sum_matrix([t for t in terms if t[0] != 0.0], n, sparse)

    return part(0.0, 0.0, 1.0), part(1.0, 0.0, 0.0), part(0.0, 1.0, 0.0)


def ground_state(n_qubits: int, h1: float, h2: float, J: float = 1.0,
                 boundary: str = "periodic", method: str = "auto"):
    """Ground-state energy and state of the cluster-Ising chain by exact diagonalisation.

    Args:
        n_qubits (int): chain length.
        h1, h2, J, boundary: see :func:`cluster_ising_terms`.
        method (str, default "auto"): "dense" (``numpy.linalg.eigh``), "sparse" (scipy
            ``eigsh``) or "auto" (dense up to ``DENSE_MAX_QUBITS`` qubits).

    Returns:
        ``(energy, state)``: float and a ``(2**n,)`` complex128 unit vector (global phase fixed
        so that its largest entry is real and positive).

    >>> import numpy as np
    >>> e, psi = ground_state(4, 0.0, 0.0)
    >>> round(e, 6)
    -4.0
    """
    _check(n_qubits, boundary, "ground_state")
    if method not in ("auto", "dense", "sparse"):
        raise ValueError(
            f"ground_state: method must be 'auto', 'dense' or 'sparse', got {method!r}")
    sparse = method == "sparse" or (method == "auto" and n_qubits > DENSE_MAX_QUBITS)
    a, b, c = _parts(n_qubits, boundary, sparse)
    H = J * a + h1 * b + h2 * c  # the parts carry the minus signs
    if sparse:
        v0 = xp.random.default_rng(0).normal(size=H.shape[0])  # fixed start: reproducible
        w, v = _scipy_sparse().linalg.eigsh(H, k=1, which="SA", v0=v0, tol=1e-10)
    else:
        w, v = xp.linalg.eigh(H)
    psi = v[:, 0].astype(xp.complex128)
    psi *= xp.sign(psi[xp.argmax(xp.abs(psi))].real)
    return float(w[0]), psi / xp.linalg.norm(psi)


def ground_states(n_qubits: int, points, J: float = 1.0, boundary: str = "periodic",
                  progress=None):
    """Ground states at many ``(h1, h2)`` points: ``(energies (S,), states (S, 2**n))``.

    ``progress`` is an optional wrapper for the iterator (e.g. ``tqdm``).
    """
    points = [(float(h1), float(h2)) for h1, h2 in points]
    it = points if progress is None else progress(points)
    out = [ground_state(n_qubits, h1, h2, J, boundary) for h1, h2 in it]
    return xp.array([e for e, _ in out]), xp.stack([s for _, s in out])


def string_order_operator(n_qubits: int) -> str:
    """The string ``Z_a X_{a+1} X_{a+3} ... X_{b-1} Z_b`` over about half the chain, centred.

    It is the product of the cluster stabilisers ``Z X Z`` at sites ``a+1, a+3, ..., b-1``, so it
    is +1 in the cluster state and decays to 0 outside the SPT phase. ``b - a = 2 ceil(n / 4)``.

    >>> string_order_operator(8)
    'IIZXIXZI'
    """
    L = 2 * -(-n_qubits // 4)
    a = (n_qubits - L) // 2
    ops = {a: "Z", a + L: "Z"}
    ops.update({i: "X" for i in range(a + 1, a + L, 2)})
    return _string(n_qubits, ops)


def string_order(states):
    """The string order parameter ``<S>`` of each state ``(S, 2**n) -> (S,)``."""
    n = states.shape[-1].bit_length() - 1
    return expectation(states, string_order_operator(n))
