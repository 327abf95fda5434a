"""scalargrad: gradients of gradients (create_graph), nested duals, the four Hessian modes."""

from __future__ import annotations

import math
import random

import pytest

import scalargrad as sg
from scalargrad import higher
from scalargrad.cli import main
from scalargrad.forward import Dual
from scalargrad.functions import ACTIVATIONS
from scalargrad.value import Value


def _op_examples():
    """(name, function of two Values) for every op a Value node can have."""
    yield "+", lambda x, y: x + y
    yield "-", lambda x, y: x - y
    yield "*", lambda x, y: x * y
    yield "/", lambda x, y: x / y
    yield "** (Value)", lambda x, y: x ** y
    yield "** (const)", lambda x, y: x ** 2.5
    yield "** (0)", lambda x, y: x ** 0
    yield "neg", lambda x, y: -x
    yield "exp", lambda x, y: x.exp()
    yield "log", lambda x, y: x.log()
    yield "sqrt", lambda x, y: x.sqrt()
    yield "abs", lambda x, y: abs(x)
    for name, entry in ACTIVATIONS.items():
        if entry.default_alpha is None:
            yield name, (lambda n: lambda x, y: x.activation(n))(name)
        else:
            for alpha in (entry.default_alpha, -0.3, 0.0, 0.7):
                yield f"{name}({alpha})", (lambda n, a: lambda x, y: x.activation(n, a))(
                    name, alpha)
            yield f"{name}()", (lambda n: lambda x, y: x.activation(n))(name)


OPS = dict(_op_examples())
POINTS = [(0.7, 1.3), (1.9, 0.4), (0.25, 2.2), (1.5, -0.8), (0.005, 1.1)]


@pytest.mark.parametrize("name", sorted(OPS))
def test_local_derivative_expressions_match_the_stored_numbers(name):
    """higher.local_derivatives (Values) == value.py's numeric locals, for every op."""
    for px, py in POINTS:
        x, y = Value(px), Value(py)
        out = OPS[name](x, y)
        stored = out.local
        expressions = higher.local_derivatives(out)
        assert len(expressions) == len(stored)
        for number, expr in zip(stored, expressions):
            got = expr.data if isinstance(expr, Value) else expr
            if math.isnan(number):
                assert math.isnan(got)
            else:
                assert got == pytest.approx(number, rel=1e-12, abs=1e-15), (px, py)


def _smooth(x, y):
    return (x ** 3 * y + (x * y).sin() + (x / y).exp() + x.tanh() * y.sigmoid()
            + x ** y + x.elu(0.5) * y.sinc() + (x * x + y).sqrt().log() + y.gaussian()
            + x.softplus() * y.arctan() + x.bent_identity() + y.soft_exponential(0.3))


def _gradient(f, values):
    xs = [Value(v) for v in values]
    return sg.grad(f(*xs), xs)


def test_four_modes_agree_with_each_other_and_finite_differences():
    values = [0.7, 1.3]
    h = {mode: higher.hessian(_smooth, values, mode) for mode in higher.MODES}
    eps = 1e-5
    for i in range(2):
        up, down = list(values), list(values)
        up[i] += eps
        down[i] -= eps
        column = [(a - b) / (2 * eps) for a, b in zip(_gradient(_smooth, up),
                                                        _gradient(_smooth, down))]
        for mode, rows in h.items():
            for j in range(2):
                assert rows[j][i] == pytest.approx(column[j], rel=1e-6, abs=1e-7), mode
    for mode, rows in h.items():
        for i in range(2):
            for j in range(2):
                assert rows[i][j] == pytest.approx(h["reverse-over-reverse"][i][j], rel=1e-12)


THIRD = {
    "tanh": lambda x: -2 * (1 - math.tanh(x) ** 2) * (1 - 3 * math.tanh(x) ** 2),
    "sigmoid": lambda x: (lambda s: s * (1 - s) * (1 - 6 * s + 6 * s * s))(1 / (1 + math.exp(-x))),
    "sin": lambda x: -math.cos(x),
    "gaussian": lambda x: (12 * x - 8 * x ** 3) * math.exp(-x * x),
    "arctan": lambda x: (6 * x * x - 2) / (1 + x * x) ** 3,
    "softplus": lambda x: (lambda s: s * (1 - s) * (1 - 2 * s))(1 / (1 + math.exp(-x))),
}


@pytest.mark.parametrize("name", sorted(THIRD))
def test_third_derivatives_of_activations(name):
    for p in (-1.7, -0.3, 0.4, 1.2):
        x = Value(p)
        d1 = sg.grad(x.activation(name), x, create_graph=True)
        d2 = sg.grad(d1, x, create_graph=True)
        d3 = sg.grad(d2, x)
        assert d3 == pytest.approx(THIRD[name](p), rel=1e-10, abs=1e-12)
        # forward over forward over forward: triply nested duals
        nested = Dual(Dual(Dual(p, 1.0), Dual(1.0, 0.0)), Dual(Dual(1.0, 0.0), Dual(0.0, 0.0)))
        out = nested.activation(name)
        assert out.tangent.tangent.tangent == pytest.approx(THIRD[name](p), rel=1e-10,
                                                            abs=1e-12)


def test_backward_create_graph_makes_grads_values():
    x, y = Value(2.0), Value(1.0)
    z = x ** 3 * y
    z.backward(create_graph=True)
    assert isinstance(x.grad, Value) and x.grad.data == 12.0 and y.grad.data == 8.0
    gx = x.grad
    x.zero_grad()
    y.zero_grad()
    gx.backward()  # d(3x^2 y): 6xy and 3x^2
    assert (x.grad, y.grad) == (12.0, 12.0)
    assert f"{gx:.1f}" == "12.0" and "grad=" in repr(Value(1.0))


def test_grad_returns_without_touching_grad_and_zero_for_unused():
    x, y, unused = Value(2.0), Value(3.0), Value(5.0)
    out = x * y + x
    assert sg.grad(out, [x, y, unused]) == [4.0, 2.0, 0.0]
    assert x.grad == 0.0
    gs = sg.grad(out, [x, unused], create_graph=True)
    assert all(isinstance(g, Value) for g in gs)
    with pytest.raises(TypeError, match="Value"):
        sg.grad(out, [1.0])


def test_random_compositions_agree_across_modes():
    rng = random.Random(3)
    unary = ["exp", "sin", "tanh", "sigmoid", "neg", "square", "softplus", "gaussian",
             "arctan", "log1", "sqrt1"]

    def program(seed):
        r = random.Random(seed)
        steps = [(r.choice(["+", "*", "-", "/"]), r.choice(unary), r.randrange(k + 2),
                  r.choice(unary), r.randrange(k + 2)) for k in range(5)]

        def f(x, y):
            values = [x, y]
            for binary, u1, i1, u2, i2 in steps:
                a = _apply_unary(u1, values[i1])
                b = _apply_unary(u2, values[i2])
                values.append({"+": a + b, "*": a * b, "-": a - b,
                               "/": a / (b * b + 1.0)}[binary])
            return values[-1] + values[-2] * 0.5
        return f

    for seed in range(6):
        f = program(rng.randrange(10 ** 6))
        ref = higher.hessian(f, [0.4, -0.9], "reverse-over-reverse")
        for mode in higher.MODES[1:]:
            rows = higher.hessian(f, [0.4, -0.9], mode)
            for i in range(2):
                for j in range(2):
                    assert rows[i][j] == pytest.approx(ref[i][j], rel=1e-9, abs=1e-12)


def _apply_unary(name, v):
    if name == "neg":
        return -v
    if name == "square":
        return v * v
    if name == "log1":
        return (v * v + 1.0).log()
    if name == "sqrt1":
        return (v * v + 0.5).sqrt()
    return getattr(v, name)()


def test_deep_chain_without_recursion():
    x = Value(0.3)
    y = x
    for _ in range(2000):
        y = y + 1e-4 * y * y
    d1 = sg.grad(y, x, create_graph=True)
    d2 = sg.grad(d1, x)
    value, g1, g2 = 0.3, 1.0, 0.0
    for _ in range(2000):
        value, g1, g2 = (value + 1e-4 * value * value, g1 * (1 + 2e-4 * value),
                         g2 * (1 + 2e-4 * value) + 2e-4 * g1 * g1)
    assert d1.data == pytest.approx(g1, rel=1e-10)
    assert d2 == pytest.approx(g2, rel=1e-9)


def test_tangents_is_forward_mode_over_any_graph():
    x, y = Value(0.5), Value(2.0)
    out = (x * y).sin() + x.exp()
    jv = higher.tangents(out, [x, y], [1.0, -1.0])
    dx, dy = sg.grad(out, [x, y])
    assert jv == pytest.approx(dx - dy, rel=1e-12)
    with pytest.raises(ValueError, match="directions"):
        higher.tangents(out, [x, y], [1.0])


def test_hessian_mode_is_checked():
    with pytest.raises(ValueError, match="mode must be one of"):
        higher.hessian(lambda x: x * x, [1.0], "sideways")


def test_cli_order_2_prints_the_hessian(capsys):
    assert main(["graph", "x**3 * y", "x=2", "y=1", "--order", "2"]) == 0
    out = capsys.readouterr().out
    assert "Hessian" in out and "d²/d·dx" in out
    row_x = next(line for line in out.splitlines() if line.startswith("│ x "))
    assert [c.strip() for c in row_x.split("│")[1:-1]] == ["x", "2", "12", "12", "12"]
    row_y = next(line for line in out.splitlines() if line.startswith("│ y "))
    assert [c.strip() for c in row_y.split("│")[1:-1]] == ["y", "1", "8", "12", "0"]
    assert "largest difference 0" in out
    assert main(["graph", "x*y", "x=1", "y=1", "--order", "3"]) == 2


# x ** y with a Value exponent at x = 0: (x, y, Hessian). For y >= 2 it is the limit from
# x > 0; for y = 1 it is that of the first-derivative conventions (df/dx = y * x ** (y-1),
# df/dy = 0 at x = 0), not symmetric, and every mode must give the same order.
POW_AT_ZERO = [
    (0.0, 2.0, [[2.0, 0.0], [0.0, 0.0]]),
    (0.0, 3.0, [[0.0, 0.0], [0.0, 0.0]]),
    (0.0, 2.5, [[0.0, 0.0], [0.0, 0.0]]),
    (0.0, 1.0, [[0.0, 1.0], [0.0, 0.0]]),  # PyTorch's row 0 too: d/dy (df/dx) = 0 ** 0
    (0.0, -1.0, [[math.inf, math.inf], [math.inf, math.inf]]),
]


@pytest.mark.parametrize("x, y, want", POW_AT_ZERO)
def test_modes_agree_on_pow_with_value_exponent_at_zero_base(x, y, want):
    for mode in higher.MODES:
        assert higher.hessian(lambda a, b: a ** b, [x, y], mode) == want, mode


def test_every_mode_gives_row_i_as_the_gradient_of_df_dxi():
    # Not twice differentiable at (0, 1): the orders differ, so the convention shows.
    # Row 0 is d/d(x, y) of df/dx = y * x ** (y - 1): the mixed entry 0 ** 0 = 1 is in
    # row 0, column 1 (as torch.autograd.functional.hessian puts it).
    for mode in higher.MODES:
        assert higher.hessian(lambda a, b: a ** b, [0.0, 1.0], mode)[0][1] == 1.0, mode


def test_forward_over_forward_zero_tangent_does_not_turn_inf_into_nan():
    # sqrt'(0) = inf meets the zero tangent of y along x: it must contribute 0, not nan.
    want = [[0.0, 1.0], [1.0, -math.inf]]
    for mode in higher.MODES:
        assert higher.hessian(lambda x, y: x * y + y.sqrt(), [1.0, 0.0], mode) == want, mode


def test_gradient_seeds_are_checked_by_name():
    x = Value(3.0)
    with pytest.raises(TypeError, match="backward gradient needs a real number, got Value"):
        (x * x).backward(Value(2.0), create_graph=True)
    with pytest.raises(TypeError, match="grad gradient needs a real number, got str"):
        sg.grad(x * x, x, gradient="a")
    assert sg.grad(x * x, x, gradient=2) == 12.0


@pytest.mark.parametrize("mode", higher.MODES)
def test_hessian_of_a_constant_result_is_zero_in_every_mode(mode):
    # reverse modes raised "grad: output[0] must be a scalargrad Value"; forward gave 0
    assert higher.hessian(lambda x, y: 3.0, [1.0, 2.0], mode) == [[0.0, 0.0], [0.0, 0.0]]
    with pytest.raises(TypeError, match="hessian: f must return one scalar .* got list"):
        higher.hessian(lambda x: [x], [1.0], mode)


EXTREMES = [0.0, 1e-300, 5e-3, 1.5, -1.5, 30.0, -800.0, 1e154, 1e200, -1e200, 1e308,
            math.inf, -math.inf, math.nan]


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_create_graph_first_derivative_equals_the_plain_one_at_extremes(name):
    # The expressions create_graph differentiates must give the catalogue's number:
    # bent_identity gave 1.0 for 1.5 beyond 1e154 (x * x overflowed), sinc and gaussian
    # nan for the limit 0 at +-inf.
    for x in EXTREMES:
        v = Value(x)
        plain = sg.grad(v.activation(name), v)
        recorded = sg.grad(v.activation(name), v, create_graph=True).data
        nested = Dual(Dual(x, 1.0), Dual(1.0, 0.0)).activation(name).tangent.value
        for got in (recorded, nested):
            assert got == plain or (math.isnan(got) and math.isnan(plain)), (x, got, plain)


def test_modes_agree_on_pow_wherever_the_hessian_is_finite_and_differ_as_documented():
    grid = [0.0, 1.0, -1.0, 2.0, -2.0, 0.5, 1.5, 3.0, -0.5]
    for a in grid:
        for b in grid:
            ref = higher.hessian(lambda x, y: x ** y, [a, b])
            if not all(math.isfinite(h) for row in ref for h in row):
                continue
            for mode in higher.MODES[1:]:
                assert higher.hessian(lambda x, y: x ** y, [a, b], mode) == ref, (a, b, mode)
    # README: at x < 0, y = 0, df/dy is nan; the reverse passes keep the nan in the
    # mixed entry, the forward sweeps drop the zero tangent of x ** 0 and give 1/x
    # (PyTorch's number: -1 at x = -1, -0.5 at x = -2).
    for x in (-1.0, -2.0, -0.5):
        for mode in higher.MODES:
            row = higher.hessian(lambda x, y: x ** y, [x, 0.0], mode)[1]
            if mode.startswith("reverse"):
                assert math.isnan(row[0]), (x, mode)
            else:
                assert row[0] == 1 / x, (x, mode)
