"""`vecgrad bench`: the flags and the run live in vecgrad.bench; this is the command's door."""

from vecgrad.bench.suite import add_arguments, main

__all__ = ["add_arguments", "main"]
