"""Lesson 3: the exercise l(w) = -log sigma(w . x) four ways, side by side (the AD lecture)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tutorials.standalone import leave_quietly_on_ctrl_c
    leave_quietly_on_ctrl_c()  # Ctrl-C during the imports below: no traceback

import vecgrad
from scalargrad import Value
from scalargrad.gradcheck import numerical_grad
from scalargrad.render import graph_tree

from tutorials.framework import Lesson, Step, main_for
from tutorials.views import table, vector

X = (1.0, 1.0, 1.0)
W = (1.0, 1.0, -1.5)


def by_hand():
    s = sum(wi * xi for wi, xi in zip(W, X))  # w . x = 0.5
    sigma = 1 / (1 + math.exp(-s))
    loss = -math.log(sigma)
    # dl/ds = -(1 - sigma(s)) and ds/dw_i = x_i
    grad = [-(1 - sigma) * xi for xi in X]
    return {"s": s, "sigma": sigma, "loss": loss, "grad": grad}


def show_by_hand(r):
    return [table("", ["quantity", "value"],
                  [("w . x", r["s"]), ("sigma(w . x)", r["sigma"]),
                   ("l = -log sigma", r["loss"]), ("dl/dw", vector(r["grad"]))])]


def loss_graph(w):
    s = w[0] * X[0] + w[1] * X[1] + w[2] * X[2]
    return -(s.sigmoid().log())


def with_scalargrad():
    w = [Value(v, label=f"w{k + 1}") for k, v in enumerate(W)]
    loss = loss_graph(w)
    loss.label = "l"
    loss.backward()
    return {"loss": loss.data, "grad": [v.grad for v in w], "root": loss}


def show_scalargrad(r):
    return [graph_tree(r["root"]), *show_loss(r)]


def with_vecgrad():
    w = vecgrad.tensor(W, dtype=vecgrad.float64, requires_grad=True)
    x = vecgrad.tensor(X, dtype=vecgrad.float64)
    loss = -(w * x).sum().sigmoid().log()
    loss.backward()
    return {"loss": loss.item(), "grad": w.grad.tolist()}


def show_loss(r):
    return [table("", ["", "value"], [("l", r["loss"]), ("dl/dw", vector(r["grad"]))])]


def with_finite_differences():
    w = [Value(v) for v in W]
    grad = numerical_grad(lambda *ws: loss_graph(ws), w, eps=1e-6)
    return {"loss": loss_graph(w).data, "grad": grad}


def side_by_side():
    methods = {"by hand": by_hand(), "scalargrad": with_scalargrad(),
               "vecgrad": with_vecgrad(),
               "numerical": with_finite_differences()}
    reference = methods["by hand"]["grad"]
    gaps = {name: max(abs(a - b) for a, b in zip(r["grad"], reference))
            for name, r in methods.items()}
    return {"loss": {name: r["loss"] for name, r in methods.items()},
            "grad": {name: r["grad"] for name, r in methods.items()},
            "gap": gaps, "max_gap": max(gaps.values())}


def show_side_by_side(r):
    names = list(r["loss"])
    rows = [("l", *(r["loss"][n] for n in names))]
    for k in range(3):
        rows.append((f"dl/dw{k + 1}", *(r["grad"][n][k] for n in names)))
    rows.append(("max gap", *(r["gap"][n] for n in names)))
    return [table("l and dl/dw from four methods (gap: largest difference "
                  "from the hand result)", ["", *names], rows, digits=9)]


LESSON = Lesson(
    number=3,
    title="The logistic loss exercise four ways: by hand, scalargrad, vecgrad, numerically",
    lectures="003",
    intro="""
    The AD lecture closes with an exercise: draw the computation graph of
    **l(w) = -log sigma(w . x)**, the logistic loss of one example with label 1, and
    compute its value and gradient at x = (1, 1, 1), w = (1, 1, -1.5). We solve it four
    times with independent tools and put the answers next to each other.
    """,
    steps=(
        Step("By hand", """
            With s = w . x = 0.5 the loss is -log sigma(0.5) = log(1 + e^-0.5), about
            0.474077. Since d/ds [-log sigma(s)] = -(1 - sigma(s)) and ds/dw = x, the
            gradient is -(1 - sigma(0.5)) x, about -0.377541 (1, 1, 1).
            """, by_hand, show_by_hand),
        Step("With scalargrad", """
            Writing the loss as scalar operations builds exactly the graph the exercise
            asks for: three products, two sums, a sigmoid, a log and a negation.
            """, with_scalargrad, show_scalargrad, also_show=(loss_graph,)),
        Step("With vecgrad", """
            The tensor engine sees the same function as five operations on whole vectors:
            an elementwise product, a sum, a sigmoid, a log and a negation.
            """, with_vecgrad, show_loss),
        Step("With finite differences", """
            Central differences nudge each weight by a tiny step and watch the loss; no
            derivative rule is involved.
            """, with_finite_differences, show_loss),
        Step("Side by side", """
            All four agree: the two autograd engines to rounding error, finite
            differences to about 1e-10.
            """, side_by_side, show_side_by_side),
    ),
)

if __name__ == "__main__":
    sys.exit(main_for(LESSON))
