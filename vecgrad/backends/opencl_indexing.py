"""Indexing primitives of the OpenCL backend that need kernels/indexing.cl: advanced
getitem and index_add, gather (take_along_axis) and scatter_add. Basic indexing is a
view and stays in the backend.

Index arrays of getitem/index_add live on the host (the contract says so), so the
element offsets they select are computed on the host with numpy's own indexing rules
and uploaded once; the data itself never leaves the device.
"""

from __future__ import annotations

import math

import numpy as np

from vecgrad.backends.opencl_array import checked_int32 as _i32
from vecgrad.backends.opencl_array import selected_offsets


def advanced_getitem(backend, x, index):
    """x[index] for an index holding arrays: a device gather of host-chosen offsets."""
    offsets = selected_offsets(x.shape, x.strides, x.offset, index)
    out = backend._new(offsets.shape, x.dtype)
    if out.size:
        _i32(int(offsets.max(initial=0)))
        dev_offsets = backend._upload_int32(offsets)
        knl = backend.runtime.kernel("indexing", "take_flat", x.dtype)
        backend.runtime.launch_1d(knl, out.size, _i32(out.size), out.data, dev_offsets,
                                  x.data)
    return out


def advanced_index_add(backend, out, index, src):
    """Add src into the zero buffer `out` at out[index]; repeated targets accumulate.

    The flat targets are sorted on the host, so each work-item sums one segment of
    equal targets: deterministic, and no atomics.
    """
    targets = selected_offsets(out.shape, out.strides, 0, index)
    src = backend._contiguous(backend.expand(src, targets.shape))
    flat = targets.ravel()
    if flat.size == 0:
        return out
    order = np.argsort(flat, kind="stable")
    unique, starts = np.unique(flat[order], return_index=True)
    starts = np.append(starts, flat.size)
    segments = [backend._upload_int32(a) for a in (unique, starts, order)]
    if src.offset:
        src = backend.copy(src)
    knl = backend.runtime.kernel("indexing", "segment_sum", src.dtype)
    backend.runtime.launch_1d(knl, unique.size, _i32(unique.size), out.data, *segments,
                              src.data)
    return out


def _along_axis_views(backend, axis, *arrays):
    """Contiguous copies of arrays broadcast on every axis except `axis`."""
    others = [tuple(s for d, s in enumerate(a.shape) if d != axis) for a in arrays]
    common = tuple(np.broadcast_shapes(*others))
    views = []
    for a in arrays:
        target = common[:axis] + (a.shape[axis],) + common[axis:]
        views.append(backend._contiguous(backend.expand(a, target)))
    return views, math.prod(common[:axis]), math.prod(common[axis:])


def gather(backend, x, axis, index):
    """numpy.take_along_axis(x, index, axis)."""
    if index.dtype != np.int64:
        index = backend.astype(index, np.int64)
    (xs, idx), pre, post = _along_axis_views(backend, axis, x, index)
    out = backend._new(idx.shape, x.dtype)
    knl = backend.runtime.kernel("indexing", "take_along_axis", x.dtype)
    backend.runtime.launch_1d(knl, out.size, _i32(pre), _i32(xs.shape[axis]),
                              _i32(idx.shape[axis]), _i32(post), out.data, xs.data,
                              _i32(xs.offset), idx.data, _i32(idx.offset))
    return out


def scatter_add(backend, shape, axis, index, src):
    """zeros(shape) with src added along `axis` at `index` (the adjoint of gather)."""
    if index.dtype != np.int64:
        index = backend.astype(index, np.int64)
    idx = backend._contiguous(index)
    vals = backend._contiguous(backend.expand(src, idx.shape))
    out = backend._new(shape, src.dtype)
    knl = backend.runtime.kernel("indexing", "scatter_add_along_axis", src.dtype)
    backend.runtime.launch_1d(knl, out.size, _i32(math.prod(shape[:axis])),
                              _i32(shape[axis]), _i32(idx.shape[axis]),
                              _i32(math.prod(shape[axis + 1:])), out.data, idx.data,
                              _i32(idx.offset), vals.data, _i32(vals.offset))
    return out
