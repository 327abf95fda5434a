"""Lesson 22: what gradient descent promises: step-size conditions, local minima, saddles (000, 001, 002)."""

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
from vecgrad.optim import SGD

from tutorials.framework import Lesson, Step, main_for
from tutorials.plot import Series, line_plot
from tutorials.views import table

F64 = vecgrad.float64


def online_mean(step_size, samples):
    """Online SGD on l(w) = (w - x_k)^2 / 2, one sample per step."""
    w, path = 0.0, []
    for k, x in enumerate(samples, start=1):
        w -= step_size(k) * (w - x)   # the gradient of l at w is w - x_k
        path.append(w)
    return np.array(path)


def step_size_conditions():
    samples = np.random.default_rng(0).normal(3.0, 1.0, size=10_000)
    rules = {"1/k": lambda k: 1.0 / k, "0.1": lambda k: 0.1,
             "1/k^2": lambda k: 1.0 / k ** 2}
    paths = {name: online_mean(rule, samples)
             for name, rule in rules.items()}
    running_mean = np.cumsum(samples) / np.arange(1, len(samples) + 1)
    tail = {name: float(np.std(p[-2000:])) for name, p in paths.items()}
    return {"paths": paths, "mean": float(samples.mean()),
            "last": {name: float(p[-1]) for name, p in paths.items()},
            "tail_std": tail,
            "1/k is the running mean": float(np.abs(paths["1/k"]
                                                    - running_mean).max())}


def show_conditions(r):
    ks = np.unique(np.geomspace(1, 10_000, 120).astype(int))
    series = [Series(f"step {name}", np.log10(ks), np.abs(p[ks - 1] - 3.0))
              for name, p in r["paths"].items()]
    rows = [(name, r["last"][name], r["tail_std"][name]) for name in r["paths"]]
    rows.append(("the sample mean", r["mean"], 0.0))
    return [line_plot(series, title="distance |w_k - 3| to the true mean",
                      logy=True, xlabel="log10(k)", height=10),
            table("after 10,000 samples", ["step size", "last w",
                  "std of w over the last 2000 steps"], rows, digits=4)]


def sine_neuron_loss(w_values):
    x = np.linspace(-np.pi, np.pi, 200)
    return [float(np.mean((np.sin(3 * x) - np.sin(w * x)) ** 2))
            for w in w_values]


def descend_from(w0, steps=200, lr=0.05):
    x = vecgrad.tensor(np.linspace(-np.pi, np.pi, 200), dtype=F64)
    target = F.sin(3 * x)
    w = vecgrad.tensor(w0, dtype=F64, requires_grad=True)
    optimizer = SGD([w], lr=lr)
    for _ in range(steps):
        loss = F.mse_loss(F.sin(w * x), target)  # one neuron: sin(w x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return w.item(), F.mse_loss(F.sin(w * x), target).item()


def local_minima():
    grid = np.linspace(0, 6, 601)
    curve = sine_neuron_loss(grid)
    runs = {w0: descend_from(w0) for w0 in (1.0, 2.5, 5.0)}
    return {"grid": grid, "curve": curve, "runs": runs}


def show_minima(r):
    ends = [w for w, _ in r["runs"].values()]
    return [line_plot([Series("loss L(w)", r["grid"], r["curve"], "cyan"),
                       Series("where descent ends", ends,
                              [loss for _, loss in r["runs"].values()], "white",
                              points=True, marker="@")],
                      title="fitting sin(3x) with one neuron sin(w x)",
                      xlabel="w", height=10),
            table("200 steps of gradient descent, learning rate 0.05",
                  ["start w", "end w", "end loss"],
                  [(w0, w, loss) for w0, (w, loss) in r["runs"].items()],
                  digits=5)]


def two_weights_loss(v, w):
    # y_hat = v * tanh(w x): one hidden unit, one output weight
    x = np.linspace(-2, 2, 41)
    y = np.tanh(1.5 * x)
    return float(np.mean((y - v * np.tanh(w * x)) ** 2))


def saddle_point():
    eps = 1e-4  # second derivatives by central differences of the loss
    h = np.empty((2, 2))
    for i in range(2):
        for j in range(2):
            di, dj = np.eye(2)[i] * eps, np.eye(2)[j] * eps
            h[i, j] = (two_weights_loss(*(di + dj))
                       - two_weights_loss(*(di - dj))
                       - two_weights_loss(*(dj - di))
                       + two_weights_loss(*(-di - dj))) / (4 * eps * eps)
    x = np.linspace(-2, 2, 41)
    closed = -2 * np.mean(np.tanh(1.5 * x) * x)  # d2L/dv dw at (0, 0)
    return {"loss_at_0": two_weights_loss(0.0, 0.0),
            "loss_at_minima": (two_weights_loss(1.0, 1.5),
                               two_weights_loss(-1.0, -1.5)),
            "hessian": h.tolist(),
            "eigenvalues": np.linalg.eigvalsh(h).tolist(),
            "closed_form_offdiagonal": float(closed)}


def descend_two_weights(start, steps=300, lr=0.5):
    xs = np.linspace(-2, 2, 41)
    x = vecgrad.tensor(xs, dtype=F64)
    y = vecgrad.tensor(np.tanh(1.5 * xs), dtype=F64)
    p = vecgrad.tensor(start, dtype=F64, requires_grad=True)  # (v, w)
    optimizer = SGD([p], lr=lr)
    for _ in range(steps):
        loss = F.mse_loss(p[0] * (p[1] * x).tanh(), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return p.tolist(), loss.item()


def leaving_the_saddle():
    starts = [(0.0, 0.0), (1e-3, 1e-3), (-1e-3, -1e-3), (1e-3, -1e-3)]
    return {"runs": [(s, *descend_two_weights(s)) for s in starts]}


def show_leaving(r):
    rows = [(str(start), f"({end[0]:.4f}, {end[1]:.4f})", loss)
            for start, end, loss in r["runs"]]
    return [table("300 steps of gradient descent, learning rate 0.5",
                  ["start (v, w)", "end (v, w)", "end loss"], rows, digits=3)]


def show_saddle(r):
    (a, b), (c, d) = r["hessian"]
    return [table("", ["", "value"],
                  [("L at (v, w) = (1, 1.5)", r["loss_at_minima"][0]),
                   ("L at (v, w) = (-1, -1.5)", r["loss_at_minima"][1]),
                   ("L at their midpoint (0, 0)", r["loss_at_0"]),
                   ("Hessian at (0, 0)", f"[[{a:.4g}, {b:.4g}], [{c:.4g}, {d:.4g}]]"),
                   ("its eigenvalues", str([round(e, 4) for e in r["eigenvalues"]])),
                   ("-2 mean(y x), the off-diagonal by hand",
                    r["closed_form_offdiagonal"])], digits=6)]


LESSON = Lesson(
    number=22,
    title="What gradient descent promises: step sizes, local minima, saddle points",
    lectures="000, 001, 002",
    intro="""
    TU Graz ML1 lecture 8 states when stochastic gradient descent converges: if the
    step sizes add up to infinity while their squares add up to something finite, SGD
    reaches a local minimum. Both halves matter, and "local" matters too: the lecture
    shows a non-convex loss landscape, the NYU CDS lecture lists bad local minima and
    saddle points among the challenges, and ELTE ML lecture 6 warns that descent can get
    stuck. Three small experiments show each.
    """,
    steps=(
        Step("Step sizes: sum infinite, sum of squares finite", """
            Online SGD estimates the mean of 10,000 samples of N(3, 1) by minimising
            (w - x_k)^2 / 2, one sample per step. With steps 1/k both conditions hold
            (the harmonic series diverges, sum 1/k^2 = pi^2/6), and w_k is exactly the
            running mean of the first k samples: it converges (dipping wherever it
            crosses 3) and ends on the sample mean 3.0063, 0.0063 from the true mean. A constant step 0.1 fails the second condition: every step still
            carries the noise of one sample, and w keeps wandering around the mean
            with a standard deviation of about 0.23. Steps 1/k^2 fail the first: they
            add up to only 1.64, so after a few samples w freezes (over the last 2000
            steps it moves by less than 1.5e-6) at 3.087, wherever those first samples
            left it. In practice a constant step is common, followed by a decay (the
            lecture's footnote; vecgrad.optim has the schedules).
            """, step_size_conditions, show_conditions, also_show=(online_mean,)),
        Step("Local minima: where you start decides where you end", """
            One neuron with a sine activation, y_hat = sin(w x), fitted to sin(3x).
            The loss is a function of a single weight, so we can draw all of it:
            besides the global minimum at w = 3 (loss 0) it has local minima near
            w = 0.1 and w = 5.37. Gradient descent only ever looks downhill, so from
            w = 1 it slides into the minimum at 0.1 (loss 0.46), from w = 5 into the
            one at 5.37 (loss 0.90), and only from w = 2.5 does it find w = 3. The
            NYU CDS lecture's remedy is the one used here: try another start.
            """, local_minima, show_minima, also_show=(sine_neuron_loss,
                                                       descend_from)),
        Step("A saddle point, and a proof of non-convexity", """
            Now two weights, y_hat = v tanh(w x), fitted to tanh(1.5 x). Flipping both
            signs gives the same function, so (1, 1.5) and (-1, -1.5) are both perfect
            fits with loss 0. Their midpoint (0, 0) has loss 0.68: a convex function
            can never be higher at a midpoint than at both ends, so this loss is not
            convex. At (0, 0) the gradient is exactly 0, yet it is no minimum: the
            Hessian has one negative and one positive eigenvalue (-1.87 and 1.87), so
            the loss falls along one diagonal and rises along the other. That is a
            saddle point.
            """, saddle_point, show_saddle, also_show=(two_weights_loss,)),
        Step("Leaving the saddle", """
            Gradient descent started exactly on the saddle gets a zero gradient and
            never moves: after 300 steps it is still at (0, 0) with loss 0.68. Started
            1e-3 away it slides off and finds a perfect fit: along the falling
            diagonal to (1, 1.49) or (-1, -1.49), whichever side it started on. Even a
            start on the rising diagonal, (1e-3, -1e-3), gets away in the end: the
            rising direction pulls it back towards the saddle, but the slightest
            imbalance grows along the falling one. Saddles slow descent down; they
            rarely hold it, which is what the NYU CDS lecture means by "doesn't often
            happen with SGD".
            """, leaving_the_saddle, show_leaving, also_show=(descend_two_weights,)),
    ),
)

if __name__ == "__main__":
    sys.exit(main_for(LESSON))
