"""Module-level functions with PyTorch's names and argument orders: vecgrad.exp(x),
vecgrad.sum(x, dim=1), vecgrad.max(x, 1), vecgrad.maximum(a, b), vecgrad.einsum(...).

Each forwards to the one place its op is written (vecgrad.ops.*, or the Tensor method
that picks between PyTorch's forms); nothing here computes.
"""

from __future__ import annotations

from vecgrad.ops import common, reduce


def _tensor(op, x):
    if not common.is_tensor(x):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}; make one with "
                        f"vecgrad.tensor(...)")
    return x


def sum(input, dim=None, keepdim=False, *, dtype=None, axis=None,  # noqa: A001, A002
        keepdims=None):
    """Sum over dim (None: all)."""
    return reduce.sum(_tensor("sum", input), axis, bool(keepdim or keepdims), dim=dim,
                      dtype=dtype)


def mean(input, dim=None, keepdim=False, *, dtype=None, axis=None,  # noqa: A002
         keepdims=None):
    """Mean over dim (None: all)."""
    return reduce.mean(_tensor("mean", input), axis, bool(keepdim or keepdims), dim=dim,
                       dtype=dtype)


def prod(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """Product over dim (None: all)."""
    return _tensor("prod", input).prod(dim, keepdim, dtype=dtype)


def max(input, dim=None, keepdim=False, *, axis=None, keepdims=None):  # noqa: A001, A002
    """torch.max: max(x) -> value; max(x, dim) -> (values, indices); max(x, other) ->
    maximum."""
    return _tensor("max", input).max(dim, keepdim, axis=axis, keepdims=keepdims)


def min(input, dim=None, keepdim=False, *, axis=None, keepdims=None):  # noqa: A001, A002
    """torch.min: the forms of max."""
    return _tensor("min", input).min(dim, keepdim, axis=axis, keepdims=keepdims)


def amax(input, dim=None, keepdim=False):  # noqa: A002
    """Largest values over dim (values only; ties share the gradient)."""
    return _tensor("amax", input).amax(dim, keepdim)


def amin(input, dim=None, keepdim=False):  # noqa: A002
    """Smallest values over dim."""
    return _tensor("amin", input).amin(dim, keepdim)


def var(input, dim=None, keepdim=False, *, correction=None, unbiased=None,  # noqa: A002
        ddof=None):
    """Variance over dim; correction defaults to 0 here (see README: differences)."""
    return reduce.var(_tensor("var", input), None, keepdim, dim=dim, correction=correction,
                      unbiased=unbiased, ddof=ddof)


def std(input, dim=None, keepdim=False, *, correction=None, unbiased=None,  # noqa: A002
        ddof=None):
    """Standard deviation over dim (gradient 0 where it is 0)."""
    return reduce.std(_tensor("std", input), None, keepdim, dim=dim, correction=correction,
                      unbiased=unbiased, ddof=ddof)


def argmax(input, dim=None, keepdim=False):  # noqa: A002
    """Index of the largest value (first on ties)."""
    return reduce.argmax(_tensor("argmax", input), dim, keepdim)


def argmin(input, dim=None, keepdim=False):  # noqa: A002
    """Index of the smallest value (first on ties)."""
    return reduce.argmin(_tensor("argmin", input), dim, keepdim)


def flip(input, dims):  # noqa: A002
    return _tensor("flip", input).flip(dims)


def transpose(input, dim0, dim1):  # noqa: A002
    return _tensor("transpose", input).transpose(dim0, dim1)


def permute(input, dims):  # noqa: A002
    return _tensor("permute", input).permute(*dims)


def reshape(input, shape):  # noqa: A002
    return _tensor("reshape", input).reshape(shape)


def flatten(input, start_dim=0, end_dim=-1):  # noqa: A002
    return _tensor("flatten", input).flatten(start_dim, end_dim)


def squeeze(input, dim=None):  # noqa: A002
    return _tensor("squeeze", input).squeeze(dim)


def unsqueeze(input, dim):  # noqa: A002
    return _tensor("unsqueeze", input).unsqueeze(dim)


def gather(input, dim, index):  # noqa: A002
    return _tensor("gather", input).gather(dim, index)


def clone(input):  # noqa: A002
    return _tensor("clone", input).clone()


def isnan(input):  # noqa: A002
    return _tensor("isnan", input).isnan()


def isinf(input):  # noqa: A002
    return _tensor("isinf", input).isinf()


def isfinite(input):  # noqa: A002
    return _tensor("isfinite", input).isfinite()


def sigmoid(input):  # noqa: A002
    return _tensor("sigmoid", input).sigmoid()


def tanh(input):  # noqa: A002
    return _tensor("tanh", input).tanh()


def relu(input):  # noqa: A002
    return _tensor("relu", input).relu()


def t(input):  # noqa: A002
    return _tensor("t", input).t()


def numel(input) -> int:  # noqa: A002
    return _tensor("numel", input).numel()
