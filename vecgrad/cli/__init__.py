"""The `vecgrad` command: `vecgrad train | evaluate | devices | bench | check`.

One module per command, each providing `add_arguments(parser)` and `main(args) -> int`.
The command line only parses flags and prints: `train` and `evaluate` hand a RunConfig to
vecgrad.train.runner, `bench` to vecgrad.bench, `check` runs the engine's self-test. A
command's module is imported only when it is asked for, so `vecgrad train` never touches
OpenCL unless --device says so. May import anything in vecgrad; nothing imports it.
"""

from __future__ import annotations

import importlib
import sys

from vecgrad.entry import (EXIT_ERROR, EXIT_INTERRUPTED, OneLineParser, output_error,
                           quiet_broken_pipe, run_command, tolerate_narrow_encodings, version_text)

#: command -> (module, one-line help)
COMMANDS = {
    "train": ("vecgrad.cli.train", "train a network (defaults: digits MLP, >= 97%)"),
    "evaluate": ("vecgrad.cli.evaluate", "test metrics and confusion matrix of a checkpoint"),
    "devices": ("vecgrad.cli.devices", "list the compute devices (numpy CPU, OpenCL platforms)"),
    "bench": ("vecgrad.cli.bench", "time vecgrad against hand-written numpy and "
                                    "PyTorch, each in its own process"),
    "check": ("vecgrad.cli.check", "every op family's gradients against central "
                                    "differences on one device"),
}


def build_parser() -> OneLineParser:
    """The top-level parser: the command names and their one-line help."""
    parser = OneLineParser(prog="vecgrad", description="Train and inspect "
                           "networks with the vecgrad autograd engine.")
    parser.add_argument("--version", action="version", version=version_text("vecgrad"))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, text) in COMMANDS.items():
        sub.add_parser(name, help=text.replace("%", "%%"), add_help=False)
    return parser


def _run(name: str, argv: list[str]) -> int:
    module_name, text = COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        print(f"vecgrad {name}: not available in this installation ({module_name} is "
              "missing)", file=sys.stderr)
        return EXIT_ERROR
    return run_command(f"vecgrad {name}", module, argv, text)


def main(argv=None) -> int:
    """Entry point of the `vecgrad` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    tolerate_narrow_encodings()
    if argv and argv[0] in COMMANDS:
        try:
            return _run(argv[0], argv[1:])
        except KeyboardInterrupt:  # Ctrl-C while the command's module is still importing
            print(f"vecgrad {argv[0]}: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
    try:
        return _top_level(argv)
    except BrokenPipeError:  # `vecgrad --help | head -1`
        return quiet_broken_pipe()
    except OSError as exc:  # `vecgrad --help > /dev/full`
        status = output_error("vecgrad", exc)
        if status is None:
            raise
        return status


def _top_level(argv: list[str]) -> int:
    parser = build_parser()
    try:
        parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or an unknown command (2, already explained)
        return int(exc.code or 0)
    parser.print_help()
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
