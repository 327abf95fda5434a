"""`python -m vecgrad.bench [options]` is `vecgrad bench [options]`."""

import sys

from vecgrad.bench import suite
from vecgrad.entry import run_command

sys.exit(run_command("python -m vecgrad.bench", suite, sys.argv[1:],
                     "vecgrad's speed beside references"))
