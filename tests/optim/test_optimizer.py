"""The Optimizer base: parameter groups, zero_grad, skipping, state_dict round trips and errors."""

import json

import numpy as np
import pytest
from optim_parity import make_problem, run_striate, striate_params

import striate
from striate.optim import SGD, Adam, AdamW, Optimizer, RMSprop


def _param(*shape, fill=0.0):
    return striate.Tensor(np.full(shape, fill), requires_grad=True)


def test_optimizer_accepts_a_generator_of_parameters():
    ps = [_param(2), _param(3)]
    opt = SGD((p for p in ps), lr=0.1)
    assert opt.param_groups[0]["params"] == ps


def test_optimizer_group_options_override_defaults_and_fill_the_rest():
    a, b = _param(2), _param(2)
    opt = SGD([{"params": [a], "lr": 0.5}, {"params": b}], lr=0.1, momentum=0.9)
    assert opt.param_groups[0]["lr"] == 0.5 and opt.param_groups[0]["momentum"] == 0.9
    assert opt.param_groups[1]["lr"] == 0.1 and opt.param_groups[1]["params"] == [b]


@pytest.mark.parametrize(
    "params, exc, match",
    [
        ([], ValueError, "empty parameter list"),
        (None, TypeError, "iterable"),
        ([np.zeros(2)], TypeError, "ndarray"),
        ([{"lr": 0.1}], ValueError, "'params'"),
    ],
)
def test_optimizer_rejects_bad_params(params, exc, match):
    with pytest.raises(exc, match=match):
        SGD(params, lr=0.1)


def test_optimizer_rejects_a_single_tensor_and_sets():
    p = _param(2)
    with pytest.raises(TypeError, match="single Tensor"):
        SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="set"):
        SGD([{"params": {p}}], lr=0.1)


def test_optimizer_rejects_a_parameter_in_two_groups_or_twice_in_one():
    p, q = _param(2), _param(2)
    with pytest.raises(ValueError, match="more than one parameter group"):
        SGD([{"params": [p]}, {"params": [q, p]}], lr=0.1)
    with pytest.raises(ValueError, match="twice"):
        SGD([p, q, p], lr=0.1)


def test_optimizer_rejects_non_leaf_tensor():
    p = _param(2)
    with pytest.raises(ValueError, match="non-leaf"):
        SGD([p * 2], lr=0.1)


def test_zero_grad_sets_none_or_zeros_in_place():
    p = _param(3)
    opt = SGD([p], lr=0.1)
    p.grad = striate.Tensor(np.ones(3))
    g = p.grad.data
    opt.zero_grad(set_to_none=False)
    assert p.grad is not None and p.grad.data is g
    np.testing.assert_array_equal(g, np.zeros(3))
    opt.zero_grad()
    assert p.grad is None


def test_step_skips_parameters_without_grad_and_creates_no_state():
    p, q = _param(2, fill=1.0), _param(2, fill=1.0)
    opt = Adam([p, q], lr=0.1)
    p.grad = striate.Tensor(np.ones(2))
    opt.step()
    np.testing.assert_array_equal(q.data, np.ones(2))
    assert q not in opt.state and opt.state[p]["step"] == 1


def test_step_with_gradient_of_wrong_shape_raises():
    p = _param(2, 3)
    opt = SGD([p], lr=0.1)
    p.grad = striate.Tensor(np.ones(6))
    with pytest.raises(
        ValueError, match=r"gradient of shape \(6,\) for a parameter of shape \(2, 3\)"
    ):
        opt.step()


def test_step_calls_closure_and_returns_its_loss():
    p = _param(1, fill=3.0)
    opt = SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    np.testing.assert_allclose(loss.item(), 9.0)
    np.testing.assert_allclose(p.data, [3.0 - 0.25 * 6.0])


def test_add_param_group_takes_defaults_and_is_stepped():
    p, q = _param(1, fill=1.0), _param(1, fill=1.0)
    opt = SGD([p], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": q, "lr": 1.0})
    assert opt.param_groups[1]["momentum"] == 0.9
    q.grad = striate.Tensor(np.ones(1))
    opt.step()
    np.testing.assert_allclose(q.data, [0.0])
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [p]})


def _plain_json_types(x, where="sd"):
    """Assert a state_dict holds only dicts, lists, numbers, strings, None and ndarrays."""
    if isinstance(x, dict):
        for k, v in x.items():
            assert isinstance(k, (str, int)), f"{where}: key {k!r} is a {type(k).__name__}"
            _plain_json_types(v, f"{where}[{k!r}]")
    elif isinstance(x, list):
        for i, v in enumerate(x):
            _plain_json_types(v, f"{where}[{i}]")
    else:
        assert x is None or isinstance(x, (bool, int, float, str, np.ndarray)), (
            f"{where} is a {type(x).__name__}"
        )


FACTORIES = {
    "sgd": lambda ps: SGD(
        [{"params": ps[:2], "lr": 0.05}, {"params": ps[2:]}],
        lr=0.1,
        momentum=0.9,
        nesterov=True,
        weight_decay=1e-3,
    ),
    "adam": lambda ps: Adam(
        [{"params": ps[:1], "amsgrad": True}, {"params": ps[1:]}],
        lr=0.05,
        betas=(0.8, 0.95),
        weight_decay=0.01,
    ),
    "adamw": lambda ps: AdamW(ps, lr=0.05, amsgrad=True),
    "rmsprop": lambda ps: RMSprop(ps, lr=0.01, momentum=0.9, centered=True),
}


@pytest.mark.parametrize("kind", sorted(FACTORIES))
def test_state_dict_round_trip_mid_run_continues_bit_identically(kind):
    make = FACTORIES[kind]
    init, grads = make_problem(steps=8)
    ref_params = striate_params(init)
    ref = list(run_striate(make(ref_params), ref_params, grads))

    first = striate_params(init)
    opt = make(first)
    list(run_striate(opt, first, grads[:4]))
    sd = opt.state_dict()
    _plain_json_types(sd)
    json.dumps({k: v for k, v in sd.items() if k == "param_groups"})  # groups are pure JSON

    resumed = [striate.Tensor(p.data.copy(), requires_grad=True) for p in first]
    opt2 = make(resumed)
    opt2.load_state_dict(sd)
    for t, after in enumerate(run_striate(opt2, resumed, grads[4:])):
        for a, b in zip(after, ref[4 + t]):
            np.testing.assert_array_equal(a, b, err_msg=f"{kind}: step {4 + t} after resume")


def test_state_dict_refers_to_params_by_index_and_copies_arrays():
    ps = [_param(2), _param(3)]
    opt = SGD([{"params": [ps[1]]}, {"params": [ps[0]]}], lr=0.1, momentum=0.9)
    for p in ps:
        p.grad = striate.Tensor(np.ones(p.shape))
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert sd["state"][0]["momentum_buffer"].shape == (3,)
    sd["state"][0]["momentum_buffer"][:] = 99.0
    np.testing.assert_array_equal(opt.state[ps[1]]["momentum_buffer"], np.ones(3))


def test_load_state_dict_restores_options_betas_as_tuple_and_casts_state_to_param_dtype():
    p64 = _param(3)
    opt = Adam([p64], lr=0.1, betas=(0.8, 0.9))
    p64.grad = striate.Tensor(np.ones(3))
    opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"][0]["betas"] == [0.8, 0.9]

    p32 = striate.Tensor(np.zeros(3, dtype=np.float32), requires_grad=True)
    opt32 = Adam([p32], lr=1.0)
    opt32.load_state_dict(sd)
    assert opt32.param_groups[0]["lr"] == 0.1
    assert opt32.param_groups[0]["betas"] == (0.8, 0.9)
    assert opt32.state[p32]["exp_avg"].dtype == np.float32
    assert opt32.state[p32]["step"] == 1


def test_load_state_dict_accepts_string_indices_from_json_like_sources():
    p = _param(2)
    opt = SGD([p], lr=0.1, momentum=0.9)
    p.grad = striate.Tensor(np.ones(2))
    opt.step()
    sd = opt.state_dict()
    sd["state"] = {str(k): v for k, v in sd["state"].items()}
    opt2 = SGD([_param(2)], lr=0.1, momentum=0.9)
    opt2.load_state_dict(sd)
    np.testing.assert_array_equal(next(iter(opt2.state.values()))["momentum_buffer"], np.ones(2))


def _stepped_sgd(*shapes):
    ps = [_param(*s) for s in shapes]
    opt = SGD(ps, lr=0.1, momentum=0.9)
    for p in ps:
        p.grad = striate.Tensor(np.ones(p.shape))
    opt.step()
    return opt, ps


def test_load_state_dict_mismatches_raise_and_leave_optimizer_unchanged():
    sd = _stepped_sgd((2,), (3,))[0].state_dict()

    opt, _ = _stepped_sgd((2,))
    with pytest.raises(
        ValueError, match="group 0 has 1 parameters in the optimizer but 2 in the state"
    ):
        opt.load_state_dict(sd)

    a, b = _param(2), _param(3)
    two_groups = SGD([{"params": [a]}, {"params": [b]}], lr=0.1)
    with pytest.raises(ValueError, match="1 parameter groups, the optimizer has 2"):
        two_groups.load_state_dict(sd)

    opt, ps = _stepped_sgd((2,), (4,))
    before = opt.state[ps[1]]["momentum_buffer"].copy()
    with pytest.raises(ValueError, match=r"has shape \(3,\), but the parameter has shape \(4,\)"):
        opt.load_state_dict(sd)
    np.testing.assert_array_equal(opt.state[ps[1]]["momentum_buffer"], before)

    bad = dict(sd, state={7: {"momentum_buffer": np.ones(2)}})
    with pytest.raises(ValueError, match="unknown parameter index 7"):
        _stepped_sgd((2,), (3,))[0].load_state_dict(bad)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})


def test_optimizer_repr_lists_groups_and_options():
    opt = SGD([_param(1)], lr=0.1, momentum=0.9)
    text = repr(opt)
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text


def test_custom_optimizer_subclass_only_needs_update():
    class SignSGD(Optimizer):
        def __init__(self, params, lr):
            super().__init__(params, dict(lr=lr))

        def _update(self, p, g, state, group):
            p -= group["lr"] * np.sign(g)

    p = _param(3, fill=1.0)
    opt = SignSGD([p], lr=0.5)
    p.grad = striate.Tensor(np.array([2.0, -3.0, 0.0]))
    opt.step()
    np.testing.assert_allclose(p.data, [0.5, 1.5, 1.0])
