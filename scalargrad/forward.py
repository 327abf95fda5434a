"""Forward-mode AD with dual numbers: `Dual(value, tangent)`.

A Dual carries a value and its directional derivative (tangent) through every op, so one
forward pass gives d(out)/d(input) along one input direction (lecture 003: forward mode
costs one pass per INPUT, reverse mode one pass per OUTPUT). The op set and the edge
behaviour are those of Value: the same float helpers (scalar_math.py) and the same
activation catalogue (functions.py), so the two modes can check each other.
"""

from __future__ import annotations

from numbers import Real
from typing import Callable, Optional, Sequence

from scalargrad.functions import ActivationMethods, resolve
from scalargrad.scalar_math import (
    abs_slope,
    as_float,
    pow_dbase,
    pow_dexponent,
    safe_div,
    safe_exp,
    safe_log,
    safe_pow,
    safe_sqrt,
)


class Dual(ActivationMethods):
    """value + tangent * eps with eps^2 = 0."""

    __slots__ = ("value", "tangent")

    def __init__(self, value, tangent=0.0):
        self.value = as_float(value, "Dual value")
        self.tangent = as_float(tangent, "Dual tangent")

    def __repr__(self) -> str:
        return f"Dual(value={self.value:.6g}, tangent={self.tangent:.6g})"

    # Every op: forward value and tangent = local derivative(s) * input tangent(s).

    def __add__(self, other):
        other = _coerce(other)
        if other is None:
            return NotImplemented
        return Dual(self.value + other.value, self.tangent + other.tangent)

    def __sub__(self, other):
        other = _coerce(other)
        if other is None:
            return NotImplemented
        return Dual(self.value - other.value, self.tangent - other.tangent)

    def __mul__(self, other):
        other = _coerce(other)
        if other is None:
            return NotImplemented
        a, b = self.value, other.value
        return Dual(a * b, _chain(b, self.tangent) + _chain(a, other.tangent))

    def __truediv__(self, other):
        other = _coerce(other)
        if other is None:
            return NotImplemented
        a, b = self.value, other.value
        tangent = _chain(safe_div(1.0, b), self.tangent) + _chain(safe_div(-a, b * b), other.tangent)
        return Dual(safe_div(a, b), tangent)

    def __pow__(self, other):
        if isinstance(other, Dual):
            a, b = self.value, other.value
            out = safe_pow(a, b)
            tangent = _chain(pow_dbase(a, b), self.tangent) + _chain(
                pow_dexponent(a, b, out), other.tangent
            )
            return Dual(out, tangent)
        if isinstance(other, bool) or not isinstance(other, Real):
            return NotImplemented
        a, b = self.value, as_float(other, "exponent")
        return Dual(safe_pow(a, b), _chain(pow_dbase(a, b), self.tangent))

    def __neg__(self):
        return Dual(-self.value, -self.tangent)

    def __pos__(self):
        return self

    def __radd__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else other + self

    def __rsub__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else other - self

    def __rmul__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else other * self

    def __rtruediv__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else other / self

    def __rpow__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else other**self

    def _unary(self, value: float, local: float) -> "Dual":
        return Dual(value, _chain(local, self.tangent))

    def exp(self):
        out = safe_exp(self.value)
        return self._unary(out, out)

    def log(self):
        return self._unary(safe_log(self.value), safe_div(1.0, self.value))

    def sqrt(self):
        out = safe_sqrt(self.value)
        return self._unary(out, safe_div(0.5, out))

    def abs(self):
        x = self.value
        return self._unary(abs(x), abs_slope(x))

    def __abs__(self):
        return self.abs()

    def activation(self, name: str, alpha: Optional[float] = None):
        """Apply the catalogue activation `name` (same math and checks as Value's).

        One method per catalogue name comes from ActivationMethods and calls this.
        """
        entry, alpha = resolve(name, alpha)
        x = self.value
        return self._unary(entry.f(x, alpha), entry.df(x, alpha))


def _chain(local: float, tangent: float) -> float:
    """local * tangent, where a zero tangent contributes 0 even if local is inf or nan.

    Reverse mode never multiplies a local derivative by an input that does not lead to
    the output; forward mode must not either, or inf * 0 = nan would leak in.
    """
    return 0.0 if tangent == 0.0 else local * tangent


def _coerce(other) -> Optional[Dual]:
    if isinstance(other, Dual):
        return other
    if isinstance(other, bool) or not isinstance(other, Real):
        return None
    return Dual(other, 0.0)


def jvp(f: Callable[..., Dual], values: Sequence[float], direction: Sequence[float]) -> tuple:
    """(f(values), directional derivative of f at values along direction), by one pass."""
    if len(values) != len(direction):
        raise ValueError(f"jvp: {len(values)} values but {len(direction)} direction entries")
    out = f(*(Dual(v, d) for v, d in zip(values, direction)))
    if not isinstance(out, Dual):
        out = Dual(out)
    return out.value, out.tangent


def gradient(f: Callable[..., Dual], values: Sequence[float]) -> list:
    """The full gradient of a scalar f by forward mode: one pass per input."""
    grads = []
    for i in range(len(values)):
        direction = [1.0 if j == i else 0.0 for j in range(len(values))]
        grads.append(jvp(f, values, direction)[1])
    return grads
