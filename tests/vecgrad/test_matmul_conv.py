"""matmul (1-D, 2-D, batched), linear, conv2d and pools against numpy references."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import vecgrad
import vecgrad.nn.functional as F
from vg_helpers import PROPERTY, gradcheck

MATMUL_SHAPES = [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 3), (3, 4)),
                 ((1, 1), (1, 1)), ((2, 2, 3), (3, 4)), ((3, 2), (2, 2, 4)),
                 ((2, 1, 2, 3), (3, 3, 2)), ((4, 2, 3), (4, 3, 1))]


@pytest.mark.parametrize("shape_a, shape_b", MATMUL_SHAPES)
@pytest.mark.parametrize("permuted", [False, True])
def test_matmul_forward_and_backward(device, shape_a, shape_b, permuted):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    result = gradcheck(lambda x, y: x @ y, [a, b], device, permuted=permuted)
    np.testing.assert_allclose(result.numpy(), np.matmul(a, b), rtol=1e-12)


def test_matmul_shape_error_names_both_shapes(device):
    a, b = vecgrad.zeros(3, 4, device=device), vecgrad.zeros(5, 2, device=device)
    with pytest.raises(ValueError, match=r"matmul: \(3, 4\) @ \(5, 2\): 4 != 5"):
        a @ b
    with pytest.raises(ValueError, match="0-dimensional"):
        vecgrad.tensor(1.0, device=device) @ b
    with pytest.raises(ValueError, match="batch shapes"):
        vecgrad.zeros(2, 3, 4, device=device) @ vecgrad.zeros(3, 4, 5, device=device)


def test_linear_matches_numpy_and_pytorch_layout(device):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((5, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2)
    result = gradcheck(F.linear, [x, w, b], device)
    np.testing.assert_allclose(result.numpy(), x @ w.T + b, rtol=1e-12)
    gradcheck(F.linear, [rng.standard_normal(3), w], device)  # 1-D input
    with pytest.raises(ValueError, match="linear: input .* has 4 features but weight"):
        F.linear(vecgrad.zeros(2, 4, device=device), vecgrad.zeros(2, 3, device=device))


def naive_conv2d(x, w, b, stride, padding, dilation):
    """Direct loops: the definition of cross-correlation, written independently."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    oh = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride[0]:i * stride[0] + dilation[0] * (kh - 1) + 1:dilation[0],
                       j * stride[1]:j * stride[1] + dilation[1] * (kw - 1) + 1:dilation[1]]
            out[:, :, i, j] = np.einsum("nckl,ockl->no", patch, w)
    return out + (0 if b is None else b[None, :, None, None])


@PROPERTY
@given(stride=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       padding=st.tuples(st.integers(0, 2), st.integers(0, 1)),
       dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       bias=st.booleans(), seed=st.integers(0, 2**16))
def test_conv2d_forward_and_backward(device, stride, padding, dilation, kernel, bias, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 2, 5, 6))
    w = rng.standard_normal((3, 2) + kernel)
    b = rng.standard_normal(3)
    args = [x, w, b] if bias else [x, w]

    def conv(*t):
        return F.conv2d(t[0], t[1], t[2] if bias else None, stride, padding, dilation)

    result = gradcheck(conv, args, device, atol=1e-5)
    expected = naive_conv2d(x, w, b if bias else None, stride, padding, dilation)
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-10, atol=1e-10)


def naive_pool(x, k, s, p, reduce, pad_value):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=pad_value)
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = reduce(xp[:, :, i * s:i * s + k, j * s:j * s + k], axis=(2, 3))
    return out


@pytest.mark.parametrize("k, s, p", [(2, None, 0), (3, 1, 1), (2, 1, 1), (3, 2, 0)])
def test_pools_forward_and_backward(device, k, s, p):
    x = np.random.default_rng(3).permutation(2 * 2 * 5 * 5).reshape(2, 2, 5, 5) / 7.0
    result = gradcheck(lambda t: F.max_pool2d(t, k, s, p), [x], device, atol=1e-5)
    np.testing.assert_allclose(result.numpy(), naive_pool(x, k, s or k, p, np.max, -np.inf))
    result = gradcheck(lambda t: F.avg_pool2d(t, k, s, p), [x], device, atol=1e-5)
    np.testing.assert_allclose(result.numpy(), naive_pool(x, k, s or k, p, np.mean, 0.0))


def test_conv2d_float32_matches_naive(device):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 3, 9, 9)).astype(np.float32)
    w = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    out = F.conv2d(vecgrad.tensor(x, device=device), vecgrad.tensor(w, device=device),
                   padding=1, stride=2)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), naive_conv2d(x, w, None, (2, 2), (1, 1), (1, 1)),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("call, message", [
    (lambda x, w: F.conv2d(x[0], w), "conv2d: input must be 4-D"),
    (lambda x, w: F.conv2d(x, w[:, :2]), "conv2d: input .* has 3 channels but weight"),
    (lambda x, w: F.conv2d(x, w, stride=0), "conv2d: stride must be >= 1"),
    (lambda x, w: F.conv2d(x, w, padding=-1), "conv2d: padding must be >= 0"),
    (lambda x, w: F.conv2d(x[:, :, :2, :2], w), "does not fit"),
    (lambda x, w: F.conv2d(x, w, vecgrad.zeros(3, device=x.device)),
     r"bias must have shape \(4,\)"),
    (lambda x, w: F.max_pool2d(x, 2, padding=2), "padding .* at most half"),
    (lambda x, w: F.conv2d(x, w, stride=1.5), "stride must be an int"),
])
def test_conv_errors_are_named(device, call, message):
    x = vecgrad.zeros(1, 3, 6, 6, device=device)
    w = vecgrad.zeros(4, 3, 3, 3, device=device)
    with pytest.raises((ValueError, TypeError), match=message):
        call(x, w)
