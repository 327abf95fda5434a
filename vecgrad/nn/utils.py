"""Gradient clipping (lecture 001: "high curvature: gradient clipping"), PyTorch's names.

    loss.backward()
    total = vecgrad.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    optimizer.step()

clip_grad_norm_ rescales all gradients together by min(1, max_norm / (‖g‖ + 1e-6)), where
‖g‖ is the norm of every gradient joined into one vector: the direction of the step
is kept, only its length is capped. clip_grad_value_ clamps each element instead (which
changes the direction). Both work in place on each gradient's own device.
"""

from __future__ import annotations

import math
import numbers

import vecgrad


def _grads(owner, parameters):
    if isinstance(parameters, vecgrad.Tensor):
        parameters = [parameters]
    grads = []
    for i, p in enumerate(parameters):
        if not isinstance(p, vecgrad.Tensor):
            raise TypeError(f"{owner}: parameter {i} is a {type(p).__name__}, not a Tensor")
        if p.grad is not None:
            grads.append(p.grad)
    return grads


def _norm_type(owner, norm_type):
    if norm_type in ("inf", "Inf"):
        norm_type = math.inf
    if isinstance(norm_type, bool) or not isinstance(norm_type, numbers.Real) or \
            not norm_type > 0:
        raise ValueError(f"{owner}: norm_type must be a number > 0 or inf, got {norm_type!r}")
    return float(norm_type)


def _total_norm(grads, norm_type):
    """The norm of all gradients joined into one vector (0-d, on the first's device)."""
    device = grads[0].device
    with vecgrad.no_grad():
        if norm_type == math.inf:
            parts = [g.abs().max().to(device) for g in grads]
            return vecgrad.stack(parts).max() if len(parts) > 1 else parts[0]
        parts = [((g * g).sum() if norm_type == 2 else (g.abs() ** norm_type).sum()).to(device)
                 for g in grads]
        summed = vecgrad.stack(parts).sum() if len(parts) > 1 else parts[0]
        return summed.sqrt() if norm_type == 2 else summed ** (1.0 / norm_type)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False):
    """Scale the gradients so their joint norm is at most max_norm; returns that norm
    as it was before clipping (a 0-d tensor on the first gradient's device).

    norm_type: any p > 0, or float('inf') / 'inf' for the largest absolute entry.
    error_if_nonfinite: raise when the norm is nan or inf (else the gradients become nan,
    as in PyTorch).
    """
    owner = "clip_grad_norm_"
    norm_type = _norm_type(owner, norm_type)
    if isinstance(max_norm, bool) or not isinstance(max_norm, numbers.Real) or \
            not max_norm >= 0:
        raise ValueError(f"{owner}: max_norm must be a number >= 0, got {max_norm!r}")
    grads = _grads(owner, parameters)
    if not grads:
        return vecgrad.tensor(0.0)
    total = _total_norm(grads, norm_type)
    if error_if_nonfinite:
        value = float(total.item())
        if not math.isfinite(value):
            raise RuntimeError(f"{owner}: the total norm of order {norm_type} of the "
                               f"gradients is {value}; pass error_if_nonfinite=False to "
                               f"clip anyway")
    with vecgrad.no_grad():
        # min(1, max_norm / (norm + 1e-6)) stays on the device: no host round trip.
        coef = (float(max_norm) / (total + 1e-6)).clip(max=1.0)
        for g in grads:
            g.mul_(coef.to(g.device).to(g.dtype))
    return total


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    if isinstance(clip_value, bool) or not isinstance(clip_value, numbers.Real) or \
            not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be a number >= 0, got "
                         f"{clip_value!r}")
    with vecgrad.no_grad():
        for g in _grads("clip_grad_value_", parameters):
            g.copy_(g.clip(-float(clip_value), float(clip_value)))


def grad_norm(parameters, norm_type: float = 2.0) -> float:
    """The joint norm of the gradients as a Python float, without changing them."""
    grads = _grads("grad_norm", parameters)
    if not grads:
        return 0.0
    return float(_total_norm(grads, _norm_type("grad_norm", norm_type)).item())
