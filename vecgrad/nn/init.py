"""Weight initialisation, in place and seeded by ``vecgrad.manual_seed``.

Numbers are drawn on the host from ``vecgrad.random_generator()`` in float64, cast to the
tensor's dtype and copied into the tensor on its own device.

Fans follow PyTorch: for a weight of shape (out, in, *kernel), fan_in = in · ∏kernel and
fan_out = out · ∏kernel. A tensor with no elements is left as it is (a fan of 0 then
means nothing), as PyTorch does.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

import vecgrad

# Gains that keep activations' variance steady through a layer (as in PyTorch).
_GAINS = {
    "identity": 1.0,
    "linear": 1.0,
    "conv1d": 1.0,
    "conv2d": 1.0,
    "conv3d": 1.0,
    "conv_transpose1d": 1.0,
    "conv_transpose2d": 1.0,
    "conv_transpose3d": 1.0,
    "sigmoid": 1.0,
    "tanh": 5.0 / 3.0,
    "relu": math.sqrt(2.0),
    "selu": 3.0 / 4.0,
}


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for an activation (leaky_relu takes its slope as `param`)."""
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, (bool, np.bool_)) or not isinstance(slope, numbers.Real):
            raise ValueError(f"calculate_gain: leaky_relu slope must be a number, got {slope!r}")
        return math.sqrt(2.0 / (1.0 + float(slope) ** 2))
    if nonlinearity not in _GAINS:
        raise ValueError(
            f"calculate_gain: no standard gain for {nonlinearity!r}; "
            f"known: {sorted(_GAINS) + ['leaky_relu']}"
        )
    return _GAINS[nonlinearity]


def _check_tensor(tensor, who: str) -> None:
    if not isinstance(tensor, vecgrad.Tensor):
        raise TypeError(f"{who}: expected a vecgrad Tensor, got {type(tensor).__name__}")
    if tensor.dtype.kind != "f":
        raise TypeError(f"{who}: needs a floating point tensor, got dtype {tensor.dtype}")


def _fans(tensor, who: str) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shaped (out, in, *kernel)."""
    if tensor.ndim < 2:
        raise ValueError(
            f"{who}: fan in and fan out need a tensor with at least 2 dimensions, "
            f"got shape {tensor.shape}"
        )
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fill(tensor, values: np.ndarray):
    """Copy host `values` into `tensor` on its device, without recording a graph."""
    with vecgrad.no_grad():
        tensor.copy_(vecgrad.tensor(values, dtype=tensor.dtype, device=tensor.device))
    return tensor


def uniform_(tensor, a: float = 0.0, b: float = 1.0):
    """Fill `tensor` with draws from U(a, b) (PyTorch's argument names); returns it."""
    _check_tensor(tensor, "uniform_")
    if not a <= b:
        raise ValueError(f"uniform_: need a <= b, got a={a}, b={b}")
    return _fill(tensor, vecgrad.random_generator().uniform(a, b, size=tensor.shape))


def normal_(tensor, mean: float = 0.0, std: float = 1.0):
    """Fill `tensor` with draws from N(mean, std²); returns it."""
    _check_tensor(tensor, "normal_")
    if not std >= 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    return _fill(tensor, vecgrad.random_generator().normal(mean, std, size=tensor.shape))


def uniform_noise(tensor, scale: float = 0.05):
    """Lecture 000's "small uniform noise": fill `tensor` with U(−scale, scale)."""
    if not scale >= 0:
        raise ValueError(f"uniform_noise: scale must be >= 0, got {scale}")
    return uniform_(tensor, -scale, scale)


def xavier_uniform_(tensor, gain: float = 1.0):
    """Glorot/Xavier uniform: U(−a, a) with a = gain · √(6 / (fan_in + fan_out))."""
    _check_tensor(tensor, "xavier_uniform_")
    fan_in, fan_out = _fans(tensor, "xavier_uniform_")
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out)) if fan_in + fan_out else 0.0
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain: float = 1.0):
    """Glorot/Xavier normal: N(0, σ²) with σ = gain · √(2 / (fan_in + fan_out))."""
    _check_tensor(tensor, "xavier_normal_")
    fan_in, fan_out = _fans(tensor, "xavier_normal_")
    std = gain * math.sqrt(2.0 / (fan_in + fan_out)) if fan_in + fan_out else 0.0
    return normal_(tensor, 0.0, std)


def _kaiming_std(tensor, a: float, mode: str, nonlinearity: str, who: str) -> float:
    _check_tensor(tensor, who)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{who}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(tensor, who)
    gain = calculate_gain(nonlinearity, a if nonlinearity == "leaky_relu" else None)
    fan = fan_in if mode == "fan_in" else fan_out
    return gain / math.sqrt(fan) if fan else 0.0  # (fan 0: no elements to fill)


def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu"):
    """He/Kaiming uniform: U(−b, b) with b = gain · √(3 / fan).

    As in PyTorch the default nonlinearity is leaky_relu with negative slope `a`, so
    a = 0 gives relu's gain √2 and ``a=math.sqrt(5)`` PyTorch's Linear/Conv bound
    1/√fan_in; nonlinearity="relu" (or any other name) ignores `a`.
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu"):
    """He/Kaiming normal: N(0, σ²) with σ = gain / √fan (leaky_relu with slope `a` by
    default, as in PyTorch: gain √2 for a = 0)."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_"))


def constant_(tensor, val: float):
    """Fill `tensor` with `val` (PyTorch's argument name); returns it."""
    _check_tensor(tensor, "constant_")
    with vecgrad.no_grad():
        tensor.fill_(val)
    return tensor


def zeros_(tensor):
    """Fill `tensor` with zeros; returns it."""
    return constant_(tensor, 0.0)


def ones_(tensor):
    """Fill `tensor` with ones; returns it."""
    return constant_(tensor, 1.0)
