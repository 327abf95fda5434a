"""Small rich tables shared by the lessons (presentation only, no lesson logic)."""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text


def fmt_number(v: Any, digits: int = 6) -> str:
    """A float as a short string ('-12', '0.474077', '1.2e-09'); other things as str()."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        try:  # numpy scalars
            v = float(v)
        except (TypeError, ValueError):
            return str(v)
    if not math.isfinite(v):
        return str(v)  # nan, inf, -inf
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.{digits}g}"


def table(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]],
          digits: int = 6) -> RenderableType:
    """A titled table, numbers formatted by `fmt_number` and right-aligned."""
    t = Table()
    rows = [list(r) for r in rows]
    for i, name in enumerate(header):
        numeric = all(isinstance(r[i], (int, float)) and not isinstance(r[i], bool)
                      for r in rows if i < len(r)) and bool(rows)
        t.add_column(name, justify="right" if numeric else "left")
    for r in rows:
        t.add_row(*(fmt_number(v, digits) for v in r))
    # The title goes above as its own line: a table title would wrap to the table width.
    return Group(Text(title, style="bold"), t) if title else t


def vector(values: Iterable[float], digits: int = 6) -> str:
    """(a, b, c) with each number formatted by `fmt_number`."""
    return "(" + ", ".join(fmt_number(v, digits) for v in values) + ")"
