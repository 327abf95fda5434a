"""Recurrent layers: RNN (tanh/relu), LSTM and GRU and their single-step cells.

PyTorch's equations, gate order, parameter names and initialisation, so a state_dict
moves between the two libraries unchanged:

- RNN:  h' = act(W_ih x + b_ih + W_hh h + b_hh)                    act = tanh or relu
- LSTM: i, f, g, o = σ, σ, tanh, σ of (W_ih x + b_ih + W_hh h + b_hh), in that order
        c' = f ⊙ c + i ⊙ g;   h' = o ⊙ tanh(c')
- GRU:  r, z = σ(W_ir x + b_ir + W_hr h + b_hr), σ(W_iz x + ... )   (rows r, z, n)
        n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn));   h' = (1 − z) ⊙ n + z ⊙ h

Every step is made of ordinary vecgrad ops, so backpropagation through time is just the
autograd walking back over the unrolled loop, on cpu and OpenCL alike. What keeps the
op count per step low: the input projection W_ih x + b is ONE product over the whole
sequence, and each step reads its slice (the first-order backward adds the slices'
gradients into one buffer in place, GetItem.backward_into, so that costs O(T), not
O(T²)); an LSTM step is one op (ops/recurrent.py LSTMStep: the recurrent product and
the gate arithmetic) on a state kept as one block [h, c], so a direction's output is
one `cat` of the steps' blocks (whose backward hands out views) and one slice; a GRU
step is one op too (GRUStep); an RNN step is one product taking its input slice as the
bias, then the activation.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

import vecgrad
from vecgrad.nn import functional as F
from vecgrad.nn import init
from vecgrad.nn.module import Module, Parameter, require_input_like
from vecgrad.ops import matmul as _matmul
from vecgrad.ops import movement
from vecgrad.ops import recurrent as _recurrent_ops

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _check_size(owner, name, value):
    # (numpy's integers too: np.prod(shape) is one)
    if not isinstance(value, numbers.Integral) or isinstance(value, (bool, np.bool_)) \
            or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


def _shape_text(x):
    return str(tuple(x.shape)) if isinstance(x, vecgrad.Tensor) else type(x).__name__


# ------------------------------------------------------------------------- one step
def _step(mode, xp, h, w_hh_t):
    """One Elman RNN step: act(h W_hhᵀ + xp), xp = W_ih x + b_ih + b_hh; w_hh_t is W_hhᵀ
    (a view). (The LSTM's and GRU's steps are one op each: ops/recurrent.py.)"""
    gates = _matmul.MatMulBias.apply(h, w_hh_t, xp)  # h W_hhᵀ + xp in one op
    return gates.tanh() if mode == "RNN_TANH" else gates.relu()


def _project(x, w_ih, bias):
    """W_ih x + bias for every step of a (steps, batch, features) or (batch, steps, ...)
    sequence, as one (rows, features) product (a 3-D operand would make backward one
    small product per step for W_ih's gradient)."""
    lead = x.shape[:-1]
    flat = F.linear(x.reshape(-1, x.shape[-1]), w_ih, bias)
    return flat.reshape(*lead, w_ih.shape[0])


def _run_lstm(mode, xp, time_axis, reverse, h0, c0, w_hh, b_hh):
    """An LSTM direction over the whole sequence: (output, h_n, c_n).

    The state is one block hc = [h, c] of shape (1, batch, 2H) (or (batch, 1, 2H) with
    the time axis second), so each step is one slice of xp and one LSTMStep, and the
    output is one cat of the steps' blocks and one slice.
    """
    steps, hidden = xp.shape[time_axis], w_hh.shape[1]
    hc = vecgrad.cat([h0, c0], axis=1).unsqueeze(time_axis)
    lead = (slice(None),) * time_axis
    outs = [None] * steps
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        # the layer checked the shapes once: apply the ops directly, no per-step checks
        xp_t = movement.GetItem.apply(xp, index=lead + (slice(t, t + 1),))
        hc = _recurrent_ops.LSTMStep.apply(xp_t, hc, w_hh)
        outs[t] = hc
    seq = movement.Cat.apply(*outs, axis=time_axis) if steps > 1 else outs[0]
    last = hc.squeeze(time_axis)
    return seq[..., :hidden], last[:, :hidden], last[:, hidden:]


def _run_gru(mode, xp, time_axis, reverse, h0, c0, w_hh, b_hh):
    """A GRU direction over the whole sequence: (output, h_n, None); like _run_lstm, one
    slice and one GRUStep per step on (1, batch, H) (or (batch, 1, H)) states."""
    steps = xp.shape[time_axis]
    weights = (w_hh,) if b_hh is None else (w_hh, b_hh)
    h = h0.unsqueeze(time_axis)
    lead = (slice(None),) * time_axis
    outs = [None] * steps
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        xp_t = movement.GetItem.apply(xp, index=lead + (slice(t, t + 1),))
        h = _recurrent_ops.GRUStep.apply(xp_t, h, *weights)
        outs[t] = h
    seq = movement.Cat.apply(*outs, axis=time_axis) if steps > 1 else outs[0]
    return seq, h.squeeze(time_axis), None


def _run_rnn(mode, xp, time_axis, reverse, h0, c0, w_hh, b_hh):
    """An Elman RNN direction over the whole sequence: (output, h_n, None)."""
    steps = xp.shape[time_axis]
    lead = (slice(None),) * time_axis
    w_hh_t = movement.transpose(w_hh, 0, 1)
    h = h0
    outs = [None] * steps
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        xp_t = movement.GetItem.apply(xp, index=lead + (t,))
        h = _step(mode, xp_t, h, w_hh_t)
        outs[t] = h
    return vecgrad.stack(outs, axis=time_axis), h, None


_RUNS = {"LSTM": _run_lstm, "GRU": _run_gru, "RNN_TANH": _run_rnn, "RNN_RELU": _run_rnn}


def _input_bias(mode, b_ih, b_hh):
    """The biases that add straight into W_ih x: b_ih + b_hh, or the GRU's b_ih alone."""
    if b_ih is None:
        return None
    return b_ih if mode == "GRU" else b_ih + b_hh


def _check_state(owner, name, state, shape, like):
    if not isinstance(state, vecgrad.Tensor):
        raise TypeError(f"{owner}: {name} must be a Tensor, got {type(state).__name__}")
    if tuple(state.shape) != tuple(shape):
        raise ValueError(f"{owner}: {name} must have shape {tuple(shape)}, got "
                         f"{tuple(state.shape)}")
    if state.device != like.device:
        raise ValueError(f"{owner}: {name} is on {state.device} but the input is on "
                         f"{like.device}; move it with .to({like.device!r})")
    if state.dtype != like.dtype:
        raise TypeError(f"{owner}: {name} has dtype {state.dtype} but the input has "
                        f"{like.dtype}")


def _check_input(owner, x, input_size, dims, layout):
    if not isinstance(x, vecgrad.Tensor):
        raise TypeError(f"{owner}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim not in dims or x.shape[-1] != input_size:
        raise ValueError(f"{owner}: expected input {layout} with input_size={input_size}, "
                         f"got shape {_shape_text(x)}")
    if x.dtype not in (vecgrad.float32, vecgrad.float64):
        raise TypeError(f"{owner}: input must be float32 or float64, got {x.dtype}")


_check_input_dtype = require_input_like  # device, then dtype: as every layer


# ---------------------------------------------------------------------------- layers
class RNNBase(Module):
    """The multi-layer recurrence shared by RNN, LSTM and GRU (see their docstrings)."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, *, device=None, dtype=None):
        super().__init__()
        owner = type(self).__name__
        self.mode = mode
        input_size = self.input_size = _check_size(owner, "input_size", input_size)
        hidden_size = self.hidden_size = _check_size(owner, "hidden_size", hidden_size)
        num_layers = self.num_layers = _check_size(owner, "num_layers", num_layers)
        if isinstance(dropout, (bool, np.bool_)) or not isinstance(dropout, numbers.Real) \
                or not 0.0 <= dropout <= 1.0:  # 1: as Dropout, F.dropout and PyTorch
            raise ValueError(f"{owner}: dropout must be a probability in [0, 1], got "
                             f"{dropout!r}")
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        directions = 2 if bidirectional else 1
        rows = _GATES[mode] * hidden_size
        bound = 1.0 / math.sqrt(hidden_size)  # PyTorch: every weight and bias U(−k, k)
        for layer in range(num_layers):
            width = input_size if layer == 0 else hidden_size * directions
            for suffix in ("", "_reverse")[:directions]:
                shapes = [(f"weight_ih_l{layer}{suffix}", (rows, width)),
                          (f"weight_hh_l{layer}{suffix}", (rows, hidden_size))]
                if bias:
                    shapes += [(f"bias_ih_l{layer}{suffix}", (rows,)),
                               (f"bias_hh_l{layer}{suffix}", (rows,))]
                for name, shape in shapes:
                    param = Parameter(vecgrad.zeros(shape, dtype=dtype or vecgrad.float32,
                                                    device=device))
                    init.uniform_(param, -bound, bound)
                    setattr(self, name, param)

    def flatten_parameters(self) -> None:
        """Nothing to do here (PyTorch compacts cuDNN weights); kept so code ports."""

    def _weights(self, layer, suffix):
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        return [getattr(self, f"{n}_l{layer}{suffix}", None) for n in names]

    def forward(self, input, hx=None):  # noqa: A002 - PyTorch's argument name
        owner = type(self).__name__
        layout = "(batch, seq, input_size)" if self.batch_first else "(seq, batch, input_size)"
        _check_input(owner, input, self.input_size, (2, 3), layout + " or (seq, input_size)")
        _check_input_dtype(owner, input, self.weight_ih_l0)
        batched = input.ndim == 3
        x = input if batched else input.unsqueeze(1)
        # Time runs along axis 0, or 1 with batch_first: the layers work in the input's
        # own layout, so no transposed copy goes in or comes out.
        time_axis = 1 if batched and self.batch_first else 0
        steps, batch = x.shape[time_axis], x.shape[1 - time_axis]
        if steps == 0:
            raise ValueError(f"{owner}: the input sequence is empty (shape {input.shape})")
        directions = 2 if self.bidirectional else 1
        state_shape = (self.num_layers * directions, batch, self.hidden_size)
        h0, c0 = self._initial_state(owner, hx, state_shape, batched, x)

        last_h, last_c = [], []
        for layer in range(self.num_layers):
            per_direction = []
            for d, suffix in enumerate(("", "_reverse")[:directions]):
                k = layer * directions + d
                w_ih, w_hh, b_ih, b_hh = self._weights(layer, suffix)
                # One input projection for every step (one product instead of `steps`);
                # each step reads its slice, and the first-order backward adds the
                # slices' gradients into one buffer (GetItem.backward_into): O(steps).
                xp = _project(x, w_ih, _input_bias(self.mode, b_ih, b_hh))
                out, h, c = _RUNS[self.mode](self.mode, xp, time_axis, bool(d), h0[k],
                                c0[k] if c0 is not None else None, w_hh, b_hh)
                per_direction.append(out)
                last_h.append(h)
                last_c.append(c)
            x = per_direction[0] if directions == 1 else vecgrad.cat(per_direction, axis=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout)
        output = x
        h_n = vecgrad.stack(last_h, axis=0)
        c_n = vecgrad.stack(last_c, axis=0) if self.mode == "LSTM" else None
        if not batched:
            output, h_n = output.squeeze(1), h_n.squeeze(1)
            c_n = c_n.squeeze(1) if c_n is not None else None
        return output, ((h_n, c_n) if self.mode == "LSTM" else h_n)

    def _initial_state(self, owner, hx, shape, batched, x):
        """(h0, c0) of `shape` (zeros where not given); c0 is None except for the LSTM."""
        shown = shape if batched else (shape[0], shape[2])
        names = ("h_0", "c_0")
        if hx is None:
            zeros = vecgrad.zeros(shape, dtype=x.dtype, device=x.device)
            return zeros, (zeros if self.mode == "LSTM" else None)
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{owner}: hx must be a pair (h_0, c_0), got "
                                f"{type(hx).__name__}")
            states = list(hx)
        else:
            states = [hx]
        for i, state in enumerate(states):
            _check_state(owner, f"{names[i]} (num_layers * num_directions, "
                         f"{'batch, ' if batched else ''}hidden_size)", state, shown, x)
            if not batched:
                states[i] = state.unsqueeze(1)
        return states[0], (states[1] if self.mode == "LSTM" else None)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            text += ", nonlinearity='relu'"
        for name, default in (("bias", True), ("batch_first", False), ("dropout", 0.0),
                              ("bidirectional", False)):
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        return text


class RNN(RNNBase):
    """Elman RNN: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu), layer after layer.

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``. Input (seq, batch, input_size)
    ((batch, seq, ...) with batch_first, or unbatched (seq, input_size)); optional h_0
    (num_layers * num_directions, batch, hidden_size). Returns (output, h_n).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, *, device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory, PyTorch's gate order (i, f, g, o) in the weight rows.

    ``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False)``. Optional hx = (h_0, c_0), each
    (num_layers * num_directions, batch, hidden_size). Returns (output, (h_n, c_n)).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, *, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device=device, dtype=dtype)


class GRU(RNNBase):
    """Gated recurrent unit, PyTorch's gate order (r, z, n) in the weight rows.

    ``GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False)``. Returns (output, h_n).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, *, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device=device, dtype=dtype)


# ----------------------------------------------------------------------------- cells
class RNNCellBase(Module):
    """One step of a recurrence; parameters weight_ih, weight_hh, bias_ih, bias_hh."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool = True,
                 *, device=None, dtype=None):
        super().__init__()
        owner = type(self).__name__
        self.mode = mode
        input_size = self.input_size = _check_size(owner, "input_size", input_size)
        hidden_size = self.hidden_size = _check_size(owner, "hidden_size", hidden_size)
        self.bias = bool(bias)
        rows = _GATES[mode] * hidden_size
        bound = 1.0 / math.sqrt(hidden_size)
        shapes = [("weight_ih", (rows, input_size)), ("weight_hh", (rows, hidden_size))]
        if bias:
            shapes += [("bias_ih", (rows,)), ("bias_hh", (rows,))]
        for name, shape in shapes:
            param = Parameter(vecgrad.zeros(shape, dtype=dtype or vecgrad.float32,
                                            device=device))
            init.uniform_(param, -bound, bound)
            setattr(self, name, param)

    def _run(self, input, hx):  # noqa: A002
        owner = type(self).__name__
        _check_input(owner, input, self.input_size, (1, 2),
                     "(batch, input_size) or (input_size,)")
        _check_input_dtype(owner, input, self.weight_ih)
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        shape = (x.shape[0], self.hidden_size)
        shown = shape if batched else (self.hidden_size,)
        states = []
        names = ("h_0", "c_0") if self.mode == "LSTM" else ("hx",)
        if hx is None:
            states = [vecgrad.zeros(shape, dtype=x.dtype, device=x.device)] * len(names)
        else:
            if self.mode == "LSTM" and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
                raise TypeError(f"{owner}: hx must be a pair (h_0, c_0), got "
                                f"{type(hx).__name__}")
            given = list(hx) if self.mode == "LSTM" else [hx]
            for name, state in zip(names, given):
                _check_state(owner, name, state, shown, x)
                states.append(state if batched else state.unsqueeze(0))
        bias_ih = getattr(self, "bias_ih", None)
        bias_hh = getattr(self, "bias_hh", None)
        xp = F.linear(x, self.weight_ih, _input_bias(self.mode, bias_ih, bias_hh))
        if self.mode == "LSTM":
            hc = _recurrent_ops.lstm_step(xp, vecgrad.cat(states, axis=1), self.weight_hh)
            h, c = hc[:, :self.hidden_size], hc[:, self.hidden_size:]
        elif self.mode == "GRU":
            h, c = _recurrent_ops.gru_step(xp, states[0], self.weight_hh, bias_hh), None
        else:
            h = _step(self.mode, xp, states[0], movement.transpose(self.weight_hh, 0, 1))
            c = None
        if not batched:
            h = h.squeeze(0)
            c = c.squeeze(0) if c is not None else None
        return h, c

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        if self.mode == "RNN_RELU":
            text += ", nonlinearity='relu'"
        return text


class RNNCell(RNNCellBase):
    """h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu); forward(input, hx=None) -> h'."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", *, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, bias, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):  # noqa: A002
        return self._run(input, hx)[0]


class LSTMCell(RNNCellBase):
    """One LSTM step; forward(input, (h, c)=None) -> (h', c')."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *, device=None,
                 dtype=None):
        super().__init__("LSTM", input_size, hidden_size, bias, device=device, dtype=dtype)

    def forward(self, input, hx=None):  # noqa: A002
        return self._run(input, hx)


class GRUCell(RNNCellBase):
    """One GRU step; forward(input, hx=None) -> h'."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *, device=None,
                 dtype=None):
        super().__init__("GRU", input_size, hidden_size, bias, device=device, dtype=dtype)

    def forward(self, input, hx=None):  # noqa: A002
        return self._run(input, hx)[0]
