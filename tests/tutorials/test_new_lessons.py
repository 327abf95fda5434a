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
    # the slide's constant, -m log sigma - m/2 log 2pi, has its signs flipped: it
    # misses the NLL by twice the constant, as the text says
    m, sse = len(ys), sum((y - w) ** 2 for y in ys)
    constant = m * math.log(s) + m / 2 * math.log(2 * math.pi)
    assert -constant + sse / (2 * s * s) == pytest.approx(direct - 2 * constant)
    assert abs(constant) > 1
    assert "-m log sigma - (m/2) log 2pi, signs flipped" in " ".join(text.split())
    assert "slide's formula" not in text
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


def test_lesson19_pull_and_push_add_in_opposite_orders():
    """The lesson's example of the two forms differing by rounding: x used by three
    products, whose shares 0.1, 0.2, 0.3 are added in opposite orders."""
    from scalargrad import Value
    from tutorials.lesson19_backprop_loop import LESSON, backprop

    x = Value(1.0)
    out = x * 0.1 + x * 0.2 + x * 0.3
    u, g = backprop(out)
    pushed = {node: 0.0 for node in u}
    pushed[out] = 1.0
    for node in reversed(u):  # the push loop of the lesson's third step
        for parent, local in zip(node.parents, node.local):
            pushed[parent] += pushed[node] * local
    assert dict(zip(u, g))[x] == 0.6 and pushed[x] == 0.6000000000000001
    text = " ".join(LESSON.steps[2].text.split())
    assert "pulling gives 0.6 and pushing 0.6000000000000001" in text


def test_lesson19_loop_on_a_shared_node_sums_over_children():
    """A node used twice (x * x + x) gets the sum over its children: 2x + 1."""
    from scalargrad import Value
    from tutorials.lesson19_backprop_loop import backprop

    x = Value(3.0)
    out = x * x + x
    u, g = backprop(out)
    assert dict(zip(u, g))[x] == 7.0


def test_lesson20_capacity_and_validation(run_lesson_quietly):
    (three, sweep, decay), _ = run_lesson_quietly(20)
    errors = {d: tuple(round(e, 3) for e in pair) for d, pair in three["errors"].items()}
    assert errors[1] == (0.475, 0.525) and errors[2] == (0.026, 0.041)
    assert three["errors"][9][0] < 1e-15 and round(three["errors"][9][1], 2) == 0.39
    train = [row[1] for row in sweep["rows"]]
    val = [row[2] for row in sweep["rows"]]
    # nested least-squares models: the training error never rises with the degree
    assert all(b <= a + 1e-15 for a, b in zip(train, train[1:]))
    assert sweep["chosen"] == 3 == int(np.argmin(val)) and round(val[3], 3) == 0.039
    assert round(val[8], 2) == 0.67 and round(sweep["test"], 3) == 0.052
    assert round(val[9], 2) == 0.39 and round(val[9] / val[3]) == 10 and val[9] < val[8]
    assert decay["lam"] == 0.01
    tiny, huge = decay["rows"][0], decay["rows"][-1]
    assert tiny[0] == 1e-8 and round(tiny[2], 1) == 0.5  # still overfits
    assert huge[1] > 0.5 and huge[2] > 0.3  # underfits
    assert round(decay["test_unregularised"], 2) == 0.35 and round(decay["test"], 3) == 0.054
    norms = [row[3] for row in decay["rows"]]
    assert all(b < a for a, b in zip(norms, norms[1:]))  # more decay, smaller weights


def test_lesson20_fit_matches_numpy_polyfit():
    from tutorials.lesson20_capacity import SPLITS, fit_polynomial

    x, y = SPLITS["train"]
    ours = fit_polynomial(2)
    reference = np.polynomial.polynomial.polyfit(x, y, 2)
    assert ours == pytest.approx(reference, abs=1e-10)


def test_lesson20_weight_decay_is_the_lectures_lambda():
    """TU Graz ML1 lecture 8 adds lambda |w|^2 to the MEAN loss: the fit minimises
    mean (a w - y)^2 + lambda |w|^2, whose gradient is 0 there. (The lesson used the
    sum of squares, so its lambda was ten times the lecture's.)"""
    from tutorials.lesson20_capacity import SPLITS, fit_polynomial

    x, y = SPLITS["train"]
    lam = 0.01
    w = fit_polynomial(9, lam)
    a = np.vander(x, 10, increasing=True)
    gradient = 2 * a.T @ (a @ w - y) / len(x) + 2 * lam * w
    assert np.abs(gradient).max() < 1e-10


def test_lesson21_initialization_and_preprocessing(run_lesson_quietly):
    (sym, scale, prep), _ = run_lesson_quietly(21)
    # equal start: the four hidden units stay exactly equal; noise breaks the tie
    assert sym["equal"]["spread"] == 0.0 and sym["noise"]["spread"] > 0.5
    assert round(sym["equal"]["loss"], 2) == 0.34 and round(sym["noise"]["loss"], 3) == 0.027
    std = scale["std"]
    assert std["0.5"][-1] < 1e-5 and 3 < std["0.5"][0] / std["0.5"][1] < 4
    assert round(std["sqrt(3)"][0], 2) == 0.63 and round(std["sqrt(3)"][-1], 2) == 0.24
    assert round(scale["saturated"]["6"][-1], 2) == 0.38
    tanh_gain = std["5/3 sqrt(3)"]
    assert all(0.645 <= v < 0.67 for v in tanh_gain[2:])
    assert scale["saturated"]["5/3 sqrt(3)"][-1] < 0.02
    assert round(scale["saturated"]["5/3 sqrt(3)"][0], 2) == 0.11  # wider inputs
    loss = {k: v[0] for k, v in prep["gd"].items()}
    cond = {k: v[1] for k, v in prep["gd"].items()}
    assert round(loss["raw"], 2) == 0.50 and f"{cond['raw']:.1e}" == "2.9e+11"
    assert round(cond["z-score"], 1) == 1.1 and round(cond["min-max"]) == 31
    assert loss["z-score"] < 0.0105 and loss["min-max"] < 0.011  # the noise level 0.01
    assert prep["test_range"]["min-max"][1] > 1.0  # train statistics on test data
    assert round(prep["outlier_spread"]["min-max"], 3) == 0.009
    assert round(prep["outlier_spread"]["z-score"], 3) == 0.031


def test_lesson21_step_limit_is_two_over_the_largest_curvature():
    """The text: from 2 over the largest curvature on, gradient descent diverges;
    1 over it (the lesson's step) converges."""
    from tutorials.lesson21_init_and_preprocessing import two_scales

    x, y = two_scales(200, seed=0)
    a = np.hstack([(x - x.mean(0)) / x.std(0), np.ones((200, 1))])
    top = np.linalg.eigvalsh(2 * a.T @ a / 200)[-1]

    def loss_after(step, steps=200):
        theta = np.zeros(3)
        for _ in range(steps):
            theta -= step * 2 * a.T @ (a @ theta - y) / 200
        return float(np.mean((a @ theta - y) ** 2))

    assert loss_after(1.0 / top) < 0.011
    assert loss_after(1.9 / top) < 0.011 and loss_after(2.1 / top) > 1e3


def test_lesson21_condition_number_is_the_curvature_ratio():
    from tutorials.lesson21_init_and_preprocessing import gradient_descent

    x = np.column_stack([np.linspace(-1, 1, 50), np.linspace(-1, 1, 50) ** 2])
    _, cond = gradient_descent(x, x[:, 0])
    a = np.hstack([x, np.ones((50, 1))])
    assert cond == pytest.approx(np.linalg.cond(a.T @ a), rel=1e-8)


def test_lesson22_step_sizes_minima_and_saddles(run_lesson_quietly):
    (conditions, minima, saddle, leaving), text = run_lesson_quietly(22)
    runs = {start: (end, loss) for start, end, loss in leaving["runs"]}
    assert runs[(0.0, 0.0)][0] == [0.0, 0.0]  # a zero gradient: it never moves
    assert round(runs[(0.0, 0.0)][1], 2) == 0.68
    for start in ((1e-3, 1e-3), (-1e-3, -1e-3), (1e-3, -1e-3)):
        (v, w), loss = runs[start]
        assert loss < 1e-5 and round(abs(v), 2) == 1.0 and round(abs(w), 2) == 1.49
    assert runs[(1e-3, 1e-3)][0][0] > 0 and runs[(-1e-3, -1e-3)][0][0] < 0
    assert conditions["1/k is the running mean"] < 1e-12
    assert round(conditions["mean"], 4) == 3.0063
    assert conditions["last"]["1/k"] == pytest.approx(conditions["mean"], abs=1e-12)
    assert round(conditions["tail_std"]["0.1"], 2) == 0.23
    # the stationary spread of w under a constant step: sqrt(eta / (2 - eta)) sigma
    assert conditions["tail_std"]["0.1"] == pytest.approx(math.sqrt(0.1 / 1.9), rel=0.15)
    assert conditions["tail_std"]["1/k^2"] < 1e-6 and round(conditions["last"]["1/k^2"], 3) == 3.087
    # "over the last 2000 steps it moves by less than 1.5e-6": the whole range, not the std
    frozen = np.asarray(conditions["paths"]["1/k^2"][-2000:])
    assert 1e-6 < np.ptp(frozen) < 1.5e-6
    assert "over the last 2000 steps it moves by less than 1.5e-6" in " ".join(text.split())
    ends = {w0: (round(w, 2), round(loss, 2)) for w0, (w, loss) in minima["runs"].items()}
    assert ends == {1.0: (0.1, 0.46), 2.5: (3.0, 0.0), 5.0: (5.37, 0.9)}
    assert saddle["loss_at_minima"] == (0.0, 0.0) and round(saddle["loss_at_0"], 2) == 0.68
    low, high = saddle["eigenvalues"]
    assert low < 0 < high and round(high, 2) == 1.87
    assert saddle["hessian"][0][1] == pytest.approx(saddle["closed_form_offdiagonal"], rel=1e-6)
    assert abs(saddle["hessian"][0][0]) < 1e-6 and abs(saddle["hessian"][1][1]) < 1e-6


def test_lesson23_disagreements_computed(run_lesson_quietly):
    (relu, dropout, eps, squared, softmax), _ = run_lesson_quietly(23)
    slopes = dict(relu["rows"])
    assert slopes["scalargrad"] == 0.0 and slopes["vecgrad"] == 0.0
    if relu["torch"]:
        assert slopes["PyTorch (installed here)"] == 0.0
    # dropout p = 0.2: the training mean is the keep probability 0.8, not p
    assert dropout["train_mean"] == pytest.approx(0.8, abs=0.005)
    assert dropout["test_times_keep"] == 0.8 and dropout["test_times_p"] == 0.2
    assert dropout["inverted_survivor"] == 1.25
    assert dropout["inverted_train_mean"] == pytest.approx(1.0, abs=0.01)
    steps = {row[0]: row[1:] for row in eps["rows"]}
    # closed forms of Adam's first step: s_hat = g, r_hat = g^2
    for g, (inside, outside, *torch_step) in steps.items():
        assert inside == pytest.approx(0.001 * g / math.sqrt(g * g + 1e-8), rel=1e-9)
        assert outside == pytest.approx(0.001 * g / (g + 1e-8), rel=1e-9)
        if torch_step:
            assert torch_step[0] == pytest.approx(outside, rel=1e-9)
    assert round(steps[1e-6][0], 7) == 1e-5 and round(steps[1e-6][1], 5) == 0.00099
    grads = list(squared["grads"].values())
    residual = np.array(squared["residual"])
    for grad, factor in zip(grads, (1.0, 2.0, 2.0 / 4)):
        assert grad == pytest.approx((factor * residual).tolist())
    assert softmax["min"] > 0 and softmax["max"] <= 1.0
    assert softmax["row_sums"] == pytest.approx([1.0, 1.0])
    assert f"{softmax['min']:.0e}" == "4e-44"
