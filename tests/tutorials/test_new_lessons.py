"""Lessons 18 and up (the lecture topics the first fifteen left out): every number the
explanations quote, checked against closed forms computed here."""

import math

import numpy as np
import pytest


def _sigmoid(a):
    return 1 / (1 + math.exp(-a))


def test_lesson18_losses_are_negative_log_likelihoods(run_lesson_quietly):
    (mse, kl, bce), text = run_lesson_quietly(18)
    ys = (2.1, 2.9, 3.2, 2.4, 3.8, 3.1, 2.6, 3.5)
    mean = sum(ys) / len(ys)
    assert mean == pytest.approx(2.95)
    for name, w in mse["best"].items():  # every loss is smallest at the mean
        assert w == pytest.approx(mean, abs=0.005), name
    # the Gaussian NLL from scipy-free closed form: sum of -log densities
    w, s = 2.5, 0.5
    direct = sum(0.5 * math.log(2 * math.pi * s * s) + (y - w) ** 2 / (2 * s * s) for y in ys)
    assert mse["nll_direct"] == pytest.approx(direct, rel=1e-12)
    assert mse["nll_formula"] == pytest.approx(direct, rel=1e-12)
    # cross-entropy = entropy + KL, and the entropy the text quotes
    p, q = [0.5, 0.2, 0.3], [0.6, 0.1, 0.3]
    assert kl["p_data"] == p and kl["q"] == q
    h = -sum(pk * math.log(pk) for pk in p)
    assert round(h, 4) == 1.0297 and kl["H(p)"] == pytest.approx(h)
    assert kl["nll"] == pytest.approx(-sum(pk * math.log(qk) for pk, qk in zip(p, q)))
    assert kl["H(p, q)"] == pytest.approx(kl["H(p)"] + kl["KL(p || q)"], rel=1e-12)
    assert kl["KL(p || q)"] > 0 and kl["best_q_nll"] == pytest.approx(h)
    # binary cross-entropy: slope sigmoid(a) - y, from both engines
    for a, y, loss, d_scalar, d_vec, closed in bce["rows"]:
        expected = _sigmoid(a) - y
        assert closed == pytest.approx(expected, abs=1e-15)
        assert d_scalar == pytest.approx(expected, abs=1e-12)
        assert d_vec == pytest.approx(expected, abs=1e-12)
        assert loss == pytest.approx(-math.log(_sigmoid(a) if y == 1 else 1 - _sigmoid(a)))
    assert "ELTE ML lecture 6" in text


def test_lesson19_the_loop_reproduces_the_worked_example(run_lesson_quietly):
    (numbered, loop, push), text = run_lesson_quietly(19)
    assert numbered["n"] == 31 and numbered["ordered"]
    assert numbered["rows"][-1][1] == "**2" and numbered["rows"][-1][3] == 9.0
    # NPFL114 lecture 2's numbers, from the loop alone
    assert loop["w"] == [-6.0, -12.0, 0.0, 0.0, 12.0, 24.0, 24.0, 0.0, 30.0]
    assert loop["x"] == [0.0, 18.0]
    assert loop["gap"] == 0.0
    assert push["w"] == loop["w"] and push["gap"] == 0.0


def test_lesson19_loop_on_a_shared_node_sums_over_children():
    """A node used twice (x * x + x) gets the sum over its children: 2x + 1."""
    from scalargrad import Value
    from tutorials.lesson19_backprop_loop import backprop

    x = Value(3.0)
    out = x * x + x
    u, g = backprop(out)
    assert dict(zip(u, g))[x] == 7.0
