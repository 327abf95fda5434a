"""Lesson 21: before training: initialization (symmetry, scale) and preprocessing (000, 001)."""

from __future__ import annotations

import math
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
from vecgrad.data import MinMax, ZScore
from vecgrad.nn import init
from vecgrad.optim import SGD

from tutorials.framework import Lesson, Step, main_for
from tutorials.plot import Series, line_plot
from tutorials.views import table

F64 = vecgrad.float64


def train_small_net(start, steps=300, seed=0):
    """A 1-4-1 tanh network fitted to sin(2x) on [-2, 2], full-batch GD."""
    vecgrad.manual_seed(seed)
    x_np = np.linspace(-2, 2, 40).reshape(-1, 1)
    x = vecgrad.tensor(x_np, dtype=F64)
    y = vecgrad.tensor(np.sin(2 * x_np), dtype=F64)
    model = nn.Sequential(nn.Linear(1, 4, dtype=F64), nn.Tanh(),
                          nn.Linear(4, 1, dtype=F64))
    for p in model.parameters():
        if start == "equal":
            init.constant_(p, 0.5)      # every weight the same
        else:
            init.uniform_noise(p, 0.5)  # small uniform noise, U(-0.5, 0.5)
    optimizer = SGD(model.parameters(), lr=0.2)
    for _ in range(steps):
        loss = F.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    layer = model[0]  # each hidden unit's (weight, bias)
    hidden = np.hstack([layer.weight.numpy(), layer.bias.numpy()[:, None]])
    return loss.item(), hidden


def symmetry():
    runs = {start: train_small_net(start) for start in ("equal", "noise")}
    return {start: {"loss": loss, "hidden": hidden,
                    "spread": float(np.ptp(hidden, axis=0).max())}
            for start, (loss, hidden) in runs.items()}


def show_symmetry(r):
    rows = []
    for start, run in r.items():
        for k, (w, b) in enumerate(run["hidden"]):
            rows.append((start if k == 0 else "", f"unit {k + 1}", w, b))
    summary = [(start, run["loss"], run["spread"]) for start, run in r.items()]
    return [table("the four hidden units after 300 steps", ["start", "unit",
                  "weight", "bias"], rows, digits=5),
            table("", ["start", "final loss", "largest difference between units"],
                  summary, digits=4)]


def signal_through_depth(scale, depth=10, width=100, seed=0):
    """Std of the activations after each of `depth` tanh layers, weights
    U(-scale / sqrt(fan_in), scale / sqrt(fan_in)), 200 inputs."""
    rng = np.random.default_rng(seed)
    h = rng.normal(size=(200, width))
    stds, saturated = [], []
    for _ in range(depth):
        bound = scale / math.sqrt(width)
        w = vecgrad.tensor(rng.uniform(-bound, bound, size=(width, width)),
                           dtype=F64)
        h = F.linear(vecgrad.tensor(h, dtype=F64), w).tanh().numpy()
        stds.append(float(h.std()))
        saturated.append(float(np.mean(np.abs(h) > 0.99)))
    return stds, saturated


def initial_scale():
    scales = {"0.5": 0.5, "sqrt(3)": math.sqrt(3.0),
              "5/3 sqrt(3)": 5 / 3 * math.sqrt(3.0), "6": 6.0}
    runs = {name: signal_through_depth(s) for name, s in scales.items()}
    return {"std": {n: r[0] for n, r in runs.items()},
            "saturated": {n: r[1] for n, r in runs.items()}}


def show_scale(r):
    layers = list(range(1, 11))
    plot = line_plot([Series(f"bound {n} / sqrt(fan_in)", layers, stds)
                      for n, stds in r["std"].items()],
                     title="std of the activations, layer by layer", logy=True,
                     xlabel="layer", height=9)
    rows = [(n, r["std"][n][0], r["std"][n][-1], r["saturated"][n][0],
             r["saturated"][n][-1]) for n in r["std"]]
    return [plot, table("", ["weights U(-b, b), b =", "std after layer 1",
                             "after layer 10", "|h| > 0.99 after layer 1",
                             "after layer 10"], rows, digits=3)]


def two_scales(n, seed):
    """Feature 1 in millimetres (hundreds), feature 2 in km (0.001s)."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.uniform(200, 900, n),
                         rng.uniform(0, 0.004, n)])
    y = 0.01 * x[:, 0] + 500 * x[:, 1] + 0.1 * rng.normal(size=n)
    return x, y


def gradient_descent(x, y, steps=100):
    # step 1 / lambda_max settles the steepest direction at once
    # (from 2 / lambda_max on, gradient descent would diverge)
    a = np.hstack([x, np.ones((len(y), 1))])
    curvature = np.linalg.eigvalsh(2 * a.T @ a / len(y))
    theta = np.zeros(a.shape[1])
    for _ in range(steps):
        theta -= 2 * a.T @ (a @ theta - y) / len(y) / curvature[-1]
    loss = float(np.mean((a @ theta - y) ** 2))
    return loss, float(curvature[-1] / curvature[0])


def preprocessing():
    x_train, y_train = two_scales(200, seed=0)
    x_test, _ = two_scales(100, seed=1)
    gd = {"raw": gradient_descent(x_train, y_train)}
    test_range = {}
    for name, scaler in (("min-max", MinMax()), ("z-score", ZScore())):
        scaler.fit(x_train)                    # statistics from train only
        z = scaler.transform(x_train).astype(np.float64)
        gd[name] = gradient_descent(z, y_train)
        t = scaler.transform(x_test)           # the same statistics on test
        test_range[name] = (float(t.min()), float(t.max()))
    ten = np.append(np.arange(10.0), 1000.0).reshape(-1, 1)  # one outlier
    spread = {"min-max": np.ptp(MinMax().fit(ten).transform(ten)[:10]),
              "z-score": np.ptp(ZScore().fit(ten).transform(ten)[:10])}
    return {"gd": gd, "test_range": test_range,
            "outlier_spread": {k: float(v) for k, v in spread.items()}}


def show_preprocessing(r):
    rows = [(name, cond, loss) for name, (loss, cond) in r["gd"].items()]
    spread = [(name, v) for name, v in r["outlier_spread"].items()]
    ranges = [(name, lo, hi) for name, (lo, hi) in r["test_range"].items()]
    return [table("100 steps of gradient descent, step 1 / (largest curvature)",
                  ["features", "condition number", "loss after 100 steps"], rows,
                  digits=4),
            table("the test set, scaled with the training statistics",
                  ["scaling", "smallest value", "largest value"], ranges, digits=4),
            table("ten values 0..9 plus one 1000: how far apart the ten end up",
                  ["scaling", "spread of the ten"], spread, digits=3)]


LESSON = Lesson(
    number=21,
    title="Before training: initialization and preprocessing",
    lectures="000, 001",
    intro="""
    TU Graz ML1 lecture 8 trains its MNIST networks after two preparations that are
    easy to skip and costly to get wrong: the weights start as small uniform noise, and
    the inputs are normalised, by z-score or min-max, with statistics from the training
    set only. The NYU CDS lecture adds the remedy for a bad start: a different
    initialization. Here is what each preparation prevents.
    """,
    steps=(
        Step("Equal weights stay equal", """
            Start a 1-4-1 tanh network with every weight and bias 0.5. The four hidden
            units compute the same thing, so backprop hands each the same gradient,
            and after 300 steps they are still identical to the last digit: four units
            doing the work of one, stuck at a loss of 0.34. Random numbers break this
            symmetry. Starting from small uniform noise, the units differ from the
            first step, and the same 300 steps reach a loss of 0.027.
            """, symmetry, show_symmetry, also_show=(train_small_net,)),
        Step("Small, but not too small", """
            How small should the noise be? Push 200 random inputs through ten tanh
            layers of 100 units, weights uniform in (-b, b) with b = scale /
            sqrt(fan_in). With scale 0.5 each layer shrinks the signal about 3.5-fold,
            and after ten layers its standard deviation is below 1e-5. With scale 6 the
            units saturate: after ten layers 38% of them sit beyond +-0.99, where
            tanh's slope is nearly 0 (lesson 11). Scale sqrt(3) gives weights of
            variance 1/fan_in; the signal still shrinks, but slowly (0.63 after one
            layer, 0.24 after ten), because tanh flattens what it receives. PyTorch's
            recommended gain for tanh, 5/3, makes up for that: with scale 5/3 sqrt(3)
            the standard deviation stays between 0.65 and 0.67 from the third layer
            on, and after ten layers fewer than 2% of the units saturate (11% after
            the first, whose inputs are wider). vecgrad's `nn.Linear` draws from
            U(-1/sqrt(fan_in), 1/sqrt(fan_in)), scale 1, as PyTorch does.
            """, initial_scale, show_scale, also_show=(signal_through_depth,)),
        Step("z-score against min-max", """
            One feature in millimetres (200 to 900), one in kilometres (0 to 0.004).
            The steepest direction limits gradient descent's step (from 2 over the
            largest curvature on it diverges; we take 1 over it), and along the
            flattest it then crawls; the ratio of the two curvatures, the condition
            number, is 2.9e11 for the raw features, and 100 steps leave the loss at
            0.50. z-scoring (mean 0,
            standard deviation 1) brings the condition number to 1.1, min-max scaling
            (to [0, 1]) to 31 (its features are not centred, so they move together
            with the intercept); both reach the noise level, 0.01, in 100 steps. The
            scalers are fit on the training set and reused unchanged on test data,
            whose values can then land a little outside [0, 1]. Where the two differ:
            an outlier. Min-max maps the largest value to 1, so ten ordinary values
            0..9 next to a 1000 end up within 0.009 of each other; z-scores squeeze
            them less (0.031).
            """, preprocessing, show_preprocessing, also_show=(two_scales,
                                                               gradient_descent)),
    ),
)

if __name__ == "__main__":
    sys.exit(main_for(LESSON))
