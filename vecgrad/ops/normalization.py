"""Batch and layer normalization, composed of reductions and elementwise ops.

Both are written as (x - mean) * (var + eps)^(-1/2) * weight + bias over existing ops,
so their gradients (and gradients of gradients) come from those ops with no backward of
their own. The variance is the mean of the squared deviations (stable: no E[x²] - E[x]²).
"""

from __future__ import annotations

import numbers

from vecgrad import autograd
from vecgrad.ops import common, elementwise, movement, reduce
from vecgrad.ops.common import fmt_shape


def _optional_channel_tensor(op, name, t, x, shape):
    if t is None:
        return None
    if not common.is_tensor(t):
        raise TypeError(f"{op}: {name} must be a Tensor or None, got {type(t).__name__}")
    common.check_same_device(op, x, t)
    common.require_float(op, t, name)
    if t.shape != shape:
        raise ValueError(f"{op}: {name} must have shape {fmt_shape(shape)} to match input "
                         f"{fmt_shape(x.shape)}, got {fmt_shape(t.shape)}")
    return t


def _check_float_input(op, x):
    if not common.is_tensor(x):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    common.require_float(op, x)


def _check_eps(op, eps):
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps >= 0:
        raise ValueError(f"{op}: eps must be a number >= 0, got {eps!r}")


def values_per_channel(x) -> int:
    """How many values batch statistics average per channel: N * L or N * H * W."""
    return x.numel() // x.shape[1] if x.shape[1] else 0


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalize each channel (axis 1) of x (N, C, ...) over the batch and spatial axes.

    training=True: use this batch's mean and (biased) variance, and, where running_mean /
    running_var are given, update them in place: r = (1 - momentum) * r + momentum * s,
    with the unbiased variance (n / (n - 1)) for running_var, as PyTorch does.
    training=False: use running_mean and running_var.
    """
    op = "batch_norm"
    _check_float_input(op, x)
    if x.ndim < 2:
        raise ValueError(f"{op}: input must be (N, C, ...) with at least 2 axes, got shape "
                         f"{fmt_shape(x.shape)}")
    _check_eps(op, eps)
    channels = (x.shape[1],)
    running_mean = _optional_channel_tensor(op, "running_mean", running_mean, x, channels)
    running_var = _optional_channel_tensor(op, "running_var", running_var, x, channels)
    weight = _optional_channel_tensor(op, "weight", weight, x, channels)
    bias = _optional_channel_tensor(op, "bias", bias, x, channels)
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{op}: give both running_mean and running_var, or neither")
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real):
        raise TypeError(f"{op}: momentum must be a number, got {momentum!r}")
    kept = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    axes = (0,) + tuple(range(2, x.ndim))
    if training:
        n = values_per_channel(x)
        if n <= 1:
            raise ValueError(f"{op}: expected more than 1 value per channel when training, "
                             f"got input of shape {fmt_shape(x.shape)} ({n} per channel); "
                             f"use a larger batch or eval()")
        mean = reduce.mean(x, axis=axes, keepdims=True)
        centered = x - mean
        var = reduce.mean(centered * centered, axis=axes, keepdims=True)
        if running_mean is not None:
            with autograd.no_grad():
                batch_mean = common.cast(movement.reshape(mean.detach(), channels),
                                         running_mean.dtype)
                unbiased = common.cast(movement.reshape(var.detach(), channels) * (n / (n - 1)),
                                       running_var.dtype)
                running_mean.mul_(1.0 - momentum).add_(batch_mean * float(momentum))
                running_var.mul_(1.0 - momentum).add_(unbiased * float(momentum))
    else:
        if running_mean is None:
            raise ValueError(f"{op}: training=False needs running_mean and running_var")
        dtype = common.promote(x.dtype, running_mean.dtype)
        mean = common.cast(movement.reshape(running_mean, kept), dtype)
        var = common.cast(movement.reshape(running_var, kept), dtype)
        centered = x - mean
    out = centered / elementwise.sqrt(var + float(eps))
    if weight is not None:
        out = out * movement.reshape(weight, kept)
    if bias is not None:
        out = out + movement.reshape(bias, kept)
    return out


def _normalized_shape(op, normalized_shape):
    shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) \
        else normalized_shape
    if (not isinstance(shape, (tuple, list)) or not shape
            or not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1
                       for n in shape)):
        raise ValueError(f"{op}: normalized_shape must be a positive int or a non-empty "
                         f"tuple of them, got {normalized_shape!r}")
    return tuple(int(n) for n in shape)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the trailing axes given by normalized_shape (each sample on its
    own: no batch statistics, the same in training and eval), then scale and shift."""
    op = "layer_norm"
    _check_float_input(op, x)
    shape = _normalized_shape(op, normalized_shape)
    _check_eps(op, eps)
    if x.shape[x.ndim - len(shape):] != shape or x.ndim < len(shape):
        raise ValueError(f"{op}: input {fmt_shape(x.shape)} does not end with normalized_shape "
                         f"{fmt_shape(shape)}")
    weight = _optional_channel_tensor(op, "weight", weight, x, shape)
    bias = _optional_channel_tensor(op, "bias", bias, x, shape)
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    mean = reduce.mean(x, axis=axes, keepdims=True)
    centered = x - mean
    var = reduce.mean(centered * centered, axis=axes, keepdims=True)
    out = centered / elementwise.sqrt(var + float(eps))
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out
