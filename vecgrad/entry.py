"""What every command-line entry point shares: the one-line parser, exit codes, and the
runner that turns expected failures into one line on stderr (never a traceback).

`vecgrad ...`, `python -m vecgrad.bench`, `python -m vecgrad.bench.opencl`,
`python -m vecgrad.bench.hvp` and `python -m vecgrad.cli.check` all go through
`run_command`. It lives below the command
line and the bench (it imports only the engine's error types), so both may use it.
"""

from __future__ import annotations

import difflib
import errno
import os
import sys

from scalargrad.cli import FullFlagsParser  # the same flag rules for both commands
from vecgrad.backends.opencl_runtime import OpenCLError  # plain module: no OpenCL work
from vecgrad.checkpoint import CheckpointError
from vecgrad.data import IDXError

EXIT_ERROR, EXIT_DIVERGED, EXIT_INTERRUPTED = 2, 3, 130
EXIT_TERMINATED = 128 + 15    # what a shell reports for a program stopped by SIGTERM

#: failures a user can cause and fix (a flag, a device, a file): one line, no traceback
EXPECTED_ERRORS = (ValueError, CheckpointError, IDXError, OSError, OpenCLError)


EXIT_BROKEN_PIPE = 128 + 13   # what a shell reports for a program killed by SIGPIPE
# errors of a write to an output stream (a file's own errors carry its name)
_WRITE_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


def did_you_mean(message: str, options) -> str:
    """argparse's "unrecognized arguments: --optimiser adam" with a suggestion added."""
    unknown = message.partition("unrecognized arguments: ")[2].split()
    flags = [word.split("=", 1)[0] for word in unknown if word.startswith("--")]
    # a bare `--`, or a real flag left after it, is no misspelling (`--` was "--lr?")
    flags = [flag for flag in flags if flag != "--" and flag not in options]
    if not flags:
        return message
    close = difflib.get_close_matches(flags[0], [o for o in options if o.startswith("--")],
                                      n=1, cutoff=0.6)
    return f"{message}; did you mean {close[0]}?" if close else message


class OneLineParser(FullFlagsParser):
    """argparse that reports a bad flag in one line (no usage dump) and exits 2.

    Flags must be spelled out (FullFlagsParser: `--epoch` is not `--epochs`); an unknown
    flag gets a "did you mean" when one is close.
    """

    def error(self, message):
        message = did_you_mean(message, self._option_string_actions)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def version_text(prog: str) -> str:
    """`vecgrad 0.3.0 (gradlab)`: the installed distribution's version."""
    from importlib import metadata

    try:
        number = metadata.version("gradlab")
    except metadata.PackageNotFoundError:  # run from a checkout that is not installed
        number = "unknown (not installed)"
    return f"{prog} {number} (gradlab)"


def quiet_broken_pipe() -> int:
    """The reader of our output went away (`vecgrad train | head -1`): stop quietly, like
    a Unix tool killed by SIGPIPE. Later writes (and the flush at exit) go nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout replaced (tests) or closed
        pass
    return EXIT_BROKEN_PIPE


def tolerate_narrow_encodings() -> None:
    """Characters an output stream cannot encode (PYTHONIOENCODING=ascii, a legacy code
    page) print as '?' instead of a UnicodeEncodeError half-way through a run."""
    import codecs

    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None) or "utf-8"
        try:
            unicode_capable = codecs.lookup(encoding).name.startswith("utf")
        except LookupError:
            unicode_capable = False
        if not unicode_capable and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")


def _raise_broken_pipe() -> None:
    raise BrokenPipeError


def pipe_console(**kwargs):
    """A rich Console for a command's output. rich turns a closed pipe into SystemExit(1);
    this one raises BrokenPipeError instead, which run_command turns into a quiet 141
    (`vecgrad devices | head -1`)."""
    from rich.console import Console

    console = Console(**kwargs)
    console.on_broken_pipe = _raise_broken_pipe
    return console


def run_command(prog: str, module, argv: list[str], description: str | None = None) -> int:
    """Parse `argv` with `module.add_arguments`, run `module.main(args)`, and turn every
    expected failure into one line on stderr; returns the exit status."""
    tolerate_narrow_encodings()
    try:
        return _run_command(prog, module, argv, description)
    except BrokenPipeError:
        return quiet_broken_pipe()


def output_error(prog: str, exc: OSError) -> int | None:
    """For an error of a write to stdout (`> /dev/full`): say so in one line, send later
    writes nowhere, and return the exit status; None for any other OSError."""
    if exc.filename is not None or exc.errno not in _WRITE_ERRNOS:
        return None
    # "[Errno 28] No space left on device" alone did not say what could not be written
    quiet_broken_pipe()  # later writes and the flush at exit go nowhere
    print(f"{prog}: error: cannot write the output: {exc.strerror}", file=sys.stderr)
    return EXIT_ERROR


def _run_command(prog: str, module, argv: list[str], description: str | None) -> int:
    parser = OneLineParser(prog=prog, description=description)
    module.add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a bad flag (2, already explained)
        return int(exc.code or 0)
    except BrokenPipeError:
        raise
    except OSError as exc:  # --help's text could not be written
        status = output_error(prog, exc)
        if status is None:
            raise
        return status
    try:
        return int(module.main(args) or 0)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        raise
    except OSError as exc:  # stdout full or gone bad (`> /dev/full`), or a file's error
        status = output_error(prog, exc)
        if status is None:
            print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except EXPECTED_ERRORS as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
