"""Helpers for the tutorial tests: run a lesson straight through, output captured."""

import io
import sys
from pathlib import Path

import pytest
from rich.console import Console

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `tutorials` is run from a checkout, not installed
    sys.path.insert(0, str(REPO))


@pytest.fixture
def run_lesson_quietly(monkeypatch):
    """Run lesson N with --no-pause semantics; returns (results, printed text).

    Every plot the lesson draws is checked on the way: its series must differ in marker
    (not only in colour), so the plot reads without colour.
    """
    from tutorials.framework import run_lesson
    from tutorials.registry import load_lesson
    from vecgrad.viz.plot import LinePlot

    drawn = []
    original = LinePlot.__init__

    def recording_init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        drawn.append(self)

    monkeypatch.setattr(LinePlot, "__init__", recording_init)

    def run(number):
        out = io.StringIO()
        console = Console(file=out, width=100, color_system=None)
        results = run_lesson(load_lesson(number), console=console, pause=False)
        for plot in drawn:
            markers = [marker for marker, _ in plot.styles()]
            assert len(set(markers)) == len(markers), (
                f"lesson {number}: plot {plot.title!r} repeats a marker: {markers}")
        drawn.clear()
        return results, out.getvalue()

    return run
