"""One LSTM time step as one op: (xp, [h, c], W_hh) -> [h', c'].

An LSTM step is a recurrent matrix product and then eleven elementwise operations.
Recorded one by one, their bookkeeping costs more than their arithmetic on a
(batch, 4·hidden) block; here they are one node whose derivative is written once, in
backend primitives, from the activations forward computed anyway (no σ or tanh is
recomputed in backward). It is still one step: backpropagation through time is the
autograd walking back over the steps, and the layer (nn/recurrent.py) feeds each step
its slice of one input projection over the whole sequence. The state travels as one
block hc = [h, c] (last axis), so a step needs no op to split or join it, and a
layer's outputs are one cat of the steps' blocks.

With gates = xp + h W_hhᵀ and i, f, g, o its four column blocks (PyTorch's order):
    c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g);   h' = σ(o) ⊙ tanh(c')
"""

from __future__ import annotations

import math

from vecgrad.autograd import Function
from vecgrad.ops import common
from vecgrad.ops.common import fmt_shape


def _cols(be, x, start, stop):
    return be.getitem(x, (slice(None), slice(start, stop)))


class LSTMStep(Function):
    """xp (..., 4H), hc (..., 2H), w_hh (4H, H) -> (..., 2H): h' then c' on the last axis.

    The leading axes of xp and hc are one and the same (a (batch,) or (1, batch) or
    (batch, 1) block); the step works on them as rows of a matrix.
    """

    @staticmethod
    def forward(ctx, xp, hc, w_hh):
        be = ctx.backend
        hidden = w_hh.shape[1]
        rows = math.prod(hc.shape[:-1])
        ctx.attrs = (xp.shape, hc.shape)
        hc2 = be.reshape(hc, (rows, 2 * hidden))
        c = _cols(be, hc2, hidden, 2 * hidden)
        gates = be.matmul(_cols(be, hc2, 0, hidden), w_hh, False, True)
        gates = be.binary("add", gates, be.reshape(xp, (rows, 4 * hidden)), out=gates)
        # σ over all four blocks in one call (the g block's is unused): fewer launches
        # than three calls, and backward's σ' is then one block too.
        acts = be.activation("sigmoid", gates, None)
        g = be.activation("tanh", _cols(be, gates, 2 * hidden, 3 * hidden), None)
        i, f = _cols(be, acts, 0, hidden), _cols(be, acts, hidden, 2 * hidden)
        o = _cols(be, acts, 3 * hidden, 4 * hidden)
        c_new = be.binary("mul", f, c)
        c_new = be.binary("add", c_new, be.binary("mul", i, g), out=c_new)
        tanh_c = be.activation("tanh", c_new, None)
        out = be.reshape(be.cat([be.binary("mul", o, tanh_c), c_new], 1), hc.shape)
        ctx.save_for_backward(hc, w_hh, out, acts, g, tanh_c)
        return out

    @staticmethod
    def backward(ctx, grad):
        hc, w_hh, _, acts, g, tanh_c = ctx.saved_tensors
        xp_shape, hc_shape = ctx.attrs
        be = ctx.backend
        hidden = w_hh.shape[1]
        rows = math.prod(hc_shape[:-1])
        hc2 = be.reshape(hc, (rows, 2 * hidden))
        grad = be.reshape(grad, (rows, 2 * hidden))
        one = be.full((), 1, grad.dtype)
        i, f = _cols(be, acts, 0, hidden), _cols(be, acts, hidden, 2 * hidden)
        o = _cols(be, acts, 3 * hidden, 4 * hidden)
        dh, dc = _cols(be, grad, 0, hidden), _cols(be, grad, hidden, 2 * hidden)
        # c' reaches the loss directly and through h' = o tanh(c')
        dc = be.binary("add", dc, be.binary("mul", be.binary("mul", dh, o),
                                            be.binary("sub", one, be.binary("mul", tanh_c,
                                                                            tanh_c))))
        slope = be.binary("mul", acts, be.binary("sub", one, acts))  # σ' = σ (1 − σ)
        d_gates = be.cat([
            be.binary("mul", be.binary("mul", dc, g), _cols(be, slope, 0, hidden)),
            be.binary("mul", be.binary("mul", dc, _cols(be, hc2, hidden, 2 * hidden)),
                      _cols(be, slope, hidden, 2 * hidden)),
            be.binary("mul", be.binary("mul", dc, i),
                      be.binary("sub", one, be.binary("mul", g, g))),  # tanh' = 1 − g²
            be.binary("mul", be.binary("mul", dh, tanh_c),
                      _cols(be, slope, 3 * hidden, 4 * hidden)),
        ], 1)
        needs = ctx.needs_input_grad
        d_xp = be.reshape(d_gates, xp_shape) if needs[0] else None
        d_hc = None
        if needs[1]:  # gates depend on h through h W_hhᵀ; c' on c through σ(f) c
            d_hc = be.reshape(be.cat([be.matmul(d_gates, w_hh, False, False),
                                      be.binary("mul", dc, f)], 1), hc_shape)
        d_w = be.matmul(d_gates, _cols(be, hc2, 0, hidden), True, False) if needs[2] else None
        return d_xp, d_hc, d_w

    @staticmethod
    def saved_for_graph(ctx, inputs, output):
        # the activations are intermediates: recomputed, recorded, from the inputs
        from vecgrad.ops import activations, matmul, movement

        xp, hc, w_hh = inputs
        hidden = w_hh.shape[1]
        rows = math.prod(hc.shape[:-1])
        h = movement.reshape(hc, (rows, 2 * hidden))[:, :hidden]
        gates = matmul.linear(h, w_hh) + movement.reshape(xp, (rows, 4 * hidden))
        acts = activations.activation(gates, "sigmoid")
        g = activations.activation(gates[:, 2 * hidden:3 * hidden], "tanh")
        tanh_c = activations.activation(
            movement.reshape(output, (rows, 2 * hidden))[:, hidden:], "tanh")
        return hc, w_hh, output, acts, g, tanh_c


def lstm_step(xp, hc, w_hh):
    """One LSTM step: [h', c'] from the input projection xp = W_ih x + b_ih + b_hh
    (..., 4H, columns i, f, g, o), the state hc = [h, c] (..., 2H) and W_hh (4H, H).

    Returns a (..., 2H) Tensor: h' in the first H columns of the last axis, c' in the
    last H. xp and hc must have the same leading axes.
    """
    for name, t in (("xp", xp), ("hc", hc), ("w_hh", w_hh)):
        if not common.is_tensor(t):
            raise TypeError(f"lstm_step: {name} must be a Tensor, got {type(t).__name__}")
    if w_hh.ndim != 2 or w_hh.shape[0] != 4 * w_hh.shape[1]:
        raise ValueError(f"lstm_step: w_hh must be (4 * hidden, hidden), got "
                         f"{fmt_shape(w_hh.shape)}")
    hidden = w_hh.shape[1]
    if xp.ndim < 1 or hc.shape != xp.shape[:-1] + (2 * hidden,) or xp.shape[-1] != 4 * hidden:
        raise ValueError(f"lstm_step: xp must be (..., 4 * hidden) and hc (..., 2 * hidden) "
                         f"with the same leading axes, hidden={hidden} from w_hh "
                         f"{fmt_shape(w_hh.shape)}; got xp {fmt_shape(xp.shape)} and hc "
                         f"{fmt_shape(hc.shape)}")
    common.check_same_device("lstm_step", xp, hc, w_hh)
    common.require_float("lstm_step", xp, "xp")
    if hc.dtype != xp.dtype:
        hc = common.cast(hc, xp.dtype)
    if w_hh.dtype != xp.dtype:
        w_hh = common.cast(w_hh, xp.dtype)
    return LSTMStep.apply(xp, hc, w_hh)


class GRUStep(Function):
    """xp (..., 3H), h (..., H), w_hh (3H, H)[, b_hh (3H,)] -> h' (..., H), PyTorch's GRU:

        r, z = σ(xp_r + hp_r), σ(xp_z + hp_z)   with hp = h W_hhᵀ + b_hh (rows r, z, n)
        n = tanh(xp_n + r ⊙ hp_n);   h' = n + z ⊙ (h − n)

    xp holds W_ih x + b_ih; b_hh stays apart because r multiplies its n block. One op per
    step for the same reason as LSTMStep (the composition is ~12 recorded ops).
    """

    @staticmethod
    def forward(ctx, xp, h, w_hh, b_hh=None):
        be = ctx.backend
        hidden = w_hh.shape[1]
        rows = math.prod(h.shape[:-1])
        ctx.attrs = (xp.shape, h.shape)
        h2 = be.reshape(h, (rows, hidden))
        xp2 = be.reshape(xp, (rows, 3 * hidden))
        hp = be.matmul(h2, w_hh, False, True)
        if b_hh is not None:
            hp = be.binary("add", hp, b_hh, out=hp)
        rz = be.binary("add", _cols(be, xp2, 0, 2 * hidden), _cols(be, hp, 0, 2 * hidden))
        rz = be.activation("sigmoid", rz, None)
        hp_n = _cols(be, hp, 2 * hidden, 3 * hidden)
        n = be.binary("mul", _cols(be, rz, 0, hidden), hp_n)
        n = be.binary("add", n, _cols(be, xp2, 2 * hidden, 3 * hidden), out=n)
        n = be.activation("tanh", n, None)
        out = be.binary("sub", h2, n)
        out = be.binary("mul", out, _cols(be, rz, hidden, 2 * hidden), out=out)
        out = be.reshape(be.binary("add", out, n, out=out), h.shape)
        ctx.save_for_backward(h, w_hh, out, rz, n, hp_n)
        return out

    @staticmethod
    def backward(ctx, grad):
        h, w_hh, _, rz, n, hp_n = ctx.saved_tensors
        xp_shape, h_shape = ctx.attrs
        be = ctx.backend
        hidden = w_hh.shape[1]
        rows = math.prod(h_shape[:-1])
        h2 = be.reshape(h, (rows, hidden))
        grad = be.reshape(grad, (rows, hidden))
        one = be.full((), 1, grad.dtype)
        r, z = _cols(be, rz, 0, hidden), _cols(be, rz, hidden, 2 * hidden)
        # h' = (1 − z) n + z h; n = tanh(a) with a = xp_n + r hp_n
        d_a = be.binary("mul", be.binary("mul", grad, be.binary("sub", one, z)),
                        be.binary("sub", one, be.binary("mul", n, n)))
        d_r = be.binary("mul", d_a, hp_n)
        d_z = be.binary("mul", grad, be.binary("sub", h2, n))
        d_rz = be.binary("mul", be.cat([d_r, d_z], 1),
                         be.binary("mul", rz, be.binary("sub", one, rz)))  # σ' = σ (1 − σ)
        needs = ctx.needs_input_grad
        d_xp = be.reshape(be.cat([d_rz, d_a], 1), xp_shape) if needs[0] else None
        d_hp = be.cat([d_rz, be.binary("mul", d_a, r)], 1)  # hp's gradient (rows, 3H)
        d_h = None
        if needs[1]:  # through hp = h W_hhᵀ + b and directly through z h
            d_h = be.reshape(be.binary("add", be.matmul(d_hp, w_hh, False, False),
                                       be.binary("mul", grad, z)), h_shape)
        d_w = be.matmul(d_hp, h2, True, False) if needs[2] else None
        if len(needs) == 3:
            return d_xp, d_h, d_w
        d_b = be.reduce("sum", d_hp, (0,), False) if needs[3] else None
        return d_xp, d_h, d_w, d_b

    @staticmethod
    def saved_for_graph(ctx, inputs, output):
        from vecgrad.ops import activations, matmul, movement

        xp, h, w_hh = inputs[:3]
        hidden = w_hh.shape[1]
        rows = math.prod(h.shape[:-1])
        xp2 = movement.reshape(xp, (rows, 3 * hidden))
        hp = matmul.linear(movement.reshape(h, (rows, hidden)), w_hh,
                           inputs[3] if len(inputs) == 4 else None)
        rz = activations.activation(xp2[:, :2 * hidden] + hp[:, :2 * hidden], "sigmoid")
        hp_n = hp[:, 2 * hidden:]
        n = activations.activation(xp2[:, 2 * hidden:] + rz[:, :hidden] * hp_n, "tanh")
        return h, w_hh, output, rz, n, hp_n


def gru_step(xp, h, w_hh, b_hh=None):
    """One GRU step: h' from the input projection xp = W_ih x + b_ih (..., 3H, rows r, z,
    n), the state h (..., H), W_hh (3H, H) and b_hh (3H,) or None. xp and h must have the
    same leading axes."""
    for name, t in (("xp", xp), ("h", h), ("w_hh", w_hh)):
        if not common.is_tensor(t):
            raise TypeError(f"gru_step: {name} must be a Tensor, got {type(t).__name__}")
    if w_hh.ndim != 2 or w_hh.shape[0] != 3 * w_hh.shape[1]:
        raise ValueError(f"gru_step: w_hh must be (3 * hidden, hidden), got "
                         f"{fmt_shape(w_hh.shape)}")
    hidden = w_hh.shape[1]
    if xp.ndim < 1 or h.shape != xp.shape[:-1] + (hidden,) or xp.shape[-1] != 3 * hidden:
        raise ValueError(f"gru_step: xp must be (..., 3 * hidden) and h (..., hidden) with "
                         f"the same leading axes, hidden={hidden} from w_hh "
                         f"{fmt_shape(w_hh.shape)}; got xp {fmt_shape(xp.shape)} and h "
                         f"{fmt_shape(h.shape)}")
    if b_hh is not None and (not common.is_tensor(b_hh) or b_hh.shape != (3 * hidden,)):
        got = fmt_shape(b_hh.shape) if common.is_tensor(b_hh) else type(b_hh).__name__
        raise ValueError(f"gru_step: b_hh must have shape ({3 * hidden},), got {got}")
    tensors = [xp, h, w_hh] + ([b_hh] if b_hh is not None else [])
    common.check_same_device("gru_step", *tensors)
    common.require_float("gru_step", xp, "xp")
    tensors = [common.cast(t, xp.dtype) for t in tensors]
    return GRUStep.apply(*tensors)
