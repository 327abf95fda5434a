"""Losses and penalties. cross_entropy is nll_loss(log_softmax) fused into one op:
stable for any finite logits. BCE with logits has its own Function, so its
gradient is sigmoid(x) - y exactly."""

from __future__ import annotations

import numbers

import numpy as np

from vecgrad.autograd import Function
from vecgrad.ops import activations, common, elementwise, movement, reduce
from vecgrad.ops import softmax as softmax_ops
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


class BinaryCrossEntropy(Function):
    """-(y max(log p, -100) + (1 - y) max(log(1 - p), -100)), PyTorch's forward, with
    PyTorch's gradient d/dp = (p - y) / max(p (1 - p), 1e-12): finite where p is exactly
    0 or 1 (the clamped logs' own derivative would be 0 * inf = nan there);
    d/dy = max(log(1 - p), -100) - max(log p, -100)."""

    @staticmethod
    def _logs(be, p):
        floor = be.full((), -100.0, p.dtype)
        log_p = be.binary("maximum", be.unary("log", p), floor)
        log_q = be.binary("maximum", be.unary("log1p", be.unary("neg", p)), floor)
        return log_p, log_q

    @staticmethod
    def forward(ctx, p, y):
        be = ctx.backend
        ctx.save_for_backward(p, y)  # (inputs only: the logs are recomputed in backward)
        log_p, log_q = BinaryCrossEntropy._logs(be, p)
        # y log p + (1 - y) log q = log q + y (log p - log q)
        mixed = be.binary("add", log_q, be.binary("mul", y, be.binary("sub", log_p, log_q)))
        return be.unary("neg", mixed)

    @staticmethod
    def backward(ctx, grad):
        p, y = ctx.saved_tensors
        be = ctx.backend
        gp = gy = None
        if ctx.needs_input_grad[0]:
            spread = be.binary("mul", p, be.binary("sub", be.full((), 1, p.dtype), p))
            spread = be.binary("maximum", spread, be.full((), 1e-12, p.dtype))
            gp = be.binary("mul", grad, be.binary("div", be.binary("sub", p, y), spread))
        if ctx.needs_input_grad[1]:
            log_p, log_q = BinaryCrossEntropy._logs(be, p)
            gy = be.binary("mul", grad, be.binary("sub", log_q, log_p))
        return gp, gy


class CrossEntropy(Function):
    """Softmax cross-entropy of (N, C) logits, reduced; d/dlogits = softmax - onehot.

    One primitive each way (the backend fuses log_softmax with picking the label's
    entry), instead of log_softmax, gather, neg and mean each recorded and reversed.
    """

    @staticmethod
    def forward(ctx, logits, labels, *, reduction):
        be = ctx.backend
        ctx.attrs = 1.0 / labels.shape[0] if reduction == "mean" else 1.0
        # the mean: each loss times 1/n as the backend computes it, then their sum
        losses, log_probs = be.cross_entropy(logits, labels, ctx.attrs)
        ctx.save_for_backward(log_probs, labels)
        if reduction == "none":
            return losses
        return be.reduce("sum", losses, (0,), False)

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


def _weighted(op, loss, weight):
    """loss * weight (weight broadcast to loss's shape), or loss when weight is None."""
    if weight is None:
        return loss
    weight = common.to_operand(op, weight, loss)
    common.check_same_device(op, loss, weight)
    common.broadcast_shape(op, loss.shape, weight.shape)
    return loss * weight


def _reduction_keyword(op, weight):
    if isinstance(weight, str):  # an old positional reduction would be read as weight
        raise TypeError(f"{op}: the third positional argument is weight (PyTorch's order); "
                        f"pass reduction={weight!r} by keyword")


def binary_cross_entropy(probabilities, target, weight=None, reduction="mean"):
    """-(y log p + (1 - y) log(1 - p)) with p and y in [0, 1]; each log clamped at -100 and the
    gradient (p - y) / max(p (1 - p), 1e-12), both as PyTorch: finite where p is exactly
    0 or 1 (0 where the target agrees, about +-1e12 where it does not)."""
    _reduction_keyword("binary_cross_entropy", weight)
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
    labels = y.numpy()
    if labels.size and not (np.all(labels >= 0) and np.all(labels <= 1)):
        # (PyTorch refuses them too: labels of -1/1 or 0/255 gave a loss below zero)
        found = (f"NaN ({int(np.isnan(labels).sum())} of {labels.size})"
                 if np.isnan(labels).any() else
                 f"range [{np.min(labels)}, {np.max(labels)}]")
        raise ValueError(f"binary_cross_entropy: targets must lie in [0, 1], got {found}")
    loss = _weighted("binary_cross_entropy", BinaryCrossEntropy.apply(p, y), weight)
    return _reduce("binary_cross_entropy", loss, reduction)


def binary_cross_entropy_with_logits(logits, target, weight=None, reduction="mean",
                                     pos_weight=None):
    """BCE of sigmoid(logits), computed stably (finite for logits of any size).

    pos_weight (broadcast over the last axis, one per class) weighs the positive term:
    -(pos_weight y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))), PyTorch's formula.
    """
    op = "binary_cross_entropy_with_logits"
    _reduction_keyword(op, weight)
    _check_reduction(op, reduction)
    x, y = _pair(op, logits, target)
    if pos_weight is None:
        loss = BCEWithLogits.apply(x, y)
    else:
        pos_weight = common.to_operand(op, pos_weight, x)
        common.check_same_device(op, x, pos_weight)
        common.broadcast_shape(op, x.shape, pos_weight.shape)
        # (1 - y) x + (1 + (pw - 1) y) softplus(-x): a composite of stable pieces
        log_weight = 1.0 + (pos_weight - 1.0) * y
        loss = (1.0 - y) * x + log_weight * activations.activation(-x, "softplus")
    return _reduce(op, _weighted(op, loss, weight), reduction)


def _is_real(value) -> bool:
    """A real number option (numpy's too), not a bool; NaN is left to the range checks."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def ignore_index_value(op, ignore_index) -> int:
    """ignore_index as an int (numpy's integers too); a TypeError for anything else (a
    float 1.5 would ignore nothing here and class 1 after int())."""
    if isinstance(ignore_index, (bool, np.bool_)) or \
            not isinstance(ignore_index, numbers.Integral):
        raise TypeError(f"{op}: ignore_index must be an int, got {ignore_index!r}")
    return int(ignore_index)


def _class_targets(op, scores, labels, ignore_index):
    """Validate (N, C, ...) scores against int64 labels (N, ...); returns whether an
    entry may equal ignore_index (then the general path runs). Host labels carry their
    range (Tensor._int_range): no device read in the common case."""
    if not common.is_tensor(labels) or labels.dtype != np.int64:
        got = labels.dtype if common.is_tensor(labels) else type(labels).__name__
        raise TypeError(f"{op}: labels must be an int64 Tensor of class indices (or, for "
                        f"cross_entropy, float probabilities of the input's shape), got {got}")
    ignore_index = ignore_index_value(op, ignore_index)
    common.check_same_device(op, scores, labels)
    common.require_float(op, scores, "input")
    if scores.ndim < 1:
        raise ValueError(f"{op}: input must have a class axis, got a 0-dimensional tensor")
    expected = scores.shape[:1] + scores.shape[2:] if scores.ndim >= 2 else ()
    if labels.shape != expected:
        raise ValueError(f"{op}: labels {fmt_shape(labels.shape)} must have shape "
                         f"{fmt_shape(expected)} for input {fmt_shape(scores.shape)} "
                         f"(N, C, ...)")
    if labels.numel() == 0:
        return False
    classes = scores.shape[1] if scores.ndim >= 2 else scores.shape[0]
    low, high = labels._int_range()
    ignorable = low <= ignore_index <= high
    if low < 0 or high >= classes:
        host = labels.numpy()
        bad = ((host < 0) | (host >= classes)) & (host != ignore_index)
        if bad.any():
            extra, shown = "", (low, high)
            if ignorable:  # show the offending labels' range, the ignored ones left out
                extra = f" (or equal ignore_index={ignore_index})"
                shown = (host[bad].min(), host[bad].max())
            raise IndexError(f"{op}: labels must lie in [0, {classes}){extra}, got range "
                             f"[{shown[0]}, {shown[1]}]")
    return ignorable


def _rows(t):
    """(N, C, d1, ...) -> (N*d1*..., C), class axis last; a 1-D (C,) input -> (1, C)."""
    if t.ndim == 1:
        return movement.unsqueeze(t, 0)
    if t.ndim == 2:
        return t
    return movement.reshape(movement.movedim(t, 1, -1), -1, t.shape[1])


def _class_weight(op, weight, scores):
    if weight is None:
        return None
    classes = scores.shape[1] if scores.ndim >= 2 else scores.shape[0]
    if not common.is_tensor(weight) or weight.shape != (classes,):
        got = fmt_shape(weight.shape) if common.is_tensor(weight) else type(weight).__name__
        raise ValueError(f"{op}: weight must be a Tensor of shape ({classes},), one per "
                         f"class, got {got}")
    common.check_same_device(op, scores, weight)
    return common.cast(weight, scores.dtype)


def _nll_general(op, log_probs, labels, weight, ignore_index, reduction, smoothing=0.0):
    """PyTorch's nll_loss / cross_entropy with class weights, ignore_index and label
    smoothing, over (M, C) log-probabilities and (M,) labels. mean divides by the summed
    weights of the counted (not ignored) targets, as PyTorch does."""
    out_shape = labels.shape
    labels = movement.reshape(labels, -1)
    classes = log_probs.shape[1]
    valid = labels != ignore_index
    safe = elementwise.where(valid, labels, 0)
    picked = movement.reshape(movement.gather(log_probs, 1, movement.unsqueeze(safe, 1)), -1)
    counted = common.cast(valid, log_probs.dtype)
    w = counted if weight is None else \
        movement.reshape(movement.gather(movement.unsqueeze(weight, 0).expand(
            labels.shape[0], classes), 1, movement.unsqueeze(safe, 1)), -1) * counted
    # An ignored target's loss is 0 and so is its gradient, whatever stands in its row
    # or comes from above: selected, not multiplied by 0 (0 * -inf log-probability was a
    # nan loss, and an inf or nan upstream gradient (sqrt of a 0 loss, the nan mean of a
    # batch all ignored) a nan gradient, where PyTorch's are 0).
    loss = elementwise.where(valid, -(w * picked), 0.0)
    if smoothing:
        spread = log_probs if weight is None else log_probs * weight
        smooth = elementwise.where(valid, -reduce.sum(spread, axis=1), 0.0)
        loss = loss * (1.0 - smoothing) + smooth * (smoothing / classes)
    if reduction == "none":
        return movement.reshape(loss, out_shape)
    total = reduce.sum(loss)
    if reduction == "sum":
        return total
    weight_sum = reduce.sum(w)
    # All targets ignored: the mean is 0 / 0 = nan, as in PyTorch, and its gradient is 0,
    # as PyTorch's is (a batch of padding must not turn every parameter into nan). So the
    # nan is added as a constant and the division sees 1 there.
    none_counted = (weight_sum if weight is None else reduce.sum(counted)) == 0
    return total / elementwise.where(none_counted, 1.0, weight_sum) + \
        elementwise.where(none_counted, float("nan"), 0.0)


def nll_loss(log_probabilities, labels, weight=None, ignore_index=-100, reduction="mean"):
    """-log_probabilities[i, labels[i]] (times weight[labels[i]]), averaged (mean: over
    the summed weights of the counted targets) or summed. Input (N, C) or (N, C, d1, ...)
    with labels (N, d1, ...); labels equal to ignore_index count for nothing."""
    _reduction_keyword("nll_loss", weight)
    _check_reduction("nll_loss", reduction)
    ignorable = _class_targets("nll_loss", log_probabilities, labels, ignore_index)
    weight = _class_weight("nll_loss", weight, log_probabilities)
    if log_probabilities.ndim == 2 and weight is None and not ignorable:
        return _nll("nll_loss", log_probabilities, labels, reduction)
    if log_probabilities.ndim == 1:
        labels = movement.reshape(labels, 1)
    loss = _nll_general("nll_loss", _rows(log_probabilities), labels, weight, ignore_index,
                        reduction)
    return movement.reshape(loss, ()) if log_probabilities.ndim == 1 and \
        reduction == "none" else loss


def _nll(op, log_probabilities, labels, reduction):
    # `op` is the function the user called, so its errors name it.
    index = movement.reshape(labels, labels.shape[0], 1)
    picked = movement.reshape(movement.gather(log_probabilities, 1, index), labels.shape[0])
    return _reduce(op, elementwise.neg(picked), reduction)


def cross_entropy(logits, labels, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Softmax cross-entropy, PyTorch's cross_entropy.

    logits: (N, C) or (N, C, d1, ...) (or (C,) for one sample). labels: int64 class
    indices (N, d1, ...), or float probabilities with the logits' shape. weight: one
    per class; ignore_index: labels that count for nothing; label_smoothing: mixes the
    target with the uniform distribution. The plain case (2-D logits, class labels, no
    weight or smoothing) is one fused op whose gradient is softmax - onehot.
    """
    op = "cross_entropy"
    if weight is None and type(label_smoothing) in (float, int) and label_smoothing == 0 \
            and reduction in REDUCTIONS and isinstance(logits, common.Tensor) \
            and isinstance(labels, common.Tensor):
        # A classifier's every batch: 2-D logits, int64 labels whose range is known from
        # the host and lies in [0, C) with no ignore_index among them: the checks below
        # in one expression (they cost as much as the fused op on a small batch).
        # Anything else, and every error, takes the general path.
        scores, targets = logits._buf, labels._buf
        shape = scores.shape
        known = labels._host_range
        if (len(shape) == 2 and targets.shape == shape[:1] and shape[0]
                and targets.dtype == np.int64 and scores.dtype in common.FLOAT_DTYPES
                and logits._backend is labels._backend
                and known is not None and known[2] == labels._version[0]
                and 0 <= known[0] and known[1] < shape[1] and type(ignore_index) is int
                and not known[0] <= ignore_index <= known[1]):
            return CrossEntropy.apply(logits, labels, reduction=reduction)
    _reduction_keyword(op, weight)
    _check_reduction(op, reduction)
    if not _is_real(label_smoothing) or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be a number in [0, 1], got "
                         f"{label_smoothing!r}")
    label_smoothing = float(label_smoothing)
    if not common.is_tensor(logits):
        raise TypeError(f"{op}: input must be a Tensor, got {type(logits).__name__}")
    if common.is_tensor(labels) and common.is_float(labels.dtype) and \
            labels.shape == logits.shape:
        return _soft_cross_entropy(logits, labels, _class_weight(op, weight, logits),
                                   reduction, label_smoothing)
    ignorable = _class_targets(op, logits, labels, ignore_index)
    weight = _class_weight(op, weight, logits)
    if logits.ndim == 2 and weight is None and not ignorable and not label_smoothing:
        if reduction == "mean" and labels.shape[0] == 0:  # PyTorch returns nan; say why
            raise ValueError("cross_entropy: reduction='mean' of an empty batch (shape "
                             f"{fmt_shape(logits.shape)}) is undefined; use 'sum' or 'none'")
        return CrossEntropy.apply(logits, labels, reduction=reduction)
    if logits.ndim == 1:
        labels = movement.reshape(labels, 1)
    log_probs = softmax_ops.log_softmax(_rows(logits), -1)
    loss = _nll_general(op, log_probs, labels, weight, ignore_index, reduction,
                        float(label_smoothing))
    return movement.reshape(loss, ()) if logits.ndim == 1 and reduction == "none" else loss


def _soft_cross_entropy(logits, target, weight, reduction, smoothing):
    """Probability targets: -sum_c weight_c t_c log softmax(x)_c per sample; mean divides
    by the number of samples (N * d1 * ...), as PyTorch does."""
    common.check_same_device("cross_entropy", logits, target)
    target = common.cast(target, logits.dtype)
    classes = logits.shape[1] if logits.ndim >= 2 else logits.shape[0]
    rows, probs = _rows(logits), _rows(target)
    if smoothing:
        probs = probs * (1.0 - smoothing) + smoothing / classes
    log_probs = softmax_ops.log_softmax(rows, -1)
    terms = log_probs * probs if weight is None else log_probs * probs * weight
    loss = -reduce.sum(terms, axis=1)
    if reduction == "none":
        shape = logits.shape[:1] + logits.shape[2:] if logits.ndim >= 2 else ()
        return movement.reshape(loss, shape)
    return _reduce("cross_entropy", loss, reduction)


def l1_loss(prediction, target, reduction="mean"):
    """Mean (or sum) of |prediction - target| (gradient sign, 0 where they are equal)."""
    _check_reduction("l1_loss", reduction)
    prediction, target = _pair("l1_loss", prediction, target)
    return _reduce("l1_loss", elementwise.abs(prediction - target), reduction)


def smooth_l1_loss(prediction, target, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = prediction - target)."""
    _check_reduction("smooth_l1_loss", reduction)
    if not _is_real(beta) or not beta >= 0:
        raise ValueError(f"smooth_l1_loss: beta must be a number >= 0, got {beta!r}")
    beta = float(beta)
    prediction, target = _pair("smooth_l1_loss", prediction, target)
    d = prediction - target
    size = elementwise.abs(d)
    if beta == 0:
        return _reduce("smooth_l1_loss", size, reduction)
    loss = elementwise.where(size < beta, (0.5 / beta) * d * d, size - 0.5 * beta)
    return _reduce("smooth_l1_loss", loss, reduction)


def huber_loss(prediction, target, reduction="mean", delta=1.0):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta): smooth_l1 times delta."""
    _check_reduction("huber_loss", reduction)
    if not _is_real(delta) or not delta > 0:
        raise ValueError(f"huber_loss: delta must be a number > 0, got {delta!r}")
    delta = float(delta)
    prediction, target = _pair("huber_loss", prediction, target)
    d = prediction - target
    size = elementwise.abs(d)
    loss = elementwise.where(size < delta, 0.5 * d * d, delta * (size - 0.5 * delta))
    return _reduce("huber_loss", loss, reduction)


def kl_div(input, target, reduction="mean", log_target=False):  # noqa: A002 - PyTorch's name
    """KL divergence with `input` holding log-probabilities (PyTorch's argument order):
    target * (log target - input) per element, 0 where target is 0 (and so is its
    gradient with respect to the target there; PyTorch's is nan). reduction:
    'batchmean' (the true KL: sum / batch size), 'sum', 'mean' (over elements) or 'none'."""
    op = "kl_div"
    if reduction not in REDUCTIONS + ("batchmean",):
        raise ValueError(f"{op}: reduction must be one of batchmean, mean, sum, none; got "
                         f"{reduction!r}")
    x, t = _pair(op, input, target)
    if log_target:
        loss = elementwise.exp(t) * (t - x)
    else:
        zero = t == 0
        log_t = elementwise.log(elementwise.where(zero, 1.0, t))
        loss = elementwise.where(zero, 0.0, t * (log_t - x))
    if reduction == "batchmean":
        if x.ndim == 0 or x.shape[0] == 0:
            raise ValueError(f"{op}: 'batchmean' needs a batch axis of length > 0, got shape "
                             f"{fmt_shape(x.shape)}")
        return reduce.sum(loss) * (1.0 / x.shape[0])
    return _reduce(op, loss, reduction)


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
