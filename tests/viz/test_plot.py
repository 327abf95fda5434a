"""vecgrad.viz.plot: what the reader sees, with colour, without colour, without plotext,
and as SVG in Jupyter."""

import io
import math
import re
import xml.etree.ElementTree as ET

import pytest
from rich.console import Console

from vecgrad.viz import plot as viz
from vecgrad.viz.plot import MARKERS, Series, bar_chart, heatmap, line_plot, nice_ticks

needs_plotext = pytest.mark.skipif(not viz.plotext_available(),
                                   reason="plotext (the plot extra) is not installed")


def _text(renderable, width=100, color=False):
    out = io.StringIO()
    console = Console(file=out, width=width, color_system="truecolor" if color else None,
                      force_terminal=color)
    console.print(renderable)
    return out.getvalue()


def _drawing(plot, width=100):
    """The drawing alone, without the legend under it."""
    return _text(plot.renderables(width)[0], width)


@needs_plotext
def test_each_series_has_its_own_marker_and_reads_without_colour():
    xs = list(range(20))
    p = line_plot([Series("up", xs, xs), Series("down", xs, [19 - x for x in xs])],
                  width=50, height=10)
    text = _text(p)
    body = _drawing(p)
    assert MARKERS[0] in body and MARKERS[1] in body
    assert f"{MARKERS[0]}{MARKERS[0]} up" in text and f"{MARKERS[1]}{MARKERS[1]} down" in text
    assert "\x1b[" not in text  # no colour asked, none given


@needs_plotext
def test_colour_is_full_brightness_never_dim():
    p = line_plot([Series("a", [0, 1], [0, 1], color="cyan")], width=30, height=5)
    coloured = _text(p, color=True)
    assert "\x1b[2m" not in coloured and ";2m" not in coloured  # rich's "dim"
    assert "\x1b[" in coloured


@needs_plotext
def test_the_last_series_is_drawn_on_top():
    # two series through the same points: only the later one's marker shows
    p = line_plot([Series("under", [0, 1, 2], [0, 1, 2], marker="u", points=True),
                   Series("over", [0, 1, 2], [0, 1, 2], marker="v", points=True)],
                  width=30, height=6)
    body = _drawing(p)
    assert body.count("v") == 3 and "u" not in body


@needs_plotext
def test_legend_sits_under_the_drawing_and_hides_nothing():
    p = line_plot([Series("label-that-is-long", [0, 1], [1, 1])], width=30, height=4,
                  title="t")
    lines = _text(p).splitlines()
    legend_row = next(i for i, l in enumerate(lines) if "label-that-is-long" in l)
    frame_bottom = max(i for i, l in enumerate(lines) if "└" in l)
    assert legend_row > frame_bottom


@needs_plotext
def test_non_finite_points_break_the_curve_instead_of_failing():
    p = line_plot([Series("holes", [0, 1, 2, 3, 4], [1, math.nan, math.inf, 2, 3])],
                  width=30, height=5)
    assert p.segments(p.series[0]) == [([0.0], [1.0]), ([3.0, 4.0], [2.0, 3.0])]
    assert "holes" in _text(p)


@needs_plotext
def test_log_axis_labels_are_in_data_units():
    p = line_plot([Series("e", [1, 2, 3], [1e-6, 1e-3, 1.0])], logy=True, width=40,
                  height=7, xlabel="step")
    text = _text(p)
    assert "1e-6" in text and "1e0" in text and "(log scale)" in text
    assert "x: step" in text


@needs_plotext
def test_plot_width_follows_a_narrow_console():
    p = line_plot([Series("a", [0, 1], [0, 1])], width=80, height=5)
    assert max(len(l) for l in _text(p, width=40).splitlines()) <= 40


def test_without_plotext_a_table_of_key_points_and_one_sentence(monkeypatch):
    monkeypatch.setattr(viz, "_plotext", lambda: None)
    p = line_plot([Series("loss", [0, 1, 2, 3], [4.0, 1.0, 0.5, 0.7]),
                   Series("empty", [0], [math.nan])], title="curve")
    text = _text(p)
    assert viz.INSTALL_HINT.split(",")[0] in " ".join(text.split())
    row = next(l for l in text.splitlines() if "loss" in l)
    # first point, the lowest (0.5 at x = 2), the highest (4 at x = 0), the last
    assert "(0, 4)" in row and "0.5 at 2" in row and "4 at 0" in row and "(3, 0.7)" in row
    assert "pip install gradlab[plot]" in " ".join(text.split())


def test_svg_is_well_formed_and_draws_every_series():
    p = line_plot([Series("a<b", [0, 1, 2], [0, 1, 4]),
                   Series("pts", [0.5, 1.5], [1, 2], points=True),
                   Series("gap", [0, 1, 2], [1, math.nan, 3])], title="x & y")
    root = ET.fromstring(p._repr_svg_())
    ns = "{http://www.w3.org/2000/svg}"
    lines = root.findall(f"{ns}polyline")
    assert len(lines) == 1  # "a<b"; "gap" is two single points, "pts" has no lines
    dashes = {l.get("stroke-dasharray") for l in lines}
    assert dashes == {None}  # the first series is solid; later ones are dashed
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert "x & y" in texts and any("a<b" in (t or "") for t in texts)


def test_second_line_is_dashed_in_svg():
    p = line_plot([Series("a", [0, 1], [0, 1]), Series("b", [0, 1], [1, 0])])
    root = ET.fromstring(p.svg())
    dashes = [l.get("stroke-dasharray") for l in
              root.findall("{http://www.w3.org/2000/svg}polyline")]
    assert dashes[0] is None and dashes[1]


def test_text_is_plain():
    p = line_plot([Series("a", [0, 1], [0, 1])], width=30, height=4)
    out = p.text()
    assert "\x1b[" not in out and "a" in out


def test_nice_ticks_are_round_and_inside():
    assert nice_ticks(0.0177, 0.982) == [0.2, 0.4, 0.6, 0.8]
    assert nice_ticks(-2, 3.1) == [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
    assert nice_ticks(0, 60) == [0.0, 20.0, 40.0, 60.0]
    for lo, hi in ((-0.999, 1.0), (1e-4, 3e-4), (5, 5.0001)):
        ticks = nice_ticks(lo, hi)
        assert len(ticks) >= 3 and all(lo - 1e-12 <= t <= hi + 1e-12 for t in ticks)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="3 x values but 2 y values"):
        Series("bad", [1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="unknown colour 'mauve'"):
        Series("bad", [1], [1], color="mauve")
    with pytest.raises(ValueError, match="a marker is one character"):
        Series("bad", [1], [1], marker="ab")
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


def test_heatmap_shades_from_blank_to_full_block():
    assert _text(heatmap([[0.0, 1.0]])).startswith("  ██")


@needs_plotext
@pytest.mark.parametrize("height", [3, 4, 5, 6, 8, 12])
def test_every_y_label_sits_on_its_own_row_at_its_value(height):
    lo, hi = -1.0, 1.0
    p = line_plot([Series("a", [0, 1], [lo, hi])], width=30, height=height)
    rows = [line for line in _drawing(p).splitlines() if "│" in line or "┤" in line
            or "├" in line][:height]
    assert len(rows) == height
    def label(line):
        return line[:min(line.index(c) for c in "┤├│" if c in line)].strip()

    labelled = [(r, float(label(line))) for r, line in enumerate(rows) if label(line)]
    assert len(labelled) <= max(2, (height + 1) // 2)
    row_height = (hi - lo) / (height - 1)
    for r, value in labelled:  # the label names a value inside its row
        assert abs(value - (hi - r * row_height)) <= row_height / 2 + 1e-9, (r, value)


def test_labels_and_titles_are_text_not_rich_markup(monkeypatch):
    # A "[/x]" in a label raised MarkupError; "w[i]" lost its "[i]".
    text = _text(bar_chart(["w[i]", "a[/b]"], [1.0, 2.0], title="norms [/x]"))
    assert "w[i]" in text and "a[/b]" in text and "norms [/x]" in text
    monkeypatch.setattr(viz, "_plotext", lambda: None)
    text = _text(line_plot([Series("loss[/x]", [0, 1], [1.0, 2.0])], title="[/t] run"))
    assert "loss[/x]" in text and "[/t] run" in text


def test_bars_and_heatmaps_survive_nan_and_inf():
    # Both raised "cannot convert float NaN to integer" (a diverged run's norms).
    lines = [l for l in _text(bar_chart(["a", "b", "c", "d"],
                                        [1.0, 2.0, math.nan, math.inf], width=10)).splitlines()
             if l.strip()]
    assert lines[0].count("█") == 5 and lines[1].count("█") == 10
    assert "█" not in lines[2] and lines[2].endswith("nan") and lines[3].endswith("inf")
    logged = _text(bar_chart(["a", "b"], [10.0, math.nan], log=True, width=10))
    assert "nan" in logged
    assert _text(heatmap([[0.0, math.nan], [math.inf, 1.0]])).splitlines()[:2] == [
        "  ??", "??██"]
    assert "nan" in _text(heatmap([[0.0, math.nan]], show_values=True))


@pytest.mark.parametrize("matrix, shown", [([1.0, 2.0], "shape (2,)"),
                                           ([[[1.0]]], "shape (1, 1, 1)"),
                                           ([[1, "a"]], "shape (1, 2) of <U")])
def test_heatmap_of_something_not_2d_says_what_it_got(matrix, shown):
    # It raised Python's "'float' object is not iterable" or float()'s own message.
    with pytest.raises(ValueError, match=rf"heatmap needs a 2-D array of numbers, got "
                                         rf"{re.escape(shown)}"):
        heatmap(matrix)


def _y_labels(plot, height):
    rows = [line for line in _drawing(plot).splitlines() if "│" in line or "┤" in line
            or "├" in line][:height]
    return [line[:min(line.index(c) for c in "┤├│" if c in line)].strip() for line in rows]


@needs_plotext
def test_y_labels_of_a_plateau_read_differently():
    # A loss creeping from 0.69315 to 0.69313 had three labels "0.693" (3 digits).
    p = line_plot([Series("loss", [1, 2, 3], [0.69315, 0.69314, 0.69313])], width=40,
                  height=6)
    labels = [label for label in _y_labels(p, 6) if label]
    assert len(labels) >= 2 and len(set(labels)) == len(labels)
    assert [float(label) for label in labels] == pytest.approx([0.69315, 0.69314, 0.69313])


@needs_plotext
@pytest.mark.parametrize("ys", [[1.0, 1e308, -1.7e308], [-1e308, -1.7e308],
                                [1e300, 1.0000001e300]])
def test_values_near_the_end_of_the_float_range_are_drawn(ys):
    # A loss that grew past 1e308: "cannot convert float infinity to integer" from the
    # tick arithmetic (hi - lo overflowed) or from plotext's.
    p = line_plot([Series("loss", list(range(1, len(ys) + 1)), ys)], width=40, height=6)
    labels = [float(label) for label in _y_labels(p, 6) if label]
    slack = 1e-12 * max(abs(y) for y in ys)
    assert labels and min(ys) - slack <= min(labels) and max(labels) <= max(ys) + slack
    assert len(set(labels)) == len(labels)
    assert MARKERS[0] in _drawing(p)
    ET.fromstring(p.svg())
    ticks = nice_ticks(-1.7e308, 1.7e308)
    assert len(ticks) >= 2 and all(-1.7e308 <= t <= 1.7e308 for t in ticks)


def test_heatmap_spans_the_float_range():
    # (hi - lo) overflowed to inf: "cannot convert float NaN to integer".
    assert _text(heatmap([[-1e308, 0.0, 1e308]])).startswith("  ▒▒██")
