"""Lessons built on vecgrad reproduce their lectures' numbers when run straight through."""

import math

import numpy as np
import pytest


def _sigmoid(x):
    return 1 / (1 + math.exp(-x))


def test_lesson03_four_methods_agree(run_lesson_quietly):
    (hand, scalar, vector, numeric, together), _ = run_lesson_quietly(3)
    expected_loss = math.log(1 + math.exp(-0.5))
    expected_grad = -(1 - _sigmoid(0.5))
    assert hand["s"] == 0.5
    assert expected_loss == pytest.approx(0.474077, abs=1e-6)
    assert expected_grad == pytest.approx(-0.377541, abs=1e-6)
    for r in (hand, scalar, vector, numeric):
        assert r["loss"] == pytest.approx(expected_loss, abs=1e-12)
        assert r["grad"] == pytest.approx([expected_grad] * 3, abs=1e-9)
    assert together["max_gap"] < 1e-9
    assert set(together["grad"]) == {"by hand", "scalargrad", "vecgrad", "numerical"}
    # 'the two autograd engines to rounding error, finite differences to about 1e-10'
    gap = together["gap"]
    assert gap["scalargrad"] < 1e-15 and gap["vecgrad"] < 1e-15
    assert 1e-11 < gap["numerical"] < 3e-10
    # 'three products, two sums, a sigmoid, a log and a negation' (x's entries are
    # the other leaves)
    from collections import Counter

    from scalargrad.graph import topological_order

    ops = Counter(node.op for node in topological_order(scalar["root"]))
    assert ops == {"": 6, "*": 3, "+": 2, "sigmoid": 1, "log": 1, "neg": 1}


def test_lesson04_least_squares_and_ridge(run_lesson_quietly):
    (ls, ridge, sgd, why), _ = run_lesson_quietly(4)
    r = 3 - (0.5 * 1 - 0.25 * 2 + 0.1)  # residual at the lesson's point = 2.9
    assert ls["r"] == pytest.approx(r) and ls["loss"] == pytest.approx(r * r)
    assert ls["backprop"]["dl/dr"] == pytest.approx(2 * r)
    assert ls["backprop"]["dl/dy_hat"] == pytest.approx(-2 * r)
    assert ls["backprop"]["dl/db"] == pytest.approx(-2 * r)
    assert ls["backprop"]["dl/dw"] == pytest.approx([-2 * r, -4 * r])
    assert ridge["backprop"]["dJ/dw"] == pytest.approx(
        [-2 * r + 2 * 0.1 * 0.5, -4 * r + 2 * 0.1 * -0.25])
    assert ridge["backprop"]["dJ/db"] == pytest.approx(-2 * r)
    # SGD lands near the normal-equation solutions (computed with numpy in the lesson;
    # here checked against the known generating weights for least squares).
    assert sgd["w_ls"] == pytest.approx([2.0, -3.0, 0.5], abs=0.05)
    assert np.abs(np.subtract(sgd["w_sgd"], sgd["w_ls"])).max() < 0.02
    assert abs(sgd["b_sgd"] - sgd["b_ls"]) < 0.02
    assert np.abs(np.subtract(sgd["w_ridge_sgd"], sgd["w_ridge"])).max() < 0.05
    assert np.linalg.norm(sgd["w_ridge"]) < np.linalg.norm(sgd["w_ls"])
    assert sgd["losses"][-1] < sgd["losses"][0] / 10
    # the numbers the explanation quotes
    assert why["gap"]["least squares"] < 0.002 and 0.015 < why["gap"]["ridge"] < 0.03
    assert round(why["batch_gradient"]["least squares"], 2) == 0.12
    assert round(why["batch_gradient"]["ridge"], 1) == 1.6
    # 'each one has size 1.6 on average (0.6 to 2.8)': the spread is shown too
    low, high = why["batch_gradient_range"]["ridge"]
    assert round(low, 1) == 0.6 and round(high, 1) == 2.8
    # 'more epochs close the gap: after 120 epochs ... within 0.002'
    assert why["gap_after_120_epochs"] < 0.002 < why["gap"]["ridge"] / 10
    from tutorials.lesson04_least_squares import LESSON

    text = " ".join(LESSON.steps[3].text.split())
    assert "size 1.6 on average (0.6 to 2.8)" in text and "within 0.002" in text


def test_lesson04_running_mean_uses_twenty_losses():
    from tutorials.lesson04_least_squares import show_sgd

    losses = [float(k) for k in range(40)]
    fake = {"losses": losses, "w_sgd": [0, 0, 0], "b_sgd": 0, "w_ls": [0, 0, 0],
            "b_ls": 0, "w_ridge_sgd": [0, 0, 0], "b_ridge_sgd": 0, "w_ridge": [0, 0, 0],
            "b_ridge": 0, "lam": 0.5}
    plot = show_sgd(fake)[0]
    smooth = plot.series[0].ys
    assert smooth[39] == sum(range(20, 40)) / 20  # the last 20 values, not 21
    assert smooth[0] == 0.0


def test_lesson07_three_engines_agree(run_lesson_quietly):
    (fwd, jac, scalar, vector, together), _ = run_lesson_quietly(7)
    assert scalar["loss"] == pytest.approx(fwd["loss"], abs=1e-12)
    assert vector["loss"] == pytest.approx(fwd["loss"], abs=1e-12)
    assert together["max_gap"] < 1e-12
    assert scalar["nodes"] == 142
    # the text's breakdown of the 142: 49 leaves (weights, biases, inputs), 72
    # products and sums, 10 activations, 11 for the loss
    from collections import Counter

    from scalargrad.graph import topological_order

    nodes = topological_order(scalar["root"])
    ops = Counter(node.op for node in nodes)
    assert 3 * 4 + 4 * 4 + 4 * 2 + 4 + 4 + 2 + 3 == 49
    assert ops["tanh"] + ops["relu"] + ops["identity"] == 10
    loss_nodes = 4 + ops["-"] + ops["**2"] + 2 + 1  # constants, -, **2, sums, * 1/2
    assert ops[""] == 49 + 4 and ops["-"] == ops["**2"] == 2
    assert ops["*"] + ops["+"] == 72 + 3 and loss_nodes == 11
    assert 49 + 72 + 10 + loss_nodes == len(nodes) == 142
    # Independent check of one Jacobian product: the output-layer weight gradient is
    # the outer product of (y_hat - t) and h2, with t from the lesson's seeded draw.
    from tutorials.lesson07_mlp_matrix_form import make_parameters

    _, _, _, target = make_parameters()
    assert jac["grads"]["w3"] == pytest.approx(np.outer(fwd["y_hat"] - target, fwd["h2"]))


def test_lesson08_softmax_minus_onehot(run_lesson_quietly):
    (vec, scalar, stable, batch), _ = run_lesson_quietly(8)
    e = [math.exp(a) for a in (2.0, 1.0, 0.1)]
    p = [v / sum(e) for v in e]
    expected = [p[0] - 1, p[1], p[2]]
    assert vec["grad"] == pytest.approx(expected, abs=1e-12)
    # 'to within rounding (1e-16)' (the lesson said 'exactly'; 1e-17 off here)
    gap = max(abs(g - e) for g, e in zip(vec["grad"], vec["softmax_minus_onehot"]))
    assert gap < 1e-16
    assert scalar["grad"] == pytest.approx(expected, abs=1e-12)
    assert vec["loss"] == pytest.approx(-math.log(p[0]), abs=1e-12)
    assert all(math.isnan(v) for v in stable["naive"])
    small = [math.exp(-k) / sum(math.exp(-j) for j in range(3)) for k in range(3)]
    assert stable["stable"] == pytest.approx(small, abs=1e-12)
    assert stable["vecgrad_softmax"] == pytest.approx(small, abs=1e-12)
    assert stable["vecgrad_loss"] == pytest.approx(-math.log(small[0]), abs=1e-12)
    assert stable["vecgrad_grad"] == pytest.approx([small[0] - 1, small[1], small[2]])
    assert batch["max_gap"] < 1e-12
    assert batch["row_sums"] == pytest.approx([0.0] * 4, abs=1e-12)


def test_lesson09_three_hidden_units_fit_all_four_shapes(run_lesson_quietly):
    results, _ = run_lesson_quietly(9)
    assert len(results) == 4
    for r in results:
        assert len(r["x"]) == 50 and r["units"].shape == (50, 3)
        variance = float(np.var(r["y"]))
        # far better than the best constant (whose MSE is the variance)
        assert r["mse"] < 0.05 * variance
        assert r["mse"] == pytest.approx(float(np.mean((r["fit"] - r["y"]) ** 2)))
    square, sine, absolute, step = results
    assert square["y"] == pytest.approx(square["x"] ** 2)
    assert sine["x"].max() == pytest.approx(math.pi)
    assert square["mse"] < 1e-3 and absolute["mse"] < 5e-3
    # what the text says of each fit's hidden units, read back from the results
    sine_units = _sigmoid_units(sine)
    assert all(w < 0 for w, _, _ in sine_units)  # all three fall from left to right
    rises = sorted(centre for w, centre, out in sine_units if out < 0)
    assert len(rises) == 2 and round(rises[0], 1) == -0.7 and round(rises[1], 1) == 0.6
    (slow, _, out), = [u for u in sine_units if u[2] > 0]
    assert abs(slow) < 1 and out > 5  # a slow fall with a large positive weight
    abs_units = sorted(_sigmoid_units(absolute), key=lambda u: u[0])
    assert round(abs_units[0][1], 1) == -0.5 and abs_units[0][0] < 0  # falls at -0.5
    assert round(abs_units[2][1], 1) == 0.5 and abs_units[2][0] > 0  # rises at 0.5
    assert np.ptp(absolute["units"], axis=0).min() < 0.1  # the third hardly changes
    assert _worst_points(absolute, 2) == sorted(np.argsort(np.abs(absolute["x"]))[:2])
    step_weights = sorted(abs(w) for w, _, _ in _sigmoid_units(step))
    assert round(step_weights[-1]) == 15 and 1 < step_weights[-2] < 10
    assert all(abs(c) < 0.05 for w, c, _ in _sigmoid_units(step) if abs(w) > 1)
    errors = (step["fit"] - step["y"]) ** 2
    share = errors[_worst_points(step, 2)].sum() / errors.sum()
    assert _worst_points(step, 2) == [24, 25] and round(share * 3) == 2  # two thirds


def _sigmoid_units(r):
    """(input weight, centre, output weight) of each logistic hidden unit of a lesson 9
    fit: its logit is linear in x, and the fit is linear in the units."""
    units, x = r["units"], r["x"]
    design = np.column_stack([units, np.ones(len(x))])
    out = np.linalg.lstsq(design, r["fit"], rcond=None)[0]
    assert design @ out == pytest.approx(r["fit"], abs=1e-9)
    found = []
    for k in range(units.shape[1]):
        w, b = np.polyfit(x, np.log(units[:, k] / (1 - units[:, k])), 1)
        found.append((float(w), float(-b / w), float(out[k])))
    return found


def _worst_points(r, n):
    return sorted(np.argsort((r["fit"] - r["y"]) ** 2)[-n:].tolist())


def test_lesson10_optimizers_and_adam_formulas(run_lesson_quietly):
    (momentum, adaptive, longer, adam, batches), _ = run_lesson_quietly(10)
    from tutorials.lesson10_optimizers import START as START_W10
    from tutorials.lesson10_optimizers import make_problem

    x, y = make_problem()
    best = np.linalg.lstsq(x, y, rcond=None)[0]
    best_loss = float(np.mean((x @ best - y) ** 2))
    for runs in (momentum, adaptive):
        for name, r in runs.items():
            assert len(r["path"]) == 61, name
            assert r["losses"][-1] < r["losses"][0] / 100, name
            assert r["losses"][-1] >= best_loss - 1e-12, name
    # momentum reaches the far end of the valley sooner than plain gradient descent
    gd, mom = momentum["gradient descent"], momentum["momentum 0.9"]
    assert abs(mom["path"][-1][1] - best[1]) < abs(gd["path"][-1][1] - best[1])
    # AdaGrad's first step is lr = 1 per coordinate only up to eps under the root; the
    # text quotes the flat coordinate's step as it is
    from tutorials.lesson10_optimizers import LESSON

    first = np.subtract(adaptive["AdaGrad"]["path"][1], adaptive["AdaGrad"]["path"][0])
    assert first == pytest.approx([1.0, 1.0], abs=1e-6) and first[1] != 1.0
    adaptive_text = " ".join(LESSON.steps[1].text.split())
    assert f"{abs(first[1]):.8f} along the flat one" in adaptive_text
    assert "exactly" not in adaptive_text
    # the start is off the diagonal: the adaptive paths differ from the first steps
    paths = [np.asarray(r["path"][1:6]) for r in adaptive.values()]
    assert np.abs(paths[0] - paths[2]).max() > 0.05 and np.abs(paths[1] - paths[2]).max() > 0.05
    # Adam ends worst at 60 steps, swinging past the minimum, and settles later
    assert max(adaptive, key=lambda n: adaptive[n]["losses"][-1]) == "Adam"
    assert longer["lowest_early"] + 1 == 42 and round(longer["lowest_early_loss"], 4) == 0.0094
    assert round(longer["at_60"], 3) == 0.026 and longer["settled"] + 1 == 106
    assert longer["final"] == pytest.approx(best_loss, rel=1e-3)
    # the text's 5% is of the least-squares minimum, and it quotes that minimum
    assert longer["minimum"] == pytest.approx(best_loss, rel=1e-12)
    assert f"within 5% of the minimum loss {best_loss:.5f} only from step 106" in " ".join(
        LESSON.steps[2].text.split())
    assert adam["gap_corrected"] < 1e-12
    # lecture 004's alpha_t form, eps under the root as on the slide (the lesson had
    # the Adam paper's sqrt(r) + eps): written out here once more
    theta, s, r = np.array(START_W10), np.zeros(2), np.zeros(2)
    for t in range(1, 26):
        g = 2 * x.T @ (x @ theta - y) / len(y)
        s, r = 0.9 * s + 0.1 * g, 0.999 * r + 0.001 * g * g
        theta = theta - 0.1 * math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * s / np.sqrt(r + 1e-8)
    assert adam["alpha_t_form"] == pytest.approx(theta.tolist(), abs=1e-14)
    assert f"{adam['gap_alpha_t']:.0e}" == "2e-05"  # the gap the text quotes
    assert batches["updates"] == {1: 300, 10: 30, 100: 3}
    assert batches["final"][1] < batches["final"][10] < batches["final"][100]
    assert round(batches["final"][1], 4) == 0.0065 and round(batches["final"][10], 2) == 0.11
    assert round(batches["final"][100], 1) == 4.8


def test_lesson11_sigmoid_gradients_vanish_relu_ones_do_not(run_lesson_quietly):
    (norms, slopes), _ = run_lesson_quietly(11)
    assert len(norms["sigmoid"]) == len(norms["relu"]) == 10
    assert norms["sigmoid_first_over_last"] < 1e-4
    assert 0.1 < norms["relu_first_over_last"] < 10
    # the numbers the text quotes
    sigmoid, relu = norms["sigmoid"], norms["relu"]
    assert 1e6 < sigmoid[-1] / sigmoid[0] < 1e7
    assert f"{sigmoid[0]:.0e}" == "9e-08" and round(sigmoid[-1], 2) == 0.13
    assert max(relu) / min(relu) < 4
    assert round(min(relu), 1) == 2.7 and round(max(relu), 1) == 9.4
    # sigma'(a) <= 1/4 everywhere; ReLU's mean slope is the fraction of active units
    assert all(0 < s <= 0.25 for s in slopes["sigmoid"])
    assert all(0.3 < s < 0.7 for s in slopes["relu"])


def test_lesson12_regularization(run_lesson_quietly):
    (penalties, weights, dropout, stopping), _ = run_lesson_quietly(12)
    zeros = penalties["near_zero"]
    assert zeros == {"none": 2, "L2": 1, "L1": 14}
    informative = {2: 3.0, 7: -2.0, 13: 1.5}
    # none of them informative, and L2's one is not pinned at 0 but crossed it
    for p, w in penalties["weights"].items():
        assert not {k for k, v in enumerate(w) if abs(v) < 0.01} & set(informative), p
    w1 = (penalties["weights"]["none"][1], penalties["weights"]["L2"][1])
    assert w1[0] < -0.05 and 0 < w1[1] < 0.01
    for k, v in informative.items():  # the informative weights survive L1
        assert abs(penalties["weights"]["L1"][k] - v) < 0.5
    norm = penalties["norm"]
    assert round(norm["none"], 2) == 3.86 and round(norm["L2"], 2) == 3.26
    # L2 shrinks the norm but not every weight: the numbers the lesson quotes
    grew = weights["grew_under_L2"]
    assert len(grew) == 10 and 5 in grew and 14 in grew
    w = weights["weights"]
    assert round(w["none"][5], 3) == 0.016 and round(w["L2"][5], 3) == -0.231
    assert round(w["none"][14], 3) == -0.039 and round(w["L2"][14], 3) == -0.100
    assert round(w["none"][7], 2) == -1.88 and round(w["L2"][7], 2) == -1.51
    assert round(weights["corr_with_x7"][5], 2) == 0.38
    assert dropout["dropped"] == pytest.approx(0.5, abs=0.02)
    assert dropout["kept_value"] == 2.0
    assert dropout["train_mean"] == pytest.approx(1.0, abs=0.04)
    assert dropout["test_identical"] and dropout["module_eval_identical"]
    train, val, best = (np.asarray(stopping["train"]), np.asarray(stopping["val"]),
                        stopping["best_epoch"])
    assert np.all(np.diff(train) < 0)  # the training loss falls at every epoch
    assert best == 231 and np.all(np.diff(val[best:]) > 0)  # then only rises
    # before that it rises twice: 0.199 -> 0.240 over epochs 15..28, a little near 65
    rising = np.flatnonzero(np.diff(val[:best]) > 0)
    assert rising.tolist() == list(range(15, 28)) + list(range(60, 70))
    assert round(val[15], 3) == 0.199 and round(val[28], 3) == 0.240
    assert val[70] - val[60] < 0.002
    assert round(stopping["best_val"], 3) == 0.137 and round(stopping["last_val"], 3) == 0.179
    assert stopping["best_val"] == min(stopping["val"])
    assert stopping["checkpoint_epoch"] == stopping["best_epoch"]
    assert stopping["restored_val"] == pytest.approx(stopping["best_val"], abs=1e-12)


def _correlate(image, kernel):
    """Plain 'valid' cross-correlation, the reference for lesson 13."""
    k = kernel.shape[0]
    n = image.shape[0] - k + 1
    return np.array([[np.sum(image[i:i + k, j:j + k] * kernel) for j in range(n)]
                     for i in range(n)])


def test_lesson13_convolution_three_ways(run_lesson_quietly):
    (slide, cols, vec, channels, device), text = run_lesson_quietly(13)
    expected = _correlate(slide["image"], slide["kernel"])
    assert slide["out"].shape == (6, 6)
    assert np.array_equal(slide["out"], expected)
    assert slide["out"][0].tolist() == [0, 0, 4, 4, 0, 0]  # the edge, Sobel weight 1+2+1
    out = slide["out"]
    assert np.all(out[:, 3] == 4) and np.all(out[:3, 2] == 4)  # the edge
    assert np.all(out[3:, 0] > 0) and np.all(out[3:, 1] < 0)  # the bar's two ends
    assert np.all(out[:3, :2] == 0) and np.all(out[:, 4:] == 0)  # flat areas
    assert cols["patches_shape"] == (36, 9) and cols["same_as_sliding"]
    assert np.allclose(vec["out"], expected, atol=1e-12)
    assert np.allclose(vec["kernel_grad"], vec["patch_sum"], atol=1e-12)
    assert channels["out_shape"] == (1, 6, 28, 28)  # the lecture's 32 - 5 + 1
    assert channels["products_per_entry"] == 75 and channels["weights"] == 450
    assert channels["multiply_adds"] == 6 * 28 * 28 * 75
    assert channels["entry"] == pytest.approx(channels["by_hand"], abs=1e-12)
    assert "__kernel void im2col" in device["source"]
    if device["reason"] is None:
        assert device["device"].startswith("opencl")
        assert device["max_difference"] < 1e-5
    else:
        assert "No OpenCL device here" in text


def test_lesson13_and_14_continue_on_cpu_without_opencl(run_lesson_quietly, monkeypatch):
    from tutorials import devices

    monkeypatch.setattr(devices, "opencl_device", lambda: (None, "RuntimeError: none"))
    results, text = run_lesson_quietly(13)
    assert results[-1]["device"] == "cpu" and results[-1]["reason"] == "RuntimeError: none"
    assert "No OpenCL device here (RuntimeError: none); the lesson continues on cpu." \
        in " ".join(text.split())
    results, text = run_lesson_quietly(14)
    assert results[-1]["device"] == "cpu"
    assert results[-1]["opencl_missing"] == "RuntimeError: none"
    assert "trained on cpu instead" in " ".join(text.split())


def test_lesson14_digits_train_on_cpu_and_opencl(run_lesson_quietly):
    (data, cpu, device), _ = run_lesson_quietly(14)
    assert data["sizes"] == {"train": 1258, "validation": 269, "test": 270}
    assert sum(data["sizes"].values()) == 1797
    assert data["range"][0] >= 0 and data["range"][1] <= 16
    assert len(cpu["train_loss"]) == 5
    assert cpu["train_loss"][-1] < cpu["train_loss"][0] / 2
    assert cpu["test_accuracy"] > 0.9  # chance is 0.1; the lesson says over 90%
    confusion = np.asarray(cpu["confusion"])
    assert confusion.sum() == 270
    assert np.trace(confusion) / 270 == pytest.approx(cpu["test_accuracy"])
    if device["opencl_missing"] is None:
        assert device["device"].startswith("opencl")
        assert device["loss_gap"] < 1e-4
        from vecgrad.backends import get_backend

        info = get_backend(device["device"]).runtime.info  # (was: "device" in it, always)
        assert device["device_kind"] == f"{info.type} device {info.name!r} ({info.platform})"


def test_lesson14_quotes_the_lectures_mnist_numbers():
    """TU Graz ML1 lecture 8's SGD example: batch size 100, '600 batches per epoch'."""
    import re

    from tutorials.lesson14_digits import LESSON

    text = " ".join(LESSON.steps[1].text.split())
    batches, images = re.search(r"([\d,]+) batches an epoch .*?all ([\d,]+) training images",
                                text).groups()
    assert int(batches) == 600 and int(images.replace(",", "")) == 600 * 100
    # ours: ceil(1258 / 100) updates with the lecture's batch size
    assert "1258 of them: batches of 100 would give only 13 updates" in text


def test_lesson14_names_the_opencl_device_it_trained_on(monkeypatch):
    """With several OpenCL devices, the line under the table describes the one chosen
    ($VECGRAD_DEVICE=opencl:1:0), not whichever plain "opencl" would pick."""
    from types import SimpleNamespace

    from tutorials import devices, lesson14_digits

    def fake_train(device, epochs, seed=0):
        return {"device": device, "seconds": 0.0, "train_loss": [1.0, 0.5]}

    def fake_backend(name):
        info = SimpleNamespace(type="GPU", name=f"card behind {name}", platform="test")
        return SimpleNamespace(runtime=SimpleNamespace(info=info))

    monkeypatch.setattr(devices, "opencl_device", lambda: ("opencl:1:0", None))
    monkeypatch.setattr(lesson14_digits, "train", fake_train)
    monkeypatch.setattr(lesson14_digits, "get_backend", fake_backend)
    result = lesson14_digits.train_on_opencl()
    assert result["device"] == "opencl:1:0"
    assert result["device_kind"] == "GPU device 'card behind opencl:1:0' (test)"
