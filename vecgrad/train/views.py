"""Views of a Trainer: a rich live view for terminals and plain lines for pipes and CI.

A view is a callable that receives the Trainer's events (vecgrad.train.trainer) and renders
them. Views only watch: nothing here changes training. `make_view` picks the right one
for a stream.
"""

from __future__ import annotations

import math
import sys
from typing import Optional

import numpy as np
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeRemainingColumn)
from rich.table import Table
from rich.text import Text

from vecgrad.train.events import (BatchEnd, EpochEnd, EpochStart, EvalEnd, FitEnd,
                                     FitStart, LayerStats)
from vecgrad.viz.plot import LinePlot, Series, line_plot

SHOW_CHOICES = ("auto", "none", "forward", "grad", "all")
CONFUSION_TITLE = "confusion matrix (rows: true class, columns: predicted)"
BEST_LEGEND = "* = new best validation loss (those weights are kept and tested)"


# -------------------------------------------------------------------- formatting
def _num(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}"


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def loss_plot(series: dict, width: int = 60, height: int = 12) -> Optional[LinePlot]:
    """A plot of one or more per-epoch curves (vecgrad.viz.plot), or None without data.

    `series` maps a label to a list of numbers (None/NaN/inf points are skipped, which
    breaks the curve there). Each series gets its own marker and colour. When every value
    is positive and they span more than a factor of 10 the y axis is logarithmic (losses
    usually fall that way).
    """
    finite = [v for values in series.values() for v in values
              if v is not None and math.isfinite(v)]
    if not finite:
        return None
    low, high = min(finite), max(finite)
    curves = [Series(label, list(range(1, len(values) + 1)),
                     [math.nan if v is None else float(v) for v in values])
              for label, values in series.items() if values]
    return line_plot(curves, width=max(width, 20), height=max(height, 3),
                     logy=low > 0 and high / low > 10, xlabel="epoch")


def loss_curve(series: dict, width: int = 60, height: int = 12) -> list[str]:
    """`loss_plot` as plain text lines, for pipes and logs."""
    plot = loss_plot(series, width, height)
    if plot is None:
        return ["(no finite values to plot)"]
    return plot.text().splitlines()


def confusion_lines(confusion: np.ndarray, class_names=()) -> list[str]:
    """A confusion matrix as aligned text: rows are true classes, columns predictions."""
    classes = len(confusion)
    names = [str(class_names[i]) if i < len(class_names) else str(i) for i in range(classes)]
    cell = max(max(len(str(int(v))) for v in confusion.flat), 3)
    label = max(len(n) for n in names)
    head = " " * label + " | " + " ".join(f"{n[:cell]:>{cell}}" for n in names)
    lines = [CONFUSION_TITLE, head,
             "-" * len(head)]
    for name, row in zip(names, confusion):
        lines.append(f"{name:>{label}} | " + " ".join(f"{int(v):>{cell}}" for v in row))
    return lines


def _shown_layers(event: LayerStats, show: str) -> list:
    """The layers that have something to show: forward stats and/or a gradient norm."""
    forward, grad = show in ("forward", "all"), show in ("grad", "all")
    return [layer for layer in event.layers
            if (forward and layer.mean is not None) or (grad and layer.grad_norm is not None)]


def _layer_lines(event: LayerStats, show: str) -> list[str]:
    lines = []
    shown = _shown_layers(event, show)
    # as wide as the longest name and kind ('BatchNorm2d' pushed its row's columns right)
    name_width = max([12] + [len(layer.name) for layer in shown])
    kind_width = max([10] + [len(layer.kind) for layer in shown])
    for layer in shown:
        parts = [f"  {layer.name:<{name_width}} {layer.kind:<{kind_width}}"]
        if show in ("forward", "all") and layer.mean is not None:
            parts.append(f"mean {_num(layer.mean):>9}  std {_num(layer.std):>9}")
            if layer.dead_fraction is not None:
                parts.append(f"dead {_pct(layer.dead_fraction):>7}")
        if show in ("grad", "all") and layer.grad_norm is not None:
            parts.append(f"grad norm {_num(layer.grad_norm):>9}")
        lines.append("  ".join(parts))
    return lines


def _end_summary(event: FitEnd) -> list[str]:
    text = f"training {event.reason.replace('_', ' ')} after {event.epochs_run} epoch(s)"
    if event.best_epoch:
        text += f"; best validation loss {_num(event.best_val_loss)} at epoch {event.best_epoch}"
    return [text] + ([event.message] if event.message else [])


def _end_curves(event: FitEnd) -> dict:
    return {"train loss": event.history.train_loss, "val loss": event.history.val_loss}


def _end_lines(event: FitEnd) -> list[str]:
    lines = _end_summary(event)
    if event.history.train_loss:
        lines += ["", "loss per epoch:"]
        lines += loss_curve(_end_curves(event))
    return lines


def _eval_line(event: EvalEnd) -> str:
    text = f"{event.split}: loss {_num(event.loss)}"
    if event.accuracy is not None:
        text += f"  accuracy {_pct(event.accuracy)}"
    return text + f"  ({event.samples} samples)"


def _clip_text(event: EpochEnd, short: bool = False) -> str:
    """'  max grad norm 3.2, 5 batches clipped to 1' when the run clips gradients (the
    norms before clipping); short: '  max ‖g‖ 3.2, 5 clipped'."""
    if event.clip_grad_norm is None or event.grad_norm is None:
        return ""
    if short:
        return f"  max ‖g‖ {_num(event.grad_norm, 3)}, {event.clipped_batches} clipped"
    return (f"  max grad norm {_num(event.grad_norm, 3)}, {event.clipped_batches} "
            f"batches clipped to {_num(event.clip_grad_norm, 3)}")


# -------------------------------------------------------------------- plain view
class PlainView:
    """One line per epoch, no animation: for pipes, files and CI logs."""

    def __init__(self, stream=None, show: str = "none"):
        self.stream = stream if stream is not None else sys.stdout
        self.show = "none" if show == "auto" else show

    def write(self, line: str = "") -> None:
        print(line, file=self.stream, flush=True)

    def __call__(self, event) -> None:
        if isinstance(event, FitStart):
            verb = (f"resuming at epoch {event.start_epoch + 1}" if event.start_epoch
                    else "training")
            self.write(f"{verb}: {event.train_samples} train / {event.val_samples} val samples, "
                       f"{event.batches_per_epoch} batches per epoch, {event.parameters} "
                       f"parameters, device {event.device}")
            self.write(BEST_LEGEND)
        elif isinstance(event, EpochEnd):
            mark = " *" if event.improved else ""
            self.write(f"epoch {event.epoch:>3}/{event.epochs}  train loss "
                       f"{_num(event.train_loss)}  val loss {_num(event.val_loss)}  val acc "
                       f"{_pct(event.val_accuracy)}  lr {_num(event.lr, 3)}  "
                       f"{event.seconds:.2f}s{mark}{_clip_text(event)}")
        elif isinstance(event, LayerStats) and self.show != "none":
            for line in _layer_lines(event, self.show):
                self.write(line)
        elif isinstance(event, FitEnd):
            for line in _end_lines(event):
                self.write(line)
        elif isinstance(event, EvalEnd):
            self.write(_eval_line(event))
            if event.confusion is not None:
                for line in confusion_lines(event.confusion, event.class_names):
                    self.write(line)


# --------------------------------------------------------------------- rich view
class RichView:
    """Progress bar and layer panel live in a terminal; finished epochs scroll above.

    Each completed epoch is printed as a row above the live region, so every epoch stays
    in the terminal's scrollback (a live table would keep only the rows that fit). The
    live region holds the layer panel and the progress bar; the panel is dropped only
    when the terminal is too short for it.
    """

    PANEL_FRAME = 3  # top border, header, bottom border
    COLUMNS = (("epoch", 9), ("train loss", 11), ("val loss", 11), ("val acc", 8),
               ("lr", 9), ("time", 8))
    LEGEND = BEST_LEGEND

    def __init__(self, console: Console, show: str = "all"):
        self.console = console
        self.show = "all" if show == "auto" else show
        self.rows: list[tuple] = []
        self.layers: LayerStats | None = None
        # The bar takes whatever width the text leaves, so the line fits 80 columns.
        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}"), BarColumn(bar_width=None),
            MofNCompleteColumn(), TextColumn("batches"),
            TextColumn("{task.fields[rate]} samples/s"), TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[grad]}"),
            TextColumn("ETA"), TimeRemainingColumn(compact=True),
            console=console, expand=True)
        self.task = None
        self.live: Live | None = None
        self.samples = 0

    def _row_text(self, cells) -> str:
        return " ".join(f"{cell:>{width}}" for cell, (_, width) in zip(cells, self.COLUMNS))

    def _print_row(self, cells, improved: bool, extra: str = "") -> None:
        # Printed through the console while Live runs: rich puts it above the live region.
        line = self._row_text(cells) + extra + (" [green]*[/]" if improved else "")
        self.console.print(line, highlight=False)

    def _layer_panel(self):
        if self.layers is None or self.show == "none":
            return None
        table = Table(expand=False, box=None)
        columns = ["layer", "kind"]
        if self.show in ("forward", "all"):
            columns += ["mean", "std", "dead ReLU"]
        if self.show in ("grad", "all"):
            columns += ["grad norm"]
        for name in columns:
            table.add_column(name, justify="left" if name in ("layer", "kind") else "right")
        for layer in _shown_layers(self.layers, self.show):
            cells = [Text(layer.name), Text(layer.kind)]  # names are not markup
            if self.show in ("forward", "all"):
                cells += [_num(layer.mean), _num(layer.std),
                          "" if layer.dead_fraction is None else _pct(layer.dead_fraction)]
            if self.show in ("grad", "all"):
                cells += [_num(layer.grad_norm)]
            table.add_row(*cells)
        return Panel(table, title=f"layers after epoch {self.layers.epoch}", expand=False)

    def _render(self):
        # One line is kept free (a live region as tall as the terminal scrolls), one for
        # the progress bar, and a few for the newest epoch rows printed above.
        free = self.console.height - 2 - min(3, len(self.rows))
        panel = self._layer_panel()
        if panel is not None:
            panel_height = len(_shown_layers(self.layers, self.show)) + self.PANEL_FRAME
            if panel_height > free:
                panel = None  # too short a terminal: the progress bar matters more
        return Group(panel, self.progress) if panel is not None else Group(self.progress)

    def _refresh(self) -> None:
        if self.live is not None:
            self.live.update(self._render())

    def __call__(self, event) -> None:
        if isinstance(event, FitStart):
            self.console.print(f"[bold]training[/] {event.train_samples} train / "
                               f"{event.val_samples} val samples, {event.parameters} "
                               f"parameters on [cyan]{event.device}[/]")
            self.console.print(self.LEGEND, style="dim", highlight=False, markup=False)
            self.console.print(self._row_text([name for name, _ in self.COLUMNS]),
                               style="bold", highlight=False, markup=False)
            self.live = Live(self._render(), console=self.console, refresh_per_second=8,
                             transient=False)
            self.live.start()
        elif isinstance(event, EpochStart):
            if self.task is not None:
                self.progress.remove_task(self.task)
            self.samples = 0
            self.task = self.progress.add_task("", total=event.batches,
                                               epoch=f"{event.epoch}/{event.epochs}",
                                               rate="-", loss="-", grad="")
        elif isinstance(event, BatchEnd) and self.task is not None:
            self.samples += event.samples
            rate = self.samples / event.seconds if event.seconds > 0 else 0.0
            # with clipping, the norm before clipping (what clipping reacts to)
            grad = "" if event.grad_norm is None else f"‖g‖ {_num(event.grad_norm, 3)}"
            self.progress.update(self.task, completed=event.batch, rate=f"{rate:,.0f}",
                                 loss=_num(event.loss), grad=grad)
        elif isinstance(event, LayerStats):
            self.layers = event
            self._refresh()
        elif isinstance(event, EpochEnd):
            cells = (f"{event.epoch}/{event.epochs}", _num(event.train_loss),
                     _num(event.val_loss), _pct(event.val_accuracy), _num(event.lr, 3),
                     f"{event.seconds:.2f}s")
            self.rows.append(cells)
            self._print_row(cells, event.improved, _clip_text(event, short=True))
            self._refresh()
        elif isinstance(event, FitEnd):
            if self.live is not None:
                if self.task is not None:
                    self.progress.remove_task(self.task)
                    self.task = None
                self.live.update(self._render())
                self.live.stop()
                self.live = None
            for line in _end_summary(event):
                self.console.print(line, highlight=False, markup=False)
            plot = loss_plot(_end_curves(event)) if event.history.train_loss else None
            if plot is not None:  # in colour, one marker per curve
                self.console.print("\nloss per epoch:", highlight=False)
                self.console.print(plot)
        elif isinstance(event, EvalEnd):
            self.console.print(_eval_line(event), highlight=False)
            if event.confusion is not None:
                # The title goes on its own line: a narrow table would wrap it.
                self.console.print(CONFUSION_TITLE, highlight=False)
                self.console.print(confusion_fitted(self.console, event.confusion,
                                                    event.class_names))


def confusion_table(confusion: np.ndarray, class_names=()) -> Table:
    """A rich table of a confusion matrix with the diagonal highlighted."""
    classes = len(confusion)
    names = [str(class_names[i]) if i < len(class_names) else str(i) for i in range(classes)]
    table = Table()
    table.add_column("true \\ pred", justify="right")
    for name in names:
        table.add_column(Text(name), justify="right")  # class names are not markup
    for i, (name, row) in enumerate(zip(names, confusion)):
        cells = [f"[bold green]{int(v)}[/]" if i == j else
                 (f"[red]{int(v)}[/]" if v else "[dim]0[/]") for j, v in enumerate(row)]
        table.add_row(Text(name), *cells)
    return table


def confusion_fitted(console: Console, confusion: np.ndarray, class_names=()):
    """The confusion matrix as wide as `console` allows: the rich table when it fits
    whole, else the compact aligned lines, else one sentence saying how wide it needs
    the terminal to be. (A rich table too wide for the terminal shrank its columns,
    cutting counts to '1…' or to nothing: a 20-column terminal showed empty cells.)"""
    from scalargrad.render import table_fits

    table = confusion_table(confusion, class_names)
    if table_fits(table, console):
        return table
    lines = confusion_lines(confusion, class_names)[1:]  # the title is already printed
    needed = max(len(line) for line in lines)
    if needed <= console.width:
        return Text("\n".join(lines), no_wrap=True)
    return Text(f"(the confusion matrix needs a terminal {needed} columns wide, this one "
                f"has {console.width})")


def make_view(stream=None, show: str = "auto", force_plain: bool = False):
    """A RichView when `stream` is a terminal, a NotebookView (vecgrad.train.notebook) in
    a Jupyter kernel when `stream` is the cell's stdout, else a PlainView."""
    in_cell = stream is None or stream is sys.stdout
    stream = stream if stream is not None else sys.stdout
    if show not in SHOW_CHOICES:
        raise ValueError(f"show must be one of {', '.join(SHOW_CHOICES)}, got {show!r}")
    from vecgrad.train import notebook  # noqa: PLC0415 (imports this module)
    if in_cell and not force_plain and notebook.in_notebook():
        return notebook.NotebookView(show)
    console = Console(file=stream)
    if console.is_terminal and not force_plain:
        return RichView(console, show)
    return PlainView(stream, show)
