"""nn.conv_bn_act and Sequential's use of it: when it folds (inference) or fuses the activation
into batch norm (training), when it must not, and that either way nothing a user can see
changes: outputs, gradients, running statistics, hooks and error messages."""
import contextlib

import numpy as np
import pytest

import striate
from striate import models, nn
from striate.functional import normalization as N
from striate.functional.conv import Conv2dFunction
from striate.nn.fusion import fold_span, foldable


def randomized(m, seed=0):
    """``m`` with every batch norm's statistics and affine parameters made non-trivial."""
    rng = np.random.default_rng(seed)
    for bn in m.modules():
        if isinstance(bn, nn.BatchNorm2d):
            c = bn.num_features
            bn.running_mean.data[...] = rng.normal(0, 0.2, c)
            bn.running_var.data[...] = rng.uniform(0.5, 2, c)
            bn.weight.data[...] = rng.uniform(0.5, 1.5, c)
            bn.bias.data[...] = rng.normal(0, 0.2, c)
    return m


def block(act=nn.ReLU):
    return randomized(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8),
                                    act())).eval()


def x_in(seed=1, shape=(2, 3, 6, 6)):
    return striate.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def clamps_of(monkeypatch, cls) -> list:
    """A list that records the ``clamp`` of every ``cls`` Function applied from now on."""
    calls = []
    forward = cls.forward

    def spy(self, *args, clamp=None, **kw):
        calls.append(clamp)
        return forward(self, *args, clamp=clamp, **kw)

    monkeypatch.setattr(cls, "forward", spy)
    return calls


@pytest.fixture
def bn_calls(monkeypatch):
    return clamps_of(monkeypatch, N.BatchNorm)


@pytest.mark.parametrize("act", [nn.ReLU, nn.ReLU6])
def test_eval_under_no_grad_folds_into_the_convolution_with_the_same_output(act, bn_calls):
    net, x = block(act), x_in()
    expected = net(x).data  # grad enabled, parameters require it: the layers one by one
    assert bn_calls == [None]
    with striate.no_grad():
        assert fold_span(list(net), x) == 3
        y = net(x)
    assert bn_calls == [None]  # no batch norm ran: it was folded
    np.testing.assert_allclose(y.data, expected, rtol=1e-5, atol=1e-6)


def test_frozen_parameters_fold_even_with_grad_enabled():
    net, x = block(), x_in()
    for p in net.parameters():
        p.requires_grad = False
    assert foldable(net[0], net[1], net[2], x)
    x.requires_grad = True
    assert not foldable(net[0], net[1], net[2], x)  # the input's gradient needs the layers


def test_training_fuses_the_activation_into_batch_norm_with_identical_results(bn_calls):
    fused, plain = block().train(), block().train()
    plain.load_state_dict(fused.state_dict())
    plain[1].register_forward_hook(lambda m, i, o: None)  # a hook: no fusion at all
    x1, x2 = x_in(), x_in()
    x1.requires_grad = x2.requires_grad = True
    y1, y2 = fused(x1), plain(x2)
    assert bn_calls[0] is not None and bn_calls[1] is None
    gy = np.random.default_rng(2).standard_normal(y1.shape).astype(np.float32)
    y1.backward(gy)
    y2.backward(gy)
    np.testing.assert_allclose(y1.data, y2.data, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(x1.grad.data, x2.grad.data, rtol=1e-5, atol=1e-6)
    for (name, p), q in zip(fused.named_parameters(), plain.parameters()):
        np.testing.assert_allclose(p.grad.data, q.grad.data, rtol=1e-5, atol=1e-6, err_msg=name)
    for a, b in zip(fused.buffers(), plain.buffers()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-6)


class MyBN(nn.BatchNorm2d):
    def forward(self, x):
        return super().forward(x) * 2


@pytest.mark.parametrize("spoil", [
    lambda net: net[1].train(),
    lambda net: net[1].register_forward_hook(lambda m, i, o: None),
    lambda net: net[2].register_forward_pre_hook(lambda m, i: None),
    lambda net: net.__setitem__(1, randomized(MyBN(8)).eval()),
    lambda net: net.__setitem__(1, nn.BatchNorm2d(8, track_running_stats=False).eval()),
])
def test_what_must_not_fold_runs_the_layers_and_gives_their_result(spoil, bn_calls):
    net = block()
    spoil(net)
    x = x_in()
    with striate.no_grad():
        assert not foldable(net[0], net[1], net[2], x)
        y = net(x)
    assert len(bn_calls) == 1  # batch norm ran as a layer
    ref = net[2](net[1](net[0](x)))
    np.testing.assert_allclose(y.data, ref.data, rtol=1e-6, atol=1e-6)


def test_hooks_on_the_layers_still_fire_and_see_their_own_outputs():
    net, seen = block(), []
    net[1].register_forward_hook(lambda m, i, o: seen.append(o.data.min()))
    with striate.no_grad():
        net(x_in())
    assert len(seen) == 1 and seen[0] < 0  # batch norm's output, before the ReLU


def test_conv_bn_without_activation_folds_and_keeps_the_following_layer():
    net = randomized(nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.MaxPool2d(2))).eval()
    x = x_in()
    expected = net(x).data
    with striate.no_grad():
        assert fold_span(list(net), x) == 2
        np.testing.assert_allclose(net(x).data, expected, rtol=1e-5, atol=1e-6)
        other = block()
        other[2] = nn.Sigmoid()  # not an activation it clamps: conv and bn fold, it runs after
        assert not foldable(other[0], other[1], other[2], x) and fold_span(list(other), x) == 2


def test_a_bad_input_still_fails_naming_the_convolution_layer():
    net = block()
    with striate.no_grad(), pytest.raises(ValueError, match=r"failed at layer '0'.*Conv2d"):
        net(x_in(shape=(2, 5, 6, 6)))


@pytest.mark.parametrize("name,shape", [("resnet20", (2, 3, 16, 16)),
                                        ("mobilenet_v2", (1, 3, 40, 40)),
                                        ("resnet50", (1, 3, 40, 40))])
def test_zoo_models_give_the_same_output_folded_at_inference(name, shape):
    m = randomized(getattr(models, name)()).eval()
    x = x_in(shape=shape)
    expected = m(x).data
    with striate.no_grad():
        y = m(x).data
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


@pytest.fixture
def conv_calls(monkeypatch):
    return clamps_of(monkeypatch, Conv2dFunction)


@pytest.mark.parametrize("act", [nn.ReLU, nn.ReLU6])
@pytest.mark.parametrize("grad", [True, False])
def test_conv_then_activation_clips_in_the_kernel_with_the_same_results(act, grad, conv_calls):
    fused = nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), act(), nn.AvgPool2d(2))
    plain = nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), act(), nn.AvgPool2d(2))
    plain.load_state_dict(fused.state_dict())
    plain[1].register_forward_hook(lambda m, i, o: None)
    x1, x2 = x_in(shape=(2, 3, 6, 6)), x_in(shape=(2, 3, 6, 6))
    x1.data *= 8
    x2.data *= 8
    with contextlib.nullcontext() if grad else striate.no_grad():
        y1, y2 = fused(x1), plain(x2)
    assert conv_calls[0] is not None and conv_calls[1] is None
    np.testing.assert_allclose(y1.data, y2.data, rtol=1e-6, atol=1e-6)
    if grad:
        assert_same_gradients(fused, plain, y1, y2, rtol=1e-5)


def assert_same_gradients(fused, plain, y1, y2, rtol):
    """Backpropagate one random gradient through both outputs; the parameters' gradients agree."""
    gy = np.random.default_rng(3).standard_normal(y1.shape).astype(np.float32)
    y1.backward(gy)
    y2.backward(gy)
    for p, q in zip(fused.parameters(), plain.parameters()):
        np.testing.assert_allclose(p.grad.data, q.grad.data, rtol=rtol, atol=1e-6)


@pytest.mark.parametrize("act", [nn.ReLU, nn.ReLU6])
@pytest.mark.parametrize("pool", [(2,), (3, 2, 1), (2, None, 0, True)])
@pytest.mark.parametrize("grad", [True, False])
def test_conv_activation_max_pool_pools_first_with_the_same_results(act, pool, grad,
                                                                     conv_calls, monkeypatch):
    """act(pool(conv)) for pool(act(conv)): same outputs and gradients, ties included (a
    constant image region gives equal conv outputs; x * 8 crosses ReLU6's upper bound)."""
    seen = []
    relu_forward = type(act()).forward
    monkeypatch.setattr(type(act()), "forward", lambda m, v: seen.append(v.shape) or
                        relu_forward(m, v))
    fused = nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), act(), nn.MaxPool2d(*pool))
    plain = nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), act(), nn.MaxPool2d(*pool))
    plain.load_state_dict(fused.state_dict())
    plain[1].register_forward_hook(lambda m, i, o: None)  # a hook: no fusion at all
    shape = (2, 3, 9, 9)
    x1, x2 = x_in(shape=shape), x_in(shape=shape)
    for x in (x1, x2):
        x.data *= 8
        x.data[:, :, 2:7, 2:7] = 0.5  # equal conv outputs: ties inside windows
    with contextlib.nullcontext() if grad else striate.no_grad():
        y1, y2 = fused(x1), plain(x2)
    assert conv_calls == [None, None]  # neither convolution clips in its kernel
    assert seen[0] == y1.shape and seen[1] != y2.shape  # fused: the activation ran after the pool
    np.testing.assert_array_equal(y1.data, y2.data)
    if grad:
        assert_same_gradients(fused, plain, y1, y2, rtol=1e-6)


def test_conv_activation_max_pool_error_lists_the_unpooled_shapes():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Linear(5, 4))
    with pytest.raises(ValueError, match=r"(?s)0 Conv2d +\(1, 2, 6, 6\).*1 ReLU +\(1, 2, 6, 6\)"
                       r".*2 MaxPool2d +\(1, 2, 3, 3\).*3 Linear +<- failed here"):
        net(x_in(shape=(1, 1, 6, 6)))


def test_lenet5_trains_the_same_fused_and_unfused():
    fused = models.lenet5()
    plain = models.lenet5()
    plain.load_state_dict(fused.state_dict())
    for m in plain.modules():
        if isinstance(m, (nn.ReLU, nn.ReLU6)):
            m.register_forward_hook(lambda m, i, o: None)
    x = x_in(shape=(4, 1, 28, 28))
    labels = striate.tensor(np.array([0, 1, 2, 3]))
    for net in (fused, plain):
        striate.functional.cross_entropy(net(x), labels).backward()
    for (name, p), q in zip(fused.named_parameters(), plain.parameters()):
        np.testing.assert_allclose(p.grad.data, q.grad.data, rtol=1e-5, atol=1e-7, err_msg=name)


def test_an_error_inside_a_fused_run_names_the_layer_that_failed():
    net = block().train()  # batch norm needs more than one value per channel in training
    with pytest.raises(ValueError, match=r"failed at layer '1': BatchNorm2d '1' needs more"):
        net(x_in(shape=(1, 3, 1, 1)))


@pytest.fixture
def residual_calls(monkeypatch):
    """Records, per Conv2dFunction applied, whether it was handed a residual."""
    calls = []
    forward = Conv2dFunction.forward

    def spy(self, *args, residual=None, **kw):
        calls.append(residual is not None)
        return forward(self, *args, residual=residual, **kw)

    monkeypatch.setattr(Conv2dFunction, "forward", spy)
    return calls


@pytest.mark.parametrize("name,shape,blocks,attention", [
    ("resnet20", (2, 3, 16, 16), 9, None), ("resnet50", (1, 3, 40, 40), 16, None),
    ("resnet20", (2, 3, 16, 16), 0, "se")])
def test_residual_blocks_add_the_shortcut_in_the_folded_convolution(name, shape, blocks,
                                                                    attention, residual_calls):
    kw = {} if attention is None else {"attention": attention}
    m = randomized(getattr(models, name)(**kw)).eval()
    x = x_in(shape=shape)
    expected = m(x).data  # autograd recording: the layers one by one
    assert not any(residual_calls)
    with striate.no_grad():
        y = m(x).data
    assert sum(residual_calls) == blocks  # the last convolution of every block (none with SE)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_conv_bn_act_residual_in_training_is_relu_of_the_sum_with_its_gradients():
    conv, bn = nn.Conv2d(3, 8, 3, padding=1), randomized(nn.BatchNorm2d(8))
    x = striate.tensor(x_in().data, requires_grad=True)
    r = striate.tensor(x_in(seed=2, shape=(2, 8, 6, 6)).data, requires_grad=True)
    y = nn.conv_bn_act(conv, bn, nn.ReLU(), x, residual=r)
    y.backward(np.ones(y.shape, np.float32))
    got = (y.data, x.grad.data, r.grad.data, conv.weight.grad.data)
    for t in (x, r, conv.weight):
        t.grad = None
    z = nn.ReLU()(bn(conv(x)) + r)
    z.backward(np.ones(z.shape, np.float32))
    for ours, theirs in zip(got, (z.data, x.grad.data, r.grad.data, conv.weight.grad.data)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)
    assert (r.grad.data == 0).any() and (r.grad.data == 1).any()


def test_conv_bn_act_residual_calls_a_hooked_activation_on_the_sum():
    conv, bn, act = nn.Conv2d(3, 8, 3, padding=1), randomized(nn.BatchNorm2d(8)).eval(), nn.ReLU()
    seen = []
    act.register_forward_hook(lambda m, inputs, out: seen.append(inputs[0].data.copy()))
    x, r = x_in(), x_in(seed=2, shape=(2, 8, 6, 6))
    with striate.no_grad():
        y = nn.conv_bn_act(conv, bn, act, x, residual=r)
        expected = bn(conv(x)) + r
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], expected.data, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(y.data, np.maximum(expected.data, 0), rtol=1e-6, atol=1e-6)
