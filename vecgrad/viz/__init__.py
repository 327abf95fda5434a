"""Pictures of what vecgrad and scalargrad compute: graph views and plots.

Graph views show what a result was computed from (op, shape, device, gradient) as a
rich tree in the terminal, DOT text, or SVG/HTML in Jupyter; plots (`vecgrad.viz.plot`)
draw curves such as loss per epoch or a function and its derivative, in the terminal
through plotext and in Jupyter as an inline SVG. Everything here only watches: nothing
in the engines depends on it, and each optional library it uses degrades to plain text.
"""

import importlib

_SUBMODULES = ("graph", "plot", "reprs")


def __getattr__(name):
    # `vecgrad.viz.graph.graph_view(...)`, as the README writes it, works after a plain
    # `import vecgrad`; the submodules are still imported only when first used.
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES))
