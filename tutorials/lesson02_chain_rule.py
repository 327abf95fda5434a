"""Lesson 2: the chain rule over paths; the add, multiply and branch rules (001, 003)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tutorials.standalone import leave_quietly_on_ctrl_c
    leave_quietly_on_ctrl_c()  # Ctrl-C during the imports below: no traceback

from scalargrad import Value

from tutorials.framework import Lesson, Step, main_for
from tutorials.views import table


def four_rules():
    upstream = 5.0
    # add: every input receives the upstream gradient unchanged
    a, b = Value(2.0), Value(-3.0)
    (a + b).backward(upstream)
    # function application: upstream times the function's own derivative
    t = Value(1.0)
    t.exp().backward(upstream)
    # multiply: each input receives upstream times the *other* input
    c, d = Value(2.0), Value(-3.0)
    (c * d).backward(upstream)
    # branch: a value used twice receives the sum of both contributions
    u = Value(3.0)
    (u * 4.0 + u * -1.0).backward(upstream)
    return {"add": (a.grad, b.grad), "function": t.grad,
            "multiply": (c.grad, d.grad), "branch": u.grad}


def show_rules(r):
    rows = [("add  a + b", "a = 2, b = -3", f"{r['add'][0]:g}, {r['add'][1]:g}"),
            ("function  exp(t)", "t = 1", f"{r['function']:.6g} = 5 * exp(1)"),
            ("multiply  c * d", "c = 2, d = -3", f"{r['multiply'][0]:g}, {r['multiply'][1]:g}"),
            ("branch  4u + (-1)u", "u = 3", f"{r['branch']:g} = 5*4 + 5*(-1)")]
    return [table("upstream gradient 5 arriving at the output", ["rule", "inputs",
                                                                  "gradients received"], rows)]


def sum_over_paths(edges, start, end):
    """Sum over all paths start -> ... -> end of the product of edge
    derivatives. `edges[node]` lists (child, d child / d node)."""
    paths = []
    stack = [(start, 1.0, (start,))]
    while stack:
        node, product, path = stack.pop()
        if node == end:
            paths.append((" -> ".join(path), product))
            continue
        for child, derivative in edges.get(node, ()):
            stack.append((child, product * derivative, path + (child,)))
    return sum(p for _, p in paths), paths


def chain_rule_over_paths():
    a = 1.5
    b1, b2, b3 = a**2, math.sin(a), 3 * a           # c = b1 * b2 + b3
    edges = {"a": [("b1", 2 * a), ("b2", math.cos(a)), ("b3", 3.0)],
             "b1": [("c", b2)], "b2": [("c", b1)], "b3": [("c", 1.0)]}
    by_paths, paths = sum_over_paths(edges, "a", "c")

    av = Value(a)
    c = av**2 * av.sin() + 3 * av  # the same function, as a graph
    c.backward()
    return {"by_paths": by_paths, "backprop": av.grad, "paths": paths}


def show_paths(r):
    rows = [(path, product) for path, product in sorted(r["paths"])]
    rows.append(("sum over paths", r["by_paths"]))
    rows.append(("c.backward() gives a.grad", r["backprop"]))
    return [table("dc/da as a sum over paths, each path a product of edge derivatives",
                  ["path", "product"], rows, digits=10)]


def diamond_chain(levels):
    """x -> (sin, cos) -> product, repeated; each level doubles paths."""
    x = Value(0.7, label="x")
    node, edges = x, {}
    for k in range(levels):
        left, right = node.sin(), node.cos()
        out = left * right
        names = (f"n{k}", f"sin{k}", f"cos{k}", f"n{k + 1}")
        edges[names[0]] = [(names[1], math.cos(node.data)),
                           (names[2], -math.sin(node.data))]
        edges[names[1]] = [(names[3], right.data)]
        edges[names[2]] = [(names[3], left.data)]
        node = out
    return x, node, edges


def paths_explode_backprop_does_not():
    levels = 10
    x, out, edges = diamond_chain(levels)
    by_paths, paths = sum_over_paths(edges, "n0", f"n{levels}")
    out.backward()
    edge_count = sum(len(children) for children in edges.values())
    return {"paths": len(paths), "edges": edge_count, "by_paths": by_paths,
            "backprop": x.grad}


def show_explosion(r):
    rows = [("paths from x to the output", r["paths"]),
            ("edges backprop visits (each once)", r["edges"]),
            ("dout/dx summed over all paths", r["by_paths"]),
            ("dout/dx from out.backward()", r["backprop"])]
    return [table("10 diamond levels", ["quantity", "value"], rows, digits=12)]


LESSON = Lesson(
    number=2,
    title="The chain rule over paths: branches sum",
    lectures="001, 003",
    intro="""
    Backpropagation is the chain rule applied to a graph. The NYU CDS lecture states it as a
    picture: the derivative of an output with respect to an input is the **sum over all
    paths** between them of the **product of the edge derivatives** along each path.
    The AD lecture boils reverse-mode differentiation down to four local rules.
    """,
    steps=(
        Step("Four local rules", """
            With an upstream gradient of 5 arriving at the output of each little graph:
            an **add** node copies it to both inputs; a **function application** such
            as exp(t) multiplies it by the function's derivative at the input
            (at t = 1, t receives 5 exp(1) = 13.59); a **multiply** node sends each input the
            upstream gradient times the other input; a value that **branches** into
            two uses collects the sum of both contributions.
            """, four_rules, show_rules),
        Step("Summing over paths", """
            Take c = a^2 sin(a) + 3a at a = 1.5, written as three intermediate values
            b1 = a^2, b2 = sin(a), b3 = 3a and c = b1 b2 + b3. There are three paths
            from a to c. We list each edge's local derivative by hand, multiply along each
            path, add the three products, and compare with what backprop finds.
            """, chain_rule_over_paths, show_paths, also_show=(sum_over_paths,)),
        Step("Why backprop does not enumerate paths", """
            Paths multiply quickly: a node that splits into two branches which merge
            again doubles the path count, so ten such levels give 1024 paths. Backprop
            gets the same number by visiting each edge once: a node first **adds** the
            gradients from all its children, then multiplies by its local derivatives
            (dynamic programming over the graph).
            """, paths_explode_backprop_does_not, show_explosion, also_show=(diamond_chain,)),
    ),
)

if __name__ == "__main__":
    sys.exit(main_for(LESSON))
