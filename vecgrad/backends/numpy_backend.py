"""The CPU backend: every primitive of base.Backend as a numpy call on np.ndarray buffers.

Movement primitives may return views (numpy's own views); everything that computes
returns a new array. Floating-point warnings (overflow in exp, log(0), ...) are silenced
where they are expected: the results (inf, nan) follow IEEE and numpy like PyTorch does.
"""

from __future__ import annotations

import functools
import threading
from typing import Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from vecgrad.backends import blas_threads, host_memory, numpy_conv
from vecgrad.backends.base import Backend, tile_views

_UNARY = {
    "neg": np.negative, "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "abs": np.abs,
    "sign": np.sign, "sin": np.sin, "cos": np.cos, "reciprocal": np.reciprocal,
    "log1p": np.log1p, "expm1": np.expm1, "erf": lambda x: _erf(x), "floor": np.floor,
    "ceil": np.ceil, "round": np.rint, "trunc": np.trunc,
    "exp2": lambda x: _in_float64(np.exp2, x), "log2": lambda x: _in_float64(np.log2, x),
    "log10": lambda x: _in_float64(np.log10, x),
}
_BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide,
    "pow": lambda a, b, out=None: _power(a, b, out), "maximum": np.maximum,
    "minimum": np.minimum, "floor_divide": np.floor_divide,
    "remainder": lambda a, b, out=None: _remainder(a, b, out),
}
# Binary ops that can produce inf/nan from finite input and would warn.
# inf - inf, 0 * inf, x / 0 ...: numpy semantics (nan/inf), without RuntimeWarnings.
_BINARY_MAY_WARN = frozenset(("add", "sub", "mul", "div", "pow", "floor_divide",
                              "remainder"))
_COMPARE = {
    "eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
    "gt": np.greater, "ge": np.greater_equal,
}
# The ufuncs' own reduce: np.sum and friends add a Python layer (~2 us a call) on top.
_REDUCE = {"sum": np.add.reduce, "max": np.maximum.reduce, "min": np.minimum.reduce}
_ARG_REDUCE = {"argmax": np.argmax, "argmin": np.argmin}
# axpy's block: small enough to stay in a core's L2 cache between its two passes, large
# enough that the Python loop over blocks costs little (1 MiB beat 256 KiB and 2 MiB here).
_SCRATCH_BYTES = 1024 * 1024
# Below this |x| sinc'(x) uses its Taylor series: the closed form cancels near 0, with a
# relative error of about eps / x^2 (27% at x = 1e-3 in float32). The series, to x^9,
# is exact to the last bit below 1 in float32 and below 1e-2 in float64 (the scalar
# catalogue's bound); past them the closed form loses at most 2e-7 and 7e-12.
_SINC_SERIES_BELOW = {np.dtype(np.float32): 1.0, np.dtype(np.float64): 1e-2}


def _quiet(function):
    """Decorator: run function with numpy's floating-point warnings off.

    numpy >= 2's errstate is a context-safe decorator that costs half of a
    `with np.errstate(...)` block (0.8 against 1.6 us; a training step makes ~16 such
    calls). numpy 1.x's decorator keeps its saved state on the shared object (unsafe
    across threads), so there the `with` block is kept.
    """
    if int(np.__version__.split(".")[0]) >= 2:
        return np.errstate(all="ignore")(function)

    @functools.wraps(function)
    def quiet(*args, **kwargs):
        with np.errstate(all="ignore"):
            return function(*args, **kwargs)
    return quiet


# erf: numpy has none. Cephes' rational approximations (S. L. Moshier, public domain; the
# ones scipy compiles): x T(x^2)/U(x^2) for |x| <= 1, else 1 - erfc(|x|) with erfc(a) =
# exp(-a^2) P(a)/Q(a) for a < 8 and exp(-a^2) R(a)/S(a) beyond. Coefficients highest
# power first; Q, S and U have a leading 1.
_ERF_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
          7.00332514112805075473e3, 5.55923013010394962768e4)
_ERF_U = (1.0, 3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
          2.26290000613890934246e4, 4.92673942608635921086e4)
_ERFC_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
           4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
           9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2)
_ERFC_Q = (1.0, 1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
           9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
           1.65666309194161350182e3, 5.57535340817727675546e2)
_ERFC_R = (5.64189583547755073984e-1, 1.27536670759978104416e0, 5.01905042251180477414e0,
           6.16021097993053585195e0, 7.40974269950448939160e0, 2.97886665372100240670e0)
_ERFC_S = (1.0, 2.26052863220117276590e0, 9.39603524938001434673e0, 1.20489539808096656605e1,
           1.70814450747565897222e1, 9.60896809063285878198e0, 3.36907645100081516050e0)


def _in_float64(function, x):
    """function(x) computed in float64 for a float32 x, then rounded once: numpy's float32
    log10 and log2 are up to 2 ulp off (log10(100) = 2.0000002), OpenCL's within 0.6."""
    if x.dtype == np.float32:
        return function(x.astype(np.float64)).astype(np.float32)
    return function(x)


def _polyval(coefficients, x):
    out = np.full_like(x, coefficients[0])
    for c in coefficients[1:]:
        out = out * x + c
    return out


def _erf(x):
    """erf(x) elementwise (float64 arithmetic, result in x's dtype; erf(+-inf) = +-1)."""
    v = np.asarray(x, dtype=np.float64)
    a = np.minimum(np.abs(v), 30.0)  # erfc(30) underflows to 0 already: no inf/inf below
    s = np.where(a <= 1.0, v, 0.0)  # each branch only sees its own range (no inf/inf)
    z = s * s
    small = s * _polyval(_ERF_T, z) / _polyval(_ERF_U, z)
    near = _polyval(_ERFC_P, a) / _polyval(_ERFC_Q, a)
    far = _polyval(_ERFC_R, a) / _polyval(_ERFC_S, a)
    erfc = np.exp(-a * a) * np.where(a < 8.0, near, far)
    out = np.where(np.abs(v) <= 1.0, small, np.copysign(1.0 - erfc, v))
    return out.astype(x.dtype, copy=False)


def _sigmoid(x):
    if x.ndim and x.size:
        # 1 / (1 + e^-x) in four in-place passes (the form below makes nine, five
        # arrays: it was the LSTM's largest elementwise cost). Accurate to a few ulp
        # wherever e^-x is finite; one read-only pass checks that (a nan makes the max
        # nan: then the form below, or a nan beside an overflow hid σ's tiny values).
        t = np.negative(x)
        np.exp(t, out=t)
        if np.isfinite(t.max()):
            t += 1
            return np.reciprocal(t, out=t)
    # e^-x overflowed (x < -88 in float32): this form keeps σ's tiny values, not 0
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _step(x, a):
    out = (x >= 0).astype(x.dtype)
    return np.where(np.isnan(x), x, out)


def _step_df(x, a):
    return np.where(np.isnan(x), x, np.zeros_like(x))


def _leaky_relu(x, a):
    return np.where(x > 0, x, x * x.dtype.type(a))


def _leaky_relu_df(x, a):
    # nan in, nan out: the catalogue's convention (scalargrad and kernels/activations.cl)
    return np.where(np.isnan(x), x, np.where(x > 0, x.dtype.type(1), x.dtype.type(a)))


def _relu_df(x, a):
    return np.where(np.isnan(x), x, (x > 0).astype(x.dtype))


def _elu(x, a):
    # (x itself where x <= 0, so elu(-0.0) = a * expm1(-0.0) = -0.0 as in the catalogue,
    # OpenCL and PyTorch; np.minimum(-0.0, 0) gave +0.0)
    return np.where(x > 0, x, x.dtype.type(a) * np.expm1(np.where(x > 0, 0, x)))


def _elu_df(x, a):
    return np.where(x > 0, x.dtype.type(1), x.dtype.type(a) * np.exp(np.minimum(x, 0)))


def _bent_identity(x, a):
    # hypot - 1 as x^2 / (hypot + 1) (no cancellation near 0); +-inf: the limits
    scaled = x / (np.hypot(x, x.dtype.type(1)) + 1)
    return np.where(np.isinf(x), x, x * scaled / 2 + x)


def _bent_identity_df(x, a):
    h = np.hypot(x, x.dtype.type(1))
    limit = np.where(x > 0, x.dtype.type(1.5), x.dtype.type(0.5))
    return np.where(np.isinf(x), limit, x / h / 2 + 1)  # (2 * h overflows near the max)


def _soft_exponential(x, a):
    t = x.dtype.type
    if a < 0:
        return -np.log(1 - t(a) * (x + t(a))) / t(a)
    if a == 0:
        return x.copy()
    return np.expm1(t(a) * x) / t(a) + t(a)


def _soft_exponential_df(x, a):
    t = x.dtype.type
    if a < 0:
        inner = 1 - t(a) * (x + t(a))
        return np.where(inner >= 0, 1 / inner, np.nan).astype(x.dtype)
    if a == 0:
        return np.where(np.isnan(x), x, np.ones_like(x))
    return np.exp(t(a) * x)


def _sinc(x, a):
    safe = np.where(x == 0, x.dtype.type(1), x)
    out = np.where(x == 0, x.dtype.type(1), np.sin(safe) / safe)
    return np.where(np.isinf(x), x.dtype.type(0), out)


def _sinc_df(x, a):
    safe = np.where(x == 0, x.dtype.type(1), x)
    closed = np.cos(safe) / safe - np.sin(safe) / (safe * safe)
    small = np.abs(x) < _SINC_SERIES_BELOW[x.dtype]
    t = np.where(small, x, x.dtype.type(0))  # (x^2 of a large unused x would overflow)
    t2 = t * t
    series = t * (-1 / 3 + t2 * (1 / 30 + t2 * (-1 / 840 + t2 * (1 / 45360 - t2 / 3991680))))
    out = np.where(small, series.astype(x.dtype, copy=False), closed)
    return np.where(np.isinf(x), x.dtype.type(0), out)


def _gaussian_df(x, a):
    out = -2 * x * np.exp(-x * x)
    # For huge |x|, exp underflows to 0 while -2x overflows: the limit is 0, not nan.
    return np.where(np.isnan(out) & ~np.isnan(x), x.dtype.type(0), out)


def _arctan_df(x, a):
    return 1 / (1 + x * x)


def _tanh_df(x, a):
    t = np.tanh(x)
    return 1 - t * t


def _sigmoid_df(x, a):
    s = _sigmoid(x)
    return s * (1 - s)


def _relu_backward(x, grad, out=None):
    # grad * relu'(x) from a boolean mask: one pass instead of building relu'(x) in
    # floats first; nan inputs keep relu'(nan) = nan, as activation_derivative gives.
    if grad.strides != x.strides and grad.shape == x.shape:
        # grad laid out unlike x (a convolution's output is (C, H, W, N) memory and the
        # gradient from a flatten is NCHW): multiplying across the two orders with the
        # bool-to-float cast is ~4x slower than one copy into x's order and a multiply
        # there (0.39 against 0.09 ms for the 1-D CNN's (100, 25, 1, 40), 13:50 UTC).
        # (An offered `out` has grad's order: not taken here.)
        out = np.empty_like(x, dtype=grad.dtype)
        np.copyto(out, grad)
        np.multiply(out, x > 0, out=out)
    else:  # into `out` (grad's own memory) when the caller offered it
        out = np.multiply(grad, x > 0, out=out)
        if type(out) is not np.ndarray:  # 0-d operands give a numpy scalar: no out=, no
            out = np.asarray(out)        # copyto below, and no out= for the next relu
    # One read-only pass to rule out nan: the maximum is nan exactly when some entry is
    # (infinities give no false alarm). Less than half the time of add.reduce's pairwise
    # sum (16 against 37 us on the bench MLP's 100 x 1000, machine loaded), and far
    # cheaper than building isnan(x).
    if x.size and np.isnan(np.maximum.reduce(x, axis=None)):
        nan = np.isnan(x)
        np.copyto(out, x, where=nan)
    return out


#: grad * f'(x) written in one pass where that is much faster than f'(x) * grad.
_FUSED_BACKWARD = {"relu": _relu_backward}

#: catalogue name -> (f(x, alpha), f'(x, alpha)); same names and conventions as
#: scalargrad.functions.ACTIVATIONS (relu'(0) = 0, leaky_relu'(0) = alpha, ...).
ACTIVATION_TABLE = {
    "identity": (lambda x, a: x.copy(), lambda x, a: np.where(np.isnan(x), x, np.ones_like(x))),
    "step": (_step, _step_df),
    "sigmoid": (lambda x, a: _sigmoid(x), _sigmoid_df),
    "tanh": (lambda x, a: np.tanh(x), _tanh_df),
    "arctan": (lambda x, a: np.arctan(x), _arctan_df),
    "relu": (lambda x, a: np.maximum(x, x.dtype.type(0)), _relu_df),
    "leaky_relu": (_leaky_relu, _leaky_relu_df),
    "elu": (_elu, _elu_df),
    "softplus": (lambda x, a: np.logaddexp(x.dtype.type(0), x), lambda x, a: _sigmoid(x)),
    "bent_identity": (_bent_identity, _bent_identity_df),
    "soft_exponential": (_soft_exponential, _soft_exponential_df),
    "sin": (lambda x, a: np.sin(x), lambda x, a: np.cos(x)),
    "cos": (lambda x, a: np.cos(x), lambda x, a: -np.sin(x)),
    "sinc": (_sinc, _sinc_df),
    "gaussian": (lambda x, a: np.exp(-x * x), _gaussian_df),
}


def _array(result):
    """numpy returns scalars for 0-d results; buffers are always ndarrays."""
    return result if type(result) is np.ndarray else np.asarray(result)


def _remainder(a, b, out=None):
    """a - floor(a / b) * b with the sign of b, as PyTorch computes it for floats:
    fmod, then b added where the signs differ. numpy.remainder gives +0.0 for -0.0 % 3
    where PyTorch (and the OpenCL kernel) keep fmod's -0.0. Integers: numpy's (the
    same numbers; a zero divisor is refused before this is called)."""
    if a.dtype.kind != "f":
        return np.remainder(a, b, out=out)
    mod = np.asarray(np.fmod(a, b))  # a fresh array, 0-d included
    np.add(mod, b, out=mod, where=(mod != 0) & ((b < 0) != (mod < 0)))
    if out is None:
        return mod
    out[...] = mod
    return out


def _power(a, b, out=None):
    """C's pow(a, b) elementwise, as the OpenCL kernel computes it.

    numpy computes a ** 0.5 as sqrt(a) when the exponent is one scalar broadcast over a
    1-D loop (and only then): sqrt(-0.0) = -0.0 and sqrt(-inf) = nan where pow gives +0.0
    and +inf, so the result depended on the layout. Those two places are set to pow's.
    """
    half = b == 0.5
    if not half.any():
        return np.power(a, b, out=out)
    special = half & ((a == -np.inf) | (a == 0))
    fill = np.where(a == 0, 0.0, np.inf).astype(a.dtype) if special.any() else None
    result = _array(np.power(a, b, out=out))
    if fill is not None:
        np.copyto(result, fill, where=special)
    return result


@_quiet
def _quiet_ufunc(ufunc, a, b, out):
    """ufunc(a, b) where inf/nan results are expected (inf - inf, x / 0, ...)."""
    return _array(ufunc(a, b, out=out))


def _pair(padding, kernel_size, stride, dilation, in_hw):
    """Output size of a sliding window (the formula PyTorch documents for conv2d)."""
    return tuple(
        (in_hw[i] + 2 * padding[i] - dilation[i] * (kernel_size[i] - 1) - 1) // stride[i] + 1
        for i in range(2)
    )


class NumpyBackend(Backend):
    """Primitives on numpy arrays (float32, float64, int64 and bool)."""

    supports_float64 = True
    # conv2d's output and col2im's are (C, H, W, N) arrays seen as NCHW (see im2col):
    # ops that build images (max-pool's backward) join pieces in that order.
    channels_last_images = True

    def __init__(self, device: str = "cpu"):
        host_memory.keep_freed_memory()  # big per-step arrays: reuse, no page faults
        blas_threads.prime()  # start measuring the cores others leave free
        self.device = device
        self._local = threading.local()  # per-thread scratch blocks (see axpy)
        self._conv = numpy_conv.ConvRunner()  # cache-blocked conv2d and its gradients

    def __repr__(self):
        return f"NumpyBackend(device={self.device!r})"

    # ------------------------------------------------------------- memory / host
    def from_numpy(self, array):
        return np.array(array, copy=True, order="C")

    def to_numpy(self, buf):
        return np.array(buf, copy=True, order="C")

    def full(self, shape, value, dtype):
        if shape == ():  # the scalar operands of `x * 2.0`, loss scales, ...: np.array
            return np.array(value, dtype=dtype)  # casts alike at a sixth of np.full's cost
        return np.full(shape, value, dtype=dtype)

    def astype(self, buf, dtype):
        return buf.astype(dtype)

    def copy(self, buf):
        return np.array(buf, copy=True, order="C")

    def assign(self, dst, src):
        np.copyto(dst, src)

    # --------------------------------------------------------------- elementwise
    @_quiet
    def unary(self, op, x):
        return _array(_UNARY[op](x))

    def binary(self, op, a, b, out=None):
        if op in _BINARY_MAY_WARN:
            return _quiet_ufunc(_BINARY[op], a, b, out)
        return _array(_BINARY[op](a, b, out=out))

    @_quiet
    def axpy(self, y, x, alpha):
        alpha = y.dtype.type(alpha)  # rounded to y's dtype, as full((), alpha) would be
        if (y.nbytes <= _SCRATCH_BYTES or x.shape != y.shape
                or not (x.flags.c_contiguous and y.flags.c_contiguous)):
            np.add(y, np.multiply(x, alpha), out=y)
            return
        # alpha * x goes through a reused buffer, one cache-sized block at a time,
        # instead of a temporary as large as x: on big parameters that saves a pass
        # over fresh memory (measured: 0.7 instead of 1.0 ms for the bench's MLP).
        flat_y, flat_x = y.reshape(-1), x.reshape(-1)
        scratch = self._scratch(y.dtype)
        step = scratch.size
        for start in range(0, flat_y.size, step):
            part_y = flat_y[start:start + step]
            part = scratch[:part_y.size]
            np.multiply(flat_x[start:start + step], alpha, out=part)
            np.add(part_y, part, out=part_y)

    def _scratch(self, dtype):
        """A per-thread block of _SCRATCH_BYTES for axpy."""
        pool = self._local.__dict__.setdefault("scratch", {})
        block = pool.get(dtype)
        if block is None:
            block = pool[dtype] = np.empty(_SCRATCH_BYTES // dtype.itemsize, dtype=dtype)
        return block

    def compare(self, op, a, b):
        return _array(_COMPARE[op](a, b))

    def where(self, cond, a, b):
        return _array(np.where(cond, a, b))

    def activation(self, name, x, alpha):
        if name == "relu" and x.dtype.kind == "f" and x.ndim:  # (no warning, nan included)
            return np.maximum(x, x.dtype.type(0))
        return self._activation(name, x, alpha)

    @_quiet
    def _activation(self, name, x, alpha):
        return np.asarray(ACTIVATION_TABLE[name][0](x, alpha), dtype=x.dtype)

    @_quiet
    def activation_derivative(self, name, x, alpha):
        return np.asarray(ACTIVATION_TABLE[name][1](x, alpha), dtype=x.dtype)

    @_quiet
    def activation_backward(self, name, x, grad, alpha, out=None):
        fused = _FUSED_BACKWARD.get(name)
        if fused is not None:
            if out is not None and (out is not grad or out.dtype != x.dtype or
                                    out.shape != x.shape or out is x or
                                    (out.base is not None or x.base is not None) and
                                    np.may_share_memory(out, x)):
                out = None  # (only grad's own, separate memory is written over)
            return fused(x, grad, out)
        local = np.asarray(ACTIVATION_TABLE[name][1](x, alpha), dtype=x.dtype)
        return np.multiply(local, grad, out=local)

    # ---------------------------------------------------------------- reductions
    def reduce(self, op, x, axes, keepdims):
        # (positional: ufunc.reduce(array, axis, dtype, out, keepdims) parses them faster)
        result = _REDUCE[op](x, axes, None, None, keepdims)
        return result if type(result) is np.ndarray else np.asarray(result)

    def arg_reduce(self, op, x, axis, keepdims):
        return np.asarray(_ARG_REDUCE[op](x, axis=axis, keepdims=keepdims), dtype=np.int64)

    # ------------------------------------------------------------------ movement
    def reshape(self, x, shape):
        return x.reshape(shape)

    def permute(self, x, axes):
        return x.transpose(axes)

    def expand(self, x, shape):
        return np.broadcast_to(x, shape)

    def getitem(self, x, index):
        # A trailing ... keeps a basic index that picks one element a 0-d view of x
        # (numpy returns a copied scalar without it), so writes through it reach x.
        if not any(entry is Ellipsis for entry in index):  # (`in` would compare arrays)
            index += (Ellipsis,)
        return x[index]

    def index_add(self, shape, index, src):
        out = np.zeros(shape, dtype=src.dtype)
        if any(isinstance(i, np.ndarray) for i in index):
            np.add.at(out, index, src)  # repeated indices must accumulate
        else:
            out[index] += src  # basic indexing: every element is hit at most once
        return out

    def gather(self, x, axis, index):
        return np.take_along_axis(x, index, axis=axis)

    def scatter_add(self, shape, axis, index, src):
        out = np.zeros(shape, dtype=src.dtype)
        grid = list(np.ogrid[tuple(slice(0, n) for n in index.shape)])
        grid[axis] = index
        np.add.at(out, tuple(grid), src)
        return out

    def cat(self, buffers: Sequence, axis):
        return np.concatenate(buffers, axis=axis)

    # -------------------------------------------------------------------- linalg
    def matmul(self, a, b, transpose_a=False, transpose_b=False, bias=None):
        if transpose_a:
            a = a.swapaxes(-1, -2)
        if transpose_b:
            b = b.swapaxes(-1, -2)
        a_shape, b_shape = a.shape, b.shape
        if len(a_shape) >= 2 and len(b_shape) >= 2:  # BLAS threads sized per product
            m, n = a_shape[-2], b_shape[-1]
            blas_threads.fit(m * a_shape[-1] * n, min(m, n))
        if bias is None:
            return np.matmul(a, b)
        out = np.matmul(a, b)
        return np.add(out, bias, out=out)

    # -------------------------------------------------------------- convolution
    # The patch matrix is stored batch-innermost, (C*KH*KW, OH*OW, N) in memory, and
    # returned as its (N, C*KH*KW, OH*OW) transpose. Every copy below then moves runs of
    # OW*N contiguous floats instead of OW, and conv2d reaches the whole batch with ONE
    # matrix product through a free view (see vecgrad/ops/conv.py).
    def im2col(self, x, kernel_size, stride, padding, dilation):
        n, c, h, w = x.shape
        kh, kw = kernel_size
        oh, ow = _pair(padding, kernel_size, stride, dilation, (h, w))
        if padding == (0, 0):
            image = np.ascontiguousarray(x.transpose(1, 2, 3, 0))  # (C, H, W, N)
        else:  # transpose into the middle of a zeroed frame: one copy, not two (np.pad)
            ph, pw = padding
            image = np.zeros((c, h + 2 * ph, w + 2 * pw, n), dtype=x.dtype)
            image[:, ph:ph + h, pw:pw + w, :] = x.transpose(1, 2, 3, 0)
        sc, sh, sw, sn = image.strides
        # A strided view of every window (no loop over pixels), copied once.
        windows = as_strided(
            image, shape=(c, kh, kw, oh, ow, n),
            strides=(sc, sh * dilation[0], sw * dilation[1], sh * stride[0], sw * stride[1], sn),
            writeable=False,
        )
        cols = np.ascontiguousarray(windows).reshape(c * kh * kw, oh * ow, n)
        return cols.transpose(2, 0, 1)

    def col2im(self, cols, input_shape, kernel_size, stride, padding, dilation):
        n, c, h, w = input_shape
        kh, kw = kernel_size
        oh, ow = _pair(padding, kernel_size, stride, dilation, (h, w))
        patches = cols.transpose(1, 2, 0).reshape(c, kh, kw, oh, ow, n)
        out = np.zeros((c, h + 2 * padding[0], w + 2 * padding[1], n), dtype=cols.dtype)
        # One vectorised add per kernel offset (KH*KW of them), never per pixel.
        for i in range(kh):
            top = i * dilation[0]
            rows = slice(top, top + stride[0] * (oh - 1) + 1, stride[0])
            for j in range(kw):
                left = j * dilation[1]
                columns = slice(left, left + stride[1] * (ow - 1) + 1, stride[1])
                out[:, rows, columns, :] += patches[:, i, j]
        out = out[:, padding[0]:padding[0] + h, padding[1]:padding[1] + w, :]
        # An (N, C, H, W) view of the (C, H, W, N) sums, not a transposed copy: conv2d's
        # own output has this memory order too, so the ops between two convolutions
        # (ReLU, pooling, their gradients) and the next im2col all meet one layout.
        return out.transpose(3, 0, 1, 2)

    # The convolution primitives: cache-sized blocks of im2col + GEMM (numpy_conv.py)
    # instead of base.Backend's whole patch matrix. Their images have this layout too.
    def conv2d(self, x, weight, bias, stride, padding, dilation, groups, keep=None):
        return self._conv.conv2d(x, weight, bias, stride, padding, dilation, groups, keep)

    def conv2d_input_grad(self, grad, weight, input_shape, stride, padding, dilation,
                          groups):
        return self._conv.conv2d_input_grad(grad, weight, tuple(input_shape), stride,
                                            padding, dilation, groups)

    def conv2d_weight_grad(self, x, grad, weight_shape, stride, padding, dilation, groups):
        return self._conv.conv2d_weight_grad(x, grad, tuple(weight_shape), stride, padding,
                                             dilation, groups)

    def conv2d_grads(self, x, weight, grad, stride, padding, dilation, groups, needs,
                     keep=None):
        return self._conv.conv2d_grads(x, weight, grad, stride, padding, dilation, groups,
                                       tuple(needs), keep)

    @_quiet
    def max_pool_tiles_backward(self, x, out, grad, kernel_size):
        """base.Backend's rule in fewer passes: each tile offset's share is written
        straight into its strided place in the result (no cat, no float mask), with the
        first maximum taking the gradient, in the same order and roundings (the same
        bits). A nan in `out` (one sum says) leaves it to the generic version's rule."""
        if x.dtype.kind != "f" or np.isnan(np.add.reduce(out, axis=None)):
            return super().max_pool_tiles_backward(x, out, grad, kernel_size)
        kh, kw = kernel_size
        n, c, h, w = x.shape
        oh, ow = out.shape[2:]
        whole = (oh * kh, ow * kw) == (h, w)
        # (C, H, W, N) memory seen as NCHW: the layout conv2d and col2im give
        frame = (np.empty if whole else np.zeros)((c, h, w, n), dtype=grad.dtype)
        result = frame.transpose(3, 0, 1, 2)
        indices = tile_views(x.shape, kernel_size)
        remaining = np.empty_like(out, dtype=grad.dtype)  # in out's (the views') order
        np.copyto(remaining, grad)
        for index in indices[:-1]:
            part = result[index]
            np.multiply(remaining, np.equal(x[index], out), out=part)
            np.subtract(remaining, part, out=remaining)
        result[indices[-1]] = remaining
        return result

    # ---------------------------------------------------------------- optimizers
    def fused_updates(self, rule, params, grads, states, hyper):
        """fused_update per parameter (numpy has no launch to save)."""
        return [self.fused_update(rule, p, g, s, hyper) for p, g, s in zip(params, grads, states)]

    @_quiet
    def fused_update(self, rule, param, grad, state, hyper):
        """Adam as in-place numpy calls on the buffers, in exactly the order and
        roundings of the Tensor code in vecgrad/optim.py (so results are the same bits):
        the Tensor code costs ~10 Python-level ops per parameter, which on small layers
        is most of the step. Other rules keep the Tensor code (it is already one or two
        in-place calls for SGD). Aliased buffers or non-float dtypes decline."""
        if rule != "adam" or param.dtype.kind != "f" or len(state) != 2:
            return False
        s, r = state
        buffers = (param, grad, s, r)
        if any(b.dtype != param.dtype or b.shape != param.shape for b in buffers):
            return False
        if any(np.may_share_memory(a, b) for i, a in enumerate(buffers)
               for b in buffers[i + 1:]):
            return False
        t = param.dtype.type
        decay = hyper["weight_decay"]
        if decay:
            grad = grad + param * t(decay)
        beta1, beta2 = hyper["beta1"], hyper["beta2"]
        np.multiply(s, t(beta1), out=s)
        self.axpy(s, grad, 1.0 - beta1)
        np.multiply(r, t(beta2), out=r)
        self.axpy(r, grad * grad, 1.0 - beta2)
        scale = 1.0 / hyper["bias2"]
        scaled = r * t(scale) if scale != 1.0 else r
        if hyper["eps_inside_sqrt"]:
            denominator = np.sqrt(scaled + t(hyper["eps"]))
        else:
            denominator = np.sqrt(scaled) + t(hyper["eps"])
        self.axpy(param, s / denominator, -(hyper["lr"] / hyper["bias1"]))
        return True

    # ------------------------------------------------------------------ softmax
    @_quiet
    def softmax(self, x, axis):
        if x.size == 0:  # np.max has no identity over an empty axis
            return np.empty_like(x)
        e = np.exp(x - np.maximum.reduce(x, axis=axis, keepdims=True))
        e /= np.add.reduce(e, axis=axis, keepdims=True)
        return e

    @_quiet
    def log_softmax(self, x, axis):
        if x.size == 0:  # np.max has no identity over an empty axis
            return np.empty_like(x)
        z = x - np.maximum.reduce(x, axis=axis, keepdims=True)
        z -= np.log(np.add.reduce(np.exp(z), axis=axis, keepdims=True))
        return z

    def cross_entropy(self, logits, labels, scale=1.0):
        log_probs = self.log_softmax(logits, 1)
        losses = -log_probs[np.arange(len(labels)), labels]
        if scale != 1.0:
            losses *= losses.dtype.type(scale)
        return losses, log_probs

    @_quiet
    def cross_entropy_backward(self, log_probs, labels, grad, scale):
        out = np.exp(log_probs)
        out[np.arange(len(labels)), labels] -= 1
        weight = np.multiply(grad, scale, dtype=out.dtype)
        out *= weight[:, None] if weight.ndim else weight
        return out


def create_backend(device: str) -> NumpyBackend:
    """The registry's constructor (see vecgrad.backends)."""
    return NumpyBackend(device)


def list_devices() -> list[str]:
    """The one CPU device."""
    return ["cpu"]
