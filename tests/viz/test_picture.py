"""scalargrad.picture, the drawing shared by both engines, through scalargrad's Values.

Graphviz is optional: the tests that need the `dot` program skip without it, and the
fallbacks (HTML table, a None SVG) are tested by hiding it.
"""

import shutil

import pytest

from scalargrad import Value
from scalargrad import picture as pic
from scalargrad.render import mimebundle, picture, to_dot, to_html, to_svg

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz (dot) is not installed")


@pytest.fixture
def no_dot(monkeypatch):
    monkeypatch.setattr(pic, "dot_program", lambda: None)


def _lecture():
    x, y, z = Value(-2.0, "x"), Value(5.0, "y"), Value(-4.0, "z")
    q = x + y
    q.label = "q"
    f = q * z
    f.label = "f"
    f.backward()
    return f


def _chain(n):
    """s = x0 + x1 + ... : 2n + 1 nodes, the same two-node step n times."""
    s = Value(0.0, "s0")
    for i in range(n):
        s = s + Value(float(i))
    return s


def test_topological_walk_is_iterative_and_orders_parents_first():
    deep = _chain(50_000)  # far deeper than Python's recursion limit
    order = pic.topological(deep, lambda v: v.parents)
    assert len(order) == 100_001 and order[-1] is deep
    position = {id(v): i for i, v in enumerate(order)}
    assert all(position[id(p)] < position[id(v)] for v in order for p in v.parents)


def test_shared_nodes_are_drawn_once():
    x = Value(3.0, "x")
    a = x * x
    a.label = "a"
    b = a + a
    b.backward()
    drawing = picture(b)
    assert [n.name for n in drawing.nodes] == ["x", "a", "n2"]
    assert drawing.nodes[1].parents == (0, 0) and drawing.nodes[2].parents == (1, 1)
    dot = to_dot(b)
    assert dot.count("shape=record") == 3
    html = to_html(b) if shutil.which("dot") is None else pic.to_html_table(drawing)
    assert html.count("<tr>") == 4  # header + 3 nodes
    # the grad of x: d(2 x^2)/dx = 4x = 12
    assert drawing.nodes[0].cells == ("3", "12")


def test_html_table_without_graphviz_says_so_in_one_sentence(no_dot):
    f = _lecture()
    assert to_svg(f) is None
    html = to_html(f)
    assert "Graphviz" in html and "<table" in html and "<svg" not in html
    bundle = f._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    assert bundle["text/plain"] == repr(f)
    assert f._repr_svg_() is None  # Jupyter then falls back to the HTML
    assert f._repr_html_() == html


def test_html_and_dot_escape_hostile_labels(no_dot):
    x = Value(1.0, label='<script>alert("x")</script>&{a|b}\\')
    f = x * 2
    f.backward()
    html = to_html(f)
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp;" in html
    dot = to_dot(f)
    assert '\\<script\\>alert(\\"x\\")\\</script\\>&\\{a\\|b\\}\\\\' in dot


@needs_dot
def test_dot_parses_hostile_labels_and_gives_svg():
    x = Value(-2.0, label='x"{a}|<b>\\ é\nλ')
    f = (x * Value(3.0, "y;}")).tanh()
    f.backward()
    svg = to_svg(f)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "λ" in svg and "value &#45;2" in svg
    bundle = mimebundle(f)
    assert bundle["image/svg+xml"] == svg and "<svg" in bundle["text/html"]
    assert f._repr_svg_() == svg


def test_nan_and_inf_are_shown_and_highlighted(no_dot):
    x = Value(0.0, "x")
    f = x.log() * Value(0.0, "z")  # -inf * 0 = nan
    f.backward()
    drawing = picture(f)
    cells = {n.name: n.cells for n in drawing.nodes}
    assert cells["n1"][0] == "-inf" and cells["n3"][0] == "nan"
    assert [n.warn for n in drawing.nodes] == [True, True, True, True]
    dot = to_dot(f)
    assert dot.count('fontcolor="red"') == 4
    assert "nan" in to_html(f) and 'style="color:#c00"' in to_html(f)


def test_ten_thousand_nodes_fold_to_a_few_boxes(no_dot):
    s = _chain(5000)
    s.backward()
    drawing = picture(s)
    assert drawing.original_nodes == 10_001
    assert len(drawing.nodes) <= pic.MAX_NODES
    assert drawing.nodes[-1].name == "n10000" and drawing.nodes[-1].cells[0] == "1.24975e+07"
    folded = [n for n in drawing.nodes if n.folded > 1]
    assert folded and sum(n.folded for n in folded) + len(drawing.nodes) - len(folded) == 10_001
    assert "repeated runs folded" in to_dot(s, pic.MAX_NODES)
    assert to_html(s).count("<tr") < pic.MAX_NODES + 2
    # every kept edge points backwards in the drawing: parents first
    assert all(p < i for i, n in enumerate(drawing.nodes) for p in n.parents)


def test_unrepeated_large_graphs_are_cut_to_the_part_near_the_output():
    # No two steps alike: every step is a new power (op "**1.001", "**1.002", ...).
    s = Value(1.0, "x")
    for i in range(400):
        s = s ** (1 + (i + 1) / 1000)
    drawing = pic.fold(picture(s, None), 50)
    assert len(drawing.nodes) <= 50 and drawing.nodes[-1].name == picture(s, None).nodes[-1].name
    assert drawing.nodes[0].note.startswith(str(drawing.nodes[0].folded))
    assert sum(n.folded for n in drawing.nodes) == len(picture(s, None).nodes)


def test_small_graphs_are_never_folded():
    drawing = picture(_chain(40))
    assert len(drawing.nodes) == 81 and not drawing.folded


def test_rich_tree_of_a_picture_expands_shared_nodes_once():
    import io

    from rich.console import Console

    x = Value(3.0, "x")
    a = x * x
    a.label = "a"
    out = io.StringIO()
    Console(file=out, width=100, color_system=None).print(pic.rich_tree(picture(a + a)))
    text = out.getvalue()
    assert text.count("a  = *") == 1 and "a (shown above)" in text


@needs_dot
def test_cli_writes_svg(capsys):
    from scalargrad.cli import main

    assert main(["graph", "x*y + tanh(x)", "x=0.5", "y=-2", "--svg"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("<svg") and "tanh" in out and "grad &#45;1.21355" in out


def test_cli_svg_without_graphviz_is_a_clear_error(no_dot, capsys):
    from scalargrad.cli import main

    assert main(["graph", "x*y", "x=1", "y=2", "--svg"]) == 2
    err = capsys.readouterr().err
    assert "Graphviz" in err and "--dot" in err and "Traceback" not in err


def test_a_grad_that_is_a_value_is_drawn_by_its_number(no_dot):
    """backward(create_graph=True) leaves Values in .grad; a nan one is still flagged."""
    x = Value(3.0, "x")
    y = x * x * x
    y.backward(create_graph=True)
    assert isinstance(x.grad, Value)
    assert picture(y).nodes[0].cells == ("3", "27")  # dy/dx = 3 x^2
    z = Value(-1.0, "z")
    w = z.sqrt() * z  # sqrt(-1) = nan
    w.backward(create_graph=True)
    assert picture(w).nodes[0].warn and "<table" in to_html(w)


def test_an_mlp_folds_its_repeated_neurons():
    from scalargrad.nn import MLP

    model = MLP(2, [16, 16, 1], seed=0)
    out = model([Value(0.5, "x0"), Value(-1.0, "x1")])
    loss = ((out[0] if isinstance(out, list) else out) - 1.0) ** 2
    loss.backward()
    whole = picture(loss, None)
    drawing = picture(loss)
    assert len(whole.nodes) > 900 and len(drawing.nodes) <= pic.MAX_NODES
    assert sum(n.folded for n in drawing.nodes) == len(whole.nodes)
    folds = [n for n in drawing.nodes if n.folded > 1]
    assert all(n.folded >= pic.MIN_HIDDEN for n in folds)  # no box for a tiny fold
    # whole neurons (w*x + b, relu) fold, not just runs of leaves
    assert any(n.folded > 100 and "* → +" in n.note for n in folds)
    assert all(p < i for i, n in enumerate(drawing.nodes) for p in n.parents)


def test_a_failing_dot_falls_back_to_the_table_and_says_why(monkeypatch, tmp_path):
    broken = tmp_path / "dot"
    broken.write_text("#!/bin/sh\necho 'syntax error' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setattr(pic, "dot_program", lambda: str(broken))
    f = _lecture()
    assert to_svg(f) is None
    html = to_html(f)
    assert "could not draw" in html and "<table" in html


def test_rich_tree_says_shown_above_only_after_the_node_was_shown():
    import io

    from rich.console import Console

    # x * x * x: x is first reached as n2's second operand but first printed inside n1;
    # the tree printed "x (shown above)" inside n1 and expanded x below it.
    x = Value(3.0, "x")
    cube = x * x * x
    out = io.StringIO()
    Console(file=out, width=100, color_system=None).print(pic.rich_tree(picture(cube)))
    lines = out.getvalue().splitlines()
    shown = next(i for i, line in enumerate(lines) if "x  value 3" in line)
    assert all(i > shown for i, line in enumerate(lines) if "x (shown above)" in line)
    assert sum("x (shown above)" in line for line in lines) == 2


def test_rich_tree_cuts_a_deep_chain_where_it_says_so():
    import io

    from rich.console import Console

    # rich silently dropped the levels past the console's width, the input x included
    x = Value(0.5, "x")
    out = x
    for i in range(40):
        out = (out * 1.1).tanh() if i % 2 else (out + 0.3).sin()
    out.backward()
    buffer = io.StringIO()
    Console(file=buffer, width=80, color_system=None).print(
        pic.rich_tree(picture(out, max_nodes=None)))  # not folded: 121 nodes deep
    flat = "".join(buffer.getvalue().replace("│", "").split())
    assert "operandstoodeepforthetree" in flat
    short = io.StringIO()
    Console(file=short, width=80, color_system=None).print(pic.rich_tree(picture(_lecture())))
    assert "too deep" not in short.getvalue()
