"""Run-as-a-file support for the lesson modules (`python tutorials/lessonNN.py`).

A lesson file imports numpy, rich and the engines before `main_for` can catch anything,
which takes most of a second; Ctrl-C in that time would end in a traceback. This module
imports nothing heavy, so a lesson file can call `leave_quietly_on_ctrl_c` first.
"""

from __future__ import annotations

import sys


def leave_quietly_on_ctrl_c() -> None:
    """An uncaught KeyboardInterrupt ends the program without a traceback, still with
    the status of a program stopped by SIGINT (130), like `python -m tutorials`."""
    previous = sys.excepthook

    def hook(kind, value, traceback):
        if issubclass(kind, KeyboardInterrupt):
            print(file=sys.stderr)
            return
        previous(kind, value, traceback)

    sys.excepthook = hook
