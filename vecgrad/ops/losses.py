"""Losses and penalties. cross_entropy is nll_loss(log_softmax) fused into one op:
stable for any finite logits. BCE with logits has its own Function, so its
gradient is sigmoid(x) - y exactly."""

from __future__ import annotations

import numpy as np

from vecgrad.autograd import Function
from vecgrad.ops import common, elementwise, movement, reduce
from vecgrad.ops.common import fmt_shape
from vecgrad.ops.softmax import LogSoftmax

REDUCTIONS = ("mean", "sum", "none")


class BCEWithLogits(Function):
    """max(x, 0) - x*y + log(1 + exp(-|x|)) per element; d/dx = sigmoid(x) - y."""

    @staticmethod
    def forward(ctx, x, y):
        be = ctx.backend
        ctx.save_for_backward(x, y)
        tail = be.activation("softplus", be.unary("neg", be.unary("abs", x)), None)
        linear = be.binary("sub", be.activation("relu", x, None), be.binary("mul", x, y))
        return be.binary("add", linear, tail)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        be = ctx.backend
        gx = gy = None
        if ctx.needs_input_grad[0]:
            gx = be.binary("mul", grad, be.binary("sub", be.activation("sigmoid", x, None), y))
        if ctx.needs_input_grad[1]:
            gy = be.binary("mul", grad, be.unary("neg", x))
        return gx, gy


class CrossEntropy(Function):
    """Softmax cross-entropy of (N, C) logits, reduced; d/dlogits = softmax - onehot.

    One primitive each way (the backend fuses log_softmax with picking the label's
    entry), instead of log_softmax, gather, neg and mean each recorded and reversed.
    """

    @staticmethod
    def forward(ctx, logits, labels, *, reduction):
        be = ctx.backend
        losses, log_probs = be.cross_entropy(logits, labels)
        ctx.save_for_backward(log_probs, labels)
        n = labels.shape[0]
        ctx.attrs = 1.0 / n if reduction == "mean" else 1.0
        if reduction == "none":
            return losses
        total = be.reduce("sum", losses, (0,), False)
        if reduction == "sum":
            return total
        return be.binary("mul", total, be.full((), ctx.attrs, total.dtype), out=total)

    @staticmethod
    def backward(ctx, grad):
        log_probs, labels = ctx.saved_tensors
        return ctx.backend.cross_entropy_backward(log_probs, labels, grad, ctx.attrs), None

    @staticmethod
    def saved_for_graph(ctx, inputs, output):
        # log_probs is an intermediate: recompute it, recorded, from the logits
        logits, labels = inputs
        return LogSoftmax.apply(logits, axis=1), labels


def _reduce(op, loss, reduction):
    if reduction == "mean":
        if loss.numel() == 0:  # PyTorch returns nan; an error says why
            raise ValueError(f"{op}: reduction='mean' of an empty batch (shape "
                             f"{fmt_shape(loss.shape)}) is undefined; use 'sum' or 'none'")
        return reduce.mean(loss)
    if reduction == "sum":
        return reduce.sum(loss)
    return loss


def _check_reduction(op, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {', '.join(REDUCTIONS)}; "
                         f"got {reduction!r}")


def _pair(op, prediction, target):
    """prediction and target: float tensors of one shape on one device."""
    if not common.is_tensor(prediction):
        raise TypeError(f"{op}: prediction must be a Tensor, got {type(prediction).__name__}")
    target = common.to_operand(op, target, prediction)
    common.check_same_device(op, prediction, target)
    common.require_float(op, prediction, "prediction")
    if prediction.shape != target.shape:
        raise ValueError(f"{op}: prediction {fmt_shape(prediction.shape)} and target "
                         f"{fmt_shape(target.shape)} must have the same shape")
    if target.dtype != prediction.dtype:
        dtype = common.promote(prediction.dtype, target.dtype)
        prediction, target = common.cast(prediction, dtype), common.cast(target, dtype)
    return prediction, target


def mse_loss(prediction, target, reduction="mean"):
    """Mean (or sum) of squared differences."""
    _check_reduction("mse_loss", reduction)
    prediction, target = _pair("mse_loss", prediction, target)
    diff = prediction - target
    return _reduce("mse_loss", diff * diff, reduction)


def binary_cross_entropy(probabilities, target, reduction="mean"):
    """-(y log p + (1 - y) log(1 - p)) with p in [0, 1]; logs clamped at -100 like PyTorch."""
    _check_reduction("binary_cross_entropy", reduction)
    p, y = _pair("binary_cross_entropy", probabilities, target)
    host = p.numpy()
    if np.isnan(host).any():
        raise ValueError(f"binary_cross_entropy: probabilities contain NaN "
                         f"({int(np.isnan(host).sum())} of {host.size})")
    if host.size and not (np.all(host >= 0) and np.all(host <= 1)):
        raise ValueError(f"binary_cross_entropy: probabilities must lie in [0, 1], got range "
                         f"[{np.nanmin(host)}, {np.nanmax(host)}]; use "
                         f"binary_cross_entropy_with_logits for raw scores")
    log_p = elementwise.clip(elementwise.log(p), min=-100.0)
    log_q = elementwise.clip(elementwise.log(1.0 - p), min=-100.0)
    loss = -(y * log_p + (1.0 - y) * log_q)
    return _reduce("binary_cross_entropy", loss, reduction)


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    """BCE of sigmoid(logits), computed stably (finite for logits of any size)."""
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    x, y = _pair("binary_cross_entropy_with_logits", logits, target)
    return _reduce("binary_cross_entropy_with_logits", BCEWithLogits.apply(x, y), reduction)


def _labels(op, scores, labels):
    if not common.is_tensor(labels) or labels.dtype != np.int64:
        got = labels.dtype if common.is_tensor(labels) else type(labels).__name__
        raise TypeError(f"{op}: labels must be an int64 Tensor of class indices, got {got}")
    common.check_same_device(op, scores, labels)
    common.require_float(op, scores, "input")
    if scores.ndim != 2:
        raise ValueError(f"{op}: input must be 2-D (batch, classes), got {fmt_shape(scores.shape)}")
    if labels.shape != (scores.shape[0],):
        raise ValueError(f"{op}: labels {fmt_shape(labels.shape)} must have shape "
                         f"({scores.shape[0]},) for input {fmt_shape(scores.shape)}")
    if labels.numel() == 0:
        return
    low, high = labels._int_range()
    classes = scores.shape[1]
    if low < 0 or high >= classes:
        raise IndexError(f"{op}: labels must lie in [0, {classes}), got range "
                         f"[{low}, {high}]")


def nll_loss(log_probabilities, labels, reduction="mean"):
    """-log_probabilities[i, labels[i]], averaged (or summed) over the batch."""
    return _nll("nll_loss", log_probabilities, labels, reduction)


def _nll(op, log_probabilities, labels, reduction):
    # `op` is the function the user called, so its errors name it.
    _check_reduction(op, reduction)
    _labels(op, log_probabilities, labels)
    index = movement.reshape(labels, labels.shape[0], 1)
    picked = movement.reshape(movement.gather(log_probabilities, 1, index), labels.shape[0])
    return _reduce(op, elementwise.neg(picked), reduction)


def cross_entropy(logits, labels, reduction="mean"):
    """Softmax cross-entropy of logits (batch, classes) against int64 class labels.

    Its gradient with respect to the logits is softmax(logits) - onehot(labels).
    """
    _check_reduction("cross_entropy", reduction)
    _labels("cross_entropy", logits, labels)
    if reduction == "mean" and labels.shape[0] == 0:  # PyTorch returns nan; say why
        raise ValueError("cross_entropy: reduction='mean' of an empty batch (shape "
                         f"{fmt_shape(logits.shape)}) is undefined; use 'sum' or 'none'")
    return CrossEntropy.apply(logits, labels, reduction=reduction)


def _parameters(op, params):
    params = list(params)
    if not params:
        raise ValueError(f"{op}: needs at least one parameter tensor")
    for p in params:
        if not common.is_tensor(p):
            raise TypeError(f"{op}: expected Tensors, got {type(p).__name__}")
    return params


def l1_penalty(params):
    """Sum of |w| over all parameters (lecture 000's L1 regularizer ||w||_1)."""
    total = None
    for p in _parameters("l1_penalty", params):
        term = reduce.sum(elementwise.abs(p))
        total = term if total is None else total + term
    return total


def l2_penalty(params):
    """Sum of w^2 over all parameters (lecture 000's L2 regularizer ||w||_2^2)."""
    total = None
    for p in _parameters("l2_penalty", params):
        term = reduce.sum(p * p)
        total = term if total is None else total + term
    return total
