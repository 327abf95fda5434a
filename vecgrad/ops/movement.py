"""Shape and indexing ops: reshape, permute, expand, getitem, cat, gather and the
compositions built from them (view, flatten, transpose, squeeze, unsqueeze, stack)."""

from __future__ import annotations

import numpy as np

from vecgrad.autograd import Function
from vecgrad.ops import common
from vecgrad.ops.common import fmt_shape, unbroadcast


class Reshape(Function):
    view_grads = True

    @staticmethod
    def forward(ctx, x, *, shape):
        ctx.attrs = x.shape
        return ctx.backend.reshape(x, shape)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.reshape(grad, ctx.attrs)


class Permute(Function):
    view_grads = True

    @staticmethod
    def forward(ctx, x, *, axes):
        ctx.attrs = tuple(int(i) for i in np.argsort(axes))
        return ctx.backend.permute(x, axes)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.permute(grad, ctx.attrs)


class Expand(Function):
    @staticmethod
    def forward(ctx, x, *, shape):
        ctx.attrs = x.shape
        return ctx.backend.expand(x, shape)

    @staticmethod
    def backward(ctx, grad):
        return unbroadcast(ctx.backend, grad, ctx.attrs)


class GetItem(Function):
    @staticmethod
    def forward(ctx, x, *, index):
        ctx.attrs = (x.shape, index)
        return ctx.backend.getitem(x, index)

    @staticmethod
    def backward(ctx, grad):
        shape, index = ctx.attrs
        return ctx.backend.index_add(shape, index, grad)


class IndexAdd(Function):
    """A zero tensor of `shape` with src added at x[index]: getitem's transpose. Only
    recorded backward passes (create_graph) apply it; its own gradient is a getitem."""

    @staticmethod
    def forward(ctx, src, *, shape, index):
        ctx.attrs = index
        return ctx.backend.index_add(shape, index, src)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.getitem(grad, ctx.attrs)


class Cat(Function):
    view_grads = True  # backward hands out slices of the incoming gradient

    @staticmethod
    def forward(ctx, *buffers, axis):
        ctx.attrs = (axis, [b.shape[axis] for b in buffers])
        return ctx.backend.cat(buffers, axis)

    @staticmethod
    def backward(ctx, grad):
        axis, sizes = ctx.attrs
        be = ctx.backend
        grads, start = [], 0
        lead = (slice(None),) * axis
        for size, needed in zip(sizes, ctx.needs_input_grad):
            if needed:
                grads.append(be.getitem(grad, lead + (slice(start, start + size),)))
            else:
                grads.append(None)
            start += size
        return tuple(grads)


class Gather(Function):
    @staticmethod
    def forward(ctx, x, index, *, axis):
        ctx.save_for_backward(index)
        ctx.attrs = (x.shape, axis)
        return ctx.backend.gather(x, axis, index)

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        shape, axis = ctx.attrs
        return ctx.backend.scatter_add(shape, axis, index, grad), None


class ScatterAdd(Function):
    """Gather's transpose (applied by recorded backward passes); its gradient gathers."""

    @staticmethod
    def forward(ctx, src, index, *, shape, axis):
        ctx.save_for_backward(index)
        ctx.attrs = axis
        return ctx.backend.scatter_add(shape, axis, index, src)

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        return ctx.backend.gather(grad, ctx.attrs, index), None


# ------------------------------------------------------------------ public functions
def _shape_args(op, shape):
    """(2, 3), [2, 3] or 2, 3 -> a tuple of ints."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for n in shape:
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
            raise TypeError(f"{op}: shape entries must be ints, got {shape!r}")
    return tuple(int(n) for n in shape)


def reshape(x, *shape):
    """Same elements, new shape; one entry may be -1 (inferred)."""
    shape = _shape_args("reshape", shape)
    size = x.numel()
    if shape.count(-1) > 1 or any(n < -1 for n in shape):
        raise ValueError(f"reshape: invalid shape {shape}: sizes must be >= 0 with at most one -1")
    if -1 in shape:
        known = int(np.prod([n for n in shape if n != -1]))
        if known == 0 or size % known:
            raise ValueError(f"reshape: cannot reshape {fmt_shape(x.shape)} ({size} elements) "
                             f"into {shape}")
        shape = tuple(size // known if n == -1 else n for n in shape)
    if int(np.prod(shape)) != size:
        raise ValueError(f"reshape: cannot reshape {fmt_shape(x.shape)} ({size} elements) "
                         f"into {shape} ({int(np.prod(shape))} elements)")
    if shape == x.shape:
        return x
    return Reshape.apply(x, shape=shape)


def flatten(x, start_dim=0, end_dim=-1):
    """Merge axes start_dim..end_dim into one (PyTorch's flatten)."""
    if x.ndim == 0:
        return reshape(x, 1)
    start = common.normalize_axis("flatten", start_dim, x.ndim)
    end = common.normalize_axis("flatten", end_dim, x.ndim)
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    merged = int(np.prod(x.shape[start:end + 1]))
    return reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1:])


def permute(x, *axes):
    """Reorder axes: x.permute(2, 0, 1)."""
    axes = _shape_args("permute", axes)
    if len(axes) != x.ndim or sorted(a % max(x.ndim, 1) for a in axes) != list(range(x.ndim)):
        raise ValueError(f"permute: {axes} is not a permutation of the {x.ndim} axes of a "
                         f"tensor of shape {fmt_shape(x.shape)}")
    axes = tuple(a % x.ndim for a in axes)
    if axes == tuple(range(x.ndim)):
        return x
    return Permute.apply(x, axes=axes)


def transpose(x, dim0=None, dim1=None):
    """Swap two axes; with no arguments reverse all axes (numpy's transpose, x.T)."""
    if dim0 is None and dim1 is None:
        return permute(x, *reversed(range(x.ndim)))
    if dim0 is None or dim1 is None:
        raise TypeError("transpose: give both axes to swap, or none to reverse all")
    a = common.normalize_axis("transpose", dim0, x.ndim)
    b = common.normalize_axis("transpose", dim1, x.ndim)
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return permute(x, *axes)


def squeeze(x, axis=None):
    """Drop axes of size 1 (all of them, or the given ones, which must have size 1)."""
    if axis is None:
        return reshape(x, tuple(n for n in x.shape if n != 1))
    axes = common.normalize_axes("squeeze", axis, x.ndim)
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} of shape {fmt_shape(x.shape)} has size "
                             f"{x.shape[a]}, not 1")
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def unsqueeze(x, axis):
    """Insert an axis of size 1 at position `axis` (-1: last)."""
    a = common.normalize_axis("unsqueeze", axis, x.ndim + 1)
    return reshape(x, x.shape[:a] + (1,) + x.shape[a:])


def expand(x, *shape):
    """Broadcast to `shape` without copying (-1 keeps an axis)."""
    shape = _shape_args("expand", shape)
    if len(shape) < x.ndim:
        raise ValueError(f"expand: cannot expand {fmt_shape(x.shape)} to fewer axes {shape}")
    lead = len(shape) - x.ndim
    shape = tuple(x.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(shape))
    for i, n in enumerate(x.shape):
        if n != 1 and n != shape[lead + i]:
            raise ValueError(f"expand: cannot expand {fmt_shape(x.shape)} to {shape}: axis {i} "
                             f"has size {n}, which is neither 1 nor {shape[lead + i]}")
    if shape == x.shape:
        return x
    return Expand.apply(x, shape=shape)


def cat(tensors, axis=0, *, dim=None):
    """Concatenate along an existing axis."""
    tensors = _tensor_list("cat", tensors)
    axis = common.pick_axis("cat", axis, dim, 0)
    first = tensors[0]
    if first.ndim == 0:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    axis = common.normalize_axis("cat", axis, first.ndim)
    common.check_same_device("cat", *tensors)
    for t in tensors[1:]:
        same = t.ndim == first.ndim and all(
            a == b for i, (a, b) in enumerate(zip(t.shape, first.shape)) if i != axis)
        if not same:
            raise ValueError(f"cat: shapes {fmt_shape(first.shape)} and {fmt_shape(t.shape)} "
                             f"differ outside axis {axis}")
    dtype = common.promote(*[t.dtype for t in tensors])
    tensors = [common.cast(t, dtype) for t in tensors]
    return Cat.apply(*tensors, axis=axis)


def stack(tensors, axis=0, *, dim=None):
    """Join same-shaped tensors along a new axis."""
    tensors = _tensor_list("stack", tensors)
    axis = common.pick_axis("stack", axis, dim, 0)
    for t in tensors[1:]:
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack: all tensors need one shape, got "
                             f"{fmt_shape(tensors[0].shape)} and {fmt_shape(t.shape)}")
    axis = common.normalize_axis("stack", axis, tensors[0].ndim + 1)
    return cat([unsqueeze(t, axis) for t in tensors], axis)


def _tensor_list(op, tensors):
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: needs at least one tensor")
    for t in tensors:
        if not common.is_tensor(t):
            raise TypeError(f"{op}: expected Tensors, got {type(t).__name__}")
    common.check_same_device(op, *tensors)
    return tensors


def gather(x, axis, index):
    """numpy.take_along_axis: out[i][j] = x[i][index[i][j]] for axis=1 (PyTorch's gather)."""
    axis = common.normalize_axis("gather", axis, x.ndim)
    if not common.is_tensor(index) or index.dtype != np.int64:
        got = index.dtype if common.is_tensor(index) else type(index).__name__
        raise TypeError(f"gather: index must be an int64 Tensor, got {got}")
    common.check_same_device("gather", x, index)
    if index.ndim != x.ndim:
        raise ValueError(f"gather: index of shape {fmt_shape(index.shape)} needs {x.ndim} axes "
                         f"like the input {fmt_shape(x.shape)}")
    for i, (n, m) in enumerate(zip(x.shape, index.shape)):
        if i != axis and m != n:
            raise ValueError(f"gather: index shape {fmt_shape(index.shape)} and input shape "
                             f"{fmt_shape(x.shape)} differ on axis {i}")
    host = index.numpy()
    if host.size and (host.min() < 0 or host.max() >= x.shape[axis]):
        raise IndexError(f"gather: index values must lie in [0, {x.shape[axis]}) along axis "
                         f"{axis}, got range [{host.min()}, {host.max()}]")
    return Gather.apply(x, index, axis=axis)


# ------------------------------------------------------------------------ indexing
def _index_entry(entry):
    if common.is_tensor(entry):
        entry = entry.numpy()
    if isinstance(entry, (list, np.ndarray)):
        array = np.asarray(entry)
        if array.dtype == np.bool_:
            return array
        if array.size == 0:
            return array.astype(np.int64)
        if not np.issubdtype(array.dtype, np.integer):
            raise IndexError(f"getitem: index arrays must be integer or bool, got {array.dtype}")
        return array.astype(np.int64)
    if isinstance(entry, slice):
        parts = (entry.start, entry.stop, entry.step)
        for p in parts:
            if p is not None and not isinstance(p, (int, np.integer)):
                raise IndexError(f"getitem: slice bounds must be ints or None, got {entry}")
        return slice(*[None if p is None else int(p) for p in parts])
    if entry is None or entry is Ellipsis:
        return entry
    if isinstance(entry, (int, np.integer)) and not isinstance(entry, (bool, np.bool_)):
        return int(entry)
    raise IndexError(f"getitem: unsupported index {entry!r} ({type(entry).__name__}); use ints, "
                     f"slices, None, ... or integer/bool arrays")


def normalize_index(x, index):
    """The backend's Index form: a tuple of slices, ints, None and host int64/bool arrays."""
    entries = index if isinstance(index, tuple) else (index,)
    entries = [_index_entry(e) for e in entries]
    ellipses = [i for i, e in enumerate(entries) if e is Ellipsis]
    if len(ellipses) > 1:
        raise IndexError("getitem: an index can only have a single ellipsis ('...')")
    if ellipses:
        fill = max(x.ndim - _consumed_axes(entries), 0)
        entries[ellipses[0]:ellipses[0] + 1] = [slice(None)] * fill
    return tuple(entries)


def _consumed_axes(entries):
    """How many tensor axes an index consumes (None and ... consume none)."""
    used = 0
    for e in entries:
        if e is None or e is Ellipsis:
            continue
        used += e.ndim if isinstance(e, np.ndarray) and e.dtype == np.bool_ else 1
    return used


def getitem(x, index):
    """x[index] with numpy semantics; the gradient adds back into the indexed places."""
    index = normalize_index(x, index)
    try:
        # Validate against a zero-size stand-in of x's shape: numpy's own rules and bounds.
        np.broadcast_to(np.zeros((), np.uint8), x.shape)[index]
    except (IndexError, ValueError) as exc:  # ValueError: a slice step of 0
        raise IndexError(f"getitem: invalid index for a tensor of shape {fmt_shape(x.shape)}: "
                         f"{exc}") from None
    return GetItem.apply(x, index=index)
