"""Padding and resampling of the trailing (spatial) axes: pad, interpolate, adaptive
average pooling.

All of them are compositions with no backward of their own:
- constant padding is a concatenation with constant blocks (Cat hands the gradient back
  as slices); negative padding crops with a slice;
- reflect / replicate / circular padding picks source positions with an index array
  (GetItem's backward adds repeated positions up);
- resampling along one axis is a product with a small (out, in) matrix whose rows hold
  the interpolation weights (bilinear, area), or an index array (nearest).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from vecgrad.ops import common, creation, matmul, movement, reduce
from vecgrad.ops.common import fmt_shape

PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _int(op, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    return int(value)


def pad(x, pad, mode="constant", value=None):  # noqa: A002 - PyTorch's argument name
    """Pad the last len(pad) // 2 axes: pad = (left, right) for the last axis, then
    (top, bottom) for the one before, and so on (PyTorch's order).

    mode "constant" fills with `value` (default 0) and accepts negative amounts (a crop);
    "reflect" mirrors without repeating the edge, "replicate" repeats the edge,
    "circular" wraps around.
    """
    op = "pad"
    if not common.is_tensor(x):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if not isinstance(pad, (tuple, list)) or len(pad) % 2:
        raise ValueError(f"{op}: pad must be a tuple of even length (left, right, top, "
                         f"bottom, ...), got {pad!r}")
    amounts = [_int(op, "pad", p) for p in pad]
    if len(amounts) // 2 > x.ndim:
        raise ValueError(f"{op}: pad {tuple(amounts)} covers {len(amounts) // 2} axes but the "
                         f"input {fmt_shape(x.shape)} has {x.ndim}")
    if mode not in PAD_MODES:
        raise ValueError(f"{op}: mode must be one of {PAD_MODES}, got {mode!r}")
    if mode != "constant" and value not in (None, 0):
        raise ValueError(f"{op}: value={value!r} only applies to mode='constant'")
    for i in range(len(amounts) // 2):
        axis = x.ndim - 1 - i
        before, after = amounts[2 * i], amounts[2 * i + 1]
        if before or after:
            if mode == "constant":
                x = _pad_constant_axis(x, axis, before, after, 0.0 if value is None else value)
            else:
                x = _pad_by_index(x, axis, before, after, mode)
    return x


def _pad_constant_axis(x, axis, before, after, value):
    size = x.shape[axis]
    if before + size + after < 0 or min(before, after) < -size:
        raise ValueError(f"pad: ({before}, {after}) on axis {axis} would leave fewer than 0 "
                         f"elements of {size}")
    if before < 0 or after < 0:  # negative padding crops
        index = (slice(None),) * axis + (slice(max(-before, 0), size - max(-after, 0)),)
        x = movement.getitem(x, index)
        before, after = max(before, 0), max(after, 0)
    parts = []
    for amount in (before, after):
        shape = x.shape[:axis] + (amount,) + x.shape[axis + 1:]
        parts.append(creation.full(shape, value, dtype=x.dtype, device=x.device)
                     if amount else None)
    pieces = [t for t in (parts[0], x, parts[1]) if t is not None]
    return movement.cat(pieces, axis) if len(pieces) > 1 else x


def _pad_by_index(x, axis, before, after, mode):
    size = x.shape[axis]
    if before < 0 or after < 0:
        raise ValueError(f"pad: mode {mode!r} needs non-negative amounts, got "
                         f"({before}, {after}) on axis {axis}")
    if size == 0:
        raise ValueError(f"pad: mode {mode!r} cannot pad axis {axis} of size 0")
    if mode == "reflect" and max(before, after) >= size:
        raise ValueError(f"pad: reflect padding ({before}, {after}) must be smaller than the "
                         f"size {size} of axis {axis} of {fmt_shape(x.shape)}")
    if mode == "circular" and max(before, after) > size:
        raise ValueError(f"pad: circular padding ({before}, {after}) must be at most the size "
                         f"{size} of axis {axis} of {fmt_shape(x.shape)}")
    positions = np.arange(-before, size + after)
    if mode == "reflect":
        period = 2 * (size - 1) if size > 1 else 1
        positions = np.abs(positions) % period
        positions = np.where(positions >= size, period - positions, positions)
    elif mode == "replicate":
        positions = np.clip(positions, 0, size - 1)
    else:
        positions = positions % size
    return movement.getitem(x, (slice(None),) * axis + (positions.astype(np.int64),))


# ------------------------------------------------------------------ resampling
def _resample_axis(x, axis, matrix):
    """x with `axis` mapped through matrix (out, in): out[..., o, ...] = sum_i M[o, i] x[..., i, ...]."""
    n_out, n_in = matrix.shape
    if n_out == n_in and np.array_equal(matrix, np.eye(n_in)):
        return x
    if n_out == 1 and np.allclose(matrix, 1.0 / n_in):  # a plain mean: cheaper
        return reduce.mean(x, axis=axis, keepdims=True)
    m = creation.tensor(matrix.astype(x.dtype), device=x.device)
    moved = movement.transpose(x, axis, x.ndim - 1)  # resample the last axis: one matmul
    out = matmul.matmul(moved, movement.transpose(m, 0, 1))
    return movement.transpose(out, axis, x.ndim - 1)


def _take_axis(x, axis, positions):
    if positions.size == x.shape[axis] and np.array_equal(positions, np.arange(positions.size)):
        return x
    return movement.getitem(x, (slice(None),) * axis + (positions.astype(np.int64),))


def _spatial_input(op, x, dims):
    if not common.is_tensor(x):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    common.require_float(op, x)
    if x.ndim not in (dims + 1, dims + 2):
        layout = "(N, C, L) or (C, L)" if dims == 1 else "(N, C, H, W) or (C, H, W)"
        raise ValueError(f"{op}: input must be {layout}, got shape {fmt_shape(x.shape)}")


def _sizes(op, value, dims, name, allow_none=False):
    values = (value,) * dims if not isinstance(value, (tuple, list)) else tuple(value)
    if len(values) != dims:
        raise ValueError(f"{op}: {name} must be an int or {dims} of them, got {value!r}")
    out = []
    for v in values:
        if v is None and allow_none:
            out.append(None)
            continue
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"{op}: {name} must hold positive ints, got {value!r}")
        out.append(int(v))
    return tuple(out)


def adaptive_average_matrix(n_in, n_out):
    """(n_out, n_in): row o averages input cells floor(o*n_in/n_out) .. ceil((o+1)*n_in/n_out) - 1,
    PyTorch's adaptive pooling windows (they overlap when n_out does not divide n_in)."""
    matrix = np.zeros((n_out, n_in))
    for o in range(n_out):
        start = (o * n_in) // n_out
        stop = -((-(o + 1) * n_in) // n_out)
        matrix[o, start:stop] = 1.0 / (stop - start)
    return matrix


def _adaptive_avg_pool(op, x, output_size, dims):
    _spatial_input(op, x, dims)
    sizes = _sizes(op, output_size, dims, "output_size", allow_none=True)
    for i, n_out in enumerate(sizes):
        axis = x.ndim - dims + i
        if n_out is not None:
            if x.shape[axis] == 0:
                raise ValueError(f"{op}: input {fmt_shape(x.shape)} has an empty axis {axis}")
            x = _resample_axis(x, axis, adaptive_average_matrix(x.shape[axis], n_out))
    return x


def adaptive_avg_pool1d(x, output_size):
    """Average over output_size windows that tile the last axis (PyTorch's window rule)."""
    return _adaptive_avg_pool("adaptive_avg_pool1d", x, output_size, 1)


def adaptive_avg_pool2d(x, output_size):
    """Average pooling to a fixed (OH, OW) whatever the input size.

    adaptive_avg_pool2d(x, 1) is the global average pool, the same as
    x.mean(axis=(2, 3), keepdims=True). Sizes that do not divide the input use PyTorch's
    overlapping windows; None keeps that axis.
    """
    return _adaptive_avg_pool("adaptive_avg_pool2d", x, output_size, 2)


INTERPOLATE_MODES = ("nearest", "linear", "bilinear", "area")


def _nearest_positions(n_in, n_out, scale):
    if n_out == n_in:
        return np.arange(n_in)
    # PyTorch computes the source index in float32: floor(dst * scale), clamped.
    src = np.floor(np.arange(n_out, dtype=np.float32) * np.float32(scale))
    return np.minimum(src.astype(np.int64), n_in - 1)


def _linear_matrix(n_in, n_out, scale, align_corners):
    dst = np.arange(n_out, dtype=np.float64)
    if align_corners:
        src = dst * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
    else:
        src = np.maximum((dst + 0.5) * scale - 0.5, 0.0)
    low = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    high = np.minimum(low + 1, n_in - 1)
    frac = src - low
    matrix = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    np.add.at(matrix, (rows, low), 1.0 - frac)
    np.add.at(matrix, (rows, high), frac)
    return matrix


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None):
    """Resize (N, C, L) or (N, C, H, W) input to `size` or by `scale_factor`.

    mode: "nearest" (PyTorch's legacy nearest: floor(dst * in / out)), "linear" (3-D),
    "bilinear" (4-D) with align_corners False (default) or True, or "area" (adaptive
    average pooling).
    """
    op = "interpolate"
    if mode not in INTERPOLATE_MODES:
        raise ValueError(f"{op}: mode must be one of {INTERPOLATE_MODES}, got {mode!r}")
    if not common.is_tensor(x):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    common.require_float(op, x)
    dims = x.ndim - 2
    if dims not in (1, 2):
        raise ValueError(f"{op}: input must be (N, C, L) or (N, C, H, W), got shape "
                         f"{fmt_shape(x.shape)}")
    if (mode == "linear" and dims != 1) or (mode == "bilinear" and dims != 2):
        wanted = "3-D (N, C, L)" if mode == "linear" else "4-D (N, C, H, W)"
        raise ValueError(f"{op}: mode {mode!r} needs {wanted} input, got shape "
                         f"{fmt_shape(x.shape)}")
    if align_corners is not None and mode not in ("linear", "bilinear"):
        raise ValueError(f"{op}: align_corners only applies to linear and bilinear modes, "
                         f"not {mode!r}")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor")
    in_sizes = x.shape[2:]
    if size is not None:
        out_sizes = _sizes(op, size, dims, "size")
        scales = [n_in / n_out for n_in, n_out in zip(in_sizes, out_sizes)]
    else:
        factors = (scale_factor,) * dims if not isinstance(scale_factor, (tuple, list)) \
            else tuple(scale_factor)
        if len(factors) != dims or not all(
                isinstance(f, numbers.Real) and not isinstance(f, bool) and f > 0
                and math.isfinite(f) for f in factors):
            raise ValueError(f"{op}: scale_factor must be a positive number or {dims} of "
                             f"them, got {scale_factor!r}")
        out_sizes = tuple(int(math.floor(n * f)) for n, f in zip(in_sizes, factors))
        if min(out_sizes) < 1:
            raise ValueError(f"{op}: scale_factor {scale_factor!r} turns {fmt_shape(in_sizes)} "
                             f"into an empty output {out_sizes}")
        if recompute_scale_factor:
            scales = [n_in / n_out for n_in, n_out in zip(in_sizes, out_sizes)]
        else:
            scales = [1.0 / f for f in factors]
    if mode == "area":
        return _adaptive_avg_pool(op, x, out_sizes, dims)
    for i, (n_in, n_out, scale) in enumerate(zip(in_sizes, out_sizes, scales)):
        axis = 2 + i
        if n_in == 0:
            raise ValueError(f"{op}: input {fmt_shape(x.shape)} has an empty axis {axis}")
        if mode == "nearest":
            x = _take_axis(x, axis, _nearest_positions(n_in, n_out, scale))
        else:
            x = _resample_axis(x, axis, _linear_matrix(n_in, n_out, scale, bool(align_corners)))
    return x
