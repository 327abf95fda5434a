"""Lesson 6: activation functions, their derivatives, and why a step cannot learn (002, 003)."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tutorials.standalone import leave_quietly_on_ctrl_c
    leave_quietly_on_ctrl_c()  # Ctrl-C during the imports below: no traceback

import numpy as np
from rich.table import Table

import vecgrad
from scalargrad import Value
from scalargrad.functions import ACTIVATIONS

from tutorials.framework import Lesson, Step, main_for
from tutorials.plot import Series, line_plot
from tutorials.views import table

# The twelve rows of ELTE ML lecture 6's table, in the catalogue's names.
LECTURE_TABLE = ("identity", "step", "sigmoid", "tanh", "arctan", "relu",
                 "softplus", "bent_identity", "soft_exponential", "sin", "sinc",
                 "gaussian")
GROUPS = {
    "squashing": ("sigmoid", "tanh", "arctan", "softplus"),
    "piecewise linear": ("identity", "step", "relu", "leaky_relu", "elu"),
    "the rest": ("bent_identity", "soft_exponential", "sin", "cos", "sinc",
                 "gaussian"),
}


def vecgrad_derivative(name, xs, alpha):
    # vecgrad's own numpy formulas, reached through a backward pass on cpu
    x = vecgrad.tensor(xs, dtype=vecgrad.float64, requires_grad=True)
    x.activation(name, alpha).sum().backward()
    return x.grad.numpy()


def check_catalogue():
    grid = [-3.95 + 0.1 * k for k in range(80)]  # avoids the kinks at 0
    eps = 1e-6
    worst = {}
    for name, act in ACTIVATIONS.items():
        alpha = act.default_alpha
        exact = np.array([act.df(x, alpha) for x in grid])
        numeric = np.array([(act.f(x + eps, alpha) - act.f(x - eps, alpha))
                            / (2 * eps) for x in grid])
        other = vecgrad_derivative(name, grid, alpha)
        worst[name] = (act.formula, float(np.abs(exact - numeric).max()),
                       float(np.abs(exact - other).max()))
    return {"worst": worst, "in_lecture": len(LECTURE_TABLE),
            "in_catalogue": len(ACTIVATIONS)}


def show_catalogue(r):
    rows = [(name, formula, e1, e2) for name, (formula, e1, e2) in r["worst"].items()]
    return [table("the catalogue on 80 points in [-4, 4]",
                  ["name", "f(x)", "max |f' - central diff|",
                   "max |f' - vecgrad backward|"], rows, digits=2)]


def derivative_at_zero():
    eps = 1e-6
    rows = {}
    for name in ("relu", "leaky_relu", "elu", "step"):
        act = ACTIVATIONS[name]
        a = act.default_alpha
        left = (act.f(0.0, a) - act.f(-eps, a)) / eps
        right = (act.f(eps, a) - act.f(0.0, a)) / eps
        rows[name] = (left, right, act.df(0.0, a),
                      float(vecgrad_derivative(name, [0.0], a)[0]))
    return {"rows": rows}


def show_zero(r):
    rows = [(name, *values) for name, values in r["rows"].items()]
    return [table("slopes at x = 0", ["activation", "from the left",
                                      "from the right", "scalargrad f'(0)",
                                      "vecgrad f'(0)"], rows, digits=4)]


def curves():
    xs = [-4 + 8 * k / 160 for k in range(161)]
    data = {}
    for name, act in ACTIVATIONS.items():
        a = act.default_alpha
        data[name] = ([act.f(x, a) for x in xs], [act.df(x, a) for x in xs])
    slope_at_4 = {name: ACTIVATIONS[name].df(4.0, None)
                  for name in ("sigmoid", "tanh", "arctan")}
    return {"xs": xs, "curves": data, "slope_at_4": slope_at_4}


def _curve_grid(r, names):
    grid = Table.grid(padding=(0, 2))
    grid.add_column()
    grid.add_column()
    plots = [line_plot([Series("f", r["xs"], r["curves"][n][0], "cyan", marker="•"),
                        Series("f'", r["xs"], r["curves"][n][1], "magenta",
                               marker="x")],
                       title=n, width=36, height=6, legend=False)
             for n in names]
    for k in range(0, len(plots), 2):
        grid.add_row(*plots[k:k + 2])
    return [grid]


def curves_of(group):
    def view(r):
        return _curve_grid(r, GROUPS[group])
    return view


def train_one_neuron(activation, steps=40, learning_rate=2.0):
    x, target = 1.0, 1.0
    w, b = Value(-0.5), Value(0.0)
    losses = []
    for _ in range(steps):
        out = (w * x + b).activation(activation)
        loss = (out - target) ** 2
        w.grad = b.grad = 0.0
        loss.backward()
        losses.append(loss.data)
        w.data -= learning_rate * w.grad
        b.data -= learning_rate * b.grad
    return losses, (w.grad, b.grad)


def step_versus_sigmoid():
    step_losses, step_grads = train_one_neuron("step")
    sigmoid_losses, sigmoid_grads = train_one_neuron("sigmoid")
    return {"step": step_losses, "step_grads": step_grads,
            "sigmoid": sigmoid_losses, "sigmoid_grads": sigmoid_grads}


def show_training(r):
    steps = list(range(len(r["step"])))
    return [line_plot([Series("step neuron", steps, r["step"], "red"),
                       Series("sigmoid neuron", steps, r["sigmoid"], "green")],
                      title="loss per gradient step", xlabel="step", height=10),
            table("", ["neuron", "first loss", "last loss", "last dL/dw"],
                  [("step", r["step"][0], r["step"][-1], r["step_grads"][0]),
                   ("sigmoid", r["sigmoid"][0], r["sigmoid"][-1],
                    r["sigmoid_grads"][0])])]


def saturation():
    names = ("sigmoid", "tanh", "relu", "leaky_relu")
    xs = (0.0, 2.0, 5.0, 10.0)
    return {name: [ACTIVATIONS[name].df(x, ACTIVATIONS[name].default_alpha)
                   for x in xs] for name in names}


def show_saturation(r):
    rows = [(name, *values) for name, values in r.items()]
    return [table("f'(x) at growing x", ["activation", "x = 0", "x = 2", "x = 5",
                                         "x = 10"], rows, digits=3)]


LESSON = Lesson(
    number=6,
    title="Activation functions: curves, derivatives, and why a step cannot learn",
    lectures="002, 003",
    intro="""
    ELTE ML lecture 6 tabulates twelve activation functions with their derivatives;
    the AD lecture lists the pros and cons of the common ones, leaky ReLU among them.
    This project's activation catalogue, shared by scalargrad and vecgrad, holds the
    twelve plus three more: leaky ReLU, ELU and cos, fifteen in all. Here we check every
    derivative against two independent sources, look at what happens at 0, draw every
    curve, and see what a zero derivative does to learning.
    """,
    steps=(
        Step("Every derivative, checked twice", """
            The catalogue's derivative formula f' (scalargrad/functions.py) is compared
            with two things written separately: a central difference of f, and the
            derivative vecgrad computes on the cpu, where a backward pass uses its own
            numpy formulas (vecgrad/backends/numpy_backend.py). A typo in either set of
            formulas shows up as a large number here. The grid steps around 0, where
            relu and leaky_relu have a kink and step has a jump.
            """, check_catalogue, show_catalogue, also_show=(vecgrad_derivative,)),
        Step("At the kink: which derivative?", """
            At x = 0 relu's slope is 0 from the left and 1 from the right, so it has no
            derivative there and every library picks one. scalargrad and vecgrad use
            relu'(0) = 0, as PyTorch does and as TU Graz ML1 lecture 8 writes it
            (1(x > 0)). ELTE ML lecture 6's table says relu'(0) = 1 (its f' is 1 for
            x >= 0), and NPFL114 lecture 2 writes both cases with x = 0 in each. The
            choice rarely matters in training, because an input lands exactly on 0
            seldom. ELU with alpha = 1 is different: both one-sided slopes are 1, so it
            has a derivative at 0 and no choice is needed. Step jumps at 0 (step(0) = 1
            already), so its difference quotient from the left is 1/eps = 1e6 and
            grows without bound as eps shrinks, while from the right it is 0: no
            derivative exists, and the catalogue uses 0.
            """, derivative_at_zero, show_zero),
        Step("The curves: squashing functions", """
            Each panel shows f as a line of dots (•, cyan) and f' as a line of
            crosses (x, magenta) on [-4, 4]. Sigmoid and tanh flatten fast: their
            slopes at x = 4 are 0.018 and 0.0013, and they fall exponentially, the
            sigmoid's like exp(-|x|) and tanh's twice as fast, like exp(-2|x|). Arctan
            flattens much more slowly (its slope is 1/(1 + x^2), 1/17 = 0.059 at 4), and
            softplus is flat only on the left.
            """, curves, curves_of("squashing")),
        Step("The curves: piecewise linear functions", """
            The same dots (f) and crosses (f') for the functions built from straight
            pieces. The derivative of step is 0 everywhere it exists; relu's is 0 or 1;
            leaky relu keeps a slope of 0.01 on the left, and ELU bends smoothly into
            -1 there.
            """, curves, curves_of("piecewise linear")),
        Step("The curves: the rest", """
            Bent identity, soft exponential (drawn with the catalogue's alpha = 0.5,
            so (exp(x/2) - 1)/0.5 + 0.5, an exponential; alpha = 0 would make it the
            identity), the two sinusoids, sinc and the Gaussian bump. The periodic and
            bump-shaped ones are rarely used in deep networks, but the lecture's table
            has them, and their derivatives pass the same checks.
            """, curves, curves_of("the rest")),
        Step("Why step functions cannot be trained", """
            One neuron, one example (x = 1, target 1), squared error, plain gradient
            descent. With a step activation the output is 0 and the loss 1, but the
            gradient is exactly 0, so the weights never move. The sigmoid neuron starts
            at the same weights and learns, because its derivative is never 0.
            """, step_versus_sigmoid, show_training, also_show=(train_one_neuron,)),
        Step("Saturation", """
            The sigmoid's slope is at most 0.25 and shrinks quickly as |x| grows (about
            4.5e-5 at x = 10); tanh does the same. Saturated units pass back almost no
            gradient, which is where vanishing gradients come from (lesson 11). ReLU keeps
            slope 1 for every positive input, at the price of "dead" units with slope 0 for
            negative ones; leaky ReLU keeps a small slope there.
            """, saturation, show_saturation),
    ),
)

if __name__ == "__main__":
    sys.exit(main_for(LESSON))
