"""Lesson 23: where the lectures disagree with each other or with PyTorch (000, 002, 003, 004)."""

from __future__ import annotations

import importlib
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
from scalargrad import Value
from vecgrad.optim import Adam

from tutorials.framework import Lesson, Step, main_for
from tutorials.views import table

F64 = vecgrad.float64


def torch_or_none():
    """PyTorch when it is installed (it is no dependency of gradlab)."""
    try:
        return importlib.import_module("torch")
    except ImportError:
        return None


def relu_slope_at_zero():
    x = Value(0.0)
    x.relu().backward()
    t = vecgrad.tensor([0.0], dtype=F64, requires_grad=True)
    t.relu().sum().backward()
    rows = [("TU Graz ML1 lecture 8: 1(x > 0)", 0.0),
            ("ELTE ML lecture 6's table: 1 for x >= 0", 1.0),
            ("NPFL114 lecture 2: 1 if x >= 0, 0 if x <= 0", "both"),
            ("scalargrad", x.grad), ("vecgrad", t.grad.item())]
    torch = torch_or_none()
    if torch is not None:
        tx = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        torch.relu(tx).sum().backward()
        rows.append(("PyTorch (installed here)", tx.grad.item()))
    return {"rows": rows, "torch": torch is not None}


def show_relu(r):
    return [table("relu'(0)", ["source", "relu'(0)"], r["rows"])]


def dropout_scale(p=0.2, n=100_000):
    rng = np.random.default_rng(0)
    keep = rng.random(n) >= p              # each unit survives with 1 - p
    train_mean = float(np.mean(keep * 1.0))  # inputs all 1, no rescaling
    vecgrad.manual_seed(0)
    ones = vecgrad.ones(n, dtype=F64)
    inverted = F.dropout(ones, p=p, training=True).numpy()
    return {"p": p, "train_mean": train_mean,
            "test_times_keep": 1.0 * (1 - p), "test_times_p": 1.0 * p,
            "inverted_train_mean": float(inverted.mean()),
            "inverted_survivor": float(inverted[inverted > 0][0])}


def show_dropout(r):
    p = r["p"]
    return [table(f"dropout with p = {p} (the probability of dropping) on ones",
                  ["", "mean output"],
                  [("training, no rescaling (the lecture's scheme)", r["train_mean"]),
                   (f"test, outputs times 1 - p = {1 - p:g}", r["test_times_keep"]),
                   (f"test, outputs times p = {p:g}", r["test_times_p"]),
                   ("training, inverted dropout (vecgrad, PyTorch)",
                    r["inverted_train_mean"]),
                   ("  value of each survivor, 1 / (1 - p)",
                    r["inverted_survivor"])], digits=5)]


def adam_first_step(gradient, eps_inside_sqrt):
    w = vecgrad.tensor([1.0], dtype=F64, requires_grad=True)
    optimizer = Adam([w], lr=0.001, eps_inside_sqrt=eps_inside_sqrt)
    (w * gradient).sum().backward()      # dL/dw = gradient
    optimizer.step()
    return 1.0 - w.item()                # the length of the step taken


def epsilon_placement():
    rows = []
    torch = torch_or_none()
    for g in (1.0, 1e-3, 1e-6, 1e-9):
        inside = adam_first_step(g, eps_inside_sqrt=True)
        outside = adam_first_step(g, eps_inside_sqrt=False)
        row = [g, inside, outside]
        if torch is not None:
            w = torch.ones(1, dtype=torch.float64, requires_grad=True)
            opt = torch.optim.Adam([w], lr=0.001, eps=1e-8)
            (w * g).sum().backward()
            opt.step()
            row.append(1.0 - w.item())
        rows.append(tuple(row))
    return {"rows": rows, "torch": torch is not None}


def show_epsilon(r):
    header = ["gradient", "sqrt(r + eps) (NPFL114)", "sqrt(r) + eps"]
    if r["torch"]:
        header.append("torch.optim.Adam")
    return [table("length of Adam's first step, lr = 0.001, eps = 1e-8", header,
                  r["rows"], digits=4)]


def three_squared_errors():
    y = np.array([1.0, 2.0, 0.5, -1.0])
    pred = np.array([1.5, 1.0, 0.0, -0.5])
    losses, grads = {}, {}
    forms = {
        "1/2 |y - a|^2 (the AD lecture)": lambda d: 0.5 * (d * d).sum(),
        "sum (f - y)^2 (NPFL114 lecture 2)": lambda d: (d * d).sum(),
        "1/N sum |y - t|^2 (ELTE ML lecture 6)": lambda d: (d * d).mean(),
    }
    for name, form in forms.items():
        a = vecgrad.tensor(pred, dtype=F64, requires_grad=True)
        loss = form(a - vecgrad.tensor(y, dtype=F64))
        loss.backward()
        losses[name], grads[name] = loss.item(), a.grad.numpy().tolist()
    return {"losses": losses, "grads": grads,
            "residual": (pred - y).tolist()}


def show_squared(r):
    rows = [(name, r["losses"][name], str([round(g, 4) for g in r["grads"][name]]))
            for name in r["losses"]]
    return [table(f"prediction minus target = {r['residual']}",
                  ["squared error as written", "value", "gradient"], rows)]


def softmax_range():
    logits = vecgrad.tensor([[50.0, 0.0, -50.0], [0.0, 0.0, 0.0]],
                            dtype=F64)
    p = F.softmax(logits, axis=1).numpy()
    return {"p": p.tolist(), "min": float(p.min()), "max": float(p.max()),
            "row_sums": p.sum(axis=1).tolist()}


def show_softmax(r):
    return [table("softmax of (50, 0, -50) and of (0, 0, 0)",
                  ["", "value"],
                  [("probabilities", str([[float(f"{v:.3g}") for v in row]
                                          for row in r["p"]])),
                   ("smallest", r["min"]), ("largest", r["max"]),
                   ("row sums", str(r["row_sums"]))])]


LESSON = Lesson(
    number=23,
    title="Where the lectures disagree, with each other or with PyTorch",
    lectures="000, 002, 003, 004",
    intro="""
    Five courses written by different people do not agree on every detail, and neither
    do they always agree with PyTorch. A student who switches between them should know
    where, and whether it matters. Each difference below is computed, not just told;
    where PyTorch is installed (it is not a dependency of this project) its numbers
    appear beside ours.
    """,
    steps=(
        Step("relu'(0): 0, 1 or both", """
            ReLU has no derivative at 0 (lesson 6), so each source picks a value. TU
            Graz ML1 lecture 8 writes 1(x > 0), which is 0 at 0; ELTE ML lecture 6's
            table has 1 for x >= 0; NPFL114 lecture 2 lists 1 for x >= 0 and 0 for
            x <= 0, both at x = 0. scalargrad, vecgrad and PyTorch use 0. It matters
            only for inputs exactly at 0, rare in float arithmetic, but it decides
            whether a unit with zero input learns at all.
            """, relu_slope_at_zero, show_relu, also_show=(torch_or_none,)),
        Step("Dropout's test-time factor is the keep probability", """
            TU Graz ML1 lecture 8 says that at test time "outputs are scaled by dropout
            probability". If p is the probability of *dropping* a unit, as it is in
            the lecture's p = 0.5 and in PyTorch, the factor that keeps test outputs
            equal to the training average is the probability of *keeping* it, 1 - p.
            With p = 0.5 the two readings coincide, which hides the difference; with
            p = 0.2 a unit's training output averages 0.8, matched by 1 - p and missed
            by p. vecgrad, like PyTorch, rescales during training instead (inverted
            dropout): survivors are multiplied by 1/(1 - p) = 1.25, the training
            average is already 1, and the test pass changes nothing.
            """, dropout_scale, show_dropout),
        Step("Epsilon inside or outside the square root", """
            NPFL114 lecture 2 writes AdaGrad, RMSProp and Adam with the step
            alpha / sqrt(r + eps); the Adam paper and PyTorch use
            alpha / (sqrt(r) + eps). vecgrad follows the lecture by default and takes
            `eps_inside_sqrt=False` for PyTorch's form. For ordinary gradients the two
            agree (Adam's first step is alpha = 0.001 either way). For tiny ones they
            do not: with eps = 1e-8 inside the root, the step shrinks in proportion to
            the gradient once it falls below sqrt(eps) = 1e-4, while outside it keeps
            the full length down to gradients of about eps. A gradient of 1e-6 moves the
            weight 1e-5 in the lecture's form and 0.00099 in PyTorch's, 99 times more.
            """, epsilon_placement, show_epsilon, also_show=(adam_first_step,)),
        Step("Three squared errors, one minimum", """
            The AD lecture's squared error carries a factor 1/2, NPFL114 lecture 2's
            none, ELTE ML lecture 6's averages over the N examples. The gradients
            differ by the same constant factors (here 1, 2 and 2/N = 1/2), so all three
            have their minimum at the same place, but a learning rate tuned for one is
            off by that factor for another. vecgrad's `F.mse_loss`, like PyTorch's,
            is the mean.
            """, three_squared_errors, show_squared),
        Step("Softmax lies in (0, 1), not [-1, 1]", """
            ELTE ML lecture 6's softmax slide says it "transforms the data into the
            range [-1, 1]". Its outputs are exponentials divided by their sum: always
            positive, at most 1, summing to 1. Even logits 100 apart give a smallest
            probability of about 4e-44, not a negative number. The same lecture prints
            its binary and multi-class cross-entropy without the leading minus sign
            (lesson 18): read as log-likelihoods to maximise, they are right.
            """, softmax_range, show_softmax),
    ),
)

if __name__ == "__main__":
    sys.exit(main_for(LESSON))
