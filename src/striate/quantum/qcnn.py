"""The quantum convolutional neural network and the hardware-efficient ansatz for comparison."""
from __future__ import annotations

from ..backend import rng as global_rng
from ..backend import xp
from . import gates as G
from .circuits import Circuit

__all__ = ["QCNN", "hardware_efficient_ansatz", "CONV_BLOCKS", "POOL_BLOCKS"]

#: Two-qubit convolution blocks: name -> Pauli-rotation terms. "su4" is the general 15-parameter
#: unitary; "ryzz" (RY x RY then RZZ, 3 parameters) is a cheap, less expressive one.
CONV_BLOCKS = {"su4": G.SU4_TERMS, "ryzz": (("YI", 0), ("IY", 1), ("ZZ", 2))}
#: Pooling gates on (discarded control, kept target): "controlled" applies V0 or V1 to the target
#: depending on the control (6 parameters); "cnot" is a fixed CNOT (no parameters).
POOL_BLOCKS = {"controlled": G.POOL_TERMS, "cnot": None}


class QCNN:
    """A quantum CNN: shared-weight convolutions and pooling that halves the qubits, O(log n) deep.

    Each level applies a convolution, two rows of two-qubit blocks on neighbouring active qubits in
    a brick pattern (pairs (a0,a1),(a2,a3),... then (a1,a2),(a3,a4),...; open chain), every row
    sharing one set of weights like a classical conv kernel; then pooling, where each pair
    (a_2i, a_2i+1) gets a controlled gate from the discarded a_2i to the kept a_2i+1 (an odd one
    out is kept). By deferred measurement the discarded qubits are simply never touched again.
    Levels repeat while more than two qubits are active; a final block acts on the last two and
    ``<Z>`` is measured on the last kept qubit. Cong, Choi and Lukin, Nature Physics 15, 1273
    (2019), https://arxiv.org/abs/1810.03787; Pesah et al., PRX 11, 041011 (2021).

    Args:
        n_qubits (int): number of input qubits, >= 2.
        conv (str, default "su4"): block of the convolutions and the final layer (``CONV_BLOCKS``).
        pool (str, default "controlled"): pooling gate (``POOL_BLOCKS``).

    Attributes:
        circuit (Circuit): the circuit; ``n_params`` parameters.
        levels (list of list of int): active qubits at each level; the last is ``[measured]``.
        groups (dict): parameter indices per layer (``"conv0.even"``, ``"conv0.odd"``, ``"pool0"``,
            ..., ``"final"``); each group's size depends on the layer type only, not on ``n``.

    Shape:
        ``theta``: ``(n_params,)`` or ``(B, n_params)``; ``states``: ``(S, 2**n)`` -> ``(S,)``.
        ``levels`` has ``ceil(log2 n) + 1`` entries (8 qubits: 8 -> 4 -> 2 -> 1); depth
        ``3 (ceil(log2 n) - 1) + 1`` blocks for n a power of two; ``n_params = 36 L + 15`` with
        ``L = ceil(log2 n) - 1`` conv/pool levels.

    >>> import numpy as np
    >>> model = QCNN(4)
    >>> theta = model.init_params(np.random.default_rng(0))
    >>> model.expectation(theta).shape, model.levels
    ((), [[0, 1, 2, 3], [1, 3], [3]])
    """

    def __init__(self, n_qubits: int, conv: str = "su4", pool: str = "controlled"):
        if not isinstance(n_qubits, int) or n_qubits < 2:
            raise ValueError(f"QCNN: n_qubits must be an int >= 2, got {n_qubits!r}")
        if conv not in CONV_BLOCKS:
            raise ValueError(f"QCNN: conv must be one of {sorted(CONV_BLOCKS)}, got {conv!r}")
        if pool not in POOL_BLOCKS:
            raise ValueError(f"QCNN: pool must be one of {sorted(POOL_BLOCKS)}, got {pool!r}")
        self.n_qubits, self.conv, self.pool = n_qubits, conv, pool
        self.circuit = c = Circuit(n_qubits)
        self.groups: dict[str, list[int]] = {}
        self.levels = [list(range(n_qubits))]
        terms = CONV_BLOCKS[conv]
        active, level = self.levels[0], 0
        while len(active) > 2:
            for row, start in (("even", 0), ("odd", 1)):
                shared = None
                for i in range(start, len(active) - 1, 2):
                    shared = c.block(terms, [active[i], active[i + 1]], shared)
                self.groups[f"conv{level}.{row}"] = shared
            shared = None
            for i in range(0, len(active) - 1, 2):
                if POOL_BLOCKS[pool] is None:
                    c.cnot(active[i], active[i + 1])
                else:
                    shared = c.block(POOL_BLOCKS[pool], [active[i], active[i + 1]], shared)
            self.groups[f"pool{level}"] = shared or []
            active = active[1::2] + ([active[-1]] if len(active) % 2 else [])
            self.levels.append(active)
            level += 1
        self.groups["final"] = c.block(terms, active)
        self.measured = active[-1]
        self.levels.append([self.measured])
        self.observable = "".join("Z" if q == self.measured else "I" for q in range(n_qubits))

    @property
    def n_params(self) -> int:
        return self.circuit.n_params

    def depth(self) -> int:
        """Circuit depth in two-qubit blocks (see :meth:`Circuit.depth`)."""
        return self.circuit.depth()

    def init_params(self, rng=None):
        """Angles drawn uniformly from ``[0, 2 pi)``: ``(n_params,)`` float64."""
        return (global_rng() if rng is None else rng).uniform(0, 2 * xp.pi, self.n_params)

    def expectation(self, theta, states=None):
        """``<Z>`` on the measured qubit after the QCNN; ``states`` default ``|0...0>``."""
        return self.circuit.expectation(theta, self.observable, states)

    def gradient(self, theta, states=None, params=None, method: str = "shift"):
        """Exact gradient of :meth:`expectation`; parameter shift (``Circuit.gradient``)."""
        return self.circuit.gradient(theta, self.observable, states, params, method)

    def predict_proba(self, theta, states):
        """Probability of measuring 1 on the output qubit, ``(1 - <Z>) / 2``."""
        return (1.0 - self.expectation(theta, states)) / 2

    def __repr__(self) -> str:
        return (f"QCNN(n_qubits={self.n_qubits}, conv={self.conv!r}, pool={self.pool!r}, "
                f"n_params={self.n_params}, depth={self.depth()})")


def hardware_efficient_ansatz(n_qubits: int, layers: int) -> Circuit:
    """A hardware-efficient ansatz: per layer, RY then RZ on every qubit, then a CZ ladder.

    The CZs act on (0,1),(2,3),... then (1,2),(3,4),... (they commute, so this is the usual ladder
    with depth 2). Parameter ``2 (layer n + q) + {0: RY, 1: RZ}``; none are shared. With
    ``layers`` proportional to ``n`` the depth grows linearly with ``n`` and random parameters
    approach a 2-design: the barren-plateau regime of McClean et al., Nature Communications 9,
    4812 (2018), https://arxiv.org/abs/1803.11173.

    Args:
        n_qubits (int): number of qubits.
        layers (int): number of layers, >= 1.

    Shape:
        ``n_params = 2 * layers * n_qubits``; depth ``3 * layers`` (for ``n_qubits >= 3``).

    >>> hardware_efficient_ansatz(4, 2).n_params
    16
    """
    if not isinstance(layers, int) or layers < 1:
        raise ValueError(f"hardware_efficient_ansatz: layers must be an int >= 1, got {layers!r}")
    c = Circuit(n_qubits)
    for _ in range(layers):
        for q in range(n_qubits):
            c.block((("Y", 0), ("Z", 1)), [q])
        for start in (0, 1):
            for q in range(start, n_qubits - 1, 2):
                c.cz(q, q + 1)
    return c
