"""Graph walks over Values: topological order, backward, zero_grad, a backward trace.

Nothing here recurses, so a graph of any depth works (a chain of 200,000 ops included).

The backward rule is the same for every op: each node stores, next to its parents, the
local derivatives d(node)/d(parent) computed in the forward pass, so the per-op rule
table collapses to one line, `parent_grad += local * upstream`.

Ordering uses Kahn's algorithm from the output: a first walk counts, for every node,
how many edges from consumers inside this graph point at it; a node is processed once
all its consumers have been, i.e. when its upstream gradient is complete. That gives a
reverse topological order without recursion and without a `visited` list per node.

Gradients of one backward pass are first summed in a scratch slot (`_g`) and then added
to `.grad`, so calling backward twice adds exactly the gradient twice (as PyTorch does),
for intermediate nodes too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator


def _require_value(root, what: str) -> None:
    if not hasattr(root, "_a"):  # graph.py cannot import Value (value.py imports us)
        raise TypeError(f"{what} expects a scalargrad Value, got {type(root).__name__}")


def _count_consumers(root) -> None:
    """Set `_pending` (edges from consumers inside root's graph) and `_g = 0` on each node.

    Nodes keep their (at most two) parents in the slots `_a` and `_b`; the two are
    handled one after the other instead of looping over a tuple (hot loop).
    """
    root._pending = 0
    root._g = 0.0
    seen = {root}
    stack = [root]
    pop, push, mark = stack.pop, stack.append, seen.add
    while stack:
        node = pop()
        parent = node._a
        if parent is None:
            continue
        if parent in seen:
            parent._pending += 1
        else:
            mark(parent)
            parent._pending = 1
            parent._g = 0.0
            push(parent)
        parent = node._b
        if parent is None:
            continue
        if parent in seen:
            parent._pending += 1
        else:
            mark(parent)
            parent._pending = 1
            parent._g = 0.0
            push(parent)


def _reachable(root) -> list:
    """Every node root depends on (root included), each once, in discovery order."""
    seen = {root}
    order = [root]
    stack = [root]
    while stack:
        for parent in stack.pop().parents:
            if parent not in seen:
                seen.add(parent)
                order.append(parent)
                stack.append(parent)
    return order


def topological_order(root) -> list:
    """All nodes root depends on, each parent before every node that uses it; root last."""
    _require_value(root, "topological_order")
    _count_consumers(root)
    order = []
    stack = [root]
    while stack:
        node = stack.pop()
        order.append(node)
        for parent in node.parents:
            parent._pending -= 1
            if parent._pending == 0:
                stack.append(parent)
    order.reverse()
    return order


def backward(root, gradient: float = 1.0) -> None:
    """Add d(root)/d(node) * gradient to `.grad` of every node root depends on."""
    _require_value(root, "backward")
    _count_consumers(root)
    root._g = gradient
    stack = [root]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        upstream = node._g
        node.grad += upstream
        parent = node._a
        if parent is None:
            continue
        parent._g += node._da * upstream
        parent._pending -= 1
        if parent._pending == 0:
            push(parent)
        parent = node._b
        if parent is None:
            continue
        parent._g += node._db * upstream
        parent._pending -= 1
        if parent._pending == 0:
            push(parent)


def zero_grad(root) -> None:
    """Set `.grad = 0` on root and every node it depends on."""
    _require_value(root, "zero_grad")
    for node in _reachable(root):
        node.grad = 0.0


@dataclass(frozen=True)
class Contribution:
    """What one backward step sends to one parent: local derivative and its product."""

    parent: object
    local: float
    contribution: float


@dataclass(frozen=True)
class TraceStep:
    """One node's backward step: its complete upstream gradient and what it sends on."""

    node: object
    upstream: float
    contributions: tuple


def consumer_counts(root, parents_of) -> dict:
    """{id(node): how many edges come into it from consumers inside root's graph}, for
    every node root depends on (root itself 0), without touching the nodes.

    `parents_of(node)` gives a node's parents. Kahn's algorithm starts from these counts;
    the walks that must not use the nodes' scratch slots (the paused backward trace, the
    shared picture of scalargrad and vecgrad graphs) take them from here.
    """
    pending = {id(root): 0}
    stack = [root]
    while stack:
        for parent in parents_of(stack.pop()):
            key = id(parent)
            if key in pending:
                pending[key] += 1
            else:
                pending[key] = 1
                stack.append(parent)
    return pending


def backward_trace(root, gradient: float = 1.0) -> Iterator[TraceStep]:
    """Run backward one node at a time, yielding a TraceStep per node (root first).

    When the generator is exhausted the gradients equal those of `backward(root)`;
    leaves are included (their step has no contributions). Each step has already added
    its upstream gradient to `step.node.grad`; stopping early leaves a partial pass.
    """
    _require_value(root, "backward_trace")  # here, not at the first next()
    return _trace(root, gradient)


def _trace(root, gradient: float) -> Iterator[TraceStep]:
    # The pass pauses at every yield, and the caller may walk the same graph meanwhile
    # (print a table, show it in Jupyter, run another backward): those walks reuse the
    # nodes' scratch slots, so the trace keeps its counts and sums here instead.
    pending = consumer_counts(root, lambda node: node.parents)
    upstream_of = {id(root): gradient}
    stack = [root]
    while stack:
        node = stack.pop()
        upstream = upstream_of.pop(id(node))
        node.grad += upstream
        sent = []
        for parent, local in zip(node.parents, node.local):
            contribution = local * upstream
            key = id(parent)
            upstream_of[key] = upstream_of.get(key, 0.0) + contribution
            sent.append(Contribution(parent, local, contribution))
            pending[key] -= 1
            if pending[key] == 0:
                stack.append(parent)
        yield TraceStep(node, upstream, tuple(sent))
