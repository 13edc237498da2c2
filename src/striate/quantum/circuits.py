"""Parameterised circuits: Pauli-rotation blocks with shared parameters, and parameter shift.

A :class:`Circuit` is a list of ops. A *block* is a product of Pauli rotations
``exp(-i c theta_p P / 2)`` on one or two qubits (a single rotation, an SU(4) unitary, a pooling
gate); every rotation is a *term* that reads parameter ``p`` with coefficient ``c``, and many terms
may read the same parameter (weight sharing). Fixed gates (CZ, CNOT, H) have no parameters;
consecutive diagonal ones are fused into a single ``2**n`` phase vector.

Because every term has a Pauli generator, the exact gradient is the two-term parameter-shift rule
summed over the terms that read the parameter (chain rule):
``dC/dtheta_p = sum_t c_t (C(phi_t + pi/2) - C(phi_t - pi/2)) / 2``.
The shifted circuits run batched (``gradients.py``); ``method="adjoint"`` gives the same gradient
by reverse mode. https://arxiv.org/abs/1811.11184 (Schuld et al. 2019)
"""
from __future__ import annotations

from collections.abc import Sequence

from ..backend import xp
from . import gates as G
from .gradients import adjoint, parameter_shift
from .simulator import apply_diagonal, apply_gate, expectation, parse_observable

__all__ = ["Circuit"]

#: Amplitudes simulated at once; larger batches are split (16 MiB of complex128 per chunk;
#: measured a little faster than 4 or 64 MiB chunks at 12 qubits).
MAX_AMPLITUDES = 2**20


class Circuit:
    """A parameterised quantum circuit on ``n_qubits`` qubits, with shared parameters.

    Args:
        n_qubits (int): number of qubits.

    Shape:
        ``theta``: ``(P,)`` or a batch ``(B, P)`` with ``P = n_params``. ``initial``: None
        (``|0...0>``), ``(2**n,)`` or ``(S, 2**n)``. With both batched, ``B == S`` (pairs).
        ``expectation`` returns ``()``, ``(B,)`` or ``(S,)``; ``gradient`` adds a last axis of size
        ``len(params)``.

    >>> import numpy as np
    >>> c = Circuit(1)
    >>> p = c.ry(0)
    >>> theta = np.array([0.3])
    >>> np.allclose(c.expectation(theta, "Z"), np.cos(0.3))
    True
    >>> np.allclose(c.gradient(theta, "Z"), [-np.sin(0.3)])
    True
    """

    def __init__(self, n_qubits: int):
        if not isinstance(n_qubits, int) or n_qubits < 1:
            raise ValueError(f"Circuit: n_qubits must be a positive int, got {n_qubits!r}")
        self.n_qubits = n_qubits
        self.n_params = 0
        self._ops: list[tuple] = []  # ("block", qubits, term ids) or ("fixed", qubits, matrix)
        self._terms: list[tuple[str, int, float]] = []  # (pauli, param, coeff)
        self._steps = None

    # ---- building ----
    def new_params(self, count: int = 1) -> list[int]:
        """Reserve ``count`` fresh parameters and return their indices."""
        ids = list(range(self.n_params, self.n_params + count))
        self.n_params += count
        return ids

    def _check_qubits(self, qubits, k: int, name: str) -> tuple[int, ...]:
        qubits = tuple(int(q) for q in qubits)
        if len(qubits) != k or len(set(qubits)) != k or not all(
                0 <= q < self.n_qubits for q in qubits):
            raise ValueError(f"Circuit.{name}: expected {k} distinct qubits in "
                             f"[0, {self.n_qubits}), got {qubits}")
        return qubits

    def block(self, terms, qubits, params: Sequence[int] | None = None,
              coeffs: Sequence[float] | None = None) -> list[int]:
        """Append a product of Pauli rotations on ``qubits`` (the first term acts first).

        Args:
            terms: sequence of ``(pauli, local_index)``; each string has ``len(qubits)`` letters.
            qubits: the qubits the block acts on.
            params (sequence of int, optional): global parameter for each local index; None
                reserves fresh ones. Passing the indices of an earlier block shares its weights.
            coeffs (sequence of float, optional): per-term coefficients ``c``. Default all 1.

        Returns:
            The global parameter indices, one per local index.
        """
        if not terms:
            raise ValueError("Circuit.block: expected at least one (pauli, index) term")
        qubits = self._check_qubits(qubits, len(terms[0][0]), "block")
        count = max(j for _, j in terms) + 1
        if params is None:
            params = self.new_params(count)
        params = [int(p) for p in params]
        if len(params) != count or not all(0 <= p < self.n_params for p in params):
            raise ValueError(f"Circuit.block: expected {count} parameter indices in "
                             f"[0, {self.n_params}), got {params}")
        coeffs = [1.0] * len(terms) if coeffs is None else [float(c) for c in coeffs]
        ids = []
        for (pauli, j), c in zip(terms, coeffs):
            if len(pauli) != len(qubits):
                raise ValueError(f"Circuit.block: term {pauli!r} does not fit qubits {qubits}")
            ids.append(len(self._terms))
            self._terms.append((pauli, params[j], c))
        self._ops.append(("block", qubits, ids))
        self._steps = None
        return params

    def rotation(self, pauli: str, qubits, param: int | None = None, coeff: float = 1.0) -> int:
        """Append ``exp(-i coeff theta_param P / 2)``; returns the parameter index."""
        return self.block([(pauli, 0)], qubits, None if param is None else [param], [coeff])[0]

    def rx(self, qubit: int, param: int | None = None) -> int:
        """Append ``RX(theta)`` on ``qubit``; returns the parameter index."""
        return self.rotation("X", [qubit], param)

    def ry(self, qubit: int, param: int | None = None) -> int:
        """Append ``RY(theta)`` on ``qubit``; returns the parameter index."""
        return self.rotation("Y", [qubit], param)

    def rz(self, qubit: int, param: int | None = None) -> int:
        """Append ``RZ(theta)`` on ``qubit``; returns the parameter index."""
        return self.rotation("Z", [qubit], param)

    def su4(self, qubits, params: Sequence[int] | None = None) -> list[int]:
        """Append a general two-qubit unitary (15 parameters, ``gates.SU4_TERMS``)."""
        return self.block(G.SU4_TERMS, qubits, params)

    def pool(self, control: int, target: int, params: Sequence[int] | None = None) -> list[int]:
        """Append the controlled pooling gate (6 parameters, ``gates.POOL_TERMS``)."""
        return self.block(G.POOL_TERMS, [control, target], params)

    def gate(self, matrix, qubits) -> None:
        """Append a fixed (parameter-free) unitary on ``qubits``."""
        matrix = xp.asarray(matrix, dtype=xp.complex128)
        qubits = self._check_qubits(qubits, int(matrix.shape[0]).bit_length() - 1, "gate")
        if matrix.shape != (2 ** len(qubits),) * 2:
            raise ValueError(f"Circuit.gate: matrix {matrix.shape} does not fit qubits {qubits}")
        self._ops.append(("fixed", qubits, matrix))
        self._steps = None

    def cz(self, a: int, b: int) -> None:
        """Append a controlled-Z (symmetric in its qubits)."""
        self.gate(G.CZ, [a, b])

    def cnot(self, control: int, target: int) -> None:
        """Append a CNOT."""
        self.gate(G.CNOT, [control, target])

    def h(self, qubit: int) -> None:
        """Append a Hadamard."""
        self.gate(G.H, [qubit])

    # ---- structure ----
    @property
    def n_terms(self) -> int:
        """Number of Pauli rotations (a shared parameter counts once per use)."""
        return len(self._terms)

    @property
    def ops(self) -> list[tuple[str, tuple[int, ...]]]:
        """``(kind, qubits)`` for each op in order: kind is ``"block"`` or ``"fixed"``."""
        return [(kind, qubits) for kind, qubits, _ in self._ops]

    def depth(self) -> int:
        """Circuit depth counting each block or fixed gate as one time step (ASAP schedule)."""
        level = [0] * self.n_qubits
        for _, qubits, _ in self._ops:
            t = max(level[q] for q in qubits) + 1
            for q in qubits:
                level[q] = t
        return max(level)

    def occurrences(self, param: int) -> int:
        """How many rotations read parameter ``param``."""
        return sum(p == param for _, p, _ in self._terms)

    def _compile(self):
        """Steps, and the step of each term. A block step keeps its term ids, their Pauli
        matrices and the same Paulis written over all qubits (for the adjoint method); a run of
        diagonal fixed gates fuses into one ``("diag", vector)`` step."""
        if self._steps is not None:
            return self._steps
        steps, n = [], self.n_qubits
        term_step = xp.zeros(len(self._terms), dtype=xp.int64)
        for kind, qubits, payload in self._ops:
            if kind == "block":
                paulis = [self._terms[t][0] for t in payload]
                full = ["".join(p[qubits.index(q)] if q in qubits else "I" for q in range(n))
                        for p in paulis]
                term_step[payload] = len(steps)
                steps.append(("block", qubits, xp.array(payload, dtype=xp.int64),
                              [G.pauli_matrix(p) for p in paulis], full))
                continue
            m = payload
            if xp.count_nonzero(m - xp.diag(xp.diag(m))) == 0:
                # D @ ones is the diagonal of D = m on the targets (identity elsewhere)
                d = apply_gate(xp.ones(2**n, dtype=xp.complex128), m, qubits)
                if steps and steps[-1][0] == "diag":
                    d = steps.pop()[1] * d
                steps.append(("diag", d))
            else:
                steps.append(("fixed", qubits, m))
        self._steps, self._term_step = steps, term_step
        return steps

    # ---- simulation ----
    def _angles(self, theta):
        """Per-term angles ``c_t * theta[..., p_t]``: ``(B, P) -> (B, T)``."""
        p = xp.array([t[1] for t in self._terms], dtype=xp.int64)
        c = xp.array([t[2] for t in self._terms], dtype=xp.float64)
        return theta[:, p] * c

    def _prepare(self, theta, initial):
        theta = xp.asarray(theta, dtype=xp.float64)
        if theta.ndim not in (1, 2) or theta.shape[-1] != self.n_params:
            raise ValueError(f"Circuit: theta must be ({self.n_params},) or (B, {self.n_params}), "
                             f"got {theta.shape}")
        N = 2**self.n_qubits
        batched = theta.ndim == 2 or getattr(initial, "ndim", 1) == 2
        if initial is None:
            states = xp.zeros((1, N), dtype=xp.complex128)
            states[0, 0] = 1.0
        else:
            states = xp.asarray(initial, dtype=xp.complex128)
            if states.ndim not in (1, 2) or states.shape[-1] != N:
                raise ValueError(f"Circuit: initial state must be ({N},) or (S, {N}), "
                                 f"got {states.shape}")
        theta, states = theta.reshape(-1, self.n_params), states.reshape(-1, N)
        Ba, Bs = theta.shape[0], states.shape[0]
        if Ba > 1 and Bs > 1 and Ba != Bs:
            raise ValueError(f"Circuit: {Ba} parameter sets for {Bs} initial states; pass one "
                             "of each, or the same number of both")
        return self._angles(theta), states, batched, max(Ba, Bs)

    @staticmethod
    def _block_matrix(step, angles, r: int):
        """A block's unitary: ``(d, d)`` when every angle row agrees, else one per state."""
        _, _, ids, mats, _ = step
        a = angles[:, ids]
        if a.shape[0] > 1 and (a == a[0]).all():
            a = a[:1]  # shared weights: build and apply one matrix for the whole batch
        u = None
        for j, p in enumerate(mats):
            h = a[:, j, None, None] / 2
            rot = xp.cos(h) * xp.eye(len(p)) - 1j * xp.sin(h) * p
            u = rot if u is None else rot @ u
        if u.shape[0] == 1:
            return u[0]
        return xp.repeat(u, r, axis=0) if r > 1 else u

    def _evolve(self, angles, states, start: int = 0, stop: int | None = None):
        """Run steps ``[start, stop)``. ``angles (Ba, T)``; ``states (1, N)`` or ``(Ba * r, N)``,
        where state ``b`` uses angle row ``b // r``."""
        Ba = angles.shape[0]
        if states.shape[0] == 1 and Ba > 1:
            states = xp.repeat(states, Ba, axis=0)
        r = states.shape[0] // Ba
        for step in self._compile()[start:stop]:
            if step[0] == "diag":
                states = apply_diagonal(states, step[1])
            elif step[0] == "fixed":
                states = apply_gate(states, step[2], step[1])
            else:
                states = apply_gate(states, self._block_matrix(step, angles, r), step[1])
        return states

    def _expect(self, angles, states, observable, start: int = 0):
        """Expectations after steps ``start:`` for angle rows ``(Ba, T)`` and states
        ``(1 | Ba * r, N)``, simulated in chunks of at most ``MAX_AMPLITUDES`` amplitudes."""
        Ba, N = angles.shape[0], states.shape[1]
        r = max(states.shape[0] // Ba, 1)
        rows = max(MAX_AMPLITUDES // (N * r), 1)
        out = []
        for i in range(0, Ba, rows):
            s = states if states.shape[0] == 1 else states[i * r:(i + rows) * r]
            out.append(expectation(self._evolve(angles[i:i + rows], s, start), observable))
        return xp.concatenate(out)

    def statevector(self, theta, initial=None):
        """Final state(s): ``(2**n,)`` or ``(B, 2**n)`` (see the class Shape note)."""
        angles, states, batched, _ = self._prepare(theta, initial)
        out = self._evolve(angles, states)
        return out if batched else out[0]

    def expectation(self, theta, observable, initial=None):
        """``<psi(theta)| O |psi(theta)>`` for a Pauli string or sum (``simulator.expectation``)."""
        obs = parse_observable(observable, self.n_qubits)
        angles, states, batched, _ = self._prepare(theta, initial)
        out = self._expect(angles, states, obs)
        return out if batched else out[0]

    def gradient(self, theta, observable, initial=None, params: Sequence[int] | None = None,
                 method: str = "shift"):
        """Exact gradient of :meth:`expectation` with respect to the parameters.

        Args:
            theta, observable, initial: as in :meth:`expectation`.
            params (sequence of int, optional): which parameters to differentiate. Default: all.
            method (str, default "shift"): "shift", the parameter-shift rule (what hardware can
                measure; costs two circuits per rotation that reads a parameter, run as one
                batch), or "adjoint", reverse-mode through the statevector (simulator only;
                about three circuits' work for all parameters).

        Shape:
            Output: ``(len(params),)`` or ``(B, len(params))``.
        """
        if method not in ("shift", "adjoint"):
            raise ValueError(f"Circuit.gradient: method must be 'shift' or 'adjoint', "
                             f"got {method!r}")
        obs = parse_observable(observable, self.n_qubits)
        angles, states, batched, B = self._prepare(theta, initial)
        params = list(range(self.n_params)) if params is None else [int(p) for p in params]
        if not all(0 <= p < self.n_params for p in params):
            raise ValueError(f"Circuit.gradient: params must be in [0, {self.n_params}), "
                             f"got {params}")
        slot = {p: i for i, p in enumerate(params)}
        ts = [t for t, (_, p, _) in enumerate(self._terms) if p in slot]
        grad = xp.zeros((B, len(params)))
        if ts:
            self._compile()
            rule = parameter_shift if method == "shift" else adjoint
            Ba, N = angles.shape[0], states.shape[1]
            r = max(states.shape[0] // Ba, 1)
            rows = max(MAX_AMPLITUDES // (N * r), 1)
            d = xp.concatenate([  # (K, B): dE/dphi_t for each term
                rule(self, angles[i:i + rows],
                     states if states.shape[0] == 1 else states[i * r:(i + rows) * r], obs, ts)
                for i in range(0, Ba, rows)], axis=1)
            coeff = xp.array([self._terms[t][2] for t in ts])
            # chain rule through phi_t = c_t theta_p: dE/dtheta_p = sum_t c_t dE/dphi_t
            xp.add.at(grad.T, [slot[self._terms[t][1]] for t in ts], coeff[:, None] * d)
        return grad if batched else grad[0]
