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
    assert check["backprop"] == [-4.0, -4.0, 3.0]
    assert "End of lesson 1." in text


def test_lesson02_chain_rule(run_lesson_quietly):
    (rules, paths, explosion), _ = run_lesson_quietly(2)
    assert rules["add"] == (5.0, 5.0)
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
    assert "NO" not in text


def test_lesson06_activations(run_lesson_quietly):
    from scalargrad.functions import ACTIVATIONS

    (catalogue, curves, training, saturation), _ = run_lesson_quietly(6)
    assert set(catalogue["worst"]) == set(ACTIVATIONS)
    for name, (_, err_numeric, err_backprop) in catalogue["worst"].items():
        assert err_numeric < 1e-6, name
        assert err_backprop < 1e-12, name
    assert set(curves["curves"]) == set(ACTIVATIONS)
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


def test_lesson15_modes(run_lesson_quietly):
    (fwd, rev, cost, numeric, symbolic, swell), _ = run_lesson_quietly(15)
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
    assert 1e-9 <= numeric["best_h_forward"] <= 1e-7
    assert min(numeric["forward_error"]) < 1e-6
    assert min(numeric["central_error"]) < min(numeric["forward_error"])
    rows = swell["rows"]
    assert all(same for *_, same in rows)
    derivative_sizes = [r[2] for r in rows]
    graph_sizes = [r[3] for r in rows]
    assert derivative_sizes[-1] > 30 * derivative_sizes[0]
    steps = {b - a for a, b in zip(graph_sizes, graph_sizes[1:])}
    assert len(steps) == 1  # the AD graph grows by the same amount per iteration
