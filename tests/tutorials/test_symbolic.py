"""Lesson 15's tiny symbolic differentiator, against central differences."""

import pytest

from tutorials import symbolic

CASES = [
    ("log(x1) + x1*x2 - sin(x2)", {"x1": 2.0, "x2": 5.0}),
    ("exp(x1) / (1 + x1**2)", {"x1": 0.7}),
    ("cos(x1*x2) ** 3 - -x2", {"x1": 0.3, "x2": 1.1}),
    ("x1 ** x2", {"x1": 1.5, "x2": 2.5}),
    # a denominator that does not depend on the variable: u' / v (it gave u' / v^2)
    ("x1 / 2", {"x1": 0.7}),
    ("((x1 - 1.85) / 1.78) ** 3", {"x1": 0.7}),
    ("sin(x1) / (x2 * 3)", {"x1": 0.4, "x2": 1.3}),
]


@pytest.mark.parametrize("text, env", CASES)
def test_derivative_matches_central_differences(text, env):
    expr = symbolic.parse(text)
    for var in env:
        h = 1e-6
        up = symbolic.evaluate(expr, {**env, var: env[var] + h})
        down = symbolic.evaluate(expr, {**env, var: env[var] - h})
        numeric = (up - down) / (2 * h)
        exact = symbolic.evaluate(symbolic.derivative(expr, var), env)
        assert exact == pytest.approx(numeric, rel=1e-7, abs=1e-8)


def test_lecture_example_values():
    expr = symbolic.parse("log(x1) + x1*x2 - sin(x2)")
    env = {"x1": 2.0, "x2": 5.0}
    assert symbolic.evaluate(expr, env) == pytest.approx(11.652071455, abs=1e-9)
    assert symbolic.to_text(symbolic.derivative(expr, "x1")) == "(1 / x1) + x2"
    assert symbolic.to_text(symbolic.derivative(expr, "x2")) == "x1 - cos(x2)"


@pytest.mark.parametrize("text", ["__import__('os')", "x.real", "f(x)", "x if x else 1",
                                  "sin(x, x)", "'a'", "x +"])
def test_anything_outside_the_language_is_refused(text):
    with pytest.raises(symbolic.SymbolicError):
        symbolic.parse(text)


def test_missing_variable_is_named():
    with pytest.raises(symbolic.SymbolicError, match="'y'"):
        symbolic.evaluate(symbolic.parse("x + y"), {"x": 1.0})


def test_long_expressions_need_no_recursion():
    text = " + ".join(["x"] * 800)  # a left-deep tree 800 levels deep
    expr = symbolic.parse(text)
    assert symbolic.evaluate(symbolic.derivative(expr, "x"), {"x": 1.0}) == 800.0
    assert symbolic.size(expr) == 1599


def test_too_deep_for_the_python_parser_is_a_clear_error():
    with pytest.raises(symbolic.SymbolicError, match="nested too deeply"):
        symbolic.parse(" + ".join(["x"] * 100000))


@pytest.mark.parametrize("text", ["(-x) ** 2", "-(x + 1) ** 2", "(-x) ** y", "-x * y",
                                  "-(x - y)", "2 ** -x"])
def test_text_reads_back_as_the_same_expression(text):
    """to_text's output parses to the same value: a negation is bracketed whole
    ('(-(x)) ** 2' was written '-(x) ** 2', which Python reads as -(x ** 2))."""
    env = {"x": 0.7, "y": 1.3}
    expr = symbolic.parse(text)
    again = symbolic.parse(symbolic.to_text(expr))
    assert symbolic.evaluate(again, env) == pytest.approx(symbolic.evaluate(expr, env))
    assert again == expr
