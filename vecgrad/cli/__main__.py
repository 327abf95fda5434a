"""`python -m vecgrad.cli ...` is the `vecgrad` command."""

import sys

from vecgrad.cli import main

sys.exit(main())
