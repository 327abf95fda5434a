"""Lesson 20: capacity, under- and overfitting, hyperparameters chosen on validation (004, 000)."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tutorials.standalone import leave_quietly_on_ctrl_c
    leave_quietly_on_ctrl_c()  # Ctrl-C during the imports below: no traceback

import numpy as np

from tutorials.framework import Lesson, Step, main_for
from tutorials.plot import Series, line_plot
from tutorials.views import table


def truth(x):
    return 1.0 + 0.5 * x - 2.0 * x ** 2  # a quadratic: degree 2 is "right"


def make_split(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=n)
    return x, truth(x) + 0.2 * rng.normal(size=n)


SPLITS = {"train": make_split(10, seed=0), "validation": make_split(200, seed=1),
          "test": make_split(200, seed=2)}


def fit_polynomial(degree, lam=0.0):
    # minimise the mean squared error on 1, x, ..., x^degree
    # plus lam * |w|^2 (ridge, as TU Graz ML1 lecture 8 writes it)
    x, y = SPLITS["train"]
    a = np.vander(x, degree + 1, increasing=True)
    gram = a.T @ a / len(x) + lam * np.eye(degree + 1)
    return np.linalg.lstsq(gram, a.T @ y / len(x), rcond=None)[0]


def mse(w, split):
    x, y = SPLITS[split]
    prediction = np.vander(x, len(w), increasing=True) @ w
    return float(np.mean((prediction - y) ** 2))


def three_capacities():
    grid = np.linspace(-1, 1, 81)
    fits, errors = {}, {}
    for degree in (1, 2, 9):
        w = fit_polynomial(degree)
        fits[degree] = np.vander(grid, degree + 1, increasing=True) @ w
        errors[degree] = (mse(w, "train"), mse(w, "validation"))
    return {"grid": grid, "fits": fits, "errors": errors}


def show_three(r):
    x, y = SPLITS["train"]
    series = [Series(f"degree {d}", r["grid"], np.clip(f, -3, 2))
              for d, f in r["fits"].items()]
    series.append(Series("the 10 training points", x, y, "white", points=True,
                         marker="@"))
    rows = [(f"degree {d}", tr, va) for d, (tr, va) in r["errors"].items()]
    return [line_plot(series, title="three models of the same 10 points",
                      ylim=(-3, 2), height=12),
            table("", ["model", "training MSE", "validation MSE"], rows, digits=3)]


def error_against_capacity():
    rows = []
    for degree in range(10):
        w = fit_polynomial(degree)
        rows.append((degree, mse(w, "train"), mse(w, "validation")))
    chosen = min(rows, key=lambda r: r[2])[0]  # validation decides
    test = mse(fit_polynomial(chosen), "test")  # the test set, used once
    return {"rows": rows, "chosen": chosen, "test": test}


def show_capacity(r):
    degrees = [row[0] for row in r["rows"]]
    plot = line_plot([Series("training MSE", degrees, [row[1] for row in r["rows"]]),
                      Series("validation MSE", degrees,
                             [row[2] for row in r["rows"]])],
                     title="error against the polynomial's degree", logy=True,
                     xlabel="degree (capacity)", height=10)
    return [plot, table(f"validation picks degree {r['chosen']}; its test MSE is "
                        f"{r['test']:.4f}", ["degree", "training MSE",
                                             "validation MSE"], r["rows"], digits=3)]


def choose_weight_decay():
    rows = []
    for lam in [10.0 ** k for k in range(-8, 2)]:
        w = fit_polynomial(9, lam)
        rows.append((lam, mse(w, "train"), mse(w, "validation"),
                     float(np.linalg.norm(w))))
    best = min(rows, key=lambda r: r[2])
    return {"rows": rows, "lam": best[0],
            "test": mse(fit_polynomial(9, best[0]), "test"),
            "test_unregularised": mse(fit_polynomial(9), "test")}


def show_decay(r):
    return [table(f"degree 9 with L2 weight decay: validation picks lambda = "
                  f"{r['lam']:g}", ["lambda", "training MSE", "validation MSE",
                                    "|w|"], r["rows"], digits=3),
            table("", ["degree 9", "test MSE"],
                  [("lambda = 0", r["test_unregularised"]),
                   (f"lambda = {r['lam']:g} (chosen on validation)", r["test"])],
                  digits=4)]


LESSON = Lesson(
    number=20,
    title="Capacity: under- and overfitting, hyperparameters chosen on validation",
    lectures="004, 000",
    intro="""
    NPFL114 lecture 2 names the two ways a model can fail: underfitting (it cannot
    even fit the training data) and overfitting (it fits the training data, noise and
    all, and does worse on new data). Which one happens depends on the model's
    capacity, which we control; the lecture's pictures use polynomials of growing
    degree, and so do we. Ten noisy training points come from a quadratic; 200
    validation points and 200 test points come from the same source. Every fit is
    exact least squares (lesson 4), so what we see is capacity, not optimisation.
    """,
    steps=(
        Step("Too little, enough, too much", """
            A straight line (degree 1) cannot bend and misses the data everywhere:
            training error 0.47 and validation error 0.52, underfitting. Degree 2 has
            the truth's shape: 0.026 and 0.041, close to the noise variance 0.04.
            Degree 9 has ten coefficients for ten points, so it passes through every
            one of them (its training error is zero up to rounding) and swings
            between them: its validation error, 0.39, is nine times that of degree 2.
            """, three_capacities, show_three, also_show=(truth, make_split,
                                                          fit_polynomial, mse)),
        Step("Error against capacity", """
            Sweeping the degree from 0 to 9 gives the lecture's curve. The training
            error can only fall, because each model contains the one before. The
            validation error drops from 0.52 at degree 1 to 0.041 at degree 2, is
            lowest at degree 3 (0.039: with ten points the noise decides between 2 and
            3) and then climbs, to 0.67 at degree 8, as the extra capacity fits noise.
            (Degree 9, which passes through all ten points, happens to land lower, at
            0.39, still ten times the error of degree 3.) The degree is a
            hyperparameter: it is not learnt from the training set but chosen by the
            validation error.
            Only then is the test set touched, once, to report the chosen model.
            """, error_against_capacity, show_capacity),
        Step("Another hyperparameter: the weight decay", """
            Capacity need not come from the number of parameters. Keep degree 9 and
            add TU Graz ML1 lecture 8's L2 penalty to the mean squared error,
            lambda |w|^2; lambda trades data fit against small weights, and the
            lecture sets it on held-out data. Tiny lambda still overfits (validation
            error about 0.5); huge lambda flattens everything towards 0 and underfits.
            The validation error picks lambda = 0.01 in between, and the test error
            of degree 9 falls from 0.35 without the penalty to 0.054 with it, about
            as good as the 0.052 of the degree that validation chose in the step
            before.
            """, choose_weight_decay, show_decay),
    ),
)

if __name__ == "__main__":
    sys.exit(main_for(LESSON))
