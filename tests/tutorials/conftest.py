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
def run_lesson_quietly():
    """Run lesson N with --no-pause semantics; returns (results, printed text)."""
    from tutorials.framework import run_lesson
    from tutorials.registry import load_lesson

    def run(number):
        out = io.StringIO()
        console = Console(file=out, width=100, color_system=None)
        results = run_lesson(load_lesson(number), console=console, pause=False)
        return results, out.getvalue()

    return run
