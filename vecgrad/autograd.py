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

Derivatives of derivatives (create_graph=True): the SAME backward rules run again, but
`ctx.backend` is then a GraphBackend (vecgrad/ops/graph_backend.py) whose "buffers" are
Tensors and whose primitives apply differentiable Functions, so the backward pass is
itself recorded. Saved buffers are mapped back to the Tensors they came from (the node's
inputs and its output); a Function that saves an intermediate recomputes it from those
with `saved_for_graph`. The first-order walk (`run_backward`) is untouched by all this.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
import weakref
from operator import attrgetter, itemgetter

import numpy as np

# C-level getters: map() with these builds an op's per-input tuples without a Python
# frame (a list comprehension is a function call of its own before Python 3.12), and
# every op of a step builds four of them.
_requires_grad_of = attrgetter("_requires_grad")
_buf_of = attrgetter("_buf")
_version_of = attrgetter("_version")
_first = itemgetter(0)


class _GradMode(threading.local):
    """Whether ops record the graph (per thread, like PyTorch's grad mode)."""

    enabled = True


_grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    """True unless inside `no_grad()`."""
    return _grad_mode.enabled


class _set_grad_enabled(contextlib.ContextDecorator):
    """Grad mode set to `mode` inside a with block (or a decorated function), restored
    after. A class, not a generator context manager: a training step's update loop
    enters one each step, and this costs two calls instead of five."""

    __slots__ = ("mode", "previous")

    def __init__(self, mode: bool):
        self.mode = mode
        self.previous = []  # a stack: one object may be entered again inside itself

    def __enter__(self):
        self.previous.append(_grad_mode.enabled)
        _grad_mode.enabled = self.mode
        return None

    def __exit__(self, *exc_info):
        _grad_mode.enabled = self.previous.pop()
        return False

    def _recreate_cm(self):
        # each call of a decorated function gets its own (threads may call it at once)
        return type(self)(self.mode)

    def __call__(self, func):
        if not inspect.isgeneratorfunction(func):
            return super().__call__(func)
        mode = self.mode

        @functools.wraps(func)
        def generator(*args, **kwargs):
            # The mode holds while the generator's body runs (each step), not while the
            # code that iterates it runs between steps (PyTorch's rule).
            inner = func(*args, **kwargs)
            try:
                with _set_grad_enabled(mode):
                    value = next(inner)
                while True:
                    try:
                        sent = yield value
                    except GeneratorExit:
                        inner.close()
                        raise
                    except BaseException as exc:  # thrown in: hand it to the body
                        with _set_grad_enabled(mode):
                            value = inner.throw(exc)
                    else:
                        with _set_grad_enabled(mode):
                            value = inner.send(sent)
            except StopIteration as stop:  # the body returned
                return stop.value

        return generator


class set_grad_enabled(_set_grad_enabled):
    """PyTorch's set_grad_enabled(mode): recording is switched to `mode` at once; used as
    a with block (`with set_grad_enabled(is_training):`) or a decorator, the mode before
    it comes back at the end."""

    __slots__ = ()

    def __init__(self, mode: bool):
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"set_grad_enabled: mode must be a bool, got {mode!r}")
        super().__init__(bool(mode))
        self.previous.append(_grad_mode.enabled)
        _grad_mode.enabled = self.mode

    def __enter__(self):
        return None

    def __call__(self, func):
        _grad_mode.enabled = self.previous.pop()  # a decorator changes nothing until called
        return super().__call__(func)


def _grad_mode_manager(mode, func):
    """mode's context manager, or `func` decorated with it (`@no_grad` without the
    parentheses, as PyTorch allows)."""
    if func is None:
        return _set_grad_enabled(mode)
    if not callable(func):
        name = "no_grad" if not mode else "enable_grad"
        raise TypeError(f"{name}: takes no arguments (or decorates a function), got "
                        f"{type(func).__name__}")
    return _set_grad_enabled(mode)(func)


def no_grad(func=None):
    """Context manager (or decorator, with or without parentheses): ops inside record no
    graph (results have requires_grad=False)."""
    return _grad_mode_manager(False, func)


def inference_mode(mode=True):
    """PyTorch's inference_mode, here the same as no_grad (mode=False: enable_grad);
    a with block or a decorator (`@inference_mode()`; a function given directly is
    decorated, as `@no_grad` without parentheses)."""
    if callable(mode):
        return _set_grad_enabled(False)(mode)
    if not isinstance(mode, (bool, np.bool_)):
        raise TypeError(f"inference_mode: mode must be a bool, got {mode!r}")
    return _set_grad_enabled(not mode)


def enable_grad(func=None):
    """Context manager (or decorator): re-enable graph recording inside a no_grad block."""
    return _grad_mode_manager(True, func)


class Context:
    """What a Function's forward hands to its backward.

    `grad_owned` is True while backward runs on a gradient buffer that the first-order
    walk allocated and nobody else holds: the rule may then write its result into that
    buffer's memory (and return it) instead of a fresh one, as a hand-written step's
    `g *= mask` does. Everywhere else (the root's gradient, retained or recorded walks)
    it is False.
    """

    __slots__ = ("backend", "needs_input_grad", "saved_tensors", "attrs", "grad_owned")

    def __init__(self, backend, needs_input_grad):
        self.backend = backend
        self.needs_input_grad = needs_input_grad
        self.saved_tensors = ()
        self.attrs = None
        self.grad_owned = False

    def save_for_backward(self, *buffers):
        """Keep buffers for backward; they are released after backward runs."""
        self.saved_tensors = buffers


class Node:
    """A recorded Function application: the op, its context and its input tensors."""

    __slots__ = ("function", "ctx", "inputs", "counters", "versions", "freed",
                 "output_counter", "output_version")

    def __init__(self, function, ctx, inputs):
        self.function = function
        self.ctx = ctx
        self.inputs = inputs  # the Tensor arguments, in order
        # Each input's version counter (the list itself: `t.data = other` gives t a new
        # one, and edits of the memory this node saw go to the old one) and its value now.
        counters = self.counters = tuple(map(_version_of, inputs))
        self.versions = tuple(map(_first, counters))
        self.freed = False
        # The output's counter and version (set by Function.apply): a backward that saved
        # its output (exp, sigmoid, softmax, ...) must see edits made through a detached
        # alias or a view of it as well.
        self.output_counter = None
        self.output_version = 0

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

    #: Optional staticmethod `saved_for_graph(ctx, inputs, output) -> tuple of Tensors`,
    #: needed only by a Function whose forward saves a buffer that is neither one of its
    #: inputs' buffers nor the buffer it returns: it rebuilds those saved values as
    #: Tensors, with differentiable ops, for create_graph=True (see HIORDER-CONTRACT).
    saved_for_graph = None

    #: Optional staticmethod `backward_into(ctx, grad, buffer) -> bool` of a one-input
    #: Function: add this node's gradient for its input into `buffer` (a gradient of the
    #: input's shape that the first-order walk owns) in place, and return True; return
    #: False when it cannot (backward then runs as usual). GetItem has one: a loop that
    #: reads x[t] for every step then costs O(size of x) in backward instead of a
    #: full-size zeros-plus-slice per step (O(T^2) for T steps). Recorded walks
    #: (create_graph) never call it.
    backward_into = None

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
        try:
            backend = first._backend
            needs = tuple(map(_requires_grad_of, inputs))
        except AttributeError:
            raise _not_tensors(cls, inputs) from None
        ctx = Context(backend, needs)
        out = cls.forward(ctx, *map(_buf_of, inputs), **params)
        if _grad_mode.enabled and True in needs:
            node = Node(cls, ctx, inputs)
            result = first._wrap(out, backend, node)
        else:
            node = None
            result = first._wrap(out, backend)
        if may_share_storage(out, first._buf):
            # A view (transpose, slice, reshape): an in-place edit through it must
            # invalidate graphs that saved its base, and the other way round.
            result._version = first._version
            result._view_base = first._view_base or weakref.ref(first)
        if node is not None:
            counter = node.output_counter = result._version
            node.output_version = counter[0]
        return result


def _not_tensors(cls, inputs):
    bad = next(type(x).__name__ for x in inputs if not hasattr(x, "_requires_grad"))
    return TypeError(
        f"{cls.__name__}.apply: every argument must be a Tensor, got a {bad}. "
        f"vecgrad.autograd.Function is the engine's op base class (its forward and backward "
        f"work on backend buffers); for a custom op written on Tensors, as with PyTorch's "
        f"torch.autograd.Function, subclass vecgrad.autograd.CustomFunction")


class FunctionCtx:
    """The `ctx` a CustomFunction's forward and backward share, as PyTorch's: keep Tensors
    with `save_for_backward(*tensors)` and read them as `saved_tensors`; any other value
    may be kept as an attribute (`ctx.scale = 2.0`). `needs_input_grad` has one bool per
    argument of `apply`."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self.saved_tensors = ()

    def save_for_backward(self, *tensors):
        from vecgrad.tensor import Tensor

        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward: argument {i} is a {type(t).__name__}, "
                                f"not a Tensor (keep other values as attributes of ctx)")
        self.saved_tensors = tensors


class CustomFunction:
    """A differentiable op of your own, written on Tensors (PyTorch's
    torch.autograd.Function): subclass it with two staticmethods and call `.apply`::

        class MyExp(vecgrad.autograd.CustomFunction):
            @staticmethod
            def forward(ctx, x):
                out = x.exp()
                ctx.save_for_backward(out)
                return out

            @staticmethod
            def backward(ctx, grad_out):
                (out,) = ctx.saved_tensors
                return grad_out * out

        y = MyExp.apply(x)

    forward runs without recording (its Tensor arguments arrive detached) and returns one
    Tensor; backward gets the output's gradient and returns one gradient (or None) per
    argument of apply (None for the non-Tensor ones), each of its input's shape. First
    order only: a create_graph=True walk through it (derivatives of derivatives,
    vecgrad.func's jvp/hessian) is refused, where PyTorch differentiates the backward.
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a CustomFunction subclass must define forward")

    @staticmethod
    def backward(ctx, grad_output):
        raise NotImplementedError("a CustomFunction subclass must define backward")

    @classmethod
    def apply(cls, *args, **kwargs):
        from vecgrad.tensor import Tensor

        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx = FunctionCtx(needs)
        detached = [a.detach() if isinstance(a, Tensor) else a for a in args]
        with _set_grad_enabled(False):
            out = cls.forward(ctx, *detached, **kwargs)
        if not isinstance(out, Tensor):
            raise TypeError(f"{cls.__name__}.forward must return one Tensor, got "
                            f"{type(out).__name__} (several outputs are not supported)")
        if not (_grad_mode.enabled and True in needs):
            return out
        tensors = [args[i] for i in positions]
        for t in tensors:
            if t._backend is not out._backend:
                raise ValueError(f"{cls.__name__}: tensors are on different devices "
                                 f"({t.device} and {out.device}); move one with .to(device)")
        return _Custom.apply(*tensors, result=out._buf, user=(cls, ctx, positions, len(args),
                                   [(t.shape, t.dtype) for t in tensors]))


class _Custom(Function):
    """Records a CustomFunction application (its forward already ran, on Tensors); the
    backward calls the user's backward on Tensors."""

    view_grads = True  # the user's gradients may be any Tensor's memory: never add into them

    @staticmethod
    def forward(ctx, *buffers, result, user):
        ctx.attrs = user
        return result

    @staticmethod
    def backward(ctx, grad):
        from vecgrad.tensor import Tensor

        cls, user_ctx, positions, n_args, meta = ctx.attrs
        if isinstance(grad, Tensor):  # a recorded walk: its "buffers" are Tensors
            raise RuntimeError(
                f"{cls.__name__}: derivatives of derivatives (create_graph=True, "
                f"vecgrad.func's jvp, hessian, hvp) do not pass through a CustomFunction; "
                f"write the op with differentiable vecgrad ops instead")
        with _set_grad_enabled(False):
            results = cls.backward(user_ctx, Tensor._wrap(grad, ctx.backend))
        if not isinstance(results, tuple):
            results = (results,)
        if len(results) != n_args:
            raise ValueError(f"{cls.__name__}.backward returned {len(results)} gradients "
                             f"for the {n_args} arguments of apply (give None for an "
                             f"argument without one)")
        out = []
        for k, pos in enumerate(positions):
            if not ctx.needs_input_grad[k]:
                out.append(None)
                continue
            shape, dtype = meta[k]
            g = results[pos]
            if g is None:
                out.append(ctx.backend.full(shape, 0, dtype))
                continue
            if not isinstance(g, Tensor):
                raise TypeError(f"{cls.__name__}.backward: gradient {pos} is a "
                                f"{type(g).__name__}, not a Tensor or None")
            if g.shape != shape:
                raise ValueError(f"{cls.__name__}.backward: gradient {pos} has shape "
                                 f"{g.shape}, its input {shape}")
            if g._backend is not ctx.backend:
                raise ValueError(f"{cls.__name__}.backward: gradient {pos} is on {g.device}, "
                                 f"its input on another device")
            if g.dtype != dtype:
                g = g.to(dtype=dtype)
            out.append(g._buf)
        return tuple(out)


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
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()._node
        if node is None:
            continue
        if node.freed:
            raise _freed_error(node)
        counters, versions = node.counters, node.versions
        for i, needed in enumerate(node.ctx.needs_input_grad):
            if not needed:
                continue
            parent = node.inputs[i]
            if counters[i][0] != versions[i]:
                _check_not_rebased(node, i, parent)
            key = id(parent)
            if key in pending:
                pending[key] += 1
            else:
                pending[key] = 1
                push(parent)
    return pending


def _check_not_rebased(node, i, parent):
    """`parent` changed in place after `node` used it: when the change was a recorded
    write (x[i] = v made x the output of SetItem), its gradient would reach the write
    instead of the values node saw, so refuse. (SetItem's own first input is the old x.)"""
    producer = parent._node
    if producer is not None and producer.name == "SetItem" and \
            not (i == 0 and node.name == "SetItem"):
        raise RuntimeError(
            f"backward: a tensor of shape {parent.shape} used by {node.name} was later "
            f"written in place (x[index] = value); its gradient would be wrong. Write into "
            f"a copy, or do the write before using the tensor")


def _check_versions(node, output):
    """The in-place error, when an input or the saved output of node changed since."""
    for t, counter, version in zip(node.inputs, node.counters, node.versions):
        if counter[0] != version:
            raise RuntimeError(
                f"backward: a tensor of shape {t.shape} used by {node.name} was modified in "
                f"place after it was used; its gradient would be wrong")
    counter = node.output_counter
    if counter is not None and counter[0] != node.output_version and any(
            [saved is output._buf for saved in node.ctx.saved_tensors]):
        raise RuntimeError(
            f"backward: the output of {node.name} (shape {output.shape}), which its "
            f"gradient needs, was modified in place (through a view or a detached alias "
            f"of it); its gradient would be wrong")


def run_backward(root, grad_buf, retain_graph=False):
    """Accumulate d(root)/d(leaf) * grad_buf into every leaf's .grad."""
    pending = _count_children(root)
    # id(tensor) -> [gradient buffer, whether we own it (may add into it in place)]
    grads = {id(root): [grad_buf, False]}
    ready = [root]
    pop, push = ready.pop, ready.append
    while ready:
        t = pop()
        grad, owned = grads.pop(id(t))
        node = t._node
        if node is None:
            t._accumulate_grad(grad, owned)
            continue
        if t._retains_grad:
            t._accumulate_grad(grad, False)
        ctx = node.ctx
        if ctx.saved_tensors:
            _check_versions(node, t)
        function = node.function
        needs = ctx.needs_input_grad
        inputs = node.inputs
        into = function.backward_into
        if into is not None and needs[0]:
            parent = inputs[0]
            key = id(parent)
            entry = grads.get(key)
            # Only into a buffer this walk allocated (owned): nobody else can see the write.
            if entry is not None and entry[1] and into(ctx, grad, entry[0]):
                pending[key] -= 1
                if pending[key] == 0:
                    push(parent)
                if not retain_graph:
                    node.release()
                continue
        ctx.grad_owned = owned
        results = function.backward(ctx, grad)
        ctx.grad_owned = False
        if not isinstance(results, tuple):
            results = (results,)
        aliasing = function.view_grads
        for i, needed in enumerate(needs):
            if not needed:
                continue
            parent = inputs[i]
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
            left = pending[key] - 1
            pending[key] = left
            if not left:
                push(parent)
        if not retain_graph:
            node.release()


# --------------------------------------------------------------------------------------
# Higher order and autograd.grad: the general walk. Gradients are backend buffers
# (create_graph=False) or Tensors whose computation is recorded (create_graph=True).
# run_backward above is the same walk specialised for the common first-order
# `loss.backward()`; it stays separate so that path pays nothing for these features.

class Recorder:
    """What a recorded walk (create_graph=True) computes with. autograd sits below ops in
    the layering, so vecgrad/ops/graph_backend.py fills these in when it is imported
    (vecgrad/__init__.py imports it): `backend_of(real)` -> its GraphBackend,
    `add(a, b)` and `cast(t, dtype)` -> recorded Tensors."""

    backend_of = None
    add = None
    cast = None


def _recorder():
    if Recorder.backend_of is None:
        raise RuntimeError("create_graph: vecgrad.ops.graph_backend was not imported; "
                           "import vecgrad (the package) before vecgrad.autograd")
    return Recorder


def _add_values(backend, a, b, create_graph):
    return Recorder.add(a, b) if create_graph else backend.binary("add", a, b)


def _saved_as_tensors(node, output):
    """The node's saved buffers as the Tensors they came from (inputs or the output),
    so that a recorded backward differentiates through them."""
    saved = node.ctx.saved_tensors
    if not saved:
        return ()
    custom = node.function.saved_for_graph
    if custom is not None:
        return tuple(custom(node.ctx, node.inputs, output))
    pool = list(node.inputs) + [output]
    used = [False] * len(pool)
    mapped = []
    for buf in saved:
        found = None
        for i, t in enumerate(pool):  # first an unused match: Mul(x, x.detach()) keeps both
            if t._buf is buf and not used[i]:
                found = i
                break
        if found is None:
            for i, t in enumerate(pool):
                if t._buf is buf:
                    found = i
                    break
        if found is None:
            raise RuntimeError(
                f"create_graph: {node.name} saved a buffer of shape {tuple(buf.shape)} that is "
                f"neither one of its inputs nor its output, so its backward cannot be "
                f"recorded; give {node.name} a saved_for_graph(ctx, inputs, output) "
                f"staticmethod that recomputes it with differentiable ops")
        used[found] = True
        mapped.append(pool[found])
    return tuple(mapped)


def _useful(roots, targets):
    """id(tensor) -> whether a gradient path from it reaches a target (iterative DFS)."""
    useful = {}
    for root in roots:
        if id(root) in useful:
            continue
        stack = [(root, False)]
        while stack:
            t, expanded = stack.pop()
            key = id(t)
            node = t._node
            if expanded:
                hit = key in targets
                if node is not None and not hit:
                    for parent, needed in zip(node.inputs, node.ctx.needs_input_grad):
                        if needed and useful.get(id(parent)):
                            hit = True
                            break
                useful[key] = hit
                continue
            if key in useful:
                continue
            useful[key] = False  # placeholder until its parents are done (the graph is a DAG)
            stack.append((t, True))
            if node is None:
                continue
            if node.freed:
                if key in targets:
                    continue  # its gradient is all we need from here
                raise _freed_error(node)
            counters, versions = node.counters, node.versions
            for i, (parent, needed) in enumerate(zip(node.inputs, node.ctx.needs_input_grad)):
                if not needed:
                    continue
                if counters[i][0] != versions[i]:
                    # Here, not only in _pending: x[i] = f(x[i]) makes x its own ancestor,
                    # and this walk would prune that loop as a path to nowhere (a zero
                    # gradient) before the in-place check could refuse it.
                    _check_not_rebased(node, i, parent)
                if id(parent) not in useful:
                    stack.append((parent, False))
    return useful


def _freed_error(node):
    return RuntimeError(
        f"backward: the graph through {node.name} was already freed by an earlier "
        f"backward(); call backward(retain_graph=True) the first time to go through it twice")


def _pending(roots, useful):
    """For each tensor on a useful path: how many gradients it will receive."""
    pending = {}
    stack = []
    for root in roots:
        if id(root) not in pending and (useful is None or useful[id(root)]):
            pending[id(root)] = 0
            stack.append(root)
    while stack:
        t = stack.pop()
        node = t._node
        if node is None:
            continue
        if node.freed:
            if useful is not None:
                continue  # a target's own node (see _useful): nothing is needed beyond it
            raise _freed_error(node)
        for i, (parent, needed) in enumerate(zip(node.inputs, node.ctx.needs_input_grad)):
            if not needed:
                continue
            if node.counters[i][0] != node.versions[i]:
                _check_not_rebased(node, i, parent)  # the same rule as first-order backward
            key = id(parent)
            if useful is not None and not useful.get(key):
                continue
            if key in pending:
                pending[key] += 1
            else:
                pending[key] = 1
                stack.append(parent)
    return pending


def _check_results(node, results, create_graph, tensor_type):
    for r in results:
        if r is not None and isinstance(r, tensor_type) != create_graph:
            raise RuntimeError(
                f"create_graph: {node.name}.backward returned a {type(r).__name__}; a backward "
                f"rule must compute with ctx.backend primitives only (no numpy, no .numpy(), "
                f"no Tensor methods) so that it can also be recorded")


def walk(roots, seeds, *, retain_graph, create_graph, targets=None):
    """Send seeds[i] back from roots[i]; return {id(target): gradient} for targets, or
    (targets None) accumulate into the leaves' .grad as backward() does.

    Gradients are raw buffers, or with create_graph recorded Tensors (grad mode is on
    during the walk, as in PyTorch, so the backward pass itself becomes a graph).
    """
    from vecgrad.tensor import Tensor

    recorder = _recorder() if create_graph else None
    useful = None if targets is None else _useful(roots, targets)
    pending = _pending(roots, useful)
    grads = {}
    ready = []
    for root, seed in zip(roots, seeds):
        key = id(root)
        if key not in pending:
            continue  # this output does not reach any input
        if key in grads:
            grads[key] = _add_values(root._backend, grads[key], seed, create_graph)
        else:
            grads[key] = seed
            if pending[key] == 0:
                ready.append(root)
    captured = {}
    with _set_grad_enabled(create_graph):
        while ready:
            t = ready.pop()
            key = id(t)
            grad = grads.pop(key)
            if targets is not None and key in targets:
                captured[key] = grad
            node = t._node
            if node is not None and useful is not None and (node.freed or not any(
                    [useful.get(id(p)) for p in node.inputs])):
                continue  # a target with nothing wanted beyond it
            if node is None:
                if targets is None:
                    if create_graph:
                        _accumulate_graph_grad(t, grad)
                    else:
                        t._accumulate_grad(grad, False)
                continue
            if targets is None and t._retains_grad:
                if create_graph:
                    _accumulate_graph_grad(t, grad)
                else:
                    t._accumulate_grad(grad, False)
            ctx = node.ctx
            if ctx.saved_tensors:
                _check_versions(node, t)
            if create_graph:
                recorded = Context(recorder.backend_of(ctx.backend), ctx.needs_input_grad)
                recorded.saved_tensors = _saved_as_tensors(node, t)
                recorded.attrs = ctx.attrs
                ctx = recorded
            results = node.function.backward(ctx, grad)
            if not isinstance(results, tuple):
                results = (results,)
            _check_results(node, results, create_graph, Tensor)
            for i, parent in enumerate(node.inputs):
                if not node.ctx.needs_input_grad[i]:
                    continue
                pkey = id(parent)
                if useful is not None and not useful.get(pkey):
                    continue
                g = results[i]
                if g is None:  # a rule may skip an input no path needs; count it sent
                    g = _zeros_value(parent, create_graph)
                entry = grads.get(pkey)
                grads[pkey] = g if entry is None else _add_values(
                    parent._backend, entry, g, create_graph)
                pending[pkey] -= 1
                if pending[pkey] == 0:
                    ready.append(parent)
            if not retain_graph:
                node.release()
    return captured


def _zeros_value(t, create_graph):
    buf = t._backend.full(t.shape, 0, t.dtype)
    return t._wrap(buf, t._backend) if create_graph else buf


def _accumulate_graph_grad(t, grad):
    """.grad += grad, recorded and out of place: the old .grad may be part of a graph."""
    if t._grad is None:
        if grad._node is None:  # a plain value may alias a buffer of the graph: own a copy
            if grad._requires_grad:  # the seed itself (backward(v) through x + 0): a
                # recorded copy, so .grad stays a function of v (a plain copy cut it off)
                zero = t._wrap(t._backend.full((), 0, grad.dtype), t._backend)
                grad = Recorder.add(grad, zero)
            else:
                grad = t._wrap(t._backend.copy(grad._buf), t._backend)
        t._grad = grad
    else:
        t._grad = Recorder.add(t._grad, grad)


def _as_tuple(value, what):
    from vecgrad.tensor import Tensor

    if isinstance(value, Tensor):
        return (value,), True
    if isinstance(value, (list, tuple)):
        return tuple(value), False
    raise TypeError(f"grad: {what} must be a Tensor or a sequence of Tensors, got "
                    f"{type(value).__name__}")


def _seed(output, given, create_graph, where, name="grad_outputs"):
    """The starting gradient for one output: a buffer, or a Tensor with create_graph.
    `name` is the argument the caller took it as (backward's is `gradient`)."""
    from vecgrad.tensor import Tensor

    backend = output._backend
    if given is None:
        if output.numel() != 1:
            raise RuntimeError(f"{where}: gradient can only be implied for a one-element "
                               f"output; this one has shape {output.shape}: pass "
                               f"{name} (a tensor of that shape)")
        buf = backend.full(output.shape, 1, output.dtype)
        return Tensor._wrap(buf, backend) if create_graph else buf
    if not isinstance(given, Tensor):
        what = ("grad_outputs entries must be Tensors" if name == "grad_outputs"
                else f"{name} must be a Tensor")
        raise TypeError(f"{where}: {what} or None, got {type(given).__name__}")
    if given._backend is not backend:
        raise ValueError(f"{where}: {name} is on {given.device} but the output is on "
                         f"{output.device}; move one with .to(device)")
    if given.shape != output.shape:
        raise ValueError(f"{where}: {name} shape {given.shape} does not match the "
                         f"output shape {output.shape}")
    if create_graph:
        if given.dtype != output.dtype:
            given = _recorder().cast(given, output.dtype)
        return given
    buf = given._buf
    return buf if given.dtype == output.dtype else backend.astype(buf, output.dtype)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """The gradients of outputs with respect to inputs, returned (not put in .grad).

    PyTorch's torch.autograd.grad: `grad_outputs` weights each output (None: 1 for
    one-element outputs); with create_graph=True the results carry a graph of their own
    and can be differentiated again. retain_graph defaults to create_graph. An input
    that no output depends on is an error unless allow_unused=True (then its entry is
    None). Leaves' .grad fields are not touched.
    """
    from vecgrad.tensor import Tensor

    outputs, _ = _as_tuple(outputs, "outputs")
    inputs, _ = _as_tuple(inputs, "inputs")
    if not outputs or not inputs:
        raise ValueError("grad: outputs and inputs must not be empty")
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    else:
        grad_outputs, _ = _as_tuple(grad_outputs, "grad_outputs")
        if len(grad_outputs) != len(outputs):
            raise ValueError(f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} "
                             f"outputs; give one per output (None for a one-element output)")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: inputs[{i}] is a {type(t).__name__}, not a Tensor")
        if not t._requires_grad:
            raise RuntimeError(f"grad: inputs[{i}] (shape {t.shape}) does not require grad")
    for i, t in enumerate(outputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: outputs[{i}] is a {type(t).__name__}, not a Tensor")
        if not t._requires_grad:
            raise RuntimeError(f"grad: outputs[{i}] (shape {t.shape}) does not require grad "
                               f"(no input had requires_grad=True, or it was computed under "
                               f"no_grad())")
    if retain_graph is None:
        retain_graph = create_graph
    seeds = [_seed(o, g, create_graph, "grad") for o, g in zip(outputs, grad_outputs)]
    targets = {id(t) for t in inputs}
    captured = walk(list(outputs), seeds, retain_graph=retain_graph,
                    create_graph=create_graph, targets=targets)
    results = []
    for i, t in enumerate(inputs):
        g = captured.get(id(t))
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"grad: inputs[{i}] (shape {t.shape}) was not used to "
                                   f"compute the outputs; pass allow_unused=True to get None")
            results.append(None)
        elif create_graph:
            results.append(g)
        else:
            results.append(Tensor._wrap(g, t._backend))
    return tuple(results)


def backward_graph(root, gradient, retain_graph):
    """root.backward(gradient, create_graph=True): recorded gradients into .grad."""
    seed = _seed(root, gradient, True, "backward", "gradient")
    walk([root], [seed], retain_graph=retain_graph, create_graph=True)


def __getattr__(name):
    # torch.autograd.functional's helpers (vjp, jvp, jacobian, hessian, hvp) live in
    # vecgrad.func; imported when first touched (func imports this module).
    if name == "functional":
        import importlib

        return importlib.import_module("vecgrad.func")
    raise AttributeError(f"module 'vecgrad.autograd' has no attribute {name!r}")
