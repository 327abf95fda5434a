"""Reductions: sum, mean, max, min, var, std, argmax, argmin (numpy's axis/keepdims)."""

from __future__ import annotations

import numpy as np

from vecgrad.autograd import Function
from vecgrad.ops import common, elementwise


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    view_grads = True  # backward returns a broadcast view of the incoming gradient

    @staticmethod
    def forward(ctx, x, *, axes, keepdims):
        ctx.attrs = (x.shape, axes)
        return ctx.backend.reduce("sum", x, axes, keepdims)

    @staticmethod
    def backward(ctx, grad):
        shape, axes = ctx.attrs
        be = ctx.backend
        return be.expand(be.reshape(grad, _kept_shape(shape, axes)), shape)


class MaxMin(Function):
    """max or min; the gradient is shared equally among tied extrema (like torch.amax)."""

    @staticmethod
    def forward(ctx, x, *, op, axes, keepdims):
        out = ctx.backend.reduce(op, x, axes, keepdims)
        ctx.save_for_backward(x, out)
        ctx.attrs = axes
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        axes = ctx.attrs
        be = ctx.backend
        kept = _kept_shape(x.shape, axes)
        out = be.reshape(out, kept)
        hit = be.compare("eq", x, out)
        if x.dtype.kind == "f":  # a nan extremum came from the nan entries (nan != nan)
            hit = be.where(be.compare("ne", out, out), be.compare("ne", x, x), hit)
        hit = be.astype(hit, x.dtype)
        share = be.binary("div", be.reshape(grad, kept), be.reduce("sum", hit, axes, True))
        return be.binary("mul", hit, share)


def _reduce_axes(op, x, axis, dim):
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{op}: give axis or dim, not both")
        axis = dim
    return common.normalize_axes(op, axis, x.ndim)


def sum(x, axis=None, keepdims=False, *, dim=None):  # noqa: A001 - numpy's name
    """Sum over `axis` (None: all). bool tensors count as int64."""
    axes = _reduce_axes("sum", x, axis, dim)
    if x.dtype == np.bool_:
        x = common.cast(x, np.int64)
    if not axes:
        return x * 1
    return Sum.apply(x, axes=axes, keepdims=keepdims)


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def mean(x, axis=None, keepdims=False, *, dim=None):
    """Arithmetic mean over `axis`; integer tensors give float32."""
    axes = _reduce_axes("mean", x, axis, dim)
    n = _count(x.shape, axes)
    if n == 0:
        raise ValueError(f"mean: cannot average over an empty axis of a tensor of shape {x.shape}")
    if not common.is_float(x.dtype):
        x = common.cast(x, np.float32)
    if not axes:
        return x * 1
    return elementwise.mul(Sum.apply(x, axes=axes, keepdims=keepdims), 1.0 / n)


def _extremum(op, x, axis, keepdims, dim):
    axes = _reduce_axes(op, x, axis, dim)
    if any(x.shape[a] == 0 for a in axes):
        raise ValueError(f"{op}: cannot reduce over an empty axis of a tensor of shape {x.shape}")
    if not axes:
        return x * 1
    return MaxMin.apply(x, op=op, axes=axes, keepdims=keepdims)


def max(x, axis=None, keepdims=False, *, dim=None):  # noqa: A001 - numpy's name
    """Largest value over `axis` (values only; use argmax for positions)."""
    return _extremum("max", x, axis, keepdims, dim)


def min(x, axis=None, keepdims=False, *, dim=None):  # noqa: A001 - numpy's name
    """Smallest value over `axis`."""
    return _extremum("min", x, axis, keepdims, dim)


def var(x, axis=None, keepdims=False, *, ddof=0, dim=None):
    """Variance over `axis` with numpy's `ddof` (0: population; 1: PyTorch's default)."""
    axes = _reduce_axes("var", x, axis, dim)
    n = _count(x.shape, axes)
    if n - ddof <= 0:
        raise ValueError(f"var: {n} element(s) over the reduced axes with ddof={ddof}: "
                         f"need more than {ddof}")
    if not common.is_float(x.dtype):
        x = common.cast(x, np.float32)
    centered = x - mean(x, axis=axes, keepdims=True)
    return sum(centered * centered, axis=axes, keepdims=keepdims) * (1.0 / (n - ddof))


def std(x, axis=None, keepdims=False, *, ddof=0, dim=None):
    """Standard deviation: sqrt(var(x, axis, ddof))."""
    return elementwise.sqrt(var(x, axis, keepdims, ddof=ddof, dim=dim))


def _arg(op, x, axis, keepdims, dim):
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{op}: give axis or dim, not both")
        axis = dim
    if 0 in x.shape:
        raise ValueError(f"{op}: cannot take {op} of an empty tensor of shape {x.shape}")
    if axis is None:
        flat = x._backend.reshape(x._buf, (x.numel(),))
        out = x._backend.arg_reduce(op, flat, 0, False)
        if keepdims:
            out = x._backend.reshape(out, (1,) * x.ndim)
        return x._wrap(out, x._backend)
    axis = common.normalize_axis(op, axis, x.ndim)
    if x.ndim == 0:
        return x._wrap(x._backend.full((), 0, np.int64), x._backend)
    return x._wrap(x._backend.arg_reduce(op, x._buf, axis, keepdims), x._backend)


def argmax(x, axis=None, keepdims=False, *, dim=None):
    """int64 index of the largest value (first on ties); axis None: of the flattened tensor."""
    return _arg("argmax", x, axis, keepdims, dim)


def argmin(x, axis=None, keepdims=False, *, dim=None):
    """int64 index of the smallest value (first on ties)."""
    return _arg("argmin", x, axis, keepdims, dim)
