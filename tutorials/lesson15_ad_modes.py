"""Lesson 15: forward vs reverse mode AD, numerical and symbolic differentiation (003)."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tutorials.standalone import leave_quietly_on_ctrl_c
    leave_quietly_on_ctrl_c()  # Ctrl-C during the imports below: no traceback

from scalargrad import Value
from scalargrad.forward import Dual, jvp
from scalargrad.graph import topological_order

from tutorials import symbolic
from tutorials.framework import Lesson, Step, main_for
from tutorials.plot import Series, line_plot
from tutorials.views import table, vector

POINT = (2.0, 5.0)
TEXT = "log(x1) + x1*x2 - sin(x2)"


def f(x1, x2):
    # Works on Values (reverse mode), Duals (forward mode) alike.
    return x1.log() + x1 * x2 - x2.sin()


def forward_mode():
    passes = []
    for direction in ((1.0, 0.0), (0.0, 1.0)):  # one pass per input
        value, tangent = jvp(f, POINT, direction)
        passes.append((direction, value, tangent))
    # Any direction costs one pass too: here (1, 1).
    both = jvp(f, POINT, (1.0, 1.0))[1]
    return {"value": passes[0][1], "grad": [p[2] for p in passes],
            "passes": passes, "along (1, 1)": both}


def show_forward(r):
    rows = [(vector(d), v, t) for d, v, t in r["passes"]]
    rows.append(("(1, 1)", r["value"], r["along (1, 1)"]))
    return [table("one forward pass per direction",
                  ["tangent seed", "f", "directional derivative"], rows)]


def reverse_mode():
    x1, x2 = Value(POINT[0]), Value(POINT[1])
    out = f(x1, x2)
    out.backward()  # one backward pass: every input at once
    return {"value": out.data, "grad": [x1.grad, x2.grad]}


def show_reverse(r):
    return [table("one backward pass", ["", "value"],
                  [("f", r["value"]), ("df/dx1", r["grad"][0]),
                   ("df/dx2", r["grad"][1])])]


def many_inputs(xs):
    total = xs[0] * 0.0
    for a, b in zip(xs, xs[1:]):
        total = total + a.sin() * b
    return total


def cost_with_many_inputs():
    n = 200
    point = [0.01 * k for k in range(n)]
    start = time.perf_counter()
    forward_grad = []
    for i in range(n):  # forward mode: n passes, one per input
        seeds = [Dual(v, float(j == i)) for j, v in enumerate(point)]
        forward_grad.append(many_inputs(seeds).tangent)
    forward_s = time.perf_counter() - start
    start = time.perf_counter()
    xs = [Value(v) for v in point]
    many_inputs(xs).backward()  # reverse mode: one pass
    reverse_s = time.perf_counter() - start
    worst = max(abs(a - v.grad) for a, v in zip(forward_grad, xs))
    return {"inputs": n, "forward_passes": n, "reverse_passes": 1,
            "max_difference": worst, "forward_s": forward_s,
            "reverse_s": reverse_s}


def show_cost(r):
    rows = [("forward mode", r["forward_passes"], f"{r['forward_s'] * 1e3:.1f} ms"),
            ("reverse mode", r["reverse_passes"], f"{r['reverse_s'] * 1e3:.1f} ms")]
    return [table(f"gradient of a function of {r['inputs']} inputs (timings on this "
                  f"machine; the two gradients differ by at most "
                  f"{r['max_difference']:.1e})", ["mode", "passes", "time"], rows)]


def numerical():
    x1, x2 = POINT
    exact = 1 / x1 + x2  # df/dx1 by hand
    g = math.log(x1) + x1 * x2 - math.sin(x2)
    steps = [10.0 ** -k for k in range(1, 16)]
    fwd, ctr = [], []
    for h in steps:
        up = math.log(x1 + h) + (x1 + h) * x2 - math.sin(x2)
        down = math.log(x1 - h) + (x1 - h) * x2 - math.sin(x2)
        fwd.append(abs((up - g) / h - exact))
        ctr.append(abs((up - down) / (2 * h) - exact))
    best_fwd = steps[min(range(len(steps)), key=fwd.__getitem__)]
    best_ctr = steps[min(range(len(steps)), key=ctr.__getitem__)]
    return {"h": steps, "forward_error": fwd, "central_error": ctr,
            "best_h_forward": best_fwd, "best_h_central": best_ctr}


def show_numerical(r):
    log_h = [math.log10(h) for h in r["h"]]
    tiny = 1e-17  # an exact hit would be 0, which a log axis cannot show
    plot = line_plot([Series("forward difference", log_h,
                             [max(e, tiny) for e in r["forward_error"]], "red"),
                      Series("central difference", log_h,
                             [max(e, tiny) for e in r["central_error"]], "green")],
                     title="error of df/dx1 against the step h", logy=True,
                     xlabel="log10(h)", ylabel="|error|", height=12)
    return [plot, table("", ["method", "best h", "smallest error"],
                        [("forward", r["best_h_forward"], min(r["forward_error"])),
                         ("central", r["best_h_central"], min(r["central_error"]))],
                        digits=3)]


def symbolic_derivatives():
    expr = symbolic.parse(TEXT)
    env = {"x1": POINT[0], "x2": POINT[1]}
    rows = []
    for var in ("x1", "x2"):
        d = symbolic.derivative(expr, var)
        rows.append((var, symbolic.to_text(d), symbolic.evaluate(d, env)))
    return {"derivatives": rows, "grad": [r[2] for r in rows]}


def show_symbolic(r):
    return [table(f"d/dx of {TEXT}", ["variable", "derivative", "value at (2, 5)"],
                  r["derivatives"])]


def logistic_map_text(n):
    text = "x"
    for _ in range(n):  # l_{k+1} = 4 l_k (1 - l_k)
        text = f"4*({text})*(1-({text}))"
    return text


def expression_swell():
    rows = []
    for n in range(1, 6):
        expr = symbolic.parse(logistic_map_text(n))
        d = symbolic.derivative(expr, "x")
        x = Value(0.3)
        out = x
        for _ in range(n):
            out = 4 * out * (1 - out)
        out.backward()
        h = 1e-6  # a central difference of the formula: a third opinion
        numeric = (symbolic.evaluate(expr, {"x": 0.3 + h})
                   - symbolic.evaluate(expr, {"x": 0.3 - h})) / (2 * h)
        exact = symbolic.evaluate(d, {"x": 0.3})
        same = abs(exact - x.grad) < 1e-9 and abs(exact - numeric) < 1e-4
        rows.append((n, symbolic.size(expr), symbolic.size(d),
                     len(topological_order(out)), exact, x.grad, numeric,
                     same))
    return {"rows": rows}


def show_swell(r):
    rows = [(n, e, d, g, sym, ad, num, "yes" if same else "NO")
            for n, e, d, g, sym, ad, num, same in r["rows"]]
    return [table("n steps of the logistic map l <- 4 l (1 - l), derivative at 0.3",
                  ["n", "expr. nodes", "deriv. nodes", "AD nodes", "symbolic",
                   "AD", "central diff.", "agree"], rows, digits=6)]


LESSON = Lesson(
    number=15,
    title="Forward vs reverse mode AD; numerical and symbolic differentiation",
    lectures="003",
    intro="""
    The AD lecture distinguishes automatic differentiation from two things it is often
    confused with: numerical differentiation (finite differences) and symbolic
    differentiation (computer algebra). AD itself comes in two flavours: forward mode
    follows one input direction through the computation, reverse mode follows the
    output's sensitivity backwards to every input. We take
    f(x1, x2) = log(x1) + x1 x2 - sin(x2) at (2, 5), where f = 11.652071,
    df/dx1 = 1/x1 + x2 = 5.5 and df/dx2 = x1 - cos(x2) = 1.716338.
    """,
    steps=(
        Step("Forward mode: dual numbers", """
            A dual number carries a value and a tangent (a derivative along one
            direction). Seeding x1 with tangent 1 and x2 with 0 gives df/dx1 after one
            pass; df/dx2 needs a second pass. The gradient of n inputs costs n passes.
            """, forward_mode, show_forward, also_show=(f,)),
        Step("Reverse mode: one backward pass", """
            Reverse mode runs the function once, recording the graph, then one backward
            pass delivers the derivative for every input. This is backpropagation.
            """, reverse_mode, show_reverse),
        Step("Why deep learning uses reverse mode", """
            A loss has one output and up to billions of inputs (the weights). Forward
            mode needs a pass per input; reverse mode one pass in total. With 200 inputs
            the difference is already visible. (Forward mode wins in the opposite case:
            few inputs, many outputs.)
            """, cost_with_many_inputs, show_cost, also_show=(many_inputs,)),
        Step("Numerical differentiation", """
            Finite differences need no derivative rules but pay twice: a large step h
            leaves truncation error (h for a one-sided difference, h^2 for a central
            one), a small step loses digits to rounding (f(x + h) - f(x) cancels). A
            rule of thumb puts the best one-sided step near the square root of the
            rounding unit, about 1e-8; here the table finds 1e-7, with an error of
            2.5e-8, so only about 8 of the 16 digits of df/dx1 = 5.5 survive. The
            central difference does best at h = 1e-5 (error 3e-11). AD has no step and
            is exact to rounding.
            """, numerical, show_numerical),
        Step("Symbolic differentiation", """
            Computer algebra applies the rules (sum, product, quotient, chain) to the
            *formula* and returns a new formula. Our tiny differentiator parses the text
            with Python's `ast` module (it never executes it) and gives exact
            derivatives as expressions.
            """, symbolic_derivatives, show_symbolic),
        Step("Expression swell", """
            Symbolic derivatives can grow much faster than the function: the product
            rule copies sub-expressions, and nothing is shared. Iterating the logistic
            map shows it: the derivative's expression tree explodes, while reverse-mode
            AD works on a graph that shares every intermediate value and grows linearly.
            All three methods of this lesson agree on the derivative's value: the
            symbolic formula and AD to rounding, a central difference (h = 1e-6) to
            better than 1e-9 relative.
            """, expression_swell, show_swell, also_show=(logistic_map_text,)),
    ),
)

if __name__ == "__main__":
    sys.exit(main_for(LESSON))
