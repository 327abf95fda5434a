"""Terminal plots with rich: braille line plots, horizontal bars and shaded heatmaps.

A braille character holds a 2 x 4 grid of dots, so a plot of W x H characters has
2W x 4H pixels. Each character cell takes the colour of the last series drawn in it.
Non-finite points (nan, inf) are skipped, so a curve with a hole simply breaks there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

# Bit of each dot in a braille cell, indexed [row][column].
_BRAILLE_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
_BRAILLE_BASE = 0x2800
COLORS = ("cyan", "magenta", "yellow", "green", "red", "blue", "bright_white", "bright_red")


@dataclass(frozen=True)
class Series:
    """One curve (or point cloud) of a plot."""

    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: Optional[str] = None
    points: bool = False  # True: dots only, no connecting lines

    def __post_init__(self):
        if len(self.xs) != len(self.ys):
            raise ValueError(f"series {self.label!r}: {len(self.xs)} x values but "
                             f"{len(self.ys)} y values")


class _Canvas:
    """A grid of braille cells addressed in pixel coordinates (0, 0) = top left."""

    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self.bits = [[0] * width for _ in range(height)]
        self.colors: list[list[Optional[str]]] = [[None] * width for _ in range(height)]

    def dot(self, px: int, py: int, color: str) -> None:
        if 0 <= px < 2 * self.width and 0 <= py < 4 * self.height:
            row, col = py // 4, px // 2
            self.bits[row][col] |= _BRAILLE_BITS[py % 4][px % 2]
            self.colors[row][col] = color

    def line(self, x0: int, y0: int, x1: int, y1: int, color: str) -> None:
        # Bresenham: every pixel between the two end points, no gaps.
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        for _ in range(dx - dy + 1):
            self.dot(x0, y0, color)
            if x0 == x1 and y0 == y1:
                break
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def rows(self) -> list[Text]:
        lines = []
        for bits_row, color_row in zip(self.bits, self.colors):
            text = Text()
            for bits, color in zip(bits_row, color_row):
                text.append(chr(_BRAILLE_BASE + bits), style=color or "")
            lines.append(text)
        return lines


def _finite(v: float) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def _span(values: list[float], given: Optional[tuple[float, float]]) -> tuple[float, float]:
    if given is not None:
        lo, hi = float(given[0]), float(given[1])
        if not hi > lo:
            raise ValueError(f"plot limits must satisfy low < high, got {given}")
        return lo, hi
    finite = [v for v in values if _finite(v)]
    if not finite:
        return -1.0, 1.0
    lo, hi = min(finite), max(finite)
    if hi == lo:
        pad = abs(lo) * 0.1 or 1.0
        return lo - pad, hi + pad
    return lo, hi


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def line_plot(series: Sequence[Series], *, title: str = "", width: int = 60, height: int = 14,
              xlim: Optional[tuple[float, float]] = None,
              ylim: Optional[tuple[float, float]] = None,
              logy: bool = False, xlabel: str = "", ylabel: str = "") -> RenderableType:
    """A braille plot of one or more series, with axis labels and a legend.

    `logy` plots log10(y) (non-positive y values are skipped) and labels the axis in y.
    """
    if not series:
        raise ValueError("line_plot needs at least one series")
    if width < 10 or height < 3:
        raise ValueError(f"plot too small: width {width} (>= 10), height {height} (>= 3)")

    def ty(v: float) -> float:
        if not logy:
            return float(v)
        return math.log10(v) if _finite(v) and v > 0 else math.nan

    all_x = [float(x) for s in series for x in s.xs]
    all_y = [ty(y) for s in series for y in s.ys]
    x_lo, x_hi = _span(all_x, xlim)
    y_lo, y_hi = _span(all_y, None if ylim is None else (ty(ylim[0]), ty(ylim[1])))
    canvas = _Canvas(width, height)
    px_max, py_max = 2 * width - 1, 4 * height - 1

    def to_px(x: float, y: float) -> tuple[int, int]:
        px = round((x - x_lo) / (x_hi - x_lo) * px_max)
        py = round((y_hi - y) / (y_hi - y_lo) * py_max)
        return px, py

    # Dim axes through zero, drawn first so curves paint over them.
    if y_lo < 0 < y_hi and not logy:  # on a log axis 0 would mean y = 1
        canvas.line(*to_px(x_lo, 0.0), *to_px(x_hi, 0.0), "grey37")
    if x_lo < 0 < x_hi:
        canvas.line(*to_px(0.0, y_lo), *to_px(0.0, y_hi), "grey37")

    legend = Text()
    for i, s in enumerate(series):
        color = s.color or COLORS[i % len(COLORS)]
        previous = None
        for x, y in zip(s.xs, s.ys):
            x, y = float(x), ty(y)
            # Points far outside the box are clipped by `dot`; skip absurd ones early.
            if not (_finite(x) and _finite(y)):
                previous = None
                continue
            here = to_px(x, y)
            if abs(here[0]) > 10 * px_max or abs(here[1]) > 10 * py_max:
                previous = None
                continue
            if s.points or previous is None:
                canvas.dot(*here, color)
            else:
                canvas.line(*previous, *here, color)
            previous = None if s.points else here
        legend.append("  ⣿ ", style=color)
        legend.append(s.label)

    top, bottom = (10 ** y_hi, 10 ** y_lo) if logy else (y_hi, y_lo)
    labels = {0: _fmt(top), height - 1: _fmt(bottom)}
    if height >= 7:
        mid = (y_hi + y_lo) / 2
        labels[height // 2] = _fmt(10 ** mid if logy else mid)
    margin = max(len(v) for v in labels.values()) + 1
    lines: list[Text] = []
    if title:
        lines.append(Text(title, style="bold"))
    for r, row in enumerate(canvas.rows()):
        line = Text(labels.get(r, "").rjust(margin - 1) + "│", style="dim")
        line.append_text(row)
        lines.append(line)
    x_axis = " " * margin + _fmt(x_lo)
    x_right = _fmt(x_hi)
    x_mid = _fmt((x_lo + x_hi) / 2)
    gap = width - len(_fmt(x_lo)) - len(x_right)
    left_gap = max(gap // 2 - len(x_mid) // 2, 1)
    right_gap = max(gap - left_gap - len(x_mid), 1)
    x_axis += " " * left_gap + x_mid + " " * right_gap + x_right
    lines.append(Text(" " * margin + "─" * width, style="dim"))
    lines.append(Text(x_axis + (f"   {xlabel}" if xlabel else ""), style="dim"))
    if ylabel or logy:
        lines.append(Text(" " * margin + f"y: {ylabel}{' (log scale)' if logy else ''}",
                          style="dim"))
    lines.append(legend)
    return Group(*lines)


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str = "",
              width: int = 40, log: bool = False, fmt: str = "{:.3g}",
              color: str = "cyan") -> RenderableType:
    """Horizontal bars; with `log`, bar length follows log10(value) (values must be > 0)."""
    if len(labels) != len(values):
        raise ValueError(f"bar_chart: {len(labels)} labels but {len(values)} values")
    if log and any(not (v > 0) for v in values):
        raise ValueError("bar_chart(log=True) needs every value > 0")
    scaled = [math.log10(v) for v in values] if log else [abs(float(v)) for v in values]
    lo = min(scaled) - 1.0 if log else 0.0
    hi = max(scaled) if scaled else 1.0
    span = (hi - lo) or 1.0
    table = Table(title=title or None, show_header=False, box=None, pad_edge=False)
    table.add_column(justify="right")
    table.add_column()
    table.add_column(justify="right")
    for label, v, s in zip(labels, values, scaled):
        eighths = round((s - lo) / span * width * 8)
        full, part = divmod(max(eighths, 0), 8)
        bar = "█" * full + ("" if part == 0 else chr(0x2590 - part))
        table.add_row(label, Text(bar, style=color), fmt.format(v))
    return table


_SHADES = " ░▒▓█"


def heatmap(matrix: Sequence[Sequence[float]], *, title: str = "",
            show_values: bool = False, fmt: str = "{:5.1f}") -> RenderableType:
    """A 2-D array drawn with shaded blocks (two characters per entry), or with numbers.

    Darker = smaller, brighter = larger, scaled between the array's min and max.
    """
    rows = [[float(v) for v in row] for row in matrix]
    if not rows or not rows[0]:
        raise ValueError("heatmap needs a non-empty 2-D array")
    if any(len(r) != len(rows[0]) for r in rows):
        raise ValueError("heatmap rows have different lengths")
    flat = [v for r in rows for v in r]
    lo, hi = min(flat), max(flat)
    span = (hi - lo) or 1.0
    lines: list[Text] = [Text(title, style="bold")] if title else []
    for r in rows:
        line = Text()
        for v in r:
            level = (v - lo) / span
            if show_values:
                shade = round(80 + 175 * level)
                line.append(fmt.format(v) + " ", style=f"rgb({shade},{shade},{shade})")
            else:
                line.append(_SHADES[min(int(level * len(_SHADES)), len(_SHADES) - 1)] * 2)
        lines.append(line)
    return Group(*lines)
