"""`scalargrad graph EXPR NAME=VALUE ...` and `scalargrad bench`.

Errors (bad expression, missing or extra variables, bad options) print one line,
`scalargrad: error: ...`, on stderr and exit with status 2; Ctrl-C prints
`scalargrad: interrupted` and exits with status 130.
"""

from __future__ import annotations

import argparse
import difflib
import math
import os
import re
import sys
from typing import Optional

from scalargrad.expr import ExpressionError, build, parse_assignments
from scalargrad.graph import backward_trace

EXAMPLE = 'scalargrad graph "(x+y)*z" x=-2 y=5 z=-4'


class _UsageError(Exception):
    """An argparse error, turned into our one-line message instead of usage + exit."""

    suggestion = ""  # "did you mean --trace?" for a misspelt flag


class FullFlagsParser(argparse.ArgumentParser):
    """The argparse base of both command lines (`scalargrad`, `vecgrad`): flags spelled out
    in full (no abbreviations, so a flag added later never changes what an old command
    line means), and a failed write of --help or --version to stdout raised to the caller."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def _print_message(self, message, file=None):
        # argparse drops an OSError of this write (`--help > /dev/full` exited 0 without
        # a word): stdout's failure reaches the caller, which says it in one line;
        # stderr's stays argparse's business
        if message and (file is None or file is sys.stdout) and sys.stdout is not None:
            sys.stdout.write(message)
            sys.stdout.flush()
            return
        super()._print_message(message, file)


class _Parser(FullFlagsParser):
    """Errors become our one-line message."""

    def error(self, message):
        error = _UsageError(message)
        unknown = message.partition("unrecognized arguments: ")[2].split()
        flags = [w.split("=", 1)[0] for w in unknown if w.startswith("--") and w != "--"]
        if flags:
            # A subcommand's unknown flags reach the top parser: offer theirs too.
            parsers = [self] + [p for a in self._actions
                                if isinstance(a, argparse._SubParsersAction)
                                for p in a.choices.values()]
            options = sorted({o for p in parsers for o in p._option_string_actions
                              if o.startswith("--")})
            close = difflib.get_close_matches(flags[0], options, n=1, cutoff=0.6)
            if close:
                error.suggestion = f"did you mean {close[0]}?"
        raise error


def _version() -> str:
    from importlib import metadata

    try:
        return f"scalargrad {metadata.version('gradlab')} (gradlab)"
    except metadata.PackageNotFoundError:
        return "scalargrad unknown version (gradlab, not installed)"


def _build_parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The `scalargrad` parser and its `graph` subparser."""
    parser = _Parser(prog="scalargrad",
                     description="A scalar autograd engine that shows its graphs.",
                     epilog=f"example: {EXAMPLE}")
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    graph = commands.add_parser(
        "graph", help="build an expression's graph, run backward, show values and gradients",
        description="Evaluate EXPR, backpropagate from it and show every node's value and "
                    "gradient. Put -- before an EXPR that starts with '-'.",
        epilog=f"example: {EXAMPLE}")
    graph.add_argument("expression", metavar="EXPR",
                       help="numbers, variables, + - * / **, and catalogue functions")
    graph.add_argument("assignments", metavar="NAME=VALUE", nargs="*", default=[],
                       help="a value for every variable of EXPR")
    graph.add_argument("--dot", action="store_true", help="print Graphviz DOT text instead")
    graph.add_argument("--svg", action="store_true",
                       help="print an SVG picture instead (needs Graphviz's dot program)")
    graph.add_argument("--trace", action="store_true",
                       help="also print the backward pass one node at a time")
    graph.add_argument("--order", type=int, choices=(1, 2), default=1,
                       help="2: also print the second derivatives (the Hessian), by "
                            "reverse over reverse, checked by forward over reverse")

    bench = commands.add_parser("bench", help="time an MLP epoch against micrograd",
                                description="One epoch of MLP(2, [16, 16, 1]): forward of "
                                            "the summed squared loss, backward, SGD update.")
    bench.add_argument("--points", type=int, default=100,
                       help="data points, at most 10,000 (default 100)")
    bench.add_argument("--epochs", type=int, default=2,
                       help="timed epochs per engine, gc setting and round, at most 1,000 "
                            "(default 2)")
    bench.add_argument("--rounds", type=int, default=3,
                       help="rounds over all engines and gc settings, at most 100 (default 3)")
    bench.add_argument("--seed", type=int, default=0, help="seed for data and weights")
    bench.add_argument("--no-micrograd", action="store_true",
                       help="skip the micrograd comparison even if it is installed")
    return parser, graph


def _parse(argv: list) -> argparse.Namespace:
    """Parse the command line; `graph` options may come anywhere, also after NAME=VALUE."""
    parser, graph = _build_parser()
    if argv and argv[0] == "graph":
        # A plain parse stops collecting NAME=VALUE at the first option, so
        # `graph x --trace x=2` would reject x=2; the intermixed parse does not. It
        # mishandles `--` (Python 3.11), which makes everything after it positional anyway.
        rest = argv[1:]
        args = graph.parse_args(rest) if "--" in rest else graph.parse_intermixed_args(rest)
        args.command = "graph"
        return args
    return parser.parse_args(argv)


def _usage_message(message: str, suggestion: str = "") -> str:
    """argparse's message, with a hint where an expression was taken for an option."""
    if len(message) > 200:  # e.g. a 10,000-character expression echoed back
        message = message[:197] + "..."
    first = message.partition("unrecognized arguments: ")[2].split(" ")[0]
    if first.startswith("-") and not re.fullmatch(r"--[A-Za-z][\w-]*", first):
        message += ("; an expression that starts with '-' needs -- before it: "
                    'scalargrad graph -- "-x*y" x=1 y=2')
    if suggestion:
        message += f"; {suggestion}"
    return f"{message} (see scalargrad --help)"


def _print_trace(root, console) -> None:
    from rich.table import Table

    from scalargrad.graph import topological_order
    from scalargrad.render import fitted_table, node_names

    names = node_names(topological_order(root))
    table = Table(title="backward, one node at a time")
    for header in ("node", "upstream grad", "to parent", "local derivative", "contribution"):
        table.add_column(header)
    root.zero_grad()
    for step in backward_trace(root):
        rows = step.contributions or [None]
        for i, sent in enumerate(rows):
            first = (names[id(step.node)], f"{step.upstream:.6g}") if i == 0 else ("", "")
            rest = ("-", "-", "-") if sent is None else (
                names[id(sent.parent)], f"{sent.local:.6g}", f"{sent.contribution:.6g}")
            table.add_row(*first, *rest)
    console.print(fitted_table(table, console))


def _print_second_order(root, inputs, console) -> None:
    """First and second derivatives of root with respect to every variable."""
    from rich.table import Table

    from scalargrad.higher import grad, tangents
    from scalargrad.render import fitted_table

    names = list(inputs)
    xs = [inputs[n] for n in names]
    first = grad(root, xs, create_graph=True)  # Values: the gradient's own graph
    hessian = [grad(g, xs) for g in first]  # reverse over reverse
    # forward over reverse: sweep the recorded gradient graph with unit tangents
    check = [tangents(first, xs, [1.0 if j == k else 0.0 for j in range(len(xs))])
             for k in range(len(xs))]
    table = Table(title="derivatives of order 1 and 2 (Hessian)")
    for header in ["variable", "value", "d/d·"] + [f"d²/d·d{n}" for n in names]:
        table.add_column(header, justify="left" if header == "variable" else "right")
    for i, name in enumerate(names):
        table.add_row(name, f"{xs[i].data:.6g}", f"{first[i].data:.6g}",
                      *[f"{h:.6g}" for h in hessian[i]])
    console.print(fitted_table(table, console))
    pairs = [(hessian[i][k], check[k][i]) for i in range(len(xs)) for k in range(len(xs))]
    worst = max((_difference(a, b) for a, b in pairs), default=0.0)
    scale = 1.0 + max((abs(a) for a, _ in pairs if math.isfinite(a)), default=0.0)
    verdict = "the same" if worst <= 1e-9 * scale else "a different"
    console.print(f"forward over reverse gives {verdict} Hessian (largest difference "
                  f"{worst:.3g})")


def _difference(a: float, b: float) -> float:
    """|a - b|, where the same infinity or nan on both sides agrees (inf - inf is nan)."""
    if a == b or (math.isnan(a) and math.isnan(b)):
        return 0.0
    gap = abs(a - b)
    return math.inf if math.isnan(gap) else gap


def _run_graph(args, console) -> int:
    from scalargrad.picture import DOT_TIMEOUT_S, dot_program
    from scalargrad.render import fitted_table, graph_table, graph_tree, to_dot, to_svg

    alone = [flag for flag, on in (("--dot", args.dot), ("--svg", args.svg)) if on]
    extra = [flag for flag, on in (("--svg", args.svg and args.dot), ("--trace", args.trace),
                                   ("--order 2", args.order == 2)) if on]
    if alone and extra:
        raise _UsageError(f"{alone[0]} prints only the graph's {alone[0][2:].upper()} text; it "
                          f"cannot be combined with {', '.join(extra)} (run them separately)")
    root, inputs = build(args.expression, parse_assignments(args.assignments))
    root.backward()
    if args.dot:
        sys.stdout.write(to_dot(root))
        return 0
    if args.svg:
        svg = to_svg(root)
        if svg is None:  # (the pictures' sentence, "shown as a table", is false here)
            why = ("needs Graphviz's `dot` program, which is not installed (install "
                   "graphviz)" if dot_program() is None else
                   f"Graphviz's `dot` could not draw this graph (it failed or took over "
                   f"{DOT_TIMEOUT_S:g} s)")
            raise _UsageError(f"--svg {why}; --dot prints the DOT text")
        sys.stdout.write(svg)
        return 0
    console.print(fitted_table(graph_table(root), console))
    console.print(graph_tree(root))
    if args.trace:
        _print_trace(root, console)
    if args.order == 2:
        _print_second_order(root, inputs, console)
    return 0


def _run_bench(args, console) -> int:
    from scalargrad.bench import MAX_EPOCHS, MAX_POINTS, MAX_ROUNDS, report, run_bench, too_many_points

    if min(args.points, args.epochs, args.rounds) < 1:
        raise _UsageError(f"--points, --epochs and --rounds must be >= 1, got {args.points}, "
                          f"{args.epochs} and {args.rounds}")
    if args.points > MAX_POINTS:
        raise _UsageError(too_many_points(args.points))
    # an epoch of 100 points is about 0.1 s per engine: bounded so a typo cannot run forever
    for flag, value, most in (("--epochs", args.epochs, MAX_EPOCHS),
                              ("--rounds", args.rounds, MAX_ROUNDS)):
        if value > most:
            raise _UsageError(f"{flag} must be at most {most:,}, got {value:,}")
    report(run_bench(args.points, args.epochs, args.seed, not args.no_micrograd, args.rounds),
           console)
    return 0


def _raise_broken_pipe() -> None:
    raise BrokenPipeError


def main(argv: Optional[list] = None) -> int:
    """Entry point of the `scalargrad` command; returns the exit status."""
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C in a bench or a large graph: one line, no traceback
        print("scalargrad: interrupted", file=sys.stderr)
        return 130


def _main(argv: Optional[list]) -> int:
    from rich.console import Console

    for stream in (sys.stdout, sys.stderr):  # pure Python: no vecgrad import here
        encoding = (getattr(stream, "encoding", None) or "utf-8").lower().replace("-", "")
        if not encoding.startswith("utf") and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")  # '?' for what it cannot encode

    try:
        args = _parse(sys.argv[1:] if argv is None else list(argv))
    except _UsageError as exc:
        print(f"scalargrad: error: {_usage_message(str(exc), exc.suggestion)}",
              file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help and --version exit through argparse
        return exc.code if isinstance(exc.code, int) else 0
    except BrokenPipeError:  # `scalargrad --help | head -1`
        _discard_output()
        return 128 + 13
    except OSError as exc:  # --help's text could not be written (`> /dev/full`)
        _discard_output()
        print(f"scalargrad: error: cannot write the output: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    console = Console()
    # rich turns a closed pipe into SystemExit(1); hand it to the handler below instead
    console.on_broken_pipe = _raise_broken_pipe
    try:
        if args.command == "graph":
            return _run_graph(args, console)
        return _run_bench(args, console)
    except (ExpressionError, _UsageError) as exc:
        print(f"scalargrad: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`scalargrad graph ... --dot | head`, or a program that
        # is not installed): stop quietly like a Unix tool killed by SIGPIPE.
        _discard_output()
        return 128 + 13
    except OSError as exc:  # the output cannot be written (`> /dev/full`, a full disk)
        _discard_output()
        print(f"scalargrad: error: cannot write the output: {exc.strerror or exc}",
              file=sys.stderr)
        return 2


def _discard_output() -> None:
    """Later writes, and the flush at exit, go to /dev/null (no second error)."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


if __name__ == "__main__":
    sys.exit(main())
