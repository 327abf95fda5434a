"""What every `vecgrad` command shares: the one-line argument parser, exit codes, the
output flags and the views they select."""

from __future__ import annotations

import argparse
import sys

from vecgrad.entry import (EXIT_DIVERGED, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_TERMINATED,
                           OneLineParser)
from vecgrad.train.config import ConfigError

__all__ = ["EXIT_DIVERGED", "EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_TERMINATED", "OneLineParser",
           "UsageError",
           "add_device_argument", "add_output_arguments", "json_text", "make_views"]

# A flag combination or value that cannot work; printed without a traceback.
UsageError = ConfigError


def folder_name(text: str) -> str:
    """argparse type of --data-dir: an empty name meant the working folder for train
    (it said "missing ... in ." ) and was ignored by evaluate (the checkpoint's folder
    was read instead)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("give a folder name ('.' is the working folder)")
    return text


def add_device_argument(p: argparse.ArgumentParser, what: str = "cpu") -> None:
    """--device, unset by default so the one rule decides: --device > $VECGRAD_DEVICE >
    `what`."""
    p.add_argument("--device", default=None, help="cpu, opencl, opencl:P:D or auto (the "
                   f"best available); default: $VECGRAD_DEVICE, else {what}")


def add_output_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="print only the final metrics")
    p.add_argument("--json", action="store_true",
                   help="machine-readable metrics on stdout (progress goes to stderr)")
    p.add_argument("--plain", action="store_true", help="plain lines even on a terminal")


def make_views(args):
    """The views for this run, and the stream human-readable output goes to."""
    from vecgrad.train.views import PlainView, make_view

    stream = sys.stderr if args.json else sys.stdout
    if args.quiet:
        return [], stream
    show = getattr(args, "show", "auto")
    view = PlainView(stream, show) if args.plain else make_view(stream, show)
    return [view], stream


def json_text(value) -> str:
    """JSON for --json: NaN and infinities become null (bare NaN is not JSON)."""
    import json
    import math

    def clean(item):
        if isinstance(item, float):
            return item if math.isfinite(item) else None
        if isinstance(item, dict):
            return {key: clean(v) for key, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [clean(v) for v in item]
        if hasattr(item, "item") and getattr(item, "ndim", None) == 0:  # numpy scalar
            return clean(item.item())
        return item

    return json.dumps(clean(value), allow_nan=False)
