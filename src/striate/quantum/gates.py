"""Quantum gates as complex128 matrices: Pauli rotations, fixed gates and the two QCNN blocks.

Every parameterised gate here is a product of Pauli rotations ``exp(-i theta P / 2)`` with ``P`` a
Pauli string (eigenvalues +-1), so the two-term parameter-shift rule holds for every parameter:
``dC/dtheta = (C(theta + pi/2) - C(theta - pi/2)) / 2``.

Qubit order: in a string ``"XZ"`` the first letter acts on the first qubit, which is the most
significant bit of a basis index (the first factor of ``np.kron``).
"""
from __future__ import annotations

from functools import reduce

from ..backend import xp

__all__ = [
    "PAULI", "pauli_matrix", "pauli_rotation", "rx", "ry", "rz", "compose", "su4",
    "controlled_pool", "SU4_TERMS", "POOL_TERMS", "I2", "H", "CZ", "CNOT", "SWAP",
]

PAULI = {
    "I": xp.array([[1, 0], [0, 1]], dtype=xp.complex128),
    "X": xp.array([[0, 1], [1, 0]], dtype=xp.complex128),
    "Y": xp.array([[0, -1j], [1j, 0]], dtype=xp.complex128),
    "Z": xp.array([[1, 0], [0, -1]], dtype=xp.complex128),
}
I2 = PAULI["I"]
H = xp.array([[1, 1], [1, -1]], dtype=xp.complex128) / xp.sqrt(2.0)
CZ = xp.diag(xp.array([1, 1, 1, -1], dtype=xp.complex128))
CNOT = xp.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=xp.complex128)
SWAP = xp.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=xp.complex128)

#: The 15-parameter two-qubit unitary in circuit order (first term acts first), after the KAK /
#: Cartan decomposition U = (A1 x A2) exp(-i (a XX + b YY + c ZZ) / 2) (A3 x A4), with each
#: single-qubit Ai written as Euler angles RZ RY RZ. XX, YY and ZZ commute, so the middle factor
#: is the product of three Pauli rotations. Each entry is (Pauli string, parameter index).
#: https://arxiv.org/abs/quant-ph/0209120 (Khaneja-Glaser), https://arxiv.org/abs/quant-ph/0308006
SU4_TERMS = (
    ("ZI", 0), ("YI", 1), ("ZI", 2), ("IZ", 3), ("IY", 4), ("IZ", 5),
    ("XX", 6), ("YY", 7), ("ZZ", 8),
    ("ZI", 9), ("YI", 10), ("ZI", 11), ("IZ", 12), ("IY", 13), ("IZ", 14),
)
#: The 6-parameter pooling gate on (control, target): |0><0| x V0 + |1><1| x V1 with
#: V_b = RZ(t4 +- t5) RY(t2 +- t3) RZ(t0 +- t1), sign (-1)^b. Written with the commuting Pauli
#: rotations IP and ZP, because a controlled rotation exp(-i t |1><1| x P / 2) has three distinct
#: eigenvalues and would need a four-term shift rule.
POOL_TERMS = (("IZ", 0), ("ZZ", 1), ("IY", 2), ("ZY", 3), ("IZ", 4), ("ZZ", 5))


def pauli_matrix(pauli: str):
    """Dense matrix of a Pauli string, e.g. ``pauli_matrix("XZ")`` is ``kron(X, Z)``.

    Args:
        pauli (str): letters from ``IXYZ``; letter ``k`` acts on qubit ``k``.

    Shape:
        Output: ``(2**len(pauli), 2**len(pauli))``, complex128.

    >>> pauli_matrix("ZZ").real.diagonal()
    array([ 1., -1., -1.,  1.])
    """
    if not isinstance(pauli, str) or not pauli or any(c not in PAULI for c in pauli):
        raise ValueError(f"pauli_matrix: expected a non-empty string over 'IXYZ', got {pauli!r}")
    return reduce(xp.kron, [PAULI[c] for c in pauli])


def pauli_rotation(pauli: str, theta):
    """``exp(-i theta P / 2) = cos(theta/2) I - i sin(theta/2) P`` for a Pauli string ``P``.

    Args:
        pauli (str): the Pauli string ``P``.
        theta (float or array): angles; any leading shape is kept (a batch of gates).

    Shape:
        Output: ``theta.shape + (2**k, 2**k)`` for a ``k``-letter string.

    >>> import numpy as np
    >>> np.allclose(pauli_rotation("X", np.pi), [[0, -1j], [-1j, 0]])
    True
    """
    p = pauli_matrix(pauli)
    t = xp.asarray(theta, dtype=xp.float64)[..., None, None] / 2
    return xp.cos(t) * xp.eye(p.shape[0], dtype=xp.complex128) - 1j * xp.sin(t) * p


def rx(theta):
    """``RX(theta) = exp(-i theta X / 2)``; batched over ``theta`` like :func:`pauli_rotation`."""
    return pauli_rotation("X", theta)


def ry(theta):
    """``RY(theta) = exp(-i theta Y / 2)``; batched over ``theta`` like :func:`pauli_rotation`."""
    return pauli_rotation("Y", theta)


def rz(theta):
    """``RZ(theta) = exp(-i theta Z / 2)``; batched over ``theta`` like :func:`pauli_rotation`."""
    return pauli_rotation("Z", theta)


def compose(terms, angles):
    """The product of Pauli rotations ``R_last ... R_1 R_0`` (the first term acts first).

    Args:
        terms: sequence of ``(pauli, index)``; all strings have the same length ``k``.
        angles (array): ``(..., n_angles)``; term ``j`` uses ``angles[..., index_j]``.

    Shape:
        Output: ``angles.shape[:-1] + (2**k, 2**k)``.

    >>> import numpy as np
    >>> np.allclose(compose([("Z", 0), ("Z", 1)], np.array([0.3, 0.4])), rz(0.7))
    True
    """
    angles = xp.asarray(angles, dtype=xp.float64)
    u = None
    for pauli, j in terms:
        r = pauli_rotation(pauli, angles[..., j])
        u = r if u is None else r @ u
    return u


def _check_params(name: str, params, count: int):
    params = xp.asarray(params, dtype=xp.float64)
    if params.ndim == 0 or params.shape[-1] != count:
        raise ValueError(f"{name}: expected parameters of shape (..., {count}), got {params.shape}")
    return params


def su4(params):
    """A general two-qubit unitary from 15 angles (KAK decomposition, see ``SU4_TERMS``).

    Args:
        params (array): ``(..., 15)`` angles in radians.

    Shape:
        Output: ``params.shape[:-1] + (4, 4)``, complex128, determinant 1.

    >>> import numpy as np
    >>> u = su4(np.random.default_rng(0).uniform(0, 2 * np.pi, 15))
    >>> np.allclose(u.conj().T @ u, np.eye(4))
    True
    """
    return compose(SU4_TERMS, _check_params("su4", params, 15))


def controlled_pool(params):
    """The QCNN pooling gate ``|0><0| x V0 + |1><1| x V1`` on (control, target); 6 angles.

    By deferred measurement this equals measuring the control and applying ``V_outcome`` to the
    target. See ``POOL_TERMS`` for the parameterisation.

    Shape:
        Output: ``params.shape[:-1] + (4, 4)``.

    >>> import numpy as np
    >>> u = controlled_pool(np.zeros(6))
    >>> np.allclose(u, np.eye(4))
    True
    """
    return compose(POOL_TERMS, _check_params("controlled_pool", params, 6))
