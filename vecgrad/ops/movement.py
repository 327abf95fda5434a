"""Shape and indexing ops: reshape, permute, expand, getitem, cat, gather and the
compositions built from them (view, flatten, transpose, squeeze, unsqueeze, stack)."""

from __future__ import annotations

from builtins import sum as builtins_sum

import numpy as np

from vecgrad.autograd import Function, may_share_storage
from vecgrad.ops import common, creation, elementwise
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

    @staticmethod
    def backward_into(ctx, grad, buffer):
        # buffer[index] += grad through a view (a basic index never hits a place twice);
        # a 0-d result is not a view on every backend, so those take the usual path.
        _, index = ctx.attrs
        if not len(grad.shape) or not _is_basic(index):
            return False
        be = ctx.backend
        view = be.getitem(buffer, index)
        be.binary("add", view, grad, out=view)
        return True


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


def _axis_of(op, x, dim):
    """`dim` as an axis of x, which must have one: a 0-d tensor has no axis to split,
    narrow or gather along (normalize_axis lets 0 through for 0-d reductions)."""
    if x.ndim == 0:
        raise ValueError(f"{op}: needs at least one axis, got a 0-dimensional tensor")
    return common.normalize_axis(op, dim, x.ndim)


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
    if x.ndim == 0:  # PyTorch: 0 and -1 name the one pseudo-axis; nothing to swap
        common.normalize_axes("transpose", (dim0, dim1), 0)
        return x
    a = common.normalize_axis("transpose", dim0, x.ndim)
    b = common.normalize_axis("transpose", dim1, x.ndim)
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return permute(x, *axes)


def squeeze(x, axis=None, *, dim=None):
    """Drop axes of size 1: all of them, or those of the given axes that have size 1.

    A given axis whose size is not 1 is left as it is (PyTorch's rule; numpy raises).
    """
    axis = common.pick_axis("squeeze", axis, dim, None)
    if axis is None:
        return reshape(x, tuple(n for n in x.shape if n != 1))
    axes = common.normalize_axes("squeeze", axis, x.ndim)
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes or n != 1))


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
    if any(n < 0 for n in shape):  # (OpenCL made a tensor of shape (-1, 3) from this)
        raise ValueError(f"expand: cannot expand {fmt_shape(x.shape)} to {shape}: -1 keeps an "
                         f"existing axis, and a new leading axis needs a size >= 0")
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
    """out[i][j] = x[i][index[i][j]] for axis=1 (PyTorch's gather).

    index may be smaller than x on every axis (PyTorch's rule): it reads from the
    leading part of x there (numpy.take_along_axis needs equal sizes).
    """
    axis = _axis_of("gather", x, axis)
    if not common.is_tensor(index) or index.dtype != np.int64:
        got = index.dtype if common.is_tensor(index) else type(index).__name__
        raise TypeError(f"gather: index must be an int64 Tensor, got {got}")
    common.check_same_device("gather", x, index)
    if index.ndim != x.ndim:
        raise ValueError(f"gather: index of shape {fmt_shape(index.shape)} needs {x.ndim} axes "
                         f"like the input {fmt_shape(x.shape)}")
    for i, (n, m) in enumerate(zip(x.shape, index.shape)):
        if i != axis and m > n:
            raise ValueError(f"gather: index shape {fmt_shape(index.shape)} is larger than "
                             f"the input shape {fmt_shape(x.shape)} on axis {i}")
    host = index.numpy()
    if host.size and (host.min() < 0 or host.max() >= x.shape[axis]):
        raise IndexError(f"gather: index values must lie in [0, {x.shape[axis]}) along axis "
                         f"{axis}, got range [{host.min()}, {host.max()}]")
    smaller = tuple(slice(None) if i == axis else slice(0, m)
                    for i, m in enumerate(index.shape))
    if any(m != n for i, (n, m) in enumerate(zip(x.shape, index.shape)) if i != axis):
        x = getitem(x, smaller)
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


# ------------------------------------------------------- the everyday PyTorch movement API
# All composites of reshape / permute / expand / getitem / cat / gather / where: no
# backward of their own.
def swapaxes(x, axis0, axis1):
    """Swap two axes (numpy's swapaxes, PyTorch's transpose(dim0, dim1))."""
    return transpose(x, axis0, axis1)


def movedim(x, source, destination):
    """Move axes from `source` to `destination` (ints or sequences), the rest keep order."""
    sources = tuple(source) if isinstance(source, (tuple, list)) else (source,)
    destinations = tuple(destination) if isinstance(destination, (tuple, list)) \
        else (destination,)
    if len(sources) != len(destinations):
        raise ValueError(f"movedim: source {source} and destination {destination} need "
                         f"the same number of axes")
    if x.ndim == 0:
        common.normalize_axes("movedim", sources, 0)
        return x
    src = [common.normalize_axis("movedim", a, x.ndim) for a in sources]
    dst = [common.normalize_axis("movedim", a, x.ndim) for a in destinations]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"movedim: repeated axis in {source} or {destination}")
    order = [None] * x.ndim
    for s_axis, d_axis in zip(src, dst):
        order[d_axis] = s_axis
    rest = iter(a for a in range(x.ndim) if a not in src)
    order = [next(rest) if a is None else a for a in order]
    return permute(x, *order)


def t(x):
    """Transpose of a matrix (0-D and 1-D tensors come back as they are), PyTorch's x.t()."""
    if x.ndim > 2:
        raise ValueError(f"t: expects a tensor with at most 2 axes, got shape "
                         f"{fmt_shape(x.shape)}; use transpose(dim0, dim1) or mT")
    return transpose(x) if x.ndim == 2 else x


def matrix_transpose(x):
    """The last two axes swapped (PyTorch's x.mT)."""
    if x.ndim < 2:
        raise ValueError(f"mT: needs at least 2 axes, got shape {fmt_shape(x.shape)}")
    return transpose(x, -2, -1)


def flip(x, dims):
    """Reverse the order of elements along `dims` (an int or a sequence): a copy, as in
    PyTorch (numpy's flip is a view, and a write into it would change x)."""
    axes = common.normalize_axes("flip", dims, x.ndim)
    if not axes:
        return x.clone()
    index = tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(x.ndim))
    return GetItem.apply(x, index=index).clone()


def roll(x, shifts, dims=None):
    """Shift elements along `dims` circularly (None: of the flattened tensor, then back)."""
    if dims is None:
        if isinstance(shifts, (tuple, list)):
            raise ValueError("roll: several shifts need dims")
        return reshape(roll(reshape(x, -1), shifts, 0), x.shape)
    shifts = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    if len(shifts) != len(dims):
        raise ValueError(f"roll: shifts {shifts} and dims {dims} need the same length")
    out = x
    for shift, dim in zip(shifts, dims):
        if not isinstance(shift, (int, np.integer)) or isinstance(shift, bool):
            raise TypeError(f"roll: shifts must be ints, got {shift!r}")
        axis = common.normalize_axis("roll", dim, x.ndim)
        n = x.shape[axis] if x.ndim else 1
        if n == 0 or int(shift) % n == 0:
            continue
        k = int(shift) % n
        lead = (slice(None),) * axis
        out = cat([getitem(out, lead + (slice(n - k, None),)),
                   getitem(out, lead + (slice(0, n - k),))], axis)
    return out if out is not x else (x * 1 if x.dtype != np.bool_ else x.detach())


def repeat(x, *sizes):
    """PyTorch's x.repeat(*sizes): tile the tensor sizes[i] times along each axis (sizes
    may add leading axes). A broadcast (expand) and a reshape: no copy until needed."""
    sizes = _shape_args("repeat", sizes)
    if len(sizes) < x.ndim:
        raise ValueError(f"repeat: {len(sizes)} repeat counts for a tensor with {x.ndim} "
                         f"axes; give at least one per axis")
    if any(n < 0 for n in sizes):
        raise ValueError(f"repeat: counts must be >= 0, got {sizes}")
    shape = (1,) * (len(sizes) - x.ndim) + x.shape
    x = reshape(x, shape)
    interleaved = []
    for n in shape:
        interleaved += [1, n]
    expanded = []
    for r, n in zip(sizes, shape):
        expanded += [r, n]
    y = expand(reshape(x, tuple(interleaved)), *expanded)
    out = reshape(y, tuple(r * n for r, n in zip(sizes, shape)))
    # PyTorch's repeat always copies; with every count 1 the reshape is a view of x
    return out.clone() if may_share_storage(out._buf, x._buf) else out


def tile(x, *reps):
    """numpy/PyTorch tile: like repeat, but fewer counts than axes repeat the last axes."""
    reps = _shape_args("tile", reps)
    reps = (1,) * (x.ndim - len(reps)) + reps
    return repeat(x, *reps)


def narrow(x, dim, start, length):
    """The slice start:start+length along `dim` (a view)."""
    axis = _axis_of("narrow", x, dim)
    n = x.shape[axis]
    for name, v in (("start", start), ("length", length)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            raise TypeError(f"narrow: {name} must be an int, got {v!r}")
    start = int(start) + n if start < 0 else int(start)
    if not 0 <= start <= n or length < 0 or start + length > n:
        raise IndexError(f"narrow: start {start} and length {length} do not fit in axis "
                         f"{axis} of size {n}")
    return getitem(x, (slice(None),) * axis + (slice(start, start + int(length)),))


def split(x, split_size_or_sections, dim=0):
    """Pieces along `dim`: an int gives pieces of that size (the last may be shorter), a
    list gives pieces of those sizes (they must add up to the axis length)."""
    axis = _axis_of("split", x, dim)
    n = x.shape[axis]
    sizes = split_size_or_sections
    if isinstance(sizes, (int, np.integer)) and not isinstance(sizes, bool):
        if sizes <= 0:
            raise ValueError(f"split: the piece size must be positive, got {sizes}")
        sizes = [int(sizes)] * (n // sizes) + ([n % sizes] if n % sizes else [])
        if not sizes:
            sizes = [0]
    else:
        sizes = [int(s) for s in sizes]
        if any(s < 0 for s in sizes) or builtins_sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} must be >= 0 and add up to {n}, the "
                             f"length of axis {axis}")
    pieces, start = [], 0
    for size in sizes:
        pieces.append(narrow(x, axis, start, size))
        start += size
    return tuple(pieces)


def chunk(x, chunks, dim=0):
    """Split into `chunks` pieces of ceil(n / chunks) along `dim` (maybe fewer pieces)."""
    if not isinstance(chunks, (int, np.integer)) or isinstance(chunks, bool) or chunks <= 0:
        raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
    axis = _axis_of("chunk", x, dim)
    n = x.shape[axis]
    size = -(-n // int(chunks)) if n else 0
    if size == 0:
        return tuple(narrow(x, axis, 0, 0) for _ in range(int(chunks)))
    return split(x, size, axis)


def unbind(x, dim=0):
    """The slices along `dim`, that axis removed."""
    axis = _axis_of("unbind", x, dim)
    lead = (slice(None),) * axis
    return tuple(getitem(x, lead + (i,)) for i in range(x.shape[axis]))


def unflatten(x, dim, sizes):
    """Split axis `dim` into `sizes` (one entry may be -1)."""
    axis = common.normalize_axis("unflatten", dim, x.ndim)
    sizes = _shape_args("unflatten", (sizes,))
    if not sizes:
        raise ValueError("unflatten: sizes must not be empty")
    return reshape(x, x.shape[:axis] + sizes + x.shape[axis + 1:]) if -1 not in sizes \
        else _unflatten_inferred(x, axis, sizes)


def _unflatten_inferred(x, axis, sizes):
    known = int(np.prod([s for s in sizes if s != -1]))
    n = x.shape[axis]
    if sizes.count(-1) > 1 or known == 0 or n % known:
        raise ValueError(f"unflatten: cannot split axis {axis} of size {n} into {sizes}")
    sizes = tuple(n // known if s == -1 else s for s in sizes)
    return reshape(x, x.shape[:axis] + sizes + x.shape[axis + 1:])


def _triangle(op, x, diagonal, lower):
    if x.ndim < 2:
        raise ValueError(f"{op}: needs at least 2 axes, got shape {fmt_shape(x.shape)}")
    if not isinstance(diagonal, (int, np.integer)) or isinstance(diagonal, bool):
        raise TypeError(f"{op}: diagonal must be an int, got {diagonal!r}")
    rows, cols = x.shape[-2:]
    make = np.tri(rows, cols, int(diagonal), dtype=np.bool_) if lower else \
        ~np.tri(rows, cols, int(diagonal) - 1, dtype=np.bool_)
    keep = creation.tensor(make, device=x.device)
    zero = x._wrap(x._backend.full((), 0, x.dtype), x._backend)
    return elementwise.where(keep, x, zero)


def tril(x, diagonal=0):
    """The lower triangle of the last two axes (entries above `diagonal` set to 0)."""
    return _triangle("tril", x, diagonal, True)


def triu(x, diagonal=0):
    """The upper triangle of the last two axes (entries below `diagonal` set to 0)."""
    return _triangle("triu", x, diagonal, False)


def sort(x, dim=-1, descending=False, stable=True):
    """(values, indices) sorted along `dim`; equal elements keep their order (stable),
    nan sorts as the largest value (PyTorch's order).

    The order is found on the host (numpy's stable sort; OpenCL tensors are read back
    once); the values are then a gather, so the gradient flows back to where each
    value came from.
    """
    from vecgrad.ops.reduce import ValuesIndices

    if x.ndim == 0:
        common.normalize_axes("sort", dim, 0)
        return ValuesIndices(x * 1, creation.zeros((), dtype=np.int64, device=x.device))
    axis = common.normalize_axis("sort", dim, x.ndim)
    host = x.numpy()
    if descending:  # stable descending: sort the reversed axis, reverse, map positions back
        n = host.shape[axis]
        order = np.flip(np.argsort(np.flip(host, axis), axis=axis, kind="stable"), axis)
        order = n - 1 - order
    else:
        order = np.argsort(host, axis=axis, kind="stable")
    indices = creation.tensor(np.ascontiguousarray(order, dtype=np.int64), device=x.device)
    values = Gather.apply(x, indices, axis=axis) if x.shape[axis] else x * 1
    return ValuesIndices(values, indices)


def argsort(x, dim=-1, descending=False, stable=True):
    """The indices that sort x along `dim` (see sort)."""
    return sort(x, dim, descending, stable).indices


def topk(x, k, dim=-1, largest=True, sorted=True):  # noqa: A002 - PyTorch's name
    """(values, indices) of the k largest (largest=False: smallest) along `dim`, best
    first; ties keep their order."""
    from vecgrad.ops.reduce import ValuesIndices

    axis = common.normalize_axis("topk", dim, x.ndim) if x.ndim else 0
    n = x.shape[axis] if x.ndim else 1
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 0 <= k <= n:
        raise ValueError(f"topk: k must be an int in [0, {n}] for axis {axis} of size {n}, "
                         f"got {k!r}")
    values, indices = sort(x, dim, descending=largest)
    if x.ndim == 0:
        return ValuesIndices(values, indices)
    return ValuesIndices(narrow(values, axis, 0, int(k)), narrow(indices, axis, 0, int(k)))


# ----------------------------------------------------------------- writes (setitem)
def _is_basic(index):
    return not any(isinstance(e, np.ndarray) for e in index)


def _write(be, out, index, value, target_shape):
    """out[index] = value in place (value broadcasts to target_shape = out[index].shape)."""
    if _is_basic(index):  # a view of out: write through it
        be.assign(be.getitem(out, index), value)
        return
    # Advanced index (positions were checked to be distinct): scatter the values into
    # zeros, then pick them where a one scattered alongside landed.
    hits = be.index_add(out.shape, index, be.full(target_shape, 1, np.float32))
    scattered = be.index_add(out.shape, index, be.expand(value, target_shape))
    be.assign(out, be.where(be.compare("ne", hits, be.full((), 0, np.float32)), scattered, out))


class SetItem(Function):
    """x with x[index] = value (value broadcast to x[index]'s shape): index_put.

    The gradient of x is the incoming one with the written places zeroed; the value's is
    the incoming one read at index, summed over the axes the value was broadcast along.
    """

    @staticmethod
    def forward(ctx, x, value, *, index, target_shape):
        be = ctx.backend
        ctx.attrs = (x.shape, value.shape, index, target_shape)
        out = be.copy(x)
        _write(be, out, index, value, target_shape)
        return out

    @staticmethod
    def backward(ctx, grad):
        shape, value_shape, index, target_shape = ctx.attrs
        be = ctx.backend
        gx = gv = None
        if ctx.needs_input_grad[0]:
            zero = be.full((), 0, grad.dtype)
            hits = be.index_add(shape, index, be.full(target_shape, 1, grad.dtype))
            gx = be.where(be.compare("ne", hits, zero), zero, grad)
        if ctx.needs_input_grad[1]:
            gv = unbroadcast(be, be.getitem(grad, index), value_shape)
        return gx, gv


def setitem(x, index, value):
    """x[index] = value, in place, with numpy's indexing rules (PyTorch's semantics).

    value: a Tensor, number, list or array, broadcast to x[index]'s shape and cast to
    x's dtype. With gradients recorded (x or value requires grad) x becomes the output
    of a SetItem op: its gradient reaches the untouched part of the old x and the value.
    Graphs that saved the old x, or used it before the write, fail at backward with the
    in-place error instead of giving a wrong gradient.
    """
    from vecgrad import autograd  # (at call time: autograd imports nothing from ops)

    index = normalize_index(x, index)
    try:
        target_shape = np.broadcast_to(np.zeros((), np.uint8), x.shape)[index].shape
    except (IndexError, ValueError) as exc:
        raise IndexError(f"setitem: invalid index for a tensor of shape {fmt_shape(x.shape)}: "
                         f"{exc}") from None
    if not common.is_tensor(value):
        if isinstance(value, (list, tuple, np.ndarray)):
            value = common.to_operand("setitem", value, x)
        else:
            value = common.constant(common.written_number(value, x.dtype), x.dtype,
                                    x._backend, "setitem")
    common.check_same_device("setitem", x, value)
    extra = value.ndim - len(target_shape)
    if extra > 0 and all(n == 1 for n in value.shape[:extra]):  # PyTorch drops leading 1s
        value = reshape(value, value.shape[extra:])
    try:
        fits = np.broadcast_shapes(value.shape, target_shape) == target_shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"setitem: a value of shape {fmt_shape(value.shape)} cannot be "
                         f"assigned to x[index] of shape {fmt_shape(target_shape)}")
    if not _is_basic(index):
        targets = np.arange(x.numel(), dtype=np.int64).reshape(x.shape)[index]
        if np.unique(targets).size != targets.size:
            raise IndexError("setitem: the index selects some elements more than once, so "
                             "which value lands there is ambiguous; use distinct indices")
    if x.numel() and any(n > 1 and st == 0 for n, st in zip(x._buf.shape, x._buf.strides)):
        raise RuntimeError(f"setitem: this tensor of shape {fmt_shape(x.shape)} is a broadcast "
                           f"view (expand) whose elements share memory; write into a copy")
    value = common.cast(value, x.dtype)
    if autograd.may_share_storage(value._buf, x._buf):  # x[1:] = x[:-1]: read all first
        flat = reshape(value, value.numel())
        value = reshape(Cat.apply(flat, axis=0), value.shape)  # a copy (with its gradient)
    if not (autograd.is_grad_enabled() and (x.requires_grad or value.requires_grad)):
        _write(x._backend, x._buf, index, value._buf, target_shape)  # no graph: in place
        x._version[0] += 1
        return x
    if x.is_leaf and x.requires_grad:
        raise RuntimeError("setitem: a leaf tensor that requires grad cannot be changed in "
                           "place (its gradient would lose the overwritten values); write "
                           "under vecgrad.no_grad(), or into x.clone()")
    node = x._node
    if node is not None and any(autograd.may_share_storage(x._buf, t._buf)
                                for t in node.inputs):
        raise RuntimeError(f"setitem: this tensor is a view made by {node.name} of another "
                           f"tensor in the graph; write into that tensor, or into a copy")
    base = x._view_base() if x._view_base is not None else None
    if base is not None and autograd.may_share_storage(x._buf, base._buf):
        # The recorded write goes into a copy (below), so the tensor x views would
        # silently keep its old values: v = h[1:]; v[0] = w left h unchanged.
        raise RuntimeError(f"setitem: this tensor of shape {fmt_shape(x.shape)} views the "
                           f"memory of another tensor (of shape {fmt_shape(base.shape)}), and a "
                           f"value that requires grad cannot be written through a view; "
                           f"index that tensor itself (h[1:][0] = w -> h[1] = w)")
    # x becomes SetItem(old x, value). The old x keeps its buffer unchanged (ops that
    # saved it, or their own output, still hold the values they saw); the version bump
    # makes every graph that used x before the write refuse to backpropagate through it.
    old = type(x)._wrap(x._buf, x._backend, node)
    old._requires_grad = x._requires_grad
    old._version = x._version
    new = SetItem.apply(old, value, index=index, target_shape=target_shape)
    x._version[0] += 1
    if node is not None and node.output_counter is x._version:
        node.output_version += 1  # (SetItem wrote into a copy: the old buffer is unchanged)
    x._buf, x._node, x._requires_grad = new._buf, new._node, True
    x._version = new._version if new._version is not old._version else [0]
    x._view_base = None  # (its own memory now)
    return x


def masked_fill(x, mask, value):
    """x with value wherever the bool mask (broadcast to x's shape) is True (not in place)."""
    if not common.is_tensor(mask) or mask.dtype != np.bool_:
        got = mask.dtype if common.is_tensor(mask) else type(mask).__name__
        raise TypeError(f"masked_fill: mask must be a bool Tensor, got {got}")
    common.check_same_device("masked_fill", x, mask)
    if common.broadcast_shape("masked_fill", x.shape, mask.shape) != x.shape:
        raise ValueError(f"masked_fill: a mask of shape {fmt_shape(mask.shape)} does not "
                         f"broadcast to the tensor's shape {fmt_shape(x.shape)}")
    if common.is_tensor(value):
        if value.ndim:
            raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got shape "
                             f"{fmt_shape(value.shape)}")
        common.check_same_device("masked_fill", x, value)  # (else `where` would be named)
        value = common.cast(value, x.dtype)
    else:
        value = common.constant(common.written_number(value, x.dtype), x.dtype,
                                x._backend, "masked_fill")
    from vecgrad.ops import elementwise
    return elementwise.where(mask, value, x)
