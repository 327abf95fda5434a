"""Lesson 16 (curvature): the Hessians agree five ways; Newton beats gradient descent."""

import math

import numpy as np
import pytest


def test_lesson16_curvature(run_lesson_quietly):
    (logistic, least_squares, paths, cost), text = run_lesson_quietly(16)
    s = 1 / (1 + math.exp(-0.5))
    np.testing.assert_allclose(logistic["hessian"], np.full((3, 3), s * (1 - s)))
    assert s * (1 - s) == pytest.approx(0.235004, abs=1e-6)
    np.testing.assert_allclose(least_squares["hessian"],
                               2 * np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0]))
    for r in (logistic, least_squares):
        assert {"scalargrad", "vecgrad cpu", "finite differences of the gradient"} <= set(
            r["gaps"])
        for name, gap in r["gaps"].items():
            assert gap < (1e-8 if name.startswith("finite") else 1e-12), name
        assert max(r["modes"].values()) < 1e-12
    best = paths["best"]
    line_search = paths["losses"]["Newton, line search"]
    assert line_search[5] - best < 1e-12  # converged within six steps
    assert paths["losses"]["gradient descent"][-1] - best > 1e-3  # still crawling
    assert max(paths["losses"]["Newton"][-4:]) - best > 0.1  # pure Newton oscillates
    assert [row["params"] for row in cost["rows"]] == [25, 49, 97]
    assert cost["big"] == 1_796_010
    assert "Hessian-vector product" in text and "line search" in text


def test_lesson16_counts_the_ways_it_shows(monkeypatch):
    """Without an OpenCL device the table has three methods, and says three: vecgrad cpu,
    finite differences and scalargrad, in its four modes. (It listed scalargrad's
    default mode twice, as 'scalargrad' and 'scalargrad reverse-over-reverse'.)"""
    import io

    from rich.console import Console

    from tutorials import lesson16_curvature

    monkeypatch.setattr(lesson16_curvature, "opencl_device", lambda: (None, "none here"))
    result = lesson16_curvature.least_squares_hessian()
    assert set(result["gaps"]) == {"scalargrad", "vecgrad cpu",
                                   "finite differences of the gradient"}
    console = Console(file=io.StringIO(), width=200, color_system=None)
    for part in lesson16_curvature.show_five_ways("H", ["w1", "w2", "b"])(result):
        console.print(part)
    text = console.file.getvalue()
    assert "the same matrix three more ways" in text and "OpenCL: none (none here)" in text
    rows = [line for line in text.splitlines()
            if line.startswith(("│ vecgrad", "│ finite", "│ scalargrad"))]
    assert len(rows) == 6 and sum("reverse-over-reverse" in row for row in rows) == 1
