"""Host side of kernels/matmul.cl and kernels/conv2d.cl for the OpenCL backend."""

from __future__ import annotations

import numpy as np

from vecgrad.backends.opencl_array import (CLArray, checked_int32, collapse_dims,
                                           expanded_strides)
from vecgrad.backends.opencl_runtime import OpenCLError


def _batch_operand(backend, x: CLArray, batch: tuple[int, ...]):
    """x broadcast over `batch`, walked with a single batch stride.

    Returns (array, batch_stride); copies only when the broadcast batch axes cannot be
    walked with one stride (e.g. a stretched axis between two real ones).
    """
    if not batch:
        return x, 0
    strides = expanded_strides(x.shape[:-2], x.strides[:-2], batch)
    shape, (merged,) = collapse_dims(batch, [strides])
    if len(shape) == 1:
        return x, merged[0]
    full = backend.copy(backend.expand(x, batch + x.shape[-2:]))
    return full, full.shape[-1] * full.shape[-2]


def matmul(backend, a: CLArray, b: CLArray, transpose_a: bool, transpose_b: bool,
           bias: CLArray | None = None) -> CLArray:
    """op(a) @ op(b) (+ bias on every row) with numpy.matmul batch broadcasting (both
    ndim >= 2); the bias is added by the kernel as it stores the product."""
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
    out = backend._new(batch + (m, n), a.dtype)
    if out.size == 0:
        return out
    if k == 0:
        out = backend.full(out.shape, 0, a.dtype)
        return out if bias is None else backend.binary("add", out, bias, out=out)
    a, a_sb = _batch_operand(backend, a, batch)
    b, b_sb = _batch_operand(backend, b, batch)
    a_sm, a_sk = (a.strides[-1], a.strides[-2]) if transpose_a else a.strides[-2:]
    b_sk, b_sn = (b.strides[-1], b.strides[-2]) if transpose_b else b.strides[-2:]
    nbatch = int(np.prod(batch)) if batch else 1

    tiles = _fitted_tiles(backend, a.dtype, m, k, n)
    rt = backend.runtime
    knl = rt.kernel("matmul", "matmul", a.dtype, tiles)
    lx, ly = tiles["TN"] // tiles["WN"], tiles["TM"] // tiles["WM"]
    groups_n = -(-n // tiles["TN"])
    groups_m = -(-m // tiles["TM"])
    # plain ints: the kernel's scalar dtypes are declared (Runtime.kernel), and
    # pyopencl packs an int ~1 us faster than an np.int32 (15 of them per launch)
    i32 = checked_int32
    knl(rt.queue, (groups_n * lx, groups_m * ly, nbatch), (lx, ly, 1),
        i32(m), i32(n), i32(k),
        a.data, i32(a.offset), i32(a_sm), i32(a_sk), i32(a_sb),
        b.data, i32(b.offset), i32(b_sk), i32(b_sn), i32(b_sb),
        out.data, 0, i32(n), i32(m * n),
        # without a bias the kernel never reads its pointer: pass the output's
        out.data if bias is None else bias.data, 0 if bias is None else i32(bias.offset),
        0 if bias is None else i32(bias.strides[0]), int(bias is not None))
    return out


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
    """
    tiles = backend.matmul_tiles(dtype)
    if backend.runtime.is_gpu or tiles["TM"] < 32:
        return tiles
    if m <= 8:
        tiles["TM"] = 8
    elif m <= 32:
        tiles["TM"] = 32
    tiles["WM"] = min(tiles["WM"], tiles["TM"])
    if n is not None:
        for width in (16, 32, 64):
            if n <= width < tiles["TN"] and width % tiles["WN"] == 0:
                tiles["TN"] = width
                break
    if k <= 256:
        steps = [step for step in (128, 64, 32, 16) if step <= tiles["TK"]]
        tiles["TK"] = min(steps, key=lambda step: (-(-k // step) * step, -step))
    return tiles


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
