"""Value: a scalar that remembers how it was computed.

Every op follows the same four steps (micrograd's shape):

1. coerce the other operand to a Value,
2. compute the forward result,
3. state the local derivative d(out)/d(parent) for each parent,
4. build the output node with its parents (in operand order) and op name.

The fourth micrograd step, accumulating `parent.grad += local * out.grad`, is one rule
for every op and lives in graph.py. Because a node stores numbers (its local
derivatives) instead of a `_backward` closure that captures the node itself, a graph has
no reference cycles: it is freed by reference counting as soon as the last Value
referring to it goes away, without waiting for the cyclic garbage collector.

Edge behaviour (the same as PyTorch for float tensors; see scalar_math.py):
exp overflows to inf, log(0) = -inf, log(x < 0) = nan, sqrt(x < 0) = nan,
x / 0 = +-inf (0 / 0 = nan), 0 ** negative = inf, a negative base to a non-integer
power = nan; the gradients at these points are PyTorch's too (tests/scalargrad/test_edges.py).
Derivatives at kinks: relu'(0) = 0, abs'(0) = 0, step' = 0 (see functions.py).
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Optional

from scalargrad import graph
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


class Value(ActivationMethods):
    """A scalar node of a computation graph.

    `.data` (float), `.grad` (float, accumulated by backward), `.parents` (tuple),
    `.op` (name of the op that made it, "" for inputs), `.label` (optional name for
    display). Values compare and hash by identity, so graph walks can keep them in sets.
    Every catalogue activation is a method (inherited from ActivationMethods).
    """

    # At most two parents (every op is unary or binary), kept in two slots instead of
    # a tuple: one allocation per node instead of three, which is most of the cost of
    # building a graph and of the garbage collector's passes over it.
    __slots__ = (
        "data", "grad", "op", "label",
        "_a", "_b",  # parents, None when absent
        "_da", "_db",  # local derivatives d(self)/d(_a), d(self)/d(_b)
        "_g", "_pending",  # scratch for graph.backward
        "__weakref__",
    )

    def __init__(self, data, label: Optional[str] = None):
        if label is not None and not isinstance(label, str):
            raise TypeError(f"Value label must be a str or None, got {type(label).__name__}")
        self.data = as_float(data, "Value")
        self.grad = 0.0
        self.op = ""
        self.label = label
        self._a = self._b = None
        self._da = self._db = 0.0

    @property
    def parents(self) -> tuple:
        """The Values this one was computed from, in operand order."""
        if self._a is None:
            return ()
        if self._b is None:
            return (self._a,)
        return (self._a, self._b)

    @property
    def local(self) -> tuple:
        """d(self)/d(parent) for each parent, in the order of `parents`."""
        if self._a is None:
            return ()
        if self._b is None:
            return (self._da,)
        return (self._da, self._db)

    def __repr__(self) -> str:
        name = f"{self.label!r}, " if self.label else ""
        return f"Value({name}data={self.data:.6g}, grad={self.grad:.6g})"

    def __format__(self, spec: str) -> str:
        """Formats as its number, so a .grad that is a Value (create_graph) prints too."""
        return format(self.data, spec)

    # Jupyter shows a Value as the picture of its graph (scalargrad.render: SVG through
    # Graphviz when `dot` is installed, an HTML table otherwise; never an error).
    def _repr_mimebundle_(self, include=None, exclude=None):
        from scalargrad.render import mimebundle
        return mimebundle(self)

    def _repr_svg_(self):
        from scalargrad.render import to_svg
        return to_svg(self)

    def _repr_html_(self):
        from scalargrad.render import to_html
        return to_html(self)

    # ----- arithmetic -------------------------------------------------------------

    def __add__(self, other):
        if type(other) is not Value:
            other = _coerce(other)
            if other is None:
                return NotImplemented
        return _binary(self.data + other.data, "+", self, 1.0, other, 1.0)

    def __sub__(self, other):
        if type(other) is not Value:
            other = _coerce(other)
            if other is None:
                return NotImplemented
        return _binary(self.data - other.data, "-", self, 1.0, other, -1.0)

    def __mul__(self, other):
        if type(other) is not Value:
            other = _coerce(other)
            if other is None:
                return NotImplemented
        return _binary(self.data * other.data, "*", self, other.data, other, self.data)

    def __truediv__(self, other):
        """self / other; division by zero gives +-inf (0 / 0 gives nan), never an error."""
        other = _coerce(other)
        if other is None:
            return NotImplemented
        a, b = self.data, other.data
        return _binary(safe_div(a, b), "/", self, safe_div(1.0, b), other, safe_div(-a, b * b))

    def __pow__(self, other):
        """self ** other; a number exponent is a constant (one parent), a Value is not.

        A negative base to a non-integer power is nan, 0 ** negative is inf, and a
        result too large for a float is +-inf (PyTorch's float semantics).
        """
        if isinstance(other, Value):
            a, b = self.data, other.data
            out = safe_pow(a, b)
            return _binary(out, "**", self, pow_dbase(a, b), other, pow_dexponent(a, b, out))
        if isinstance(other, bool) or not isinstance(other, Real):
            return NotImplemented
        a, b = self.data, as_float(other, "exponent")
        out = _unary(safe_pow(a, b), f"**{b:g}", self, pow_dbase(a, b))
        out._db = b  # the exponent, kept for create_graph (a unary node has no _b to scale)
        return out

    def __neg__(self):
        return _unary(-self.data, "neg", self, -1.0)

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

    # ----- elementary functions ---------------------------------------------------

    def exp(self):
        """e ** x; overflows to inf (never OverflowError), exp(-1e6) = 0."""
        out = safe_exp(self.data)
        return _unary(out, "exp", self, out)

    def log(self):
        """Natural log; log(0) = -inf, log(x < 0) = nan; derivative 1/x as in PyTorch."""
        x = self.data
        return _unary(safe_log(x), "log", self, safe_div(1.0, x))

    def sqrt(self):
        """Square root; sqrt(x < 0) = nan, sqrt'(0) = inf."""
        out = safe_sqrt(self.data)
        return _unary(out, "sqrt", self, safe_div(0.5, out))

    def abs(self):
        """|x|, with abs'(0) = 0 (PyTorch's sign convention)."""
        x = self.data
        return _unary(abs(x), "abs", self, abs_slope(x))

    def __abs__(self):
        return self.abs()

    # ----- the activation catalogue (functions.py holds the math) -----------------

    def activation(self, name: str, alpha: Optional[float] = None):
        """Apply the catalogue activation `name` (alpha: its parameter, if it has one).

        One method per catalogue name (`v.sigmoid()`, `v.leaky_relu(alpha=0.1)`, ...)
        comes from ActivationMethods and calls this.
        """
        entry, alpha = resolve(name, alpha)
        x = self.data
        out = _unary(entry.f(x, alpha), name, self, entry.df(x, alpha))
        if entry.default_alpha is not None:  # kept for create_graph, like ** keeps b
            out._db = entry.default_alpha if alpha is None else alpha
        return out

    # relu and tanh skip the catalogue lookup: they are the hot activations of an MLP.
    # The tests check that they agree with the catalogue exactly.
    def relu(self):
        """max(0, x); relu'(0) = 0 (PyTorch)."""
        x = self.data
        if x > 0.0:
            return _unary(x, "relu", self, 1.0)
        if x != x:  # nan propagates, as in PyTorch
            return _unary(x, "relu", self, x)
        return _unary(0.0, "relu", self, 0.0)

    def tanh(self):
        t = math.tanh(self.data)
        return _unary(t, "tanh", self, 1.0 - t * t)

    # ----- gradients --------------------------------------------------------------

    def backward(self, gradient: float = 1.0, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(node) into `.grad` of every node this Value depends on.

        Seeds d(self)/d(self) = `gradient` (1 by default). Calling it twice adds the
        gradients twice, as in PyTorch; use `zero_grad()` in between to start over.
        With create_graph=True the gradients are Values with a graph of their own (see
        scalargrad.higher), so `x.grad.backward()` gives second derivatives.
        """
        if create_graph:
            from scalargrad import higher  # (higher imports this module)

            higher.backward_graph(self, gradient)
            return
        graph.backward(self, as_float(gradient, "backward gradient"))

    def zero_grad(self) -> None:
        """Set `.grad` to 0 on this Value and every node it was computed from."""
        graph.zero_grad(self)


_new_value = object.__new__


# The constructors below skip Value.__init__'s validation: op results are floats.
def _binary(data: float, op: str, a: Value, da: float, b: Value, db: float) -> Value:
    """An op's output node with parents (a, b) and local derivatives (da, db)."""
    out = _new_value(Value)
    out.data = data
    out.grad = 0.0
    out.op = op
    out.label = None
    out._a = a
    out._da = da
    out._b = b
    out._db = db
    return out


def _unary(data: float, op: str, a: Value, da: float) -> Value:
    """An op's output node with the single parent a and local derivative da."""
    out = _new_value(Value)
    out.data = data
    out.grad = 0.0
    out.op = op
    out.label = None
    out._a = a
    out._da = da
    out._b = None
    out._db = 0.0
    return out


def _coerce(other) -> Optional[Value]:
    """A Value for `other`, or None when it is not a real number (-> NotImplemented)."""
    kind = type(other)
    if kind is not float and kind is not int:  # fast path first: the common case
        if isinstance(other, Value):
            return other
        if isinstance(other, bool) or not isinstance(other, Real):
            return None
    out = _new_value(Value)
    out.data = as_float(other, "Value operand") if kind is int else float(other)
    out.grad = 0.0
    out.op = ""
    out.label = None
    out._a = out._b = None
    out._da = out._db = 0.0
    return out
