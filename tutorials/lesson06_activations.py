"""Lesson 6: activation functions, their derivatives, and why a step cannot learn (002, 003)."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.table import Table

from scalargrad import Value
from scalargrad.functions import ACTIVATIONS

from tutorials.framework import Lesson, Step, main_for
from tutorials.plot import Series, line_plot
from tutorials.views import table


def check_catalogue():
    grid = [-3.95 + 0.1 * k for k in range(80)]  # avoids the kinks at 0
    eps = 1e-6
    worst = {}
    for name, act in ACTIVATIONS.items():
        alpha = act.default_alpha
        err_numeric = err_backprop = 0.0
        for x in grid:
            exact = act.df(x, alpha)
            up, down = act.f(x + eps, alpha), act.f(x - eps, alpha)
            numeric = (up - down) / (2 * eps)
            v = Value(x)
            v.activation(name, alpha).backward()
            err_numeric = max(err_numeric, abs(exact - numeric))
            err_backprop = max(err_backprop, abs(exact - v.grad))
        worst[name] = (act.formula, err_numeric, err_backprop)
    return {"worst": worst}


def show_catalogue(r):
    rows = [(name, formula, e1, e2) for name, (formula, e1, e2) in r["worst"].items()]
    return [table("the catalogue on 80 points in [-4, 4]",
                  ["name", "f(x)", "max |f' - central diff|",
                   "max |f' - Value.backward|"], rows, digits=2)]


def curves():
    xs = [-4 + 8 * k / 160 for k in range(161)]
    data = {}
    for name, act in ACTIVATIONS.items():
        a = act.default_alpha
        data[name] = ([act.f(x, a) for x in xs], [act.df(x, a) for x in xs])
    return {"xs": xs, "curves": data}


def show_curves(r):
    grid = Table.grid(padding=(0, 2))
    grid.add_column()
    grid.add_column()
    plots = [line_plot([Series("f", r["xs"], f, "cyan"), Series("f'", r["xs"], df, "magenta")],
                       title=name, width=28, height=6)
             for name, (f, df) in r["curves"].items()]
    for k in range(0, len(plots), 2):
        grid.add_row(*plots[k:k + 2])
    return [grid]


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
    Lecture 002 tabulates fifteen activation functions with their derivatives; lecture
    003 lists the pros and cons of the common ones. The same table is the activation
    catalogue of this project, shared by scalargrad and vecgrad. Here we check every
    derivative, draw every curve, and see what a zero derivative does to learning.
    """,
    steps=(
        Step("Every derivative, checked twice", """
            For each activation we compare the derivative formula f' with a central
            difference of f, and with the gradient scalargrad's backward pass puts on the
            input. The grid steps around 0, where relu, leaky_relu, elu and step have a
            kink or a jump and no derivative exists.
            """, check_catalogue, show_catalogue),
        Step("The curves", """
            Each panel shows f (cyan) and f' (magenta) on [-4, 4]. Note the flat tails of
            sigmoid, tanh and arctan, where f' goes to 0, and the derivative of step,
            which is 0 everywhere it exists.
            """, curves, show_curves),
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
