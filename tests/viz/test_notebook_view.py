"""The Trainer's notebook view: one output, updated in place, HTML and plain text."""

import sys
import types

import numpy as np

from vecgrad.train import notebook
from vecgrad.train.events import EpochEnd, FitEnd, History
from vecgrad.train.views import PlainView, make_view

from tests.trainer.test_ui import events


class FakeHandle:
    def __init__(self, log, obj):
        self.log = log
        self.frames = [obj]

    def update(self, obj):
        self.frames.append(obj)


class FakeDisplay:
    """Stands in for IPython.display.display(obj, display_id=True)."""

    def __init__(self):
        self.handles = []

    def __call__(self, obj):
        handle = FakeHandle(self, obj)
        self.handles.append(handle)
        return handle


def test_one_output_updated_in_place_then_eval_below():
    display = FakeDisplay()
    view = notebook.NotebookView(display=display, min_interval=0.0)
    for event in events():
        view(event)
    live, evaluation = display.handles  # the live output, then the test results
    assert len(live.frames) >= 6  # start, each epoch start/end, the end
    final = live.frames[-1]
    html, plain = final._repr_html_(), repr(final)
    assert "<progress" not in html  # the bar is gone once the fit ended
    assert "<progress" in live.frames[1]._repr_html_()
    assert html.count("<tr>") >= 2 + 2  # two epoch rows, two layer rows
    assert "2/2 *" in html and "80.00%" in html and "layers after epoch 2" in html
    assert html.count("<svg") == 1 and "val loss" in html  # the loss curve, from 2 epochs on
    assert "<svg" not in live.frames[0]._repr_html_()
    assert "training completed after 2 epoch(s); best validation loss 0.7 at epoch 2" in plain
    assert "training: 90 train / 30 val samples, 1234 parameters on cpu" in plain
    eval_frame = evaluation.frames[0]
    assert "test: loss 0.65  accuracy 75.00%" in repr(eval_frame)
    assert "<td>cat</td><td>2</td><td>0</td>" in eval_frame._repr_html_()


def test_batch_updates_are_throttled_but_epoch_ends_are_not():
    display = FakeDisplay()
    view = notebook.NotebookView(display=display, min_interval=3600.0)
    for event in events():
        view(event)
    frames = display.handles[0].frames
    plain = [repr(f) for f in frames]
    # every epoch end shows (no batch within the hour-long interval does, except the last)
    assert any("1/2 *" in p and "2/2" not in p.split("epoch")[-1] for p in plain)
    assert "training completed" in plain[-1]
    assert len(frames) <= 8


def test_html_is_escaped():
    display = FakeDisplay()
    view = notebook.NotebookView(display=display, min_interval=0.0)
    evs = events()
    view(evs[0])
    view(FitEnd("failed", 0, 0, float("inf"), "ValueError: <b>bad</b> & worse", History()))
    html = display.handles[0].frames[-1]._repr_html_()
    assert "<b>bad</b>" not in html and "&lt;b&gt;bad&lt;/b&gt; &amp; worse" in html


def test_nan_losses_show_as_nan():
    display = FakeDisplay()
    view = notebook.NotebookView(display=display, min_interval=0.0)
    view(events()[0])
    view(EpochEnd(1, 2, float("nan"), None, float("inf"), None, 0.01, 0.1, False, 0))
    assert "<td>nan</td><td>inf</td><td>-</td>" in display.handles[0].frames[-1]._repr_html_()


def test_make_view_picks_the_notebook_view_only_in_a_kernel(monkeypatch):
    assert not notebook.in_notebook()  # pytest is not a Jupyter kernel

    class ZMQInteractiveShell:
        pass

    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: ZMQInteractiveShell()
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert notebook.in_notebook()
    assert isinstance(make_view(), notebook.NotebookView)
    assert isinstance(make_view(force_plain=True), PlainView)
    import io
    assert isinstance(make_view(io.StringIO()), PlainView)  # an explicit stream is honoured

    class HostedShell(ZMQInteractiveShell):  # a hosted notebook's own shell class
        pass

    fake.get_ipython = lambda: HostedShell()
    assert notebook.in_notebook()

    class TerminalInteractiveShell:
        pass

    fake.get_ipython = lambda: TerminalInteractiveShell()  # IPython in a terminal
    assert not notebook.in_notebook()
    fake.get_ipython = lambda: None  # IPython imported, but no shell running
    assert not notebook.in_notebook()


def test_history_converts_to_a_list_of_dicts():
    history = History(train_loss=[1.0, 0.5], val_loss=[1.2, 0.7], val_accuracy=[0.5, None],
                      lr=[0.1, 0.1], seconds=[0.2, 0.3])
    records = history.records()
    assert records == [
        {"epoch": 1, "train_loss": 1.0, "train_accuracy": None, "val_loss": 1.2,
         "val_accuracy": 0.5, "lr": 0.1, "seconds": 0.2},
        {"epoch": 2, "train_loss": 0.5, "train_accuracy": None, "val_loss": 0.7,
         "val_accuracy": None, "lr": 0.1, "seconds": 0.3},
    ]
    assert History().records() == []
    assert np.isfinite([r["train_loss"] for r in records]).all()


def test_a_second_fit_gets_its_own_output():
    display = FakeDisplay()
    view = notebook.NotebookView(display=display, min_interval=0.0)
    for event in events()[:-1]:
        view(event)
    for event in events()[:-1]:  # the same view subscribed again, a fresh run
        view(event)
    first, second = display.handles
    assert repr(first.frames[-1]).count("2/2 *") == 1
    assert repr(second.frames[-1]).count("2/2 *") == 1  # not the first run's rows again
