"""`python -m vecgrad.bench [options]` is `vecgrad bench [options]`."""

import argparse

from vecgrad.bench.suite import add_arguments, main

parser = argparse.ArgumentParser(prog="python -m vecgrad.bench",
                                 description="vecgrad's speed beside references")
add_arguments(parser)
raise SystemExit(main(parser.parse_args()))
