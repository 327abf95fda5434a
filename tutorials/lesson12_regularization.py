"""Lesson 12: overfitting and regularization: L2 vs L1, dropout, early stopping (000)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tutorials.standalone import leave_quietly_on_ctrl_c
    leave_quietly_on_ctrl_c()  # Ctrl-C during the imports below: no traceback

import numpy as np

import vecgrad
import vecgrad.nn.functional as F
from vecgrad import nn
from vecgrad.optim import SGD, Adam

from tutorials.framework import Lesson, Step, main_for
from tutorials.plot import Series, bar_chart, line_plot
from tutorials.views import table

INFORMATIVE = {2: 3.0, 7: -2.0, 13: 1.5}  # the only features that matter


def sparse_problem(n=40, d=20, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    w_true = np.zeros(d)
    for k, v in INFORMATIVE.items():
        w_true[k] = v
    y = x @ w_true + 0.5 * rng.normal(size=n)
    return x, y


def fit_with_penalty(penalty, lam=0.1, steps=1000, lr=0.02):
    x_np, y_np = sparse_problem()
    x = vecgrad.tensor(x_np, dtype=vecgrad.float64)
    y = vecgrad.tensor(y_np, dtype=vecgrad.float64)
    w = vecgrad.zeros(x_np.shape[1], dtype=vecgrad.float64,
                      requires_grad=True)
    optimizer = SGD([w], lr=lr)
    for _ in range(steps):
        loss = F.mse_loss(x @ w, y)
        if penalty == "L2":
            loss = loss + lam * F.l2_penalty([w])   # lambda |w|_2^2
        elif penalty == "L1":
            loss = loss + lam * F.l1_penalty([w])   # lambda |w|_1
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return w.numpy()


def l2_versus_l1():
    weights = {p: fit_with_penalty(p) for p in ("none", "L2", "L1")}
    near_zero = {p: int(np.sum(np.abs(w) < 0.01))
                 for p, w in weights.items()}
    norm = {p: float(np.linalg.norm(w)) for p, w in weights.items()}
    grew = [k for k in range(len(weights["none"]))
            if abs(weights["L2"][k]) > abs(weights["none"][k])]
    return {"weights": {p: w.tolist() for p, w in weights.items()},
            "near_zero": near_zero, "norm": norm, "grew_under_L2": grew}


def show_penalties(r):
    rows = [(p, r["norm"][p], r["near_zero"][p]) for p in ("none", "L2", "L1")]
    return [table("", ["penalty", "norm |w|", "weights with |w| < 0.01 (of 20)"],
                  rows, digits=3),
            bar_chart([f"w{k}" for k in sorted(INFORMATIVE)],
                      [abs(r["weights"]["L2"][k]) for k in sorted(INFORMATIVE)],
                      title="|w| of the informative weights with L2", color="cyan")]


def every_weight():
    r = l2_versus_l1()
    x, _ = sparse_problem()
    # how strongly each feature moves with feature 7 in these 40 examples
    with_x7 = np.corrcoef(x.T)[7]
    return {**r, "corr_with_x7": with_x7.tolist()}


def show_every_weight(r):
    w = r["weights"]
    rows = [(f"w{k}" + ("*" if k in INFORMATIVE else ""), w["none"][k],
             w["L2"][k], w["L1"][k],
             "grew" if k in r["grew_under_L2"] else "",
             r["corr_with_x7"][k])
            for k in range(len(w["none"]))]
    return [table("every weight (* = informative)", ["weight", "none", "L2", "L1",
                  "|w| under L2", "corr. with x7"], rows, digits=3)]


def dropout_in_numbers():
    vecgrad.manual_seed(0)
    x = vecgrad.ones(10000, dtype=vecgrad.float64)
    train = F.dropout(x, p=0.5, training=True).numpy()
    test = F.dropout(x, p=0.5, training=False).numpy()
    layer = nn.Dropout(0.5)
    layer.eval()  # a module switches with train() / eval()
    return {"dropped": float(np.mean(train == 0)),
            "kept_value": float(train[train != 0][0]),
            "train_mean": float(train.mean()),
            "test_identical": bool(np.array_equal(test, x.numpy())),
            "module_eval_identical": bool(np.array_equal(layer(x).numpy(),
                                                          x.numpy()))}


def show_dropout(r):
    return [table("dropout with p = 0.5 on 10,000 ones", ["", "value"],
                  [("fraction set to 0 (training)", r["dropped"]),
                   ("value of the survivors", r["kept_value"]),
                   ("mean after dropout", r["train_mean"]),
                   ("unchanged at test time", str(r["test_identical"])),
                   ("nn.Dropout in eval() mode unchanged",
                    str(r["module_eval_identical"]))])]


def noisy_sine(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, size=(n, 1))
    return x, np.sin(x) + 0.3 * rng.normal(size=(n, 1))


def early_stopping(epochs=400, folder=None):
    vecgrad.manual_seed(0)
    x_tr, y_tr = (vecgrad.tensor(a, dtype=vecgrad.float64)
                  for a in noisy_sine(20, seed=1))
    x_va, y_va = (vecgrad.tensor(a, dtype=vecgrad.float64)
                  for a in noisy_sine(100, seed=2))
    f64 = vecgrad.float64
    model = nn.Sequential(nn.Linear(1, 32, dtype=f64), nn.Tanh(),
                          nn.Linear(32, 32, dtype=f64), nn.Tanh(),
                          nn.Linear(32, 1, dtype=f64))
    optimizer = Adam(model.parameters(), lr=0.001)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        best_path = Path(tmp) / "best.npz"
        train_curve, val_curve, best = [], [], (float("inf"), -1)
        for epoch in range(epochs):
            loss = F.mse_loss(model(x_tr), y_tr)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with vecgrad.no_grad():
                val = F.mse_loss(model(x_va), y_va).item()
            train_curve.append(loss.item())
            val_curve.append(val)
            if val < best[0]:  # a new minimum: save a checkpoint
                best = (val, epoch)
                vecgrad.save({"model": model.state_dict(), "epoch": epoch},
                             best_path)
        last_val = val_curve[-1]
        checkpoint = vecgrad.load(best_path)
        model.load_state_dict(checkpoint["model"])  # back to the best epoch
        with vecgrad.no_grad():
            restored = F.mse_loss(model(x_va), y_va).item()
    return {"train": train_curve, "val": val_curve, "best_val": best[0],
            "best_epoch": best[1], "last_val": last_val,
            "restored_val": restored,
            "checkpoint_epoch": checkpoint["epoch"]}


def show_early_stopping(r):
    epochs = list(range(len(r["train"])))
    return [line_plot([Series("training loss", epochs, r["train"], "cyan"),
                       Series("validation loss", epochs, r["val"], "magenta"),
                       Series("best epoch", [r["best_epoch"]], [r["best_val"]],
                              "white", points=True)],
                      title="20 training points, 100 validation points", logy=True,
                      xlabel="epoch", height=12),
            table("", ["", "value"],
                  [("best validation loss", r["best_val"]),
                   ("at epoch", r["best_epoch"]),
                   ("validation loss after the last epoch", r["last_val"]),
                   ("after restoring the checkpoint", r["restored_val"])])]


LESSON = Lesson(
    number=12,
    title="Overfitting and regularization: L2 vs L1, dropout, early stopping",
    lectures="000",
    intro="""
    A network with many parameters can memorise a small training set, noise included,
    and then do worse on new data. TU Graz ML1 lecture 8 lists three defences: a penalty on the
    weights (L2 or L1), dropout, and early stopping with checkpoints. We try each one.
    """,
    steps=(
        Step("L2 vs L1: sparsity", """
            Twenty input features, of which only three (w2, w7, w13) influence the
            target, and only 40 noisy examples. Both penalties are added to the mean
            squared error with lambda = 0.1. L2 shrinks the weight vector as a whole
            (its norm falls from 3.86 to 3.26) and pulls the large weights in, but it
            sets no useless weight to zero: they stay scattered around it (one lands
            below 0.01 by chance, as two do without a penalty). The L1 penalty's
            gradient has the same size however small a weight is, so it pushes 14 of
            the 17 useless weights below 0.01 and keeps the informative ones.
            """, l2_versus_l1, show_penalties, also_show=(sparse_problem,
                                                           fit_with_penalty)),
        Step("L2 vs L1: every weight", """
            L2 does *not* shrink every weight: in this run ten of the seventeen small
            weights grow, w5 from 0.016 to -0.231 and w14 from -0.039 to -0.100. The
            penalty only asks for a small sum of squares, and the twenty weights are
            fitted together. With 40 examples the features are correlated by chance;
            x5 moves with x7 (correlation 0.38). As L2 pulls w7 from -1.88 to -1.51, a
            negative w5 gives back part of what w7 no longer provides, and it is cheap
            in the penalty: 0.231^2 = 0.05, against the 1.88^2 - 1.51^2 = 1.25 that w7
            saves.
            """, every_weight, show_every_weight),
        Step("Dropout", """
            During training, dropout zeroes each unit with probability p. vecgrad, like
            PyTorch, scales the survivors by 1/(1 - p) at training time (inverted
            dropout), so the expected value is unchanged and the network runs untouched
            at test time. TU Graz ML1 lecture 8 scales at test time instead; the factor
            that gives the same expectations is the probability of *keeping* a unit,
            1 - p. The slide says "scaled by dropout probability", which with p = 0.5
            is the same number; lesson 23 shows the difference at p = 0.2.
            """, dropout_in_numbers, show_dropout),
        Step("Early stopping with a checkpoint", """
            A 1-32-32-1 tanh network trained on 20 noisy points of a sine, full batch,
            with Adam at its default step 0.001 (a step of 0.01 makes the training loss
            itself jump up and down). The training loss falls at every one of the 400
            epochs. The validation loss, on 100 fresh points, falls too, but not at
            every epoch: it climbs from 0.199 to 0.240 between epochs 15 and 28 (and a
            little around epoch 65), so stopping at its first rise would stop far too
            early. It bottoms out at epoch 231 and then rises at every epoch, to
            0.179 against its best 0.137: from there on the network fits the noise of
            its 20 points. Whenever the validation loss reaches a new minimum we save a
            checkpoint (in a temporary folder); at the end we load the best one back.
            """, early_stopping, show_early_stopping, also_show=(noisy_sine,)),
    ),
)

if __name__ == "__main__":
    sys.exit(main_for(LESSON))
