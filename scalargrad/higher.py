"""Derivatives of derivatives for Values: create_graph, forward sweeps, Hessians.

A Value node stores its local derivatives as NUMBERS, computed in the forward pass (fast,
and no closures). For a gradient that can be differentiated again, the reverse pass must
instead multiply by local derivatives that are Values themselves, built from the node's
parents. `local_derivatives(node)` states them, op by op, as expressions of the parents
(and of the node, e.g. exp' = exp): the same rules as value.py's numbers, which a test
checks at random points for every op (tests/scalargrad/test_higher_order.py).

Four ways to second derivatives, which agree (lecture 003's two modes, nested):

- reverse over reverse: `grad(f, xs, create_graph=True)`, then `grad` of each entry.
- forward over reverse: the gradient's graph, swept FORWARD with tangents
  (`tangents(outputs, inputs, directions)`: every node's stored local derivatives
  carry d(node) = sum(local * d(parent)), one pass, any recorded graph).
- forward over forward: nested dual numbers, `Dual(Dual(x, 1), Dual(1, 0))`.
- reverse over forward: `Dual(Value(x), 1.0)`; the tangent is a Value, `.backward()` it.

Nothing here recurses: walks use explicit stacks, as in graph.py.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Callable, Sequence

from scalargrad.functions import ACTIVATIONS
from scalargrad.graph import topological_order
from scalargrad.scalar_math import abs_slope, as_float
from scalargrad.value import Value

_SINC_SERIES_BELOW = 1e-2  # as functions.py: the closed form cancels near 0


def primal(x) -> float:
    """The plain number inside a float, Value or (nested) Dual."""
    while not isinstance(x, (int, float)):
        x = x.data if isinstance(x, Value) else x.value
    return float(x)


def activation_derivative(name: str, x, alpha=None):
    """f'(x) of catalogue activation `name` as an expression of x (a Value or a Dual,
    possibly nested), so it can be differentiated again. Branches (kinks, series) are
    chosen on x's number, as the catalogue chooses them."""
    p = primal(x)
    if alpha is None:
        alpha = ACTIVATIONS[name].default_alpha
    if name == "identity":
        return 1.0 if p == p else math.nan
    if name == "step":
        return 0.0 if p == p else math.nan
    if name == "sigmoid":
        s = x.sigmoid()
        return s * (1.0 - s)
    if name == "tanh":
        t = x.tanh()
        return 1.0 - t * t
    if name == "arctan":
        return 1.0 / (1.0 + x * x)
    if name == "relu":
        return ACTIVATIONS["relu"].df(p)  # piecewise constant
    if name == "leaky_relu":
        return ACTIVATIONS["leaky_relu"].df(p, alpha)
    if name == "elu":
        return 1.0 if p > 0.0 else alpha * x.exp()
    if name == "softplus":
        return x.sigmoid()
    if name == "bent_identity":
        if abs(p) > 1.0:  # x / (2 sqrt(x^2 + 1)) without x^2 (inf beyond 1e154)
            return math.copysign(0.5, p) / (1.0 + x ** -2.0).sqrt() + 1.0
        return x / (2.0 * (x * x + 1.0).sqrt()) + 1.0
    if name == "soft_exponential":
        if alpha < 0.0:
            if 1.0 - alpha * (p + alpha) < 0.0:  # f = -log(negative): nan, as the
                return math.nan  # catalogue (1 / inner alone was a finite negative slope)
            # (x = nan goes on: nan in, nan out, for f'' too, as vecgrad's)
            return 1.0 / (1.0 - alpha * (x + alpha))
        if alpha == 0.0:
            return 1.0 if p == p else math.nan
        return (alpha * x).exp()
    if name == "sin":
        return x.cos()
    if name == "cos":
        return -x.sin()
    if name == "sinc":
        if math.isinf(p):
            return 0.0  # the catalogue's limit (cos(inf) is nan)
        if abs(p) < _SINC_SERIES_BELOW:
            x2 = x * x
            return x * (-1.0 / 3.0 + x2 * (1.0 / 30.0 - x2 / 840.0))
        return x.cos() / x - x.sin() / (x * x)
    if name == "gaussian":
        if ACTIVATIONS["gaussian"].f(p) == 0.0:
            return 0.0  # flat to double precision; -2x alone may overflow (inf * 0)
        return -2.0 * x * (-(x * x)).exp()
    raise NotImplementedError(f"create_graph: activation {name!r} has no derivative "
                              f"expression in scalargrad.higher.activation_derivative")


def local_derivatives(node: Value) -> tuple:
    """d(node)/d(parent) for each parent, as Values (or constants) built from the parents:
    value.py's numeric local derivatives, written so they can be differentiated again."""
    op = node.op
    a, b = node._a, node._b
    if a is None:
        return ()
    if op == "+":
        return 1.0, 1.0
    if op == "-":
        return 1.0, -1.0
    if op == "*":
        return b, a
    if op == "/":
        return 1.0 / b, -a / (b * b)
    if op == "**":  # a Value exponent; edge cases as scalar_math.pow_dbase/pow_dexponent
        da = 0.0 if b.data == 0.0 else b * a ** (b - 1.0)
        db = 0.0 if a.data == 0.0 and b.data >= 0.0 else node * a.log()
        return da, db
    if op.startswith("**"):  # a constant exponent, kept in _db by Value.__pow__
        c = node._db
        return (0.0 if c == 0.0 else c * a ** (c - 1.0),)
    if op == "neg":
        return (-1.0,)
    if op == "exp":
        return (node,)
    if op == "log":
        return (1.0 / a,)
    if op == "sqrt":
        return (0.5 / node,)
    if op == "abs":
        return (abs_slope(a.data),)
    if op in ACTIVATIONS:
        alpha = node._db if ACTIVATIONS[op].default_alpha is not None else None
        return (activation_derivative(op, a, alpha),)
    raise NotImplementedError(f"create_graph: no local derivative rule for op {op!r}")


def _as_value(x) -> Value:
    return x if isinstance(x, Value) else Value(x)


def _walk(root: Value, seed, create_graph: bool) -> dict:
    """Reverse pass from root: {id(node): (node, gradient)}, gradients Values when
    create_graph (recorded: their own graph), else floats. Nodes in the engine's own
    order (graph.topological_order, reversed): each after every node that uses it."""
    grads = {id(root): seed}
    result = {}
    for node in reversed(topological_order(root)):
        g = grads.pop(id(node))
        result[id(node)] = (node, g)
        parents = node.parents
        if not parents:
            continue
        locals_ = local_derivatives(node) if create_graph else node.local
        for parent, local in zip(parents, locals_):
            contribution = local * g
            key = id(parent)
            grads[key] = contribution if key not in grads else grads[key] + contribution
    return result


def _check_values(values, what):
    for i, v in enumerate(values):
        if not isinstance(v, Value):
            raise TypeError(f"grad: {what}[{i}] must be a scalargrad Value, got "
                            f"{type(v).__name__}")


def grad(output: Value, inputs, create_graph: bool = False, gradient: float = 1.0):
    """d(output)/d(input) for each input, returned (no .grad is touched).

    `inputs` is a Value or a sequence of Values (the result matches). Floats, or with
    create_graph=True Values with a graph of their own (differentiate them again). An
    input the output does not depend on gets 0.
    """
    single = isinstance(inputs, Value)
    inputs = [inputs] if single else list(inputs)
    _check_values([output], "output")
    _check_values(inputs, "inputs")
    reached = _walk(output, as_float(gradient, "grad gradient"), create_graph)
    out = []
    for v in inputs:
        g = reached.get(id(v), (v, 0.0))[1]
        out.append(_as_value(g) if create_graph else float(g))
    return out[0] if single else out


def backward_graph(root: Value, gradient=1.0) -> None:
    """root.backward(create_graph=True): .grad of every node += a recorded Value."""
    for node, g in _walk(root, as_float(gradient, "backward gradient"), True).values():
        g = _as_value(g)
        if isinstance(node.grad, (int, float)) and node.grad == 0.0:
            node.grad = g
        else:
            node.grad = node.grad + g


def tangents(outputs, inputs, directions) -> list:
    """Forward mode over a recorded graph: d(output) along `directions` of the inputs.

    One pass in topological order; each node's tangent is sum(local * parent tangent)
    with the numeric local derivatives the forward pass stored. Applied to the graph of
    a recorded gradient this is forward-over-reverse: the tangent of grad f is H v.
    """
    single = isinstance(outputs, Value)
    outputs = [outputs] if single else list(outputs)
    if len(inputs) != len(directions):
        raise ValueError(f"tangents: {len(inputs)} inputs but {len(directions)} directions")
    known = {id(v): float(d) for v, d in zip(inputs, directions)}
    order, state = [], {}
    for root in outputs:
        stack = [(root, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
                continue
            if id(node) in state:
                continue
            state[id(node)] = True
            stack.append((node, True))
            if id(node) not in known:
                stack.extend((p, False) for p in node.parents if id(p) not in state)
    tangent = dict(known)
    for node in order:
        if id(node) in known:
            continue
        total = 0.0
        for parent, local in zip(node.parents, node.local):
            t = tangent.get(id(parent), 0.0)
            if t != 0.0:  # a zero tangent adds nothing even through an inf local
                total += local * t
        tangent[id(node)] = total
    result = [tangent.get(id(o), 0.0) for o in outputs]
    return result[0] if single else result


MODES = ("reverse-over-reverse", "forward-over-reverse", "forward-over-forward",
         "reverse-over-forward")


def hessian(f: Callable, values: Sequence[float], mode: str = "reverse-over-reverse"):
    """The Hessian of a scalar f(*scalars) at `values`, as a list of rows (floats).

    Row i is the gradient of df/dx_i: H[i][j] = d/dx_j (df/dx_i), the Jacobian of the
    gradient (torch.autograd.functional.hessian's order). Where f is twice continuously
    differentiable H is symmetric; where it is not (x ** y at x = 0, y <= 1), the two
    orders differ and every mode gives this one. The modes agree where every derivative
    along the way is finite; where one is inf or nan, reverse passes turn 0 * nan into nan
    and forward sweeps drop zero tangents, so they may differ (README, scalargrad).
    f is written with operators and methods (x * y, x.sin(), ...), so it runs on Values
    and on Duals alike; `mode` picks one of MODES (they agree; the lesson compares them).
    """
    from scalargrad.forward import Dual

    n = len(values)
    if mode == "reverse-over-reverse":
        xs = [Value(v) for v in values]
        first = grad(_as_result(f(*xs), Value), xs, create_graph=True)
        return [grad(g, xs) for g in first]
    if mode == "forward-over-reverse":
        xs = [Value(v) for v in values]
        first = grad(_as_result(f(*xs), Value), xs, create_graph=True)
        columns = [tangents(first, xs, [1.0 if j == k else 0.0 for j in range(n)])
                   for k in range(n)]
        return [[columns[k][i] for k in range(n)] for i in range(n)]
    if mode == "forward-over-forward":
        rows = []
        for i in range(n):
            row = []
            for j in range(n):
                # inner tangent along x_j, outer along x_i: d/dx_j (df/dx_i), the
                # order of the other modes (it matters where f is not C^2)
                xs = [Dual(Dual(v, 1.0 if k == j else 0.0), Dual(1.0 if k == i else 0.0, 0.0))
                      for k, v in enumerate(values)]
                row.append(primal_tangent2(_as_result(f(*xs), Dual)))
            rows.append(row)
        return rows
    if mode == "reverse-over-forward":
        rows = []
        for i in range(n):
            xs = [Value(v) for v in values]
            out = _as_result(f(*[Dual(x, 1.0 if k == i else 0.0) for k, x in enumerate(xs)]),
                             Dual)
            derivative = out.tangent
            rows.append(grad(derivative, xs) if isinstance(derivative, Value)
                        else [0.0] * n)
        return rows
    raise ValueError(f"hessian: mode must be one of {', '.join(MODES)}; got {mode!r}")


def _as_result(out, kind):
    """f's result in hessian: a `kind` (Value or Dual), or a number, a constant (H = 0)."""
    if isinstance(out, kind):
        return out
    if isinstance(out, bool) or not isinstance(out, Real):
        raise TypeError(f"hessian: f must return one scalar (a {kind.__name__} or a number), "
                        f"got {type(out).__name__}")
    return kind(as_float(out, "hessian: f's result"))


def primal_tangent2(out) -> float:
    """The second-order part of a nested dual result (its tangent's tangent)."""
    tangent = getattr(out, "tangent", 0.0)
    return float(getattr(tangent, "tangent", 0.0))
