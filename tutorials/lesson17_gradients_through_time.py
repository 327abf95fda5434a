"""Lesson 17: exploding and vanishing gradients through time, and gradient clipping
(lecture 001: "high curvature: high gradient magnitude - gradient clipping")."""

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
from vecgrad import nn, optim
from vecgrad.data import sine_next
from vecgrad.nn.utils import clip_grad_norm_, clip_grad_value_

from tutorials.framework import Lesson, Step, main_for
from tutorials.plot import Series, line_plot

STEPS, HIDDEN = 40, 16
RADII = (0.5, 1.0, 2.5)  # how strongly W_hh stretches the state: its singular values


def rnn_cell(radius, seed=0):
    """A tanh RNN cell; its recurrent matrix is radius times a rotation."""
    vecgrad.manual_seed(seed)
    cell = nn.RNNCell(1, HIDDEN, dtype=vecgrad.float64)
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((HIDDEN, HIDDEN)))
    with vecgrad.no_grad():
        cell.weight_hh.copy_(vecgrad.tensor(radius * q))
    return cell


def gradient_per_step(radius):
    """Unroll the cell over STEPS inputs; the loss reads only the last
    state. Returns |dL/dh_t| for every step t."""
    cell = rnn_cell(radius)
    rng = np.random.default_rng(1)
    x = vecgrad.tensor(rng.standard_normal((STEPS, 4, 1)))
    h = vecgrad.zeros(4, HIDDEN, dtype=vecgrad.float64)
    states = []
    for t in range(STEPS):
        h = cell(x[t], h)
        h.retain_grad()  # keep dL/dh_t although h_t is not a leaf
        states.append(h)
    h.sum().backward()
    return [float(np.linalg.norm(s.grad.numpy())) for s in states]


def through_time():
    norms = {radius: gradient_per_step(radius) for radius in RADII}
    return {"norms": norms,
            "first_over_last": {r: n[0] / n[-1] for r, n in norms.items()}}


def show_through_time(r):
    colors = ("magenta", "yellow", "red")
    series = [Series(f"W_hh = {radius} x rotation", list(range(STEPS)), r["norms"][radius],
                     color=color) for radius, color in zip(RADII, colors)]
    return [line_plot(series, logy=True, title="|dL/dh_t| per time step (log scale)",
                      xlabel="time step t (the loss reads step 39)", ylabel="|dL/dh_t|"),
            "first step / last step:  " + "   ".join(
                f"{radius}: {ratio:.1e}" for radius, ratio in r["first_over_last"].items())]


def factor_per_step():
    """Backward multiplies by J_t = W_hhᵀ diag(1 - h_t²) once per step:
    the geometric mean of the factor by which the norm changes per step
    (|J_t| <= radius bounds it)."""
    result = {}
    for radius in RADII:
        norms = gradient_per_step(radius)
        ratios = [a / b for a, b in zip(norms[:-1], norms[1:])]
        result[radius] = math.exp(np.mean(np.log(ratios)))
    return {"geometric_mean_factor": result}


def show_factor(r):
    return ["radius   mean factor per step back in time"] + [
        f"{radius:>6}   {factor:.3f}" for radius, factor in r["geometric_mean_factor"].items()]


def train(clip, lr=0.5, steps=80, seed=0):
    """Full-batch SGD on next-step prediction of noisy sine waves; `clip`
    caps the gradient norm (None: none). Stops if the loss blows up."""
    inputs, targets = sine_next(n=128, steps=20, seed=3)
    x = vecgrad.tensor(inputs, dtype=vecgrad.float64)
    y = vecgrad.tensor(targets, dtype=vecgrad.float64)
    vecgrad.manual_seed(seed)
    rnn = nn.RNN(1, HIDDEN, batch_first=True, dtype=vecgrad.float64)
    head = nn.Linear(HIDDEN, 1, dtype=vecgrad.float64)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = optim.SGD(params, lr=lr)
    losses, norms = [], []
    for _ in range(steps):
        out, _ = rnn(x)
        loss = F.mse_loss(head(out[:, -1]), y)
        opt.zero_grad()
        loss.backward()
        # the norm before clipping (max_norm=inf: measure, change nothing)
        norm = clip_grad_norm_(params, clip or math.inf).item()
        losses.append(loss.item())
        norms.append(norm)
        if not math.isfinite(norm) or loss.item() > 1e6:
            break  # diverged: further steps would only overflow
        opt.step()
    return {"losses": losses, "norms": norms}


def with_and_without_clipping():
    plain, clipped = train(None), train(1.0)
    steps = len(plain["losses"])  # the last one blew up, if fewer than 80
    return {"plain": plain, "clipped": clipped,
            "plain_diverged_at": steps - 1 if steps < 80 else None,
            "clipped_final": clipped["losses"][-1],
            "start": clipped["losses"][0]}


def show_clipping(r):
    p, c = r["plain"], r["clipped"]
    return [line_plot([Series("no clipping", list(range(len(p["norms"]))), p["norms"],
                              color="red"),
                       Series("clip_grad_norm_ 1.0", list(range(len(c["norms"]))), c["norms"],
                              color="green")],
                      logy=True, title="gradient norm before clipping, per training step",
                      xlabel="training step", ylabel="|g|"),
            line_plot([Series("no clipping", list(range(len(p["losses"]))), p["losses"],
                              color="red"),
                       Series("clip_grad_norm_ 1.0", list(range(len(c["losses"]))),
                              c["losses"], color="green")],
                      logy=True, title="training loss (log scale)", xlabel="training step"),
            f"without clipping the run blew up at step {r['plain_diverged_at']} (loss "
            f"{p['losses'][-1]:.2g}); with "
            f"clipping the loss went from {r['start']:.3f} to {r['clipped_final']:.4f}"]


def norm_versus_value():
    """One gradient clipped two ways; the cosine with the original says
    whether its direction survived."""
    rng = np.random.default_rng(4)
    # entries of very different sizes, a few of them large
    g = rng.standard_normal(50) * np.geomspace(0.01, 10, 50)
    results = {}
    for name in ("clip_grad_norm_", "clip_grad_value_"):
        p = vecgrad.zeros(50, dtype=vecgrad.float64, requires_grad=True)
        p.grad = vecgrad.tensor(g.copy())
        if name == "clip_grad_norm_":
            clip_grad_norm_([p], 1.0)
        else:
            # the same budget, spread over the 50 entries
            clip_grad_value_([p], 1.0 / math.sqrt(50))
        clipped = p.grad.numpy()
        size = np.linalg.norm(clipped)
        cosine = float(g @ clipped / (np.linalg.norm(g) * size))
        results[name] = {"norm": float(size), "cosine": cosine}
    return results


def show_norm_versus_value(r):
    return ["method              |clipped|   cosine with the gradient"] + [
        f"{name:<18}  {v['norm']:>9.4f}   {v['cosine']:.4f}" for name, v in r.items()]


LESSON = Lesson(
    number=17,
    title="Exploding and vanishing gradients through time; gradient clipping",
    lectures="001, 002",
    intro="""
    A recurrent network applies the same cell at every time step, so backpropagation
    through time multiplies by the same recurrent matrix once per step. The vanishing
    gradients of ELTE ML lecture 6 come back, now along time instead of depth, together with
    their opposite. The NYU CDS lecture names the remedy for the second: where the loss
    surface curves sharply the gradient is huge, and **gradient clipping** caps the
    length of the step. (Lesson 11 showed the first remedy for vanishing gradients,
    ReLU; for recurrent networks the LSTM's additive cell state plays that part.)
    """,
    steps=(
        Step("Unroll the cell and look at every step", """
            One tanh RNN cell (16 units) runs over 40 inputs; the loss reads only the
            last state. retain_grad() keeps dL/dh_t at every step. We set the recurrent
            matrix to a rotation times 0.5, 1 and 2.5. Shrinking by 0.5 per step, the
            gradient that reaches the first step is more than ten orders of magnitude
            smaller than at the last: nothing is learnt from early inputs (vanishing).
            Stretching by 2.5, it is tens of thousands of times larger (exploding).
            """, through_time, show_through_time, also_show=(rnn_cell, gradient_per_step)),
        Step("A factor per step", """
            Going one step back multiplies the gradient by W_hhᵀ diag(1 − h_t²). A
            rotation keeps lengths, so its size is at most the radius; tanh's slope
            (at most 1) can only shrink it further. The geometric mean of the measured
            per-step factors sits at or below each radius: below 1 the product vanishes,
            above 1 it explodes until tanh saturates.
            """, factor_per_step, show_factor),
        Step("Training: the cliff, and what clipping does", """
            The same small RNN learns to predict the next value of noisy sine waves with
            full-batch SGD and a learning rate of 0.5. Without clipping the gradient's
            norm grows from 0.9 to 10 in four steps and to 189 at the fifth; each
            long step lands the weights on a steeper part of the loss, and at step 8
            (counted from 0, as on the plots) the loss passes a million and the run
            stops. clip_grad_norm_(params, 1.0) rescales every gradient longer than 1
            to length 1 (keeping its direction), so no step is longer than lr · 1, and
            the same run trains.
            """, with_and_without_clipping, show_clipping, also_show=(train,)),
        Step("Clip the norm, not the values", """
            clip_grad_value_ clamps each entry instead. Both limit the step, but clamping
            cuts the large entries and keeps the small ones, so the clipped gradient
            points elsewhere (here the cosine with the original is about 0.5); clipping
            the norm only shortens it (cosine 1).
            """, norm_versus_value, show_norm_versus_value),
    ),
)

if __name__ == "__main__":
    sys.exit(main_for(LESSON))
