"""Lesson 4: linear least squares and ridge regression as graphs, then SGD (the NYU CDS lecture)."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tutorials.standalone import leave_quietly_on_ctrl_c
    leave_quietly_on_ctrl_c()  # Ctrl-C during the imports below: no traceback

import numpy as np

import vecgrad
from scalargrad import Value
from vecgrad.optim import SGD, InverseTimeDecay

from tutorials.framework import Lesson, Step, main_for
from tutorials.plot import Series, line_plot
from tutorials.views import table, vector

# One training point and a starting guess for the parameters.
POINT_X, POINT_Y = (1.0, 2.0), 3.0
START_W, START_B = (0.5, -0.25), 0.1
RIDGE_LAMBDA = 0.1


def least_squares_graph():
    w = [Value(v, label=f"w{k + 1}") for k, v in enumerate(START_W)]
    b = Value(START_B, label="b")
    y_hat = w[0] * POINT_X[0] + w[1] * POINT_X[1] + b  # prediction
    r = POINT_Y - y_hat                                # residual
    loss = r ** 2
    loss.backward()
    # The lecture's formulas, evaluated at the same point.
    formulas = {"dl/dr": 2 * r.data, "dl/dy_hat": -2 * r.data,
                "dl/db": -2 * r.data,
                "dl/dw": [-2 * r.data * xj for xj in POINT_X]}
    backprop = {"dl/dr": r.grad, "dl/dy_hat": y_hat.grad, "dl/db": b.grad,
                "dl/dw": [v.grad for v in w]}
    return {"y_hat": y_hat.data, "r": r.data, "loss": loss.data,
            "formulas": formulas, "backprop": backprop}


def _pairs(r):
    rows = []
    for key in r["formulas"]:
        a, b = r["formulas"][key], r["backprop"][key]
        if isinstance(a, list):
            a, b = vector(a), vector(b)
        rows.append((key, a, b))
    return rows


def show_least_squares(r):
    return [table(f"y_hat = {r['y_hat']:g}, r = y - y_hat = {r['r']:g}, "
                  f"l = r^2 = {r['loss']:g}", ["derivative", "lecture formula",
                                                "backprop"], _pairs(r))]


def ridge_graph():
    w = [Value(v) for v in START_W]
    b = Value(START_B)
    r = POINT_Y - (w[0] * POINT_X[0] + w[1] * POINT_X[1] + b)
    penalty = RIDGE_LAMBDA * (w[0] * w[0] + w[1] * w[1])  # lambda w^T w
    objective = r ** 2 + penalty
    objective.backward()
    formulas = {"dJ/db": -2 * r.data,
                "dJ/dw": [-2 * r.data * xj + 2 * RIDGE_LAMBDA * wj
                          for xj, wj in zip(POINT_X, START_W)]}
    return {"J": objective.data, "formulas": formulas,
            "backprop": {"dJ/db": b.grad, "dJ/dw": [v.grad for v in w]}}


def show_ridge(r):
    return [table(f"J = {r['J']:g} with lambda = {RIDGE_LAMBDA}",
                  ["derivative", "formula", "backprop"], _pairs(r))]


def make_data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    true_w, true_b = np.array([2.0, -3.0, 0.5]), 1.0
    y = x @ true_w + true_b + 0.1 * rng.normal(size=n)
    return x, y


def sgd_fit(x, y, lam=0.0, epochs=30, batch=10, lr=0.05, seed=0):
    w = vecgrad.zeros(3, dtype=vecgrad.float64, requires_grad=True)
    b = vecgrad.zeros(1, dtype=vecgrad.float64, requires_grad=True)
    optimizer = SGD([w, b], lr=lr)
    schedule = InverseTimeDecay(optimizer, decay=0.1)  # lr/(1 + 0.1 epoch)
    order = np.random.default_rng(seed)
    losses = []
    for _ in range(epochs):
        shuffled = order.permutation(len(y))
        for start in range(0, len(y), batch):  # one mini-batch per step
            idx = shuffled[start:start + batch]
            xb = vecgrad.tensor(x[idx], dtype=vecgrad.float64)
            yb = vecgrad.tensor(y[idx], dtype=vecgrad.float64)
            r = yb - (xb @ w + b)
            loss = (r * r).mean() + lam * (w * w).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        schedule.step()
    return w.numpy(), b.numpy()[0], losses


def closed_form(x, y, lam=0.0):
    # Minimise mean r^2 + lam |w|^2: solve the normal equations
    # (bias column appended, bias not penalised).
    a = np.hstack([x, np.ones((len(y), 1))])
    penalty = lam * np.diag([1.0, 1.0, 1.0, 0.0])
    theta = np.linalg.solve(a.T @ a / len(y) + penalty, a.T @ y / len(y))
    return theta[:3], theta[3]


def batch_gradient_sizes(x, y, w, b, lam, batch=10):
    # the norm of each mini-batch's gradient at (w, b): all 0 only if every
    # batch is fitted, not just their average
    norms = []
    for start in range(0, len(y), batch):
        xb, yb = x[start:start + batch], y[start:start + batch]
        r = yb - (xb @ w + b)
        g = np.append(-2 * xb.T @ r / len(r) + 2 * lam * w, -2 * r.mean())
        norms.append(float(np.linalg.norm(g)))
    return norms


def sgd_versus_closed_form():
    x, y = make_data()
    w_sgd, b_sgd, losses = sgd_fit(x, y)
    w_ls, b_ls = closed_form(x, y)
    lam = 0.5
    w_ridge_sgd, b_ridge_sgd, _ = sgd_fit(x, y, lam=lam)
    w_ridge, b_ridge = closed_form(x, y, lam=lam)
    return {"w_sgd": w_sgd.tolist(), "b_sgd": b_sgd, "w_ls": w_ls.tolist(),
            "b_ls": b_ls, "w_ridge_sgd": w_ridge_sgd.tolist(),
            "b_ridge_sgd": b_ridge_sgd, "w_ridge": w_ridge.tolist(),
            "b_ridge": b_ridge, "losses": losses, "lam": lam}


def why_ridge_lands_further():
    r = sgd_versus_closed_form()
    x, y = make_data()
    sizes = {"least squares": batch_gradient_sizes(
                 x, y, np.array(r["w_ls"]), r["b_ls"], 0.0),
             "ridge": batch_gradient_sizes(
                 x, y, np.array(r["w_ridge"]), r["b_ridge"], r["lam"])}
    gap = {"least squares": (r["w_sgd"], r["w_ls"]),
           "ridge": (r["w_ridge_sgd"], r["w_ridge"])}
    longer, _, _ = sgd_fit(x, y, lam=r["lam"], epochs=120)
    return {"batch_gradient": {k: float(np.mean(v))
                               for k, v in sizes.items()},
            "batch_gradient_range": {k: (min(v), max(v))
                                     for k, v in sizes.items()},
            "gap_after_120_epochs": float(
                np.abs(longer - np.array(r["w_ridge"])).max()),
            "gap": {k: float(np.abs(np.subtract(a, b)).max())
                    for k, (a, b) in gap.items()}}


def show_sgd(r):
    losses = r["losses"]
    window = 20  # a running mean of the last 20 losses smooths the noise
    smooth = [float(np.mean(losses[max(0, k + 1 - window):k + 1]))
              for k in range(len(losses))]
    rows = [("true", vector([2.0, -3.0, 0.5], 4), 1.0),
            ("least squares, SGD", vector(r["w_sgd"], 4), r["b_sgd"]),
            ("least squares, closed form", vector(r["w_ls"], 4), r["b_ls"]),
            (f"ridge (lambda {r['lam']}), SGD", vector(r["w_ridge_sgd"], 4),
             r["b_ridge_sgd"]),
            (f"ridge (lambda {r['lam']}), closed form", vector(r["w_ridge"], 4),
             r["b_ridge"])]
    return [line_plot([Series("loss (running mean of 20)", range(len(smooth)), smooth)],
                      title="SGD on least squares, mini-batches of 10", logy=True,
                      xlabel="step", height=10),
            table("", ["fit", "w", "b"], rows, digits=4)]


def show_why(r):
    rows = [(name, r["gap"][name], r["batch_gradient"][name],
             *r["batch_gradient_range"][name]) for name in r["gap"]]
    return [table("", ["problem", "largest |w_SGD - w_exact|",
                       "|mini-batch gradient| at the exact minimum: mean",
                       "smallest", "largest"], rows, digits=3),
            table("", ["ridge, 120 epochs instead of 30", "value"],
                  [("largest |w_SGD - w_exact|", r["gap_after_120_epochs"])],
                  digits=3)]


LESSON = Lesson(
    number=4,
    title="Linear least squares and ridge regression as graphs, then SGD",
    lectures="001",
    intro="""
    The NYU CDS lecture breaks the squared error of a linear model into small named pieces,
    prediction y_hat = w . x + b, residual r = y - y_hat, loss l = r^2, and reads the
    partial derivatives off the graph from the loss backwards. Ridge regression adds the
    penalty lambda w . w. We check the lecture's formulas against backprop, then train
    both models with stochastic gradient descent and compare with the exact solutions.
    """,
    steps=(
        Step("Least squares as a graph", """
            At x = (1, 2), y = 3, w = (0.5, -0.25), b = 0.1: the lecture's chain gives
            dl/dr = 2r, dl/dy_hat = -2r, dl/db = -2r and dl/dw_j = -2r x_j. Backprop
            computes the same numbers without any of these formulas.
            """, least_squares_graph, show_least_squares),
        Step("Ridge regression: the exercise", """
            The penalty is a second branch into the objective, J = l + lambda w . w,
            and the two branches add up at w. The lecture leaves dJ/dw_j as an
            exercise; the answer is -2r x_j + 2 lambda w_j, while dJ/db stays -2r
            because the bias is not penalised.
            """, ridge_graph, show_ridge),
        Step("SGD against the exact answer", """
            Now 200 noisy examples of y = 2 x1 - 3 x2 + 0.5 x3 + 1. Each SGD step takes
            a random mini-batch of 10 examples (the NYU CDS lecture uses single examples; the
            average over a few is less noisy), computes the gradient with vecgrad and
            moves w and b a little. The learning rate 0.05 shrinks as 1/(1 + 0.1 epoch),
            so the noise dies down. The normal equations give the exact minimiser for
            comparison; with lambda = 0.5 ridge shrinks every weight towards 0.
            """, sgd_versus_closed_form, show_sgd, also_show=(sgd_fit, closed_form)),
        Step("Why ridge's SGD lands further off", """
            SGD hits the least-squares answer to 0.001 but misses ridge's by 0.02. At
            the least-squares minimum every mini-batch is fitted to within the data's
            noise, so each batch's gradient is small (0.12 on average) and SGD sits
            still. At the ridge minimum the penalty keeps the fit off the data: only
            the *average* of the batch gradients is 0, while each one has size 1.6 on
            average (0.6 to 2.8), and with the step still at
            0.05 / (1 + 0.1 * 29) = 0.013 in the last epoch SGD keeps jittering around
            the answer. More epochs (a smaller final step) close the gap: after 120
            epochs ridge's SGD is within 0.002 of the exact answer.
            """, why_ridge_lands_further, show_why, also_show=(batch_gradient_sizes,)),
    ),
)

if __name__ == "__main__":
    sys.exit(main_for(LESSON))
