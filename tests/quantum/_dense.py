"""Brute-force dense references for the quantum tests: matrices built entry by entry or by kron."""
from functools import reduce

import numpy as np

P = {"I": np.eye(2), "X": np.array([[0, 1], [1, 0]]), "Y": np.array([[0, -1j], [1j, 0]]),
     "Z": np.diag([1.0, -1.0])}


def pauli(string):
    """kron of single-qubit Paulis, first letter = first (most significant) qubit."""
    return reduce(np.kron, [P[c] for c in string]).astype(complex)


def embed(gate, qubits, n):
    """The 2**n x 2**n matrix of ``gate`` acting on ``qubits`` (in that order), built entry by
    entry from basis states, independent of the simulator's reshapes."""
    N, k = 2**n, len(qubits)
    full = np.zeros((N, N), dtype=complex)
    for col in range(N):
        bits = [(col >> (n - 1 - q)) & 1 for q in range(n)]
        sub_in = sum(bits[q] << (k - 1 - i) for i, q in enumerate(qubits))
        for sub_out in range(2**k):
            out = list(bits)
            for i, q in enumerate(qubits):
                out[q] = (sub_out >> (k - 1 - i)) & 1
            row = sum(b << (n - 1 - q) for q, b in enumerate(out))
            full[row, col] += gate[sub_out, sub_in]
    return full


def expm_pauli(string, theta):
    """exp(-i theta P / 2) by diagonalising P (not the cos/sin identity the library uses)."""
    w, v = np.linalg.eigh(pauli(string))
    return v @ np.diag(np.exp(-0.5j * theta * w)) @ v.conj().T


def random_state(rng, n, batch=None):
    shape = (2**n,) if batch is None else (batch, 2**n)
    psi = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    return psi / np.linalg.norm(psi, axis=-1, keepdims=True)
