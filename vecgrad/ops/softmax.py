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
