"""The rich table and tree, and the DOT text, of the lecture's f = (x + y) z."""

import io

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
    assert 'label="{ f \\| value -12 \\| grad 1 }"' in dot
    assert 'label="*"' in dot and 'label="+"' in dot
    assert dot.count("->") == 6  # 2 ops x (2 inputs + 1 output)


def test_dot_escapes_labels():
    v = Value(1.0, label='a"b{c}|')
    dot = to_dot(v * 2)
    assert 'a\\"b\\{c\\}\\|' in dot
