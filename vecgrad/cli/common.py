"""What every `vecgrad` command shares: the one-line argument parser, exit codes, the
output flags and the views they select."""

from __future__ import annotations

import argparse
import sys

from vecgrad.train.config import ConfigError

EXIT_ERROR, EXIT_DIVERGED, EXIT_INTERRUPTED = 2, 3, 130

# A flag combination or value that cannot work; printed without a traceback.
UsageError = ConfigError


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (no usage dump) and exits 2."""

    def error(self, message):
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


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
