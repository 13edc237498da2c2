"""Shared helpers for the optimizer tests: run striate and torch on the same gradients.

A plain module (not a conftest) so that test files import it by a name no other folder uses.
"""

import numpy as np
import pytest

import striate
import striate.optim

SHAPES = [(3, 4), (5,), (2, 3, 2), ()]
# Gradient scales vary from step to step so that Adam's second moment also shrinks
# (so AMSGrad's running maximum matters).
SCALES = [3.0, 0.1, 1.0, 0.05, 2.0, 0.2, 1.0]


def make_problem(seed=0, dtype=np.float64, steps=len(SCALES)):
    """Initial parameters and a gradient sequence; ``None`` marks a parameter left without grad."""
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = []
    for t in range(steps):
        gs = [(SCALES[t % len(SCALES)] * rng.standard_normal(s)).astype(dtype) for s in SHAPES]
        if t == 2:
            gs[1] = None  # skipped by both libraries: no update and no state step
        grads.append(gs)
    return init, grads


def build(module, name, params, kwargs, groups):
    """``module.<name>`` over ``params``; ``groups`` is a list of (indices, options) or None."""
    if groups is not None:
        params = [{"params": [params[i] for i in idx], **opts} for idx, opts in groups]
    return getattr(module, name)(params, **kwargs)


def striate_params(init):
    return [striate.Tensor(a.copy(), requires_grad=True) for a in init]


def run_striate(opt, params, grads):
    """Yield the parameter arrays after each step."""
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = None if g is None else striate.Tensor(g.copy())
        opt.step()
        yield [p.data.copy() for p in params]


def check_parity(name, kwargs, groups=None, dtype=np.float64, rtol=1e-10, atol=1e-13):
    """Compare striate.optim.<name> against torch.optim.<name> step for step (params and state)."""
    torch = pytest.importorskip("torch")
    init, grads = make_problem(dtype=dtype)
    ours = striate_params(init)
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt = build(striate.optim, name, ours, kwargs, groups)
    topt = build(torch.optim, name, theirs, kwargs, groups)
    for t, (after, gs) in enumerate(zip(run_striate(opt, ours, grads), grads)):
        for p, g in zip(theirs, gs):
            p.grad = None if g is None else torch.tensor(g.copy())
        topt.step()
        for i, (a, p) in enumerate(zip(after, theirs)):
            assert a.dtype == dtype, f"step {t}: param {i} changed dtype to {a.dtype}"
            np.testing.assert_allclose(
                a,
                p.detach().numpy(),
                rtol=rtol,
                atol=atol,
                err_msg=f"{name} {kwargs} step {t} param {i}",
            )
    for i, (p, tp) in enumerate(zip(ours, theirs)):
        ts = topt.state[tp]
        for key, v in opt.state.get(p, {}).items():
            if key == "step":
                assert v == int(ts["step"]), f"param {i}: step {v} vs torch {ts['step']}"
            else:
                assert v.dtype == dtype, f"state {key} of param {i} is {v.dtype}"
                np.testing.assert_allclose(
                    v,
                    ts[key].numpy(),
                    rtol=rtol,
                    atol=atol,
                    err_msg=f"{name} state {key} param {i}",
                )
        assert set(opt.state.get(p, {})) == {k for k in ts if ts[k] is not None}
    return opt, ours
