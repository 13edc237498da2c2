"""Exact statevector simulation on NumPy: states, gate application and Pauli expectations.

A state of ``n`` qubits is a complex128 vector of ``2**n`` amplitudes, or a batch ``(B, 2**n)``.
Qubit 0 is the most significant bit of a basis index: a product state is ``np.kron(q0, q1, ...)``.
A ``k``-qubit gate is applied by viewing the state as ``(B, 2, ..., 2)`` and contracting only the
``k`` target axes (matmul / einsum): ``O(B 2**n 2**k)`` work, never a ``2**n x 2**n`` matrix.
"""
from __future__ import annotations

from functools import lru_cache

from ..backend import xp

__all__ = [
    "zero_state", "num_qubits", "apply_gate", "apply_diagonal", "pauli_permutation",
    "apply_pauli", "expectation", "parse_observable",
]


def zero_state(n_qubits: int, batch: int | None = None):
    """The all-zeros basis state ``|0...0>``.

    Args:
        n_qubits (int): number of qubits ``n``.
        batch (int, optional): if given, return ``batch`` copies. Default: None (one state).

    Shape:
        Output: ``(2**n,)`` or ``(batch, 2**n)``, complex128.

    >>> zero_state(2)
    array([1.+0.j, 0.+0.j, 0.+0.j, 0.+0.j])
    """
    if not isinstance(n_qubits, int) or n_qubits < 1:
        raise ValueError(f"zero_state: n_qubits must be a positive int, got {n_qubits!r}")
    psi = xp.zeros((1 if batch is None else batch, 2**n_qubits), dtype=xp.complex128)
    psi[:, 0] = 1.0
    return psi[0] if batch is None else psi


def num_qubits(state) -> int:
    """Number of qubits of a state ``(2**n,)`` or batch ``(B, 2**n)``; ValueError otherwise."""
    size = state.shape[-1] if getattr(state, "ndim", 0) in (1, 2) else 0
    n = size.bit_length() - 1
    if size < 2 or size != 2**n:
        raise ValueError(
            f"statevector: expected shape (2**n,) or (B, 2**n), got {getattr(state, 'shape', None)}"
        )
    return n


def apply_gate(state, gate, qubits):
    """Apply a ``k``-qubit gate to the given qubits of a state or a batch of states.

    Args:
        state (array): ``(2**n,)`` or ``(B, 2**n)``.
        gate (array): ``(2**k, 2**k)`` shared by the batch, or ``(B, 2**k, 2**k)``, one per state
            (then a single state is broadcast to the batch). Its first qubit is ``qubits[0]``.
        qubits (sequence of int): ``k`` distinct target qubits.

    Shape:
        Output: ``(B, 2**n)`` (or ``(2**n,)`` for an unbatched state and gate).

    >>> import numpy as np
    >>> from striate.quantum.gates import CNOT, H
    >>> bell = apply_gate(apply_gate(zero_state(2), H, [0]), CNOT, [0, 1])
    >>> np.round(bell.real, 3)
    array([0.707, 0.   , 0.   , 0.707])
    """
    n = num_qubits(state)
    qubits = tuple(int(q) for q in qubits)
    k, d = len(qubits), 2 ** len(qubits)
    if len(set(qubits)) != k or not all(0 <= q < n for q in qubits):
        raise ValueError(f"apply_gate: qubits must be distinct in [0, {n}), got {qubits}")
    if gate.shape[-2:] != (d, d) or gate.ndim not in (2, 3):
        raise ValueError(f"apply_gate: a gate on {k} qubit(s) must be ({d}, {d}) or (B, {d}, {d}), "
                         f"got {gate.shape}")
    single = state.ndim == 1 and gate.ndim == 2
    psi = state.reshape(-1, 2**n)
    if gate.ndim == 3 and psi.shape[0] != gate.shape[0]:
        if psi.shape[0] != 1:
            raise ValueError(f"apply_gate: {gate.shape[0]} gates for {psi.shape[0]} states")
        psi = xp.broadcast_to(psi, (gate.shape[0], 2**n))
    B = psi.shape[0]
    q0 = min(qubits)
    if qubits == tuple(range(q0, q0 + k)):  # contiguous, ordered targets
        shape = (B, 2**q0, d, 2 ** (n - q0 - k))
        x = psi.reshape(shape).transpose(0, 1, 3, 2)
        y = _matmul_last(x, gate).transpose(0, 1, 3, 2)
    elif k == 2:
        a, b = sorted(qubits)
        if qubits[0] > qubits[1]:  # the gate's first qubit is the later axis: swap its factors
            gate = (gate.reshape(gate.shape[:-2] + (2, 2, 2, 2)).swapaxes(-4, -3)
                    .swapaxes(-2, -1).reshape(gate.shape))
        shape = (B, 2**a, 2, 2 ** (b - a - 1), 2, 2 ** (n - b - 1))
        x = psi.reshape(shape).transpose(0, 1, 3, 5, 2, 4)
        y = _matmul_last(x, gate).transpose(0, 1, 4, 2, 5, 3)
    else:  # any k: move the targets last (in gate order), one product, move them back
        axes = [q + 1 for q in qubits]
        x = xp.moveaxis(psi.reshape((B,) + (2,) * n), axes, list(range(n + 1 - k, n + 1)))
        y = xp.moveaxis(_matmul_last(x, gate), list(range(n + 1 - k, n + 1)), axes)
    y = y.reshape(B, 2**n)
    return y[0] if single else y


def _matmul_last(x, gate):
    """``gate`` on the last ``log2(d)`` axes of ``x (B, ..., 2, ..., 2)``: ``x @ gate.T``.

    The target axes were moved last, so the product is one GEMM for a shared gate, or one
    ``(rest, d) @ (d, d)`` GEMM per state for a batch of gates; a product per leading index
    would make a tiny GEMM per amplitude block, far slower when the targets are the last qubits.
    """
    B, d = x.shape[0], gate.shape[-1]
    if gate.ndim == 2:
        y = x.reshape(-1, d) @ gate.T
    else:
        y = xp.matmul(x.reshape(B, -1, d), gate.swapaxes(-1, -2))
    return y.reshape(x.shape)


def apply_diagonal(state, diag):
    """Multiply by a diagonal gate on all qubits, given as its ``2**n`` diagonal entries."""
    if diag.shape != (state.shape[-1],):
        raise ValueError(f"apply_diagonal: expected a diagonal of shape ({state.shape[-1]},), "
                         f"got {diag.shape}")
    return state * diag


@lru_cache(maxsize=256)
def pauli_permutation(pauli: str):
    """Index map and phases of a Pauli string: ``(P psi)[perm[j]] = phase[j] * psi[j]``.

    A Pauli string maps each basis state to one basis state (X and Y flip bits) times a phase
    (Z and Y give signs, Y also a factor i), so it never needs a matrix.

    Returns:
        ``(perm, phase)``: int64 and complex128 arrays of length ``2**len(pauli)`` (read-only).

    >>> perm, phase = pauli_permutation("XZ")
    >>> perm.tolist(), phase.real.tolist()
    ([2, 3, 0, 1], [1.0, -1.0, 1.0, -1.0])
    """
    if not isinstance(pauli, str) or not pauli or any(c not in "IXYZ" for c in pauli):
        raise ValueError(f"pauli: expected a non-empty string over 'IXYZ', got {pauli!r}")
    n = len(pauli)
    bit = {q: 1 << (n - 1 - q) for q in range(n)}
    flip = sum(bit[q] for q, c in enumerate(pauli) if c in "XY")
    sign = sum(bit[q] for q, c in enumerate(pauli) if c in "YZ")
    j = xp.arange(2**n, dtype=xp.int64)
    parity = xp.zeros(2**n, dtype=xp.int64)
    masked = j & sign
    while masked.any():  # popcount parity of (j & sign)
        parity ^= masked & 1
        masked >>= 1
    phase = (1j ** pauli.count("Y")) * (1 - 2 * parity).astype(xp.complex128)
    perm = j ^ flip
    perm.flags.writeable = False
    phase.flags.writeable = False
    return perm, phase


def apply_pauli(state, pauli: str):
    """``P |psi>`` for a Pauli string ``P`` over all qubits; same shape as ``state``."""
    if len(pauli) != num_qubits(state):
        raise ValueError(f"apply_pauli: a {len(pauli)}-letter Pauli string for a "
                         f"{num_qubits(state)}-qubit state")
    perm, phase = pauli_permutation(pauli)
    out = xp.empty_like(state)
    out[..., perm] = phase * state
    return out


def parse_observable(observable, n_qubits: int) -> list[tuple[float, str]]:
    """Normalise an observable to a list of ``(coefficient, Pauli string)``.

    Accepts a Pauli string (``"IIZ"``), a dict ``{qubit: letter}`` (``{2: "Z"}``) or a list of
    ``(coefficient, string)``; every string must have ``n_qubits`` letters.
    """
    if isinstance(observable, dict):
        if not all(isinstance(q, int) and 0 <= q < n_qubits for q in observable):
            raise ValueError(f"observable: qubits must be in [0, {n_qubits}), got "
                             f"{sorted(observable)}")
        observable = "".join(observable.get(q, "I") for q in range(n_qubits))
    terms = [(1.0, observable)] if isinstance(observable, str) else list(observable)
    out = []
    for term in terms:
        if not (isinstance(term, tuple) and len(term) == 2 and isinstance(term[1], str)):
            raise TypeError(f"observable: expected a Pauli string, a dict or (coeff, string) "
                            f"pairs, got {term!r}")
        c, p = term
        if len(p) != n_qubits or any(ch not in "IXYZ" for ch in p):
            raise ValueError(f"observable: expected a {n_qubits}-letter string over 'IXYZ', "
                             f"got {p!r}")
        out.append((float(c), p))
    return out


def expectation(state, observable):
    """``<psi| O |psi>`` for a Pauli string or a weighted sum of Pauli strings.

    Args:
        state (array): ``(2**n,)`` or ``(B, 2**n)``, normalised.
        observable: see :func:`parse_observable`.

    Shape:
        Output: ``()`` or ``(B,)``, float64.

    >>> float(expectation(zero_state(2), "ZI"))
    1.0
    """
    n = num_qubits(state)
    total = xp.zeros(state.shape[:-1], dtype=xp.float64)
    for c, p in parse_observable(observable, n):
        perm, phase = pauli_permutation(p)
        if "X" in p or "Y" in p:
            val = xp.sum(state[..., perm].conj() * phase * state, axis=-1).real
        else:  # diagonal: a weighted sum of probabilities
            val = (state.real**2 + state.imag**2) @ phase.real
        total = total + c * val
    return total
