"""What every command-line entry point shares: the one-line parser, exit codes, and the
runner that turns expected failures into one line on stderr (never a traceback).

`vecgrad ...`, `python -m vecgrad.bench`, `python -m vecgrad.bench.opencl` and
`python -m vecgrad.cli.check` all go through `run_command`. It lives below the command
line and the bench (it imports only the engine's error types), so both may use it.
"""

from __future__ import annotations

import argparse
import sys

from vecgrad.backends.opencl_runtime import OpenCLError  # plain module: no OpenCL work
from vecgrad.checkpoint import CheckpointError
from vecgrad.data import IDXError

EXIT_ERROR, EXIT_DIVERGED, EXIT_INTERRUPTED = 2, 3, 130

#: failures a user can cause and fix (a flag, a device, a file): one line, no traceback
EXPECTED_ERRORS = (ValueError, CheckpointError, IDXError, OSError, OpenCLError)


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (no usage dump) and exits 2."""

    def error(self, message):
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def run_command(prog: str, module, argv: list[str], description: str | None = None) -> int:
    """Parse `argv` with `module.add_arguments`, run `module.main(args)`, and turn every
    expected failure into one line on stderr; returns the exit status."""
    parser = OneLineParser(prog=prog, description=description)
    module.add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a bad flag (2, already explained)
        return int(exc.code or 0)
    try:
        return int(module.main(args) or 0)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except EXPECTED_ERRORS as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
