"""Fuzzing linear and the losses (cross_entropy, nll_loss, mse_loss,
binary_cross_entropy_with_logits) against torch (see ``_harness`` for the promise: the same
result as torch in float64, or a clear ValueError/TypeError naming the op)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import striate.functional as F

from ._harness import FUZZ, MUST_AGREE, assert_same, compare, ours, rand

torch = pytest.importorskip("torch")
tF = torch.nn.functional

# the mean of nothing is NaN, as in torch; NumPy warns about it
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


# ---- linear and losses ----
@FUZZ
@given(st.lists(st.integers(0, 3), min_size=0, max_size=2), st.integers(0, 4), st.integers(0, 4),
       st.booleans(), st.sampled_from(["none"] * 4 + [
           "features", "w_ndim", "bias_shape", "list", "int", "f32"]), st.integers(0, 2**16))
def test_linear_matches_torch_or_raises_clear_error(batch, fin, fout, bias, brk, seed):
    x, w = rand(seed, tuple(batch) + (fin,)), rand(seed + 1, (fout, fin))
    b = rand(seed + 2, (fout,)) if bias else None
    if brk == "features":
        x = rand(seed, tuple(batch) + (fin + 1,))
    elif brk == "w_ndim":
        w = w.reshape(-1)
    elif brk == "bias_shape":
        b = rand(seed + 2, (fout + 1,))
    elif brk == "list":
        x = x.tolist()
    elif brk in ("int", "f32"):  # striate computes these in NumPy's result type; torch refuses
        xa = np.round(x).astype(np.int64) if brk == "int" else x.astype(np.float32)
        y = ours("linear", lambda: F.linear(xa, w, b))
        ref = tF.linear(torch.from_numpy(xa.astype(np.float64)), torch.from_numpy(w),
                        None if b is None else torch.from_numpy(b))
        assert_same("linear", y, ref, rtol=1e-6)
        return
    compare("linear", F.linear, tF.linear, (x, w, b), stricter=brk not in MUST_AGREE)


@st.composite
def class_targets(draw):
    N, C, d = draw(st.integers(0, 4)), draw(st.integers(1, 4)), draw(st.integers(0, 2))
    seed = draw(st.integers(0, 2**16))
    shape = (N, C) + (2,) * d if d < 2 else (C,)
    x = rand(seed, shape)
    tshape = (N,) + (2,) * d if d < 2 else ()
    t = np.random.default_rng(seed).integers(0, C, tshape)
    kw = dict(reduction=draw(st.sampled_from(["mean", "sum", "none"])))
    brk = draw(st.sampled_from(["none"] * 5 + [
        "out_of_range", "negative", "ignored", "float_target", "target_shape", "weight",
        "weight_shape", "reduction", "smoothing", "bad_smoothing"]))
    if brk in ("out_of_range", "negative") and t.size:
        t.flat[0] = C if brk == "out_of_range" else -1
    elif brk == "ignored" and t.size:
        t.flat[0] = kw["ignore_index"] = draw(st.sampled_from([-100, 0, 7]))
    elif brk == "float_target":
        t = t.astype(np.float64)
    elif brk == "target_shape":
        t = np.zeros(tshape + (2,), dtype=np.int64)
    elif brk == "weight":
        kw["weight"] = np.abs(rand(seed, (C,))) + 0.1
    elif brk == "weight_shape":
        kw["weight"] = np.ones(C + 1)
    elif brk == "reduction":
        kw["reduction"] = draw(st.sampled_from(["avg", None, 1]))
    elif brk == "smoothing":
        kw["label_smoothing"] = draw(st.sampled_from([0.1, 0.5, 1.0]))
    elif brk == "bad_smoothing":
        kw["label_smoothing"] = draw(st.sampled_from([-0.1, 1.5, float("nan"), "0.1"]))
    return x, t, kw, brk


def _torch_kw(kw):
    return {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}


@FUZZ
@given(class_targets(), st.sampled_from(["cross_entropy", "nll_loss"]))
def test_class_losses_match_torch_or_raise_clear_error(case, op):
    x, t, kw, brk = case
    if op == "nll_loss":
        kw.pop("label_smoothing", None)
    compare(op, lambda x: getattr(F, op)(x, t, **kw),
            lambda x: getattr(tF, op)(x, torch.from_numpy(t), **_torch_kw(kw)), (x,),
            # NOTE: torch takes float targets as class probabilities; striate refuses them
            stricter=brk not in MUST_AGREE)


@FUZZ
@given(st.lists(st.integers(0, 3), min_size=0, max_size=3), st.sampled_from(["none"] * 3 + [
    "shape", "weight", "pos_weight", "bad_weight", "str_weight", "reduction", "list"]),
    st.sampled_from(["mse_loss", "binary_cross_entropy_with_logits"]), st.integers(0, 2**16))
def test_elementwise_losses_match_torch_or_raise_clear_error(shape, brk, op, seed):
    x, t = rand(seed, shape), np.random.default_rng(seed).random(shape)
    kw = {}
    if brk == "shape":
        t = rand(seed, tuple(shape) + (2,))
    elif brk == "weight" and op != "mse_loss":
        kw["weight"] = np.asarray(np.abs(rand(seed, shape[-1:])))
    elif brk == "pos_weight" and op != "mse_loss":
        kw["pos_weight"] = np.asarray(np.abs(rand(seed, shape[-1:])) + 0.5)
    elif brk == "bad_weight" and op != "mse_loss":
        kw["weight"] = np.ones(tuple(shape) + (3,))
    elif brk == "str_weight" and op != "mse_loss":
        kw["weight"] = np.array(["a"])
    elif brk == "reduction":
        kw["reduction"] = "avg"
    elif brk == "list":
        x = x.tolist()
    compare(op, lambda x, t: getattr(F, op)(x, t, **kw),
            lambda x, t: getattr(tF, op)(x, t, **_torch_kw(kw)), (x, t),
            stricter=brk not in MUST_AGREE)
