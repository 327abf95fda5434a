"""The views: plain lines for pipes, the rich view for terminals, text plots."""

import io
import math
import subprocess
import sys

import numpy as np
import pytest
from rich.console import Console

from vecgrad.train.trainer import (BatchEnd, EpochEnd, EpochStart, EvalEnd, FitEnd, FitStart,
                             History, LayerStat, LayerStats)
from vecgrad.train.views import (PlainView, RichView, confusion_lines, confusion_table,
                                 loss_curve, loss_plot, make_view)
from vecgrad.viz.plot import MARKERS, plotext_available


def events():
    history = History(train_loss=[1.0, 0.5], val_loss=[1.2, 0.7], val_accuracy=[0.5, 0.8],
                      best_epoch=2, best_val_loss=0.7)
    layers = (LayerStat("0", "Linear", 0.1, 1.5, None, 0.25),
              LayerStat("1", "relu", 0.4, 0.6, 0.125, None))
    return [
        FitStart(2, 0, 3, 90, 30, "cpu", 1234, "Sequential()"),
        EpochStart(1, 2, 3, 0.01), BatchEnd(1, 1, 3, 1.1, 32, 0.01),
        BatchEnd(1, 3, 3, 0.9, 26, 0.03),
        EpochEnd(1, 2, 1.0, 0.4, 1.2, 0.5, 0.01, 0.05, True, 1), LayerStats(1, layers),
        EpochStart(2, 2, 3, 0.01), BatchEnd(2, 3, 3, 0.6, 26, 0.03),
        EpochEnd(2, 2, 0.5, 0.7, 0.7, 0.8, 0.01, 0.05, True, 2), LayerStats(2, layers),
        FitEnd("completed", 2, 2, 0.7, "", history),
        EvalEnd("test", 0.65, 0.75, 4, np.array([[2, 0], [1, 1]]), ("cat", "dog")),
    ]


def test_plain_view_lines():
    stream = io.StringIO()
    view = PlainView(stream, show="all")
    for event in events():
        view(event)
    text = stream.getvalue()
    assert "training: 90 train / 30 val samples, 3 batches per epoch, 1234 parameters" in text
    assert "epoch   1/2  train loss 1  val loss 1.2  val acc 50.00%  lr 0.01  0.05s *" in text
    assert "dead  12.50%" in text and "grad norm      0.25" in text
    assert "training completed after 2 epoch(s); best validation loss 0.7 at epoch 2" in text
    assert "test: loss 0.65  accuracy 75.00%  (4 samples)" in text
    assert "cat |   2   0" in text and "dog |   1   1" in text
    assert "\x1b[" not in text


def test_plain_view_hides_layers_unless_asked():
    stream = io.StringIO()
    view = PlainView(stream)  # auto: no per-layer lines in logs
    for event in events():
        view(event)
    assert "grad norm" not in stream.getvalue()


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_make_view_picks_by_stream():
    assert isinstance(make_view(io.StringIO()), PlainView)
    assert isinstance(make_view(FakeTerminal()), RichView)
    assert isinstance(make_view(FakeTerminal(), force_plain=True), PlainView)


def test_rich_view_renders_every_event():
    stream = FakeTerminal()
    view = make_view(stream, show="all")
    for event in events():
        view(event)
    text = stream.getvalue()
    for expected in ("train loss", "val acc", "80.00%", "layers after epoch 2", "dead ReLU",
                     "12.50%", "grad norm", "training completed", "true \\ pred", "dog",
                     "* = new best validation loss"):
        assert expected in text, expected


needs_plotext = pytest.mark.skipif(not plotext_available(),
                                   reason="plotext (the plot extra) is not installed")


@needs_plotext
def test_loss_curve_gives_each_curve_its_marker():
    lines = loss_curve({"train": [3.0, 2.0, 1.0, 0.5], "val": [3.5, 2.5, 2.0, 2.2]},
                       width=40, height=6)
    text = "\n".join(lines)
    drawing = "\n".join(lines[:-2])
    assert MARKERS[0] in drawing and MARKERS[1] in drawing
    assert f"{MARKERS[0]}{MARKERS[0]} train" in text and f"{MARKERS[1]}{MARKERS[1]} val" in text
    assert "x: epoch" in text and "log scale" not in text
    assert "\x1b[" not in text  # plain lines for pipes


@needs_plotext
def test_loss_curve_log_scale_and_gaps():
    plot = loss_plot({"train": [100.0, 10.0, float("nan"), 1.0], "val": [5.0, None]},
                     width=40, height=6)
    assert plot.logy
    train, val = plot.series
    # NaN and None break the curve instead of failing
    assert plot.segments(train) == [([1.0, 2.0], [2.0, 1.0]), ([4.0], [0.0])]
    assert plot.segments(val) == [([1.0], [math.log10(5.0)])]
    text = "\n".join(loss_curve({"train": [100.0, 10.0, float("nan"), 1.0]}))
    assert "(log scale)" in text and "1e2" in text and "1e0" in text


def test_loss_curve_without_data_or_without_plotext(monkeypatch):
    from vecgrad.viz import plot as viz

    assert loss_curve({"x": [float("nan")]}) == ["(no finite values to plot)"]
    monkeypatch.setattr(viz, "_plotext", lambda: None)
    text = " ".join("\n".join(loss_curve({"train": [3.0, 1.0, 2.0]})).split())
    assert "(1, 3)" in text and "1 at 2" in text and "pip install gradlab[plot]" in text


def test_confusion_lines_align_numbers():
    lines = confusion_lines(np.array([[10, 0, 1], [0, 1234, 5], [2, 3, 4]]))
    assert lines[1].split("|")[1].split() == ["0", "1", "2"]
    assert lines[4].split("|")[1].split() == ["0", "1234", "5"]
    assert len({len(line) for line in lines[1:]}) == 1


def test_rich_view_fits_a_small_terminal_and_keeps_every_epoch_in_scrollback():
    # 80x24 with 30 epochs and a 9-layer panel: the progress bar must stay visible, no
    # progress column is cut to "…", and every finished epoch row is printed above the
    # live region (so all 30 stay in the scrollback, not only the last dozen).
    stream = FakeTerminal()
    console = Console(file=stream, width=80, height=24, force_terminal=True)
    view = RichView(console, "all")
    layers = tuple(LayerStat(str(i), "Linear", 0.1, 1.0, None, 0.5) for i in range(9))
    view(FitStart(30, 0, 158, 1258, 269, "cpu", 17226, "Sequential()"))
    for epoch in range(1, 31):
        view(EpochStart(epoch, 30, 158, 0.001))
        view(BatchEnd(epoch, 150, 158, 0.000123, 8, 1.5))
        view(EpochEnd(epoch, 30, 0.5, 0.9, 0.6, 0.95, 0.001, 0.3, epoch == 1, 1))
        view(LayerStats(epoch, layers))
        lines = console.render_lines(view._render(), console.options.update(height=None))
        text = ["".join(segment.text for segment in line) for line in lines]
        assert len(text) <= 23, len(text)
        assert text[-1].startswith(f"epoch {epoch}/30") and "150/158 batches" in text[-1]
        assert "…" not in text[-1] and "ETA" in text[-1]
    assert any("layers after epoch 30" in line for line in text)  # 9 layers still fit
    view.live.stop()
    shown = stream.getvalue()
    assert "* = new best validation loss" in shown  # the legend of the mark
    for epoch in range(1, 31):
        assert f" {epoch}/30 " in shown, epoch


def test_rich_view_drops_the_panel_before_the_progress_bar():
    console = Console(file=FakeTerminal(), width=100, height=16, force_terminal=True)
    view = RichView(console, "all")
    view.rows = [("1/5", "1", "1", "50%", "0.1", "0.1s")] * 5
    view.layers = LayerStats(1, tuple(LayerStat(str(i), "Linear", 0.1, 1.0, None, 0.5)
                                      for i in range(12)))
    lines = console.render_lines(view._render(), console.options.update(height=None))
    text = ["".join(segment.text for segment in line) for line in lines]
    assert len(text) <= 15 and not any("layers after" in line for line in text)


def test_the_views_depend_on_the_events_not_on_the_loop():
    # "The UI only watches": importing the views must not pull in the training loop.
    code = "import sys, vecgrad.train.views; print('vecgrad.train.trainer' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


def test_rich_layer_panel_lists_only_layers_with_something_to_show():
    layers = (LayerStat("0", "Linear", 0.1, 1.5, None, 0.25),
              LayerStat("1", "relu", 0.4, 0.6, 0.125, None))
    for show, kinds in (("grad", ["Linear"]), ("forward", ["Linear", "relu"])):
        console = Console(file=io.StringIO(), width=100, height=40)
        view = RichView(console, show)
        view.layers = LayerStats(1, layers)
        console.print(view._layer_panel())
        text = console.file.getvalue()
        assert [kind for kind in ("Linear", "relu") if kind in text] == kinds, show


def test_confusion_table_shows_class_names_as_written():
    # Class names are the user's (Trainer(class_names=...)); "[/a]" raised MarkupError.
    out = io.StringIO()
    Console(file=out, width=80, color_system=None).print(
        confusion_table(np.eye(2, dtype=int), ["[/a]", "b[i]"]))
    assert out.getvalue().count("[/a]") == 2 and out.getvalue().count("b[i]") == 2


@pytest.mark.parametrize("width, shows", [(80, "table"), (63, "lines"), (50, "sentence"),
                                          (20, "sentence")])
def test_confusion_matrix_in_a_narrow_terminal_never_cuts_counts(width, shows):
    # rich shrank a table wider than the terminal: counts read '1…' at 50 columns and the
    # cells were empty at 20, silently.
    confusion = np.full((10, 10), 7)
    np.fill_diagonal(confusion, 1000)
    names = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
             "Sneaker", "Bag", "Ankle boot")
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None)
    RichView(console)(EvalEnd("test", 0.5, 0.9, 10_630, confusion, () if shows == "table"
                              else names))
    text = out.getvalue()
    assert "…" not in text
    if shows == "sentence":
        assert "1000" not in text
        assert " ".join(text.split()).endswith(
            f"(the confusion matrix needs a terminal 63 columns wide, this one has {width})")
    else:
        assert text.count("1000") == 10 and text.count(" 7") >= 90
        assert ("┃" in text) == (shows == "table")
        assert (shows == "lines") == ("T-shirt/top | 1000    7" in text)


def test_plain_layer_lines_stay_aligned_with_long_kinds():
    # 'BatchNorm2d' (11 characters) overflowed the 10-wide kind column of its row
    layers = (LayerStat("0", "Conv2d", 0.1, 1.0, None, 0.5),
              LayerStat("1", "BatchNorm2d", 0.2, 1.0, None, 0.25),
              LayerStat("features.0.block", "relu", 0.3, 1.0, 0.5, None))
    out = io.StringIO()
    PlainView(out, "all")(LayerStats(1, layers))
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and len({line.index("mean") for line in lines}) == 1
