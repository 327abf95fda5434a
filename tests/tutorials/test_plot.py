"""The terminal plot helpers: braille dots land where the data says."""

import io
import math

import pytest
from rich.console import Console

from tutorials.plot import Series, bar_chart, heatmap, line_plot


def _text(renderable, width=120):
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    return out.getvalue()


def _canvas_rows(text, height):
    rows = [line.split("│", 1)[1] for line in text.splitlines() if "│" in line]
    assert len(rows) == height
    return rows


def test_a_horizontal_line_fills_one_row_of_dots():
    text = _text(line_plot([Series("flat", [0, 1], [5, 5])], width=20, height=5,
                           ylim=(0, 10)))
    rows = _canvas_rows(text, 5)
    # y = 5 of 0..10 is pixel row 10 of 0..19: character row 2, dot row 2 (bit 0x04/0x20)
    assert rows[2][:20] == chr(0x2800 + 0x04 + 0x20) * 20
    assert all(set(r[:20]) == {chr(0x2800)} for k, r in enumerate(rows) if k != 2)


def test_a_diagonal_touches_both_corners():
    text = _text(line_plot([Series("up", [0, 1], [0, 1])], width=10, height=4))
    rows = _canvas_rows(text, 4)
    bottom_left = ord(rows[-1][0]) - 0x2800
    top_right = ord(rows[0][9]) - 0x2800
    assert bottom_left & 0x40  # lowest dot of the left column
    assert top_right & 0x08  # highest dot of the right column


def test_non_finite_points_break_the_curve_instead_of_failing():
    xs = [0, 1, 2, 3]
    text = _text(line_plot([Series("holes", xs, [1, math.nan, math.inf, 2])], width=12,
                           height=4))
    assert "holes" in text


def test_log_axis_labels_in_data_units():
    text = _text(line_plot([Series("e", [1, 2, 3], [1e-6, 1e-3, 1.0])], logy=True,
                           width=20, height=7))
    assert "1e-06" in text and "(log scale)" in text


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="3 x values but 2 y values"):
        Series("bad", [1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least one series"):
        line_plot([])
    with pytest.raises(ValueError, match="low < high"):
        line_plot([Series("s", [0, 1], [0, 1])], xlim=(1, 1))
    with pytest.raises(ValueError, match="every value > 0"):
        bar_chart(["a"], [0.0], log=True)
    with pytest.raises(ValueError, match="different lengths"):
        heatmap([[1, 2], [3]])


def test_bar_lengths_follow_the_values():
    text = _text(bar_chart(["a", "b"], [1.0, 2.0], width=10))
    a_line, b_line = [l for l in text.splitlines() if l.strip()]
    assert b_line.count("█") == 10 and a_line.count("█") == 5


def test_heatmap_shades_from_dark_to_bright():
    text = _text(heatmap([[0.0, 1.0]]))
    assert text.startswith("  ██")
