"""The OpenCL backend: every primitive of backends/base.py as a kernel from kernels/.

Buffers are CLArray views of pooled device allocations. Work is queued on one in-order
queue per device and never waited for, except where data must reach the host
(to_numpy, and host-side index arithmetic for advanced indexing), so a forward pass,
its backward pass and the optimizer step run without host round trips.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple, Sequence

import numpy as np

from vecgrad.backends.base import Backend
from vecgrad.backends import opencl_indexing
from vecgrad.backends.opencl_array import (
    CLArray,
    TooManyAxes,
    basic_index_view,
    checked_int32,
    collapse_dims,
    contiguous_strides,
    expanded_strides,
    is_basic_index,
)
from vecgrad.backends.opencl_runtime import OpenCLError, Runtime, error_name, frozen_defines
from vecgrad.backends.opencl_runtime import list_devices as _list_device_infos
from vecgrad.backends.primitives import (
    ARG_REDUCE_OPS,
    BINARY_OPS,
    COMPARE_OPS,
    REDUCE_OPS,
    UNARY_OPS,
)

# Kernel name suffix of each dtype for cast_to_<name> in elementwise.cl.
_CAST_NAMES = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64",
               np.dtype(np.int64): "int64", np.dtype(np.bool_): "bool"}

# Matmul tiles (kernels/matmul.cl defines), chosen per device type. The CPU tiles
# were tuned on PoCL (python -m vecgrad.bench.opencl; TK=128 and two 8-wide vectors
# per row were the steps that mattered); vectors stay 256 bits wide there because
# PoCL 3.0's LLVM 14 aborts on some 512-bit vector code. The GPU tiles are the classic
# 64x64 tile with a 4x4 register block per work-item (256 work-items), within every
# GPU's limits; they are checked for correctness on PoCL but were not timed on a GPU.
MATMUL_TILES = {
    ("CPU", 4): {"TM": 64, "TN": 128, "TK": 128, "WM": 8, "WN": 16, "VW": 8},
    ("CPU", 8): {"TM": 64, "TN": 64, "TK": 64, "WM": 8, "WN": 8, "VW": 4},
    ("GPU", 4): {"TM": 64, "TN": 64, "TK": 16, "WM": 4, "WN": 4, "PAD_A": 1},
    ("GPU", 8): {"TM": 64, "TN": 64, "TK": 16, "WM": 4, "WN": 4, "PAD_A": 1},
    "small": {"TM": 16, "TN": 16, "TK": 16, "WM": 2, "WN": 2},
}

# Which kernels (family, name) implement each primitive of vecgrad/backends/primitives.py;
# "{op}" stands for every op name of that primitive. Movement views and host transfers
# need no kernel of their own (they are strides, or enqueue_copy) but copy when asked
# for a layout a view cannot give. tests/test_registry.py checks this table against
# primitives.py and against the built programs.
KERNELS_OF_PRIMITIVE = {
    "unary": [("elementwise", "unary_{op}")],
    "binary": [("elementwise", "binary_{op}")],
    "compare": [("elementwise", "compare_{op}")],
    "reduce": [("reduce", "reduce_{op}_mid"), ("reduce", "reduce_{op}_rows"),
               ("reduce", "reduce_count_mid")],
    "arg_reduce": [("reduce", "argreduce_{op}_mid")],
    "from_numpy": [],
    "to_numpy": [("elementwise", "copy")],
    "full": [("elementwise", "fill")],
    "astype": [("elementwise", "cast_to_float32"), ("elementwise", "cast_to_int64"),
               ("elementwise", "cast_to_bool")],
    "copy": [("elementwise", "copy")],
    "axpy": [("elementwise", "axpy")],
    "assign": [("elementwise", "copy")],
    "where": [("elementwise", "where_select")],
    "activation": [("activations", "act_{name}")],
    "activation_derivative": [("activations", "dact_{name}")],
    "activation_backward": [("activations", "bact_{name}")],
    "reshape": [("elementwise", "copy")],
    "permute": [],
    "expand": [],
    "getitem": [("indexing", "take_flat")],
    "index_add": [("indexing", "segment_sum"), ("elementwise", "copy")],
    "gather": [("indexing", "take_along_axis")],
    "scatter_add": [("indexing", "scatter_add_along_axis")],
    "cat": [("elementwise", "copy")],
    "matmul": [("matmul", "matmul")],
    "im2col": [("conv2d", "im2col")],
    "col2im": [("conv2d", "col2im")],
    # the Backend class's compositions (base.py): the kernels of im2col/col2im and matmul
    "conv2d": [("conv2d", "im2col"), ("matmul", "matmul"), ("elementwise", "binary_add")],
    "conv2d_input_grad": [("matmul", "matmul"), ("conv2d", "col2im")],
    "conv2d_weight_grad": [("conv2d", "im2col"), ("matmul", "matmul"),
                           ("reduce", "reduce_sum_mid")],
    "conv2d_grads": [("matmul", "matmul"), ("conv2d", "col2im"), ("conv2d", "im2col"),
                     ("reduce", "reduce_sum_mid"), ("reduce", "reduce_sum_rows")],
    "max_pool_tiles": [("conv2d", "max_pool_tiles")],
    "max_pool_tiles_backward": [("conv2d", "max_pool_tiles_backward")],
    "softmax": [("softmax", "softmax_rows")],
    "log_softmax": [("softmax", "log_softmax_rows")],
    "cross_entropy": [("softmax", "cross_entropy_rows")],
    "cross_entropy_backward": [("softmax", "cross_entropy_backward_rows")],
    "fused_update": [("optim", "optim_sgd"), ("optim", "optim_momentum"),
                     ("optim", "optim_adagrad"), ("optim", "optim_rmsprop"),
                     ("optim", "optim_adam")],
    "fused_updates": [("optim", "optim_adam_slots"), ("optim", "optim_sgd"),
                      ("optim", "optim_momentum"), ("optim", "optim_adagrad"),
                      ("optim", "optim_rmsprop")],
    "synchronize": [],
}


# The layout variants of the elementwise programs (kernels/common.cl, STRIDED_NDIM).
# The 2-d range runs work-groups of one row segment, _LOCAL_2D_COLS wide: PoCL compiles
# a kernel once per work-group shape, and a shape taller than one row took 3-5x longer
# to compile (0.4-0.9 s per kernel) for no faster run. Rows narrower than _MIN_2D_COLS
# would leave most of such a group idle; they take the general program instead.
_DEFINES_1D = {"STRIDED_NDIM": 1}
_DEFINES_2D = {"STRIDED_NDIM": 2}
_LOCAL_2D_COLS = 64
_MIN_2D_COLS = 32


def _layout_variant(shape) -> tuple[dict | None, bool]:
    """(build defines, whether to launch a 2-d range) for a collapsed layout `shape`:
    0 or 1 axis (a scalar; contiguous, scalar broadcast) and 2 axes (row/column
    broadcast, transpose) index without divisions; anything else takes the general
    program (None). Scalars take the 1-d program too: a run whose int64 work is all
    1-d or 0-d (the accuracy counts) then builds no general int64 program."""
    if len(shape) <= 1:
        return _DEFINES_1D, False
    if len(shape) == 2 and shape[1] >= _MIN_2D_COLS:
        return _DEFINES_2D, True
    return None, False


def _range_2d(rt, cols: int, rows: int) -> tuple[tuple, tuple]:
    """(global, local) sizes of one work-item per element of a (rows, cols) layout:
    global id 0 is the column (PoCL vectorizes along it, padded to whole work-groups),
    1 the row."""
    local = min(_LOCAL_2D_COLS, rt.local_size_1d())
    return (-(-cols // local) * local, rows), (local, 1)


def _int8(values, fill: int) -> bytes:
    """Up to 8 ints padded to the 8 of an OpenCL int8 vector argument, as its 32 bytes
    (immutable, since cached layouts share them; pyopencl takes any buffer)."""
    return np.array(tuple(values) + (fill,) * (8 - len(values)), dtype=np.int32).tobytes()


class _Layout(NamedTuple):
    """How _elementwise launches one layout (out's shape, out's and each operand's
    strides), worked out once: collapse_dims, the int8 packing and the variant cost
    more than the launch itself on a tiny op, and training repeats a few layouts."""

    n: int                  # elements; 0 = nothing to launch
    head: tuple             # the first kernel arguments: n, ndim, padded shape
    strides: tuple          # packed int8 strides: out's, then each operand's
    defines: tuple | None   # frozen build defines of the layout variant
    global_size: tuple
    local_size: tuple


_EMPTY_LAYOUT = _Layout(0, (), (), None, (), ())

# Bounds of the per-backend memos (layouts, allocation shapes): a program that keeps
# making new shapes (property tests) restarts them instead of growing them forever.
_MAX_MEMO_ENTRIES = 4096


def _axis_slice(x: CLArray, axis: int, index: int) -> CLArray:
    """The view x[..., index, ...] taken at `axis` (no copy)."""
    return x.view(x.shape[:axis] + x.shape[axis + 1:], x.strides[:axis] + x.strides[axis + 1:],
                  x.offset + index * x.strides[axis])


def _i32(value) -> int:
    try:
        return checked_int32(value)
    except ValueError as exc:
        raise OpenCLError(str(exc)) from None


def _plain_errors(method):
    """Report pyopencl failures as OpenCLError naming the primitive and the device."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except self._rt.cl.Error as exc:
            raise OpenCLError(f"OpenCL {method.__name__} on {self.device}: "
                              f"{error_name(exc)}") from None

    return wrapper


class OpenCLBackend(Backend):
    """Primitives on one OpenCL device ("opencl" = best device, "opencl:P:D" explicit)."""

    def __init__(self, device: str = "opencl"):
        self._rt = Runtime(device)
        # The resolved "opencl:P:D", so "opencl" and its explicit name share one backend.
        self.device = self._rt.info.device_string
        self.supports_float64 = self._rt.info.fp64
        self._layouts: dict[tuple, _Layout] = {}   # see _elementwise
        self._matmul_plans: dict[tuple, tuple] = {}  # see opencl_linalg.matmul
        self._rt.bundle_variants["matmul"] = self._matmul_variants
        self._allocations: dict[tuple, tuple] = {}  # see _new

    def matmul_tiles(self, dtype) -> dict:
        """The matmul.cl tile defines for this device and element size."""
        kind = "GPU" if self._rt.is_gpu else "CPU"
        itemsize = np.dtype(dtype).itemsize
        tiles = MATMUL_TILES[(kind, itemsize)]
        work_items = (tiles["TN"] // tiles["WN"]) * (tiles["TM"] // tiles["WM"])
        local_bytes = tiles["TK"] * (tiles["TM"] + tiles.get("PAD_A", 0) + tiles["TN"]) * itemsize
        if (work_items > self._rt.max_work_group_size
                or local_bytes > self._rt.info.local_mem_bytes):
            tiles = MATMUL_TILES["small"]  # 64 work-items, 4 KiB of local memory
        return dict(tiles)

    def _matmul_variants(self, dtype):
        """matmul.cl's tile sets for a float dtype (opencl_linalg.tile_variants), built
        into that dtype's main program (Runtime.bundle_variants): a `vecgrad train`
        builds one program less (~45 ms)."""
        if np.dtype(dtype).kind != "f":
            return None
        from vecgrad.backends.opencl_linalg import tile_variants

        return tile_variants(self, dtype)

    @property
    def runtime(self) -> Runtime:
        """The device's context, queue and program cache (benchmarks and tests use it)."""
        return self._rt

    def __repr__(self) -> str:
        return f"OpenCLBackend({self.device!r}: {self._rt.info.name})"

    # ------------------------------------------------------------------ helpers
    def _new(self, shape, dtype) -> CLArray:
        """A contiguous array from the memory pool. Every op allocates its output, so
        each (shape, dtype) is checked and sized once, then looked up."""
        try:
            known = self._allocations.get((shape, dtype))
        except TypeError:  # an unhashable shape (a list): take the slow path
            known = None
        if known is None:
            known = self._plan_allocation(shape, dtype)
        shape, dtype, strides, nbytes = known
        # Large requests go through alloc's checks (device maximum, pool rounding).
        data = (self._rt.pool.allocate(nbytes) if nbytes <= self._rt.pool_threshold
                else self._rt.alloc(nbytes))
        return CLArray.trusted(data, shape, dtype, strides, 0, self.device)

    def _plan_allocation(self, shape, dtype) -> tuple:
        """(shape, dtype, strides, nbytes) of a new array, normalized and checked."""
        norm_shape, norm_dtype = tuple(map(int, shape)), np.dtype(dtype)
        self._rt.check_dtype(norm_dtype, "allocate")
        size = _i32(math.prod(norm_shape))
        known = (norm_shape, norm_dtype, contiguous_strides(norm_shape),
                 max(size * norm_dtype.itemsize, 1))
        if len(self._allocations) >= _MAX_MEMO_ENTRIES:
            self._allocations.clear()
        try:
            self._allocations[(shape, dtype)] = known
        except TypeError:  # an unhashable shape (a list) is simply not remembered
            pass
        return known

    def _expand_view(self, x: CLArray, shape) -> CLArray:
        shape = tuple(shape)
        if x.shape == shape:  # most operands already have the shape: no new view
            return x
        return x.view(shape, expanded_strides(x.shape, x.strides, shape), x.offset)

    def _elementwise(self, family, name, dtype, out: CLArray, operands, extra=()) -> CLArray:
        """Launch a strided elementwise kernel; operands already have out's shape."""
        key = (out.shape, out.strides, *[o.strides for o in operands])
        layout = self._layouts.get(key)
        if layout is None:
            try:
                layout = self._plan_layout(key)
            except TooManyAxes:
                return self._elementwise_in_slices(family, name, dtype, out, operands, extra)
        if not layout.n:
            return out
        knl = self._rt.kernel(family, name, dtype, layout.defines)
        # Offsets need no _i32 check: they lie inside an allocation _new has checked.
        args = [*layout.head, out.data, layout.strides[0], out.offset]
        for operand, packed in zip(operands, layout.strides[1:]):
            args += (operand.data, packed, operand.offset)
        knl(self._rt.queue, layout.global_size, layout.local_size, *args, *extra)
        return out

    def _elementwise_in_slices(self, family, name, dtype, out: CLArray, operands,
                               extra) -> CLArray:
        """A layout with more unmergeable axes than the kernels take (numpy allows 64):
        one launch per index of its shortest axis, each with one axis fewer. Rare
        (e.g. a 9-d permute), so the extra launches do not matter."""
        axis = min((d for d, size in enumerate(out.shape) if size > 1),
                   key=lambda d: out.shape[d])
        for index in range(out.shape[axis]):
            self._elementwise(family, name, dtype, _axis_slice(out, axis, index),
                              [_axis_slice(o, axis, index) for o in operands], extra)
        return out

    def _plan_layout(self, key: tuple) -> _Layout:
        """The _Layout of key = (shape, out strides, operand strides...), remembered."""
        shape, *strides_list = key
        n = _i32(math.prod(shape))
        if n == 0:
            layout = _EMPTY_LAYOUT
        else:
            collapsed, strides = collapse_dims(shape, strides_list)
            defines, two_d = _layout_variant(collapsed)
            if two_d:
                global_size, local_size = _range_2d(self._rt, collapsed[1], collapsed[0])
            else:
                global_size, local_size = self._rt.range_1d(n)
            # plain ints: pyopencl packs them ~2 us faster per argument than np.int32
            layout = _Layout(n, (n, len(collapsed), _int8(collapsed, 1)),
                             tuple(_int8(st, 0) for st in strides),
                             frozen_defines(defines), global_size, local_size)
        if len(self._layouts) >= _MAX_MEMO_ENTRIES:
            self._layouts.clear()
        self._layouts[key] = layout
        return layout

    def _upload_int32(self, host: np.ndarray):
        """A device copy of host-computed int32 indices (a raw buffer, not a CLArray)."""
        host = np.ascontiguousarray(host, dtype=np.int32)
        buf = self._rt.alloc(host.nbytes)
        if host.size:
            self._rt.upload(buf, host)
        return buf

    def _contiguous(self, x: CLArray) -> CLArray:
        return x if x.is_contiguous else self.copy(x)

    def _broadcast_shape(self, *shapes):
        if shapes.count(shapes[0]) == len(shapes):  # equal shapes: skip numpy (~2 us)
            return tuple(shapes[0])
        return tuple(np.broadcast_shapes(*shapes))

    def _require_kernel(self, family, name, dtype, what):
        # elementwise.cl and activations.cl run mostly in the 1-d layout: ask that program
        if not self._rt.has_kernel(family, name, dtype, _DEFINES_1D):
            raise OpenCLError(f"{what} is not defined for {np.dtype(dtype)} on OpenCL")

    # ------------------------------------------------------------ memory / host
    @_plain_errors
    def from_numpy(self, array: np.ndarray) -> CLArray:
        host = np.asarray(array)
        if not host.flags.c_contiguous:  # (ascontiguousarray would turn 0-d into 1-d)
            host = np.ascontiguousarray(host)
        out = self._new(host.shape, host.dtype)
        if host.size:
            self._rt.upload(out.data, host)
        return out

    @_plain_errors
    def to_numpy(self, buf: CLArray) -> np.ndarray:
        src = self._contiguous(buf)
        host = np.empty(src.shape, dtype=src.dtype)
        if host.size:
            self._rt.stats.reads += 1
            self._rt.cl.enqueue_copy(self._rt.queue, host, src.data,
                                     src_offset=src.offset * src.dtype.itemsize)
            self._rt.uploads_done()  # the blocking read waited for the whole queue
        return host

    @_plain_errors
    def full(self, shape, value, dtype) -> CLArray:
        dtype = np.dtype(dtype)
        out = self._new(tuple(shape), dtype)
        scalar = np.uint8(bool(value)) if dtype == np.bool_ else dtype.type(value)
        return self._elementwise("elementwise", "fill", dtype, out, [], [scalar])

    @_plain_errors
    def astype(self, buf: CLArray, dtype) -> CLArray:
        dtype = np.dtype(dtype)
        if dtype == buf.dtype:
            return self.copy(buf)
        if dtype not in _CAST_NAMES:
            raise OpenCLError(f"astype: cannot convert to {dtype} on OpenCL")
        out = self._new(buf.shape, dtype)
        return self._elementwise("elementwise", f"cast_to_{_CAST_NAMES[dtype]}", buf.dtype,
                                 out, [buf])

    @_plain_errors
    def copy(self, buf: CLArray) -> CLArray:
        out = self._new(buf.shape, buf.dtype)
        return self._elementwise("elementwise", "copy", buf.dtype, out, [buf])

    @_plain_errors
    def assign(self, dst: CLArray, src: CLArray) -> None:
        if src.shape != dst.shape:
            src = self._expand_view(src, dst.shape)
        self._elementwise("elementwise", "copy", dst.dtype, dst, [src])

    @_plain_errors
    def synchronize(self) -> None:
        self._rt.stats.waits += 1
        self._rt.queue.finish()
        self._rt.uploads_done()

    # -------------------------------------------------------------- elementwise
    @_plain_errors
    def unary(self, op: str, x: CLArray) -> CLArray:
        if op not in UNARY_OPS:
            raise OpenCLError(f"unknown unary op {op!r}; known: {', '.join(UNARY_OPS)}")
        self._require_kernel("elementwise", f"unary_{op}", x.dtype, f"unary {op!r}")
        return self._elementwise("elementwise", f"unary_{op}", x.dtype,
                                 self._new(x.shape, x.dtype), [x])

    @_plain_errors
    def binary(self, op: str, a: CLArray, b: CLArray, out: CLArray | None = None) -> CLArray:
        if op not in BINARY_OPS:
            raise OpenCLError(f"unknown binary op {op!r}; known: {', '.join(BINARY_OPS)}")
        self._require_kernel("elementwise", f"binary_{op}", a.dtype, f"binary {op!r}")
        shape = self._broadcast_shape(a.shape, b.shape)
        if out is None:
            out = self._new(shape, a.dtype)
        operands = [self._expand_view(a, out.shape), self._expand_view(b, out.shape)]
        return self._elementwise("elementwise", f"binary_{op}", a.dtype, out, operands)

    @_plain_errors
    def axpy(self, y: CLArray, x: CLArray, alpha: float) -> None:
        if y.dtype == np.bool_:  # no multiply on bools: y |= (alpha != 0) & x
            scaled = x if alpha else self.full(y.shape, False, np.bool_)
            self.binary("add", y, scaled, out=y)
            return
        self._elementwise("elementwise", "axpy", y.dtype, y, [self._expand_view(x, y.shape)],
                          [y.dtype.type(alpha)])

    @_plain_errors
    def compare(self, op: str, a: CLArray, b: CLArray) -> CLArray:
        if op not in COMPARE_OPS:
            raise OpenCLError(f"unknown comparison {op!r}; known: {', '.join(COMPARE_OPS)}")
        shape = self._broadcast_shape(a.shape, b.shape)
        out = self._new(shape, np.bool_)
        operands = [self._expand_view(a, shape), self._expand_view(b, shape)]
        return self._elementwise("elementwise", f"compare_{op}", a.dtype, out, operands)

    @_plain_errors
    def where(self, cond: CLArray, a: CLArray, b: CLArray) -> CLArray:
        shape = self._broadcast_shape(cond.shape, a.shape, b.shape)
        if cond.dtype != np.bool_:
            cond = self.astype(cond, np.bool_)
        out = self._new(shape, a.dtype)
        operands = [self._expand_view(v, shape) for v in (cond, a, b)]
        return self._elementwise("elementwise", "where_select", a.dtype, out, operands)

    def _activation(self, prefix: str, name: str, x: CLArray, alpha) -> CLArray:
        if x.dtype.kind != "f":
            raise OpenCLError(f"activation {name!r} needs a float tensor, got {x.dtype}")
        self._require_kernel("activations", f"{prefix}_{name}", x.dtype, f"activation {name!r}")
        value = x.dtype.type(0.0 if alpha is None else alpha)
        return self._elementwise("activations", f"{prefix}_{name}", x.dtype,
                                 self._new(x.shape, x.dtype), [x], [value])

    @_plain_errors
    def activation(self, name: str, x: CLArray, alpha: float | None) -> CLArray:
        return self._activation("act", name, x, alpha)

    @_plain_errors
    def activation_derivative(self, name: str, x: CLArray, alpha: float | None) -> CLArray:
        return self._activation("dact", name, x, alpha)

    @_plain_errors
    def activation_backward(self, name: str, x: CLArray, grad: CLArray,
                            alpha: float | None, out: CLArray | None = None) -> CLArray:
        # (out, grad's memory offered for the result, is not taken: a fresh buffer)
        if x.dtype.kind != "f":
            raise OpenCLError(f"activation {name!r} needs a float tensor, got {x.dtype}")
        self._require_kernel("activations", f"bact_{name}", x.dtype, f"activation {name!r}")
        value = x.dtype.type(0.0 if alpha is None else alpha)
        return self._elementwise("activations", f"bact_{name}", x.dtype,
                                 self._new(x.shape, x.dtype), [x, grad], [value])

    # --------------------------------------------------------------- reductions
    def _as_outer_r_inner(self, x: CLArray, axes: tuple[int, ...]):
        """A contiguous array and (outer, R, inner) with the reduced axes as R."""
        block = tuple(range(axes[0], axes[-1] + 1)) == tuple(axes)
        if not (x.is_contiguous and block):
            kept = tuple(d for d in range(x.ndim) if d not in axes)
            x = self.copy(self.permute(x, kept + tuple(axes)))
            axes = tuple(range(len(kept), x.ndim))
        outer = math.prod(x.shape[:axes[0]])
        reduced = math.prod(x.shape[axes[0]:axes[-1] + 1])
        inner = math.prod(x.shape[axes[-1] + 1:])
        return x, outer, reduced, inner

    @staticmethod
    def _reduced_shape(shape, axes, keepdims):
        if keepdims:
            return tuple(1 if d in axes else s for d, s in enumerate(shape))
        return tuple(s for d, s in enumerate(shape) if d not in axes)

    @_plain_errors
    def reduce(self, op: str, x: CLArray, axes: tuple[int, ...], keepdims: bool) -> CLArray:
        if op not in REDUCE_OPS:
            raise OpenCLError(f"unknown reduction {op!r}; known: {', '.join(REDUCE_OPS)}")
        axes = tuple(sorted(axes))
        out_shape = self._reduced_shape(x.shape, axes, keepdims)
        if op == "sum" and x.dtype == np.bool_:  # numpy counts booleans as int64
            counted = self._count_true(x, axes, out_shape)
            if counted is not None:
                return counted
            x = self.astype(x, np.int64)
        if any(x.shape[d] == 0 for d in axes):
            if op == "sum":
                return self.full(out_shape, 0, x.dtype)
            raise OpenCLError(f"reduce {op!r}: zero-size axis {axes} of shape {x.shape} "
                              "has no identity")
        out = self._new(out_shape, x.dtype)
        if out.size == 0:
            return out
        src, outer, reduced, inner = self._as_outer_r_inner(x, axes)
        rt = self._rt
        if inner == 1 and reduced >= 1024 and outer < 64:
            local = min(256, rt.max_work_group_size)
            knl = rt.kernel("reduce", f"reduce_{op}_rows", x.dtype)
            knl(rt.queue, (outer * local,), (local,), _i32(reduced), out.data, src.data,
                _i32(src.offset), rt.cl.LocalMemory(local * x.dtype.itemsize))
        else:
            knl = rt.kernel("reduce", f"reduce_{op}_mid", x.dtype)
            rt.launch_1d(knl, outer * inner, _i32(outer), _i32(reduced), _i32(inner),
                         out.data, src.data, _i32(src.offset))
        return out

    def _count_true(self, x: CLArray, axes, out_shape) -> CLArray | None:
        """The sum of booleans as int64 in one launch (reduce_count_mid), or None where
        the cast-and-sum path is better (long rows take reduce_sum_rows' tree)."""
        if any(x.shape[d] == 0 for d in axes) or math.prod(out_shape) == 0:
            return None
        src, outer, reduced, inner = self._as_outer_r_inner(x, axes)
        if inner == 1 and reduced >= 1024 and outer < 64:
            return None
        out = self._new(out_shape, np.int64)
        # (bool in, int64 out whatever T: taken from the float32 program, see reduce.cl)
        knl = self._rt.kernel("reduce", "reduce_count_mid", np.float32)
        self._rt.launch_1d(knl, outer * inner, _i32(outer), _i32(reduced), _i32(inner),
                           out.data, src.data, _i32(src.offset))
        return out

    @_plain_errors
    def arg_reduce(self, op: str, x: CLArray, axis: int, keepdims: bool) -> CLArray:
        if op not in ARG_REDUCE_OPS:
            raise OpenCLError(f"unknown arg reduction {op!r}; known: {', '.join(ARG_REDUCE_OPS)}")
        if x.shape[axis] == 0:
            raise OpenCLError(f"{op}: axis {axis} of shape {x.shape} is empty")
        out = self._new(self._reduced_shape(x.shape, (axis,), keepdims), np.int64)
        if out.size == 0:
            return out
        src, outer, reduced, inner = self._as_outer_r_inner(x, (axis,))
        knl = self._rt.kernel("reduce", f"argreduce_{op}_mid", x.dtype)
        self._rt.launch_1d(knl, outer * inner, _i32(outer), _i32(reduced), _i32(inner),
                           out.data, src.data, _i32(src.offset))
        return out

    # ----------------------------------------------------------------- movement
    @_plain_errors
    def reshape(self, x: CLArray, shape) -> CLArray:
        shape = tuple(shape)
        src = self._contiguous(x)
        return src.view(shape, contiguous_strides(shape), src.offset)

    @_plain_errors
    def permute(self, x: CLArray, axes) -> CLArray:
        return x.view(tuple(x.shape[a] for a in axes), tuple(x.strides[a] for a in axes),
                      x.offset)

    @_plain_errors
    def expand(self, x: CLArray, shape) -> CLArray:
        return self._expand_view(x, tuple(shape))

    @_plain_errors
    def getitem(self, x: CLArray, index) -> CLArray:
        index = index if isinstance(index, tuple) else (index,)
        if is_basic_index(index):
            return x.view(*basic_index_view(x.shape, x.strides, x.offset, index))
        return opencl_indexing.advanced_getitem(self, x, index)

    @_plain_errors
    def index_add(self, shape, index, src: CLArray) -> CLArray:
        shape = tuple(shape)
        index = index if isinstance(index, tuple) else (index,)
        out = self.full(shape, 0, src.dtype)
        if is_basic_index(index):  # a view: no element is hit twice
            self.assign(out.view(*basic_index_view(shape, out.strides, 0, index)), src)
            return out
        return opencl_indexing.advanced_index_add(self, out, index, src)

    @_plain_errors
    def gather(self, x: CLArray, axis: int, index: CLArray) -> CLArray:
        return opencl_indexing.gather(self, x, axis, index)

    @_plain_errors
    def scatter_add(self, shape, axis: int, index: CLArray, src: CLArray) -> CLArray:
        return opencl_indexing.scatter_add(self, tuple(shape), axis, index, src)

    @_plain_errors
    def cat(self, buffers: Sequence[CLArray], axis: int) -> CLArray:
        first = buffers[0]
        shape = list(first.shape)
        shape[axis] = sum(b.shape[axis] for b in buffers)
        out = self._new(tuple(shape), first.dtype)
        start = 0
        for b in buffers:
            part = out.view(b.shape, out.strides, start * out.strides[axis])
            self._elementwise("elementwise", "copy", out.dtype, part, [b])
            start += b.shape[axis]
        return out

    # ------------------------------------------------------------------- linalg
    @_plain_errors
    def matmul(self, a: CLArray, b: CLArray, transpose_a: bool = False,
               transpose_b: bool = False, bias: CLArray | None = None) -> CLArray:
        from vecgrad.backends.opencl_linalg import matmul

        return matmul(self, a, b, transpose_a, transpose_b, bias)

    # -------------------------------------------------------------- convolution
    @_plain_errors
    def im2col(self, x, kernel_size, stride, padding, dilation) -> CLArray:
        from vecgrad.backends.opencl_linalg import im2col

        return im2col(self, x, kernel_size, stride, padding, dilation)

    @_plain_errors
    def col2im(self, cols, input_shape, kernel_size, stride, padding, dilation) -> CLArray:
        from vecgrad.backends.opencl_linalg import col2im

        return col2im(self, cols, tuple(input_shape), kernel_size, stride, padding, dilation)

    # ------------------------------------------------------------------ pooling
    @_plain_errors
    def max_pool_tiles(self, x: CLArray, kernel_size) -> CLArray:
        """kernels/conv2d.cl's max_pool_tiles: one launch (base.py's rule, in order)."""
        kh, kw = (int(k) for k in kernel_size)
        n, c, h, w = x.shape
        oh, ow = h // kh, w // kw
        src = self._contiguous(x)
        out = self._new((n, c, oh, ow), x.dtype)
        if out.size:
            knl = self._rt.kernel("conv2d", "max_pool_tiles", x.dtype)
            self._rt.launch_1d(knl, out.size, *(_i32(v) for v in (n, c, h, w, kh, kw, oh, ow)),
                               out.data, src.data, _i32(src.offset))
        return out

    @_plain_errors
    def max_pool_tiles_backward(self, x: CLArray, out: CLArray, grad: CLArray,
                                kernel_size) -> CLArray:
        """kernels/conv2d.cl's max_pool_tiles_backward: one launch, the same bits as
        base.py's rule (first maximum, first nan, inf and nan gradients alike)."""
        if grad.dtype != x.dtype or out.dtype != x.dtype:
            return super().max_pool_tiles_backward(x, out, grad, kernel_size)
        kh, kw = (int(k) for k in kernel_size)
        n, c, h, w = x.shape
        oh, ow = h // kh, w // kw
        src, top, g = self._contiguous(x), self._contiguous(out), self._contiguous(grad)
        dx = self._new(x.shape, grad.dtype)
        if dx.size:
            knl = self._rt.kernel("conv2d", "max_pool_tiles_backward", x.dtype)
            self._rt.launch_1d(knl, dx.size, *(_i32(v) for v in (n, c, h, w, kh, kw, oh, ow)),
                               dx.data, src.data, _i32(src.offset), top.data, _i32(top.offset),
                               g.data, _i32(g.offset))
        return dx

    # ------------------------------------------------------------------ softmax
    def _row_local_size(self, length: int) -> int:
        """Work-group size of the one-group-per-row kernels of softmax.cl: a power of
        two, at most 256 and at most the row length rounded up to a power of two."""
        local = 1
        while local < min(length, 256, self._rt.max_work_group_size):
            local *= 2
        return local

    def _rowwise(self, name: str, x: CLArray, axis: int) -> CLArray:
        if x.dtype.kind != "f":
            raise OpenCLError(f"{name} needs a float tensor, got {x.dtype}")
        last = x.ndim - 1
        order = tuple(d for d in range(x.ndim) if d != axis) + (axis,)
        src = self._contiguous(self.permute(x, order) if axis != last else x)
        out = self._new(src.shape, x.dtype)
        length = src.shape[-1] if src.ndim else 1
        rows = out.size // max(length, 1)
        if out.size:
            rt = self._rt
            local = self._row_local_size(length)
            knl = rt.kernel("softmax", f"{name}_rows", x.dtype)
            knl(rt.queue, (rows * local,), (local,), _i32(length), out.data, src.data,
                _i32(src.offset), rt.cl.LocalMemory(local * x.dtype.itemsize))
        if axis == last:
            return out
        inverse = tuple(int(i) for i in np.argsort(order))
        return self.permute(out, inverse)

    @_plain_errors
    def softmax(self, x: CLArray, axis: int) -> CLArray:
        return self._rowwise("softmax", x, axis)

    @_plain_errors
    def log_softmax(self, x: CLArray, axis: int) -> CLArray:
        return self._rowwise("log_softmax", x, axis)

    @_plain_errors
    def cross_entropy(self, logits: CLArray, labels: CLArray,
                      scale: float = 1.0) -> tuple[CLArray, CLArray]:
        if logits.dtype.kind != "f":
            raise OpenCLError(f"cross_entropy needs a float tensor, got {logits.dtype}")
        src = self._contiguous(logits)
        rows, length = src.shape
        log_probs = self._new(src.shape, src.dtype)
        losses = self._new((rows,), src.dtype)
        if rows and length:
            rt = self._rt
            local = self._row_local_size(length)
            knl = rt.kernel("softmax", "cross_entropy_rows", src.dtype)
            knl(rt.queue, (rows * local,), (local,), _i32(length), log_probs.data, src.data,
                _i32(src.offset), losses.data, labels.data, _i32(labels.strides[0]),
                _i32(labels.offset), float(scale),
                rt.cl.LocalMemory(local * src.dtype.itemsize))
        return losses, log_probs

    @_plain_errors
    def cross_entropy_backward(self, log_probs: CLArray, labels: CLArray, grad: CLArray,
                               scale: float) -> CLArray:
        src = self._contiguous(log_probs)
        rows, length = src.shape
        out = self._new(src.shape, src.dtype)
        if out.size:
            grad_step = grad.strides[0] if grad.ndim else 0
            knl = self._rt.kernel("softmax", "cross_entropy_backward_rows", src.dtype)
            self._rt.launch_1d(knl, out.size, _i32(out.size), _i32(length), out.data,
                               src.data, _i32(src.offset), labels.data,
                               _i32(labels.strides[0]), _i32(labels.offset), grad.data,
                               _i32(grad_step), _i32(grad.offset), src.dtype.type(scale))
        return out

    # --------------------------------------------------------------- optimizers
    @_plain_errors
    def fused_updates(self, rule: str, params: Sequence[CLArray], grads: Sequence[CLArray],
                      states: Sequence[Sequence[CLArray]], hyper: dict) -> list[bool]:
        """Adam: one launch of optim_adam_slots per 8 parameters that fused_update would
        take (same checks; the buffers of different parameters must not overlap
        either, since their updates now run at once). Other rules: fused_update each."""
        if rule != "adam":
            return [self.fused_update(rule, p, g, s, hyper)
                    for p, g, s in zip(params, grads, states)]
        done = [False] * len(params)
        ready: dict[np.dtype, list] = {}
        scalars = None
        for index, (param, grad, state) in enumerate(zip(params, grads, states)):
            buffers = (param, grad, *state)
            if not self._fusable(rule, buffers, len(state)):
                continue
            if scalars is None:
                scalars = _optim_scalars(rule, hyper)
            if not _scalars_fit(scalars, param.dtype):
                continue
            ready.setdefault(param.dtype, []).append((index, buffers))
        for dtype, entries in ready.items():
            if _any_overlap([buf for _, buffers in entries for buf in buffers]):
                continue  # (e.g. two parameters viewing one storage): one by one instead
            knl = self._rt.kernel("optim", "optim_adam_slots", dtype)
            for chunk in _adam_chunks(entries):
                args, end = [], 0
                for _, buffers in chunk:
                    end += buffers[0].size
                    for buf in buffers:
                        args += [buf.data, _i32(buf.offset)]
                    args.append(_i32(end))
                args += args[-9:] * (_ADAM_SLOTS - len(chunk))  # unused: the last again
                if end:
                    self._rt.launch_1d(knl, end, *args, *scalars)
                for index, _ in chunk:
                    done[index] = True
        return done

    def _fusable(self, rule: str, buffers, state_count: int) -> bool:
        """Whether optim_<rule> can update these (param, grad, *state) buffers in place."""
        param = buffers[0]
        if _OPTIM_STATE_COUNT.get(rule) != state_count or param.dtype.kind != "f":
            return False
        for buf in buffers:
            if (not isinstance(buf, CLArray) or buf.dtype != param.dtype
                    or buf.shape != param.shape or not buf.is_contiguous):
                return False
        return not _any_overlap(buffers)

    @_plain_errors
    def fused_update(self, rule: str, param: CLArray, grad: CLArray,
                     state: Sequence[CLArray], hyper: dict) -> bool:
        """One launch of kernels/optim.cl's optim_<rule> on contiguous float buffers.

        Anything else (an unknown rule, a strided view, mixed dtypes or shapes, buffers
        that overlap, a hyperparameter T cannot hold) returns False and the optimizer
        runs its Tensor code. Nothing waits for the device.
        """
        buffers = (param, grad, *state)
        if not self._fusable(rule, buffers, len(state)):
            return False
        scalars = _optim_scalars(rule, hyper)
        if not _scalars_fit(scalars, param.dtype):
            return False
        n = param.size
        if n:
            args = [_i32(n)]
            for buf in buffers:
                args += [buf.data, _i32(buf.offset)]
            knl = self._rt.kernel("optim", f"optim_{rule}", param.dtype)
            self._rt.launch_1d(knl, n, *args, *scalars)
        return True


# Backend.fused_update rules: how many state buffers each kernel of optim.cl takes.
_OPTIM_STATE_COUNT = {"sgd": 0, "momentum": 1, "adagrad": 1, "rmsprop": 1, "adam": 2}


def _optim_scalars(rule: str, hyper: dict) -> list:
    """The by-value arguments of optim_<rule>, derived in Python exactly as the Tensor
    code of vecgrad/optim.py derives them (1 - beta, lr / bias1, 1 / bias2)."""
    lr, decay = float(hyper["lr"]), float(hyper["weight_decay"])
    if rule == "sgd":
        return [lr, decay]
    if rule == "momentum":
        return [lr, decay, float(hyper["momentum"]), int(bool(hyper["nesterov"]))]
    eps = [float(hyper["eps"]), int(bool(hyper["eps_inside_sqrt"]))]
    if rule == "adagrad":
        return [lr, decay, *eps]
    if rule == "rmsprop":
        beta = float(hyper["beta"])
        return [lr, decay, beta, 1.0 - beta, *eps]
    beta1, beta2 = float(hyper["beta1"]), float(hyper["beta2"])
    return [lr / float(hyper["bias1"]), decay, beta1, 1.0 - beta1, beta2, 1.0 - beta2,
            1.0 / float(hyper["bias2"]), *eps]


# Parameters per launch of optim_adam_slots (its ADAM_SLOT_ARGS count).
_ADAM_SLOTS = 8


def _scalars_fit(scalars, dtype) -> bool:
    """Whether every float hyperparameter is finite in T (else the Tensor code runs)."""
    limit = float(np.finfo(dtype).max)
    return all(abs(v) <= limit for v in scalars if isinstance(v, float))


def _adam_chunks(entries: list) -> list[list]:
    """(index, buffers) entries in launches of optim_adam_slots: at most _ADAM_SLOTS
    parameters, and fewer elements in all than the kernel's 32-bit indexing holds (8
    parameters of 2**30 elements each are legal alone but not as one launch; they made
    the whole step fail with 'size ... exceeds the 32-bit indexing')."""
    chunks, size = [], 0
    for entry in entries:
        n = entry[1][0].size
        if not chunks or len(chunks[-1]) == _ADAM_SLOTS or size + n >= 2**31:
            chunks.append([])
            size = 0
        chunks[-1].append(entry)
        size += n
    return chunks


def _any_overlap(buffers) -> bool:
    """Whether two of the buffers share elements (the kernel reads and writes in place).
    Only buffers of one allocation can: they are grouped first, so a step over many
    parameters is not a quadratic number of comparisons."""
    by_allocation: dict[int, list] = {}
    for buf in buffers:
        by_allocation.setdefault(id(buf.data), []).append(buf)
    for group in by_allocation.values():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if a.offset < b.offset + b.size and b.offset < a.offset + a.size:
                    return True
    return False


def create_backend(device: str) -> OpenCLBackend:
    """Registry hook (vecgrad/backends/__init__.py): open "opencl" or "opencl:P:D"."""
    return OpenCLBackend(device)


def list_devices() -> list[str]:
    """Registry hook: the explicit device strings of every OpenCL device here."""
    return [info.device_string for info in _list_device_infos()]
