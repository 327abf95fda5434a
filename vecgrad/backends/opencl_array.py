"""The OpenCL backend's buffer: a strided view of a pooled device allocation.

Strides and the offset count elements (not bytes), so permute, expand, reshape of a
contiguous array and basic slicing are views that share the allocation; every kernel
takes strides, so views are read without a copy.
"""

from __future__ import annotations

import math

import numpy as np


def contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Row-major element strides of `shape`."""
    strides = []
    step = 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    return tuple(reversed(strides))


class CLArray:
    """A device array: `data` (pooled cl buffer), `shape`, `dtype`, element `strides`
    and `offset`. Created by OpenCLBackend; read it back with `backend.to_numpy`."""

    __slots__ = ("data", "shape", "dtype", "strides", "offset", "device", "__weakref__")

    def __init__(self, data, shape, dtype, strides=None, offset=0, device="opencl"):
        self.data = data
        self.shape = tuple(map(int, shape))  # (map: half the cost of a generator here)
        self.dtype = np.dtype(dtype)
        self.strides = (contiguous_strides(self.shape) if strides is None
                        else tuple(map(int, strides)))
        self.offset = int(offset)
        self.device = device

    @classmethod
    def trusted(cls, data, shape, dtype, strides, offset, device) -> "CLArray":
        """A CLArray from values already normalized: shape and strides tuples of int,
        dtype an np.dtype, offset an int. Every op makes one, so the backend's hot
        paths skip __init__'s conversions (a third of the cost of a tiny op's output)."""
        arr = object.__new__(cls)
        arr.data = data
        arr.shape = shape
        arr.dtype = dtype
        arr.strides = strides
        arr.offset = offset
        arr.device = device
        return arr

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d OpenCL array")
        return self.shape[0]

    @property
    def is_contiguous(self) -> bool:
        """Row-major contiguous (size-1 axes may carry any stride)."""
        expected = 1
        for size, stride in zip(reversed(self.shape), reversed(self.strides)):
            if size != 1 and stride != expected:
                return False
            expected *= size
        return True

    def view(self, shape, strides, offset) -> "CLArray":
        """Another view of the same allocation."""
        return CLArray(self.data, shape, self.dtype, strides, offset, self.device)

    def __repr__(self) -> str:
        layout = "contiguous" if self.is_contiguous else f"strides={self.strides}"
        return f"CLArray(shape={self.shape}, dtype={self.dtype}, {layout}, device={self.device!r})"


MAX_KERNEL_DIMS = 8


class TooManyAxes(ValueError):
    """A layout with more unmergeable axes than the kernels' int8 shapes hold; the
    backend then launches it in slices (OpenCLBackend._elementwise_in_slices)."""


def checked_int32(value: int) -> int:
    """`value` if the kernels' 32-bit indexing can hold it, else a clear error."""
    if not -(2**31) <= value < 2**31:
        raise ValueError(f"size {value} exceeds the 32-bit indexing of the OpenCL kernels")
    return value


def collapse_dims(shape, strides_list):
    """Merge axes that every operand walks contiguously and drop size-1 axes.

    Returns (shape, [strides per operand]) with at most MAX_KERNEL_DIMS axes, so a
    contiguous elementwise op becomes a flat 1-d loop.
    """
    dims = [(size, [st[i] for st in strides_list]) for i, size in enumerate(shape) if size != 1]
    if not dims:
        return (1,), [(0,) for _ in strides_list]
    merged = [dims[0]]
    for size, strides in dims[1:]:
        prev_size, prev_strides = merged[-1]
        if all(ps == s * size for ps, s in zip(prev_strides, strides)):
            merged[-1] = (prev_size * size, strides)
        else:
            merged.append((size, strides))
    if len(merged) > MAX_KERNEL_DIMS:
        raise TooManyAxes(
            f"OpenCL kernels take at most {MAX_KERNEL_DIMS} non-mergeable axes; "
            f"shape {tuple(shape)} has {len(merged)}"
        )
    out_shape = tuple(size for size, _ in merged)
    out_strides = [tuple(strides[k] for _, strides in merged) for k in range(len(strides_list))]
    return out_shape, out_strides


def expanded_strides(shape, strides, target) -> tuple[int, ...]:
    """Strides of numpy.broadcast_to(array, target): 0 on new and stretched axes."""
    lead = len(target) - len(shape)
    out = [0] * lead
    for size, stride, want in zip(shape, strides, target[lead:]):
        out.append(stride if size == want else 0)
    return tuple(out)


def basic_index_view(shape, strides, offset, index):
    """(shape, strides, offset) of x[index] for an index of slices, ints, None, Ellipsis."""
    if sum(1 for item in index if item is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = sum(1 for item in index if item is not None and item is not Ellipsis)
    if used > len(shape):
        raise IndexError(f"too many indices for an array of shape {tuple(shape)}")
    new_shape, new_strides = [], []
    dim = 0
    for item in index:
        if item is None:
            new_shape.append(1)
            new_strides.append(0)
        elif item is Ellipsis:
            for _ in range(len(shape) - used):
                new_shape.append(shape[dim])
                new_strides.append(strides[dim])
                dim += 1
        elif isinstance(item, slice):
            start, stop, step = item.indices(shape[dim])
            length = len(range(start, stop, step))
            if length > 0:
                offset += start * strides[dim]
            new_shape.append(length)
            new_strides.append(strides[dim] * step)
            dim += 1
        else:
            pos = int(item)
            size = shape[dim]
            if not -size <= pos < size:
                raise IndexError(f"index {pos} is out of bounds for axis {dim} with size {size}")
            offset += (pos + size if pos < 0 else pos) * strides[dim]
            dim += 1
    new_shape.extend(shape[dim:])
    new_strides.extend(strides[dim:])
    return tuple(new_shape), tuple(new_strides), offset


def is_basic_index(index) -> bool:
    """True when the index has no arrays (numpy basic indexing: a view).

    A bare True/False is advanced indexing in numpy (a new axis of length 1 or 0).
    """
    return all(item is None or item is Ellipsis or isinstance(item, slice)
               or (isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_)))
               for item in index)


def selected_offsets(shape, strides, offset, index) -> np.ndarray:
    """Host int64 array of the buffer offsets of the elements that numpy's x[index]
    selects from a view (shape, strides, offset), with numpy's own indexing rules.

    Only the selected offsets are made: each axis' offsets are a broadcast (zero-stride)
    view indexed on its own, so an index into an expanded or very large view costs
    memory in proportion to the result, not to the view (x.expand(10**5, 10**5)[[0]]
    once built every offset of the view on the host: 80 GB).
    """
    shape = tuple(shape)
    out = np.broadcast_to(np.int64(offset), shape)[index].astype(np.int64)
    for axis, (size, stride) in enumerate(zip(shape, strides)):
        if stride == 0 or size == 1:
            continue
        along = np.arange(size, dtype=np.int64) * stride
        axis_view = np.broadcast_to(along.reshape((size,) + (1,) * (len(shape) - axis - 1)),
                                    shape)
        out = out + axis_view[index]
    return np.asarray(out)
