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
    """value + tangent * eps with eps^2 = 0.

    value and tangent are numbers, or - nested - Duals or Values: Dual(Dual(x, 1),
    Dual(1, 0)) carries second derivatives (forward over forward), and Dual(Value(x), 1)
    makes the tangent a Value whose .backward() differentiates it again (reverse over
    forward). See scalargrad.higher.
    """

    __slots__ = ("value", "tangent")

    def __init__(self, value, tangent=0.0):
        self.value = _component(value, "Dual value")
        self.tangent = _component(tangent, "Dual tangent")

    def __repr__(self) -> str:
        return f"Dual(value={_show(self.value)}, tangent={_show(self.tangent)})"

    def __format__(self, spec: str) -> str:
        """Formats as its value's number (as Value does), so f"{d:.3f}" works nested too."""
        return format(_primal(self.value), spec)

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
        tangent = _chain(_div(1.0, b), self.tangent) + _chain(_div(-a, b * b), other.tangent)
        return Dual(_div(a, b), tangent)

    def __pow__(self, other):
        if isinstance(other, Dual):
            a, b = self.value, other.value
            out = _pow(a, b)
            tangent = _chain(_pow_dbase(a, b), self.tangent) + _chain(
                _pow_dexponent(a, b, out), other.tangent
            )
            return Dual(out, tangent)
        if isinstance(other, bool) or not isinstance(other, Real):
            return NotImplemented
        a, b = self.value, as_float(other, "exponent")
        return Dual(_pow(a, b), _chain(_pow_dbase(a, b), self.tangent))

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
        x = self.value
        out = safe_exp(x) if _is_number(x) else x.exp()
        return self._unary(out, out)

    def log(self):
        x = self.value
        return self._unary(safe_log(x) if _is_number(x) else x.log(), _div(1.0, x))

    def sqrt(self):
        x = self.value
        out = safe_sqrt(x) if _is_number(x) else x.sqrt()
        return self._unary(out, _div(0.5, out))

    def abs(self):
        x = self.value
        return self._unary(abs(x), abs_slope(_primal(x)))

    def __abs__(self):
        return self.abs()

    def activation(self, name: str, alpha: Optional[float] = None):
        """Apply the catalogue activation `name` (same math and checks as Value's).

        One method per catalogue name comes from ActivationMethods and calls this.
        """
        entry, alpha = resolve(name, alpha)
        x = self.value
        if _is_number(x):
            return self._unary(entry.f(x, alpha), entry.df(x, alpha))
        from scalargrad.higher import activation_derivative  # (higher imports this module)

        return self._unary(x.activation(name, alpha), activation_derivative(name, x, alpha))


def _is_number(x) -> bool:
    return type(x) is float or type(x) is int


def _show(x) -> str:
    """A component for repr: a number or Value as 6 digits, a nested Dual as its repr."""
    return repr(x) if isinstance(x, Dual) else format(x, ".6g")


def _primal(x) -> float:
    while not _is_number(x):
        x = x.value if isinstance(x, Dual) else x.data
    return x


def _component(x, what):
    """A Dual's value or tangent: a float, or (nested) a Dual or a Value."""
    if isinstance(x, Dual) or hasattr(x, "_a"):  # hasattr: Value, without importing it
        return x
    return as_float(x, what)


def _div(a, b):
    return safe_div(a, b) if _is_number(a) and _is_number(b) else a / b


def _pow(a, b):
    return safe_pow(a, b) if _is_number(a) and _is_number(b) else a ** b


def _pow_dbase(a, b):
    if _is_number(a) and _is_number(b):
        return pow_dbase(a, b)
    return 0.0 if _primal(b) == 0.0 else b * _pow(a, b - 1.0)


def _pow_dexponent(a, b, out):
    if _is_number(a) and _is_number(b):
        return pow_dexponent(a, b, out)
    if _primal(a) == 0.0 and _primal(b) >= 0.0:
        return 0.0
    return out * (safe_log(a) if _is_number(a) else a.log())


def _chain(local, tangent):
    """local * tangent, where a zero tangent contributes 0 even if local is inf or nan.

    Reverse mode never multiplies a local derivative by an input that does not lead to
    the output; forward mode must not either, or inf * 0 = nan would leak in.
    """
    return 0.0 if _is_zero(tangent) else local * tangent


def _is_zero(x) -> bool:
    """x is 0, or a (nested) Dual whose every component is 0: a tangent that carries no
    derivative of any order, so it must not turn an inf local derivative into nan."""
    while isinstance(x, Dual):
        if not _is_zero(x.tangent):
            return False
        x = x.value
    return _is_number(x) and x == 0.0


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
