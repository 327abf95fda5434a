"""Graph walks: order, accumulation, depth, zero_grad, the backward trace, memory."""

import gc
import math
import sys
import weakref

import pytest

from scalargrad import Value, backward_trace, topological_order
from scalargrad.graph import Contribution, TraceStep


def _lecture_graph():
    x, y, z = Value(-2.0, "x"), Value(5.0, "y"), Value(-4.0, "z")
    q = x + y
    return x, y, z, q, q * z


def test_topological_order_puts_parents_first():
    x, y, z, q, f = _lecture_graph()
    order = topological_order(f)
    assert order == [x, y, q, z, f]
    position = {id(n): i for i, n in enumerate(order)}
    for node in order:
        for parent in node.parents:
            assert position[id(parent)] < position[id(node)]


def test_topological_order_lists_shared_nodes_once():
    x = Value(3.0)
    a = x * x
    b = a + a
    order = topological_order(b)
    assert order == [x, a, b]


def test_reused_nodes_accumulate():
    """a = x*x; b = a + a: db/dx = 4x."""
    x = Value(3.0)
    a = x * x
    b = a + a
    b.backward()
    assert a.grad == 2.0
    assert x.grad == 12.0


def test_diamond_graph():
    x = Value(2.0)
    left, right = x.exp(), x.sin()
    out = left * right
    out.backward()
    assert x.grad == pytest.approx(math.exp(2) * (math.sin(2) + math.cos(2)), rel=1e-12)


def test_backward_twice_accumulates_exactly_twice():
    """Like PyTorch: a second backward adds the same gradients again, at every node."""
    x, y, z, q, f = _lecture_graph()
    f.backward()
    f.backward()
    assert (x.grad, y.grad, z.grad, q.grad, f.grad) == (-8.0, -8.0, 6.0, -8.0, 2.0)


def test_backward_with_a_seed_gradient():
    x, y, z, q, f = _lecture_graph()
    f.backward(0.5)
    assert (x.grad, z.grad) == (-2.0, 1.5)


def test_zero_grad_resets_every_reachable_node_only():
    x, y, z, q, f = _lecture_graph()
    other = Value(1.0)
    side = other * x  # not reachable from f
    side.backward()
    f.backward()
    f.zero_grad()
    assert all(n.grad == 0.0 for n in (x, y, z, q, f))
    assert other.grad == -2.0 and side.grad == 1.0
    f.backward()
    assert x.grad == -4.0


def test_nodes_outside_the_backward_root_are_untouched():
    x = Value(2.0)
    used = x * 3
    unused = x * 5  # another consumer of x, not part of used's graph
    used.backward()
    assert x.grad == 3.0
    assert unused.grad == 0.0


def test_deep_chain_of_200000_ops():
    """No recursion anywhere: 200,000 ops, backward, zero_grad and order all work."""
    limit = sys.getrecursionlimit()
    x = Value(1.0)
    v = x
    for _ in range(100_000):
        v = v * 1.000001
        v = v + 0.5
    v.backward()
    assert x.grad == pytest.approx(1.000001 ** 100_000, rel=1e-9)
    assert len(topological_order(v)) == 1 + 200_000 + 200_000  # x, ops, constants
    v.zero_grad()
    assert x.grad == 0.0
    assert sys.getrecursionlimit() == limit


def test_backward_trace_steps_and_final_gradients():
    x, y, z, q, f = _lecture_graph()
    steps = list(backward_trace(f))
    assert all(isinstance(s, TraceStep) for s in steps)
    assert [s.node for s in steps] == [f, z, q, y, x]
    first = steps[0]
    assert first.upstream == 1.0
    assert first.contributions == (Contribution(q, -4.0, -4.0), Contribution(z, 3.0, 3.0))
    q_step = steps[2]
    assert q_step.upstream == -4.0
    assert [(c.parent, c.local, c.contribution) for c in q_step.contributions] == [
        (x, 1.0, -4.0), (y, 1.0, -4.0)]
    assert steps[-1].contributions == ()
    assert (x.grad, y.grad, z.grad) == (-4.0, -4.0, 3.0)


def test_backward_trace_upstream_is_complete_for_reused_nodes():
    x = Value(3.0)
    a = x * x
    b = a + a
    steps = {id(s.node): s for s in backward_trace(b)}
    assert steps[id(a)].upstream == 2.0
    assert steps[id(x)].upstream == 12.0
    assert [c.contribution for c in steps[id(a)].contributions] == [6.0, 6.0]


def _build_graph():
    x = Value(0.3)
    v = x
    for _ in range(50):
        v = (v * 1.01 + 0.2).tanh()
    return x, v


def test_dropped_graph_is_freed_without_the_cyclic_collector():
    """With gc disabled, dropping the last reference frees every node (refcounting)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        x, out = _build_graph()
        out.backward()
        inner = weakref.ref(out.parents[0])
        root = weakref.ref(out)
        del out
        assert root() is None
        assert inner() is None
        assert x.grad != 0.0  # leaves the caller still holds survive, with their gradient
    finally:
        if was_enabled:
            gc.enable()


def test_the_freeing_check_detects_reference_cycles():
    """The method above does see a closure that captures its own output (micrograd)."""

    class CyclicNode:
        def __init__(self):
            self._backward = lambda: self  # the cycle micrograd's closures create

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        node = CyclicNode()
        ref = weakref.ref(node)
        del node
        assert ref() is not None  # still alive: only the cyclic collector frees it
        gc.collect()
        assert ref() is None
    finally:
        if was_enabled:
            gc.enable()


@pytest.mark.parametrize("walk", [topological_order, backward_trace])
def test_graph_walks_name_a_wrong_root(walk):
    with pytest.raises(TypeError, match="expects a scalargrad Value, got float"):
        walk(1.5)


def test_walking_the_graph_between_trace_steps_leaves_the_trace_right():
    # Printing the graph after each step (a table, a Jupyter picture) or running another
    # backward through shared nodes used to reset the trace's state: every .grad ended 0.
    from scalargrad.render import graph_table, to_html

    def traced(between):
        x, y, z = Value(-2.0), Value(5.0), Value(-4.0)
        f = (x + y) * z * x
        other = x * x
        steps = []
        for step in backward_trace(f):
            between(f, other)
            steps.append((step.upstream, [c.contribution for c in step.contributions]))
        return steps, (x.grad, y.grad, z.grad)

    quiet = traced(lambda f, other: None)
    assert quiet[1] == (-4.0 * -2.0 + -12.0, 8.0, -6.0)
    assert traced(lambda f, other: topological_order(f)) == quiet
    assert traced(lambda f, other: (graph_table(f), to_html(f))) == quiet
    steps, grads = traced(lambda f, other: other.backward())  # adds 2x = -4 to x each time
    assert steps == quiet[0]
    assert grads == (quiet[1][0] - 4.0 * len(steps), 8.0, -6.0)
