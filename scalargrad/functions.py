"""The activation catalogue: one name -> (f, f') table shared by every engine.

Every function takes and returns a Python float and never raises for a finite or
infinite float input: where the exact result overflows a float it returns +-inf, where
it underflows it returns the limit (0, 1, ...). The derivative `df` is evaluated at the
INPUT x (not at f(x)).

Conventions at kinks (the ones PyTorch uses):

- step(x) = 1 for x >= 0 else 0; step'(x) = 0 everywhere (the lecture's choice: the
  derivative is 0 wherever it exists, and we use 0 at the jump too).
- relu'(0) = 0.
- leaky_relu'(0) = alpha (the slope of the left branch).
- elu'(x) = 1 for x > 0 else alpha * exp(x), so elu'(0) = alpha.
- sinc(0) = 1, sinc'(0) = 0.

Where PyTorch gives nan we keep the limit or nan on purpose: at +-inf the functions
return their limits (sinc(+-inf) = 0, gaussian'(+-inf) = 0), and a nan input gives a nan
value AND derivative, also at relu/leaky_relu/elu (PyTorch: the slope of one branch).

soft_exponential follows lecture 002 for alpha < 0, alpha = 0 and alpha > 0. For
alpha < 0 it is a logarithm, defined only where 1 - alpha * (x + alpha) > 0: at the
boundary it is -inf (derivative inf), beyond it nan (like log of a negative number).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

from scalargrad.scalar_math import EXP_MAX, as_float, safe_exp, safe_log

# Below this |x| sinc'(x) is taken from its Taylor series: the closed form
# cos(x)/x - sin(x)/x**2 cancels catastrophically near 0.
_SINC_SERIES_BELOW = 1e-2


def _sigmoid(x: float, alpha: Optional[float] = None) -> float:
    # Two branches so that exp never sees a large positive argument.
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    if x < 0.0:
        e = math.exp(x)
        return e / (1.0 + e)
    return math.nan


def _sigmoid_df(x: float, alpha: Optional[float] = None) -> float:
    s = _sigmoid(x)
    return s * (1.0 - s)


def _identity(x, alpha=None):
    return x


def _one(x, alpha=None):
    return 1.0 if x == x else math.nan


def _step(x, alpha=None):
    if x != x:
        return math.nan
    return 1.0 if x >= 0.0 else 0.0


def _step_df(x, alpha=None):
    return 0.0 if x == x else math.nan


def _tanh(x, alpha=None):
    return math.tanh(x)


def _tanh_df(x, alpha=None):
    t = math.tanh(x)
    return 1.0 - t * t


def _arctan(x, alpha=None):
    return math.atan(x)


def _arctan_df(x, alpha=None):
    if math.isinf(x):
        return 0.0
    return 1.0 / (1.0 + x * x)  # x*x may overflow to inf: 1/inf = 0 is the limit


def _relu(x, alpha=None):
    if x != x:
        return math.nan
    return x if x > 0.0 else 0.0


def _relu_df(x, alpha=None):
    if x != x:
        return math.nan
    return 1.0 if x > 0.0 else 0.0


def _leaky_relu(x, alpha=None):
    a = 0.01 if alpha is None else alpha
    return x if x > 0.0 else a * x


def _leaky_relu_df(x, alpha=None):
    a = 0.01 if alpha is None else alpha
    if x != x:
        return math.nan
    return 1.0 if x > 0.0 else a


def _elu(x, alpha=None):
    a = 1.0 if alpha is None else alpha
    return x if x > 0.0 else a * math.expm1(x)


def _elu_df(x, alpha=None):
    a = 1.0 if alpha is None else alpha
    if x != x:
        return math.nan
    return 1.0 if x > 0.0 else a * math.exp(x)


def _softplus(x, alpha=None):
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large |x|.
    if x != x:
        return math.nan
    if x > 0.0:
        return x + math.log1p(math.exp(-x))
    return math.log1p(math.exp(x))


def _bent_identity(x, alpha=None):
    # hypot(x, 1) = sqrt(x^2 + 1) without overflowing x^2, and hypot - 1 written as
    # x^2 / (hypot + 1): the difference cancelled near 0 (relative error x / 4 at 1e-8).
    if math.isinf(x):
        return x  # the limits (-inf: x / 2; the formula gave inf - inf = nan)
    return x * (x / (math.hypot(x, 1.0) + 1.0)) / 2.0 + x


def _bent_identity_df(x, alpha=None):
    if math.isinf(x):
        return 1.5 if x > 0 else 0.5
    return x / math.hypot(x, 1.0) / 2.0 + 1.0  # 2 * hypot would overflow past 9e307


def _soft_exponential(x, alpha=None):
    a = 0.5 if alpha is None else alpha
    if a < 0.0:
        return -safe_log(1.0 - a * (x + a)) / a
    if a == 0.0:
        return x
    # expm1: exp(a x) - 1 cancels for small a x (5e-5 relative error at a = 1e-6, x = 1e-8)
    ax = a * x
    return (math.inf if ax > EXP_MAX else math.expm1(ax)) / a + a  # inf: the limit


def _soft_exponential_df(x, alpha=None):
    a = 0.5 if alpha is None else alpha
    if a < 0.0:
        inner = 1.0 - a * (x + a)
        if inner > 0.0:
            return 1.0 / inner
        return math.inf if inner == 0.0 else math.nan
    if a == 0.0:
        return 1.0 if x == x else math.nan
    return safe_exp(a * x)


def _finite_or_nan(fn):
    """Wrap a periodic function: sin(inf) is undefined (nan) instead of ValueError."""

    def wrapped(x, alpha=None):
        if math.isinf(x):
            return math.nan
        return fn(x)

    return wrapped


def _neg_sin(x):
    return -math.sin(x)


def _sinc(x, alpha=None):
    if x == 0.0:
        return 1.0
    if math.isinf(x):
        return 0.0  # |sin x| <= 1, so sin(x)/x -> 0
    return math.sin(x) / x


def _sinc_df(x, alpha=None):
    if math.isinf(x):
        return 0.0
    if abs(x) < _SINC_SERIES_BELOW:
        # d/dx (1 - x^2/6 + x^4/120 - x^6/5040); the next term is below 1e-16 relative
        x2 = x * x
        return x * (-1.0 / 3.0 + x2 * (1.0 / 30.0 - x2 / 840.0))
    return math.cos(x) / x - math.sin(x) / (x * x)


def _gaussian(x, alpha=None):
    return math.exp(-x * x)  # -x*x may be -inf: exp(-inf) = 0, the limit


def _gaussian_df(x, alpha=None):
    e = math.exp(-x * x)
    if e == 0.0:  # |x| > 27: the limit 0, where -2x alone may overflow (inf * 0 = nan)
        return 0.0
    return -2.0 * x * e


@dataclass(frozen=True)
class Activation:
    """One catalogue entry: the function, its derivative at the input, its parameter."""

    name: str
    f: Callable[..., float]
    df: Callable[..., float]
    default_alpha: Optional[float]
    formula: str

    def __call__(self, x: float, alpha: Optional[float] = None) -> float:
        return self.f(x, alpha)


def _entry(name, f, df, formula, default_alpha=None):
    return name, Activation(name, f, df, default_alpha, formula)


ACTIVATIONS: dict[str, Activation] = dict(
    [
        _entry("identity", _identity, _one, "f(x) = x"),
        _entry("step", _step, _step_df, "f(x) = 1 if x >= 0 else 0"),
        _entry("sigmoid", _sigmoid, _sigmoid_df, "f(x) = 1 / (1 + exp(-x))"),
        _entry("tanh", _tanh, _tanh_df, "f(x) = tanh(x)"),
        _entry("arctan", _arctan, _arctan_df, "f(x) = arctan(x)"),
        _entry("relu", _relu, _relu_df, "f(x) = max(0, x)"),
        _entry(
            "leaky_relu", _leaky_relu, _leaky_relu_df,
            "f(x) = x if x > 0 else alpha * x", 0.01,
        ),
        _entry(
            "elu", _elu, _elu_df,
            "f(x) = x if x > 0 else alpha * (exp(x) - 1)", 1.0,
        ),
        _entry("softplus", _softplus, _sigmoid, "f(x) = log(1 + exp(x))"),
        _entry(
            "bent_identity", _bent_identity, _bent_identity_df,
            "f(x) = (sqrt(x^2 + 1) - 1) / 2 + x",
        ),
        _entry(
            "soft_exponential", _soft_exponential, _soft_exponential_df,
            "f(a, x) = -log(1 - a(x + a)) / a if a < 0; x if a = 0; "
            "(exp(a x) - 1) / a + a if a > 0",
            0.5,
        ),
        _entry("sin", _finite_or_nan(math.sin), _finite_or_nan(math.cos), "f(x) = sin(x)"),
        _entry("cos", _finite_or_nan(math.cos), _finite_or_nan(_neg_sin), "f(x) = cos(x)"),
        _entry("sinc", _sinc, _sinc_df, "f(x) = sin(x) / x, f(0) = 1"),
        _entry("gaussian", _gaussian, _gaussian_df, "f(x) = exp(-x^2)"),
    ]
)


def activation(name: str) -> Activation:
    """Look up a catalogue entry by name, with an error that lists the known names."""
    entry = ACTIVATIONS.get(name) if isinstance(name, str) else None
    if entry is None:
        known = ", ".join(ACTIVATIONS)
        raise ValueError(f"unknown activation {name!r}; known: {known}")
    return entry


def resolve(name: str, alpha=None) -> tuple[Activation, Optional[float]]:
    """The entry for `name` and its alpha as a float (None: the entry's default).

    The one place where both engines validate an activation call: an unknown name is a
    ValueError, an alpha for an activation without one or a non-number is a TypeError.
    """
    entry = activation(name)
    if alpha is None:
        return entry, None
    if entry.default_alpha is None:
        raise TypeError(f"activation {name!r} takes no alpha parameter")
    return entry, as_float(alpha, f"{name} alpha")


class ActivationMethods:
    """One method per catalogue name, for a class that defines `activation(name, alpha)`.

    Value (reverse mode) and Dual (forward mode) both inherit these, so the two engines
    offer the same methods, and a new catalogue entry gets its method here, once.
    """

    __slots__ = ()  # keeps Value and Dual free of a per-instance __dict__

    def identity(self):
        return self.activation("identity")

    def step(self):
        """1 for x >= 0 else 0; its derivative is taken as 0 everywhere (lecture 002)."""
        return self.activation("step")

    def sigmoid(self):
        return self.activation("sigmoid")

    def tanh(self):
        return self.activation("tanh")

    def arctan(self):
        return self.activation("arctan")

    def relu(self):
        """max(0, x); relu'(0) = 0 (PyTorch)."""
        return self.activation("relu")

    def leaky_relu(self, alpha: float = 0.01):
        """x for x > 0 else alpha * x; derivative at 0 is alpha."""
        return self.activation("leaky_relu", alpha)

    def elu(self, alpha: float = 1.0):
        """x for x > 0 else alpha * (exp(x) - 1); derivative at 0 is alpha."""
        return self.activation("elu", alpha)

    def softplus(self):
        return self.activation("softplus")

    def bent_identity(self):
        return self.activation("bent_identity")

    def soft_exponential(self, alpha: float = 0.5):
        """Lecture 002's soft exponential for alpha < 0, = 0, > 0."""
        return self.activation("soft_exponential", alpha)

    def sin(self):
        return self.activation("sin")

    def cos(self):
        return self.activation("cos")

    def sinc(self):
        """sin(x)/x with sinc(0) = 1 and sinc'(0) = 0."""
        return self.activation("sinc")

    def gaussian(self):
        """exp(-x^2)."""
        return self.activation("gaussian")
