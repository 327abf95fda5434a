"""The Trainer's named losses: how outputs and targets become a scalar, and labels.

The math lives in vecgrad.nn.functional; this module only names the losses the CLI
offers and says how each one's outputs turn into predicted classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

import vecgrad
from vecgrad.nn import functional as F


@dataclass(frozen=True)
class Loss:
    """A named loss: `fn(outputs, targets) -> scalar Tensor`, and how outputs become labels.

    Whether a task is classification is read from the targets: int64 labels get
    accuracy and a confusion matrix, float targets (regression) do not.
    """
    name: str
    fn: Callable
    outputs_per_class: bool = True  # False: one logit for two classes (bce)

    def __call__(self, outputs, targets):
        value = self.fn(outputs, targets)
        # A custom loss that returns a float, a numpy number or one loss per sample
        # failed later as "'float' object has no attribute 'backward'" or as backward's
        # "gradient can only be implied for a one-element output".
        if not isinstance(value, vecgrad.Tensor) or value.numel() != 1:
            what = (f"a Tensor of shape {tuple(value.shape)}" if isinstance(value, vecgrad.Tensor)
                    else f"a {type(value).__name__}")
            raise TypeError(f"loss {self.name!r} returned {what}; a loss must return a "
                            "one-element Tensor computed from the outputs (reduce per-sample "
                            "losses with .mean())")
        # one number of shape (1, 1) is summed into a 0-d total by evaluate()
        return value if value.ndim == 0 else value.reshape(())

    def predict(self, outputs: np.ndarray) -> np.ndarray:
        if not self.outputs_per_class:
            return (outputs.reshape(len(outputs), -1)[:, 0] > 0).astype(np.int64)
        return outputs.reshape(len(outputs), -1).argmax(axis=1)

    def predict_tensor(self, outputs):
        """predict() on the device: the class Tensor, without a host copy of outputs."""
        flat = outputs.reshape(outputs.shape[0], -1)
        if not self.outputs_per_class:
            return (flat[:, 0] > 0).to(np.int64)
        return flat.argmax(axis=1)


def _one_hot(labels, classes: int, like):
    host = labels.numpy().astype(np.int64)
    if host.size and (host.min() < 0 or host.max() >= classes):
        raise ValueError(f"mse: class labels must lie in 0..{classes - 1} (one model output "
                         f"per class), found {host.min()}..{host.max()}")
    onehot = np.zeros((len(host), classes), dtype=np.float32)
    onehot[np.arange(len(host)), host] = 1.0
    return vecgrad.tensor(onehot, dtype=like.dtype, device=like.device)


def _mse(outputs, targets):
    if targets.dtype == np.int64:  # classification with MSE (lecture 002): softmax vs one-hot
        return F.mse_loss(outputs.softmax(axis=-1), _one_hot(targets, outputs.shape[-1], outputs))
    if outputs.numel() != targets.numel():
        raise ValueError(f"mse: the model gives outputs of shape {outputs.shape} for targets of "
                         f"shape {targets.shape}")
    return F.mse_loss(outputs, targets.reshape(outputs.shape))


def _bce(outputs, targets):
    if outputs.numel() != outputs.shape[0]:
        raise ValueError(f"bce: needs one logit per sample, got outputs of shape "
                         f"{outputs.shape}; use cross_entropy for several outputs per sample")
    logits = outputs.reshape((outputs.shape[0],))
    return F.binary_cross_entropy_with_logits(logits, targets.to(outputs.dtype))


LOSSES = {
    "cross_entropy": Loss("cross_entropy", lambda out, y: F.cross_entropy(out, y)),
    "mse": Loss("mse", _mse),
    "bce": Loss("bce", _bce, outputs_per_class=False),
}


def get_loss(loss) -> Loss:
    """A Loss by name (cross_entropy, mse, bce), or wrap a callable(outputs, targets)."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
        return LOSSES[loss]
    if callable(loss):
        return Loss(getattr(loss, "__name__", "loss"), loss)
    raise TypeError(f"loss must be a name or a callable, got {type(loss).__name__}")


__all__ = ["Loss", "LOSSES", "get_loss"]
