"""What every op family shares: operand coercion, validation, dtype casts, unbroadcast.

Validation happens here, at the public boundary, once; Functions below it trust their
inputs. Error messages name the op and the offending shapes, dtypes or devices.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from vecgrad.autograd import Function
from vecgrad.ops import creation
from vecgrad.tensor import Tensor

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
SUPPORTED_DTYPES = FLOAT_DTYPES + (np.dtype(np.int64), np.dtype(np.bool_))


def is_float(dtype) -> bool:
    return dtype in FLOAT_DTYPES


def fmt_shape(shape) -> str:
    return str(tuple(shape))


def is_tensor(value) -> bool:
    return isinstance(value, Tensor)


def check_same_device(op: str, *tensors):
    """All tensors on one backend, else an error naming both devices."""
    first = tensors[0]._backend
    for t in tensors:  # (the first passes; cheaper than slicing it off)
        if t._backend is not first:
            raise ValueError(
                f"{op}: tensors are on different devices ({first.device} and "
                f"{t._backend.device}); move one with .to(device)")


def require_float(op: str, t, what: str = "input"):
    if t.dtype not in FLOAT_DTYPES:  # is_float, inlined: called for every op
        raise TypeError(f"{op}: {what} must be float32 or float64, got {t.dtype}")


class Cast(Function):
    """dtype conversion; the gradient is cast back, so a float32 leaf gets a float32 grad."""

    @staticmethod
    def forward(ctx, x, *, dtype):
        ctx.attrs = x.dtype
        return ctx.backend.astype(x, dtype)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.astype(grad, ctx.attrs)


def cast(t, dtype):
    """t converted to dtype (differentiable between float dtypes)."""
    dtype = np.dtype(dtype)
    if t.dtype == dtype:
        return t
    if dtype not in SUPPORTED_DTYPES:
        raise TypeError(f"to: unsupported dtype {dtype}; use float32, float64, int64 or bool")
    if dtype == np.float64 and not t._backend.supports_float64:
        raise TypeError(f"to: device {t.device} does not support float64")
    if is_float(t.dtype) and dtype == np.int64:
        creation.check_finite_for_int("to", t.numpy())
    if t.requires_grad and not is_float(dtype):
        t = t.detach()  # integer/bool results carry no gradient
    return Cast.apply(t, dtype=dtype)


def scalar_dtype(value, like_dtype):
    """dtype of a Python number meeting a tensor: weak like numpy 2 / PyTorch.

    float tensor + number -> the tensor's dtype; int tensor + float -> float32;
    int/bool tensor + int -> int64; bool + bool -> bool.
    """
    if isinstance(value, (bool, np.bool_)):
        return like_dtype
    if isinstance(value, numbers.Integral):
        return like_dtype if like_dtype != np.bool_ else np.dtype(np.int64)
    if isinstance(value, numbers.Real):
        return like_dtype if is_float(like_dtype) else np.dtype(np.float32)
    raise TypeError(f"expected a Tensor or a real number, got {type(value).__name__}")


_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 63 - 1
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_FLOAT_LIMITS = {np.dtype(np.float32): _FLOAT32_MAX, np.dtype(np.float64): math.inf}
_FLOAT_LIMITS_OR_INT = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64))


def check_real(op: str, value, what: str):
    """A TypeError naming `what` unless value is a real number (Python, numpy or bool)."""
    if isinstance(value, np.bool_) or (isinstance(value, numbers.Real) and not (
            isinstance(value, np.generic) and not isinstance(value, np.number))):
        return
    hint = "; pass a number (e.g. t.item())" if is_tensor(value) else ""
    raise TypeError(f"{op}: {what} must be a real number, got {type(value).__name__}{hint}")


def scalar_value(op: str, value, dtype, what: str | None = None):
    """A real number (Python or numpy) as a value of `dtype`, or a clear error: the
    Python number itself where it fits as it is, else a numpy scalar of `dtype`.

    `what` names the argument in errors ("alpha"); without it the value is named.
    int64: the number must be integral (callers refuse fractions first) and fit in
    int64. Floats: a value beyond the dtype's range rounds to ±inf, as IEEE and numpy
    round it, without numpy's overflow warning.
    """
    kind = type(value)
    if kind is float:  # the common cases, kept cheap: every `x * 0.5` comes here
        limit = _FLOAT_LIMITS.get(dtype)
        if limit is not None and not abs(value) > limit:  # (nan passes)
            return value
    elif kind is int and _INT64_MIN <= value <= _INT64_MAX and dtype in _FLOAT_LIMITS_OR_INT:
        return value
    check_real(op, value, what or "value")
    if isinstance(value, np.bool_):
        value = bool(value)
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return np.bool_(value)
    if dtype == np.int64:
        label = f"{what} {value!r}" if what else f"{value!r}"
        if isinstance(value, numbers.Integral):
            exact = int(value)
        elif math.isfinite(value) and float(value).is_integer():
            exact = int(value)
        else:
            raise ValueError(f"{op}: {label} has no int64 value")
        if not _INT64_MIN <= exact <= _INT64_MAX:
            raise OverflowError(f"{op}: {label} does not fit in int64 "
                                f"(range [-2**63, 2**63 - 1])")
        return np.int64(exact)
    try:
        number = float(value)
    except OverflowError:  # a Python int beyond every float
        number = math.inf if value > 0 else -math.inf
    if abs(number) > _FLOAT32_MAX and dtype == np.float32:
        with np.errstate(over="ignore"):  # rounds to ±inf (or to ±max just above it)
            return dtype.type(number)
    return dtype.type(number)


def constant(value, dtype, backend, op: str = "constant"):
    """A 0-d constant tensor (no gradient) on `backend`."""
    return Tensor._wrap(backend.full((), scalar_value(op, value, dtype), dtype), backend)


def written_number(value, dtype):
    """A number about to be written into a tensor of `dtype` (x[i] = 2.7, masked_fill,
    fill_, copy_), cast as astype and PyTorch cast it: toward zero for int64 (NaN and
    infinity are left for scalar_value to refuse)."""
    if dtype == np.int64 and isinstance(value, numbers.Real) and \
            not isinstance(value, numbers.Integral) and math.isfinite(value):
        return math.trunc(value)
    return value


def to_operand(op: str, value, like):
    """`value` (Tensor, number, list, ndarray) as a Tensor on like's device."""
    if is_tensor(value):
        return value
    if isinstance(value, numbers.Real) or isinstance(value, np.generic):
        if isinstance(value, np.generic) and not isinstance(value, (np.number, np.bool_)):
            raise TypeError(f"{op}: cannot use {type(value).__name__} as an operand")
        return constant(value, scalar_dtype(value, like.dtype), like._backend, op)
    if isinstance(value, (list, tuple, np.ndarray)):
        return creation.tensor(value, device=like.device)
    raise TypeError(f"{op}: expected a Tensor or a number, got {type(value).__name__}")


def promote(*dtypes):
    """The result dtype when tensors of these dtypes meet.

    Floats: numpy's rule (float32 with float64 gives float64). A float meeting int64 or
    bool keeps the float's dtype (PyTorch's rule; numpy would widen to float64).
    int64 with bool gives int64.
    """
    floats = [d for d in dtypes if is_float(d)]
    if floats:
        return np.dtype(np.result_type(*floats))
    return np.dtype(np.result_type(*dtypes))


def broadcast_shape(op: str, *shapes):
    """numpy's broadcast shape, or an error naming the op and every shape."""
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        listed = " and ".join(fmt_shape(s) for s in shapes)
        raise ValueError(f"{op}: shapes {listed} cannot be broadcast together") from None


def binary_operands(op: str, a, b, broadcast=True):
    """Two Tensors on one device with one dtype (see promote) and, unless
    broadcast=False, broadcastable shapes."""
    weak = None  # a Python number's dtype already is the result dtype (weak promotion)
    if not isinstance(a, Tensor):
        a = to_operand(op, a, b)
        weak = a.dtype if a.ndim == 0 else None
    elif not isinstance(b, Tensor):
        b = to_operand(op, b, a)
        weak = b.dtype if b.ndim == 0 else None
    if a._backend is not b._backend:
        check_same_device(op, a, b)  # raises, naming both devices
    if a.dtype != b.dtype:
        dtype = weak if weak is not None else promote(a.dtype, b.dtype)
        a, b = cast(a, dtype), cast(b, dtype)
    if broadcast and a.shape != b.shape:
        broadcast_shape(op, a.shape, b.shape)
    return a, b


def pick_axis(op: str, axis, dim, default):
    """The numpy `axis=` or the PyTorch `dim=` spelling; both, when they differ, is an error."""
    if dim is None:
        return axis
    if axis != default and axis != dim:
        raise TypeError(f"{op}: give axis or dim, not both (got axis={axis}, dim={dim})")
    return dim


def normalize_axis(op: str, axis, ndim: int) -> int:
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{op}: axis must be an int, got {type(axis).__name__}")
    if not -ndim <= axis < max(ndim, 1):
        raise ValueError(f"{op}: axis {axis} is out of range for a tensor with {ndim} "
                         f"dimension{'s' if ndim != 1 else ''}")
    return int(axis) % max(ndim, 1)


def normalize_axes(op: str, axis, ndim: int) -> tuple[int, ...]:
    """None -> all axes; int or tuple -> sorted non-negative axes (no duplicates)."""
    if axis is None:
        return tuple(range(ndim))
    if ndim == 0:  # PyTorch: a 0-d tensor accepts axis 0 / -1 and has nothing to reduce
        for a in axis if isinstance(axis, (tuple, list)) else (axis,):
            if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
                raise TypeError(f"{op}: axis must be an int, got {type(a).__name__}")
            if a not in (0, -1):
                raise ValueError(f"{op}: axis {a} is out of range for a 0-dimensional tensor "
                                 f"(only 0 or -1)")
        return ()
    if isinstance(axis, (tuple, list)):
        axes = tuple(normalize_axis(op, a, ndim) for a in axis)
    else:
        axes = (normalize_axis(op, axis, ndim),)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(axes))


def unbroadcast(backend, grad, shape):
    """Undo numpy broadcasting: sum grad over the axes that broadcasting created.

    The one place in vecgrad that knows how broadcast gradients reduce.
    """
    if grad.shape == shape:
        return grad
    lead = len(grad.shape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    if axes:
        grad = backend.reduce("sum", grad, axes, False)
    # A reshape to the same shape would still make a view, and views cost later
    # overlap checks (may_share_storage) a slower path.
    return grad if grad.shape == shape else backend.reshape(grad, shape)
