"""Float arithmetic with IEEE / PyTorch edge behaviour instead of Python exceptions.

Python's `math` raises where PyTorch returns a value; both engines (reverse mode in
value.py, forward mode in forward.py) use these helpers so they agree at the edges:

- exp(x) overflows to inf (never OverflowError).
- log(0) = -inf, log(x < 0) = nan.
- sqrt(x < 0) = nan.
- a / 0 = +-inf (sign of a times sign of the zero), 0 / 0 = nan.
- a ** b: a negative base to a non-integer power is nan; 0 ** negative = inf; results
  too large for a float are +-inf.
"""

from __future__ import annotations

import math
from numbers import Real

def as_float(x, what: str) -> float:
    """A user-given real number (bool excluded) as a float, or a clear error naming `what`.

    The one boundary check for Value, Dual and activation parameters. An int too large
    for a float is a ValueError (its digits are not echoed: there may be thousands).
    """
    if isinstance(x, bool) or not isinstance(x, Real):
        raise TypeError(f"{what} needs a real number, got {type(x).__name__}: {x!r}")
    try:
        return float(x)
    except OverflowError:
        digits = int(x.bit_length() * math.log10(2)) + 1 if isinstance(x, int) else None
        shown = f"an int of about {digits} digits" if digits else type(x).__name__
        raise ValueError(f"{what}: {shown} is too large for a float") from None


# Largest argument for which math.exp does not overflow a double.
EXP_MAX = 709.782712893384


def safe_exp(x: float) -> float:
    """exp(x); inf instead of OverflowError (nan stays nan)."""
    if x > EXP_MAX:
        return math.inf
    return math.exp(x)


def safe_log(x: float) -> float:
    """Natural log: log(0) = -inf, log(x < 0) = nan, log(inf) = inf."""
    if x > 0.0:
        return math.log(x)
    if x == 0.0:
        return -math.inf
    return math.nan  # negative or nan


def safe_sqrt(x: float) -> float:
    """Square root: sqrt(x < 0) = nan."""
    if x >= 0.0:
        return math.sqrt(x)
    return math.nan


def safe_div(a: float, b: float) -> float:
    """a / b with IEEE division by zero: +-inf, or nan for 0/0 and nan/0."""
    if b != 0.0:
        return a / b
    if a == 0.0 or a != a:
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def abs_slope(x: float) -> float:
    """d|x|/dx: -1 or 1, and 0 at x = 0 (PyTorch's sign convention); nan stays nan."""
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return 0.0 if x == 0.0 else math.nan


def _is_odd_integer(b: float) -> bool:
    return b == math.floor(b) and abs(b) < 2.0**53 and int(b) % 2 == 1


def safe_pow(a: float, b: float) -> float:
    """a ** b as PyTorch computes it for floats (see the module docstring)."""
    try:
        result = a**b
    except ZeroDivisionError:  # 0.0 ** negative
        negative_zero = math.copysign(1.0, a) < 0.0
        return -math.inf if negative_zero and _is_odd_integer(b) else math.inf
    except OverflowError:
        if a < 0.0 and b != math.floor(b):  # (complex exponentiation overflowed)
            return math.nan
        return -math.inf if a < 0.0 and _is_odd_integer(b) else math.inf
    if isinstance(result, complex):  # negative base, non-integer exponent
        return math.nan
    return result


def pow_dbase(a: float, b: float) -> float:
    """d(a ** b)/da = b * a ** (b - 1); 0 when b == 0 (PyTorch: x ** 0 is constant)."""
    if b == 0.0:
        return 0.0
    return b * safe_pow(a, b - 1.0)


def pow_dexponent(a: float, b: float, result: float) -> float:
    """d(a ** b)/db = a ** b * log(a); 0 at a == 0, b >= 0 (PyTorch), nan for a < 0."""
    if a == 0.0 and b >= 0.0:
        return 0.0
    return result * safe_log(a)
