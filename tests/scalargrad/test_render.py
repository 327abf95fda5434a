"""The rich table and tree, and the DOT text, of the lecture's f = (x + y) z."""

import io

import pytest

from rich.console import Console

from scalargrad import Value
from scalargrad.render import graph_table, graph_tree, to_dot


def _text(renderable) -> str:
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(renderable)
    return out.getvalue()


def _graph():
    x, y, z = Value(-2.0, "x"), Value(5.0, "y"), Value(-4.0, "z")
    q = x + y
    q.label = "q"
    f = q * z
    f.label = "f"
    f.backward()
    return f


def test_table_lists_nodes_in_topological_order_with_values_and_grads():
    lines = [l for l in _text(graph_table(_graph())).splitlines() if "│" in l]
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines]
    assert rows == [
        ["0", "x", "input", "", "-2", "-4"],
        ["1", "y", "input", "", "5", "-4"],
        ["2", "q", "+", "x, y", "3", "-4"],
        ["3", "z", "input", "", "-4", "3"],
        ["4", "f", "*", "q, z", "-12", "1"],
    ]


def test_unlabelled_nodes_get_stable_names():
    a = Value(2.0)
    out = (a * a).exp()
    text = _text(graph_table(out))
    assert "n0" in text and "n1" in text and "n2" in text
    assert text == _text(graph_table(out))


def test_tree_shows_the_expression_from_the_output_down():
    text = _text(graph_tree(_graph()))
    lines = text.splitlines()
    assert lines[0].startswith("f = q * z") and "value=-12" in lines[0] and "grad=1" in lines[0]
    assert "q = x + y" in lines[1] and "grad=-4" in lines[1]
    assert "x" in lines[2] and "value=-2" in lines[2] and "grad=-4" in lines[2]
    assert "z" in lines[4] and "grad=3" in lines[4]


def test_tree_expands_shared_nodes_once():
    x = Value(3.0, "x")
    a = x * x
    a.label = "a"
    b = a + a
    b.backward()
    text = _text(graph_tree(b))
    assert text.count("a = x * x") == 1
    assert "a (shown above)" in text
    assert "x (shown above)" in text


def test_dot_text():
    dot = to_dot(_graph())
    assert dot.startswith("digraph scalargrad {")
    assert dot.rstrip().endswith("}")
    assert 'label="{ f | value -12 | grad 1 }"' in dot  # name, value, grad: record fields
    assert 'label="*"' in dot and 'label="+"' in dot
    assert dot.count("->") == 6  # 2 ops x (2 inputs + 1 output)


def test_dot_escapes_labels():
    v = Value(1.0, label='a"b{c}|')
    dot = to_dot(v * 2)
    assert 'a\\"b\\{c\\}\\|' in dot


def test_generated_names_never_pass_for_a_label():
    """A variable labelled n1 and the unlabelled node at position 1 stay distinct."""
    n1 = Value(2.0, label="n1")
    out = n1 * n1  # unlabelled, position 1 in topological order
    text = _text(graph_table(out))
    assert "n1'" in text and "n1, n1" in text
    assert "n1 = n1 * n1" not in _text(graph_tree(out))


def test_dot_is_valid_for_hostile_labels():
    """Parsed by Graphviz when it is installed (it is optional for users)."""
    import shutil
    import subprocess

    dot = shutil.which("dot")
    if dot is None:
        pytest.skip("Graphviz (dot) is not installed")
    x = Value(-2.0, label='x"{a}|<b>\\ é\nλ')
    y = Value(3.0, label="y;}")
    f = ((x * y).relu() + x ** 2 - (x / y).leaky_relu(0.2)).sigmoid()
    f.backward()
    done = subprocess.run([dot, "-Tplain"], input=to_dot(f), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    nodes = [line for line in done.stdout.splitlines() if line.startswith("node ")]
    assert len(nodes) == 10 + 8  # 10 Values, 8 op ellipses
    assert 'value -2' in nodes[0] and "λ" in nodes[0]


@pytest.mark.parametrize("label", ["w[i]", "a[/b]", "[bold]c[/]"])
def test_labels_are_shown_as_written_never_read_as_rich_markup(label):
    # "w[i]" once lost its "[i]" (rich read it as italic) and "a[/b]" raised MarkupError.
    a = Value(2.0, label)
    out = a * a
    out.backward()
    table, tree = _text(graph_table(out)), _text(graph_tree(out))
    assert f"{label}, {label}" in table
    assert f"{label} * {label}" in tree and f"{label} (shown above)" in tree


def test_tree_says_shown_above_only_after_the_node_was_shown():
    # x * x * x: x's full line came last, after two "x (shown above)" lines above it.
    x = Value(3.0, "x")
    lines = _text(graph_tree(x * x * x)).splitlines()
    shown = next(i for i, line in enumerate(lines) if "x   value=3" in line)
    assert all(i > shown for i, line in enumerate(lines) if "x (shown above)" in line)
    assert sum("x (shown above)" in line for line in lines) == 2


def test_deep_tree_is_cut_where_it_says_so_instead_of_losing_levels():
    # rich silently dropped the levels past the console's width: in 80 columns a sum of
    # 40 terms lost n0..n19 and x itself, and "x (shown above)" was then false.
    x = Value(1.0, "x")
    out = x
    for _ in range(40):
        out = out + x
    out.backward()
    narrow = io.StringIO()
    Console(file=narrow, width=80, color_system=None).print(graph_tree(out))
    text = narrow.getvalue()
    assert "x   value=1  grad=41" in text
    assert "operandstoodeepforthetree" in "".join(text.replace("│", "").split())
    shown = text.index("x   value=1")
    assert text.index("x (shown above)") > shown
    assert text.count("(shown above)") == 11
    # a shallow graph is never cut
    assert "too deep" not in _text(graph_tree(_graph()))


def test_fitted_table_lists_rows_when_the_table_does_not_fit():
    import io

    from rich.console import Console
    from rich.table import Table

    from scalargrad.render import fitted_table

    table = Table(title="t")
    for header in ("name", "long value", "more"):
        table.add_column(header)
    table.add_row("a", "123456789.123", "[bold]b[/]")
    table.add_row("", "2", "")
    out = io.StringIO()
    console = Console(file=out, width=20, color_system=None)
    console.print(fitted_table(table, console))
    assert [line.rstrip() for line in out.getvalue().splitlines()] == ["t:", "name: a", "  long value:",
                                           "123456789.123", "  more: b", "  long value: 2"]
    wide = Console(file=io.StringIO(), width=60)
    assert fitted_table(table, wide) is table
