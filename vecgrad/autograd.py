"""Reverse-mode autodiff: the Function base class, grad mode, and the backward walk.

A Function is one differentiable op, applied as `F.apply(*tensors, **params)`.
`forward(ctx, *buffers, **params)` receives the tensors' backend buffers and the plain
parameters and returns one buffer; `backward(ctx, grad)` returns one gradient buffer (or
None) per tensor argument, in order.
Both are written with backend primitives only (`ctx.backend`), so every backend gets the
whole engine.

The backward walk is iterative (no recursion): first count, for every node, how many
children will send it a gradient; then process nodes whose count has dropped to zero.
Depth is limited only by memory.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np


class _GradMode(threading.local):
    """Whether ops record the graph (per thread, like PyTorch's grad mode)."""

    enabled = True


_grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    """True unless inside `no_grad()`."""
    return _grad_mode.enabled


@contextlib.contextmanager
def _set_grad_enabled(mode: bool):
    previous = _grad_mode.enabled
    _grad_mode.enabled = mode
    try:
        yield
    finally:
        _grad_mode.enabled = previous


def no_grad():
    """Context manager: ops inside record no graph (results have requires_grad=False)."""
    return _set_grad_enabled(False)


def enable_grad():
    """Context manager: re-enable graph recording inside a no_grad block."""
    return _set_grad_enabled(True)


class Context:
    """What a Function's forward hands to its backward."""

    __slots__ = ("backend", "needs_input_grad", "saved_tensors", "attrs")

    def __init__(self, backend, needs_input_grad):
        self.backend = backend
        self.needs_input_grad = needs_input_grad
        self.saved_tensors = ()
        self.attrs = None

    def save_for_backward(self, *buffers):
        """Keep buffers for backward; they are released after backward runs."""
        self.saved_tensors = buffers


class Node:
    """A recorded Function application: the op, its context and its input tensors."""

    __slots__ = ("function", "ctx", "inputs", "counters", "versions", "freed")

    def __init__(self, function, ctx, inputs):
        self.function = function
        self.ctx = ctx
        self.inputs = inputs  # the Tensor arguments, in order
        # Each input's version counter (the list itself: `t.data = other` gives t a new
        # one, and edits of the memory this node saw go to the old one) and its value now.
        self.counters = tuple([t._version for t in inputs])
        self.versions = tuple([c[0] for c in self.counters])
        self.freed = False

    @property
    def name(self) -> str:
        return self.function.__name__

    def release(self):
        """Drop saved buffers and inputs so their memory can go (no retain_graph)."""
        self.ctx.saved_tensors = ()
        self.ctx.attrs = None
        self.inputs = ()
        self.counters = ()
        self.freed = True


class Function:
    """Base class of differentiable ops. Subclasses define forward and backward.

    `view_grads = True` declares that backward may return views of (or the same buffer as)
    the incoming gradient; the engine then never accumulates into them in place.
    """

    view_grads = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for method in ("forward", "backward"):
            if not isinstance(cls.__dict__.get(method), staticmethod):
                raise TypeError(f"{cls.__name__} must define {method} as a @staticmethod")

    @classmethod
    def apply(cls, *inputs, **params):
        """Run forward on the tensors' buffers and record the op when a gradient is needed.

        All tensors must share one backend (the public functions check this first, with
        an error that names the op).
        """
        first = inputs[0]
        backend = first._backend
        needs = tuple([t._requires_grad for t in inputs])
        ctx = Context(backend, needs)
        out = cls.forward(ctx, *[t._buf for t in inputs], **params)
        if _grad_mode.enabled and True in needs:
            result = first._wrap(out, backend, Node(cls, ctx, inputs))
        else:
            result = first._wrap(out, backend)
        if may_share_storage(out, first._buf):
            # A view (transpose, slice, reshape): an in-place edit through it must
            # invalidate graphs that saved its base, and the other way round.
            result._version = first._version
        return result


def may_share_storage(a, b) -> bool:
    """Whether two backend buffers may overlap (numpy arrays, or OpenCL views of one buffer)."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        if a.base is None and b.base is None:  # two owners (the common case): cheap
            return a is b
        return bool(np.may_share_memory(a, b))
    data = getattr(a, "data", None)
    return data is not None and not isinstance(a, np.ndarray) and data is getattr(b, "data", None)


def _count_children(root):
    """For each node reachable from root: how many gradients it will receive."""
    pending = {id(root): 0}
    stack = [root]
    while stack:
        t = stack.pop()
        node = t._node
        if node is None:
            continue
        if node.freed:
            raise RuntimeError(
                f"backward: the graph through {node.name} was already freed by an earlier "
                f"backward(); call backward(retain_graph=True) the first time to go through "
                f"it twice")
        for parent, needed in zip(node.inputs, node.ctx.needs_input_grad):
            if not needed:
                continue
            key = id(parent)
            if key in pending:
                pending[key] += 1
            else:
                pending[key] = 1
                stack.append(parent)
    return pending


def _check_versions(node):
    for t, counter, version in zip(node.inputs, node.counters, node.versions):
        if counter[0] != version:
            raise RuntimeError(
                f"backward: a tensor of shape {t.shape} used by {node.name} was modified in "
                f"place after it was used; its gradient would be wrong")


def run_backward(root, grad_buf, retain_graph=False):
    """Accumulate d(root)/d(leaf) * grad_buf into every leaf's .grad."""
    pending = _count_children(root)
    # id(tensor) -> [gradient buffer, whether we own it (may add into it in place)]
    grads = {id(root): [grad_buf, False]}
    ready = [root]
    while ready:
        t = ready.pop()
        grad, owned = grads.pop(id(t))
        node = t._node
        if node is None:
            t._accumulate_grad(grad, owned)
            continue
        if t._retains_grad:
            t._accumulate_grad(grad, False)
        if node.ctx.saved_tensors:
            _check_versions(node)
        results = node.function.backward(node.ctx, grad)
        if not isinstance(results, tuple):
            results = (results,)
        inputs = node.inputs
        needs = node.ctx.needs_input_grad
        aliasing = node.function.view_grads
        for i, parent in enumerate(inputs):
            if not needs[i]:
                continue
            g = results[i]
            key = id(parent)
            shares = aliasing or g is grad
            if not shares and i:  # the same buffer returned for two inputs (x + x)
                for earlier in results[:i]:  # (a plain loop: no list or frame to build)
                    if earlier is g:
                        shares = True
                        break
            entry = grads.get(key)
            if entry is None:
                grads[key] = [g, not shares]
            elif entry[1]:
                parent._backend.binary("add", entry[0], g, out=entry[0])
            else:
                grads[key] = [parent._backend.binary("add", entry[0], g), True]
            pending[key] -= 1
            if pending[key] == 0:
                ready.append(parent)
        if not retain_graph:
            node.release()
