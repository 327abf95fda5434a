"""The LSTM cell's elementwise part as one op: (gates, c) -> [h', c'].

An LSTM step is two matrix products (kept as their own ops) and then eleven elementwise
operations. Recorded one by one, their bookkeeping costs more than their arithmetic on a
(batch, 4·hidden) block; here they are one node whose derivative is written once, in
backend primitives, from the activations forward computed anyway (no σ or tanh is
recomputed in backward). Backpropagation through time is still the autograd walking back
over the steps. The composition it replaces is spelled out in nn/recurrent.py (_step)
and the tests compare the two.

With i, f, g, o the four column blocks of `gates` (PyTorch's order):
    c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g);   h' = σ(o) ⊙ tanh(c')
"""

from __future__ import annotations

from vecgrad.autograd import Function
from vecgrad.ops import common, movement
from vecgrad.ops.common import fmt_shape


def _cols(be, x, start, stop):
    return be.getitem(x, (slice(None), slice(start, stop)))


class LSTMGates(Function):
    """gates (B, 4H), c (B, H) -> (B, 2H): h' in the first H columns, c' in the last H."""

    @staticmethod
    def forward(ctx, gates, c):
        be = ctx.backend
        hidden = c.shape[-1]
        i_f = be.activation("sigmoid", _cols(be, gates, 0, 2 * hidden), None)
        g = be.activation("tanh", _cols(be, gates, 2 * hidden, 3 * hidden), None)
        o = be.activation("sigmoid", _cols(be, gates, 3 * hidden, 4 * hidden), None)
        i, f = _cols(be, i_f, 0, hidden), _cols(be, i_f, hidden, 2 * hidden)
        c_new = be.binary("mul", f, c)
        c_new = be.binary("add", c_new, be.binary("mul", i, g), out=c_new)
        tanh_c = be.activation("tanh", c_new, None)
        out = be.cat([be.binary("mul", o, tanh_c), c_new], 1)
        ctx.save_for_backward(gates, c, out, i_f, g, o, tanh_c)
        return out

    @staticmethod
    def backward(ctx, grad):
        _, c, _, i_f, g, o, tanh_c = ctx.saved_tensors
        be = ctx.backend
        hidden = c.shape[-1]
        one = be.full((), 1, grad.dtype)
        i, f = _cols(be, i_f, 0, hidden), _cols(be, i_f, hidden, 2 * hidden)
        dh, dc = _cols(be, grad, 0, hidden), _cols(be, grad, hidden, 2 * hidden)
        # c' reaches the loss directly and through h' = o tanh(c')
        dc = be.binary("add", dc, be.binary("mul", be.binary("mul", dh, o),
                                            be.binary("sub", one, be.binary("mul", tanh_c,
                                                                            tanh_c))))

        def through_sigmoid(upstream, s):  # upstream · σ'(x), with σ' = σ (1 − σ)
            return be.binary("mul", upstream, be.binary("mul", s, be.binary("sub", one, s)))

        d_gates = be.cat([
            through_sigmoid(be.binary("mul", dc, g), i),
            through_sigmoid(be.binary("mul", dc, c), f),
            be.binary("mul", be.binary("mul", dc, i),
                      be.binary("sub", one, be.binary("mul", g, g))),
            through_sigmoid(be.binary("mul", dh, tanh_c), o),
        ], 1)
        d_c = be.binary("mul", dc, f) if ctx.needs_input_grad[1] else None
        return d_gates, d_c

    @staticmethod
    def saved_for_graph(ctx, inputs, output):
        # the activations are intermediates: recomputed, recorded, from the inputs
        from vecgrad.ops import activations

        gates, c = inputs
        hidden = c.shape[-1]
        i_f = activations.activation(gates[:, :2 * hidden], "sigmoid")
        g = activations.activation(gates[:, 2 * hidden:3 * hidden], "tanh")
        o = activations.activation(gates[:, 3 * hidden:], "sigmoid")
        tanh_c = activations.activation(output[:, hidden:], "tanh")
        return gates, c, output, i_f, g, o, tanh_c


def lstm_cell(gates, c):
    """(h', c') of an LSTM step from its gate pre-activations (B, 4H), columns i, f, g, o,
    and the cell state c (B, H)."""
    if not (common.is_tensor(gates) and common.is_tensor(c)):
        raise TypeError("lstm_cell: gates and c must be Tensors")
    if gates.ndim != 2 or c.ndim != 2 or gates.shape != (c.shape[0], 4 * c.shape[1]):
        raise ValueError(f"lstm_cell: gates must be (batch, 4 * hidden) for c of shape "
                         f"(batch, hidden), got {fmt_shape(gates.shape)} and "
                         f"{fmt_shape(c.shape)}")
    common.check_same_device("lstm_cell", gates, c)
    common.require_float("lstm_cell", gates, "gates")
    if c.dtype != gates.dtype:
        c = common.cast(c, gates.dtype)
    out = LSTMGates.apply(gates, c)
    hidden = c.shape[1]
    return movement.getitem(out, (slice(None), slice(0, hidden))), \
        movement.getitem(out, (slice(None), slice(hidden, None)))
