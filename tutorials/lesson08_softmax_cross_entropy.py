"""Lesson 8: softmax and cross-entropy; the gradient softmax - onehot; subtract the max."""

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
from scalargrad import Value

from tutorials.framework import Lesson, Step, main_for
from tutorials.views import table, vector

LOGITS = (2.0, 1.0, 0.1)
LABEL = 0


def softmax_by_hand(logits):
    exps = [math.exp(a) for a in logits]
    total = sum(exps)
    return [e / total for e in exps]


def gradient_with_vecgrad():
    a = vecgrad.tensor([LOGITS], dtype=vecgrad.float64, requires_grad=True)
    labels = vecgrad.tensor([LABEL], dtype=vecgrad.int64)
    loss = F.cross_entropy(a, labels)  # -log softmax(a)[label]
    loss.backward()
    probs = softmax_by_hand(LOGITS)
    onehot = [1.0 if k == LABEL else 0.0 for k in range(len(LOGITS))]
    return {"probs": probs, "loss": loss.item(),
            "grad": a.grad.numpy()[0].tolist(),
            "softmax_minus_onehot": [p - o for p, o in zip(probs, onehot)]}


def show_gradient(r):
    return [table("logits (2, 1, 0.1), true class 0", ["quantity", "value"],
                  [("softmax(a)", vector(r["probs"])),
                   ("CE = -log softmax(a)_0", r["loss"]),
                   ("dCE/da from backward()", vector(r["grad"])),
                   ("softmax(a) - onehot(0)", vector(r["softmax_minus_onehot"]))])]


def gradient_with_scalargrad():
    a = [Value(v) for v in LOGITS]
    # The AD lecture's form: l(a, y) = -a_y + log sum_k exp(a_k)
    total = a[0].exp() + a[1].exp() + a[2].exp()
    loss = -a[LABEL] + total.log()
    loss.backward()
    return {"loss": loss.data, "grad": [v.grad for v in a]}


def show_scalar(r):
    return [table("", ["", "value"], [("CE", r["loss"]),
                                      ("dCE/da", vector(r["grad"]))])]


def naive_versus_stable():
    big = [1000.0, 999.0, 998.0]
    with np.errstate(over="ignore", invalid="ignore"):
        exps = np.exp(np.array(big))           # overflows to inf
        naive = exps / exps.sum()              # inf / inf = nan
    shifted = np.array(big) - max(big)          # largest logit becomes 0
    stable = np.exp(shifted) / np.exp(shifted).sum()
    t = vecgrad.tensor([big], dtype=vecgrad.float64, requires_grad=True)
    loss = F.cross_entropy(t, vecgrad.tensor([0], dtype=vecgrad.int64))
    loss.backward()
    return {"naive": naive.tolist(), "stable": stable.tolist(),
            "vecgrad_softmax": F.softmax(t, axis=-1).numpy()[0].tolist(),
            "vecgrad_loss": loss.item(),
            "vecgrad_grad": t.grad.numpy()[0].tolist(),
            "small": softmax_by_hand([2.0, 1.0, 0.0])}


def show_stable(r):
    return [table("logits (1000, 999, 998)", ["method", "result"],
                  [("exp, then normalise", vector(r["naive"])),
                   ("subtract the max first", vector(r["stable"])),
                   ("vecgrad F.softmax", vector(r["vecgrad_softmax"])),
                   ("softmax(2, 1, 0) for comparison", vector(r["small"])),
                   ("vecgrad cross-entropy, class 0", r["vecgrad_loss"]),
                   ("its gradient", vector(r["vecgrad_grad"]))])]


def batch_mean():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 5))
    labels = np.array([3, 0, 4, 1])
    a = vecgrad.tensor(logits, dtype=vecgrad.float64, requires_grad=True)
    y = vecgrad.tensor(labels, dtype=vecgrad.int64)
    F.cross_entropy(a, y).backward()
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = (probs - np.eye(5)[labels]) / len(labels)
    return {"max_gap": float(np.abs(a.grad.numpy() - expected).max()),
            "row_sums": a.grad.numpy().sum(axis=1).tolist()}


def show_batch(r):
    return [table("a batch of 4 examples, 5 classes", ["check", "value"],
                  [("max |grad - (softmax - onehot) / 4|", r["max_gap"]),
                   ("each row of the gradient sums to", vector(r["row_sums"], 3))])]


LESSON = Lesson(
    number=8,
    title="Softmax and cross-entropy: the gradient softmax - onehot",
    lectures="000, 003",
    intro="""
    A classifier's last layer outputs one score (logit) per class; softmax turns the
    scores into probabilities and cross-entropy charges -log of the probability of the
    true class. TU Graz ML1 lecture 8 derives the gradient with respect to the logits in two cases
    and finds one formula: **softmax(a) - onehot(y)**. We check it, and see why every
    implementation subtracts the largest logit before exponentiating.
    """,
    steps=(
        Step("The gradient is softmax minus onehot", """
            For logits (2, 1, 0.1) and true class 0, vecgrad's `cross_entropy` backward
            pass gives softmax(a) - (1, 0, 0) to within rounding (1e-16): the true
            class is pushed up by 1 - p_0, every other class down by its probability.
            """, gradient_with_vecgrad, show_gradient, also_show=(softmax_by_hand,)),
        Step("The same with scalars", """
            The AD lecture writes the loss as -a_y + log sum_k exp(a_k). Built from scalar
            Values, its gradient is the same vector.
            """, gradient_with_scalargrad, show_scalar),
        Step("Why subtract the max", """
            exp(1000) does not fit in a float, so the textbook formula turns into
            inf / inf = nan. Softmax does not change when the same number is subtracted
            from every logit, so subtracting the largest one makes every exponent <= 0:
            nothing overflows, and the result is softmax(2, 1, 0), as it should be.
            """, naive_versus_stable, show_stable),
        Step("Batches average", """
            With a batch, the loss is the mean over examples, so each row of the
            gradient is (softmax - onehot) / batch size. Each row sums to zero, because
            probabilities and the one-hot vector both sum to one.
            """, batch_mean, show_batch),
    ),
)

if __name__ == "__main__":
    sys.exit(main_for(LESSON))
