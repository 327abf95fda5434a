"""Creating tensors: from data, constant fills, ranges, identity, seeded random numbers.

dtype rules (PyTorch's): Python floats -> float32, Python ints -> int64, bools -> bool;
numpy arrays keep float64 (float16/float32 -> float32, any integer -> int64).
"""

from __future__ import annotations

import numbers

import numpy as np

from vecgrad import backends
from vecgrad.tensor import Tensor

SUPPORTED = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64), np.dtype(np.bool_))


class _GlobalGenerator:
    """The one global random state (PyTorch has the same): reseeded by manual_seed."""

    def __init__(self):
        self.generator = np.random.default_rng()


_global = _GlobalGenerator()


def manual_seed(seed: int) -> None:
    """Seed the generator behind rand, randn, dropout and nn.init."""
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative int, got {seed!r}")
    _global.generator = np.random.default_rng(int(seed))


def random_generator() -> np.random.Generator:
    """The numpy Generator behind rand/randn/dropout/init (seeded by manual_seed)."""
    return _global.generator


_INT64_END = 2.0 ** 63  # the first float beyond int64 (2**63 - 1 rounds up to it)


def check_finite_for_int(op, host: np.ndarray):
    """Values with no int64: NaN, infinity, floats outside [-2**63, 2**63) and unsigned
    integers above 2**63 - 1 (a Python int such as 2**63 becomes one). numpy would give
    INT64_MIN or a wrapped value silently."""
    kind = host.dtype.kind
    if kind == "f":
        if not np.isfinite(host).all():
            raise ValueError(f"{op}: cannot convert NaN or infinity to int64 "
                             f"({int((~np.isfinite(host)).sum())} of {host.size} values)")
        outside = (host < -_INT64_END) | (host >= _INT64_END)
        if outside.any():
            raise OverflowError(f"{op}: {int(outside.sum())} of {host.size} values lie "
                                f"outside int64's range [-2**63, 2**63) (e.g. "
                                f"{float(host[outside].flat[0])!r})")
    elif kind == "u" and host.size and host.max() > np.iinfo(np.int64).max:
        raise OverflowError(f"{op}: {host.max()} does not fit in int64 (range [-2**63, "
                            f"2**63 - 1])")


def resolve_dtype(dtype, op="tensor"):
    """A supported numpy dtype from a dtype-like (np.float32, "float64", vecgrad.int64)."""
    if dtype is None:  # np.dtype(None) would silently mean float64
        raise TypeError(f"{op}: dtype must be given, got None; use float32, float64, int64 "
                        f"or bool")
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{op}: {dtype!r} is not a dtype; use float32, float64, int64 "
                        f"or bool") from None
    if resolved not in SUPPORTED:
        raise TypeError(f"{op}: unsupported dtype {resolved}; use float32, float64, int64 or bool")
    return resolved


def _natural_dtype(array: np.ndarray, from_python: bool, op: str):
    kind = array.dtype.kind
    if kind == "b":
        return np.dtype(np.bool_)
    if kind in "iu":
        return np.dtype(np.int64)
    if kind == "f":
        if array.dtype == np.float64 and not from_python:
            return np.dtype(np.float64)
        return np.dtype(np.float32)
    raise TypeError(f"{op}: cannot make a tensor from data of dtype {array.dtype}; "
                    f"use numbers (float, int or bool)")


def _host_array(data, op):
    if isinstance(data, Tensor):
        return data.numpy(), False
    if isinstance(data, np.ndarray):
        return data, False
    if isinstance(data, np.generic):
        return np.asarray(data), False
    try:
        array = np.array(data)
    except ValueError as exc:
        raise ValueError(f"{op}: data is not a rectangular nested list of numbers "
                         f"({exc})") from None
    if array.dtype == object:
        if array.size and all(isinstance(v, numbers.Integral) for v in array.flat):
            raise OverflowError(f"{op}: the integer {max(array.flat, key=abs)} does not fit "
                                f"in int64 (range [-2**63, 2**63 - 1])")
        raise TypeError(f"{op}: data must be numbers or nested lists of numbers, got "
                        f"{type(data).__name__}")
    return array, True


def _finish(buf, backend, requires_grad):
    out = Tensor._wrap(buf, backend)
    if requires_grad:
        out.requires_grad = True
    return out


def _backend_for(device, dtype, op):
    backend = backends.get_backend(device)
    if dtype == np.float64 and not backend.supports_float64:
        raise TypeError(f"{op}: device {backend.device} does not support float64")
    return backend


def tensor(data, dtype=None, requires_grad=False, device=None) -> Tensor:
    """A new tensor holding a copy of `data` (numbers, nested lists, ndarray or Tensor)."""
    array, from_python = _host_array(data, "tensor")
    target = _natural_dtype(array, from_python, "tensor") if dtype is None else resolve_dtype(dtype)
    if device is None and isinstance(data, Tensor):
        device = data.device
    if target == np.int64:
        check_finite_for_int("tensor", np.asarray(array))
    backend = _backend_for(device, target, "tensor")
    host = np.asarray(array, dtype=target)
    out = _finish(backend.from_numpy(host), backend, requires_grad)
    if target == np.int64 and host.size:  # labels: checked later without a device read
        out._host_range = (host.min(), host.max(), out._version[0])
    return out


def from_numpy(array: np.ndarray, device=None) -> Tensor:
    """A tensor with a copy of a numpy array, keeping its precision (float64 stays)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return tensor(array, device=device)


def _shape(op, shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for n in shape:
        if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 0:
            raise ValueError(f"{op}: shape must be non-negative ints, got {shape!r}")
    return tuple(int(n) for n in shape)


def full(shape, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of `shape` filled with `fill_value` (dtype from the value when not given)."""
    shape = _shape("full", shape if isinstance(shape, (tuple, list)) else (shape,))
    if not isinstance(fill_value, (numbers.Real, np.bool_)):
        raise TypeError(f"full: fill_value must be a number (float, int or bool), got "
                        f"{type(fill_value).__name__}")
    if dtype is None:
        dtype = _natural_dtype(_host_array(fill_value, "full")[0], True, "full")
    dtype = resolve_dtype(dtype, "full")
    if dtype == np.int64:
        # (a Python int as it is: float64 would round 2**63 - 1 up to 2**63)
        integral = isinstance(fill_value, numbers.Integral)
        check_finite_for_int("full", _host_array(fill_value, "full")[0] if integral
                             else np.asarray(fill_value, dtype=np.float64))
    backend = _backend_for(device, dtype, "full")
    return _finish(backend.full(shape, fill_value, dtype), backend, requires_grad)


def zeros(*shape, dtype=np.float32, device=None, requires_grad=False) -> Tensor:
    """A tensor of zeros: zeros(2, 3) or zeros((2, 3))."""
    return full(_shape("zeros", shape), 0, dtype or np.float32, device, requires_grad)


def ones(*shape, dtype=np.float32, device=None, requires_grad=False) -> Tensor:
    """A tensor of ones."""
    return full(_shape("ones", shape), 1, dtype or np.float32, device, requires_grad)


def empty(*shape, dtype=np.float32, device=None, requires_grad=False) -> Tensor:
    """PyTorch's empty, for `nn.Parameter(vecgrad.empty(out, in))` before an nn.init call:
    filled with zeros here (PyTorch leaves the memory as it was)."""
    return full(_shape("empty", shape), 0, dtype or np.float32, device, requires_grad)


def zeros_like(t: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Zeros with t's shape, dtype and device unless given."""
    return full(t.shape, 0, dtype or t.dtype, device or t.device, requires_grad)


def ones_like(t: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Ones with t's shape, dtype and device unless given."""
    return full(t.shape, 1, dtype or t.dtype, device or t.device, requires_grad)


def arange(start, stop=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Evenly spaced values in [start, stop): int64 for int arguments, else float32."""
    if stop is None:
        start, stop = 0, start
    for name, v in (("start", start), ("stop", stop), ("step", step)):
        if not isinstance(v, numbers.Real) or isinstance(v, bool):
            raise TypeError(f"arange: {name} must be a number, got {v!r}")
    if step == 0:
        raise ValueError("arange: step must not be 0")
    values = np.arange(start, stop, step)
    if dtype is None:
        dtype = _natural_dtype(values, True, "arange")
    return tensor(values, dtype=dtype, device=device, requires_grad=requires_grad)


def eye(n, m=None, dtype=np.float32, device=None, requires_grad=False) -> Tensor:
    """The n x m identity matrix (m defaults to n)."""
    m = n if m is None else m
    _shape("eye", (n, m))
    return tensor(np.eye(n, m), dtype=dtype or np.float32, device=device,
                  requires_grad=requires_grad)


def _random(op, shape, dtype, device, requires_grad, draw):
    shape = _shape(op, shape)
    dtype = resolve_dtype(dtype or np.float32, op)
    if dtype not in SUPPORTED[:2]:
        raise TypeError(f"{op}: dtype must be float32 or float64, got {dtype}")
    return tensor(draw(shape, dtype), dtype=dtype, device=device, requires_grad=requires_grad)


def rand(*shape, dtype=np.float32, device=None, requires_grad=False) -> Tensor:
    """Uniform samples in [0, 1) from the seeded generator."""
    gen = random_generator()
    return _random("rand", shape, dtype, device, requires_grad,
                   lambda s, d: gen.random(s, dtype=d))


def randn(*shape, dtype=np.float32, device=None, requires_grad=False) -> Tensor:
    """Standard normal samples from the seeded generator."""
    gen = random_generator()
    return _random("randn", shape, dtype, device, requires_grad,
                   lambda s, d: gen.standard_normal(s, dtype=d))


def _like(op, t, dtype, device):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(t).__name__}")
    return t.shape, dtype or t.dtype, device or t.device


def full_like(t: Tensor, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """`fill_value` with t's shape, dtype and device unless given."""
    shape, dtype, device = _like("full_like", t, dtype, device)
    return full(shape, fill_value, dtype, device, requires_grad)


def rand_like(t: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    """rand with t's shape, dtype and device unless given."""
    shape, dtype, device = _like("rand_like", t, dtype, device)
    return rand(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randn_like(t: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    """randn with t's shape, dtype and device unless given."""
    shape, dtype, device = _like("randn_like", t, dtype, device)
    return randn(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def _int_arg(op, name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    return int(value)


def randint(*args, size=None, dtype=np.int64, device=None, requires_grad=False) -> Tensor:
    """Integers drawn uniformly from [low, high) by the seeded generator, PyTorch's
    spellings: randint(high, size), randint(low, high, size), size also by keyword."""
    if size is None and args and isinstance(args[-1], (tuple, list)):
        args, size = args[:-1], args[-1]
    if size is None or len(args) not in (1, 2):
        raise TypeError("randint: expected randint(high, size) or randint(low, high, size), "
                        f"with size a tuple; got {len(args)} bounds and size={size!r}")
    low, high = (0, args[0]) if len(args) == 1 else args
    low, high = _int_arg("randint", "low", low), _int_arg("randint", "high", high)
    if high <= low:
        raise ValueError(f"randint: high must be greater than low, got low={low}, high={high}")
    shape = _shape("randint", tuple(size) if isinstance(size, (tuple, list)) else (size,))
    dtype = resolve_dtype(dtype, "randint")
    if dtype == np.bool_:
        raise TypeError("randint: dtype must be int64, float32 or float64, got bool")
    values = random_generator().integers(low, high, shape, dtype=np.int64)
    return tensor(values, dtype=dtype, device=device, requires_grad=requires_grad)


def randperm(n, dtype=np.int64, device=None, requires_grad=False) -> Tensor:
    """A random permutation of 0 .. n-1 from the seeded generator."""
    n = _int_arg("randperm", "n", n)
    if n < 0:
        raise ValueError(f"randperm: n must be >= 0, got {n}")
    return tensor(random_generator().permutation(n), dtype=dtype, device=device,
                  requires_grad=requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    """`steps` evenly spaced values from start to end, both included (float32 unless
    dtype is given; PyTorch's argument order; steps has no default, as in PyTorch)."""
    for name, v in (("start", start), ("end", end)):
        if not isinstance(v, numbers.Real) or isinstance(v, (bool, np.bool_)):
            raise TypeError(f"linspace: {name} must be a number, got {v!r}")
    steps = _int_arg("linspace", "steps", steps)
    if steps < 0:
        raise ValueError(f"linspace: steps must be >= 0, got {steps}")
    return tensor(np.linspace(start, end, steps), dtype=dtype or np.float32, device=device,
                  requires_grad=requires_grad)


def one_hot(labels: Tensor, num_classes: int = -1) -> Tensor:
    """int64 (..., num_classes) with a 1 at each label (PyTorch's F.one_hot).

    num_classes=-1 uses the largest label + 1 (read from the labels).
    """
    if not isinstance(labels, Tensor) or labels.dtype != np.int64:
        got = labels.dtype if isinstance(labels, Tensor) else type(labels).__name__
        raise TypeError(f"one_hot: labels must be an int64 Tensor, got {got}")
    if not isinstance(num_classes, numbers.Integral) or isinstance(num_classes, bool):
        raise TypeError(f"one_hot: num_classes must be an int, got {num_classes!r}")
    if labels.numel():
        low, high = labels._int_range()
    else:
        low = high = 0
    if num_classes == -1:
        if not labels.numel():
            raise ValueError("one_hot: cannot infer num_classes from empty labels; pass it")
        num_classes = int(high) + 1
    if low < 0 or (labels.numel() and high >= num_classes) or num_classes < 0:
        raise ValueError(f"one_hot: labels must lie in [0, {num_classes}), got range "
                         f"[{low}, {high}]")
    classes = arange(int(num_classes), device=labels.device)
    hits = labels._wrap(labels._backend.reshape(labels._buf, labels.shape + (1,)),
                        labels._backend) == classes
    return Tensor._wrap(labels._backend.astype(hits._buf, np.int64), labels._backend)
