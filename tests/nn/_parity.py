"""Run a striate layer and the same torch layer on the same weights and input; compare."""
import numpy as np

import striate

TOL = {np.float64: dict(rtol=1e-7, atol=1e-10), np.float32: dict(rtol=1e-4, atol=1e-5)}


def copy_from_torch(layer, tlayer):
    """Load torch's parameters and buffers into ``layer`` (names must be equal)."""
    layer.load_state_dict({k: v.detach().numpy() for k, v in tlayer.state_dict().items()})


def assert_same_names_and_shapes(layer, tlayer):
    ours = [(k, tuple(v.shape)) for k, v in layer.state_dict().items()]
    theirs = [(k, tuple(v.shape)) for k, v in tlayer.state_dict().items()]
    assert ours == theirs
    assert [n for n, _ in layer.named_parameters()] == [n for n, _ in tlayer.named_parameters()]


def check_parity(layer, tlayer, x, dtype=np.float64, seed=0, grad=True):
    """Copy torch's weights into ``layer``; compare outputs, input and parameter gradients,
    and the state after the step (running statistics)."""
    import torch

    tol = TOL[dtype]
    tlayer = tlayer.to(torch.float64 if dtype == np.float64 else torch.float32)
    assert_same_names_and_shapes(layer, tlayer)
    copy_from_torch(layer, tlayer)
    x = np.asarray(x, dtype=dtype)
    xs = striate.tensor(x, requires_grad=grad)
    xt = torch.tensor(x, requires_grad=grad)
    y, yt = layer(xs), tlayer(xt)
    assert y.dtype == dtype
    np.testing.assert_allclose(y.data, yt.detach().numpy(), **tol, err_msg="forward")
    if grad:
        gy = np.random.default_rng(seed).standard_normal(y.shape).astype(dtype)
        y.backward(gy)
        yt.backward(torch.tensor(gy))
        np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), **tol, err_msg="grad x")
        tparams = dict(tlayer.named_parameters())
        for name, p in layer.named_parameters():
            np.testing.assert_allclose(p.grad.data, tparams[name].grad.numpy(), **tol,
                                       err_msg=f"grad {name}")
    tstate = tlayer.state_dict()
    for k, v in layer.state_dict().items():
        np.testing.assert_allclose(v, tstate[k].numpy(), **tol, err_msg=f"state {k}")
    return y
