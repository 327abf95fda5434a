"""Lessons built on scalargrad reproduce their lectures' numbers when run straight through."""

import math

import pytest


def test_lesson01_graph(run_lesson_quietly):
    (fwd, bwd, trace, check), text = run_lesson_quietly(1)
    assert fwd["q"] == 3.0 and fwd["f"] == -12.0
    assert [o[0] for o in fwd["order"]][-1] == "f"
    assert bwd["grads"] == {"x": -4.0, "y": -4.0, "z": 3.0, "q": -4.0, "f": 1.0}
    assert trace["grads"] == {"x": -4.0, "y": -4.0, "z": 3.0}
    # the node-by-node walk: f sends q*... to its parents, then q passes -4 on
    assert ("f", 1.0, "z", 3.0, 3.0) in trace["steps"]
    assert ("q", -4.0, "x", 1.0, -4.0) in trace["steps"]
    assert check["numeric"] == pytest.approx([-4.0, -4.0, 3.0], abs=1e-6)
    # the steps the table shows are the ones numerical_grad took: redo x's quotient
    assert check["steps"] == pytest.approx([2e-6, 5e-6, 4e-6], rel=1e-15)
    h = check["steps"][0]
    assert check["numeric"][0] == ((-2.0 + h + 5.0) * -4.0 - (-2.0 - h + 5.0) * -4.0) / (2 * h)
    assert "h = 1e-6 for inputs of size up to 1" in text
    assert check["backprop"] == [-4.0, -4.0, 3.0]
    assert "End of lesson 1." in text


def test_lesson02_chain_rule(run_lesson_quietly):
    (rules, paths, explosion), text = run_lesson_quietly(2)
    assert "four local rules" in text
    assert rules["add"] == (5.0, 5.0)
    assert rules["function"] == pytest.approx(5 * math.e, rel=1e-15)
    assert rules["multiply"] == (-15.0, 10.0)
    assert rules["branch"] == 15.0
    a = 1.5  # c = a^2 sin a + 3a, so dc/da = 2a sin a + a^2 cos a + 3
    exact = 2 * a * math.sin(a) + a * a * math.cos(a) + 3
    assert len(paths["paths"]) == 3
    assert paths["by_paths"] == pytest.approx(exact, rel=1e-12)
    assert paths["backprop"] == pytest.approx(exact, rel=1e-12)
    assert explosion["paths"] == 1024 and explosion["edges"] == 40
    # closed form: out_k = sin(2 out_{k-1}) / 2, so d out_k / d out_{k-1} = cos(2 out_{k-1})
    x, derivative = 0.7, 1.0
    for _ in range(10):
        derivative *= math.cos(2 * x)
        x = math.sin(2 * x) / 2
    assert explosion["by_paths"] == pytest.approx(derivative, rel=1e-10)
    assert explosion["backprop"] == pytest.approx(derivative, rel=1e-10)


def test_lesson05_every_number_of_the_004_example(run_lesson_quietly):
    (fwd, bwd, delta, step), text = run_lesson_quietly(5)
    assert fwd == {"i": [4.0, -3.0, 5.0], "h": [4.0, 0.0, 5.0], "o": 6.0, "L": 9.0}
    assert bwd["dL/do"] == 6.0
    assert bwd["dL/dw7..w9"] == [24.0, 0.0, 30.0]
    assert bwd["dL/dh"] == [-6.0, 18.0, 12.0]
    assert bwd["dL/di"] == [-6.0, 0.0, 12.0]
    assert bwd["dL/dw1..w6"] == [-6.0, -12.0, 0.0, 0.0, 12.0, 24.0]
    assert bwd["dL/dx"] == [0.0, 18.0]
    assert delta["delta_out"] == 6.0
    assert delta["delta_hidden"] == [-6.0, 0.0, 12.0]
    for key in ("dL/dw7..w9", "dL/dw1..w6", "dL/dx"):
        assert delta[key] == bwd[key]
    # by hand: W rows become (2.06, 1.12), (-1, -1), (0.88, 1.76); w_out (-1.24, 3, 1.7)
    assert step["o_after"] == pytest.approx(-1.24 * 4.3 + 1.7 * 4.4, abs=1e-12)
    assert step["after"] == pytest.approx((2.148 - 3) ** 2, abs=1e-12)
    assert step["o_before"] == 6.0 and step["o_after"] < 3.0  # the overshoot
    assert round(step["after"], 2) == 0.73
    assert round(step["o_short"], 2) == 3.09 and round(step["after_short"], 3) == 0.008
    assert "NO" not in text


def test_lesson06_activations(run_lesson_quietly):
    from scalargrad.functions import ACTIVATIONS

    (catalogue, zero, curves, _, _, training, saturation), text = run_lesson_quietly(6)
    assert set(catalogue["worst"]) == set(ACTIVATIONS)
    assert catalogue["in_lecture"] == 12 and catalogue["in_catalogue"] == 15
    for name, (_, err_numeric, err_vecgrad) in catalogue["worst"].items():
        assert err_numeric < 1e-6, name
        assert err_vecgrad < 1e-12, name
    # the kinks: relu has two one-sided slopes, elu (alpha 1) one, step a jump
    assert zero["rows"]["relu"] == (0.0, 1.0, 0.0, 0.0)
    assert zero["rows"]["elu"][:2] == pytest.approx((1.0, 1.0), abs=1e-5)
    assert zero["rows"]["step"][0] == pytest.approx(1e6) and zero["rows"]["step"][1] == 0
    assert set(curves["curves"]) == set(ACTIVATIONS)
    # the soft exponential is drawn with the catalogue's alpha (0.5), not alpha = 0
    alpha = ACTIVATIONS["soft_exponential"].default_alpha
    assert alpha == 0.5 and curves["xs"][-1] == 4.0
    assert curves["curves"]["soft_exponential"][0][-1] == pytest.approx(
        (math.exp(2.0) - 1) / 0.5 + 0.5)
    assert "soft exponential (drawn with the catalogue's alpha = 0.5" in " ".join(
        text.split())
    slope = curves["slope_at_4"]
    assert round(slope["sigmoid"], 3) == 0.018 and round(slope["tanh"], 4) == 0.0013
    assert slope["arctan"] == pytest.approx(1 / 17)
    # the decay rates the text names: f'(x) / f'(x + 1) far out is e for the sigmoid,
    # e^2 for tanh (sech^2 x ~ 4 exp(-2x))
    rates = {name: math.log(ACTIVATIONS[name].df(9.0, None) / ACTIVATIONS[name].df(10.0, None))
             for name in ("sigmoid", "tanh")}
    assert rates["sigmoid"] == pytest.approx(1, abs=1e-3)
    assert rates["tanh"] == pytest.approx(2, abs=1e-3)
    flat = " ".join(text.split())
    assert "the sigmoid's like exp(-|x|) and tanh's twice as fast, like exp(-2|x|)" in flat
    assert training["step"] == [1.0] * len(training["step"])
    assert training["step_grads"] == (0.0, 0.0)
    assert training["sigmoid"][0] == pytest.approx((1 / (1 + math.exp(0.5)) - 1) ** 2)
    assert training["sigmoid"][-1] < 0.01
    sig = saturation["sigmoid"]
    assert sig[0] == 0.25
    s10 = 1 / (1 + math.exp(-10))
    assert sig[3] == pytest.approx(s10 * (1 - s10), rel=1e-12)
    assert saturation["relu"][1:] == [1.0, 1.0, 1.0]
    assert saturation["tanh"][3] == pytest.approx(1 - math.tanh(10) ** 2, rel=1e-9)
    assert "fifteen" in text and "twelve" in text


def test_lesson06_second_check_is_independent(monkeypatch):
    """A wrong formula in the catalogue shows up in BOTH comparison columns."""
    import dataclasses

    from scalargrad.functions import ACTIVATIONS
    from tutorials import lesson06_activations as lesson

    broken = dict(ACTIVATIONS)
    broken["tanh"] = dataclasses.replace(ACTIVATIONS["tanh"], df=lambda x, a=None: 1.0)
    monkeypatch.setattr(lesson, "ACTIVATIONS", broken)
    _, err_numeric, err_vecgrad = lesson.check_catalogue()["worst"]["tanh"]
    assert err_numeric > 0.9 and err_vecgrad > 0.9


def test_lesson15_modes(run_lesson_quietly):
    (fwd, rev, cost, numeric, symbolic, swell), text = run_lesson_quietly(15)
    value = math.log(2) + 10 - math.sin(5)
    grad = [0.5 + 5, 2 - math.cos(5)]
    assert fwd["value"] == pytest.approx(value, abs=1e-12)
    assert value == pytest.approx(11.652071, abs=1e-6)
    assert fwd["grad"] == pytest.approx(grad, abs=1e-12)
    assert fwd["along (1, 1)"] == pytest.approx(sum(grad), abs=1e-12)
    assert rev["grad"] == pytest.approx(grad, abs=1e-12)
    assert symbolic["grad"] == pytest.approx(grad, abs=1e-12)
    assert cost["forward_passes"] == 200 and cost["reverse_passes"] == 1
    assert cost["max_difference"] < 1e-12
    assert numeric["best_h_forward"] == 1e-7 and numeric["best_h_central"] == 1e-5
    assert round(min(numeric["forward_error"]), 9) == 2.5e-8
    assert min(numeric["central_error"]) < 5e-11
    assert min(numeric["central_error"]) < min(numeric["forward_error"])
    rows = swell["rows"]
    assert all(same for *_, same in rows)
    for n, _, _, _, sym, ad, num, _ in rows:  # the three methods, one number
        assert sym == pytest.approx(ad, rel=1e-12)
        assert num == pytest.approx(ad, rel=1e-9)  # what the text says
    assert "a central difference (h = 1e-6) to better than 1e-9 relative" in " ".join(
        text.split())
    derivative_sizes = [r[2] for r in rows]
    graph_sizes = [r[3] for r in rows]
    assert derivative_sizes[-1] > 30 * derivative_sizes[0]
    steps = {b - a for a, b in zip(graph_sizes, graph_sizes[1:])}
    assert len(steps) == 1  # the AD graph grows by the same amount per iteration
