"""2-D convolution and pooling over NCHW tensors, built on im2col + GEMM.

im2col/col2im are the only conv primitives; conv2d is a matrix product over the patch
columns and pools are max/mean over them, so their gradients come from MatMul, MaxMin
and Sum with no backward of their own.
"""

from __future__ import annotations

import numbers

from vecgrad.autograd import Function
from vecgrad.ops import common, creation, matmul, movement, reduce
from vecgrad.ops.common import fmt_shape


class Im2Col(Function):
    @staticmethod
    def forward(ctx, x, *, kernel_size, stride, padding, dilation):
        ctx.attrs = (x.shape, kernel_size, stride, padding, dilation)
        return ctx.backend.im2col(x, kernel_size, stride, padding, dilation)

    @staticmethod
    def backward(ctx, grad):
        shape, kernel_size, stride, padding, dilation = ctx.attrs
        return ctx.backend.col2im(grad, shape, kernel_size, stride, padding, dilation)


def pair(op, name, value, minimum):
    """An int or a pair of ints -> a validated pair."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (int(value), int(value))
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if min(value) < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {tuple(value)}")
    return (int(value[0]), int(value[1]))


def output_size(op, in_hw, kernel_size, stride, padding, dilation):
    """(OH, OW), or an error when the window does not fit."""
    out = tuple((in_hw[i] + 2 * padding[i] - dilation[i] * (kernel_size[i] - 1) - 1)
                // stride[i] + 1 for i in range(2))
    if min(out) < 1:
        raise ValueError(f"{op}: a {kernel_size[0]}x{kernel_size[1]} window (dilation "
                         f"{dilation}) does not fit an input of {in_hw[0]}x{in_hw[1]} with "
                         f"padding {padding}")
    return out


def _check_input(op, x):
    if not common.is_tensor(x):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    common.require_float(op, x)
    if x.ndim != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got shape {fmt_shape(x.shape)}")


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    """Patches of an NCHW tensor as columns: (N, C*KH*KW, OH*OW), differentiable."""
    _check_input("im2col", x)
    kernel_size = pair("im2col", "kernel_size", kernel_size, 1)
    stride = pair("im2col", "stride", stride, 1)
    padding = pair("im2col", "padding", padding, 0)
    dilation = pair("im2col", "dilation", dilation, 1)
    output_size("im2col", x.shape[2:], kernel_size, stride, padding, dilation)
    return Im2Col.apply(x, kernel_size=kernel_size, stride=stride, padding=padding,
                        dilation=dilation)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Cross-correlation of x (N, C, H, W) with weight (O, C, KH, KW), plus bias (O,)."""
    _check_input("conv2d", x)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and not common.is_tensor(t):
            raise TypeError(f"conv2d: {name} must be a Tensor, got {type(t).__name__}")
    common.check_same_device("conv2d", x, weight, *([bias] if bias is not None else []))
    if weight.ndim != 4:
        raise ValueError(f"conv2d: weight must be 4-D (out_ch, in_ch, KH, KW), got "
                         f"{fmt_shape(weight.shape)}")
    o, c, kh, kw = weight.shape
    if x.shape[1] != c:
        raise ValueError(f"conv2d: input {fmt_shape(x.shape)} has {x.shape[1]} channels but "
                         f"weight {fmt_shape(weight.shape)} expects {c}")
    if bias is not None and bias.shape != (o,):
        raise ValueError(f"conv2d: bias must have shape ({o},), got {fmt_shape(bias.shape)}")
    stride = pair("conv2d", "stride", stride, 1)
    padding = pair("conv2d", "padding", padding, 0)
    dilation = pair("conv2d", "dilation", dilation, 1)
    common.require_float("conv2d", weight, "weight")
    dtype = common.promote(x.dtype, weight.dtype, *([bias.dtype] if bias is not None else []))
    x, weight = common.cast(x, dtype), common.cast(weight, dtype)
    bias = None if bias is None else common.cast(bias, dtype)
    oh, ow = output_size("conv2d", x.shape[2:], (kh, kw), stride, padding, dilation)
    n = x.shape[0]
    cols = Im2Col.apply(x, kernel_size=(kh, kw), stride=stride, padding=padding,
                        dilation=dilation)  # (N, C*KH*KW, OH*OW)
    # One GEMM for the whole batch: (O, C*KH*KW) @ (C*KH*KW, OH*OW*N), columns ordered
    # (position, image) - the numpy backend's memory order, so this reshape is free there.
    rows = movement.reshape(movement.permute(cols, 1, 2, 0), c * kh * kw, oh * ow * n)
    weight_rows = movement.reshape(weight, o, c * kh * kw)
    if bias is None:
        out = matmul.matmul(weight_rows, rows)
    else:
        out = matmul.MatMulBias.apply(weight_rows, rows, movement.reshape(bias, o, 1))
    return movement.permute(movement.reshape(out, o, oh, ow, n), 3, 0, 1, 2)


def _pool_args(op, x, kernel_size, stride, padding):
    _check_input(op, x)
    kernel_size = pair(op, "kernel_size", kernel_size, 1)
    stride = kernel_size if stride is None else pair(op, "stride", stride, 1)
    padding = pair(op, "padding", padding, 0)
    if padding[0] * 2 > kernel_size[0] or padding[1] * 2 > kernel_size[1]:
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel size "
                         f"{kernel_size}")
    out_hw = output_size(op, x.shape[2:], kernel_size, stride, padding, (1, 1))
    return kernel_size, stride, padding, out_hw


def _pad_constant(x, padding, value):
    """x padded on H and W with a constant (for max pooling: -inf never wins)."""
    ph, pw = padding
    n, c, h, w = x.shape
    if ph:
        edge = creation.full((n, c, ph, w), value, dtype=x.dtype, device=x.device)
        x = movement.cat([edge, x, edge], axis=2)
    if pw:
        edge = creation.full((n, c, h + 2 * ph, pw), value, dtype=x.dtype, device=x.device)
        x = movement.cat([edge, x, edge], axis=3)
    return x


def _pool(op, x, kernel_size, stride, padding, reducer, pad_value):
    kernel_size, stride, padding, (oh, ow) = _pool_args(op, x, kernel_size, stride, padding)
    n, c, h, w = x.shape
    planes = movement.reshape(x, n * c, 1, h, w)  # pool each channel as its own image
    im2col_padding = padding
    if pad_value is not None and padding != (0, 0):
        planes = _pad_constant(planes, padding, pad_value)
        im2col_padding = (0, 0)
    cols = Im2Col.apply(planes, kernel_size=kernel_size, stride=stride,
                        padding=im2col_padding, dilation=(1, 1))  # (N*C, KH*KW, OH*OW)
    return movement.reshape(reducer(cols, axis=1), n, c, oh, ow)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max over each window (stride defaults to kernel_size; padding reads as -inf)."""
    return _pool("max_pool2d", x, kernel_size, stride, padding, reduce.max, float("-inf"))


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Mean over each window; zero padding counts in the mean (PyTorch's default)."""
    return _pool("avg_pool2d", x, kernel_size, stride, padding, reduce.mean, None)
