"""Elementwise arithmetic, math functions, where, clip and comparisons.

Each Function states its local derivative once, in backend primitives; broadcasting is
undone by common.unbroadcast.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from vecgrad.autograd import Function
from vecgrad.ops import common, creation
from vecgrad.ops.common import binary_operands, unbroadcast


class Add(Function):

    @staticmethod
    def forward(ctx, a, b):
        ctx.attrs = (a.shape, b.shape)
        return ctx.backend.binary("add", a, b)

    @staticmethod
    def backward(ctx, grad):
        sa, sb = ctx.attrs
        be = ctx.backend
        return unbroadcast(be, grad, sa), unbroadcast(be, grad, sb)


class Sub(Function):

    @staticmethod
    def forward(ctx, a, b):
        ctx.attrs = (a.shape, b.shape)
        return ctx.backend.binary("sub", a, b)

    @staticmethod
    def backward(ctx, grad):
        sa, sb = ctx.attrs
        be = ctx.backend
        gb = unbroadcast(be, be.unary("neg", grad), sb) if ctx.needs_input_grad[1] else None
        return unbroadcast(be, grad, sa), gb


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.backend.binary("mul", a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        be = ctx.backend
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = unbroadcast(be, be.binary("mul", grad, b), a.shape)
        if ctx.needs_input_grad[1]:
            gb = unbroadcast(be, be.binary("mul", grad, a), b.shape)
        return ga, gb


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = ctx.backend.binary("div", a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        be = ctx.backend
        ga = be.binary("div", grad, b)  # d(a/b)/da = 1/b
        gb = None
        if ctx.needs_input_grad[1]:  # d(a/b)/db = -(a/b)/b
            gb = unbroadcast(be, be.unary("neg", be.binary("mul", ga, out)), b.shape)
        return unbroadcast(be, ga, a.shape) if ctx.needs_input_grad[0] else None, gb


class FloorDivide(Function):
    """a // b: piecewise constant, so its gradient is 0 for both (PyTorch refuses to
    differentiate it; floor, round and sign give 0 here and there)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.attrs = (a.shape, b.shape, a.dtype)
        return ctx.backend.binary("floor_divide", a, b)

    @staticmethod
    def backward(ctx, grad):
        sa, sb, dtype = ctx.attrs
        be = ctx.backend
        return tuple(be.full(shape, 0, dtype) if needed else None
                     for shape, needed in zip((sa, sb), ctx.needs_input_grad))


class Remainder(Function):
    """a % b = a - (a // b) b with the sign of b: d/da = 1, d/db = -(a // b)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.backend.binary("remainder", a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        be = ctx.backend
        gb = None
        if ctx.needs_input_grad[1]:
            quotient = be.binary("floor_divide", a, b)
            gb = unbroadcast(be, be.unary("neg", be.binary("mul", grad, quotient)), b.shape)
        return unbroadcast(be, grad, a.shape), gb


def _power(be, a, b, number):
    """a ** b. A Python-number exponent (`number`) of 0.5 or -0.5 is sqrt(a) or
    1 / sqrt(a), as PyTorch computes x ** 0.5 and x ** -0.5 (numpy's x ** 0.5 too):
    they differ from C's pow (the "pow" primitive, for tensor exponents) only at -0.0
    (-0.0 and -inf instead of +0.0 and +inf) and -inf (nan instead of +inf and +0.0)."""
    if number == 0.5:
        return be.unary("sqrt", a)
    if number == -0.5:
        return be.unary("reciprocal", be.unary("sqrt", a))
    return be.binary("pow", a, b)


class Pow(Function):
    @staticmethod
    def forward(ctx, a, b, *, number=None):
        ctx.attrs = number  # the exponent when it was a Python number (see _power)
        out = _power(ctx.backend, a, b, number)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        number = ctx.attrs
        be = ctx.backend
        ga = gb = None
        zero = be.full((), 0, out.dtype)
        if ctx.needs_input_grad[0]:  # b * a^(b-1); 0 where b == 0 (a^0 is constant, even at a=0)
            one = be.full((), 1, b.dtype)
            # where b == 0 the exponent b - 1 becomes 0: 0^-1 = inf would give 0 * inf = nan
            # here, and in a recorded backward the masked branch's derivative (0 * inf)
            # would still poison the Hessian of x**0 (or the third derivative of x**1) at 0
            b_is_zero = be.compare("eq", b, zero)
            exponent = be.where(b_is_zero, be.full((), 0, b.dtype), be.binary("sub", b, one))
            # (x ** 1.5's slope 1.5 x ** 0.5 is computed as PyTorch computes it: by sqrt)
            local = be.binary("mul", b, _power(be, a, exponent,
                                               None if number is None else number - 1))
            local = be.where(b_is_zero, zero, local)
            ga = unbroadcast(be, be.binary("mul", grad, local), a.shape)
        if ctx.needs_input_grad[1]:  # a^b * log(a); 0 where a == 0 and b >= 0 (PyTorch's limit)
            local = be.binary("mul", out, be.unary("log", a))
            at_zero = be.where(be.compare("ge", b, zero), zero, local)
            local = be.where(be.compare("eq", a, zero), at_zero, local)
            gb = unbroadcast(be, be.binary("mul", grad, local), b.shape)
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, x):
        return ctx.backend.unary("neg", x)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.unary("neg", grad)


class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        out = ctx.backend.unary("exp", x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.binary("mul", grad, ctx.saved_tensors[0])


class Log(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.unary("log", x)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.binary("div", grad, ctx.saved_tensors[0])


class Sqrt(Function):
    @staticmethod
    def forward(ctx, x):
        out = ctx.backend.unary("sqrt", x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        be = ctx.backend
        (out,) = ctx.saved_tensors
        return be.binary("div", grad, be.binary("add", out, out))  # 1 / (2 sqrt x)


class Abs(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.unary("abs", x)

    @staticmethod
    def backward(ctx, grad):
        be = ctx.backend
        return be.binary("mul", grad, be.unary("sign", ctx.saved_tensors[0]))  # |x|'(0) = 0


class Sin(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.unary("sin", x)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.binary("mul", grad, ctx.backend.unary("cos", ctx.saved_tensors[0]))


class Cos(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.unary("cos", x)

    @staticmethod
    def backward(ctx, grad):
        be = ctx.backend
        return be.binary("mul", grad, be.unary("neg", be.unary("sin", ctx.saved_tensors[0])))


class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_for_backward(cond)
        ctx.attrs = (a.shape, b.shape)
        return ctx.backend.where(cond, a, b)

    @staticmethod
    def backward(ctx, grad):
        (cond,) = ctx.saved_tensors
        sa, sb = ctx.attrs
        be = ctx.backend
        zero = be.full((), 0, grad.dtype)
        ga = unbroadcast(be, be.where(cond, grad, zero), sa) if ctx.needs_input_grad[1] else None
        gb = unbroadcast(be, be.where(cond, zero, grad), sb) if ctx.needs_input_grad[2] else None
        return None, ga, gb


class Clip(Function):
    @staticmethod
    def forward(ctx, x, *, low, high):
        be = ctx.backend
        ctx.save_for_backward(x)
        ctx.attrs = (low, high)
        out = x
        if low is not None:
            out = be.binary("maximum", out, be.full((), low, x.dtype))
        if high is not None:
            out = be.binary("minimum", out, be.full((), high, x.dtype))
        return be.copy(out) if out is x else out

    @staticmethod
    def backward(ctx, grad):
        # gradient 1 inside [low, high] (ends included, like PyTorch's clamp), 0 outside
        (x,) = ctx.saved_tensors
        low, high = ctx.attrs
        be = ctx.backend
        zero = be.full((), 0, grad.dtype)
        if low is not None:
            grad = be.where(be.compare("ge", x, be.full((), low, x.dtype)), grad, zero)
        if high is not None:
            grad = be.where(be.compare("le", x, be.full((), high, x.dtype)), grad, zero)
        return grad


# ------------------------------------------------------------------ public functions
def _float_operands(op, a, b):
    a, b = binary_operands(op, a, b)
    if a.dtype == np.bool_:
        a, b = common.cast(a, np.int64), common.cast(b, np.int64)
    return a, b


def add(a, b):
    """a + b with broadcasting."""
    a, b = _float_operands("add", a, b)
    return Add.apply(a, b)


def sub(a, b):
    """a - b with broadcasting."""
    a, b = _float_operands("sub", a, b)
    return Sub.apply(a, b)


def mul(a, b):
    """a * b with broadcasting."""
    a, b = _float_operands("mul", a, b)
    return Mul.apply(a, b)


def div(a, b):
    """a / b (true division: integer tensors give float32, like PyTorch)."""
    a, b = binary_operands("div", a, b)
    if not common.is_float(a.dtype):
        a, b = common.cast(a, np.float32), common.cast(b, np.float32)
    return Div.apply(a, b)


def _integer_divisor(op, b):
    """Refuse a zero integer divisor (PyTorch's ZeroDivisionError): numpy would give 0
    with a warning and an OpenCL device would trap. Reads b once on the host."""
    if b.dtype.kind in "iu" and not np.all(b.numpy()):
        raise ZeroDivisionError(f"{op}: integer division by zero")


def floor_divide(a, b):
    """a // b: a / b rounded down, with broadcasting (Python's and PyTorch's //).
    Integers stay integers; gradient 0 (PyTorch has none)."""
    a, b = _float_operands("floor_divide", a, b)
    _integer_divisor("floor_divide", b)
    return FloorDivide.apply(a, b)


def remainder(a, b):
    """a % b with the sign of b (Python's and PyTorch's %): a - (a // b) * b."""
    a, b = _float_operands("remainder", a, b)
    _integer_divisor("remainder", b)
    return Remainder.apply(a, b)


def pow(a, b):  # noqa: A001 - the op's name
    """a ** b with broadcasting (x ** 0.5 and x ** -0.5 as PyTorch: see _power)."""
    number = b if isinstance(b, numbers.Real) and not isinstance(b, (bool, np.bool_)) \
        else None
    a, b = binary_operands("pow", a, b)
    if not common.is_float(a.dtype):
        if a.dtype == np.int64 and np.any(b.numpy() < 0):
            raise ValueError("pow: integer tensors cannot be raised to negative integer powers; "
                             "convert to float first with .float()")
        if a.dtype == np.bool_:
            a, b = common.cast(a, np.int64), common.cast(b, np.int64)
    if number in (0.5, -0.5, 1.5) and common.is_float(a.dtype):  # (1.5: its slope)
        return Pow.apply(a, b, number=float(number))
    return Pow.apply(a, b)


def neg(x):
    """-x."""
    if x.dtype == np.bool_:
        raise TypeError("neg: bool tensors cannot be negated; use ~ for logical not")
    return Neg.apply(x)


def _unary(op, function, x):
    common.require_float(op, x)
    return function.apply(x)


def exp(x):
    """e ** x."""
    return _unary("exp", Exp, x)


def log(x):
    """Natural logarithm (log 0 = -inf, log of a negative = nan, like numpy)."""
    return _unary("log", Log, x)


def sqrt(x):
    """Square root."""
    return _unary("sqrt", Sqrt, x)


def sin(x):
    """sin(x)."""
    return _unary("sin", Sin, x)


def cos(x):
    """cos(x)."""
    return _unary("cos", Cos, x)


def abs(x):  # noqa: A001 - the op's name
    """|x| (gradient sign(x), 0 at 0)."""
    if x.dtype == np.bool_:
        return x.detach()
    return Abs.apply(x)


def sign(x):
    """-1, 0 or 1 per element, nan for nan (like PyTorch and numpy); gradient 0."""
    if x.dtype == np.bool_:
        return x._wrap(x._backend.copy(x._buf), x._backend)
    return _no_gradient_result(x, x._backend.unary("sign", x._buf))


def where(cond, a, b):
    """Elementwise cond ? a : b with broadcasting; cond is a bool Tensor."""
    if not common.is_tensor(cond) or cond.dtype != np.bool_:
        got = cond.dtype if common.is_tensor(cond) else type(cond).__name__
        raise TypeError(f"where: condition must be a bool Tensor (e.g. x > 0), got {got}")
    if not common.is_tensor(a) and not common.is_tensor(b):
        # two numbers: PyTorch's result dtype for them (a float makes float32, else an
        # int makes int64, else bool); where(m, 1, 0) was float32
        for value in (a, b):
            common.check_real("where", value, "a value")
        kinds = [(isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)),
                  isinstance(v, (bool, np.bool_))) for v in (a, b)]
        dtype = np.bool_ if all(is_bool for _, is_bool in kinds) else \
            np.int64 if all(is_int or is_bool for is_int, is_bool in kinds) else np.float32
        a = common.constant(a, dtype, cond._backend, "where")
    a, b = binary_operands("where", a, b)
    common.check_same_device("where", cond, a)
    common.broadcast_shape("where", cond.shape, a.shape, b.shape)
    return Where.apply(cond, a, b)


def clip(x, min=None, max=None):  # noqa: A002 - numpy's names
    """Limit values to [min, max] (either may be None); gradient 0 outside."""
    if min is None and max is None:
        raise ValueError("clip: give min, max or both")
    for name, bound in (("min", min), ("max", max)):
        if bound is not None and not isinstance(bound, numbers.Real):
            raise TypeError(f"clip: {name} must be a number, got {type(bound).__name__}")
    # min > max: every element becomes max, as min(max(x, min), max) gives (PyTorch's rule)
    if x.dtype == np.bool_:
        raise TypeError("clip: bool tensors cannot be clipped")
    if x.dtype == np.int64 and any(bound is not None and not isinstance(bound, numbers.Integral)
                                   for bound in (min, max)):
        x = common.cast(x, np.float32)  # a float bound: a float result (PyTorch's promotion)
    # (each bound as a value of x's dtype: an int tensor took 0.5 as 0 before the cast)
    low = None if min is None else common.scalar_value("clip", min, x.dtype, "min")
    high = None if max is None else common.scalar_value("clip", max, x.dtype, "max")
    return Clip.apply(x, low=low, high=high)


def compare(op, a, b):
    """Elementwise comparison (eq, ne, lt, le, gt, ge) -> bool Tensor without gradient."""
    a, b = binary_operands(op, a, b)
    return a._wrap(a._backend.compare(op, a._buf, b._buf), a._backend)


_LOGICAL_SYMBOLS = {"logical_and": "&", "logical_or": "|", "logical_xor": "^"}


def logical(op, a, b):
    """a & b, a | b or a ^ b of bool Tensors (masks) or Python bools; no gradient.

    Written with where and compare, so every backend has them without kernels of
    their own.
    """
    symbol = _LOGICAL_SYMBOLS[op]
    for operand in (a, b):
        is_mask = common.is_tensor(operand) and operand.dtype == np.bool_
        if not (is_mask or isinstance(operand, (bool, np.bool_))):
            got = operand.dtype if common.is_tensor(operand) else type(operand).__name__
            raise TypeError(f"{op}: {symbol} needs bool tensors (masks such as x > 0) or "
                            f"Python bools, got {got}; compare first, e.g. (x > 0) {symbol} m")
    a, b = binary_operands(op, a, b)
    be = a._backend
    if op == "logical_xor":
        out = be.compare("ne", a._buf, b._buf)
    elif op == "logical_and":
        out = be.where(a._buf, b._buf, be.full((), False, np.bool_))
    else:
        out = be.where(a._buf, be.full((), True, np.bool_), b._buf)
    return a._wrap(out, be)


def logical_not(x):
    """~x for a bool Tensor."""
    if x.dtype != np.bool_:
        raise TypeError(f"invert: ~ needs a bool tensor (a mask), got {x.dtype}")
    return compare("eq", x, False)


# ------------------------------------------------- more math (the everyday PyTorch API)
class Log1p(Function):
    """log(1 + x), exact near 0 (a primitive: log(1 + x) loses every digit below 1e-16)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.unary("log1p", x)

    @staticmethod
    def backward(ctx, grad):
        be = ctx.backend
        (x,) = ctx.saved_tensors
        return be.binary("div", grad, be.binary("add", x, be.full((), 1, x.dtype)))


class Expm1(Function):
    """exp(x) - 1, exact near 0; d/dx = exp(x), computed as exp(x): out + 1 cancels where
    out is near -1 (float32 expm1'(-10) was 1e-3 off, and 0 at -17 where OpenCL's
    expm1 rounds to -1)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.unary("expm1", x)

    @staticmethod
    def backward(ctx, grad):
        be = ctx.backend
        (x,) = ctx.saved_tensors
        return be.binary("mul", grad, be.unary("exp", x))


class Erf(Function):
    """The error function; d/dx = 2/sqrt(pi) exp(-x^2)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.unary("erf", x)

    @staticmethod
    def backward(ctx, grad):
        be = ctx.backend
        (x,) = ctx.saved_tensors
        local = be.unary("exp", be.unary("neg", be.binary("mul", x, x)))
        local = be.binary("mul", local, be.full((), 2.0 / math.sqrt(math.pi), x.dtype))
        return be.binary("mul", grad, local)


class MaximumMinimum(Function):
    """Elementwise maximum/minimum; a tie sends half the gradient to each side (PyTorch)."""

    @staticmethod
    def forward(ctx, a, b, *, op):
        ctx.save_for_backward(a, b)
        ctx.attrs = op
        return ctx.backend.binary(op, a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        be = ctx.backend
        wins = "gt" if ctx.attrs == "maximum" else "lt"
        zero = be.full((), 0, grad.dtype)
        half = be.binary("mul", grad, be.full((), 0.5, grad.dtype))
        tie = be.compare("eq", a, b)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = be.where(be.compare(wins, a, b), grad, be.where(tie, half, zero))
            ga = unbroadcast(be, ga, a.shape)
        if ctx.needs_input_grad[1]:
            gb = be.where(be.compare(wins, b, a), grad, be.where(tie, half, zero))
            gb = unbroadcast(be, gb, b.shape)
        return ga, gb


def _float_input(op, x):
    """x as a float Tensor: integer and bool tensors become float32 (PyTorch's rule)."""
    if not common.is_tensor(x):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return x if common.is_float(x.dtype) else common.cast(x, np.float32)


def log1p(x):
    """log(1 + x), accurate for tiny x."""
    return Log1p.apply(_float_input("log1p", x))


def expm1(x):
    """exp(x) - 1, accurate for tiny x."""
    return Expm1.apply(_float_input("expm1", x))


def erf(x):
    """The error function 2/sqrt(pi) * integral of exp(-t^2) from 0 to x."""
    return Erf.apply(_float_input("erf", x))


class Exp2(Function):
    """2 ** x, a primitive (exp(x ln 2) gave exp2(3) = 7.999999999999998 in float64);
    d/dx = ln 2 * 2 ** x."""

    @staticmethod
    def forward(ctx, x):
        out = ctx.backend.unary("exp2", x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        be = ctx.backend
        (out,) = ctx.saved_tensors
        return be.binary("mul", grad, be.binary("mul", out, be.full((), math.log(2.0),
                                                                   out.dtype)))


class LogBase(Function):
    """log2 or log10, a primitive (log(x) / log(2) gave log2(8) = 2.9999999999999996 in
    float64); d/dx = 1 / (x ln base)."""

    @staticmethod
    def forward(ctx, x, *, op):
        ctx.save_for_backward(x)
        ctx.attrs = math.log(2.0) if op == "log2" else math.log(10.0)
        return ctx.backend.unary(op, x)

    @staticmethod
    def backward(ctx, grad):
        be = ctx.backend
        (x,) = ctx.saved_tensors
        return be.binary("div", grad, be.binary("mul", x, be.full((), ctx.attrs, x.dtype)))


def exp2(x):
    """2 ** x."""
    return Exp2.apply(_float_input("exp2", x))


def log2(x):
    """Base-2 logarithm."""
    return LogBase.apply(_float_input("log2", x), op="log2")


def log10(x):
    """Base-10 logarithm."""
    return LogBase.apply(_float_input("log10", x), op="log10")


def tan(x):
    """tan(x) = sin(x) / cos(x)."""
    x = _float_input("tan", x)
    return div(sin(x), cos(x))


def square(x):
    """x * x."""
    if x.dtype == np.bool_:
        x = common.cast(x, np.int64)
    return mul(x, x)


def reciprocal(x):
    """1 / x."""
    return div(1.0, _float_input("reciprocal", x))


def rsqrt(x):
    """1 / sqrt(x)."""
    return div(1.0, sqrt(_float_input("rsqrt", x)))


def _no_gradient_result(x, buf):
    """`buf` as x's result with gradient 0 (PyTorch's choice for floor, round, sign, ...):
    recorded through where(True, buf, x), so backward() through it works and gives 0."""
    out = x._wrap(buf, x._backend)
    if not x.requires_grad:
        return out
    keep = x._wrap(x._backend.full((), True, np.bool_), x._backend)
    return Where.apply(keep, out, x)


def _rounding(op, x):
    if not common.is_tensor(x):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if not common.is_float(x.dtype):  # integers are already whole (PyTorch returns a copy)
        return x._wrap(x._backend.copy(x._buf), x._backend)
    return _no_gradient_result(x, x._backend.unary(op, x._buf))


def floor(x):
    """Largest whole number <= x (gradient 0)."""
    return _rounding("floor", x)


def ceil(x):
    """Smallest whole number >= x (gradient 0)."""
    return _rounding("ceil", x)


def trunc(x):
    """x rounded toward 0 (gradient 0)."""
    return _rounding("trunc", x)


def round(x, decimals=0):  # noqa: A001 - the op's name
    """Round half to even, like PyTorch and numpy (gradient 0); `decimals` as in PyTorch."""
    if not isinstance(decimals, (int, np.integer)) or isinstance(decimals, bool):
        raise TypeError(f"round: decimals must be an int, got {type(decimals).__name__}")
    if decimals == 0:
        return _rounding("round", x)
    if not common.is_float(x.dtype):
        if decimals < 0:  # (it returned the integers unchanged: 1234 for 1200)
            raise TypeError(f"round: decimals={decimals} needs a float tensor (an {x.dtype} "
                            f"tensor has no fraction to round, and rounding it to tens "
                            f"is not supported); convert it first, e.g. x.double()")
        return _rounding("round", x)
    scale = 10.0 ** int(decimals)
    with_graph = x.requires_grad
    scaled = x.detach() * scale
    out = _rounding("round", scaled) / scale
    return _no_gradient_result(x, out._buf) if with_graph else out


def maximum(a, b):
    """Elementwise larger value (nan wins, like PyTorch); ties split the gradient."""
    a, b = binary_operands("maximum", a, b)
    return MaximumMinimum.apply(a, b, op="maximum")


def minimum(a, b):
    """Elementwise smaller value (nan wins); ties split the gradient."""
    a, b = binary_operands("minimum", a, b)
    return MaximumMinimum.apply(a, b, op="minimum")


def lerp(start, end, weight):
    """start + weight * (end - start); weight is a number or a tensor (broadcast).

    PyTorch's form: from start below weight 0.5 and from end above, so weight 0 gives
    start and weight 1 gives end exactly (start + (end - start) gave 0 for lerp(1e8, 1, 1)
    in float32).
    """
    if not common.is_tensor(start):
        raise TypeError(f"lerp: start must be a Tensor, got {type(start).__name__}")
    common.require_float("lerp", start)
    others = [t for t in (end, weight) if common.is_tensor(t)]
    common.check_same_device("lerp", start, *others)  # (else sub or mul would be named)
    diff = sub(end, start)
    if not common.is_tensor(weight):
        common.check_real("lerp", weight, "weight")
        if weight < 0.5:
            return add(start, mul(weight, diff))
        return sub(end, mul(1.0 - weight, diff))  # (nan weight: nan, as PyTorch)
    from_start = add(start, mul(weight, diff))
    from_end = sub(end, mul(sub(1.0, weight), diff))
    return where(weight < 0.5, from_start, from_end)


def dropout(x, p=0.5, training=True):
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only).

    The mask comes from vecgrad.random_generator(), so manual_seed makes it repeatable.
    """
    if not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p!r}")
    common.require_float("dropout", x)
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0.0
    keep = creation.random_generator().random(x.shape) >= p
    mask = creation.tensor((keep / (1.0 - p)).astype(x.dtype), device=x.device)
    return x * mask


def _tolerance(op, name, value):
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)) or \
            not value >= 0:
        raise ValueError(f"{op}: {name} must be a number >= 0, got {value!r}")
    return float(value)


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|a - b| <= atol + rtol * |b| elementwise, as a bool Tensor without gradient
    (PyTorch's and numpy's rule: infinities are close only to themselves; nan to nan
    only with equal_nan=True)."""
    if not common.is_tensor(a) or not common.is_tensor(b):
        got = type(b if common.is_tensor(a) else a).__name__
        raise TypeError(f"isclose: expected two Tensors, got {got}")
    rtol, atol = _tolerance("isclose", "rtol", rtol), _tolerance("isclose", "atol", atol)
    a, b = binary_operands("isclose", a.detach(), b.detach())
    if a.dtype == np.bool_:
        return compare("eq", a, b)
    if not common.is_float(a.dtype):  # int64: the tolerance in float64, as PyTorch
        a, b = common.cast(a, np.float64), common.cast(b, np.float64)
    close = compare("eq", a, b)  # equal infinities (their difference is nan)
    diff = abs(a - b)
    close = close | ((diff <= atol + rtol * abs(b)) & b.isfinite())
    if equal_nan:
        close = close | (a.isnan() & b.isnan())
    return close


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """True when isclose holds for every element (shapes broadcast), as a Python bool."""
    return bool(isclose(a, b, rtol, atol, equal_nan).all().item())


def equal(a, b) -> bool:
    """True when a and b have the same shape and the same values (PyTorch's torch.equal;
    nan is not equal to itself). A Python bool."""
    if not common.is_tensor(a) or not common.is_tensor(b):
        got = type(b if common.is_tensor(a) else a).__name__
        raise TypeError(f"equal: expected two Tensors, got {got}")
    if a.shape != b.shape:
        return False
    return bool(compare("eq", a.detach(), b.detach()).all().item())
