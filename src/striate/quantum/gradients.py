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
    ``t``, ``dE/dphi_t = 2 Re <lam| (-i P_t / 2) |psi_t> = Im <lam| P_t |psi_t>``. Both vectors are
    walked back one rotation at a time with ``R^dag = cos(phi/2) + i sin(phi/2) P``: ``O(T)``
    state updates for all gradients. https://arxiv.org/abs/2009.02823 (Jones and Gacon)
    """
    psi = circuit._evolve(angles, states)
    r = psi.shape[0] // angles.shape[0]
    lam = sum(c * apply_pauli(psi, p) for c, p in observable)
    want = {int(t): i for i, t in enumerate(ts)}
    out = xp.zeros((len(ts), psi.shape[0]))
    for step in reversed(circuit._compile()):
        if step[0] == "diag":
            psi, lam = psi * step[1].conj(), lam * step[1].conj()
        elif step[0] == "fixed":
            inv = step[2].conj().T
            psi, lam = apply_gate(psi, inv, step[1]), apply_gate(lam, inv, step[1])
        else:
            _, _, ids, _, full = step
            for t, p in zip(ids[::-1], full[::-1]):
                p_psi = apply_pauli(psi, p)
                if int(t) in want:
                    out[want[int(t)]] = xp.sum(lam.conj() * p_psi, axis=-1).imag
                h = xp.repeat(angles[:, t], r)[:, None] / 2
                psi = xp.cos(h) * psi + 1j * xp.sin(h) * p_psi
                lam = xp.cos(h) * lam + 1j * xp.sin(h) * apply_pauli(lam, p)
    return out
