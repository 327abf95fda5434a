"""Lesson 1: the computation graph of f = (x + y) z, forward and backward (the AD lecture)."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tutorials.standalone import leave_quietly_on_ctrl_c
    leave_quietly_on_ctrl_c()  # Ctrl-C during the imports below: no traceback

from scalargrad import Value
from scalargrad.gradcheck import numerical_grad
from scalargrad.graph import backward_trace, topological_order
from scalargrad.render import graph_tree

from tutorials.framework import Lesson, Step, main_for
from tutorials.views import table


def build_graph():
    x = Value(-2.0, label="x")
    y = Value(5.0, label="y")
    z = Value(-4.0, label="z")
    q = x + y
    q.label = "q"
    f = q * z
    f.label = "f"
    return x, y, z, q, f


def forward_pass():
    x, y, z, q, f = build_graph()
    order = topological_order(f)  # each node after its inputs
    return {"f": f.data, "q": q.data, "root": f,
            "order": [(n.label, n.op or "input", n.data) for n in order]}


def show_forward(r):
    return [graph_tree(r["root"]),
            table("forward pass, in topological order", ["node", "op", "value"], r["order"])]


def backward_pass():
    x, y, z, q, f = build_graph()
    f.backward()  # df/df = 1, then reverse topological order
    return {"grads": {"x": x.grad, "y": y.grad, "z": z.grad,
                      "q": q.grad, "f": f.grad}}


def show_backward(r):
    rows = [(name, g) for name, g in r["grads"].items()]
    return [table("gradients df/d(node)", ["node", "df/dnode"], rows)]


def backward_node_by_node():
    x, y, z, q, f = build_graph()
    steps = []
    for step in backward_trace(f):  # one node at a time, the output first
        for c in step.contributions:
            steps.append((step.node.label, step.upstream, c.parent.label,
                          c.local, c.contribution))
    return {"steps": steps,
            "grads": {"x": x.grad, "y": y.grad, "z": z.grad}}


def show_trace(r):
    rows = [(node, up, f"{parent}", local, sent) for node, up, parent, local, sent in r["steps"]]
    return [table("each node multiplies its upstream gradient by a local derivative",
                  ["node", "upstream df/dnode", "to parent", "local dnode/dparent",
                   "sent = upstream x local"], rows)]


EPS = 1e-6  # numerical_grad's default


def check_with_finite_differences():
    def f(x, y, z):
        return (x + y) * z

    inputs = [Value(-2.0), Value(5.0), Value(-4.0)]
    numeric = numerical_grad(f, inputs, eps=EPS)  # calls f(*inputs), nudged
    steps = [EPS * max(1.0, abs(v.data)) for v in inputs]  # the h it took
    f(*inputs).backward()
    backprop = [v.grad for v in inputs]
    return {"numeric": numeric, "steps": steps, "backprop": backprop}


def show_check(r):
    rows = [(name, h, b, n, abs(b - n))
            for name, h, b, n in zip("xyz", r["steps"], r["backprop"], r["numeric"])]
    return [table("backprop vs central differences (h = 1e-6 x max(1, |input|))",
                  ["input", "step h", "backprop", "numerical", "|difference|"], rows,
                  digits=7)]


LESSON = Lesson(
    number=1,
    title="A computation graph: f = (x + y) z forward and backward",
    lectures="003",
    intro="""
    Every expression a program computes can be drawn as a graph: inputs are leaves,
    each operation is a node, and edges carry values forward. We take the small example
    of the AD lecture, **f(x, y, z) = (x + y) z** at x = -2, y = 5, z = -4, compute it,
    and then push gradients back through it node by node.
    """,
    steps=(
        Step("The forward pass", """
            We create three input Values and combine them. Each result remembers its
            parents and the operation that made it, so `f` is the root of a small graph.
            Evaluating nodes in *topological order* (parents before children) gives
            q = x + y = 3 and f = q z = -12.
            """, forward_pass, show_forward, also_show=(build_graph,)),
        Step("The backward pass", """
            `f.backward()` sets df/df = 1 and visits nodes in reverse order. The
            multiply node passes each input the *other* input times the upstream
            gradient (df/dz = q = 3, df/dq = z = -4). The add node passes its upstream
            gradient unchanged to both inputs, so df/dx = df/dy = -4.
            """, backward_pass, show_backward),
        Step("Backward, one node at a time", """
            The same walk, slowed down. Every node receives its complete upstream
            gradient, multiplies it by the local derivative of its operation with respect
            to each parent and sends the product on. No global formula is needed: only
            local derivatives and the chain rule.
            """, backward_node_by_node, show_trace),
        Step("Checking against finite differences", """
            A gradient we can trust should agree with a numerical estimate. Central
            differences, (f(v + h) - f(v - h)) / (2h) for each input v, need two
            evaluations per input but no derivative rules at all. `numerical_grad` takes
            h = 1e-6 for inputs of size up to 1 and 1e-6 |v| beyond, so the nudge stays
            far above the rounding error of a large input.
            """, check_with_finite_differences, show_check),
    ),
)

if __name__ == "__main__":
    sys.exit(main_for(LESSON))
