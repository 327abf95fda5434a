"""Lesson 19: the backpropagation algorithm as the loop itself, over numbered nodes (004, 001)."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tutorials.standalone import leave_quietly_on_ctrl_c
    leave_quietly_on_ctrl_c()  # Ctrl-C during the imports below: no traceback

from tutorials.framework import Lesson, Step, main_for
from tutorials.lesson05_worked_example import build_network
from tutorials.views import table


def number_the_nodes(output):
    """u(1), ..., u(n) in topological order: every node after the nodes it
    is computed from, the output last. Depth first, with a stack."""
    order, done = [], set()
    stack = [(output, False)]
    while stack:
        node, parents_done = stack.pop()
        if node in done:
            continue
        if parents_done:
            done.add(node)
            order.append(node)
            continue
        stack.append((node, True))
        for parent in node.parents:
            if parent not in done:
                stack.append((parent, False))
    return order


def backprop(output):
    """The lecture's loop: g(n) = 1, then for i = n-1, ..., 1
    g(i) = sum over the children j of u(i) of g(j) * du(j)/du(i)."""
    u = number_the_nodes(output)
    index = {node: i for i, node in enumerate(u)}
    children = [[] for _ in u]        # (j, du(j)/du(i)) for each i
    for j, node in enumerate(u):
        for parent, local in zip(node.parents, node.local):
            children[index[parent]].append((j, local))
    g = [0.0] * len(u)
    g[-1] = 1.0
    for i in reversed(range(len(u) - 1)):
        g[i] = sum(g[j] * local for j, local in children[i])
    return u, g


def numbered_graph():
    x, w, w_out, i, h, o, loss = build_network()
    u = number_the_nodes(loss)
    index = {node: k + 1 for k, node in enumerate(u)}  # 1-based
    rows = [(index[node], node.label or node.op or "constant",
             ", ".join(f"u({index[p]})" for p in node.parents), node.data)
            for node in u]
    ordered = all(index[p] < index[node]
                  for node in u for p in node.parents)
    return {"rows": rows, "n": len(u), "ordered": ordered}


def show_numbered(r):
    return [table(f"the {r['n']} nodes of lesson 5's network, in topological order",
                  ["i", "node", "computed from", "value u(i)"], r["rows"])]


def run_the_loop():
    x, w, w_out, i, h, o, loss = build_network()
    u, g = backprop(loss)
    mine = dict(zip(u, g))
    loss.backward()  # scalargrad's own backward, for comparison
    named = sorted((v for v in u if v.label), key=lambda v: v.label)
    rows = [(v.label, mine[v], v.grad) for v in named]
    rows += [(f"i{k + 1}", mine[v], v.grad) for k, v in enumerate(i)]
    rows += [(f"h{k + 1}", mine[v], v.grad) for k, v in enumerate(h)]
    rows.append(("o", mine[o], o.grad))
    gap = max(abs(mine[v] - v.grad) for v in u)
    return {"rows": rows, "gap": gap,
            "w": [mine[v] for v in [*w[0], *w[1], *w[2], *w_out]],
            "x": [mine[v] for v in x]}


def show_loop(r):
    return [table("g(i) from the loop next to scalargrad's .grad", ["node",
                  "g(i), our loop", "scalargrad"], r["rows"])]


def push_instead_of_pull():
    x, w, w_out, i, h, o, loss = build_network()
    u = number_the_nodes(loss)
    g = {node: 0.0 for node in u}
    g[loss] = 1.0
    for node in reversed(u):          # each node, once its g is complete,
        for parent, local in zip(node.parents, node.local):
            g[parent] += g[node] * local  # adds its share to its parents
    _, pulled = backprop(loss)
    return {"gap": max(abs(g[v] - p) for v, p in zip(u, pulled)),
            "w": [g[v] for v in [*w[0], *w[1], *w[2], *w_out]]}


def show_push(r):
    return [table("", ["", "value"],
                  [("dL/dw1..w9 by pushing", str(r["w"])),
                   ("largest difference from the pulled g", r["gap"])])]


LESSON = Lesson(
    number=19,
    title="The backpropagation algorithm as a loop you can read",
    lectures="004, 001",
    intro="""
    NPFL114 lecture 2 states backpropagation as an algorithm over numbered nodes:
    number the nodes u(1), ..., u(n) in topological order (every node after the nodes
    it is computed from, the loss last), set g(n) = 1, and for i = n-1 down to 1 let
    g(i) be the sum, over the nodes j that use u(i), of g(j) times du(j)/du(i). The NYU
    CDS lecture says the same in words: order the nodes, walk them in reverse, and sum
    the gradients over a node's children before passing them on. Here are those two
    sentences as about twenty lines of Python, run on lesson 5's network.
    """,
    steps=(
        Step("Number the nodes", """
            Every scalargrad Value knows its parents (`.parents`) and the local
            derivatives d(node)/d(parent) computed in the forward pass (`.local`). A
            depth-first walk with an explicit stack puts each node after its parents;
            that is a topological order. The table lists the nodes of the lecture's
            worked example with the numbers of the nodes each one is computed from,
            and every one of those numbers is smaller than the node's own.
            """, numbered_graph, show_numbered, also_show=(number_the_nodes,)),
        Step("The loop", """
            `backprop` is the lecture's algorithm line by line. It first turns the
            parent links around into child lists, because the formula sums over
            *children*; then g(n) = 1 and one pass from n-1 down to 1. Each g(i) is
            complete when it is computed, since all of u(i)'s children have larger
            numbers. The result is every number of the worked example (dL/dw1..w6 =
            -6, -12, 0, 0, 12, 24; dL/dw7..w9 = 24, 0, 30; dL/dx = 0, 18), equal to
            what scalargrad's `backward()` leaves in `.grad`.
            """, run_the_loop, show_loop, also_show=(backprop,)),
        Step("Pull or push: the same sums", """
            Real implementations turn the loop inside out. Instead of each node
            *pulling* from its children, each node, in reverse order, *pushes*
            g(node) times a local derivative into each parent's g. Every product goes
            into the same sum either way, only in the opposite order: here, with whole
            numbers, the results are identical; in general they agree up to the
            rounding of a different order of additions (for x * 0.1 + x * 0.2 +
            x * 0.3, pulling gives 0.6 and pushing 0.6000000000000001). The push form
            needs no child lists. scalargrad's `graph.backward` is this push loop,
            with its topological order from Kahn's algorithm and some speed-ups.
            """, push_instead_of_pull, show_push),
    ),
)

if __name__ == "__main__":
    sys.exit(main_for(LESSON))
