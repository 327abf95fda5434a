"""Layers for PyTorch's activations beyond the catalogue (nn.GELU, nn.SiLU, ...).

Each wraps one function of vecgrad.nn.functional (a composite in vecgrad/ops/), so the
layer and the function can never disagree. The catalogue's own layers (ReLU, Tanh, ...)
live in layers.py.
"""

from __future__ import annotations

import numbers

from vecgrad.nn import functional as F
from vecgrad.nn.module import Module, check_inplace


class GELU(Module):
    """x * Phi(x); approximate="tanh" for the tanh approximation."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return "" if self.approximate == "none" else f"approximate={self.approximate!r}"


class _Plain(Module):
    """An activation without parameters: forward is `function`."""

    function = None

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = check_inplace(type(self).__name__, inplace)  # (computed out of place)

    def forward(self, x):
        return type(self).function(x)


class SiLU(_Plain):
    """x * sigmoid(x)."""

    function = staticmethod(F.silu)


class Mish(_Plain):
    """x * tanh(softplus(x))."""

    function = staticmethod(F.mish)


class SELU(_Plain):
    """scale * elu(x, alpha) with the self-normalizing constants."""

    function = staticmethod(F.selu)


class Softsign(_Plain):
    """x / (1 + |x|)."""

    function = staticmethod(F.softsign)


class LogSigmoid(_Plain):
    """log(sigmoid(x))."""

    function = staticmethod(F.logsigmoid)


class ReLU6(_Plain):
    """min(max(x, 0), 6)."""

    function = staticmethod(F.relu6)


class Hardsigmoid(_Plain):
    """relu6(x + 3) / 6."""

    function = staticmethod(F.hardsigmoid)


class Hardswish(_Plain):
    """x * relu6(x + 3) / 6."""

    function = staticmethod(F.hardswish)


class Hardtanh(Module):
    """x clipped to [min_val, max_val]."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        self.inplace = check_inplace("Hardtanh", inplace)  # (computed out of place)
        for name, v in (("min_val", min_val), ("max_val", max_val)):
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise TypeError(f"Hardtanh: {name} must be a number, got {v!r}")
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val {min_val} is greater than max_val {max_val}")
        self.min_val, self.max_val = float(min_val), float(max_val)

    def forward(self, x):
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


class Softmin(Module):
    """softmax(-x) along `dim`."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmin(x, dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class GLU(Module):
    """a * sigmoid(b) for the two halves a, b of `dim`."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.glu(x, dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
