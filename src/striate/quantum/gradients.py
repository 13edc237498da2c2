"""Exact circuit gradients per rotation angle: the parameter-shift rule and the adjoint method.

Both take a compiled :class:`~striate.quantum.circuits.Circuit`, the per-term angles ``(Ba, T)``,
the input states ``(1 | Ba * r, N)``, a parsed observable and the term ids ``ts`` to differentiate,
and return ``dE/dphi_t`` as ``(len(ts), B)``; ``Circuit.gradient`` applies the chain rule to the
parameters. Every term is ``exp(-i phi P / 2)`` with ``P`` a Pauli string.
"""
from __future__ import annotations

from ..backend import xp
from .simulator import apply_gate, apply_pauli

__all__ = ["parameter_shift", "adjoint"]


def parameter_shift(circuit, angles, states, observable, ts):
    """``dE/dphi = (E(phi + pi/2) - E(phi - pi/2)) / 2`` for each term, exact for Pauli generators.

    The shifted circuits of all terms in one step run as one batch. They share the circuit up to
    that step, so the unshifted state is advanced step by step and each batch starts from it
    (about half the work of re-running every shifted circuit from the input).
    https://arxiv.org/abs/1803.00745 (Mitarai et al.), https://arxiv.org/abs/1811.11184
    """
    Ba, T = angles.shape
    term_step = circuit._term_step[ts]
    psi, at = states, 0
    out = None
    for k in xp.unique(term_step):
        k = int(k)
        psi, at = circuit._evolve(angles, psi, at, k), k  # unshifted state before step k
        sel = xp.nonzero(term_step == k)[0]
        cols, K = xp.asarray(ts)[sel], len(sel)
        shifted = xp.repeat(angles[None], 2 * K, axis=0)  # (2K, Ba, T): +pi/2 then -pi/2
        shifted[xp.arange(K), :, cols] += xp.pi / 2
        shifted[K + xp.arange(K), :, cols] -= xp.pi / 2
        start = psi if psi.shape[0] == 1 else xp.tile(psi, (2 * K, 1))
        e = circuit._expect(shifted.reshape(2 * K * Ba, T), start, observable, k)
        e = e.reshape(2, K, -1)
        if out is None:
            out = xp.zeros((len(ts), e.shape[-1]))
        out[sel] = (e[0] - e[1]) / 2
    return out


def adjoint(circuit, angles, states, observable, ts):
    """Reverse-mode differentiation of ``E = <psi| O |psi>`` through the statevector.

    With ``lam = (gates after term t)^dag O psi_final`` and ``psi_t`` the state just after term
    ``t``, ``dE/dphi_t = 2 Re <lam| (-i P_t / 2) |psi_t> = Im <lam| P_t |psi_t>``. Both vectors
    are walked back one *block* at a time: inside a block on qubits ``q`` (unitary
    ``U = R_K ... R_1``), ``Im <lam_after| R_K..R_{j+1} P_j R_j..R_1 |psi_before>`` is the trace
    of a ``d x d`` operator with ``M = Tr_rest |psi_before><lam_after|``, so one contraction per
    block serves all its terms (an SU(4) block has 15), and a full gradient costs about three
    circuits' work. https://arxiv.org/abs/2009.02823 (Jones and Gacon)
    """
    psi = circuit._evolve(angles, states)
    Ba, B = angles.shape[0], psi.shape[0]
    r = B // Ba
    lam = sum(c * apply_pauli(psi, p) for c, p in observable)
    want = {int(t): i for i, t in enumerate(ts)}
    out = xp.zeros((len(ts), B))
    for step in reversed(circuit._compile()):
        if step[0] == "diag":
            psi, lam = psi * step[1].conj(), lam * step[1].conj()
            continue
        if step[0] == "fixed":
            inv = step[2].conj().T
        else:
            rots = _rotations(step, angles)  # (K, Ba, d, d)
            inv = _product(rots).conj().swapaxes(-1, -2)
            inv = inv[0] if Ba == 1 else xp.repeat(inv, r, axis=0)
        psi = apply_gate(psi, inv, step[1])
        if step[0] == "block" and any(int(t) in want for t in step[2]):
            m = _cross(psi, lam, step[1]).reshape(Ba, r, *inv.shape[-2:])
            _, _, ids, mats, _ = step
            for j, t in enumerate(ids):
                if int(t) in want:
                    # R_K..R_{j+1} P_j R_j..R_1, then Tr(A M) for every state
                    a = _product(rots[j + 1:]) @ mats[j] @ _product(rots[:j + 1])
                    out[want[int(t)]] = xp.einsum("xca,xrac->xr", a, m).imag.reshape(B)
        lam = apply_gate(lam, inv, step[1])
    return out


def _rotations(step, angles):
    """The block's Pauli rotations ``cos(phi/2) I - i sin(phi/2) P``: ``(K, Ba, d, d)``."""
    _, _, ids, mats, _ = step
    h = angles[:, ids].T[:, :, None, None] / 2  # (K, Ba, 1, 1)
    p = xp.stack(mats)[:, None]  # (K, 1, d, d)
    return xp.cos(h) * xp.eye(p.shape[-1]) - 1j * xp.sin(h) * p


def _product(rots):
    """``R_last ... R_first`` of ``(K, Ba, d, d)`` rotations; the identity when ``K = 0``."""
    if len(rots) == 0:
        return xp.eye(rots.shape[-1], dtype=xp.complex128)
    u = rots[0]
    for rot in rots[1:]:
        u = rot @ u
    return u


def _cross(psi, lam, qubits):
    """``M[b] = Tr_rest |psi_b><lam_b|`` on ``qubits`` (in their given order): ``(B, d, d)``."""
    B, N = psi.shape
    n, k = N.bit_length() - 1, len(qubits)
    axes, front = [q + 1 for q in qubits], list(range(1, k + 1))

    def split(v):
        return xp.moveaxis(v.reshape((B,) + (2,) * n), axes, front).reshape(B, 2**k, -1)

    return split(psi) @ split(lam).conj().swapaxes(-1, -2)
