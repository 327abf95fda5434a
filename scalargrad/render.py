"""Show a graph of Values: a rich Table, a rich Tree, Graphviz DOT text, SVG and HTML.

The DOT, SVG and HTML come from scalargrad.picture, which draws vecgrad's graphs too:
`picture(root)` turns the Values into its engine-neutral form (large graphs are folded
there). `Value` uses `to_html`/`to_svg` for its Jupyter display.

Every node gets a name: its `label` if it has one, else `n<i>` with i its position in
topological order, so names are stable from run to run (parents are tuples, not sets).
DOT node ids are separate (`v<i>`, `op<i>`), so any label, quotes and braces included,
gives valid DOT.
"""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from scalargrad import picture as _picture
from scalargrad.graph import topological_order


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _cell_text(cell) -> Text:
    if isinstance(cell, Text):
        return cell
    if isinstance(cell, str):  # a table reads str cells as markup
        return Text.from_markup(cell)
    return Text(str(cell))


def table_fits(table: Table, console) -> bool:
    """Does `table` render at the console's width without a cell cut short ('…')?
    (rich's own measurement can say it fits and still cut a long word; a column
    squeezed to nothing shows no '…' at all, so both are asked.)"""
    from rich.measure import Measurement

    unbounded = console.options.update_width(1 << 16)
    if Measurement.get(console, unbounded, table).minimum > console.width:
        return False
    given = sum(_cell_text(cell).plain.count("…") for column in table.columns
                for cell in [column.header, column.footer, *column.cells])
    given += _cell_text(table.title or "").plain.count("…")
    lines = console.render_lines(table, console.options, pad=False)
    drawn = sum(segment.text.count("…") for line in lines for segment in line)
    return drawn <= given


def fitted_table(table: Table, console):
    """`table` when `console` is wide enough for it whole; else its rows as lines of
    `header: value`, which wrap instead of being cut.

    rich shrinks a table wider than the terminal by cutting its cells: at 30 columns a
    gradient of 2.5403 read '2…', at 20 a table could show only empty cells.
    """
    if table_fits(table, console):
        return table
    headers = [_cell_text(column.header).plain.replace("\n", " ") for column in table.columns]
    columns = [list(column.cells) for column in table.columns]
    out = Text()
    if table.title:
        out.append_text(_cell_text(table.title))
        out.append(":\n")
    for row in range(table.row_count):
        for i, (header, cells) in enumerate(zip(headers, columns)):
            value = _cell_text(cells[row]) if row < len(cells) else Text("")
            if not value.plain:
                continue
            out.append("" if i == 0 else "  ")
            out.append(f"{header}: " if header else "", style="bold")
            out.append_text(value)
            out.append("\n")
    out.rstrip()
    return out


def node_names(order: list) -> dict:
    """id(node) -> display name for the nodes of a topological order.

    An unlabelled node's `n<i>` gets a trailing `'` when a label already uses it (a
    variable called n2), so a generated name never passes for a user's one.
    """
    labels = {node.label for node in order if node.label}
    names = {}
    for i, node in enumerate(order):
        name = node.label or f"n{i}"
        while not node.label and name in labels:
            name += "'"
        names[id(node)] = name
    return names


def _op_text(node) -> str:
    return node.op if node.op else "input"


def graph_table(root, title: str = "graph (topological order)") -> Table:
    """A rich Table of every node: #, name, op, inputs, value, grad (parents first)."""
    order = topological_order(root)
    names = node_names(order)
    table = Table(title=title)
    for header, justify in (("#", "right"), ("name", "left"), ("op", "left"),
                            ("inputs", "left"), ("value", "right"), ("grad", "right")):
        table.add_column(header, justify=justify)
    for i, node in enumerate(order):
        inputs = ", ".join(names[id(p)] for p in node.parents)
        # Text, not markup: a label such as "w[i]" or "a[/b]" is shown as it is written.
        table.add_row(str(i), Text(names[id(node)]), _op_text(node), Text(inputs),
                      _fmt(node.data), _fmt(node.grad))
    return table


def _tree_text(node, names: dict) -> Text:
    name = names[id(node)]
    head = name
    parents = [names[id(p)] for p in node.parents]
    if len(parents) == 2:
        head = f"{name} = {parents[0]} {node.op} {parents[1]}"
    elif parents and node.op.startswith("**"):
        head = f"{name} = {parents[0]}{node.op}"
    elif parents and node.op == "neg":
        head = f"{name} = -{parents[0]}"
    elif parents:
        head = f"{name} = {node.op}({parents[0]})"
    # Text, not markup: labels are the user's own strings ("w[i]" must not turn italic).
    return Text(f"{head}   value={_fmt(node.data)}  grad={_fmt(node.grad)}")


def graph_tree(root, max_depth: int = _picture.MAX_TREE_DEPTH) -> Tree:
    """A rich Tree from the output down to the inputs.

    A node used more than once is expanded the first time only; later occurrences say
    "(shown above)", so a graph with heavy reuse stays small. A node `max_depth` levels
    down that has operands of its own is shown without them (the line says so; the
    table lists every node): rich would otherwise drop deep levels silently.
    """
    names = node_names(topological_order(root))
    tree = Tree(_tree_text(root, names))
    expanded = {id(root)}
    # Depth-first in the order the tree prints (operands in order), one operand at a
    # time: a node is expanded where it first appears, so "shown above" is always true.
    stack = [(tree, iter(root.parents))]
    while stack:
        branch, operands = stack[-1]
        parent = next(operands, None)
        if parent is None:
            stack.pop()
        elif id(parent) in expanded:
            branch.add(f"{escape(names[id(parent)])} (shown above)")
        elif len(stack) >= max_depth and parent.parents:
            # not marked expanded: a shallower occurrence may still expand it
            line = _tree_text(parent, names)
            line.append(f"   {_picture.TOO_DEEP}")
            branch.add(line)
        else:
            expanded.add(id(parent))
            stack.append((branch.add(_tree_text(parent, names)), iter(parent.parents)))
    return tree


def picture(root, max_nodes: int = _picture.MAX_NODES) -> _picture.Picture:
    """The graph of `root` in scalargrad.picture's form: value and grad per node, folded
    when it has more than `max_nodes` nodes (None: never).

    Names, values and gradients are written for the drawn boxes only, after folding, so
    a huge graph costs little more than its walk.
    """
    order = topological_order(root)
    index = {id(node): i for i, node in enumerate(order)}
    node = _picture.PictureNode
    nodes = [node("", v.op, (), tuple([index[id(p)] for p in v.parents]), None, False, 1, "",
                  i) for i, v in enumerate(order)]
    drawn = _picture.Picture(nodes, ("value", "grad"), title="scalargrad graph")
    if max_nodes is not None:
        drawn = _picture.fold(drawn, max_nodes)
    names = node_names(order)
    for box in drawn.nodes:
        if box.origin < 0:
            box.cells = ("", "")
            continue
        v = order[box.origin]
        box.name = names[id(v)]
        box.cells = (_fmt(v.data), _fmt(v.grad))
        box.warn = not (_picture.is_finite(v.data) and _picture.is_finite(v.grad))
    return drawn


def to_dot(root, max_nodes=None) -> str:
    """Graphviz DOT text: one record per Value (name | value | grad), one ellipse per op.

    Every node is drawn unless `max_nodes` is given (then large graphs are folded).
    """
    return _picture.to_dot(picture(root, max_nodes), "scalargrad")


def to_svg(root, max_nodes: int = _picture.MAX_NODES):
    """An SVG picture of the graph drawn by Graphviz, or None when `dot` is not installed."""
    return _picture.dot_to_svg(to_dot(root, max_nodes))


def to_html(root, max_nodes: int = _picture.MAX_NODES) -> str:
    """HTML for Jupyter: the SVG picture when Graphviz is installed, else a table."""
    return _picture.Rendered(picture(root, max_nodes), "scalargrad").html()


def mimebundle(root, max_nodes: int = _picture.MAX_NODES) -> dict:
    """Jupyter's display data for a Value: text, HTML and (with Graphviz) SVG, drawn once."""
    return _picture.Rendered(picture(root, max_nodes), "scalargrad").mimebundle(repr(root))
