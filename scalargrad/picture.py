"""Pictures of computation graphs, for both engines: DOT text, SVG, HTML, a rich tree.

Engine-neutral and pure Python: scalargrad (Values) and vecgrad (Tensors, through
vecgrad.viz.graph) each turn their graph into a `Picture` — nodes in topological order,
each with a name, an op, a few display cells and its parents' positions — and everything
after that (folding, escaping, DOT, SVG through Graphviz, HTML, the rich tree) is here once.

Large graphs are summarised, not drawn node by node: a run of nodes that repeats (the
same ops, the same shapes, wired the same way: layer after layer of an MLP, step after
step of a sum) keeps its first copy and folds the others into one box "x k more", and
whatever is still over the limit collapses into one "earlier nodes" box before the part
nearest the output. Every walk is a loop: graphs of any depth work.

Graphviz is optional: `svg()` runs the `dot` program when it is on PATH and returns None
otherwise (or when it fails or takes too long), and the HTML falls back to a table.
"""

from __future__ import annotations

import html
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

from .graph import consumer_counts

# A graph with more nodes than this is folded before it is drawn (micrograd-sized
# lecture graphs, tens of nodes, are always drawn whole).
MAX_NODES = 120
# The longest repeated run (in nodes) looked for when folding, and how many copies it
# takes before a run is folded.
MAX_PERIOD = 64
MIN_REPEATS = 3
MIN_HIDDEN = 4  # a fold that would hide fewer nodes than this is not worth its box
DOT_TIMEOUT_S = 20.0
# rich drops, without a word, the tree levels that no longer fit the console's width
# (4 columns each): an 80-column terminal lost everything below ~19 levels of a chain.
# Rich trees cut deeper nodes at this depth, saying so (32 columns of text are left at 80).
MAX_TREE_DEPTH = 12
TOO_DEEP = "... (operands too deep for the tree)"
NO_GRAPHVIZ = ("Graphviz's `dot` program is not installed, so the graph is shown as a "
               "table (install graphviz for a picture).")
DOT_FAILED = (f"Graphviz's `dot` could not draw this graph (it failed or took over "
              f"{DOT_TIMEOUT_S:g} s), so it is shown as a table.")


@dataclass(slots=True)
class PictureNode:
    """One box of a picture.

    name: the node's display name; op: the op that made it ("" for an input);
    cells: display values, one per `Picture.headers` entry ("" for none);
    parents: positions (in `Picture.nodes`) of the nodes it was computed from, in operand
    order; kind: what must match for two nodes to fold together (op, shape...);
    warn: the box is highlighted (a nan or inf in it); folded: how many original nodes
    this box stands for (1 for a plain node).
    """

    name: str
    op: str
    cells: tuple = ()
    parents: tuple = ()
    kind: object = None
    warn: bool = False
    folded: int = 1
    note: str = ""
    origin: int = -1  # position in the unfolded picture (-1: a folded box)
    fill: str = ""  # a background colour for the box ("" for none)


@dataclass
class Picture:
    """A graph ready to draw: nodes in topological order (parents first, output last)."""

    nodes: list
    headers: tuple = ()
    title: str = "graph"
    original_nodes: int = 0  # before folding (0: not folded)
    notes: list = field(default_factory=list)
    # Ops drawn as ellipses between records (scalargrad, as in micrograd), or named in
    # the record itself (vecgrad, as in torchviz: one box per tensor).
    op_ellipses: bool = True
    # The headers whose name is written before the cell in a DOT record (None: all).
    dot_prefixed: Optional[tuple] = None
    # Graphviz's direction: "LR" (inputs left, output right) or "TB" (top to bottom, for
    # long graphs). Either way a record's fields read in one line.
    rankdir: str = "LR"

    @property
    def folded(self) -> bool:
        return self.original_nodes > len(self.nodes)


# ------------------------------------------------------------------- graph walks
def topological(root, parents_of: Callable[[object], Iterable]) -> list:
    """Every node root depends on, each after all of its parents, root last.

    `parents_of(node)` gives a node's parents. Kahn's algorithm from the output: count
    each node's consumers inside the graph, then emit a node once all its consumers are.
    Nodes are told apart by identity.
    """
    pending = consumer_counts(root, parents_of)
    order = []
    stack = [root]
    while stack:
        node = stack.pop()
        order.append(node)
        for parent in reversed(tuple(parents_of(node))):
            pending[id(parent)] -= 1
            if pending[id(parent)] == 0:
                stack.append(parent)
    order.reverse()
    return order


def fmt(x) -> str:
    """A number in 6 significant digits; nan and inf spelled as Python does."""
    try:
        return f"{x:.6g}"
    except (TypeError, ValueError):
        return str(x)


def is_finite(x) -> bool:
    """Whether a number (or a Value, e.g. a grad kept with create_graph) is finite."""
    x = float(getattr(x, "data", x))
    return x == x and x not in (float("inf"), float("-inf"))


# ---------------------------------------------------------------------- folding
def _signatures(nodes: list) -> list:
    """A small int per node: equal when the node's kind and op, and its parents' kinds
    and ops, in operand order, are equal (the 7th layer of an MLP looks like the 8th)."""
    table: dict = {}
    out = []
    for node in nodes:
        key = (node.kind, node.op,
               tuple((nodes[p].kind, nodes[p].op) for p in node.parents))
        out.append(table.setdefault(key, len(table)))
    return out


def _find_runs(sig: list) -> list:
    """Greedy left to right: (start, period, repeats) of each repeated run worth folding."""
    runs = []
    n = len(sig)
    i = 0
    while i < n:
        best = None
        for period in range(1, min(MAX_PERIOD, (n - i) // MIN_REPEATS) + 1):
            if best is not None and period % best[1] == 0:
                continue  # a multiple of a repeating period covers no more
            j = i
            limit = n - period
            while j < limit and sig[j] == sig[j + period]:
                j += 1
            repeats = (j - i) // period + 1
            if repeats < MIN_REPEATS or (repeats - 1) * period < MIN_HIDDEN:
                continue
            if best is None or repeats * period > best[1] * best[2]:
                best = (i, period, repeats)
        if best is None:
            i += 1
        else:
            runs.append(best)
            i += best[1] * best[2]
    return runs


def fold(picture: Picture, max_nodes: int = MAX_NODES) -> Picture:
    """A picture of at most about `max_nodes` boxes standing for the whole graph.

    Repeated runs keep their first copy and fold the rest into one box; if that is still
    too many, the nodes furthest from the output collapse into one box. A picture that
    is small enough is returned as it is.
    """
    nodes = picture.nodes
    n = len(nodes)
    if n <= max_nodes:
        return picture
    target = list(range(n))  # original position -> position of the box that shows it
    boxes: list = []  # (first original position, PictureNode or None for kept)
    folded_boxes: dict = {}
    runs = _find_runs(_signatures(nodes)[:-1])  # the output itself is always drawn
    run_at = {start: (period, repeats) for start, period, repeats in runs}
    i = 0
    while i < n:
        if i in run_at:
            period, repeats = run_at[i]
            for k in range(i, i + period):  # the first copy stays as it is
                target[k] = len(boxes)
                boxes.append(k)
            box = len(boxes)
            hidden = range(i + period, i + period * repeats)
            for k in hidden:
                target[k] = box
            ops = [nodes[k].op or "leaf" for k in range(i, i + period)]
            pattern = " → ".join(ops[:8]) + (" → …" if len(ops) > 8 else "")
            folded_boxes[box] = PictureNode(
                name=f"× {repeats - 1} more", op="",
                cells=tuple("" for _ in picture.headers),
                kind=("folded",), folded=len(hidden),
                note=f"{repeats - 1} more copies of the {period} node(s) above ({pattern}); "
                     f"{len(hidden)} nodes folded")
            boxes.append(None)
            i += period * repeats
        else:
            target[i] = len(boxes)
            boxes.append(i)
            i += 1
    # Still too many: everything before the last max_nodes - 1 boxes becomes one box.
    cut = max(0, len(boxes) - (max_nodes - 1))
    if cut:
        hidden_count = 0
        for b in range(cut):
            hidden_count += folded_boxes[b].folded if boxes[b] is None else 1
        remap = [0] * len(boxes)
        for b in range(len(boxes)):
            remap[b] = 0 if b < cut else b - cut + 1
        target = [remap[t] for t in target]
        summary = PictureNode(name=f"{hidden_count} earlier nodes", op="",
                              cells=tuple("" for _ in picture.headers), kind=("folded",),
                              folded=hidden_count,
                              note=f"{hidden_count} nodes furthest from the output, not drawn")
        folded_boxes = {remap[b]: node for b, node in folded_boxes.items() if b >= cut}
        folded_boxes[0] = summary
        boxes = [None] + boxes[cut:]
    members_of: list = [[] for _ in boxes]
    for k in range(n):
        members_of[target[k]].append(k)
    out = []
    for b, original in enumerate(boxes):
        members = members_of[b]
        if original is None:
            box = folded_boxes[b]
        else:
            src = nodes[original]
            box = PictureNode(src.name, src.op, src.cells, (), src.kind, src.warn, 1, src.note,
                              original, src.fill)
        parents = []
        for k in members:
            for p in nodes[k].parents:
                t = target[p]
                if t != b and t not in parents:
                    parents.append(t)
        box.parents = tuple(parents)
        if original is None:
            box.warn = any(nodes[k].warn for k in members)
        out.append(box)
    notes = list(picture.notes)
    notes.append(f"{n} nodes summarised in {len(out)} boxes (repeated runs folded)")
    return Picture(out, picture.headers, picture.title, n, notes, picture.op_ellipses,
                   picture.dot_prefixed, picture.rankdir)


# ------------------------------------------------------------------------- DOT
def dot_escape(text: str) -> str:
    """Text for inside a double-quoted DOT record label (record syntax escaped too)."""
    out = []
    for ch in text:
        if ch in '"\\{}|<>':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        else:
            out.append(ch)
    return "".join(out)


def to_dot(picture: Picture, graph_name: str = "gradlab") -> str:
    """Graphviz DOT: one record per node (name | header value ...), one ellipse per op.

    Node ids are positions (v<i>, op<i>), never names, so any label gives valid DOT.
    """
    lines = [f"digraph {graph_name} {{", f"  rankdir={picture.rankdir};"]
    if picture.folded:
        lines.append(f'  label="{dot_escape(picture.notes[-1])}";')
    for i, node in enumerate(picture.nodes):
        prefixed = picture.headers if picture.dot_prefixed is None else picture.dot_prefixed
        parts = [node.name] + [f"{h} {c}" if h in prefixed else c
                               for h, c in zip(picture.headers, node.cells) if c]
        style = ""
        if node.folded > 1 or node.kind == ("folded",):
            parts.append(node.note)
            style = ', style="dashed,rounded"'
        if node.fill:
            style += f', style=filled, fillcolor="{dot_escape(node.fill)}"'
        if node.warn:
            style += ', color="red", fontcolor="red"'
        label = " | ".join(dot_escape(part) for part in parts)  # one record field each
        if picture.rankdir == "LR":  # braces turn the fields to run across, not down
            label = f"{{ {label} }}"
        lines.append(f'  v{i} [shape=record, label="{label}"{style}];')
    for i, node in enumerate(picture.nodes):
        if not node.parents:
            continue
        if node.op and picture.op_ellipses:
            lines.append(f'  op{i} [label="{dot_escape(node.op)}"];')
            lines.append(f"  op{i} -> v{i};")
            head = f"op{i}"
        else:
            head = f"v{i}"
        for parent in node.parents:
            lines.append(f"  v{parent} -> {head};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_program() -> Optional[str]:
    """The path of Graphviz's `dot`, or None when it is not installed."""
    return shutil.which("dot")


def dot_to_svg(dot_text: str, timeout: float = DOT_TIMEOUT_S) -> Optional[str]:
    """SVG text drawn by Graphviz, or None (no `dot`, it failed, or it took too long).

    The XML prolog and DOCTYPE are dropped, so the result can be inlined in HTML.
    """
    program = dot_program()
    if program is None:
        return None
    try:
        done = subprocess.run([program, "-Tsvg"], input=dot_text.encode("utf-8"),
                              capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    text = done.stdout.decode("utf-8", errors="replace")
    start = text.find("<svg")
    return text[start:] if start >= 0 else None


# ------------------------------------------------------------------------ HTML
def to_html_table(picture: Picture) -> str:
    """The graph as an HTML table (no Graphviz needed): one row per node, parents first."""
    e = html.escape
    notes = any(node.note for node in picture.nodes)
    headers = ("#", "name", "op", "inputs", *picture.headers) + (("note",) if notes else ())
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    rows = []
    names = [node.name for node in picture.nodes]
    if len(set(names)) < len(names):  # names repeat (vecgrad names tensors by op): use #
        names = [f"#{i}" for i in range(len(names))]
    for i, node in enumerate(picture.nodes):
        inputs = ", ".join(names[p] for p in node.parents)
        cells = [str(i), node.name, node.op or ("" if node.folded > 1 else "input"), inputs,
                 *node.cells] + ([node.note] if notes else [])
        style = ' style="color:#c00"' if node.warn else ""
        body = "".join(f"<td>{e(str(c))}</td>" for c in cells)
        rows.append(f"<tr{style}>{body}</tr>")
    caption = e(picture.title + ("" if not picture.folded else f": {picture.notes[-1]}"))
    return (f'<table class="gradlab-graph"><caption>{caption}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


class Rendered:
    """SVG and HTML of one picture, drawn once (Jupyter asks for both)."""

    def __init__(self, picture: Picture, graph_name: str = "gradlab"):
        self.picture = picture
        self.dot = to_dot(picture, graph_name)
        self.svg = dot_to_svg(self.dot)

    def html(self) -> str:
        if self.svg is not None:
            return f'<div class="gradlab-graph">{self.svg}</div>'
        why = NO_GRAPHVIZ if dot_program() is None else DOT_FAILED
        return f"<div><p><i>{html.escape(why)}</i></p>{to_html_table(self.picture)}</div>"

    def mimebundle(self, plain: str) -> dict:
        bundle = {"text/plain": plain, "text/html": self.html()}
        if self.svg is not None:
            bundle["image/svg+xml"] = self.svg
        return bundle


# ------------------------------------------------------------------- rich tree
def rich_tree(picture: Picture):
    """A rich Tree from the output down to the inputs; a shared node is expanded once."""
    from rich.markup import escape
    from rich.tree import Tree

    prefixed = picture.headers if picture.dot_prefixed is None else picture.dot_prefixed

    def text(node) -> str:
        parts = [f"[bold]{escape(node.name)}[/]"]
        if node.op and node.op != node.name:
            parts.append(f"= {escape(node.op)}")
        parts += [escape(f"{h} {c}" if h in prefixed else c)
                  for h, c in zip(picture.headers, node.cells) if c]
        if node.note:
            parts.append(f"[dim]{escape(node.note)}[/]")
        line = "  ".join(parts)
        return f"[red]{line}[/]" if node.warn else line

    nodes = picture.nodes
    root = len(nodes) - 1
    title = picture.title + (f" ({picture.notes[-1]})" if picture.folded else "")
    tree = Tree(f"[b]{escape(title)}[/]")
    top = tree.add(text(nodes[root]))
    expanded = {root}
    # Depth-first in printing order, one operand at a time, so a shared node is expanded
    # where it first appears and every "shown above" points up.
    stack = [(top, iter(nodes[root].parents))]
    while stack:
        branch, operands = stack[-1]
        p = next(operands, None)
        if p is None:
            stack.pop()
        elif p in expanded:
            branch.add(f"{escape(nodes[p].name)} [dim](shown above)[/]")
        elif len(stack) >= MAX_TREE_DEPTH and nodes[p].parents:
            # not marked expanded: a shallower occurrence may still expand it
            branch.add(f"{text(nodes[p])}  [dim]{TOO_DEEP}[/]")
        else:
            expanded.add(p)
            stack.append((branch.add(text(nodes[p])), iter(nodes[p].parents)))
    return tree
