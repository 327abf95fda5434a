"""Convolution and pooling over NCHW (and NCL) tensors, built on im2col + GEMM.

conv2d is one Function over the backend's three convolution primitives (conv2d and its
two adjoints, conv2d_input_grad and conv2d_weight_grad; base.Backend composes them from
im2col, matmul and col2im, the numpy backend computes them in cache-sized blocks).
conv_transpose2d is a matrix product followed by col2im; pools are max/sum over im2col's
columns. Their gradients come from MatMul, Gather, Sum and Im2Col/Col2Im (each other's
adjoints), with no backward of their own. The 1-D versions are the 2-D ones on a
(N, C, 1, L) view.
"""

from __future__ import annotations

import numbers

import numpy as np

from vecgrad.autograd import Function, is_grad_enabled
from vecgrad.ops import common, creation, matmul, movement, reduce, spatial
from vecgrad.ops.common import fmt_shape
from vecgrad.tensor import Tensor


class Im2Col(Function):
    @staticmethod
    def forward(ctx, x, *, kernel_size, stride, padding, dilation):
        ctx.attrs = (x.shape, kernel_size, stride, padding, dilation)
        return ctx.backend.im2col(x, kernel_size, stride, padding, dilation)

    @staticmethod
    def backward(ctx, grad):
        shape, kernel_size, stride, padding, dilation = ctx.attrs
        return ctx.backend.col2im(grad, shape, kernel_size, stride, padding, dilation)


class Col2Im(Function):
    """Im2Col's transpose (overlapping patches summed back into the image); applied by
    recorded backward passes (create_graph), its own gradient is an im2col."""

    @staticmethod
    def forward(ctx, cols, *, input_shape, kernel_size, stride, padding, dilation):
        ctx.attrs = (kernel_size, stride, padding, dilation)
        return ctx.backend.col2im(cols, input_shape, kernel_size, stride, padding, dilation)

    @staticmethod
    def backward(ctx, grad):
        kernel_size, stride, padding, dilation = ctx.attrs
        return ctx.backend.im2col(grad, kernel_size, stride, padding, dilation)


def pair(op, name, value, minimum):
    """An int or a pair of ints -> a validated pair."""
    if type(value) is int and value >= minimum:  # the common case, without ABC checks
        return (value, value)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (int(value), int(value))
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if min(value) < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {tuple(value)}")
    return (int(value[0]), int(value[1]))


def single(op, name, value, minimum):
    """An int or a 1-tuple of an int (the 1-D ops' arguments) -> a validated int."""
    if type(value) is int and value >= minimum:  # the common case, without ABC checks
        return value
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value}")
    return int(value)


def output_size(op, in_hw, kernel_size, stride, padding, dilation):
    """(OH, OW), or an error when the window does not fit."""
    out = tuple((in_hw[i] + 2 * padding[i] - dilation[i] * (kernel_size[i] - 1) - 1)
                // stride[i] + 1 for i in range(2))
    if min(out) < 1:
        if in_hw[0] == 1 and kernel_size[0] == 1 and padding[0] == 0:  # a 1-D op's view
            raise ValueError(f"{op}: a window of {kernel_size[1]} (dilation {dilation[1]}) "
                             f"does not fit an input of length {in_hw[1]} with padding "
                             f"{padding[1]}")
        raise ValueError(f"{op}: a {kernel_size[0]}x{kernel_size[1]} window (dilation "
                         f"{dilation}) does not fit an input of {in_hw[0]}x{in_hw[1]} with "
                         f"padding {padding}")
    return out


def _check_input(op, x, ndim=4):
    if not common.is_tensor(x):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    common.require_float(op, x)
    if x.ndim != ndim:
        layout = "4-D (N, C, H, W)" if ndim == 4 else "3-D (N, C, L)"
        raise ValueError(f"{op}: input must be {layout}, got shape {fmt_shape(x.shape)}")


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


# --------------------------------------------------------------------- convolution
def _conv_operands(op, x, weight, bias, ndim, groups, transposed=False):
    """Validated tensors of one dtype; returns (x, weight, bias, groups)."""
    _check_input(op, x, ndim)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and not common.is_tensor(t):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    common.check_same_device(op, x, weight, *([bias] if bias is not None else []))
    if weight.ndim != ndim:
        kernel = "KH, KW" if ndim == 4 else "K"
        roles = "in_ch, out_ch/groups" if transposed else "out_ch, in_ch/groups"
        raise ValueError(f"{op}: weight must be {ndim}-D ({roles}, {kernel}), got "
                         f"{fmt_shape(weight.shape)}")
    groups = single(op, "groups", groups, 1)
    c = x.shape[1]
    if transposed:
        if weight.shape[0] != c:
            raise ValueError(f"{op}: input {fmt_shape(x.shape)} has {c} channels but weight "
                             f"{fmt_shape(weight.shape)} expects {weight.shape[0]} "
                             f"(weight is (in_ch, out_ch/groups, ...))")
        if c % groups:
            raise ValueError(f"{op}: {c} input channels do not split into {groups} groups")
        out_channels = weight.shape[1] * groups
    else:
        if weight.shape[1] * groups != c:
            detail = "" if groups == 1 else f" ({weight.shape[1]} per group x {groups} groups)"
            raise ValueError(f"{op}: input {fmt_shape(x.shape)} has {c} channels but weight "
                             f"{fmt_shape(weight.shape)} expects {weight.shape[1] * groups}"
                             f"{detail}")
        out_channels = weight.shape[0]
        if out_channels % groups:
            raise ValueError(f"{op}: {out_channels} output channels do not split into "
                             f"{groups} groups")
    if bias is not None and bias.shape != (out_channels,):
        raise ValueError(f"{op}: bias must have shape ({out_channels},), got "
                         f"{fmt_shape(bias.shape)}")
    common.require_float(op, weight, "weight")
    dtype = common.promote(x.dtype, weight.dtype, *([bias.dtype] if bias is not None else []))
    x, weight = common.cast(x, dtype), common.cast(weight, dtype)
    bias = None if bias is None else common.cast(bias, dtype)
    return x, weight, bias, groups


def _conv_padding(op, padding, kernel_size, stride, dilation):
    """(padding on both sides, extra padding after) for an int/pair, "valid" or "same".

    "same" needs stride 1; an odd total puts the extra element after, as PyTorch does.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{op}: padding='same' needs stride 1 (as in PyTorch), got "
                                 f"stride {stride}")
            total = [dilation[i] * (kernel_size[i] - 1) for i in range(2)]
            return (total[0] // 2, total[1] // 2), (total[0] % 2, total[1] % 2)
        raise ValueError(f"{op}: padding must be an int, a pair, 'valid' or 'same', got "
                         f"{padding!r}")
    return pair(op, "padding", padding, 0), (0, 0)


def _convolve(op, x, weight, bias, stride, padding, extra, dilation, groups):
    """The 2-D convolution of validated operands (x NCHW, weight (O, C/groups, KH, KW))."""
    if extra != (0, 0):
        x = spatial.pad(x, (0, extra[1], 0, extra[0]))
    output_size(op, x.shape[2:], weight.shape[2:], stride, padding, dilation)  # fits?
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return Conv2d.apply(*inputs, stride=stride, padding=padding, dilation=dilation,
                        groups=groups)


# The convolution y = B(x, w) is bilinear, so with <B(x, w), g> = <x, Bx*(g, w)> =
# <w, Bw*(x, g)> its gradients are the backend's other two convolution primitives,
# Bx* = conv2d_input_grad and Bw* = conv2d_weight_grad, and theirs are again among the
# three. These three Functions state that once; create_graph runs the same rules.
class Conv2d(Function):
    """conv2d(x, weight[, bias]) as one primitive: the backend never builds a graph of
    im2col, transposes and products for it (the numpy backend never holds the whole
    patch matrix; see numpy_conv.py)."""

    @staticmethod
    def forward(ctx, x, weight, bias=None, *, stride, padding, dilation, groups):
        ctx.save_for_backward(x, weight)
        # Where the weight gradient will be asked for, the backend may leave work of its
        # forward in `kept` for it (the numpy backend's patch columns; it takes them out
        # when it uses them).
        kept = {} if ctx.needs_input_grad[1] and is_grad_enabled() else None
        ctx.attrs = (stride, padding, dilation, groups, kept)
        return ctx.backend.conv2d(x, weight, bias, stride, padding, dilation, groups, kept)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        stride, padding, dilation, groups, kept = ctx.attrs
        # gx = Bx*(grad, weight) = conv2d_input_grad, gw = Bw*(x, grad) =
        # conv2d_weight_grad and gb = grad summed over (N, OH, OW), asked for together (a
        # backend may compute them side by side)
        return ctx.backend.conv2d_grads(x, weight, grad, stride, padding, dilation, groups,
                                        ctx.needs_input_grad, kept)


class ConvInputGrad(Function):
    """Bx*(grad, weight): conv2d's gradient in x, recorded by create_graph."""

    @staticmethod
    def forward(ctx, grad, weight, *, input_shape, stride, padding, dilation, groups):
        ctx.save_for_backward(grad, weight)
        ctx.attrs = (input_shape, stride, padding, dilation, groups)
        return ctx.backend.conv2d_input_grad(grad, weight, input_shape, stride, padding,
                                             dilation, groups)

    @staticmethod
    def backward(ctx, v):
        grad, weight = ctx.saved_tensors
        _, stride, padding, dilation, groups = ctx.attrs
        be, needs = ctx.backend, ctx.needs_input_grad
        # <Bx*(g, w), v> = <g, B(v, w)> = <w, Bw*(v, g)>
        d_grad = be.conv2d(v, weight, None, stride, padding, dilation, groups) \
            if needs[0] else None
        d_weight = be.conv2d_weight_grad(v, grad, weight.shape, stride, padding, dilation,
                                         groups) if needs[1] else None
        return d_grad, d_weight


class ConvWeightGrad(Function):
    """Bw*(x, grad): conv2d's gradient in weight, recorded by create_graph."""

    @staticmethod
    def forward(ctx, x, grad, *, weight_shape, stride, padding, dilation, groups):
        ctx.save_for_backward(x, grad)
        ctx.attrs = (stride, padding, dilation, groups)
        return ctx.backend.conv2d_weight_grad(x, grad, weight_shape, stride, padding,
                                              dilation, groups)

    @staticmethod
    def backward(ctx, u):
        x, grad = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.attrs
        be, needs = ctx.backend, ctx.needs_input_grad
        # <Bw*(x, g), u> = <x, Bx*(g, u)> = <g, B(x, u)>
        d_x = be.conv2d_input_grad(grad, u, x.shape, stride, padding, dilation, groups) \
            if needs[0] else None
        d_grad = be.conv2d(x, u, None, stride, padding, dilation, groups) \
            if needs[1] else None
        return d_x, d_grad


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlation of x (N, C, H, W) with weight (O, C/groups, KH, KW), plus bias (O,).

    padding: an int, a pair, "valid" (no padding) or "same" (output size = input size;
    stride 1 only). groups splits the channels into groups convolved separately.
    """
    x, weight, bias, groups = _conv_operands("conv2d", x, weight, bias, 4, groups)
    stride = pair("conv2d", "stride", stride, 1)
    dilation = pair("conv2d", "dilation", dilation, 1)
    padding, extra = _conv_padding("conv2d", padding, weight.shape[2:], stride, dilation)
    return _convolve("conv2d", x, weight, bias, stride, padding, extra, dilation, groups)


def _as_2d(x):
    """(N, C, L) -> (N, C, 1, L): the 1-D ops run as 2-D ones with a height of 1."""
    return movement.reshape(x, x.shape[0], x.shape[1], 1, x.shape[2])


def _from_2d(x):
    return movement.reshape(x, x.shape[0], x.shape[1], x.shape[3])


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlation of x (N, C, L) with weight (O, C/groups, K), plus bias (O,).

    padding: an int, "valid" or "same" (stride 1 only). Runs as conv2d on (N, C, 1, L).
    """
    op = "conv1d"
    x, weight, bias, groups = _conv_operands(op, x, weight, bias, 3, groups)
    stride = (1, single(op, "stride", stride, 1))
    dilation = (1, single(op, "dilation", dilation, 1))
    if not isinstance(padding, str):
        padding = (0, single(op, "padding", padding, 0))
    padding, extra = _conv_padding(op, padding, (1, weight.shape[2]), stride, dilation)
    w2 = movement.reshape(weight, weight.shape[0], weight.shape[1], 1, weight.shape[2])
    return _from_2d(_convolve(op, _as_2d(x), w2, bias, stride, padding, extra, dilation,
                              groups))


def _transposed(op, x, weight, bias, stride, padding, output_padding, dilation, groups):
    """conv_transpose of validated operands: x (N, Cin, H, W), weight (Cin, Cout/g, KH, KW).

    Each input pixel scatters weight-scaled copies of the kernel into the output: a
    matrix product to (N, Cout*KH*KW, H*W) patch columns, then col2im sums them.
    """
    n, cin, h, w = x.shape
    _, og, kh, kw = weight.shape
    cout = og * groups
    for i in range(2):
        if output_padding[i] >= max(stride[i], dilation[i]):
            raise ValueError(f"{op}: output_padding {output_padding} must be smaller than "
                             f"stride {stride} or dilation {dilation}")
    if h == 0 or w == 0:  # (0 - 1)s + ... gave k - s positions of bias alone
        raise ValueError(f"{op}: input of {h}x{w} has an empty spatial axis; a transposed "
                         "convolution needs at least one input position (as PyTorch)")
    base = tuple((size - 1) * stride[i] - 2 * padding[i] + dilation[i] * ((kh, kw)[i] - 1) + 1
                 for i, size in enumerate((h, w)))
    # output_padding counts: (h - 1)s - 2p + d(k - 1) + 1 may be 0 with a pixel added back
    if min(b + extra for b, extra in zip(base, output_padding)) < 1:
        raise ValueError(f"{op}: padding {padding} leaves no output for an input of {h}x{w} "
                         f"(kernel {kh}x{kw}, stride {stride}, dilation {dilation}, "
                         f"output_padding {output_padding})")
    if groups == 1:
        weight_cols = movement.transpose(movement.reshape(weight, cin, og * kh * kw), 0, 1)
        cols = matmul.matmul(weight_cols, movement.reshape(x, n, cin, h * w))
    else:
        weight_cols = movement.transpose(
            movement.reshape(weight, groups, cin // groups, og * kh * kw), 1, 2)
        cols = matmul.matmul(weight_cols, movement.reshape(x, n, groups, cin // groups, h * w))
    cols = movement.reshape(cols, n, cout * kh * kw, h * w)
    if output_padding[0] < stride[0] and output_padding[1] < stride[1]:
        # col2im of an image that is output_padding larger still has H x W windows
        shape = (n, cout, base[0] + output_padding[0], base[1] + output_padding[1])
        out = Col2Im.apply(cols, input_shape=shape, kernel_size=(kh, kw), stride=stride,
                           padding=padding, dilation=dilation)
    else:  # output_padding >= stride (dilation > stride): the whole image, then crop
        full = tuple(base[i] + 2 * padding[i] for i in range(2))
        out = Col2Im.apply(cols, input_shape=(n, cout) + full, kernel_size=(kh, kw),
                           stride=stride, padding=(0, 0), dilation=dilation)
        out = spatial.pad(out, (-padding[1], output_padding[1] - padding[1],
                                -padding[0], output_padding[0] - padding[0]))
    if bias is not None:
        out = out + movement.reshape(bias, 1, cout, 1, 1)
    return out


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """The transposed convolution ("deconvolution"): the gradient of conv2d with respect
    to its input, used to upsample. x (N, Cin, H, W), weight (Cin, Cout/groups, KH, KW);
    output size (H - 1)*stride - 2*padding + dilation*(KH - 1) + output_padding + 1.
    """
    op = "conv_transpose2d"
    x, weight, bias, groups = _conv_operands(op, x, weight, bias, 4, groups, transposed=True)
    stride = pair(op, "stride", stride, 1)
    padding = pair(op, "padding", padding, 0)
    output_padding = pair(op, "output_padding", output_padding, 0)
    dilation = pair(op, "dilation", dilation, 1)
    return _transposed(op, x, weight, bias, stride, padding, output_padding, dilation, groups)


def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """conv_transpose2d for (N, Cin, L) input and (Cin, Cout/groups, K) weight."""
    op = "conv_transpose1d"
    x, weight, bias, groups = _conv_operands(op, x, weight, bias, 3, groups, transposed=True)
    w2 = movement.reshape(weight, weight.shape[0], weight.shape[1], 1, weight.shape[2])
    return _from_2d(_transposed(
        op, _as_2d(x), w2, bias, (1, single(op, "stride", stride, 1)),
        (0, single(op, "padding", padding, 0)),
        (0, single(op, "output_padding", output_padding, 0)),
        (1, single(op, "dilation", dilation, 1)), groups))


# ------------------------------------------------------------------------- pooling
def pool_output_length(size, kernel, stride, padding, dilation, ceil_mode):
    """PyTorch's pooling output length; with ceil_mode a last partial window counts if it
    starts inside the input or its left padding."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _pool_args(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    kernel_size = pair(op, "kernel_size", kernel_size, 1)
    stride = kernel_size if stride is None else pair(op, "stride", stride, 1)
    padding = pair(op, "padding", padding, 0)
    dilation = pair(op, "dilation", dilation, 1)
    if padding[0] * 2 > kernel_size[0] or padding[1] * 2 > kernel_size[1]:
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel size "
                         f"{kernel_size}")
    in_hw = x.shape[2:]
    out_hw = tuple(pool_output_length(in_hw[i], kernel_size[i], stride[i], padding[i],
                                      dilation[i], bool(ceil_mode)) for i in range(2))
    if min(out_hw) < 1:
        output_size(op, in_hw, kernel_size, stride, padding, dilation)  # raises, explaining
    # ceil_mode's last window may hang over the end: that much more padding after.
    extra = tuple(max(0, (out_hw[i] - 1) * stride[i] + dilation[i] * (kernel_size[i] - 1) + 1
                      - in_hw[i] - 2 * padding[i]) for i in range(2))
    return kernel_size, stride, padding, dilation, out_hw, extra


def _max_pool(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    kernel_size, stride, padding, dilation, (oh, ow), extra = _pool_args(
        op, x, kernel_size, stride, padding, dilation, ceil_mode)
    if stride == kernel_size and padding == (0, 0) and dilation == (1, 1) and extra == (0, 0):
        return TiledMaxPool.apply(x, kernel_size=kernel_size)  # LeNet's 2x2 pools and kin
    n, c, h, w = x.shape
    planes = movement.reshape(x, n * c, 1, h, w)  # pool each channel as its own image
    if padding != (0, 0) or extra != (0, 0):  # padding reads as -inf: it never wins
        planes = spatial.pad(planes, (padding[1], padding[1] + extra[1],
                                      padding[0], padding[0] + extra[0]), value=float("-inf"))
    cols = Im2Col.apply(planes, kernel_size=kernel_size, stride=stride, padding=(0, 0),
                        dilation=dilation)  # (N*C, KH*KW, OH*OW)
    # The first maximum of each window takes the whole gradient, as in PyTorch.
    # (The backend's argmax directly: reduce.argmax refuses an empty batch.)
    be = cols._backend
    winners = Tensor._wrap(be.arg_reduce("argmax", cols._buf, 1, True), be)
    return movement.reshape(movement.Gather.apply(cols, winners, axis=1), n, c, oh, ow)


def _avg_pool(op, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    kernel_size, stride, padding, _, (oh, ow), extra = _pool_args(
        op, x, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and (
            isinstance(divisor_override, bool) or not isinstance(divisor_override, numbers.Integral)
            or divisor_override < 1):
        raise ValueError(f"{op}: divisor_override must be a positive int, got "
                         f"{divisor_override!r}")
    n, c, h, w = x.shape
    planes = movement.reshape(x, n * c, 1, h, w)
    if extra != (0, 0):
        planes = spatial.pad(planes, (0, extra[1], 0, extra[0]))
    cols = Im2Col.apply(planes, kernel_size=kernel_size, stride=stride, padding=padding,
                        dilation=(1, 1))  # zero padding: adds nothing to the sums
    # What each window divides by: PyTorch counts the padding (count_include_pad) but
    # never the part of a ceil_mode window beyond it.
    counts = []
    for size, count, k, s, p in zip((h, w), (oh, ow), kernel_size, stride, padding):
        start = np.arange(count) * s - p
        end = np.minimum(start + k, size + p)
        counts.append(end - start if count_include_pad
                      else np.minimum(end, size) - np.maximum(start, 0))
    divisor = np.outer(counts[0], counts[1]).reshape(-1)
    if divisor_override is not None:
        out = reduce.sum(cols, axis=1) / float(divisor_override)
    elif np.all(divisor == kernel_size[0] * kernel_size[1]):
        out = reduce.mean(cols, axis=1)
    else:
        weights = creation.tensor((1.0 / divisor).astype(x.dtype), device=x.device)
        out = reduce.sum(cols, axis=1) * weights
    return movement.reshape(out, n, c, oh, ow)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max over each window (stride defaults to kernel_size; padding reads as -inf).

    On ties the first maximum of the window (in row-major order) gets the gradient, as
    in PyTorch; dilation spaces the window's taps; ceil_mode keeps a last partial window.
    """
    _check_input("max_pool2d", x)
    return _max_pool("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Mean over each window; zero padding counts in the mean unless count_include_pad
    is False (PyTorch's defaults); divisor_override replaces the window size."""
    _check_input("avg_pool2d", x)
    return _avg_pool("avg_pool2d", x, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def _pool1d_args(op, x, kernel_size, stride, padding, dilation=1):
    _check_input(op, x, 3)
    return ((1, single(op, "kernel_size", kernel_size, 1)),
            None if stride is None else (1, single(op, "stride", stride, 1)),
            (0, single(op, "padding", padding, 0)), (1, single(op, "dilation", dilation, 1)))


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """max_pool2d for (N, C, L) input."""
    k, s, p, d = _pool1d_args("max_pool1d", x, kernel_size, stride, padding, dilation)
    return _from_2d(_max_pool("max_pool1d", _as_2d(x), k, s, p, d, ceil_mode))


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """avg_pool2d for (N, C, L) input."""
    k, s, p, _ = _pool1d_args("avg_pool1d", x, kernel_size, stride, padding)
    return _from_2d(_avg_pool("avg_pool1d", _as_2d(x), k, s, p, ceil_mode,
                              count_include_pad, None))


# --------------------------------------------------------- max-pool over whole tiles
class TiledMaxPool(Function):
    """Max over non-overlapping KH x KW tiles (stride = kernel, no padding or dilation),
    the pooling of LeNet and most CNNs: the backend's max_pool_tiles primitives (see
    base.Backend for the rule). Backward hands each tile's gradient to its first maximum
    (its first nan if it has one), as PyTorch does; input rows/columns past the last
    whole tile get no gradient (they are not in any window)."""

    @staticmethod
    def forward(ctx, x, *, kernel_size):
        out = ctx.backend.max_pool_tiles(x, kernel_size)
        ctx.save_for_backward(x, out)
        ctx.attrs = kernel_size
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        return ctx.backend.max_pool_tiles_backward(x, out, grad, ctx.attrs)
