"""conv2d, conv1d and conv_transpose2d on bad input: a ValueError or TypeError naming the op,
what it got and what it expected; NumPy integers pass where Python ints do."""
import numpy as np
import pytest

import striate.functional as F
from tests.functional.test_conv import randn

pytest.importorskip("torch")


# ---- bad input ----
def arr(*shape, dtype=np.float32):
    return np.zeros(shape, dtype)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: F.conv2d(arr(1, 3, 5, 5), arr(2, 4, 3, 3)), ValueError,
     r"conv2d: input has 3 channels but weight of shape \(2, 4, 3, 3\) with groups=1 expects 4"),
    (lambda: F.conv2d(arr(1, 4, 5, 5), arr(4, 1, 3, 3), groups=2), ValueError,
     r"conv2d: input has 4 channels .* groups=2 expects 2"),
    (lambda: F.conv2d(arr(1, 3, 5, 5), arr(2, 3, 7, 7)), ValueError,
     r"conv2d: kernel \(7, 7\) .* spans \(7, 7\) but the padded input is only \(5, 5\)"),
    (lambda: F.conv2d(arr(1, 3, 5, 5), arr(2, 3, 3, 3), dilation=3), ValueError,
     r"spans \(7, 7\) but the padded input is only \(5, 5\)"),
    (lambda: F.conv2d(arr(1, 6, 5, 5), arr(4, 2, 3, 3), groups=4), ValueError,
     r"conv2d: groups=4 does not divide in_channels=6"),
    (lambda: F.conv2d(arr(1, 6, 5, 5), arr(4, 2, 3, 3), groups=3), ValueError,
     r"conv2d: groups=3 does not divide out_channels=4"),
    (lambda: F.conv2d(arr(1, 6, 5, 5), arr(4, 6, 3, 3), groups=0), ValueError,
     r"groups must be a positive int, got 0"),
    (lambda: F.conv2d(arr(3, 5, 5), arr(2, 3, 3, 3)), ValueError,
     r"conv2d: expected a 4-D input \(N, C, H, W\), got shape \(3, 5, 5\)"),
    (lambda: F.conv2d(arr(1, 3, 5, 5), arr(3, 3, 3)), ValueError,
     r"conv2d: expected a 4-D weight, got shape \(3, 3, 3\)"),
    (lambda: F.conv1d(arr(1, 3, 5, 5), arr(2, 3, 3)), ValueError,
     r"conv1d: expected a 3-D input \(N, C, L\), got shape \(1, 3, 5, 5\)"),
    (lambda: F.conv2d(arr(1, 3, 5, 5), arr(2, 3, 3, 3), padding=-1), ValueError,
     r"conv2d: padding must be non-negative, got -1"),
    (lambda: F.conv2d(arr(1, 3, 5, 5), arr(2, 3, 3, 3), padding=(1, -2)), ValueError,
     r"padding must be non-negative, got \(1, -2\)"),
    (lambda: F.conv2d(arr(1, 3, 5, 5), arr(2, 3, 3, 3), stride=0), ValueError,
     r"conv2d: stride must be positive, got 0"),
    (lambda: F.conv2d(arr(1, 3, 5, 5), arr(2, 3, 3, 3), stride=(1, -1)), ValueError,
     r"stride must be positive, got \(1, -1\)"),
    (lambda: F.conv2d(arr(1, 3, 5, 5), arr(2, 3, 3, 3), dilation=0), ValueError,
     r"conv2d: dilation must be positive, got 0"),
    (lambda: F.conv2d(arr(1, 3, 5, 5), arr(2, 3, 3, 3), stride=1.5), TypeError,
     r"conv2d: stride must be an int or a tuple of 2 ints, got 1.5"),
    (lambda: F.conv2d(arr(1, 3, 8, 8), arr(2, 3, 3, 3), stride=2, padding="same"), ValueError,
     r"conv2d: padding='same' needs stride 1 .*got stride \(2, 2\)"),
    (lambda: F.conv1d(arr(1, 3, 8), arr(2, 3, 3), stride=2, padding="same"), ValueError,
     r"conv1d: padding='same' needs stride 1 .*got stride 2"),
    (lambda: F.conv2d(arr(1, 3, 5, 5), arr(2, 3, 3, 3), padding="half"), ValueError,
     r"conv2d: unknown padding 'half'; expected an int, a tuple, 'valid', 'same' or 'full'"),
    (lambda: F.conv2d(arr(1, 3, 5, 5), arr(2, 3, 3, 3), arr(3)), ValueError,
     r"conv2d: bias must have shape \(2,\) .*got \(3,\)"),
    (lambda: F.conv2d(arr(1, 3, 5, 5), arr(2, 3, 3, 3), arr(2, 1)), ValueError,
     r"bias must have shape \(2,\) .*got \(2, 1\)"),
    (lambda: F.conv2d(arr(1, 3, 5, 5), arr(2, 3, 3, 3, dtype=np.float64)), TypeError,
     r"conv2d: input dtype float32 and weight dtype float64 differ"),
    (lambda: F.conv2d(arr(1, 3, 5, 5), arr(2, 3, 3, 3), arr(2, dtype=np.float64)), TypeError,
     r"conv2d: bias dtype float64 differs from input dtype float32"),
    (lambda: F.conv2d(arr(1, 3, 5, 5, dtype=np.int64), arr(2, 3, 3, 3, dtype=np.int64)),
     TypeError, r"conv2d: input and weight must be floating point, got int64 and int64"),
    (lambda: F.conv2d([[1.0]], arr(2, 3, 3, 3)), TypeError,
     r"conv2d: input must be a Tensor or an ndarray, got list"),
    (lambda: F.conv2d(arr(1, 3, 5, 0), arr(2, 3, 1, 1)), ValueError,
     r"conv2d: input of shape \(1, 3, 5, 0\) is empty; only the batch axis may be 0"),
    (lambda: F.conv2d(arr(1, 3, 5, 5), arr(0, 3, 3, 3)), ValueError,
     r"conv2d: weight of shape \(0, 3, 3, 3\) has no channels"),
    (lambda: F.conv_transpose2d(arr(1, 3, 5, 5), arr(3, 0, 3, 3)), ValueError,
     r"conv_transpose2d: weight of shape \(3, 0, 3, 3\) has no channels"),
    (lambda: F.conv_transpose2d(arr(1, 3, 5, 5), arr(4, 2, 3, 3)), ValueError,
     r"conv_transpose2d: input has 3 channels but weight of shape \(4, 2, 3, 3\) expects 4"),
    (lambda: F.conv_transpose2d(arr(1, 4, 5, 5), arr(4, 2, 3, 3), groups=3), ValueError,
     r"conv_transpose2d: groups=3 does not divide in_channels=4"),
    (lambda: F.conv_transpose2d(arr(1, 4, 5, 5), arr(4, 2, 3, 3), stride=2, output_padding=2),
     ValueError, r"output_padding \(2, 2\) must be smaller than either stride \(2, 2\) or "
                 r"dilation \(1, 1\)"),
    (lambda: F.conv_transpose2d(arr(1, 4, 2, 2), arr(4, 2, 3, 3), padding=3), ValueError,
     r"conv_transpose2d: .* gives an empty output \(-2, -2\)"),
    (lambda: F.conv_transpose2d(arr(1, 4, 5, 5), arr(4, 2, 3, 3), padding="same"), ValueError,
     r"conv_transpose2d: padding must be an int or \(int, int\), got 'same'"),
    (lambda: F.conv_transpose2d(arr(1, 4, 5, 5), arr(4, 2, 3, 3), arr(4)), ValueError,
     r"conv_transpose2d: bias must have shape \(2,\)"),
])
def test_bad_input_raises_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("fn,xs,ws,kw", [
    (F.conv2d, (2, 4, 7, 6), (6, 2, 3, 3), dict(stride=2, padding=(1, 2), dilation=1, groups=2)),
    (F.conv1d, (2, 4, 9), (6, 2, 3), dict(stride=2, padding=1, dilation=2, groups=2)),
    (F.conv_transpose2d, (2, 4, 4, 4), (4, 3, 3, 3), dict(stride=2, padding=1, output_padding=1,
                                                        groups=2)),
])
def test_conv_accepts_numpy_integers_like_python_ints(rng, fn, xs, ws, kw):
    """As the pooling ops do: np.int64(2) is a fine stride, groups or padding."""
    x, w = randn(rng, *xs), randn(rng, *ws)
    as_np = {k: (tuple(np.int64(e) for e in v) if isinstance(v, tuple) else np.int64(v))
             for k, v in kw.items()}
    np.testing.assert_array_equal(fn(x, w, **as_np).data, fn(x, w, **kw).data)
    with pytest.raises(TypeError, match="stride must be an int"):
        fn(x, w, stride=True, groups=2)
