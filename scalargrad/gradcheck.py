"""Central differences: the reference every derivative in scalargrad is tested against."""

from __future__ import annotations

import math
from numbers import Real
from typing import Callable, Sequence

from scalargrad.value import Value


def _output_float(out, what: str) -> float:
    if isinstance(out, Value):
        return out.data
    if isinstance(out, (int, float)) and not isinstance(out, bool):
        return float(out)
    raise TypeError(f"{what}: f must return a Value or a number, got {type(out).__name__}")


def numerical_grad(f: Callable[..., object], values: Sequence[Value], eps: float = 1e-6) -> list:
    """d f / d v for each v in values by central differences.

    f is called as f(*values) and must return a Value (or a number). Each value's
    `.data` is moved by +-h with h = eps * max(1, |v.data|) (a relative step keeps the
    difference meaningful for large inputs) and restored afterwards, even on error.
    """
    # Any real number but a bool (numpy's float64 and float32 included); not nan or inf.
    valid = isinstance(eps, Real) and not isinstance(eps, bool) and 0 < eps < math.inf
    if not valid:
        raise ValueError(f"numerical_grad: eps must be a positive finite number, got {eps!r}")
    eps = float(eps)  # a float32 step would make the differences float32
    values = list(values)
    for i, v in enumerate(values):
        if not isinstance(v, Value):
            raise TypeError(f"numerical_grad: values[{i}] is {type(v).__name__}, not a Value")
    grads = []
    for v in values:
        original = v.data
        h = eps * max(1.0, abs(original))
        try:
            v.data = original + h
            up = _output_float(f(*values), "numerical_grad")
            v.data = original - h
            down = _output_float(f(*values), "numerical_grad")
        finally:
            v.data = original
        grads.append((up - down) / (2.0 * h))
    return grads


def gradcheck(f: Callable[..., Value], values: Sequence[Value], eps: float = 1e-6,
              rtol: float = 1e-5, atol: float = 1e-7) -> list:
    """Compare backward() with central differences; return the list of mismatches.

    Each mismatch is (index, analytic, numeric). An empty list means they agree
    within |analytic - numeric| <= atol + rtol * |numeric|. Gradients of `values` are
    reset to 0 first.
    """
    values = list(values)
    numeric = numerical_grad(f, values, eps)
    for v in values:
        v.grad = 0.0
    out = f(*values)
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck: f must return a Value, got {type(out).__name__}")
    out.backward()
    mismatches = []
    for i, (v, expected) in enumerate(zip(values, numeric)):
        got = v.grad
        if not (abs(got - expected) <= atol + rtol * abs(expected)):
            if not (math.isnan(got) and math.isnan(expected)):
                mismatches.append((i, got, expected))
    return mismatches
