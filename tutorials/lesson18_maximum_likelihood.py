"""Lesson 18: losses as maximum likelihood; binary cross-entropy and its gradient (004, 002, 003)."""

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
from tutorials.plot import Series, line_plot
from tutorials.views import table

# Eight measurements of a quantity, and a one-parameter model: predict y_hat = w.
YS = (2.1, 2.9, 3.2, 2.4, 3.8, 3.1, 2.6, 3.5)


def gaussian_nll(w, sigma):
    # -log of the product of normal densities N(y; w, sigma^2), summed
    total = 0.0
    for y in YS:
        density = (math.exp(-(y - w) ** 2 / (2 * sigma ** 2))
                   / math.sqrt(2 * math.pi * sigma ** 2))
        total -= math.log(density)
    return total


def mse_is_gaussian_nll():
    ws = [1.5 + 0.01 * k for k in range(301)]  # candidate predictions
    mse = [sum((y - w) ** 2 for y in YS) / len(YS) for w in ws]
    curves = {s: [gaussian_nll(w, s) for w in ws] for s in (0.5, 1.0)}
    best = {"MSE": ws[int(np.argmin(mse))]}
    best.update({f"NLL, sigma {s}": ws[int(np.argmin(c))]
                 for s, c in curves.items()})
    # in closed form: NLL = m log sigma + m/2 log 2pi + SSE / (2 sigma^2)
    m, w, s = len(YS), 2.5, 0.5
    sse = sum((y - w) ** 2 for y in YS)
    by_formula = (m * math.log(s) + m / 2 * math.log(2 * math.pi)
                  + sse / (2 * s * s))
    return {"ws": ws, "mse": mse, "nll": curves, "best": best,
            "mean": sum(YS) / m, "nll_direct": gaussian_nll(w, s),
            "nll_formula": by_formula}


def show_mse(r):
    series = [Series("MSE", r["ws"], r["mse"], "cyan")]
    series += [Series(f"NLL / m, sigma = {s}", r["ws"],
                      [v / len(YS) for v in c]) for s, c in r["nll"].items()]
    rows = [(name, w) for name, w in r["best"].items()]
    rows.append(("the mean of the eight y", r["mean"]))
    return [line_plot(series, title="three losses of the prediction w",
                      xlabel="w", height=10),
            table("where each loss is smallest", ["loss", "best w"], rows, digits=4),
            table("", ["at w = 2.5, sigma = 0.5", "value"],
                  [("-sum log N(y; w, sigma^2), density by density", r["nll_direct"]),
                   ("m log sigma + m/2 log 2pi + SSE / (2 sigma^2)",
                    r["nll_formula"])], digits=10)]


def entropy(p):
    return -sum(pk * math.log(pk) for pk in p if pk > 0)


def cross_entropy(p, q):
    return -sum(pk * math.log(qk) for pk, qk in zip(p, q) if pk > 0)


def kl_divergence(p, q):
    return sum(pk * math.log(pk / qk) for pk, qk in zip(p, q) if pk > 0)


def cross_entropy_is_nll_and_kl():
    labels = [0, 2, 1, 0, 0, 2, 1, 0, 2, 0]  # ten training labels
    q = [0.6, 0.1, 0.3]                     # the model's probabilities
    nll = -sum(math.log(q[y]) for y in labels) / len(labels)
    p_data = [labels.count(c) / len(labels) for c in range(3)]
    return {"p_data": p_data, "q": q, "nll": nll,
            "H(p, q)": cross_entropy(p_data, q), "H(p)": entropy(p_data),
            "KL(p || q)": kl_divergence(p_data, q),
            "best_q_nll": cross_entropy(p_data, p_data)}


def show_kl(r):
    rows = [("mean -log q(label) over the ten labels", r["nll"]),
            ("cross-entropy H(p_data, q)", r["H(p, q)"]),
            ("entropy H(p_data)", r["H(p)"]),
            ("KL(p_data || q)", r["KL(p || q)"]),
            ("H(p_data) + KL(p_data || q)", r["H(p)"] + r["KL(p || q)"]),
            ("the NLL with q = p_data (the best possible)", r["best_q_nll"])]
    return [table(f"p_data = {r['p_data']}, q = {r['q']}", ["quantity", "value"],
                  rows, digits=8)]


def bce_gradient():
    rows = []
    for a, y in ((2.0, 1.0), (2.0, 0.0), (-0.5, 1.0), (0.0, 0.0)):
        av = Value(a)
        s = av.sigmoid()
        # the AD lecture's l(a, y), written out
        loss = -(y * s.log() + (1 - y) * (1 - s).log())
        loss.backward()
        f64 = vecgrad.float64
        logit = vecgrad.tensor([a], dtype=f64, requires_grad=True)
        target = vecgrad.tensor([y], dtype=f64)
        F.binary_cross_entropy_with_logits(logit, target).backward()
        rows.append((a, y, loss.data, av.grad, logit.grad.item(),
                     s.data - y))
    return {"rows": rows}


def show_bce(r):
    return [table("binary cross-entropy l(a, y) and its slope in the logit a",
                  ["a", "y", "l(a, y)", "dl/da scalargrad", "dl/da vecgrad",
                   "sigmoid(a) - y"], r["rows"], digits=6)]


LESSON = Lesson(
    number=18,
    title="Losses as maximum likelihood; binary cross-entropy's gradient",
    lectures="004, 002, 003, 000",
    intro="""
    Where do the squared error and the cross-entropy come from? NPFL114 lecture 2
    answers: both are negative log-likelihoods. Pick a probability model of the target,
    ask for the parameters under which the training data are most probable, take -log
    of that product, and the loss appears. We check the two cases of the lecture with
    numbers, then the binary cross-entropy of ELTE ML lecture 6 and the AD lecture, whose
    gradient with respect to the logit is simply sigmoid(a) - y.
    """,
    steps=(
        Step("Squared error is a Gaussian negative log-likelihood", """
            Model each measurement as y ~ N(w, sigma^2) with a fixed sigma. The negative
            log-likelihood of the eight y is m log sigma + (m/2) log 2pi +
            sum (y - w)^2 / (2 sigma^2): a constant plus the squared error times a
            positive factor. So the w that makes the data most probable is the one with
            the smallest squared error, whatever sigma is: here all three curves bottom
            out at w = 2.95, the mean of the y. sigma changes the curve's height and
            steepness, not where its minimum is. The two rows at the bottom compute the
            NLL density by density and from this closed form. (The slide prints the
            constant as -m log sigma - (m/2) log 2pi, signs flipped: -log of
            1/sqrt(2 pi sigma^2) is +log sigma + (1/2) log 2pi. A constant moves no
            minimum, so its conclusion stands.)
            """, mse_is_gaussian_nll, show_mse, also_show=(gaussian_nll,)),
        Step("Cross-entropy is a negative log-likelihood, and a KL divergence", """
            For classes, the model gives probabilities q(c). The mean negative log
            probability of the true labels is the cross-entropy H(p_data, q) between
            the labels' own frequencies p_data and q. NPFL114 lecture 2 splits it once
            more: H(p_data, q) = H(p_data) + KL(p_data || q). The entropy of the data
            does not depend on the model, so minimising the cross-entropy is
            minimising the KL divergence; the KL divergence is 0 only at q = p_data,
            where the NLL equals the entropy, 1.0297 here.
            """, cross_entropy_is_nll_and_kl, show_kl,
             also_show=(entropy, cross_entropy, kl_divergence)),
        Step("Binary cross-entropy: the gradient is sigmoid(a) - y", """
            For a label y in {0, 1} and a logit a, the AD lecture writes
            l(a, y) = -y log sigmoid(a) - (1 - y) log(1 - sigmoid(a)): the NLL of a
            Bernoulli variable with probability sigmoid(a). Its slope is
            dl/da = sigmoid(a) - y, the prediction minus the label, exactly like
            softmax's p - onehot (lesson 8). scalargrad differentiates the formula as
            written; vecgrad's `binary_cross_entropy_with_logits` computes it in a form
            that never takes log(0). Note the sign: ELTE ML lecture 6 prints
            t log y + (1 - t) log(1 - y) without the minus, which is the log-likelihood
            itself (to be maximised); as a loss to minimise it needs the minus.
            """, bce_gradient, show_bce),
    ),
)

if __name__ == "__main__":
    sys.exit(main_for(LESSON))
