"""`scalargrad graph` and `scalargrad bench` through main(argv), good and hostile input."""

import math

import pytest

from scalargrad.cli import main
from scalargrad.expr import ExpressionError, build, parse_assignments


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _table_rows(out):
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) == 6 and cells[0].isdigit():
            rows[cells[1]] = cells
    return rows


def test_graph_walkthrough_prints_values_and_gradients(capsys):
    code, out, err = _run(capsys, "graph", "(x+y)*z", "x=-2", "y=5", "z=-4")
    assert code == 0 and err == ""
    rows = _table_rows(out)
    assert rows["x"][4:] == ["-2", "-4"]
    assert rows["y"][4:] == ["5", "-4"]
    assert rows["z"][4:] == ["-4", "3"]
    assert rows["n2"][2:] == ["+", "x, y", "3", "-4"]
    assert rows["n4"][2:] == ["*", "n2, z", "-12", "1"]
    assert "n4 = n2 * z" in out  # the tree


def test_graph_with_functions_and_trace(capsys):
    code, out, err = _run(capsys, "graph", "-log(sigmoid(a*1 + b*1 + c*1))",
                          "a=1", "b=1", "c=-1.5", "--trace")
    assert code == 0, err
    rows = _table_rows(out)
    assert rows["a"][5] == "-0.377541"
    assert "backward, one node at a time" in out


def test_graph_dot(capsys):
    code, out, err = _run(capsys, "graph", "x*x + leaky_relu(x, alpha=0.1)", "x=-3", "--dot")
    assert code == 0, err
    assert out.startswith("digraph scalargrad {")
    assert "x | value -3 | grad -5.9" in out  # 2x + alpha


def test_help_exits_zero(capsys):
    code, out, _ = _run(capsys, "--help")
    assert code == 0 and "graph" in out and "bench" in out


HOSTILE = [
    ("__import__('os').system('echo hi')", "not allowed"),
    ("__import__('os')", "calling '__import__' is not allowed"),
    ("x.__class__", "attribute access is not allowed"),
    ("().__class__.__bases__[0]", "not allowed"),
    ("(lambda: 1)()", "this call is not allowed"),
    ("lambda: x", "a lambda is not allowed"),
    ("[x for x in (1, 2)]", "a comprehension is not allowed"),
    ("sum(x for x in y)", "calling 'sum' is not allowed"),
    ("open('/etc/passwd')", "calling 'open' is not allowed"),
    ("eval('1')", "calling 'eval' is not allowed"),
    ("x[0]", "subscripting is not allowed"),
    ("x if x else x", "a conditional expression is not allowed"),
    ("x < 1", "a comparison is not allowed"),
    ("'abc'", "a string is not allowed"),
    ("x // 2", "operator // is not allowed"),
    ("x % 2", "operator % is not allowed"),
    ("~x", "operator ~ is not allowed"),
    ("(x := 2)", "an assignment expression is not allowed"),
    ("relu", "relu is a function"),
    ("relu(x, 0.1)", "relu() takes exactly one argument"),
    ("leaky_relu(x, alpha=x)", "alpha must be a number"),
    ("exp(x, y=1)", "exp() takes no argument 'y'"),
    ("(x + ", "malformed expression"),
    ("x y", "malformed expression"),
    ("", "empty expression"),
    ("x\x00", "malformed expression"),
    ("+".join(["x"] * 20000), "expression longer than"),
    ("leaky_relu(x, " + "9" * 400 + ")", "number too large for a float"),
    ("x ** " + "9" * 400, "number too large for a float"),
    ("x * 1e400", "number too large for a float at column 5"),
    ("9" * 5000, "number too large for a float (too many digits)"),
    ("leaky_relu(x, alpha=0.1, alpha=0.2)", "leaky_relu(): alpha given twice"),
    ("leaky_relu(x, 0.1, alpha=0.2)", "leaky_relu(): alpha given twice"),
    ("relu(*x)", "relu() takes exactly one argument"),
    ("leaky_relu(x, **y)", "leaky_relu() takes no argument '**'"),
    ("(" * 250 + "x" + ")" * 250, "too many nested parentheses"),
    ("(" + "-" * 9000 + "x)", "nested too deeply"),
    ("x" + "**x" * 3000, "nested too deeply"),
]


@pytest.mark.parametrize("expression, message", HOSTILE)
def test_hostile_expressions_are_refused_with_one_line(capsys, expression, message):
    code, out, err = _run(capsys, "graph", expression, "x=1", "y=2")
    assert code == 2
    assert out == ""
    assert err.startswith("scalargrad: error: ")
    assert err.count("\n") == 1
    assert message in err


@pytest.mark.parametrize("argv, message", [
    (["graph", "(x+y)*z", "x=-2", "y=5"], "no value for variable(s) z (give z=<number>)"),
    (["graph", "x*2", "x=1", "w=3"], "variable(s) w given but not used"),
    (["graph", "x*2", "x"], "expected NAME=NUMBER, got 'x'"),
    (["graph", "x*2", "x=abc"], "value of x is not a number: 'abc'"),
    (["graph", "x*2", "x=1", "x=2"], "variable x given twice"),
    (["graph", "x*2", "1x=1"], "'1x' is not a valid variable name"),
    (["graph", "exp(x)", "exp=1", "x=1"], "'exp' is a function name"),
    (["graph"], "required: EXPR"),
    ([], "required: COMMAND"),
    (["frobnicate"], "invalid choice"),
    (["bench", "--epochs", "0"], "--points, --epochs and --rounds must be >= 1"),
    (["bench", "--epochs", str(10**20)], "--epochs must be at most 1,000, got 100,000,"),
    (["bench", "--rounds", "101"], "--rounds must be at most 100, got 101"),
    (["bench", "--points", "many"], "invalid int value"),
    # it built graphs until the memory ran out
    (["bench", "--points", "10000000000"], "--points must be at most 10,000, got "
                                           "10,000,000,000: an epoch's graph keeps about"),
    (["graph", "x*2", "x=1e309"], "value of x is too large for a float: '1e309' (write inf"),
    (["graph", "-x*y", "x=1", "y=2"], "an expression that starts with '-' needs -- before it"),
    (["graph", "x", "x=1", "--bogus"], "unrecognized arguments: --bogus (see"),
    (["graph", "-" * 9000 + "x", "x=1"], "--...; an expression that starts with '-'"),
])
def test_bad_arguments_exit_2_with_one_line(capsys, argv, message):
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("scalargrad: error: ")
    assert message in err


def test_options_may_follow_the_assignments(capsys):
    code, out, err = _run(capsys, "graph", "x*y", "--trace", "x=2", "y=3")
    assert code == 0, err
    assert _table_rows(out)["x"][4:] == ["2", "3"]
    assert "backward, one node at a time" in out


def test_double_dash_before_an_expression_starting_with_minus(capsys):
    code, out, err = _run(capsys, "graph", "--dot", "--", "-x*y", "x=1", "y=2")
    assert code == 0, err
    assert out.startswith("digraph scalargrad {") and 'label="neg"' in out


def test_unicode_names_are_normalised_like_pythons_parser(capsys):
    """Python reads the full-width ｘ in an expression as x; an assignment does too."""
    code, out, err = _run(capsys, "graph", "ｘ*é", "ｘ=2", "é=3")
    assert code == 0, err
    assert _table_rows(out)["x"][4:] == ["2", "3"]
    assert _table_rows(out)["é"][4:] == ["3", "2"]


def test_huge_exponent_towers_stay_floats_and_finish(capsys):
    """10**10**10 is float arithmetic here (inf), never a 10-billion-digit integer."""
    code, out, err = _run(capsys, "graph", "x*10**10**10", "x=1")
    assert code == 0, err
    assert _table_rows(out)["x"][4:] == ["1", "inf"]


def test_edge_values_print_without_crashing(capsys):
    code, out, err = _run(capsys, "graph", "log(x) + (y ** 0.5) + exp(z)", "x=0", "y=-8", "z=1e6")
    assert code == 0, err
    assert "-inf" in out and "nan" in out and "inf" in out


def test_build_shares_variables_and_uses_literal_exponents():
    root, inputs = build("x*x + x**3", {"x": 2.0})
    root.backward()
    assert inputs["x"].grad == 2 * 2 + 3 * 4
    assert root.parents[1].op == "**3"


def test_parse_assignments():
    assert parse_assignments(["x=-2", " y = 5e-1 "]) == {"x": -2.0, "y": 0.5}
    with pytest.raises(ExpressionError):
        parse_assignments(["for=1"])
    assert math.isinf(parse_assignments(["x=inf"])["x"])
    assert parse_assignments(["x=-Infinity"])["x"] == -math.inf
    assert math.isnan(parse_assignments(["x=nan"])["x"])
    with pytest.raises(ExpressionError, match="too large for a float"):
        parse_assignments(["x=-1e309"])


def test_bench_runs_small_and_compares(capsys):
    code, out, err = _run(capsys, "bench", "--points", "3", "--epochs", "1", "--rounds", "1",
                          "--no-micrograd")
    assert code == 0, err
    assert "scalargrad" in out and "µs / node" in out
    assert "micrograd is not installed" in out


@pytest.mark.parametrize("columns", ["20", "30"])
def test_narrow_terminal_gets_every_number_whole(capsys, monkeypatch, columns):
    # rich cut the tables' cells to fit: at 30 columns x's gradient 2.5403 read '2…'.
    monkeypatch.setenv("COLUMNS", columns)
    code, out, err = _run(capsys, "graph", "x*y+sin(x)", "x=1", "y=2", "--trace",
                          "--order", "2")
    assert code == 0, err
    assert "…" not in out
    words = out.split()
    assert "2.5403" in words and "0.540302" in words and "-0.841471" in words
    assert all(len(line) <= int(columns) for line in out.splitlines())


def test_wide_terminal_keeps_the_tables(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    code, out, err = _run(capsys, "graph", "x*y+sin(x)", "x=1", "y=2")
    assert code == 0 and _table_rows(out)["x"][4:] == ["1", "2.5403"]


def test_svg_without_a_working_dot_says_what_happened(capsys, monkeypatch):
    # It said "... not installed, so the graph is shown as a table", and showed nothing.
    from scalargrad import picture

    monkeypatch.setattr(picture, "dot_program", lambda: None)
    code, out, err = _run(capsys, "graph", "x*y", "x=1", "y=2", "--svg")
    assert code == 2 and out == "" and "table" not in err
    assert "--svg needs Graphviz's `dot` program, which is not installed" in err
    monkeypatch.setattr(picture, "dot_program", lambda: "/bin/false")
    code, out, err = _run(capsys, "graph", "x*y", "x=1", "y=2", "--svg")
    assert code == 2 and "--svg Graphviz's `dot` could not draw this graph" in err
