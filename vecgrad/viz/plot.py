"""Plots shared by the tutorials and the trainer: line plots, bars and shaded grids.

Line plots are drawn by plotext (the `plot` extra), which renders a plot to a string of
characters with ANSI colours; rich shows that string. Each series gets its own marker
character as well as its own colour, so a plot reads the same piped, without colour, or
to a colour-blind reader; the legend sits under the plot so it hides no data. Series are
drawn in the order given: the last one is on top.

Without plotext a line plot shows as a short table (first, lowest, highest and last
point of each series) and one sentence saying how to get the picture. In Jupyter the same
object shows as an SVG picture (`_repr_svg_`), drawn here without any library.

Bars and shaded grids are plain rich text: block characters need no plotting library.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from html import escape
from typing import Iterator, Optional, Sequence

from rich.console import Console, ConsoleOptions, Group, RenderableType
from rich.markup import escape as escape_markup
from rich.table import Table
from rich.text import Text

# Markers that differ in shape, so series stay apart without colour.
MARKERS = ("•", "x", "o", "+", "*", "#", "~", "=")
# Colour name -> (plotext colour, rich style, SVG colour); full brightness throughout.
PALETTE = {
    "cyan": ("cyan+", "bright_cyan", "#0097a7"),
    "magenta": ("magenta+", "bright_magenta", "#c2185b"),
    "yellow": ("yellow+", "bright_yellow", "#f9a825"),
    "green": ("green+", "bright_green", "#2e7d32"),
    "red": ("red+", "bright_red", "#d32f2f"),
    "blue": ("blue+", "bright_blue", "#1565c0"),
    "white": ("white+", "bright_white", "#212121"),
}
COLORS = tuple(PALETTE)
# SVG strokes: a dash pattern per series, the second way to tell lines apart.
_DASHES = ("", "6,3", "2,3", "8,3,2,3", "1,2", "10,4")
INSTALL_HINT = ("plotext is not installed, so this plot is shown as a table; "
                "`pip install gradlab[plot]` draws it as a picture.")


def _plotext():
    """The plotext module, or None when it is not installed."""
    try:
        return importlib.import_module("plotext")
    except ImportError:
        return None


def plotext_available() -> bool:
    return _plotext() is not None


@dataclass(frozen=True)
class Series:
    """One curve (or, with `points`, a cloud of unconnected points) of a plot."""

    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: Optional[str] = None   # a name from PALETTE; default: by position
    points: bool = False
    marker: Optional[str] = None  # one character; default: by position

    def __post_init__(self):
        if len(self.xs) != len(self.ys):
            raise ValueError(f"series {self.label!r}: {len(self.xs)} x values but "
                             f"{len(self.ys)} y values")
        if self.color is not None and self.color not in PALETTE:
            raise ValueError(f"series {self.label!r}: unknown colour {self.color!r}; "
                             f"choose one of {', '.join(PALETTE)}")
        if self.marker is not None and len(self.marker) != 1:
            raise ValueError(f"series {self.label!r}: a marker is one character, "
                             f"got {self.marker!r}")


def _finite(v) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def _labels(values: Sequence[float]) -> list[str]:
    """Tick labels with 3 significant digits, or as many more as it takes for neighbours
    to read differently (a loss creeping from 0.69315 to 0.69313 had three labels
    '0.693', each against a different row)."""
    for digits in range(3, 18):
        labels = [f"{v:.{digits}g}" for v in values]
        if all(a != b for a, b in zip(labels, labels[1:])):
            return labels
    return labels


def nice_ticks(lo: float, hi: float, count: int = 5,
               most: Optional[int] = None) -> list[float]:
    """Round tick positions (steps of 1, 2, 2.5 or 5 times a power of 10) in [lo, hi].

    About `count` of them (at least two), and never more than `most` when given: a
    terminal plot with few rows has room for few labels.
    """
    # hi / 2 - lo / 2: the span of values at both ends of the float range overflows
    power = 10.0 ** math.floor(math.log10(hi / 2 - lo / 2)
                               + math.log10(2 / max(count - 1, 1)))
    best: list[float] = []
    for step in (m * power * f for f in (0.1, 1.0, 10.0) for m in (1, 2, 2.5, 5)):
        first = math.ceil(lo / step - 1e-9)
        ticks = [k * step for k in range(first, math.floor(hi / step + 1e-9) + 1)]
        if len(ticks) < 2 or (most is not None and len(ticks) > most):
            continue
        if not best or abs(len(ticks) - count) < abs(len(best) - count):
            best = ticks
    # -0.0 and 0.30000000000000004 would print badly
    return [round(t, 12) + 0.0 for t in best] or [lo, hi]


class LinePlot:
    """A plot of one or more series; a rich renderable, plain text, or SVG in Jupyter.

    `logy` plots log10(y) (non-positive values are skipped) and labels the axis in y.
    `height` counts the rows of the drawing area, `width` the whole plot's columns.
    """

    def __init__(self, series: Sequence[Series], *, title: str = "", width: int = 60,
                 height: int = 14, xlim: Optional[tuple[float, float]] = None,
                 ylim: Optional[tuple[float, float]] = None, logy: bool = False,
                 xlabel: str = "", ylabel: str = "", legend: bool = True):
        if not series:
            raise ValueError("line_plot needs at least one series")
        if width < 20 or height < 3:
            raise ValueError(f"plot too small: width {width} (>= 20), "
                             f"height {height} (>= 3)")
        for name, lim in (("xlim", xlim), ("ylim", ylim)):
            if lim is not None and not float(lim[0]) < float(lim[1]):
                raise ValueError(f"plot limits must satisfy low < high, "
                                 f"got {name}={lim}")
        if logy and ylim is not None and not ylim[0] > 0:
            raise ValueError(f"a log axis needs ylim above 0, got {ylim}")
        self.series = list(series)
        self.title, self.width, self.height = title, width, height
        self.xlim, self.ylim, self.logy = xlim, ylim, logy
        self.xlabel, self.ylabel = xlabel, ylabel
        self.show_legend = legend

    # -- the data as drawn ---------------------------------------------------------
    def styles(self) -> list[tuple[str, str]]:
        """(marker, colour name) of each series, in order."""
        return [(s.marker or MARKERS[i % len(MARKERS)],
                 s.color or COLORS[i % len(COLORS)]) for i, s in enumerate(self.series)]

    def _y_scale(self) -> float:
        """What y values are divided by before drawing: 1, or on a linear axis with
        values beyond 1e100 a power of ten that brings them near 1 (spans near the
        float range, such as a loss that grew to 1e308, overflow in the drawing's
        arithmetic otherwise). Tick labels are always in data units."""
        if self.logy:
            return 1.0
        values = [abs(float(y)) for s in self.series for y in s.ys if _finite(y)]
        values += [abs(float(v)) for v in (self.ylim or ()) if _finite(v)]
        largest = max(values, default=0.0)
        return 10.0 ** math.floor(math.log10(largest)) if largest > 1e100 else 1.0

    def _y(self, v, scale: float = 1.0) -> float:
        if not _finite(v):
            return math.nan
        v = float(v)
        if self.logy:
            return math.log10(v) if v > 0 else math.nan
        return v / scale

    def segments(self, s: Series) -> list[tuple[list[float], list[float]]]:
        """The finite runs of a series (a nan or inf breaks the curve there)."""
        runs, xs, ys = [], [], []
        scale = self._y_scale()
        for x, y in zip(s.xs, s.ys):
            ty = self._y(y, scale)
            if _finite(x) and _finite(ty):
                xs.append(float(x))
                ys.append(ty)
            elif xs:
                runs.append((xs, ys))
                xs, ys = [], []
        if xs:
            runs.append((xs, ys))
        return runs

    def _limits(self) -> tuple[tuple[float, float], tuple[float, float]]:
        xs = [x for s in self.series for run in self.segments(s) for x in run[0]]
        ys = [y for s in self.series for run in self.segments(s) for y in run[1]]

        def span(values, given):
            if given is not None:
                return float(given[0]), float(given[1])
            if not values:
                return -1.0, 1.0
            lo, hi = min(values), max(values)
            if lo == hi:
                pad = abs(lo) * 0.1 or 1.0
                return lo - pad, hi + pad
            return lo, hi

        scale = self._y_scale()
        ylim = None if self.ylim is None else (self._y(self.ylim[0], scale),
                                               self._y(self.ylim[1], scale))
        return span(xs, self.xlim), span(ys, ylim)

    def _y_ticks(self, lo: float, hi: float) -> tuple[list[float], list[str]]:
        """Tick positions and labels; on a log axis the labels are in data units.

        At most one label per two rows, so that no two labels share a row (a shared row
        would show one label against the other's position).
        """
        count = max(2, min(5, (self.height + 1) // 2))
        if self.logy and hi - lo >= 2:
            step = max(1, math.ceil((hi - lo) / count))
            ticks = [float(k) for k in range(math.ceil(lo), math.floor(hi) + 1, step)]
            return ticks, [f"1e{int(t)}" for t in ticks]
        if self.logy:
            ticks = [lo + (hi - lo) * k / (count - 1) for k in range(count)]
            return ticks, _labels([10 ** t for t in ticks])
        ticks = nice_ticks(lo, hi, count, most=count)
        scale = self._y_scale()
        return ticks, _labels([t * scale for t in ticks])

    # -- terminal ------------------------------------------------------------------
    def ansi(self, width: Optional[int] = None) -> Optional[str]:
        """The drawing as plotext renders it (ANSI colours), or None without plotext."""
        plt = _plotext()
        if plt is None:
            return None
        width = max(20, min(width or self.width, self.width))
        (x_lo, x_hi), (y_lo, y_hi) = self._limits()
        plt.clf()
        plt.theme("clear")  # no background colour: readable on dark and light
        plt.plotsize(width, self.height + 3 + (1 if self.title else 0))
        if self.title:
            plt.title(self.title)
        # Axes through 0 first, so every series is drawn over them.
        if y_lo < 0 < y_hi and not self.logy:
            plt.hline(0.0, "gray")
        if x_lo < 0 < x_hi:
            plt.vline(0.0, "gray")
        for s, (marker, color) in zip(self.series, self.styles()):
            for xs, ys in self.segments(s):
                draw = plt.scatter if s.points or len(xs) == 1 else plt.plot
                draw(xs, ys, marker=marker, color=PALETTE[color][0])
        plt.xlim(x_lo, x_hi)
        plt.ylim(y_lo, y_hi)
        plt.yticks(*self._y_ticks(y_lo, y_hi))
        x_ticks = nice_ticks(x_lo, x_hi)
        plt.xticks(x_ticks, _labels(x_ticks))
        text = plt.build()
        plt.clf()
        return text.rstrip("\n")

    def legend(self) -> Text:
        line = Text()
        for s, (marker, color) in zip(self.series, self.styles()):
            line.append(f"  {marker}{marker} ", style=f"bold {PALETTE[color][1]}")
            line.append(s.label)
        axes = []
        if self.xlabel:
            axes.append(f"x: {self.xlabel}")
        if self.ylabel or self.logy:
            axes.append(" ".join(filter(None, ("y:", self.ylabel,
                                               "(log scale)" if self.logy else ""))))
        if axes:
            line.append("\n  " + ", ".join(axes), style="italic")
        return line

    def fallback_table(self) -> Table:
        """The numbers a plot would show, when plotext is missing."""
        table = Table(title=escape_markup(self.title) or None, title_justify="left")
        for name in ("series", "points", "first (x, y)", "lowest y at x",
                     "highest y at x", "last (x, y)"):
            table.add_column(name, justify="left" if name == "series" else "right")
        for s in self.series:
            pts = [(float(x), float(y)) for x, y in zip(s.xs, s.ys)
                   if _finite(x) and _finite(y)]
            label = Text(s.label)  # the user's words, not rich markup
            if not pts:
                table.add_row(label, "0", "-", "-", "-", "-")
                continue
            low = min(pts, key=lambda p: p[1])
            high = max(pts, key=lambda p: p[1])
            pair = lambda p: f"({_fmt(p[0])}, {_fmt(p[1])})"  # noqa: E731
            table.add_row(label, str(len(pts)), pair(pts[0]),
                          f"{_fmt(low[1])} at {_fmt(low[0])}",
                          f"{_fmt(high[1])} at {_fmt(high[0])}", pair(pts[-1]))
        return table

    def renderables(self, width: Optional[int] = None) -> list[RenderableType]:
        drawing = self.ansi(width)
        if drawing is None:
            return [self.fallback_table(), Text(INSTALL_HINT, style="italic")]
        if not self.show_legend:
            return [Text.from_ansi(drawing)]
        return [Text.from_ansi(drawing), self.legend()]

    def __rich_console__(self, console: Console,
                         options: ConsoleOptions) -> Iterator[RenderableType]:
        yield from self.renderables(options.max_width)

    def text(self, width: Optional[int] = None) -> str:
        """The plot as plain text (no colour), e.g. for a log file or a pipe."""
        console = Console(width=width or self.width + 20, color_system=None,
                          force_terminal=False, record=True, file=_Discard())
        console.print(Group(*self.renderables(width)))
        return console.export_text().rstrip("\n")

    # -- Jupyter -------------------------------------------------------------------
    def _repr_svg_(self) -> str:
        return self.svg()

    def svg(self, width: int = 480, height: int = 300) -> str:
        """An SVG picture of the plot: each series its colour and its dash pattern."""
        (x_lo, x_hi), (y_lo, y_hi) = self._limits()
        left, right, top, bottom = 56, 12, 28 if self.title else 12, 40
        pw, ph = width - left - right, height - top - bottom

        def px(x):
            return left + (x - x_lo) / (x_hi - x_lo) * pw

        def py(y):
            return top + (y_hi - y) / (y_hi - y_lo) * ph

        legend_h = 16 * len(self.series)
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
               f'height="{height + legend_h}" font-family="sans-serif" font-size="11">',
               f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" '
               f'stroke="#888"/>']
        if self.title:
            out.append(f'<text x="{left + pw / 2}" y="18" text-anchor="middle" '
                       f'font-weight="bold">{escape(self.title)}</text>')
        for t, label in zip(*self._y_ticks(y_lo, y_hi)):
            out.append(f'<text x="{left - 4}" y="{py(t) + 4:.1f}" '
                       f'text-anchor="end">{escape(label)}</text>')
        for t in (x_lo, (x_lo + x_hi) / 2, x_hi):
            out.append(f'<text x="{px(t):.1f}" y="{top + ph + 14}" '
                       f'text-anchor="middle">{escape(_fmt(t))}</text>')
        for k, (s, (marker, color)) in enumerate(zip(self.series, self.styles())):
            stroke = PALETTE[color][2]
            dash = _DASHES[k % len(_DASHES)]
            for xs, ys in self.segments(s):
                pts = [(px(x), py(y)) for x, y in zip(xs, ys)
                       if x_lo <= x <= x_hi and (min(y_lo, y_hi) <= y <= max(y_lo, y_hi))]
                if s.points or len(pts) == 1:
                    out += [f'<text x="{a:.1f}" y="{b + 4:.1f}" fill="{stroke}" '
                            f'text-anchor="middle">{escape(marker)}</text>'
                            for a, b in pts]
                elif pts:
                    coords = " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
                    out.append(f'<polyline points="{coords}" fill="none" '
                               f'stroke="{stroke}" stroke-width="1.5"'
                               + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
            y = height + 16 * k + 4
            out.append(f'<text x="{left}" y="{y}" fill="{stroke}">'
                       f'{escape(marker * 2)} {escape(s.label)}</text>')
        axes = self.legend().plain.split("\n", 1)
        if len(axes) == 2:
            out.append(f'<text x="{left + pw}" y="{top + ph + 30}" text-anchor="end">'
                       f'{escape(axes[1].strip())}</text>')
        out.append("</svg>")
        return "\n".join(out)


class _Discard:
    """A file that forgets what is written (text() reads the recorded export)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def line_plot(series: Sequence[Series], **options) -> LinePlot:
    """A LinePlot of `series`; see LinePlot for the options."""
    return LinePlot(series, **options)


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str = "",
              width: int = 40, log: bool = False, fmt: str = "{:.3g}",
              color: str = "cyan") -> RenderableType:
    """Horizontal bars; with `log`, bar length follows log10(value) (values must be > 0).

    A nan or infinite value gets no bar, only its number (a diverged run's gradient
    norms still draw), and the other bars are scaled without it.
    """
    if len(labels) != len(values):
        raise ValueError(f"bar_chart: {len(labels)} labels but {len(values)} values")
    if log and any(_finite(v) and not float(v) > 0 for v in values):
        raise ValueError("bar_chart(log=True) needs every value > 0")
    style = PALETTE[color][1] if color in PALETTE else color
    scaled = [None if not _finite(v) else (math.log10(v) if log else abs(float(v)))
              for v in values]
    drawn = [s for s in scaled if s is not None]
    lo = (min(drawn) - 1.0 if drawn else 0.0) if log else 0.0
    hi = max(drawn) if drawn else 1.0
    span = (hi - lo) or 1.0
    table = Table(title=escape_markup(title) or None, show_header=False, box=None,
                  pad_edge=False, title_justify="left")
    table.add_column(justify="right")
    table.add_column()
    table.add_column(justify="right")
    for label, v, s in zip(labels, values, scaled):
        bar = ""
        if s is not None:
            eighths = round((s - lo) / span * width * 8)
            full, part = divmod(max(eighths, 0), 8)
            bar = "█" * full + ("" if part == 0 else chr(0x2590 - part))
        table.add_row(Text(str(label)), Text(bar, style=style), fmt.format(v))
    return table


_SHADES = " ░▒▓█"


def _shape_text(matrix) -> str:
    try:
        import numpy as np

        array = np.asarray(matrix)
        return f"shape {array.shape} of {array.dtype}"
    except ValueError:  # ragged rows
        return type(matrix).__name__


def heatmap(matrix: Sequence[Sequence[float]], *, title: str = "",
            show_values: bool = False, fmt: str = "{:5.1f}") -> RenderableType:
    """A 2-D array drawn with shaded blocks (two characters per entry), or as numbers.

    Blank = smallest, full block = largest, scaled between the array's finite min and
    max; the shades need no colour. A nan or infinite entry is drawn as "??" (or its
    number), so one bad value does not hide the others.
    """
    try:
        rows = [[float(v) for v in row] for row in matrix]
    except (TypeError, ValueError):  # a 1-D or 3-D array, or entries that are not numbers
        raise ValueError(f"heatmap needs a 2-D array of numbers, got "
                         f"{_shape_text(matrix)}") from None
    if not rows or not rows[0]:
        raise ValueError("heatmap needs a non-empty 2-D array")
    if any(len(r) != len(rows[0]) for r in rows):
        raise ValueError("heatmap rows have different lengths")
    flat = [v for r in rows for v in r if math.isfinite(v)]
    lo, hi = (min(flat), max(flat)) if flat else (0.0, 1.0)
    # halves: hi - lo of values at both ends of the float range overflows to inf
    span = (hi / 2 - lo / 2) or 1.0
    lines: list[Text] = [Text(title, style="bold")] if title else []
    for r in rows:
        line = Text()
        for v in r:
            if show_values:
                level = (v / 2 - lo / 2) / span if math.isfinite(v) else 0.0
                line.append(fmt.format(v) + " ", style="bold" if level > 0.5 else "")
            elif not math.isfinite(v):
                line.append("??", style="bold red")
            else:
                level = (v / 2 - lo / 2) / span
                line.append(_SHADES[min(int(level * len(_SHADES)), len(_SHADES) - 1)] * 2)
        lines.append(line)
    return Group(*lines)
