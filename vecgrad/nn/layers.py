"""Layers: thin Modules over ``vecgrad.nn.functional`` that own their Parameters."""

from __future__ import annotations

import math
import numbers
from collections import OrderedDict
from typing import Any

import numpy as np

import vecgrad
from scalargrad.functions import ACTIVATIONS  # the shared catalogue of activation names
from vecgrad.nn import functional as F
from vecgrad.nn import init
from vecgrad.nn.module import (Module, Parameter, check_inplace, require_input_like,
                                require_tensor)
from vecgrad.ops import common
from vecgrad.ops.embedding import padding_index


def _is_int(value: Any) -> bool:
    """An int, numpy's integers included (np.prod(shape) is one), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _positive_int(owner: str, name: str, value: Any) -> int:
    if not _is_int(value) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


def _pair(owner: str, name: str, value: Any, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints, each >= minimum, as a pair."""
    pair = (value, value) if _is_int(value) else value
    if (not isinstance(pair, (tuple, list)) or len(pair) != 2
            or not all(_is_int(v) and v >= minimum for v in pair)):
        raise ValueError(
            f"{owner}: {name} must be an int >= {minimum} or a pair of them, got {value!r}"
        )
    return tuple(int(v) for v in pair)


def _new_weight(shape: tuple[int, ...], fan_in: int, dtype, device) -> Parameter:
    """U(−1/√fan_in, 1/√fan_in): small uniform noise scaled by the fan-in (as PyTorch)."""
    param = Parameter(vecgrad.zeros(shape, dtype=dtype, device=device))
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    init.uniform_(param, -bound, bound)
    return param


class Linear(Module):
    """y = x Wᵀ + b with W of shape (out_features, in_features), as in PyTorch."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 *, dtype=None, device: str | None = None):
        super().__init__()
        self.in_features = _positive_int("Linear", "in_features", in_features)
        self.out_features = _positive_int("Linear", "out_features", out_features)
        in_features, out_features = self.in_features, self.out_features
        self.weight = _new_weight((out_features, in_features), in_features, dtype, device)
        if bias:
            self.bias = _new_weight((out_features,), in_features, dtype, device)
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        require_tensor("Linear", x)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear: expected input (..., {self.in_features}), got {x.shape}")
        require_input_like("Linear", x, self.weight)
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


def _tuple(owner: str, name: str, value: Any, minimum: int, n: int) -> tuple[int, ...]:
    """An int or n ints, each >= minimum, as an n-tuple."""
    if n == 2:
        return _pair(owner, name, value, minimum)
    values = (value,) if _is_int(value) else value
    if (not isinstance(values, (tuple, list)) or len(values) != 1
            or not all(_is_int(v) and v >= minimum for v in values)):
        raise ValueError(f"{owner}: {name} must be an int >= {minimum}, got {value!r}")
    return tuple(int(v) for v in values)


_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _check_channels(layer: Module, x: Any) -> None:
    """The input of a conv layer: (N, in_channels, L) or (N, in_channels, H, W)."""
    require_tensor(type(layer).__name__, x)
    if x.ndim != layer.dims + 2 or x.shape[1] != layer.in_channels:
        layout = f"(N, {layer.in_channels}, " + ("L)" if layer.dims == 1 else "H, W)")
        raise ValueError(f"{type(layer).__name__}: expected input {layout}, got {x.shape}")
    require_input_like(type(layer).__name__, x, layer.weight)


class _ConvNd(Module):
    """What Conv1d and Conv2d share: arguments, PyTorch's initialisation, padding_mode."""

    dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 *, dtype=None, device: str | None = None):
        super().__init__()
        owner, n = type(self).__name__, self.dims
        in_channels, out_channels, groups = self.in_channels, self.out_channels, self.groups = \
            _channels(owner, in_channels, out_channels, groups)
        self.kernel_size = _tuple(owner, "kernel_size", kernel_size, 1, n)
        self.stride = _tuple(owner, "stride", stride, 1, n)
        self.dilation = _tuple(owner, "dilation", dilation, 1, n)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{owner}: padding must be an int, a tuple, 'same' or "
                                 f"'valid', got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{owner}: padding='same' needs stride 1, got {self.stride}")
            self.padding = padding
        else:
            self.padding = _tuple(owner, "padding", padding, 0, n)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{owner}: padding_mode must be one of {_PADDING_MODES}, got "
                             f"{padding_mode!r}")
        self.padding_mode = padding_mode
        fan_in = (in_channels // groups) * math.prod(self.kernel_size)
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = _new_weight(shape, fan_in, dtype, device)
        if bias:
            self.bias = _new_weight((out_channels,), fan_in, dtype, device)
        else:
            self.register_parameter("bias", None)

    def _explicit_padding(self) -> tuple[int, ...]:
        """F.pad's amounts (last axis first) for padding_mode other than zeros."""
        amounts = []
        for i in reversed(range(self.dims)):
            if self.padding == "valid":
                before = after = 0
            elif self.padding == "same":
                total = self.dilation[i] * (self.kernel_size[i] - 1)
                before, after = total // 2, total - total // 2
            else:
                before = after = self.padding[i]
            amounts += [before, after]
        return tuple(amounts)

    def forward(self, x):
        _check_channels(self, x)
        conv = F.conv1d if self.dims == 1 else F.conv2d
        padding = self.padding if self.dims == 2 or isinstance(self.padding, str) \
            else self.padding[0]
        if self.padding_mode != "zeros":
            x = F.pad(x, self._explicit_padding(), mode=self.padding_mode)
            padding = 0
        one = (lambda t: t[0]) if self.dims == 1 else (lambda t: t)
        return conv(x, self.weight, self.bias, stride=one(self.stride), padding=padding,
                    dilation=one(self.dilation), groups=self.groups)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding!r}, dilation={self.dilation}")
        if self.groups != 1:
            text += f", groups={self.groups}"
        text += f", bias={self.bias is not None}"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode!r}"
        return text



def _channels(owner: str, in_channels, out_channels, groups) -> tuple[int, int, int]:
    """Checked (in_channels, out_channels, groups) of a convolution layer."""
    in_channels = _positive_int(owner, "in_channels", in_channels)
    out_channels = _positive_int(owner, "out_channels", out_channels)
    groups = _positive_int(owner, "groups", groups)
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"{owner}: in_channels ({in_channels}) and out_channels "
                         f"({out_channels}) must both be divisible by groups ({groups})")
    return in_channels, out_channels, groups

class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) input; weight of shape (out, in/groups, k).

    Conv1d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
    groups=1, bias=True, padding_mode="zeros"), as in PyTorch.
    """

    dims = 1


class Conv2d(_ConvNd):
    """2-D convolution over NCHW input; weight of shape (out, in/groups, kh, kw).

    Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
    groups=1, bias=True, padding_mode="zeros"); padding may be "same" or "valid".
    """

    dims = 2


class _ConvTransposeNd(Module):
    dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", *, dtype=None, device: str | None = None):
        super().__init__()
        owner, n = type(self).__name__, self.dims
        in_channels, out_channels, groups = self.in_channels, self.out_channels, self.groups = \
            _channels(owner, in_channels, out_channels, groups)
        if padding_mode != "zeros":
            raise ValueError(f"{owner}: only padding_mode='zeros' is supported (as in "
                             f"PyTorch), got {padding_mode!r}")
        self.padding_mode = padding_mode
        self.kernel_size = _tuple(owner, "kernel_size", kernel_size, 1, n)
        self.stride = _tuple(owner, "stride", stride, 1, n)
        self.padding = _tuple(owner, "padding", padding, 0, n)
        self.output_padding = _tuple(owner, "output_padding", output_padding, 0, n)
        self.dilation = _tuple(owner, "dilation", dilation, 1, n)
        # PyTorch's fan-in for a transposed weight (in, out/groups, k...) is its dim 1.
        fan_in = (out_channels // groups) * math.prod(self.kernel_size)
        shape = (in_channels, out_channels // groups, *self.kernel_size)
        self.weight = _new_weight(shape, fan_in, dtype, device)
        if bias:
            self.bias = _new_weight((out_channels,), fan_in, dtype, device)
        else:
            self.register_parameter("bias", None)

    def forward(self, x, output_size=None):
        _check_channels(self, x)
        output_padding = self.output_padding
        if output_size is not None:  # pick the output_padding that gives this size
            wanted = tuple(output_size)[-self.dims:]
            smallest = tuple((x.shape[2 + i] - 1) * self.stride[i] - 2 * self.padding[i]
                             + self.dilation[i] * (self.kernel_size[i] - 1) + 1
                             for i in range(self.dims))
            output_padding = tuple(w - s for w, s in zip(wanted, smallest))
            if len(wanted) != self.dims or any(
                    not 0 <= p < max(self.stride[i], self.dilation[i])
                    for i, p in enumerate(output_padding)):
                raise ValueError(f"{type(self).__name__}: output_size {tuple(output_size)} "
                                 f"is not reachable from input {x.shape} (smallest output "
                                 f"{smallest}, each at most stride - 1 larger)")
        if self.dims == 1:
            return F.conv_transpose1d(x, self.weight, self.bias, self.stride[0],
                                      self.padding[0], output_padding[0], self.groups,
                                      self.dilation[0])
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                  output_padding, self.groups, self.dilation)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        for name, default in (("padding", 0), ("output_padding", 0), ("dilation", 1)):
            if getattr(self, name) != (default,) * self.dims:
                text += f", {name}={getattr(self, name)}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution (upsampling); weight of shape (in, out/groups, k)."""

    dims = 1


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution (upsampling); weight of shape (in, out/groups, kh, kw).

    Output size: (H - 1)*stride - 2*padding + dilation*(kh - 1) + output_padding + 1;
    forward(x, output_size=...) picks output_padding for a wanted size, as in PyTorch.
    """

    dims = 2


class _PoolNd(Module):
    dims = 2

    def __init__(self, kernel_size, stride=None, padding=0, *, ceil_mode: bool = False):
        super().__init__()
        owner, n = type(self).__name__, self.dims
        self.kernel_size = _tuple(owner, "kernel_size", kernel_size, 1, n)
        self.stride = self.kernel_size if stride is None else _tuple(owner, "stride", stride,
                                                                     1, n)
        self.padding = _tuple(owner, "padding", padding, 0, n)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"{owner}: padding {self.padding} must be at most half the "
                             f"kernel size {self.kernel_size}")
        self.ceil_mode = bool(ceil_mode)

    def _args(self, *names):
        one = (lambda t: t[0]) if self.dims == 1 else (lambda t: t)
        return [one(getattr(self, name)) for name in names]

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, ceil_mode={self.ceil_mode}")


class _MaxPoolNd(_PoolNd):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        super().__init__(kernel_size, stride, padding, ceil_mode=ceil_mode)
        self.dilation = _tuple(type(self).__name__, "dilation", dilation, 1, self.dims)

    def forward(self, x):
        pool = F.max_pool1d if self.dims == 1 else F.max_pool2d
        k, s, p, d = self._args("kernel_size", "stride", "padding", "dilation")
        return pool(x, k, s, p, d, self.ceil_mode)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", dilation={self.dilation}"


class _AvgPoolNd(_PoolNd):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__(kernel_size, stride, padding, ceil_mode=ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override = divisor_override

    def forward(self, x):
        k, s, p = self._args("kernel_size", "stride", "padding")
        if self.dims == 1:
            return F.avg_pool1d(x, k, s, p, self.ceil_mode, self.count_include_pad)
        return F.avg_pool2d(x, k, s, p, self.ceil_mode, self.count_include_pad,
                            self.divisor_override)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", count_include_pad={self.count_include_pad}"


class MaxPool1d(_MaxPoolNd):
    """Max over windows of (N, C, L) input (stride defaults to the kernel size)."""

    dims = 1


class MaxPool2d(_MaxPoolNd):
    """Max over kernel windows of NCHW input (stride defaults to the kernel size)."""

    dims = 2


class AvgPool1d(_AvgPoolNd):
    """Mean over windows of (N, C, L) input (stride defaults to the kernel size)."""

    dims = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)


class AvgPool2d(_AvgPoolNd):
    """Mean over kernel windows of NCHW input (stride defaults to the kernel size)."""

    dims = 2


class _AdaptiveAvgPool(Module):
    """Average pooling to a fixed output size whatever the input size (1-D or 2-D)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        pool = F.adaptive_avg_pool1d if self.dims == 1 else F.adaptive_avg_pool2d
        return pool(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPool):
    """Average pooling of (N, C, L) input to a fixed output length."""

    dims = 1


class AdaptiveAvgPool2d(_AdaptiveAvgPool):
    """Average pooling of NCHW input to a fixed (OH, OW) whatever the input size.

    AdaptiveAvgPool2d(1) is the global average pool (the mean over H and W), the usual
    head of a CNN before Flatten and Linear.
    """

    dims = 2


class Upsample(Module):
    """F.interpolate as a layer: Upsample(scale_factor=2, mode="nearest")."""

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest",
                 align_corners: bool | None = None):
        super().__init__()
        self.size = size
        self.scale_factor = scale_factor
        self.mode = mode
        self.align_corners = align_corners

    def forward(self, x):
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners)

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else \
            f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"


class _BatchNorm(Module):
    """What BatchNorm1d and BatchNorm2d share (PyTorch's arguments, buffers and keys)."""

    #: the input ranks this layer accepts and how its error names them
    ranks: tuple[int, ...] = ()
    layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, *, dtype=None,
                 device: str | None = None):
        super().__init__()
        owner = type(self).__name__
        num_features = self.num_features = _positive_int(owner, "num_features", num_features)
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps >= 0:
            raise ValueError(f"{owner}: eps must be a number >= 0, got {eps!r}")
        if momentum is not None and (isinstance(momentum, bool)
                                     or not isinstance(momentum, numbers.Real)
                                     or not 0 <= momentum <= 1):
            raise ValueError(f"{owner}: momentum must be in [0, 1] or None (a cumulative "
                             f"average), got {momentum!r}")
        self.eps = float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        dtype = vecgrad.float32 if dtype is None else dtype
        if self.affine:
            self.weight = Parameter(vecgrad.ones(num_features, dtype=dtype, device=device))
            self.bias = Parameter(vecgrad.zeros(num_features, dtype=dtype, device=device))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean",
                                 vecgrad.zeros(num_features, dtype=dtype, device=device))
            self.register_buffer("running_var",
                                 vecgrad.ones(num_features, dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked",
                                 vecgrad.zeros((), dtype=vecgrad.int64, device=device))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def reset_running_stats(self) -> None:
        """Forget the running statistics (mean 0, variance 1, no batches seen)."""
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1.0)
            self.num_batches_tracked.zero_()

    def forward(self, x):
        owner = type(self).__name__
        require_tensor(owner, x)
        if x.ndim not in self.ranks:
            raise ValueError(f"{owner}: expected input {self.layout}, got {x.shape}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{owner}: expected {self.num_features} channels (num_features) "
                             f"on axis 1, got input of shape {x.shape}")
        like = self.weight if self.weight is not None else self.running_mean
        if like is not None:
            require_input_like(owner, x, like)
        use_batch_stats = self.training or self.running_mean is None
        if use_batch_stats and x.numel() // max(x.shape[1], 1) <= 1:
            raise ValueError(f"{owner}: expected more than 1 value per channel when "
                             f"training, got input of shape {x.shape}; use a larger batch "
                             f"or call eval()")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # a cumulative average over the batches so far
                factor = 1.0 / float(self.num_batches_tracked.item())
        update = not self.training or self.track_running_stats
        return F.batch_norm(x, self.running_mean if update else None,
                            self.running_var if update else None, self.weight, self.bias,
                            training=use_batch_stats, momentum=factor, eps=self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) input, per channel C.

    Training: normalize with the batch's mean and variance and update the running_mean /
    running_var buffers (momentum 0.1; None: a cumulative average); eval(): normalize
    with the running statistics. weight (ones) and bias (zeros) scale and shift.
    """

    ranks = (2, 3)
    layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of NCHW input per channel (statistics over N, H and W).

    The same arguments, buffers (running_mean, running_var, num_batches_tracked) and
    state_dict keys as PyTorch's BatchNorm2d.
    """

    ranks = (4,)
    layout = "(N, C, H, W)"


class LayerNorm(Module):
    """Normalize each sample over its trailing normalized_shape axes, then scale and
    shift elementwise (weight ones, bias zeros); the same in training and eval."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, *, dtype=None, device: str | None = None):
        super().__init__()
        shape = (normalized_shape,) if _is_int(normalized_shape) else normalized_shape
        if (not isinstance(shape, (tuple, list)) or not shape
                or not all(_is_int(n) and n >= 1 for n in shape)):
            raise ValueError(f"LayerNorm: normalized_shape must be a positive int or a tuple "
                             f"of them, got {normalized_shape!r}")
        self.normalized_shape = tuple(int(n) for n in shape)
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps >= 0:
            raise ValueError(f"LayerNorm: eps must be a number >= 0, got {eps!r}")
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        dtype = vecgrad.float32 if dtype is None else dtype
        if self.elementwise_affine:
            self.weight = Parameter(vecgrad.ones(self.normalized_shape, dtype=dtype,
                                                 device=device))
        else:
            self.register_parameter("weight", None)
        if self.elementwise_affine and bias:
            self.bias = Parameter(vecgrad.zeros(self.normalized_shape, dtype=dtype,
                                                device=device))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        if self.weight is not None:
            require_tensor("LayerNorm", x)
            require_input_like("LayerNorm", x, self.weight)
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class Embedding(Module):
    """A lookup table: integer indices (any shape) -> rows of weight (num, dim).

    weight starts as N(0, 1) noise with the padding_idx row zero; that row never gets
    a gradient. Indices out of [0, num_embeddings) are an error at the call.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 *, dtype=None, device: str | None = None, _weight=None):
        super().__init__()
        num_embeddings = self.num_embeddings = _positive_int("Embedding", "num_embeddings",
                                                             num_embeddings)
        embedding_dim = self.embedding_dim = _positive_int("Embedding", "embedding_dim",
                                                           embedding_dim)
        self.padding_idx = padding_index("Embedding", padding_idx, num_embeddings)
        if _weight is not None:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: weight of shape {tuple(_weight.shape)} does not "
                                 f"match ({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(_weight)
        else:
            self.weight = Parameter(vecgrad.zeros((num_embeddings, embedding_dim),
                                                  dtype=dtype or vecgrad.float32,
                                                  device=device))
            init.normal_(self.weight)
            if self.padding_idx is not None:
                with vecgrad.no_grad():  # zero the padding row
                    row = np.ones((num_embeddings, 1))
                    row[self.padding_idx] = 0.0
                    self.weight.mul_(vecgrad.tensor(row, dtype=self.weight.dtype,
                                                    device=self.weight.device))

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx: int | None = None):
        """An Embedding holding a copy of `embeddings` (num, dim); freeze=True: no training."""
        if not isinstance(embeddings, vecgrad.Tensor) or embeddings.ndim != 2:
            shape = getattr(embeddings, "shape", type(embeddings).__name__)
            raise ValueError(f"Embedding.from_pretrained: expected a 2-D Tensor, got {shape}")
        rows, dim = embeddings.shape
        layer = cls(rows, dim, padding_idx, _weight=embeddings)
        layer.weight.requires_grad = not freeze
        return layer

    def forward(self, indices):
        return F.embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        return text if self.padding_idx is None else text + f", padding_idx={self.padding_idx}"


class Flatten(Module):
    """Merge dimensions start_dim..end_dim into one (default: all but the batch axis)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x):
        require_tensor("Flatten", x)
        ndim = x.ndim
        start = self.start_dim + ndim if self.start_dim < 0 else self.start_dim
        end = self.end_dim + ndim if self.end_dim < 0 else self.end_dim
        if not 0 <= start <= end < ndim:
            raise ValueError(
                f"Flatten: dims {self.start_dim}..{self.end_dim} do not fit input shape {x.shape}"
            )
        merged = math.prod(x.shape[start:end + 1])
        return x.reshape(x.shape[:start] + (merged,) + x.shape[end + 1:])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Zero each element with probability p while training; identity in eval mode.

    Kept elements are scaled by 1/(1 − p) during training (inverted dropout), which is
    the same as lecture 000's "scale at test time" up to where the factor is applied.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real) or \
                not 0.0 <= p <= 1.0:  # p = 1 zeroes everything, as F.dropout and PyTorch
            raise ValueError(f"Dropout: p must be in [0, 1], got {p!r}")
        self.p = float(p)
        self.inplace = check_inplace("Dropout", inplace)  # (computed out of place)

    def forward(self, x):
        require_tensor("Dropout", x)
        return F.dropout(x, self.p, training=self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _position(owner: str, index, length: int, what: str) -> int:
    """A container's index as a position 0..length-1: any integer (numpy's too, as
    Python lists and PyTorch take them), negative from the end; a clear error else."""
    if isinstance(index, (bool, np.bool_)) or not isinstance(index, numbers.Integral):
        raise TypeError(f"{owner}: indices must be ints or slices, got "
                        f"{type(index).__name__}")
    if not -length <= index < length:
        raise IndexError(f"{owner}: index {index} is out of range for {length} {what}")
    return int(index) % length


class Sequential(Module):
    """Apply modules in order: Sequential(Linear(2, 8), ReLU(), Linear(8, 1)).

    Also accepts one OrderedDict of name -> module.
    """

    def __init__(self, *modules: Module):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            items = list(modules[0].items())
        else:
            items = [(str(i), m) for i, m in enumerate(modules)]
        for name, module in items:
            if not isinstance(module, Module):
                raise TypeError(
                    f"Sequential: item {name} is a {type(module).__name__}, not a Module"
                )
            self.add_module(name, module)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def append(self, module: Module) -> Sequential:
        """Add `module` at the end."""
        self.add_module(str(len(self._modules)), module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index: int) -> Module:
        """model[i] is a module; model[a:b] a Sequential of those modules under their
        names here (PyTorch's rule: model[1:].state_dict() has the model's own keys)."""
        if isinstance(index, slice):
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        return self._modules[self._name_at(index)]

    def _name_at(self, index: int) -> str:
        """The registered name of the module at position `index` (negative from the end)."""
        return list(self._modules)[_position("Sequential", index, len(self), "modules")]

    def pop(self, index: int | slice) -> Module:
        """Remove the module at `index` and return it (the rest are renumbered)."""
        module = self[index]
        del self[index]
        return module

    def __setitem__(self, index: int, module: Module) -> None:
        """model[-1] = nn.Linear(...): replace a module in place (its name is kept)."""
        self.add_module(self._name_at(index), module)

    def __delitem__(self, index) -> None:
        """Remove one module or a slice; the rest are renumbered 0, 1, ... as in PyTorch."""
        names = list(self._modules)
        doomed = names[index] if isinstance(index, slice) else [self._name_at(index)]
        kept = [module for name, module in self._modules.items() if name not in doomed]
        self._modules.clear()
        for position, module in enumerate(kept):
            self.add_module(str(position), module)

    def insert(self, index: int, module: Module) -> Sequential:
        """Insert `module` before position `index` (-len..len, as in PyTorch); the
        modules are renumbered."""
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"Sequential.insert: the index must be an int, got "
                            f"{type(index).__name__}")
        if not -len(self) <= index <= len(self):
            raise IndexError(f"Sequential.insert: index {index} is out of range for "
                             f"{len(self)} modules")
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.insert: expected a Module, got "
                            f"{type(module).__name__}")
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._modules.clear()
        for position, item in enumerate(modules):
            self.add_module(str(position), item)
        return self

    def __add__(self, other: Sequential) -> Sequential:
        """A new Sequential of this one's modules, then other's (the same objects)."""
        if not isinstance(other, Sequential):
            return NotImplemented
        return Sequential(*self, *other)

    def __iadd__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            return NotImplemented
        return self.extend(list(other))

    def __mul__(self, times: int) -> Sequential:
        """The modules repeated `times` times: the same objects, so the copies share
        their parameters (as in PyTorch)."""
        if isinstance(times, bool) or not isinstance(times, numbers.Integral):
            return NotImplemented
        if times <= 0:
            raise ValueError(f"Sequential * {times}: the count must be positive")
        return Sequential(*(list(self) * int(times)))

    __rmul__ = __mul__

    def __imul__(self, times: int) -> Sequential:
        repeated = self * times
        if repeated is NotImplemented:
            return NotImplemented
        self._modules.clear()
        return self.extend(list(repeated))

    def extend(self, modules) -> Sequential:
        """Append every module of an iterable."""
        for module in list(modules):
            self.append(module)
        return self


class ParameterList(Module):
    """A list of Parameters the parent sees (PyTorch's ParameterList): keys "0", "1", ...
    in parameters() and state_dict(), moved by .to(). A plain Tensor given to it becomes
    a Parameter (a copy), as in PyTorch."""

    def __init__(self, values=None):
        super().__init__()
        # the entries are "0" .. str(_size - 1): a Parameter set as an attribute
        # (pl.scale = Parameter(...)) is registered too, but is not an entry (as in PyTorch)
        self._size = 0
        if values is not None:
            self.extend(values)

    @staticmethod
    def _as_parameter(value) -> Parameter:
        if isinstance(value, Parameter):
            return value
        if isinstance(value, vecgrad.Tensor):
            return Parameter(value)
        raise TypeError(f"ParameterList: expected a Parameter or a Tensor, got "
                        f"{type(value).__name__}")

    def _index(self, index: int) -> int:
        return _position("ParameterList", index, len(self), "parameters")

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ParameterList(list(self)[index])
        return self._parameters[str(self._index(index))]

    def __setitem__(self, index: int, value) -> None:
        self.register_parameter(str(self._index(index)), self._as_parameter(value))

    def __len__(self) -> int:
        return self._size

    def __iter__(self):
        return iter([self._parameters[str(i)] for i in range(self._size)])

    def __iadd__(self, values) -> ParameterList:
        return self.extend(values)

    def append(self, value) -> ParameterList:
        """Add a Parameter (or a Tensor, copied into one) at the end; returns self."""
        self.register_parameter(str(self._size), self._as_parameter(value))
        self._size += 1
        return self

    def extend(self, values) -> ParameterList:
        """Append every Parameter of an iterable; returns self."""
        if isinstance(values, vecgrad.Tensor):
            raise TypeError("ParameterList.extend: expected an iterable of Parameters, got "
                            "a single Tensor (use append)")
        for value in list(values):
            self.append(value)
        return self

    def extra_repr(self) -> str:
        return ", ".join(f"({i}): {tuple(p.shape)} {p.dtype}" for i, p in enumerate(self))

    def forward(self, *args, **kwargs):
        raise TypeError("ParameterList has no forward(); use its parameters in your "
                        "module's forward")


class ParameterDict(Module):
    """A dict of name -> Parameter the parent sees (PyTorch's ParameterDict): the names
    are the state_dict keys, in insertion order; a plain Tensor given to it becomes a
    Parameter (a copy), as in ParameterList."""

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Parameter:
        if key not in self:
            raise KeyError(f"ParameterDict has no parameter {key!r}; it has {self.keys()}")
        return self._parameters[key]

    def __setitem__(self, key: str, value) -> None:
        self.register_parameter(key, ParameterList._as_parameter(value))

    def __delitem__(self, key: str) -> None:
        self[key]  # (a clear KeyError)
        del self._parameters[key]

    def __len__(self) -> int:
        return len(self.keys())

    def __iter__(self):
        return iter(self.keys())

    def __contains__(self, key) -> bool:
        return self._parameters.get(key) is not None

    def keys(self) -> list[str]:
        return [key for key, value in self._parameters.items() if value is not None]

    def values(self) -> list[Parameter]:
        return [self._parameters[key] for key in self.keys()]

    def items(self) -> list[tuple[str, Parameter]]:
        return [(key, self._parameters[key]) for key in self.keys()]

    def get(self, key: str, default=None):
        return self._parameters[key] if key in self else default

    def pop(self, key: str) -> Parameter:
        value = self[key]
        del self[key]
        return value

    def clear(self) -> None:
        self._parameters.clear()

    def update(self, parameters) -> None:
        """Add the (name, parameter) pairs of a dict, a ParameterDict or an iterable of
        pairs. As in PyTorch, a plain dict's entries come in sorted key order (an
        OrderedDict's, a ParameterDict's and a list's in theirs)."""
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            pairs = parameters.items()
        elif isinstance(parameters, dict):
            pairs = sorted(parameters.items(), key=lambda pair: pair[0])
        else:
            pairs = parameters
        for entry in pairs:
            if not isinstance(entry, (tuple, list)) or len(entry) != 2:
                raise TypeError(f"ParameterDict.update: expected (name, parameter) pairs, "
                                f"got {entry!r}")
            self[entry[0]] = entry[1]

    def extra_repr(self) -> str:
        return ", ".join(f"({key}): {tuple(p.shape)} {p.dtype}" for key, p in self.items())

    def forward(self, *args, **kwargs):
        raise TypeError("ParameterDict has no forward(); use its parameters in your "
                        "module's forward")


class ModuleList(Module):
    """A list of modules whose parameters the parent sees (a plain Python list hides
    them from parameters(), state_dict() and .to()). Keys are "0", "1", ... as in
    PyTorch; it has no forward of its own: iterate over it in the parent's forward.
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _index(self, index: int) -> int:
        return _position("ModuleList", index, len(self), "modules")

    def pop(self, index: int | slice = -1) -> Module:
        """Remove the module at `index` (the last by default) and return it; the rest
        are renumbered."""
        module = self[index]
        del self[index]
        return module

    def _renumber(self, modules) -> None:
        self._modules.clear()
        for module in modules:
            self.append(module)

    def __getitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[self._index(index)]

    def __setitem__(self, index: int, module: Module) -> None:
        self.add_module(str(self._index(index)), module)

    def __delitem__(self, index) -> None:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            del modules[index]
        else:
            del modules[self._index(index)]
        self._renumber(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(list(self._modules.values()))

    def __iadd__(self, modules) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other) -> ModuleList:
        return ModuleList(list(self) + list(other))

    def append(self, module: Module) -> ModuleList:
        """Add `module` at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules) -> ModuleList:
        """Append every module of an iterable; returns self."""
        if isinstance(modules, Module) and not isinstance(modules, (ModuleList, Sequential)):
            raise TypeError("ModuleList.extend: expected an iterable of modules, got a "
                            f"{type(modules).__name__} (use append)")
        for module in list(modules):
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert `module` before position `index`."""
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._renumber(modules)

    def forward(self, *args, **kwargs):
        raise TypeError("ModuleList has no forward(); iterate over it in your module's forward")


class ModuleDict(Module):
    """A dict of name -> module, registered in insertion order (keys are the state_dict
    prefixes); like ModuleList it has no forward of its own."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(f"ModuleDict has no module {key!r}; it has {list(self._modules)}")
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        self[key]  # (a clear KeyError)
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(list(self._modules))

    def __contains__(self, key) -> bool:
        return key in self._modules

    def keys(self):
        return list(self._modules.keys())

    def values(self):
        return list(self._modules.values())

    def items(self):
        return list(self._modules.items())

    def pop(self, key: str) -> Module:
        module = self[key]
        del self[key]
        return module

    def clear(self) -> None:
        self._modules.clear()

    def update(self, modules) -> None:
        """Add the (name, module) pairs of a dict, a ModuleDict or an iterable of pairs."""
        pairs = modules.items() if isinstance(modules, (dict, ModuleDict)) else modules
        for entry in pairs:
            if not isinstance(entry, (tuple, list)) or len(entry) != 2:
                raise TypeError(f"ModuleDict.update: expected (name, module) pairs, got "
                                f"{entry!r}")
            self[entry[0]] = entry[1]

    def forward(self, *args, **kwargs):
        raise TypeError("ModuleDict has no forward(); call its modules in your module's "
                        "forward")


class Activation(Module):
    """One activation of the shared catalogue by name: Activation("leaky_relu", alpha=0.1)."""

    def __init__(self, name: str, alpha: float | None = None):
        super().__init__()
        if name not in ACTIVATIONS:
            raise ValueError(
                f"Activation: unknown activation {name!r}; known: {sorted(ACTIVATIONS)}"
            )
        entry = ACTIVATIONS[name]
        if alpha is not None and entry.default_alpha is None:
            raise ValueError(f"Activation: {name} takes no alpha parameter, got alpha={alpha!r}")
        if alpha is not None and (isinstance(alpha, bool) or not isinstance(alpha, numbers.Real)
                                  or not math.isfinite(alpha)):
            raise ValueError(f"Activation: {name}'s alpha must be a finite number, got {alpha!r}")
        self.name = name
        self.alpha = entry.default_alpha if alpha is None else float(alpha)

    def forward(self, x):
        return F.activation(x, self.name, self.alpha)

    def extra_repr(self) -> str:
        parts = [] if isinstance(self, _NamedActivation) else [repr(self.name)]
        if self.alpha is not None:
            parts.append(f"alpha={self.alpha}")
        return ", ".join(parts)


class _NamedActivation(Activation):
    """An Activation whose name is fixed by the subclass (repr shows the class name)."""

    activation_name = ""

    def __init__(self, alpha: float | None = None, inplace: bool = False):
        if isinstance(alpha, (bool, np.bool_)) and \
                ACTIVATIONS[self.activation_name].default_alpha is None:
            alpha, inplace = None, alpha  # nn.ReLU(True): PyTorch's first argument is inplace
        super().__init__(self.activation_name, alpha)
        self.inplace = check_inplace(type(self).__name__, inplace)  # (computed out of place)


class Identity(_NamedActivation):
    """f(x) = x."""

    activation_name = "identity"


class Step(_NamedActivation):
    """Binary step: 1 for x >= 0 else 0 (derivative 0)."""

    activation_name = "step"


class Sigmoid(_NamedActivation):
    """Logistic sigmoid 1 / (1 + e^−x)."""

    activation_name = "sigmoid"


class Tanh(_NamedActivation):
    """Hyperbolic tangent."""

    activation_name = "tanh"


class Arctan(_NamedActivation):
    """arctan(x)."""

    activation_name = "arctan"


class ReLU(_NamedActivation):
    """max(0, x)."""

    activation_name = "relu"


class LeakyReLU(_NamedActivation):
    """x for x >= 0 else alpha·x (alpha = 0.01); PyTorch's name ``negative_slope`` works too."""

    activation_name = "leaky_relu"

    def __init__(self, alpha: float | None = None, inplace: bool = False, *,
                 negative_slope: float | None = None):
        if alpha is not None and negative_slope is not None and alpha != negative_slope:
            raise TypeError(f"LeakyReLU: give alpha or negative_slope, not both (got "
                            f"alpha={alpha}, negative_slope={negative_slope})")
        super().__init__(negative_slope if alpha is None else alpha, inplace)


class ELU(_NamedActivation):
    """x for x > 0 else alpha·(e^x − 1) (alpha = 1)."""

    activation_name = "elu"


class Softplus(_NamedActivation):
    """log(1 + e^x); Softplus(beta=2, threshold=10) is PyTorch's log(1 + e^(βx))/β, x
    itself where βx > threshold (F.softplus)."""

    activation_name = "softplus"

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        for name, value in (("beta", beta), ("threshold", threshold)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
                    not math.isfinite(value):
                raise ValueError(f"Softplus: {name} must be a finite number, got {value!r}")
        if beta == 0:
            raise ValueError("Softplus: beta must not be 0")
        self.beta, self.threshold = float(beta), float(threshold)

    def forward(self, x):
        return F.softplus(x, beta=self.beta, threshold=self.threshold)

    def extra_repr(self) -> str:
        if (self.beta, self.threshold) == (1.0, 20.0):
            return ""
        return f"beta={self.beta}, threshold={self.threshold}"


class BentIdentity(_NamedActivation):
    """(√(x² + 1) − 1)/2 + x."""

    activation_name = "bent_identity"


class SoftExponential(_NamedActivation):
    """Lecture 002's soft exponential with parameter alpha (0.5)."""

    activation_name = "soft_exponential"


class Sin(_NamedActivation):
    """sin(x)."""

    activation_name = "sin"


class Cos(_NamedActivation):
    """cos(x)."""

    activation_name = "cos"


class Sinc(_NamedActivation):
    """sin(x)/x with sinc(0) = 1."""

    activation_name = "sinc"


class Gaussian(_NamedActivation):
    """e^(−x²)."""

    activation_name = "gaussian"


#: catalogue name -> layer class, one per entry of scalargrad.functions.ACTIVATIONS
ACTIVATION_LAYERS = {
    cls.activation_name: cls
    for cls in (Identity, Step, Sigmoid, Tanh, Arctan, ReLU, LeakyReLU, ELU, Softplus,
                BentIdentity, SoftExponential, Sin, Cos, Sinc, Gaussian)
}


class _AlongAxis(Module):
    """A function of the functional API applied along one axis: ``axis=`` (numpy's
    name) or ``dim=`` (PyTorch's, as in ``nn.Softmax(dim=1)``)."""

    function = None  # set by each subclass

    def __init__(self, axis: int = -1, *, dim: int | None = None):
        super().__init__()
        self.axis = common.pick_axis(type(self).__name__, axis, dim, -1)

    def forward(self, x):
        return type(self).function(x, axis=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class Softmax(_AlongAxis):
    """softmax along `axis` (stable: the max is subtracted first)."""

    function = staticmethod(F.softmax)


class LogSoftmax(_AlongAxis):
    """log(softmax) along `axis`, computed stably."""

    function = staticmethod(F.log_softmax)
