"""Lesson 9: three hidden units fit x^2, sin x, |x| and a step (the NYU CDS lecture)."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tutorials.standalone import leave_quietly_on_ctrl_c
    leave_quietly_on_ctrl_c()  # Ctrl-C during the imports below: no traceback

import numpy as np

import vecgrad
import vecgrad.nn.functional as F
from vecgrad import nn
from vecgrad.optim import Adam

from tutorials.framework import Lesson, Step, main_for
from tutorials.plot import Series, line_plot

# name -> (target function, activation, input range), as in the NYU CDS lecture's figures
TARGETS = {
    "x^2": (np.square, "tanh", 1.0),
    "sin x": (np.sin, "sigmoid", np.pi),
    "|x|": (np.abs, "sigmoid", 1.0),
    "step": (lambda x: (x > 0).astype(float), "sigmoid", 1.0),
}


def fit(name, hidden=3, steps=600, lr=0.1, seed=2):
    target, activation, half_width = TARGETS[name]
    vecgrad.manual_seed(seed)
    x = np.linspace(-half_width, half_width, 50).reshape(-1, 1)
    y = target(x)
    model = nn.Sequential(nn.Linear(1, hidden, dtype=vecgrad.float64),
                          nn.Activation(activation),
                          nn.Linear(hidden, 1, dtype=vecgrad.float64))
    optimizer = Adam(model.parameters(), lr=lr)
    xt = vecgrad.tensor(x, dtype=vecgrad.float64)
    yt = vecgrad.tensor(y, dtype=vecgrad.float64)
    for _ in range(steps):  # full-batch training on the 50 points
        loss = F.mse_loss(model(xt), yt)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with vecgrad.no_grad():
        fitted = model(xt).numpy()[:, 0]
        units = model[1](model[0](xt)).numpy()  # each h_k(x)
    return {"x": x[:, 0], "y": y[:, 0], "fit": fitted, "units": units,
            "mse": float(np.mean((fitted - y[:, 0]) ** 2))}


def _plot(r, name):
    fit_plot = line_plot(
        # the targets last, so the fitted curve never hides them
        [Series("network", r["x"], r["fit"], "red", marker="•"),
         Series("target", r["x"], r["y"], "white", points=True, marker="o")],
        title=f"{name}: mean squared error {r['mse']:.2e}", height=10)
    colors = ("cyan", "green", "yellow")
    units_plot = line_plot(
        [Series(f"h{k + 1}(x)", r["x"], r["units"][:, k], colors[k % 3])
         for k in range(r["units"].shape[1])],
        title="the hidden units", height=6)
    return [fit_plot, units_plot]


def fit_square():
    return fit("x^2")


def fit_sine():
    return fit("sin x")


def fit_abs():
    return fit("|x|")


def fit_step():
    return fit("step")


LESSON = Lesson(
    number=9,
    title="Universal approximation: 3 hidden units fit x^2, sin x, |x| and a step",
    lectures="001",
    intro="""
    One hidden layer can approximate any continuous function on a bounded region, given
    enough hidden units (the universal approximation theorem). The NYU CDS lecture illustrates it
    with Bishop's figures: a network with just **three** hidden units, trained on 50
    points, fits x^2 (tanh units), sin x, |x| and a step (logistic units). We train the
    same networks with vecgrad and Adam, and draw each hidden unit's output h_k(x)
    below the fit.
    """,
    steps=(
        Step("x^2 with tanh units", """
            The output is w0 + w1 h1(x) + w2 h2(x) + w3 h3(x): a weighted sum of three
            bent curves, the hidden units drawn below the fit. The network output (a
            line of dots) passes through the 50 target points (circles, drawn on top);
            x lies in [-1, 1].
            """, fit_square, lambda r: _plot(r, "x^2"), also_show=(fit,)),
        Step("sin x with logistic units", """
            Over one full period, [-pi, pi], three sigmoids are enough. All three units
            drawn below fall from left to right, but the output weights decide which
            way each one counts: two enter with negative weights, as steep rises near
            x = -0.7 and x = 0.6, and the third, a slow fall with a large positive
            weight, cancels most of their climb. The sum bends the way the sine does.
            """, fit_sine, lambda r: _plot(r, "sin x")),
        Step("|x| with logistic units", """
            The kink at 0 cannot be reproduced exactly by smooth units, but two
            opposing sigmoids come close: one falls around x = -0.5, the other rises
            around x = 0.5, and the third unit hardly changes. The largest errors sit
            at the two points next to the kink.
            """, fit_abs, lambda r: _plot(r, "|x|")),
        Step("A step with logistic units", """
            A single steep sigmoid is already close to a step; training makes its
            input weight large (about 15 here, from under 1 at the start) and puts a
            second, gentler unit at the jump too. The error that remains sits at the
            jump: the two points either side of it carry two thirds of it. Ten
            parameters per network suffice for all four shapes; note that the theorem
            promises such weights exist but not how to find them: here gradient
            descent (Adam) does it.
            """, fit_step, lambda r: _plot(r, "step")),
    ),
)

if __name__ == "__main__":
    sys.exit(main_for(LESSON))
