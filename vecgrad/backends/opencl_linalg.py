"""Host side of kernels/matmul.cl and kernels/conv2d.cl for the OpenCL backend."""

from __future__ import annotations

import functools

import numpy as np

from vecgrad.backends.opencl_array import (CLArray, TooManyAxes, checked_int32,
                                           collapse_dims, expanded_strides)
from vecgrad.backends.opencl_runtime import OpenCLError, frozen_defines


def matmul(backend, a: CLArray, b: CLArray, transpose_a: bool, transpose_b: bool,
           bias: CLArray | None = None) -> CLArray:
    """op(a) @ op(b) (+ bias on every row) with numpy.matmul batch broadcasting (both
    ndim >= 2); the bias is added by the kernel as it stores the product.

    Everything that depends only on the operands' shapes, strides and dtypes (checks,
    tiles, kernel, launch sizes, integer arguments) is planned once per layout and
    remembered on the backend: a training loop repeats a handful of layouts, and the
    planning took ~100-150 us of Python per product (profiled, 13:45 UTC).
    """
    key = (a.shape, a.strides, a.dtype, b.shape, b.strides, b.dtype, transpose_a,
           transpose_b, None if bias is None else (bias.shape, bias.dtype))
    plans = backend._matmul_plans
    plan = plans.get(key)
    if plan is None:
        plan = _plan_matmul(backend, a, b, transpose_a, transpose_b, bias)
        if len(plans) >= 1024:
            plans.clear()
        plans[key] = plan
    out_shape, knl, global_size, local_size, sizes, a_strides, b_strides, c_strides = plan
    if knl is None:  # empty, K = 0, or batch axes that need a copy: the general path
        return _matmul_general(backend, a, b, transpose_a, transpose_b, bias)
    out = backend._new(out_shape, a.dtype)
    knl(backend.runtime.queue, global_size, local_size, *sizes,
        a.data, a.offset, *a_strides, b.data, b.offset, *b_strides, out.data, 0, *c_strides,
        # without a bias the kernel never reads its pointer: pass the output's
        out.data if bias is None else bias.data, 0 if bias is None else bias.offset,
        0 if bias is None else bias.strides[0], int(bias is not None))
    return out


def _checked_shapes(a: CLArray, b: CLArray, transpose_a: bool, transpose_b: bool,
                    bias: CLArray | None):
    """(m, k, n, batch) of a product, or an OpenCLError saying what does not fit."""
    if a.dtype != b.dtype:
        raise OpenCLError(f"matmul: dtypes differ ({a.dtype} and {b.dtype})")
    if a.dtype == np.bool_:
        raise OpenCLError("matmul: bool operands are not supported on OpenCL")
    m, k = (a.shape[-1], a.shape[-2]) if transpose_a else (a.shape[-2], a.shape[-1])
    k2, n = (b.shape[-1], b.shape[-2]) if transpose_b else (b.shape[-2], b.shape[-1])
    if k != k2:
        raise OpenCLError(f"matmul: shapes {a.shape} and {b.shape} do not align ({k} != {k2})")
    if bias is not None and (bias.shape != (n,) or bias.dtype != a.dtype):
        raise OpenCLError(f"matmul: bias must have shape ({n},) and dtype {a.dtype}, got "
                          f"{bias.shape} {bias.dtype}")
    batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    return m, k, n, batch


def _plan_matmul(backend, a, b, transpose_a, transpose_b, bias) -> tuple:
    """(out shape, kernel, global size, local size, (m, n, k), a's (sm, sk, sb), b's
    (sk, sn, sb), c's (sm, sb)) of a product; kernel None when the general path must
    run each time (nothing to compute, K = 0, or a batch operand to copy)."""
    m, k, n, batch = _checked_shapes(a, b, transpose_a, transpose_b, bias)
    out_shape = batch + (m, n)
    general = (out_shape, None, None, None, None, None, None, None)
    if m * n == 0 or k == 0 or 0 in batch:
        return general
    walks = [_batch_stride(x, batch) for x in (a, b)]
    if None in walks:
        return general
    a_sb, b_sb = walks
    a_sm, a_sk = (a.strides[-1], a.strides[-2]) if transpose_a else a.strides[-2:]
    b_sk, b_sn = (b.strides[-1], b.strides[-2]) if transpose_b else b.strides[-2:]
    nbatch = int(np.prod(batch)) if batch else 1
    tiles = _fitted_tiles(backend, a.dtype, m, k, n)
    knl = backend.runtime.kernel("matmul", "matmul", a.dtype, tiles,
                                 tile_variants(backend, a.dtype))
    lx, ly = tiles["TN"] // tiles["WN"], tiles["TM"] // tiles["WM"]
    groups_n = -(-n // tiles["TN"])
    groups_m = -(-m // tiles["TM"])
    # plain ints: the kernel's scalar dtypes are declared (Runtime.kernel), and
    # pyopencl packs an int ~1 us faster than an np.int32
    i32 = checked_int32
    return (out_shape, knl, (groups_n * lx, groups_m * ly, nbatch), (lx, ly, 1),
            (i32(m), i32(n), i32(k)), (i32(a_sm), i32(a_sk), i32(a_sb)),
            (i32(b_sk), i32(b_sn), i32(b_sb)), (i32(n), i32(m * n)))


def _batch_stride(x: CLArray, batch: tuple[int, ...]) -> int | None:
    """The one stride that walks x broadcast over `batch`, or None when its batch axes
    cannot be walked with one stride (e.g. a stretched axis between two real ones)."""
    if not batch:
        return 0
    strides = expanded_strides(x.shape[:-2], x.strides[:-2], batch)
    try:
        shape, (merged,) = collapse_dims(batch, [strides])
    except TooManyAxes:  # (the caller copies x to one batch stride)
        return None
    return merged[0] if len(shape) == 1 else None


def _matmul_general(backend, a, b, transpose_a, transpose_b, bias) -> CLArray:
    """The cases _plan_matmul does not remember: an empty product, K = 0 (zeros, plus
    the bias), and batch operands copied to one batch stride first."""
    m, k, n, batch = _checked_shapes(a, b, transpose_a, transpose_b, bias)
    out = backend._new(batch + (m, n), a.dtype)
    if out.size == 0:
        return out
    if k == 0:
        out = backend.full(out.shape, 0, a.dtype)
        return out if bias is None else backend.binary("add", out, bias, out=out)
    # copy an operand whose broadcast batch axes one stride cannot walk
    a, b = (x if _batch_stride(x, batch) is not None
            else backend.copy(backend.expand(x, batch + x.shape[-2:])) for x in (a, b))
    return matmul(backend, a, b, transpose_a, transpose_b, bias)


# The tile sizes _fitted_tiles picks from on CPU devices (besides the device's own).
_TM_STEPS = (8, 32)
_TN_STEPS = (16, 32, 64)
_TK_STEPS = (128, 64, 32, 16)


def _fitted_tiles(backend, dtype, m: int, k: int, n: int | None = None) -> dict:
    """The device's matmul tiles, shrunk for the skinny products of convolutions.

    A work-group computes TM rows and walks K in steps of TK whatever the sizes, so a
    conv's (6 x 25) @ (25 x 50176) on the CPU tiles (TM 64, TK 128) did 50 times the
    useful work: 275 ms on PoCL against 27 ms with TM 8 (measured, LeNet-5's first
    layer). On CPU devices TM shrinks to 8 or 32 rows, TN to 16, 32 or 64 columns when
    N is that small, and TK (for K up to 256) to the step with the least padding past
    K (ties: the longer step); GPU tiles are left as tuned. The per-image products of
    `vecgrad train --model cnn` on 8x8 digits ((32 x 144) @ (144 x 16), 32 images per
    launch) did 14 times the useful work on the 128-wide tiles: 5-9 ms a launch.
    Every result is one of tile_variants().
    """
    tiles = backend.matmul_tiles(dtype)
    if backend.runtime.is_gpu or tiles["TM"] < 32:
        return tiles
    for rows in _TM_STEPS:
        if m <= rows:
            tiles["TM"] = rows
            break
    tiles["WM"] = min(tiles["WM"], tiles["TM"])
    if n is not None:
        for width in _TN_STEPS:
            if n <= width < tiles["TN"] and width % tiles["WN"] == 0:
                tiles["TN"] = width
                break
    if k <= 256:
        steps = [step for step in _TK_STEPS if step <= tiles["TK"]]
        tiles["TK"] = min(steps, key=lambda step: (-(-k // step) * step, -step))
    return tiles


def tile_variants(backend, dtype) -> tuple:
    """Every tile set _fitted_tiles can pick on this device for `dtype`, as
    frozen_defines tuples: matmul.cl is built for all of them in one program (a
    `vecgrad train --device opencl` used 9 of them, each its own program: ~0.45 s of
    PoCL cache lookups per run, against ~0.05 s for one program of 48 variants;
    compiling that program from scratch takes ~2.6 s once per machine)."""
    return _tile_variants(frozen_defines(backend.matmul_tiles(dtype)),
                          bool(backend.runtime.is_gpu))


@functools.lru_cache(maxsize=32)
def _tile_variants(base: tuple, is_gpu: bool) -> tuple:
    tiles = dict(base)
    if is_gpu or tiles["TM"] < 32:
        return (base,)
    found = set()
    for rows in (*_TM_STEPS, tiles["TM"]):
        for width in (*[w for w in _TN_STEPS if w < tiles["TN"] and w % tiles["WN"] == 0],
                      tiles["TN"]):
            for step in {*[s for s in _TK_STEPS if s <= tiles["TK"]], tiles["TK"]}:
                found.add(frozen_defines(dict(tiles, TM=rows, WM=min(tiles["WM"], rows),
                                              TN=width, TK=step)))
    return tuple(sorted(found))


def _conv_geometry(input_shape, kernel_size, stride, padding, dilation, what):
    n, c, h, w = input_shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if oh <= 0 or ow <= 0:
        raise OpenCLError(
            f"{what}: kernel {kernel_size} with dilation {dilation} does not fit the "
            f"padded input {h + 2 * ph}x{w + 2 * pw}"
        )
    return [checked_int32(int(v)) for v in (n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw,
                                            oh, ow)]


def im2col(backend, x: CLArray, kernel_size, stride, padding, dilation) -> CLArray:
    """Patches of an NCHW input as (N, C*KH*KW, OH*OW) columns (see conv2d.cl)."""
    geo = _conv_geometry(x.shape, kernel_size, stride, padding, dilation, "im2col")
    n, c, _, _, kh, kw = (int(v) for v in geo[:6])
    oh, ow = int(geo[12]), int(geo[13])
    src = backend._contiguous(x)
    out = backend._new((n, c * kh * kw, oh * ow), x.dtype)
    knl = backend.runtime.kernel("conv2d", "im2col", x.dtype)
    backend.runtime.launch_1d(knl, out.size, *geo, out.data, src.data, src.offset)
    return out


def col2im(backend, cols: CLArray, input_shape, kernel_size, stride, padding,
           dilation) -> CLArray:
    """The adjoint of im2col: sums column entries back into an NCHW buffer."""
    geo = _conv_geometry(input_shape, kernel_size, stride, padding, dilation, "col2im")
    src = backend._contiguous(cols)
    out = backend._new(tuple(input_shape), cols.dtype)
    knl = backend.runtime.kernel("conv2d", "col2im", cols.dtype)
    backend.runtime.launch_1d(knl, out.size, *geo, out.data, src.data, src.offset)
    return out
