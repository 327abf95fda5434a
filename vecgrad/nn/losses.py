"""Loss layers with PyTorch's names (nn.CrossEntropyLoss(), nn.MSELoss(), ...).

Each keeps its options and calls its function in vecgrad.nn.functional, where the loss
is written once. Class weights (weight, pos_weight) are buffers, as in PyTorch: in the
state_dict, and moved by .to(device).
"""

from __future__ import annotations

from vecgrad.nn import functional as F
from vecgrad.nn.module import Module
from vecgrad.ops import common
from vecgrad.ops.losses import ignore_index_value


class _Loss(Module):
    """A loss with a `reduction` ("mean", "sum" or "none")."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none") + self._extra_reductions():
            raise ValueError(f"{type(self).__name__}: reduction must be one of mean, sum, "
                             f"none{''.join(', ' + r for r in self._extra_reductions())}; "
                             f"got {reduction!r}")
        self.reduction = reduction

    @staticmethod
    def _extra_reductions():
        return ()

    def _tensor_option(self, name, value):
        if value is not None and not common.is_tensor(value):
            raise TypeError(f"{type(self).__name__}: {name} must be a Tensor or None, got "
                            f"{type(value).__name__}")
        self.register_buffer(name, value)

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error."""

    def forward(self, input, target):  # noqa: A002 - PyTorch's name
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error."""

    def forward(self, input, target):  # noqa: A002
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """0.5 d^2 / beta inside |d| < beta, |d| - 0.5 beta outside."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input, target):  # noqa: A002
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """0.5 d^2 inside |d| < delta, delta (|d| - 0.5 delta) outside."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input, target):  # noqa: A002
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(_Loss):
    """KL divergence of log-probability inputs (use reduction="batchmean" for the true KL)."""

    def __init__(self, reduction: str = "mean", log_target: bool = False):
        super().__init__(reduction)
        self.log_target = bool(log_target)

    @staticmethod
    def _extra_reductions():
        return ("batchmean",)

    def forward(self, input, target):  # noqa: A002
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities (weight: per element, broadcast)."""

    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        self._tensor_option("weight", weight)

    def forward(self, input, target):  # noqa: A002
        return F.binary_cross_entropy(input, target, weight=self.weight,
                                      reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of logits, stable; pos_weight weighs the positive class."""

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction)
        self._tensor_option("weight", weight)
        self._tensor_option("pos_weight", pos_weight)

    def forward(self, input, target):  # noqa: A002
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities and class labels."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction)
        self._tensor_option("weight", weight)
        self.ignore_index = ignore_index_value(type(self).__name__, ignore_index)

    def forward(self, input, target):  # noqa: A002
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits against class labels or class probabilities."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(reduction)
        self._tensor_option("weight", weight)
        self.ignore_index = ignore_index_value(type(self).__name__, ignore_index)
        self.label_smoothing = float(label_smoothing)

    def forward(self, input, target):  # noqa: A002
        return F.cross_entropy(input, target, weight=self.weight,
                               ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)
