"""The Trainer's view in a Jupyter notebook: one output that updates in place.

`make_view()` picks this view inside a Jupyter kernel. It shows the progress of the
current epoch, the table of epochs, the layer statistics and the loss curve (an SVG
from vecgrad.viz.plot) in ONE output of the cell, replaced on each update through
IPython's display handles (`display(..., display_id=True)` then `handle.update(...)`),
so a notebook keeps one picture of the run, not a scroll of frames. Updates within an
epoch are throttled; epoch ends and the end of the fit always update. Every frame
carries a plain-text form too (what a text-only front end or `nbconvert --to script`
shows). Evaluation results go to a new output below.

It needs IPython (part of any Jupyter kernel) and nothing else: rich's Live display
would need ipywidgets, which nbclient and static notebook viewers do not render.
Like every view, it only watches.
"""

from __future__ import annotations

import html
import sys
import time

from vecgrad.train import views
from vecgrad.train.events import (BatchEnd, EpochEnd, EpochStart, EvalEnd, FitEnd,
                                  FitStart, LayerStats)

COLUMNS = ("epoch", "train loss", "val loss", "val acc", "lr", "time")


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (IPython's ZMQ shell), not a terminal."""
    shell_module = sys.modules.get("IPython")
    if shell_module is None:
        return False
    try:
        shell = shell_module.get_ipython()
    except Exception:  # an IPython too old or half imported: not a notebook we know
        return False
    # By class name, so IPython need not be imported further; subclasses (Colab's shell,
    # for one) count too.
    return shell is not None and any(cls.__name__ == "ZMQInteractiveShell"
                                     for cls in type(shell).__mro__)


class Frame:
    """One state of the display: HTML for Jupyter, plain text for everything else."""

    def __init__(self, html_text: str, plain: str):
        self.html_text = html_text
        self.plain = plain

    def _repr_html_(self) -> str:
        return self.html_text

    def __repr__(self) -> str:
        return self.plain


def _table(headers, rows, caption: str = "") -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    cap = f"<caption>{e(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class NotebookView:
    """Live progress, epoch table, layer statistics and loss curve in a notebook cell.

    Args:
        show: which layer statistics to show ("auto" = "all", "none", "forward", "grad").
        min_interval: seconds between two in-epoch updates (batch ends).
        display: the function that shows a new output and returns its handle
            (IPython.display.display with display_id=True; tests pass their own).
    """

    def __init__(self, show: str = "auto", min_interval: float = 0.25, display=None):
        self.show = "all" if show == "auto" else show
        self.min_interval = min_interval
        self._display = display
        self.handle = None
        self.title = ""
        self.rows: list[tuple] = []
        self.curves = {"train loss": [], "val loss": []}
        self.layers: LayerStats | None = None
        self.progress: tuple | None = None  # (epoch text, done, total, loss text)
        self.end_lines: list[str] = []
        self.last_update = 0.0
        self.updates = 0

    # ------------------------------------------------------------------ output
    def _show(self, obj):
        if self._display is not None:
            return self._display(obj)
        from IPython.display import display
        return display(obj, display_id=True)

    def _update(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self.last_update < self.min_interval:
            return
        self.last_update = now
        self.updates += 1
        frame = self.frame()
        if self.handle is None:
            self.handle = self._show(frame)
        else:
            self.handle.update(frame)

    # ----------------------------------------------------------------- drawing
    def _curve_svg(self) -> str:
        if len(self.curves["train loss"]) < 2:
            return ""
        plot = views.loss_plot(self.curves)  # the same plot the terminal views draw
        return "" if plot is None else plot.svg()

    def _layer_rows(self):
        if self.layers is None or self.show == "none":
            return None, []
        forward, grad = self.show in ("forward", "all"), self.show in ("grad", "all")
        headers = ["layer", "kind"] + (["mean", "std", "dead ReLU"] if forward else []) + (
            ["grad norm"] if grad else [])
        rows = []
        for layer in views._shown_layers(self.layers, self.show):
            cells = [layer.name, layer.kind]
            if forward:
                cells += [views._num(layer.mean), views._num(layer.std),
                          "" if layer.dead_fraction is None else views._pct(layer.dead_fraction)]
            if grad:
                cells.append(views._num(layer.grad_norm))
            rows.append(cells)
        return headers, rows

    def frame(self) -> Frame:
        """The display as it stands: HTML and its plain-text twin."""
        e = html.escape
        parts = [f"<div><b>{e(self.title)}</b></div>"] if self.title else []
        plain = [self.title] if self.title else []
        if self.progress is not None:
            epoch, done, total, loss = self.progress
            parts.append(f'<div>epoch {e(epoch)} <progress value="{done}" max="{total}">'
                         f"</progress> {done}/{total} batches, loss {e(loss)}</div>")
            plain.append(f"epoch {epoch}: {done}/{total} batches, loss {loss}")
        if self.rows:
            parts.append('<div style="max-height:22em;overflow-y:auto">'
                         + _table(COLUMNS, self.rows, "epochs") + "</div>")
            plain.append("  ".join(COLUMNS))
            plain += ["  ".join(row) for row in self.rows]
        headers, rows = self._layer_rows()
        if rows:
            parts.append(_table(headers, rows, f"layers after epoch {self.layers.epoch}"))
        svg = self._curve_svg()
        if svg:
            parts.append(f"<div>{svg}</div>")
        if self.end_lines:
            parts.append("<div>" + "<br>".join(e(line) for line in self.end_lines) + "</div>")
            plain += self.end_lines
        return Frame('<div class="vecgrad-training">' + "".join(parts) + "</div>",
                     "\n".join(plain))

    # ------------------------------------------------------------------ events
    def __call__(self, event) -> None:
        if isinstance(event, FitStart):
            verb = f"resuming at epoch {event.start_epoch + 1}" if event.start_epoch else "training"
            self.title = (f"{verb}: {event.train_samples} train / {event.val_samples} val "
                          f"samples, {event.parameters} parameters on {event.device}")
            self.end_lines = []
            self.handle = None  # each fit gets an output of its own (in the cell running it)
            if not event.start_epoch:  # a fresh run; a resumed one keeps its earlier epochs
                self.rows, self.curves = [], {"train loss": [], "val loss": []}
            self._update(force=True)
        elif isinstance(event, EpochStart):
            self.progress = (f"{event.epoch}/{event.epochs}", 0, event.batches, "-")
            self._update(force=True)
        elif isinstance(event, BatchEnd) and self.progress is not None:
            self.progress = (self.progress[0], event.batch, event.batches,
                             views._num(event.loss))
            self._update(force=event.batch == event.batches)
        elif isinstance(event, LayerStats):
            self.layers = event
        elif isinstance(event, EpochEnd):
            self.rows.append((f"{event.epoch}/{event.epochs}" + (" *" if event.improved else ""),
                              views._num(event.train_loss), views._num(event.val_loss),
                              views._pct(event.val_accuracy), views._num(event.lr, 3),
                              f"{event.seconds:.2f}s"))
            self.curves["train loss"].append(event.train_loss)
            self.curves["val loss"].append(event.val_loss)
            self._update(force=True)
        elif isinstance(event, FitEnd):
            self.progress = None
            text = f"training {event.reason.replace('_', ' ')} after {event.epochs_run} epoch(s)"
            if event.best_epoch:
                text += (f"; best validation loss {views._num(event.best_val_loss)} at epoch "
                         f"{event.best_epoch}")
            self.end_lines = [text] + ([event.message] if event.message else [])
            self._update(force=True)
        elif isinstance(event, EvalEnd):
            line = views._eval_line(event)
            if event.confusion is None:
                self._show(Frame(f"<div>{html.escape(line)}</div>", line))
                return
            names = [str(event.class_names[i]) if i < len(event.class_names) else str(i)
                     for i in range(len(event.confusion))]
            rows = [[names[i]] + [str(int(v)) for v in row]
                    for i, row in enumerate(event.confusion)]
            table = _table(["true \\ pred"] + names, rows, views.CONFUSION_TITLE)
            plain = "\n".join([line] + views.confusion_lines(event.confusion, event.class_names))
            self._show(Frame(f"<div>{html.escape(line)}</div>{table}", plain))
