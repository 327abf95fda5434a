"""softmax and log_softmax along one axis (the backend subtracts the max: stable)."""

from __future__ import annotations

from vecgrad.autograd import Function
from vecgrad.ops import common


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, *, axis):
        out = ctx.backend.softmax(x, axis)
        ctx.save_for_backward(out)
        ctx.attrs = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        # dx = y * (g - sum(g * y))
        (y,) = ctx.saved_tensors
        be = ctx.backend
        gy = be.binary("mul", grad, y)
        total = be.reduce("sum", gy, (ctx.attrs,), True)
        return be.binary("sub", gy, be.binary("mul", y, total))


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, *, axis):
        out = ctx.backend.log_softmax(x, axis)
        ctx.save_for_backward(out)
        ctx.attrs = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        # dx = g - softmax(x) * sum(g)
        (out,) = ctx.saved_tensors
        be = ctx.backend
        total = be.reduce("sum", grad, (ctx.attrs,), True)
        return be.binary("sub", grad, be.binary("mul", be.unary("exp", out), total))


def _axis(op, x, axis, dim):
    axis = common.pick_axis(op, axis, dim, -1)
    if not common.is_tensor(x):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    common.require_float(op, x)
    if x.ndim == 0:
        raise ValueError(f"{op}: needs at least one axis, got a 0-dimensional tensor")
    return common.normalize_axis(op, axis, x.ndim)


def softmax(x, axis=-1, *, dim=None):
    """exp(x) / sum(exp(x)) along `axis`, computed stably."""
    return Softmax.apply(x, axis=_axis("softmax", x, axis, dim))


def log_softmax(x, axis=-1, *, dim=None):
    """log(softmax(x)) along `axis` without forming softmax (finite for finite x)."""
    return LogSoftmax.apply(x, axis=_axis("log_softmax", x, axis, dim))


def softmin(x, axis=-1, *, dim=None):
    """softmax(-x) along `axis`."""
    return softmax(-x, axis, dim=dim)


def glu(x, dim=-1):
    """Gated linear unit: a * sigmoid(b), where a and b are the two halves along `dim`."""
    from vecgrad.ops import activations, movement

    common.require_float("glu", x)
    if x.ndim == 0:
        raise ValueError("glu: needs at least one axis, got a 0-dimensional tensor")
    axis = common.normalize_axis("glu", dim, x.ndim)
    if x.shape[axis] % 2:
        raise ValueError(f"glu: axis {axis} of shape {x.shape} has odd length "
                         f"{x.shape[axis]}; it must split in two halves")
    a, b = movement.chunk(x, 2, axis)
    return a * activations.activation(b, "sigmoid")
