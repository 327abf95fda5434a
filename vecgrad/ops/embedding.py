"""Embedding lookup: rows of a weight matrix picked by integer indices.

A composition of getitem (whose backward adds the gradient back into the picked rows,
so repeated indices add up) and where (which keeps the padding row out of the gradient).
"""

from __future__ import annotations

import numbers

import numpy as np

from vecgrad.ops import common, creation, elementwise, movement
from vecgrad.ops.common import fmt_shape


def _indices(op, indices, num):
    """The indices as a host int64 array, checked against [0, num)."""
    if common.is_tensor(indices):
        if indices.dtype != np.int64:
            raise TypeError(f"{op}: indices must be an int64 Tensor, got {indices.dtype} "
                            f"(convert with .long())")
        host = indices.numpy()
    else:
        host = np.asarray(indices)
        if host.dtype.kind not in "iu" and not (host.size == 0 and host.dtype.kind == "f"):
            raise TypeError(f"{op}: indices must be integers, got {host.dtype}")
        host = host.astype(np.int64)
    if host.size and (host.min() < 0 or host.max() >= num):
        bad = host[(host < 0) | (host >= num)].reshape(-1)[0]
        raise IndexError(f"{op}: index {bad} is out of range for {num} embeddings "
                         f"(valid: 0 to {num - 1})")
    return host


def padding_index(op, padding_idx, num):
    """padding_idx as a non-negative row number (negative counts from the end), or None."""
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, numbers.Integral):
        raise TypeError(f"{op}: padding_idx must be an int or None, got {padding_idx!r}")
    if not -num <= padding_idx < num:
        raise ValueError(f"{op}: padding_idx {padding_idx} is out of range for {num} "
                         f"embeddings")
    return int(padding_idx) % num


def embedding(indices, weight, padding_idx=None):
    """weight[indices]: shape indices.shape + (embedding_dim,).

    The gradient adds into the rows that were picked (a row picked twice gets both
    gradients); the padding_idx row gets none.
    """
    op = "embedding"
    if not common.is_tensor(weight):
        raise TypeError(f"{op}: weight must be a Tensor, got {type(weight).__name__}")
    if weight.ndim != 2:
        raise ValueError(f"{op}: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"{fmt_shape(weight.shape)}")
    if common.is_tensor(indices):
        common.check_same_device(op, weight, indices)
    num = weight.shape[0]
    pad = padding_index(op, padding_idx, num)
    host = _indices(op, indices, num)
    rows = movement.getitem(weight, (host,))
    if pad is not None and weight.requires_grad and np.any(host == pad):
        # The same values, but the padding positions read a detached copy: no gradient.
        is_pad = creation.tensor((host == pad)[..., None], device=weight.device)
        rows = elementwise.where(is_pad, rows.detach(), rows)
    return rows
