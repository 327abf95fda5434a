"""Matrix products: `@` for 1-D, 2-D and batched operands, and the fused x @ w.T of linear."""

from __future__ import annotations

from vecgrad.autograd import Function
from vecgrad.ops import common, movement
from vecgrad.ops.common import fmt_shape, unbroadcast


class MatMul(Function):
    """op(a) @ op(b), where op transposes the last two axes when its flag is set.

    The flags let linear layers use w (out, in) directly: no transposed copy forward, and
    w's gradient comes out contiguous in w's own layout.
    """

    @staticmethod
    def forward(ctx, a, b, *, transpose_a=False, transpose_b=False):
        ctx.save_for_backward(a, b)
        ctx.attrs = (transpose_a, transpose_b)
        return ctx.backend.matmul(a, b, transpose_a, transpose_b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        ta, tb = ctx.attrs
        be = ctx.backend
        ga = gb = None
        if ctx.needs_input_grad[1]:  # (b's first: a's is read next, see Linear.backward)
            if tb:  # db = grad^T @ op(a)
                gb = be.matmul(grad, a, True, ta)
            else:  # db = op(a)^T @ grad
                gb = be.matmul(a, grad, not ta, False)
            gb = unbroadcast(be, gb, b.shape)
        if ctx.needs_input_grad[0]:
            if ta:  # a' = a^T: da = op(b) @ grad^T
                ga = be.matmul(b, grad, tb, True)
            else:  # da = grad @ op(b)^T
                ga = be.matmul(grad, b, False, not tb)
            ga = unbroadcast(be, ga, a.shape)
        return ga, gb


class Linear(Function):
    """x @ w^T + b: the backend adds the bias as it writes the product (one pass less;
    on OpenCL one launch less)."""

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        return ctx.backend.matmul(x, w, False, True, bias=b)

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        be = ctx.backend
        needs = ctx.needs_input_grad
        gx = gw = gb = None
        # The weight's and bias's gradients first, x's last: the walk hands x's to the
        # layer below next (its activation's backward reads it at once), so it should
        # still be in the cache, not pushed out by the weight gradient's megabytes.
        if needs[1]:
            gw = be.matmul(grad, x, True, False)
            if gw.shape != w.shape:  # x had batch axes: sum them
                gw = unbroadcast(be, gw, w.shape)
        if needs[2]:  # b was broadcast over every leading axis
            lead = len(grad.shape) - 1
            gb = be.reduce("sum", grad, (0,) if lead == 1 else tuple(range(lead)), False)
        if needs[0]:
            gx = be.matmul(grad, w, False, False)
            if gx.shape != x.shape:  # (unbroadcast's own first test, without its call)
                gx = unbroadcast(be, gx, x.shape)
        return gx, gw, gb


class MatMulBias(Function):
    """a @ b + bias (bias broadcast against the product, added in place into it)."""

    @staticmethod
    def forward(ctx, a, b, bias):
        be = ctx.backend
        ctx.save_for_backward(a, b)
        ctx.attrs = bias.shape
        out = be.matmul(a, b, False, False)
        return be.binary("add", out, bias, out=out)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        be = ctx.backend
        ga = unbroadcast(be, be.matmul(grad, b, False, True), a.shape) \
            if ctx.needs_input_grad[0] else None
        gb = unbroadcast(be, be.matmul(a, grad, True, False), b.shape) \
            if ctx.needs_input_grad[1] else None
        gbias = unbroadcast(be, grad, ctx.attrs) if ctx.needs_input_grad[2] else None
        return ga, gb, gbias


def _operands(op, a, b):
    a, b = common.binary_operands(op, a, b, broadcast=False)
    common.require_float(op, a, "operand")  # b has a's dtype now (binary_operands)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"{op}: {fmt_shape(a.shape)} @ {fmt_shape(b.shape)}: "
                         f"0-dimensional operands have no matrix product; use *")
    return a, b


def _check(op, a_shape, b_shape, shown_a, shown_b, tb=False):
    inner_b = b_shape[-1] if tb else b_shape[-2]
    if a_shape[-1] != inner_b:
        raise ValueError(f"{op}: {fmt_shape(shown_a)} @ {fmt_shape(shown_b)}: "
                         f"{a_shape[-1]} != {inner_b}")
    try:
        common.broadcast_shape(op, a_shape[:-2], b_shape[:-2])
    except ValueError:
        raise ValueError(f"{op}: {fmt_shape(shown_a)} @ {fmt_shape(shown_b)}: batch shapes "
                         f"{fmt_shape(a_shape[:-2])} and {fmt_shape(b_shape[:-2])} do not "
                         f"broadcast") from None


def matmul(a, b):
    """a @ b with numpy.matmul semantics (1-D operands are promoted, then squeezed)."""
    a, b = _operands("matmul", a, b)
    a2 = movement.unsqueeze(a, 0) if a.ndim == 1 else a
    b2 = movement.unsqueeze(b, 1) if b.ndim == 1 else b
    _check("matmul", a2.shape, b2.shape, a.shape, b.shape)
    out = MatMul.apply(a2, b2)
    if a.ndim == 1:
        out = movement.squeeze(out, -2)
    if b.ndim == 1:
        out = movement.squeeze(out, -1)
    return out


def linear(x, w, b=None):
    """x @ w^T (+ b) over the last two axes; w is (out, in) like a Linear weight."""
    tensor = common.Tensor
    if isinstance(x, tensor) and isinstance(w, tensor) and isinstance(b, tensor):
        # The layer's every call: three tensors of one float dtype on one device, a
        # batch of rows, a 2-D weight and its bias. Checked here in one expression
        # (the general path below makes the same checks with a dozen calls, a tenth of
        # a small layer's step); any other case, and every error, goes the general way.
        xb, wb, bb = x._buf, w._buf, b._buf
        x_shape, w_shape = xb.shape, wb.shape
        dtype = xb.dtype
        if (len(x_shape) >= 2 and len(w_shape) == 2 and x_shape[-1] == w_shape[1]
                and bb.shape == w_shape[:1] and wb.dtype == dtype and bb.dtype == dtype
                and dtype in common.FLOAT_DTYPES
                and x._backend is w._backend is b._backend):
            return Linear.apply(x, w, b)
    x, w = _operands("linear", x, w)
    x_shape, w_shape = x.shape, w.shape  # (each .shape is a property call)
    if len(w_shape) != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got "
                         f"{fmt_shape(w_shape)}")
    vector = len(x_shape) == 1
    x2 = movement.unsqueeze(x, 0) if vector else x
    if x_shape[-1] != w_shape[1]:
        raise ValueError(f"linear: input {fmt_shape(x_shape)} has {x_shape[-1]} features but "
                         f"weight {fmt_shape(w_shape)} expects {w_shape[1]}")
    if b is None:
        out = MatMul.apply(x2, w, transpose_b=True)
    else:
        if not common.is_tensor(b) or b.shape != (w_shape[0],):
            got = fmt_shape(b.shape) if common.is_tensor(b) else type(b).__name__
            raise ValueError(f"linear: bias must have shape ({w_shape[0]},), got {got}")
        common.check_same_device("linear", x, b)
        if b.dtype != x.dtype:
            b = common.cast(b, x.dtype)
        out = Linear.apply(x2, w, b)
    return movement.squeeze(out, 0) if vector else out


def _exact_ndim(op, t, ndim, what):
    if not common.is_tensor(t):
        raise TypeError(f"{op}: {what} must be a Tensor, got {type(t).__name__}")
    if t.ndim != ndim:
        raise ValueError(f"{op}: {what} must be {ndim}-D, got shape {fmt_shape(t.shape)}")


def mm(a, b):
    """Product of two matrices (2-D only; matmul broadcasts)."""
    _exact_ndim("mm", a, 2, "first operand")
    _exact_ndim("mm", b, 2, "second operand")
    common.check_same_device("mm", a, b)  # (else matmul would be named)
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"mm: {fmt_shape(a.shape)} @ {fmt_shape(b.shape)}: "
                         f"{a.shape[1]} != {b.shape[0]}")
    return matmul(a, b)


def bmm(a, b):
    """Batched product of (B, N, K) and (B, K, M) (no broadcasting; matmul broadcasts)."""
    _exact_ndim("bmm", a, 3, "first operand")
    _exact_ndim("bmm", b, 3, "second operand")
    common.check_same_device("bmm", a, b)  # (else matmul would be named)
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ValueError(f"bmm: {fmt_shape(a.shape)} @ {fmt_shape(b.shape)}: need (B, N, K) "
                         f"and (B, K, M) with the same B and K")
    return matmul(a, b)


def dot(a, b):
    """Inner product of two 1-D tensors of one length."""
    _exact_ndim("dot", a, 1, "first operand")
    _exact_ndim("dot", b, 1, "second operand")
    common.check_same_device("dot", a, b)  # (else matmul would be named)
    if a.shape != b.shape:
        raise ValueError(f"dot: lengths differ: {a.shape[0]} and {b.shape[0]}")
    return matmul(a, b)


def outer(a, b):
    """Outer product of two 1-D tensors: out[i, j] = a[i] * b[j]."""
    _exact_ndim("outer", a, 1, "first operand")
    _exact_ndim("outer", b, 1, "second operand")
    common.check_same_device("outer", a, b)  # (else mul would be named)
    return movement.unsqueeze(a, 1) * movement.unsqueeze(b, 0)
