"""Lesson 10: optimizers on a 2-D loss surface, and mini-batch sizes (lectures 002, 004)."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tutorials.standalone import leave_quietly_on_ctrl_c
    leave_quietly_on_ctrl_c()  # Ctrl-C during the imports below: no traceback

import numpy as np

import vecgrad
from vecgrad.optim import SGD, AdaGrad, Adam, RMSProp

from tutorials.framework import Lesson, Step, main_for
from tutorials.plot import Series, line_plot
from tutorials.views import table, vector

# Off the diagonal to the minimum (about (1, 2)): from a start on it, methods that
# take equal steps in both coordinates would all walk the same straight line.
START = (-2.0, 0.5)


def make_problem(n=100, seed=0):
    # Linear regression with two weights; the second feature is 4x smaller,
    # so the loss surface is a long narrow valley (badly conditioned).
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.normal(size=n), 0.25 * rng.normal(size=n)])
    y = x @ np.array([1.0, 2.0]) + 0.05 * rng.normal(size=n)
    return x, y


def loss_of(theta, x, y):
    return ((x @ theta - y) ** 2).mean()


def follow(make_optimizer, steps=60):
    x, y = (vecgrad.tensor(a, dtype=vecgrad.float64)
            for a in make_problem())
    theta = vecgrad.tensor(START, dtype=vecgrad.float64, requires_grad=True)
    optimizer = make_optimizer([theta])
    path, losses = [theta.tolist()], []
    for _ in range(steps):
        loss = loss_of(theta, x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        path.append(theta.tolist())
        losses.append(loss.item())
    return {"path": path, "losses": losses}


def momentum_family():
    return {
        "gradient descent": follow(lambda p: SGD(p, lr=0.3)),
        "momentum 0.9": follow(lambda p: SGD(p, lr=0.1, momentum=0.9)),
        "Nesterov 0.9": follow(lambda p: SGD(p, lr=0.1, momentum=0.9,
                                             nesterov=True)),
    }


def adaptive_family():
    return {
        "AdaGrad": follow(lambda p: AdaGrad(p, lr=1.0)),
        "RMSProp": follow(lambda p: RMSProp(p, lr=0.1)),
        "Adam": follow(lambda p: Adam(p, lr=0.1)),
    }


def adam_keeps_going(steps=150):
    runs = {"RMSProp": follow(lambda p: RMSProp(p, lr=0.1), steps),
            "Adam": follow(lambda p: Adam(p, lr=0.1), steps)}
    adam = runs["Adam"]["losses"]
    lowest_early = min(range(60), key=adam.__getitem__)
    x, y = make_problem()
    best = np.linalg.lstsq(x, y, rcond=None)[0]
    minimum = float(np.mean((x @ best - y) ** 2))  # the least-squares loss
    settled = next(k for k in range(steps)
                   if all(v < 1.05 * minimum for v in adam[k:]))
    return {"runs": runs, "lowest_early": lowest_early,
            "lowest_early_loss": adam[lowest_early], "at_60": adam[59],
            "minimum": minimum, "settled": settled, "final": adam[-1]}


def show_keeps_going(r):
    series = [Series(name, list(range(1, len(run["losses"]) + 1)),
                     run["losses"]) for name, run in r["runs"].items()]
    return [line_plot(series, title="loss per step, 150 steps", logy=True,
                      xlabel="step", height=10),
            table("", ["Adam", "value"],
                  [("lowest loss in the first 60 steps", r["lowest_early_loss"]),
                   ("reached at step", r["lowest_early"] + 1),
                   ("loss at step 60", r["at_60"]),
                   ("within 5% of the minimum loss from step", r["settled"] + 1),
                   ("the minimum loss (least squares)", r["minimum"]),
                   ("final loss", r["final"])], digits=4)]


def show_paths(runs):
    x, y = make_problem()
    best = np.linalg.lstsq(x, y, rcond=None)[0]
    # One mark per iterate (no lines in between: less ink, fewer hidden marks);
    # drawn last to first, so the first method's marks are on top.
    order = list(runs)[::-1]
    markers = dict(zip(runs, ("•", "x", "o")))
    series = [Series(name, [p[0] for p in runs[name]["path"]],
                     [p[1] for p in runs[name]["path"]], marker=markers[name],
                     color=("cyan", "magenta", "yellow")[list(runs).index(name)],
                     points=True) for name in order]
    series.append(Series("minimum", [best[0]], [best[1]], "white",
                         points=True, marker="@"))
    rows = [(name, vector(r["path"][-1], 4), r["losses"][0], r["losses"][-1])
            for name, r in runs.items()]
    return [line_plot(series, title="paths in weight space, 60 steps from "
                      f"{START}", xlabel="w1", ylabel="w2", height=14),
            table("", ["optimizer", "final w", "first loss", "last loss"], rows,
                  digits=4)]


def adam_by_hand(grads_of, theta, steps, form, lr=0.1, b1=0.9, b2=0.999,
                 eps=1e-8):
    s, r = np.zeros_like(theta), np.zeros_like(theta)
    for t in range(1, steps + 1):
        g = grads_of(theta)
        s = b1 * s + (1 - b1) * g
        r = b2 * r + (1 - b2) * g * g
        if form == "bias-corrected":
            s_hat, r_hat = s / (1 - b1 ** t), r / (1 - b2 ** t)
            theta = theta - lr * s_hat / np.sqrt(r_hat + eps)
        else:  # "alpha_t": the correction folded into the step size,
            # so the plain s and r (hats would correct twice)
            alpha_t = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
            theta = theta - alpha_t * s / np.sqrt(r + eps)
    return theta


def adam_matches_the_lecture():
    x, y = make_problem()

    def grads_of(theta):  # the exact gradient of the mean squared error
        return 2 * x.T @ (x @ theta - y) / len(y)

    start = np.array(START)
    by_hand = adam_by_hand(grads_of, start, 25, "bias-corrected")
    alpha_t = adam_by_hand(grads_of, start, 25, "alpha_t")
    run = follow(lambda p: Adam(p, lr=0.1), steps=25)
    library = np.array(run["path"][-1])
    return {"by_hand": by_hand.tolist(), "alpha_t_form": alpha_t.tolist(),
            "vecgrad": library.tolist(),
            "gap_corrected": float(np.abs(library - by_hand).max()),
            "gap_alpha_t": float(np.abs(alpha_t - by_hand).max())}


def show_adam(r):
    rows = [("bias-corrected form (numpy)", vector(r["by_hand"], 8), 0.0),
            ("alpha_t form (numpy)", vector(r["alpha_t_form"], 8),
             r["gap_alpha_t"]),
            ("vecgrad.optim.Adam", vector(r["vecgrad"], 8), r["gap_corrected"])]
    return [table("w after 25 Adam steps", ["implementation", "w",
                                            "gap to the first row"], rows, digits=3)]


def minibatch_sizes(epochs=3, lr=0.05, seed=0):
    x_np, y_np = make_problem()
    x_all = vecgrad.tensor(x_np, dtype=vecgrad.float64)
    y_all = vecgrad.tensor(y_np, dtype=vecgrad.float64)
    curves = {}
    for batch in (1, 10, len(y_np)):
        theta = vecgrad.tensor(START, dtype=vecgrad.float64,
                               requires_grad=True)
        optimizer = SGD([theta], lr=lr)
        order = np.random.default_rng(seed)
        seen, curve = [0], [loss_of(theta, x_all, y_all).item()]
        for _ in range(epochs):
            shuffled = order.permutation(len(y_np))
            for start in range(0, len(y_np), batch):
                idx = shuffled[start:start + batch]
                xb = vecgrad.tensor(x_np[idx], dtype=vecgrad.float64)
                yb = vecgrad.tensor(y_np[idx], dtype=vecgrad.float64)
                optimizer.zero_grad()
                loss_of(theta, xb, yb).backward()
                optimizer.step()
                seen.append(seen[-1] + len(idx))
                with vecgrad.no_grad():  # progress on the whole data set
                    curve.append(loss_of(theta, x_all, y_all).item())
        curves[batch] = (seen, curve)
    return {"curves": curves,
            "final": {b: c[1][-1] for b, c in curves.items()},
            "updates": {b: len(c[1]) - 1 for b, c in curves.items()}}


def show_minibatch(r):
    names = {1: "batch 1 (online SGD)", 10: "batch 10",
             max(r["curves"]): "full batch (GD)"}
    series = [Series(names[b], [s / 100 for s in seen], curve)
              for b, (seen, curve) in r["curves"].items()]
    rows = [(names[b], r["updates"][b], r["final"][b]) for b in r["curves"]]
    return [line_plot(series, title="loss on all 100 examples, learning rate 0.05",
                      xlabel="epochs", logy=True, height=12),
            table("", ["batch size", "updates in 3 epochs", "final loss"], rows,
                  digits=4)]


LESSON = Lesson(
    number=10,
    title="Optimizers on a 2-D loss surface; mini-batch sizes",
    lectures="002, 004",
    intro="""
    A linear model with two weights has a loss surface we can draw: the plane of
    (w1, w2). We make it a long narrow valley by giving one input feature a 4x smaller
    scale, start every optimizer at the same point, and watch the paths. Then we check
    vecgrad's Adam against NPFL114 lecture 2's formulas, and compare mini-batch sizes.
    """,
    steps=(
        Step("Gradient descent and momentum", """
            Plain gradient descent moves fast across the valley and slowly along it.
            Momentum accumulates a velocity v <- beta v - lr g and keeps moving along the
            valley floor; Nesterov evaluates the gradient at the point momentum is about
            to reach, which damps the overshoot.
            """, momentum_family, show_paths, also_show=(make_problem, follow)),
        Step("Adaptive learning rates", """
            AdaGrad divides each coordinate's step by the root of its summed squared
            gradients, so the flat direction gets a larger step; RMSProp uses a running
            average instead of a sum, so the step does not shrink forever; Adam adds a
            running average of the gradient itself (momentum) and corrects both averages
            for starting at zero. Dividing by the gradient's own size makes the first
            steps equally long in both coordinates: AdaGrad's first step is lr = 1 in
            each, up to the epsilon under the root (0.99999992 along the flat one), and
            RMSProp and Adam start out along the diagonal too. From a start on the
            diagonal to the minimum all three would walk one straight line; this start
            is off it. Each mark is one iterate.
            """, adaptive_family, show_paths),
        Step("Why Adam ends worst", """
            After 60 steps Adam is the furthest from the minimum, yet it is not
            failing. Its momentum (beta1 = 0.9) carries it past the valley floor: its
            loss drops to 0.0094 at step 42, climbs back to 0.026 by step 60 as it
            swings back, and stays within 5% of the minimum loss 0.00315 only from
            step 106 on. RMSProp has no momentum and so no swing. Where a run stops decides which optimizer
            looks best: compare methods over whole curves, not one step count.
            """, adam_keeps_going, show_keeps_going),
        Step("Adam exactly as in NPFL114 lecture 2", """
            NPFL114 lecture 2 gives Adam twice: with bias-corrected moments s_hat, r_hat, and
            with the correction folded into a step size alpha_t, applied to the plain s
            and r. Both put epsilon under the root, but the first adds it to r_hat and
            the second to r, which is smaller by the factor 1 - beta2^t (0.001 at the
            first step), so epsilon weighs more there: after 25 steps the two differ by
            2e-5, in the sixth digit. vecgrad implements the first form and matches it
            to rounding error.
            """, adam_matches_the_lecture, show_adam, also_show=(adam_by_hand,)),
        Step("Mini-batch sizes", """
            The same problem, the same learning rate 0.05, three ways to spend three
            passes over the 100 examples. NPFL114 lecture 2 names them: gradient
            descent estimates the gradient from all the training data (one update per
            pass), online SGD from one random example (100 updates per pass, each
            unbiased but noisy), minibatch SGD from m examples in between (here
            m = 10: 10 updates per pass); ELTE ML lecture 6 says the same with
            BATCH_SIZE. After three passes the loss is 0.0065 online, 0.11 with
            batches of 10 and 4.8 with full batches: per pass over the data, smaller
            batches make much more progress. Their price is noise, which a decaying
            learning rate or a larger batch removes (TU Graz ML1 lecture 8); lesson 22
            shows what the step sizes must do for SGD to converge.
            """, minibatch_sizes, show_minibatch),
    ),
)

if __name__ == "__main__":
    sys.exit(main_for(LESSON))
