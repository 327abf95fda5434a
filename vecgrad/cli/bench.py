"""`vecgrad bench`: the flags and the run live in vecgrad.bench; this is the command's door."""

from vecgrad.bench.suite import add_arguments, main

__all__ = ["add_arguments", "main"]


if __name__ == "__main__":  # python -m vecgrad.cli.bench ran nothing and said nothing
    import sys

    from vecgrad.entry import run_command

    sys.exit(run_command("python -m vecgrad.cli.bench", sys.modules[__name__], sys.argv[1:],
                         __doc__))
