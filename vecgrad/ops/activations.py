"""The activation catalogue as one differentiable op: f and f' come from the backend
under the names of scalargrad.functions.ACTIVATIONS (the shared vocabulary)."""

from __future__ import annotations

import numbers

from scalargrad.functions import ACTIVATIONS

from vecgrad.autograd import Function
from vecgrad.ops import common


class Activation(Function):
    @staticmethod
    def forward(ctx, x, *, name, alpha):
        ctx.save_for_backward(x)
        ctx.attrs = (name, alpha)
        return ctx.backend.activation(name, x, alpha)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        name, alpha = ctx.attrs
        return ctx.backend.activation_backward(name, x, grad, alpha)  # grad * f'(x)


def resolve_alpha(name: str, alpha):
    """Validate the name and alpha; None means the catalogue's default parameter."""
    entry = ACTIVATIONS.get(name)
    if entry is None:
        raise ValueError(f"activation: unknown activation {name!r}; known: "
                         f"{', '.join(ACTIVATIONS)}")
    if entry.default_alpha is None:
        if alpha is not None:
            raise ValueError(f"activation: {name} takes no alpha parameter (got {alpha!r})")
        return None
    if alpha is None:
        return entry.default_alpha
    if not isinstance(alpha, numbers.Real) or isinstance(alpha, bool):
        raise TypeError(f"activation: {name}'s alpha must be a number, got {alpha!r}")
    return float(alpha)


def activation(x, name: str, alpha=None):
    """f(x) for the catalogue activation `name` (alpha: its parameter, if it has one)."""
    alpha = resolve_alpha(name, alpha)
    if not common.is_tensor(x):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    common.require_float(name, x)
    return Activation.apply(x, name=name, alpha=alpha)
