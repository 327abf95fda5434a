"""Reductions: sum, mean, max, min, var, std, argmax, argmin (numpy's axis/keepdims)."""

from __future__ import annotations

import builtins
import collections
import math

import numpy as np

from vecgrad.autograd import Function
from vecgrad.ops import common, creation, elementwise, movement


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
        if axis is not None and axis != dim:
            raise TypeError(f"{op}: give axis or dim, not both")
        axis = dim
    return common.normalize_axes(op, axis, x.ndim)


def keep_flag(op, keepdims, keepdim):
    """numpy's keepdims= or PyTorch's keepdim= (both, when they differ, is an error)."""
    if keepdim is None:
        return bool(keepdims)
    if keepdims and not keepdim:
        raise TypeError(f"{op}: give keepdims or keepdim, not both")
    return bool(keepdim)


def sum(x, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None):  # noqa: A001
    """Sum over `axis` (None: all; () : none, numpy's rule). bool tensors count as int64;
    dtype= converts first (PyTorch's sum(dtype=...))."""
    keepdims = keep_flag("sum", keepdims, keepdim)
    axes = _reduce_axes("sum", x, axis, dim)
    if dtype is not None:
        x = common.cast(x, creation.resolve_dtype(dtype, "sum"))
    if x.dtype == np.bool_ and not axes:
        x = common.cast(x, np.int64)
    if not axes:
        return x * 1
    # bool: the backends count into int64 (numpy's add.reduce; one launch on OpenCL)
    return Sum.apply(x, axes=axes, keepdims=keepdims)


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def mean(x, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None):
    """Arithmetic mean over `axis`; integer tensors give float32. An empty axis gives nan
    (like PyTorch and numpy)."""
    keepdims = keep_flag("mean", keepdims, keepdim)
    axes = _reduce_axes("mean", x, axis, dim)
    n = _count(x.shape, axes)
    if dtype is not None:
        dtype = creation.resolve_dtype(dtype, "mean")
        if not common.is_float(dtype):  # (int64 truncated the input, then gave float32)
            raise TypeError(f"mean: dtype must be float32 or float64 (a mean has a "
                            f"fraction), got {dtype}")
        x = common.cast(x, dtype)
    if not common.is_float(x.dtype):
        x = common.cast(x, np.float32)
    if not axes:
        return x * 1
    return elementwise.mul(Sum.apply(x, axes=axes, keepdims=keepdims),
                           1.0 / n if n else float("nan"))


def _extremum(op, x, axis, keepdims, dim, keepdim=None):
    keepdims = keep_flag(op, keepdims, keepdim)
    axes = _reduce_axes(op, x, axis, dim)
    if builtins.any(x.shape[a] == 0 for a in axes):
        raise ValueError(f"{op}: cannot reduce over an empty axis of a tensor of shape {x.shape}")
    if not axes:
        return x * 1
    return MaxMin.apply(x, op=op, axes=axes, keepdims=keepdims)


def max(x, axis=None, keepdims=False, *, dim=None, keepdim=None):  # noqa: A001
    """Largest value over `axis` (values only, ties share the gradient: torch.amax).

    Tensor.max(dim) is PyTorch's (values, indices); see max_with_indices."""
    return _extremum("max", x, axis, keepdims, dim, keepdim)


def min(x, axis=None, keepdims=False, *, dim=None, keepdim=None):  # noqa: A001
    """Smallest value over `axis` (values only: torch.amin)."""
    return _extremum("min", x, axis, keepdims, dim, keepdim)


amax = max
amin = min

ValuesIndices = collections.namedtuple("ValuesIndices", ["values", "indices"])
ValuesIndices.__doc__ = "(values, indices), like PyTorch's torch.return_types for max/sort/topk."


def max_with_indices(op, x, dim, keepdim=False):
    """PyTorch's x.max(dim) / x.min(dim): (values, indices) along one axis; the gradient
    goes to the first extremum only, the one `indices` names (PyTorch's rule)."""
    if x.ndim and x.shape[common.normalize_axis(op, dim, x.ndim)] == 0:
        raise ValueError(f"{op}: cannot reduce over an empty axis of a tensor of shape {x.shape}")
    indices = _arg("argmax" if op == "max" else "argmin", x, dim, True, None)
    if x.ndim == 0:
        return ValuesIndices(x * 1, indices)
    values = movement.gather(x, dim, indices)
    if not keepdim:
        values = movement.squeeze(values, dim)
        indices = movement.squeeze(indices, dim)
    return ValuesIndices(values, indices)


def _variance_ddof(op, ddof, correction, unbiased):
    given = [v for v in (ddof, correction) if v is not None]
    if unbiased is not None:
        given.append(1 if unbiased else 0)
    if len(set(given)) > 1:
        raise TypeError(f"{op}: give one of ddof, correction or unbiased (got ddof={ddof}, "
                        f"correction={correction}, unbiased={unbiased})")
    ddof = given[0] if given else 0
    if not isinstance(ddof, (int, float, np.integer, np.floating)) or isinstance(ddof, bool):
        raise TypeError(f"{op}: correction must be a number, got {type(ddof).__name__}")
    return ddof


def var(x, axis=None, keepdims=False, *, ddof=None, correction=None, unbiased=None,
        dim=None, keepdim=None):
    """Variance over `axis`, dividing by n - ddof. ddof (numpy) = correction (PyTorch);
    the default is 0, numpy's population variance (PyTorch's default is 1: pass
    correction=1 or unbiased=True for it)."""
    ddof = _variance_ddof("var", ddof, correction, unbiased)
    keepdims = keep_flag("var", keepdims, keepdim)
    axes = _reduce_axes("var", x, axis, dim)
    n = _count(x.shape, axes)
    if n - ddof <= 0:
        raise ValueError(f"var: {n} element(s) over the reduced axes with ddof={ddof}: "
                         f"need more than {ddof}")
    if not common.is_float(x.dtype):
        x = common.cast(x, np.float32)
    centered = x - mean(x, axis=axes, keepdims=True)
    return sum(centered * centered, axis=axes, keepdims=keepdims) * (1.0 / (n - ddof))


def safe_sqrt(v):
    """sqrt(v) whose gradient at v == 0 is 0 instead of inf * 0 = nan.

    PyTorch's rule for std and norm at zero (a zero spread or a zero vector is a
    minimum, and 0 is the subgradient that keeps training finite). Written with where,
    so it is an ordinary composite with no backward of its own.
    """
    zero = v == 0
    inside = elementwise.where(zero, 1.0, v)
    return elementwise.where(zero, 0.0, elementwise.sqrt(inside))


def std(x, axis=None, keepdims=False, *, ddof=None, correction=None, unbiased=None,
        dim=None, keepdim=None):
    """Standard deviation: sqrt(var(x, ...)); its gradient is 0 where the variance is 0."""
    return safe_sqrt(var(x, axis, keepdims, ddof=ddof, correction=correction,
                         unbiased=unbiased, dim=dim, keepdim=keepdim))


def _moved_last(x, axes):
    """x with `axes` moved to the end and merged into one: (tensor, kept shape, n)."""
    kept = [i for i in range(x.ndim) if i not in axes]
    moved = movement.permute(x, *(kept + list(axes))) if x.ndim else x
    kept_shape = tuple(x.shape[i] for i in kept)
    n = _count(x.shape, axes)
    return movement.reshape(moved, kept_shape + (n,)), kept_shape, n


def prod(x, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None):
    """Product over `axis` (None: all).

    A composite of Mul: the reduced elements are multiplied pairwise, halving the count
    each round (log2 n rounds). Every gradient is then exact, zeros included (PyTorch
    divides out / x and must special-case them).
    """
    keepdims = keep_flag("prod", keepdims, keepdim)
    axes = _reduce_axes("prod", x, axis, dim)
    if dtype is not None:
        x = common.cast(x, creation.resolve_dtype(dtype, "prod"))
    if x.dtype == np.bool_:
        x = common.cast(x, np.int64)
    if not axes:
        return x * 1
    out_shape = _kept_shape(x.shape, axes) if keepdims else \
        tuple(n for i, n in enumerate(x.shape) if i not in axes)
    y, kept_shape, n = _moved_last(x, axes)
    if n == 0:  # the empty product is 1 (through x, so backward() still reaches it)
        return movement.reshape(sum(y, axis=-1) * 0 + 1, out_shape)
    while n > 1:
        if n % 2:
            one = creation.ones(kept_shape + (1,), dtype=x.dtype, device=x.device)
            y = movement.cat([y, one], axis=-1)
            n += 1
        half = n // 2
        y = y[..., :half] * y[..., half:]
        n = half
    return movement.reshape(y, out_shape)


def cumsum(x, dim=None, *, axis=None, dtype=None):
    """Running sum along `dim` (PyTorch requires it; so do we).

    A composite (Hillis-Steele scan): log2 n rounds of y + (y shifted by 1, 2, 4, ...),
    so the gradient (a reversed running sum) needs no backward of its own.
    """
    dim = common.pick_axis("cumsum", axis, dim, None)
    if dim is None:
        raise TypeError("cumsum: needs dim (the axis to accumulate along)")
    if dtype is not None:
        x = common.cast(x, creation.resolve_dtype(dtype, "cumsum"))
    if x.dtype == np.bool_:
        x = common.cast(x, np.int64)
    if x.ndim == 0:
        common.normalize_axes("cumsum", dim, 0)
        return x * 1
    axis = common.normalize_axis("cumsum", dim, x.ndim)
    y = movement.movedim(x, axis, -1)
    n = y.shape[-1]
    shift = 1
    while shift < n:
        pad = creation.zeros(y.shape[:-1] + (shift,), dtype=y.dtype, device=y.device)
        y = y + movement.cat([pad, y[..., :n - shift]], axis=-1)
        shift *= 2
    return movement.movedim(y, -1, axis)


def logsumexp(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """log(sum(exp(x))) over `dim` (None: all), stable: the max is taken out first.

    All -inf gives -inf and +inf gives +inf (PyTorch's results), not nan.
    """
    dim = common.pick_axis("logsumexp", axis, dim, None)
    keepdim = keep_flag("logsumexp", keepdim, keepdims)
    common.require_float("logsumexp", x)
    axes = common.normalize_axes("logsumexp", dim, x.ndim)
    if not axes:
        return x * 1
    if builtins.any(x.shape[a] == 0 for a in axes):  # log(0) = -inf, PyTorch's value
        return sum(x, axes, keepdim) + float("-inf")  # (recorded: x gets its empty grad)
    shift = max(x.detach(), axes, True)
    shift = elementwise.where(elementwise.abs(shift) == float("inf"), 0.0, shift)
    out = elementwise.log(sum(elementwise.exp(x - shift), axes, True)) + shift
    return out if keepdim else movement.squeeze(out, axes)


def _as_mask(x):
    return x if x.dtype == np.bool_ else x != 0


def all(x, dim=None, keepdim=False, *, axis=None, keepdims=None):  # noqa: A001
    """True where every element over `dim` is nonzero (empty: True); a bool tensor."""
    dim = common.pick_axis("all", axis, dim, None)
    keepdim = keep_flag("all", keepdim, keepdims)
    falses = sum(~_as_mask(x), dim, keepdim)
    return falses == 0


def any(x, dim=None, keepdim=False, *, axis=None, keepdims=None):  # noqa: A001
    """True where some element over `dim` is nonzero (empty: False); a bool tensor."""
    dim = common.pick_axis("any", axis, dim, None)
    keepdim = keep_flag("any", keepdim, keepdims)
    return sum(_as_mask(x), dim, keepdim) > 0


def norm(x, p="fro", dim=None, keepdim=False, *, axis=None, keepdims=None, dtype=None):
    """Vector p-norm over `dim` (None: all elements): p = 2 / "fro" (default), 1, any
    real p, inf (max |x|), -inf (min |x|), 0 (count of nonzeros, gradient 0).

    The gradient at a zero vector is 0 (PyTorch's rule), not nan.
    """
    dim = common.pick_axis("norm", axis, dim, None)
    keepdim = keep_flag("norm", keepdim, keepdims)
    if dtype is not None:
        x = common.cast(x, creation.resolve_dtype(dtype, "norm"))
    if not common.is_float(x.dtype):
        raise TypeError(f"norm: input must be float32 or float64, got {x.dtype}")
    if p == "fro":
        p = 2
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise ValueError(f"norm: p must be a number, inf, -inf or 'fro', got {p!r}")
    p = float(p)
    a = elementwise.abs(x)
    if p == math.inf:
        return max(a, dim, keepdim)
    if p == -math.inf:
        return min(a, dim, keepdim)
    if p == 0:  # the count, in the graph with gradient 0 (PyTorch's)
        nonzero = elementwise._no_gradient_result(x, common.cast(x != 0, x.dtype)._buf)
        return sum(nonzero, dim, keepdim)
    if p == 1:
        return sum(a, dim, keepdim)
    if p == 2:
        return safe_sqrt(sum(x * x, dim, keepdim))
    # |x|^p with the zeros taken out: for p < 1 its slope p |x|^(p-1) is infinite at 0,
    # and inf * sign(0) gave a nan gradient where PyTorch gives 0 (|0|^p is 0, or inf
    # for p < 0, which makes the norm 0)
    is_zero = a == 0
    powered = elementwise.where(is_zero, 0.0 if p > 0 else math.inf,
                                elementwise.where(is_zero, 1.0, a) ** p)
    total = sum(powered, dim, keepdim)
    zero = total == 0
    root = elementwise.where(zero, 1.0, total) ** (1.0 / p)
    return elementwise.where(zero, 0.0, root)


def _arg(op, x, axis, keepdims, dim, keepdim=None):
    keepdims = keep_flag(op, keepdims, keepdim)
    if dim is not None:
        if axis is not None and axis != dim:
            raise TypeError(f"{op}: give axis or dim, not both")
        axis = dim
    if axis is None:
        if 0 in x.shape:
            raise ValueError(f"{op}: cannot take {op} of an empty tensor of shape {x.shape}")
        flat = x._backend.reshape(x._buf, (x.numel(),))
        out = x._backend.arg_reduce(op, flat, 0, False)
        if keepdims:
            out = x._backend.reshape(out, (1,) * x.ndim)
        return x._wrap(out, x._backend)
    axis = common.normalize_axis(op, axis, x.ndim)
    if x.ndim == 0:
        return x._wrap(x._backend.full((), 0, np.int64), x._backend)
    if x.shape[axis] == 0:
        raise ValueError(f"{op}: cannot take {op} over an empty axis of a tensor of shape "
                         f"{x.shape}")
    if 0 in x.shape:  # other axes empty: no rows to search, an empty result (PyTorch's)
        shape = _kept_shape(x.shape, (axis,)) if keepdims else \
            x.shape[:axis] + x.shape[axis + 1:]
        return x._wrap(x._backend.full(shape, 0, np.int64), x._backend)
    return x._wrap(x._backend.arg_reduce(op, x._buf, axis, keepdims), x._backend)


def argmax(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """int64 index of the largest value (first on ties); axis None: of the flattened tensor."""
    return _arg("argmax", x, axis, keepdims, dim, keepdim)


def argmin(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """int64 index of the smallest value (first on ties)."""
    return _arg("argmin", x, axis, keepdims, dim, keepdim)


def normalize(x, p=2.0, dim=1, eps=1e-12):
    """x / max(norm(x, p, dim), eps): unit p-norm along `dim` (PyTorch's F.normalize)."""
    common.require_float("normalize", x)
    if x.ndim == 0:
        common.normalize_axes("normalize", dim, 0)
    length = norm(x, p, dim, keepdim=True)
    return x / elementwise.clip(length, min=eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 * x2) / (max(|x1|, eps) * max(|x2|, eps)) along `dim`, broadcasting x1 and
    x2 (PyTorch 2's formula: each vector divided by its clamped norm first)."""
    x1, x2 = common.binary_operands("cosine_similarity", x1, x2)
    common.require_float("cosine_similarity", x1)
    shape = common.broadcast_shape("cosine_similarity", x1.shape, x2.shape)
    x1, x2 = movement.expand(x1, *shape), movement.expand(x2, *shape)
    n1 = elementwise.clip(norm(x1, 2, dim, keepdim=True), min=eps)
    n2 = elementwise.clip(norm(x2, 2, dim, keepdim=True), min=eps)
    return sum((x1 / n1) * (x2 / n2), dim)
