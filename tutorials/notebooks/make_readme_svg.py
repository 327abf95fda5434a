"""Regenerate the README's picture: the graph of lecture 003's exercise, drawn by Graphviz.

    python tutorials/notebooks/make_readme_svg.py     # writes lecture_graph.svg beside it

The picture is what `l` shows in the first notebook: l(w) = -log sigmoid(w . x) at
x = (1, 1, 1), w = (1, 1, -1.5), after backward(). It needs Graphviz's `dot` program;
tests/viz/test_readme_svg.py checks that the checked-in SVG still shows these numbers.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scalargrad import Value
from scalargrad.picture import NO_GRAPHVIZ
from scalargrad.render import to_dot, to_svg

OUTPUT = Path(__file__).resolve().with_name("lecture_graph.svg")


def exercise() -> Value:
    """The lecture's l(w) with every input labelled, after backward()."""
    xs = [Value(1.0, f"x{i}") for i in range(3)]
    ws = [Value(w, f"w{i}") for i, w in enumerate((1.0, 1.0, -1.5))]
    a = ws[0] * xs[0] + ws[1] * xs[1] + ws[2] * xs[2]
    a.label = "a"
    l = -(a.sigmoid().log())
    l.label = "l"
    l.backward()
    return l


def main() -> int:
    svg = to_svg(exercise())
    if svg is None:
        print(f"make_readme_svg: {NO_GRAPHVIZ}", file=sys.stderr)
        return 1
    OUTPUT.write_text(svg, encoding="utf-8")
    print(f"wrote {OUTPUT} ({len(svg):,} characters)")
    return 0


__all__ = ["exercise", "to_dot", "main"]

if __name__ == "__main__":
    sys.exit(main())
