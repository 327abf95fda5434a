"""scaled_dot_product_attention: softmax(q k^T * scale + mask) v, as a composite of
matmul, softmax and where (PyTorch's F.scaled_dot_product_attention, math path)."""

from __future__ import annotations

import math

import numpy as np

from vecgrad.ops import common, creation, elementwise, matmul, movement, reduce
from vecgrad.ops import softmax as softmax_ops
from vecgrad.ops.common import fmt_shape


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None):
    """Attention over (..., L, E) queries, (..., S, E) keys and (..., S, Ev) values.

    attn_mask: a bool mask (True: may attend) or a float mask added to the scores,
    broadcast to (..., L, S). is_causal: query i attends to keys 0..i only. scale
    defaults to 1/sqrt(E). A query whose every key is masked out (a padding position)
    attends to nothing: its output and gradients are 0, as in PyTorch (not nan).
    """
    op = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not common.is_tensor(t):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
        common.require_float(op, t, name)
        if t.ndim < 2:
            raise ValueError(f"{op}: {name} needs at least 2 axes (..., sequence, features), "
                             f"got {fmt_shape(t.shape)}")
    common.check_same_device(op, query, key, value)
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"{op}: query {fmt_shape(query.shape)} and key {fmt_shape(key.shape)} "
                         f"need the same feature size (last axis)")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(f"{op}: key {fmt_shape(key.shape)} and value "
                         f"{fmt_shape(value.shape)} need the same sequence length")
    if is_causal and attn_mask is not None:
        raise ValueError(f"{op}: give attn_mask or is_causal, not both")
    if not isinstance(dropout_p, (int, float)) or not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{op}: dropout_p must be a probability in [0, 1], got {dropout_p!r}")
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1]) if query.shape[-1] else 1.0
    scores = matmul.matmul(query, movement.transpose(key, -2, -1)) * float(scale)
    length, source = query.shape[-2], key.shape[-2]
    if is_causal:
        attn_mask = creation.tensor(np.tri(length, source, 0, dtype=np.bool_),
                                    device=query.device)
    if attn_mask is not None:
        if not common.is_tensor(attn_mask):
            raise TypeError(f"{op}: attn_mask must be a Tensor, got "
                            f"{type(attn_mask).__name__}")
        common.check_same_device(op, scores, attn_mask)
        common.broadcast_shape(op, scores.shape, attn_mask.shape)
        if attn_mask.dtype == np.bool_:
            scores = elementwise.where(attn_mask, scores, float("-inf"))
        else:
            scores = scores + attn_mask
        # A row of -inf scores would be softmax's 0/0: give it finite scores, then 0 weights.
        alive = reduce.max(scores.detach(), axis=-1, keepdims=True) > float("-inf")
        scores = elementwise.where(alive, scores, 0.0)
    weights = softmax_ops.softmax(scores, -1)
    if attn_mask is not None:
        weights = elementwise.where(alive, weights, 0.0)
    if dropout_p:
        weights = elementwise.dropout(weights, dropout_p)
    return matmul.matmul(weights, value)
