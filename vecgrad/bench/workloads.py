"""The bench's workloads, each written as a user of every engine would write it: vecgrad,
a hand-written numpy step (the reference any engine is measured against) where one
exists, and PyTorch.

Every engine gets the same data and weights (built from the seed by numpy alone, in the
`*_data` functions), so the engines compute the same step; the bench prints each engine's
first loss beside its time and tests check that they agree.

`make_step(name, engine, device, dtype, seed)` returns a zero-argument callable that runs
one step and returns its loss (a float: each step ends with the host holding the loss,
as a training loop's metrics would). It is what a bench worker process times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

MLP_SIZES = (784, 1000, 1000, 10)
BATCH = 100
LR = 0.1
CONV = dict(batch=32, in_ch=3, out_ch=16, size=32, kernel=5)
TINY_SIZES = (2, 16, 16, 2)
TINY_BATCH = 32
LENET_BATCH = 64
CNN1D = dict(batch=100, channels=25, length=40, kernel=5, classes=10, convs=3)
LSTM = dict(batch=32, steps=50, inputs=32, hidden=128, classes=10)  # issue 13's size
ADAM_LR = 1e-3


# ------------------------------------------------------------------ data (numpy only)
def _uniform(rng, shape, fan_in, dtype):
    bound = np.sqrt(6.0 / fan_in)
    return rng.uniform(-bound, bound, shape).astype(dtype)


def _dense_params(rng, sizes, dtype):
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append(_uniform(rng, (fan_out, fan_in), fan_in, dtype))
        params.append(np.zeros(fan_out, dtype=dtype))
    return params


def mlp_data(seed, dtype=np.float32, sizes=MLP_SIZES, batch=BATCH):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[-1], size=batch).astype(np.int64)
    return x, y, _dense_params(rng, sizes, dtype)


def lenet_data(seed, dtype=np.float32):
    """LeNet-5 on 28x28: conv 1->6 k5 p2, pool, conv 6->16 k5, pool, 400-120-84-10."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((LENET_BATCH, 1, 28, 28)).astype(dtype)
    y = rng.integers(0, 10, size=LENET_BATCH).astype(np.int64)
    params = [_uniform(rng, (6, 1, 5, 5), 25, dtype), np.zeros(6, dtype),
              _uniform(rng, (16, 6, 5, 5), 150, dtype), np.zeros(16, dtype)]
    params += _dense_params(rng, (400, 120, 84, 10), dtype)
    return x, y, params


def cnn1d_data(seed, dtype=np.float32):
    """A 1-D CNN written as 1xk conv2d: 3 convs of 25 channels over length 40 ('same'
    padding, ReLU), then a linear layer 1000 -> 10."""
    c = CNN1D
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((c["batch"], 1, 1, c["length"])).astype(dtype)
    y = rng.integers(0, c["classes"], size=c["batch"]).astype(np.int64)
    params, channels = [], 1
    for _ in range(c["convs"]):
        fan_in = channels * c["kernel"]
        params += [_uniform(rng, (c["channels"], channels, 1, c["kernel"]), fan_in, dtype),
                   np.zeros(c["channels"], dtype)]
        channels = c["channels"]
    params += _dense_params(rng, (channels * c["length"], c["classes"]), dtype)
    return x, y, params


def conv_data(seed, dtype=np.float32):
    c = CONV
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((c["batch"], c["in_ch"], c["size"], c["size"])).astype(dtype)
    w = rng.standard_normal((c["out_ch"], c["in_ch"], c["kernel"], c["kernel"])).astype(dtype)
    b = np.zeros(c["out_ch"], dtype=dtype)
    out = c["size"] - c["kernel"] + 1
    g = rng.standard_normal((c["batch"], c["out_ch"], out, out)).astype(dtype)
    return x, w, b, g


def lstm_data(seed, dtype=np.float32):
    """An LSTM (PyTorch's parameter order and gate layout) then a linear layer on the
    last hidden state."""
    c = LSTM
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((c["batch"], c["steps"], c["inputs"])).astype(dtype)
    y = rng.integers(0, c["classes"], size=c["batch"]).astype(np.int64)
    h = c["hidden"]
    bound = 1.0 / np.sqrt(h)
    params = [rng.uniform(-bound, bound, shape).astype(dtype)
              for shape in ((4 * h, c["inputs"]), (4 * h, h), (4 * h,), (4 * h,))]
    params += _dense_params(rng, (h, c["classes"]), dtype)
    return x, y, params


# ------------------------------------------------------------------ hand-written numpy
def _softmax_cross_entropy(logits, y):
    """Mean softmax cross-entropy of the rows of `logits` and its gradient (softmax minus
    one-hot, over the batch): the last layer of every hand-written step below."""
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = float(np.mean(np.log(total[:, 0]) - shifted[rows, y]))
    grad = e / total
    grad[rows, y] -= 1
    grad /= n
    return loss, grad


def numpy_mlp_step(x, y, params):
    """The reference: forward, softmax cross-entropy, backward and SGD, by hand in numpy."""
    w1, b1, w2, b2, w3, b3 = params
    z1 = x @ w1.T
    z1 += b1
    h1 = np.maximum(z1, 0)
    z2 = h1 @ w2.T
    z2 += b2
    h2 = np.maximum(z2, 0)
    z3 = h2 @ w3.T
    z3 += b3
    loss, g3 = _softmax_cross_entropy(z3, y)
    grads = [None] * 6
    grads[4], grads[5] = g3.T @ h2, g3.sum(axis=0)
    g2 = g3 @ w3
    g2 *= z2 > 0
    grads[2], grads[3] = g2.T @ h1, g2.sum(axis=0)
    g1 = g2 @ w2
    g1 *= z1 > 0
    grads[0], grads[1] = g1.T @ x, g1.sum(axis=0)
    for p, g in zip(params, grads):
        g *= p.dtype.type(LR)
        p -= g
    return loss


def numpy_tiny_step(x, y, params):
    """The tanh MLP step by hand: tanh' = 1 - tanh^2 from the saved activations."""
    w1, b1, w2, b2, w3, b3 = params
    h1 = np.tanh(x @ w1.T + b1)
    h2 = np.tanh(h1 @ w2.T + b2)
    z3 = h2 @ w3.T + b3
    loss, g3 = _softmax_cross_entropy(z3, y)
    g2 = (g3 @ w3) * (1 - h2 * h2)
    g1 = (g2 @ w2) * (1 - h1 * h1)
    grads = (g1.T @ x, g1.sum(0), g2.T @ h1, g2.sum(0), g3.T @ h2, g3.sum(0))
    for p, g in zip(params, grads):
        p -= p.dtype.type(LR) * g
    return loss


def _sigmoid(z):
    t = np.negative(z)
    np.exp(t, out=t)  # overflow to inf where z << 0 gives 1 / inf = 0, as it should
    t += 1
    return np.reciprocal(t, out=t)


def numpy_lstm_step(x, y, params, state):
    """The LSTM workload by hand: one input projection, the unrolled steps, cross-entropy
    on the last hidden state, backprop through time written out, then PyTorch's Adam.

    No framework: what numpy alone costs for the same per-step arithmetic, the floor for
    any engine that calls numpy once per operation (PyTorch's cpu LSTM is one fused
    oneDNN kernel per layer instead).
    """
    w_ih, w_hh, b_ih, b_hh, w_out, b_out = params
    batch, steps, inputs = x.shape
    hidden = w_hh.shape[1]
    xp = x.reshape(batch * steps, inputs) @ w_ih.T
    xp += b_ih
    xp += b_hh
    xp = xp.reshape(batch, steps, 4 * hidden)
    h = np.zeros((batch, hidden), x.dtype)
    c = np.zeros((batch, hidden), x.dtype)
    saved = []
    with np.errstate(over="ignore"):
        for t in range(steps):
            gates = h @ w_hh.T
            gates += xp[:, t]
            a = _sigmoid(gates)  # i, f and o are used; the g columns are overwritten next
            g = np.tanh(gates[:, 2 * hidden:3 * hidden])
            c_new = a[:, hidden:2 * hidden] * c
            c_new += a[:, :hidden] * g
            tc = np.tanh(c_new)
            saved.append((h, c, a, g, tc))
            h, c = a[:, 3 * hidden:] * tc, c_new
    logits = h @ w_out.T
    logits += b_out
    loss, d_logits = _softmax_cross_entropy(logits, y)
    grads = [None, np.zeros_like(w_hh), None, None, d_logits.T @ h, d_logits.sum(axis=0)]
    dh = d_logits @ w_out
    dc = np.zeros_like(dh)
    dxp = np.empty_like(xp)
    for t in range(steps - 1, -1, -1):
        h_prev, c_prev, a, g, tc = saved[t]
        i, f, o = a[:, :hidden], a[:, hidden:2 * hidden], a[:, 3 * hidden:]
        dct = 1 - tc * tc
        dct *= dh
        dct *= o
        dct += dc
        dg = dxp[:, t]
        np.multiply(dct, g, out=dg[:, :hidden])
        np.multiply(dct, c_prev, out=dg[:, hidden:2 * hidden])
        dg[:, :2 * hidden] *= a[:, :2 * hidden] * (1 - a[:, :2 * hidden])  # σ' on i, f
        np.multiply(dct * i, 1 - g * g, out=dg[:, 2 * hidden:3 * hidden])
        np.multiply(dh, tc, out=dg[:, 3 * hidden:])
        dg[:, 3 * hidden:] *= o * (1 - o)
        grads[1] += dg.T @ h_prev
        dh = dg @ w_hh
        dc = dct * f
    flat = dxp.reshape(batch * steps, 4 * hidden)
    grads[0] = flat.T @ x.reshape(batch * steps, inputs)
    grads[2] = flat.sum(axis=0)
    grads[3] = grads[2].copy()
    _adam(params, grads, state)
    return loss


def _adam(params, grads, state, beta1=0.9, beta2=0.999, eps=1e-8):
    """PyTorch's Adam (ε outside the square root), in place."""
    state["step"] = step = state.get("step", 0) + 1
    moments = state.setdefault("moments", [(np.zeros_like(p), np.zeros_like(p))
                                           for p in params])
    correction1 = 1 - beta1 ** step
    root2 = np.sqrt(1 - beta2 ** step)
    for p, g, (m, v) in zip(params, grads, moments):
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * g * g
        denom = np.sqrt(v)
        denom /= root2
        denom += eps
        p -= (ADAM_LR / correction1) * m / denom

# ------------------------------------------------------------------ vecgrad
def vecgrad_mlp_step(x, y, params):
    """The MLP step written with vecgrad as a user would."""
    import vecgrad
    import vecgrad.nn.functional as F

    h = x
    for i in range(0, 4, 2):
        h = F.relu(F.linear(h, params[i], params[i + 1]))
    loss = F.cross_entropy(F.linear(h, params[4], params[5]), y)
    loss.backward()
    with vecgrad.no_grad():
        for p in params:
            p.sub_(p.grad, alpha=LR)
            p.grad = None
    return loss.item()


def torch_mlp_step(torch, x, y, params, optimizer):
    h = x
    for i in range(0, 4, 2):
        h = torch.relu(torch.nn.functional.linear(h, params[i], params[i + 1]))
    loss = torch.nn.functional.cross_entropy(torch.nn.functional.linear(h, params[4], params[5]), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


class _Engine:
    """What the model functions below need from vecgrad or torch: one spelling for both
    (their functional APIs differ only in a few names)."""

    def __init__(self, name, device, dtype):
        self.name = name
        if name == "torch":
            import torch

            self.torch = torch
            self.F = torch.nn.functional
        elif name == "vecgrad":
            import vecgrad
            import vecgrad.nn.functional as F

            self.vecgrad = vecgrad
            self.F = F
        self.device = device
        self.dtype = dtype

    def param(self, array):
        if self.name == "torch":
            return self.torch.tensor(array, requires_grad=True)
        return self.vecgrad.tensor(array, device=self.device, requires_grad=True)

    def const(self, array):
        if self.name == "torch":
            return self.torch.from_numpy(array)
        return self.vecgrad.tensor(array, device=self.device)

    def optimizer(self, kind, params):
        optim = self.torch.optim if self.name == "torch" else self.vecgrad.optim
        if kind == "sgd":
            return optim.SGD(params, lr=LR)
        if self.name == "torch":
            return optim.Adam(params, lr=ADAM_LR)
        # PyTorch's ε placement (√r + ε), so both engines take the same step: with the
        # lecture's √(r + ε), parameters with tiny gradients (an LSTM's) move less
        return optim.Adam(params, lr=ADAM_LR, eps_inside_sqrt=False)

    def flatten(self, h):
        return h.reshape(h.shape[0], -1)


def _trainer(engine, optimizer, forward, y):
    """forward() -> logits; one step = cross-entropy, zero_grad, backward, step, loss."""
    F = engine.F

    def step():
        loss = F.cross_entropy(forward(), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def _model_step(engine, data, forward_of, optimizer_kind):
    x, y, arrays = data
    params = [engine.param(a) for a in arrays]
    x, y = engine.const(x), engine.const(y)
    optimizer = engine.optimizer(optimizer_kind, params)
    return _trainer(engine, optimizer, lambda: forward_of(engine, x, params), y)


def _mlp_forward(engine, x, p, act="relu"):
    F = engine.F
    f = getattr(F, act) if engine.name != "torch" else getattr(engine.torch, act)
    h = x
    for i in range(0, len(p) - 2, 2):
        h = f(F.linear(h, p[i], p[i + 1]))
    return F.linear(h, p[-2], p[-1])


def _lenet_forward(engine, x, p):
    F = engine.F
    h = F.max_pool2d(F.relu(F.conv2d(x, p[0], p[1], padding=2)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, p[2], p[3])), 2)
    h = engine.flatten(h)
    h = F.relu(F.linear(h, p[4], p[5]))
    h = F.relu(F.linear(h, p[6], p[7]))
    return F.linear(h, p[8], p[9])


def _cnn1d_forward(engine, x, p):
    F = engine.F
    pad = CNN1D["kernel"] // 2
    h = x
    for i in range(0, 2 * CNN1D["convs"], 2):
        h = F.relu(F.conv2d(h, p[i], p[i + 1], padding=(0, pad)))
    return F.linear(engine.flatten(h), p[-2], p[-1])


def _conv1d_forward(engine, x, p):
    """The same 1-D CNN through conv1d on (N, C, L) inputs."""
    F = engine.F
    pad = CNN1D["kernel"] // 2
    h = x
    for i in range(0, 2 * CNN1D["convs"], 2):
        h = F.relu(F.conv1d(h, p[i], p[i + 1], padding=pad))
    return F.linear(engine.flatten(h), p[-2], p[-1])


def _conv1d_data(seed, dtype):
    x, y, params = cnn1d_data(seed, dtype)
    squeezed = [p[:, :, 0, :] if p.ndim == 4 else p for p in params]
    return x[:, :, 0, :], y, squeezed


def _lstm_step(engine, seed, dtype):
    x, y, arrays = lstm_data(seed, dtype)
    c = LSTM
    if engine.name == "numpy":
        state = {}
        return lambda: numpy_lstm_step(x, y, arrays, state)
    if engine.name == "torch":
        nn = engine.torch.nn
        lstm = nn.LSTM(c["inputs"], c["hidden"], batch_first=True).to(engine.torch.float64
                                                                       if dtype == np.float64
                                                                       else engine.torch.float32)
        with engine.torch.no_grad():
            for param, array in zip(lstm.parameters(), arrays[:4]):
                param.copy_(engine.torch.from_numpy(array))
    else:
        nn = engine.vecgrad.nn
        lstm = nn.LSTM(c["inputs"], c["hidden"], batch_first=True, device=engine.device,
                       dtype=dtype)
        names = [name for name, _ in lstm.named_parameters()]
        expected = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
        if names != expected:
            raise NotImplementedError(f"vecgrad.nn.LSTM parameters are {names}, the bench "
                                      f"expects PyTorch's {expected}")
        lstm.load_state_dict(dict(zip(names, (engine.vecgrad.tensor(a, device=engine.device)
                                              for a in arrays[:4]))))
    head = [engine.param(a) for a in arrays[4:]]
    params = list(lstm.parameters()) + head
    xs, ys = engine.const(x), engine.const(y)

    def forward():
        out, _ = lstm(xs)
        return engine.F.linear(out[:, -1], head[0], head[1])

    return _trainer(engine, engine.optimizer("adam", params), forward, ys)


def _conv_step(engine, seed, dtype, input_grad):
    x, w, b, g = conv_data(seed, dtype)
    tx = engine.param(x) if input_grad else engine.const(x)
    tw, tb = engine.param(w), engine.param(b)
    tg = engine.const(g)
    leaves = (tx, tw, tb) if input_grad else (tw, tb)

    def step():
        for t in leaves:
            t.grad = None
        engine.F.conv2d(tx, tw, tb).backward(tg)
        if engine.name != "torch":
            engine.vecgrad.get_backend(engine.device).synchronize()
        return 0.0

    return step


def _mlp_engine_step(engine, seed, dtype, sizes, batch, act, hand):
    x, y, params = mlp_data(seed, dtype, sizes, batch)
    if engine.name == "numpy":
        return lambda: hand(x, y, params)
    if engine.name == "vecgrad" and act == "relu":
        # the step as the bench has always written it: functional ops, sub_ by hand
        vx, vy = engine.const(x), engine.const(y)
        v_params = [engine.param(p) for p in params]
        return lambda: vecgrad_mlp_step(vx, vy, v_params)
    return _model_step(engine, (x, y, params),
                       lambda e, xx, p: _mlp_forward(e, xx, p, act), "sgd")


# ------------------------------------------------------------------ the table of workloads
@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    engines: tuple            # engines that implement it; the first one after vecgrad is
    reference: str            # ... the reference the ratio is taken against
    build: Callable           # (engine: _Engine, seed, dtype) -> step()
    dtype: type = np.float32
    needs: str | None = None  # a vecgrad attribute path the workload needs (else skipped)


def _build_mlp(sizes, batch, act, hand):
    return lambda engine, seed, dtype: _mlp_engine_step(engine, seed, dtype, sizes, batch,
                                                        act, hand)


WORKLOADS = {w.name: w for w in (
    Workload("mlp", "MLP 784-1000-1000-10, batch 100, ReLU, SGD (float32)",
             ("vecgrad", "numpy", "torch"), "numpy",
             _build_mlp(MLP_SIZES, BATCH, "relu", numpy_mlp_step)),
    Workload("mlp64", "MLP 784-1000-1000-10, batch 100, ReLU, SGD (float64)",
             ("vecgrad", "numpy", "torch"), "numpy",
             _build_mlp(MLP_SIZES, BATCH, "relu", numpy_mlp_step), dtype=np.float64),
    Workload("tiny", "MLP 2-16-16-2, batch 32, tanh, SGD",
             ("vecgrad", "numpy", "torch"), "numpy",
             _build_mlp(TINY_SIZES, TINY_BATCH, "tanh", numpy_tiny_step)),
    Workload("lenet5", "LeNet-5, batch 64, 28x28, ReLU + max-pool, SGD",
             ("vecgrad", "torch"), "torch",
             lambda e, s, d: _model_step(e, lenet_data(s, d), _lenet_forward, "sgd")),
    Workload("cnn1d", "1-D CNN as 1x5 conv2d (3 x 25 ch, length 40), batch 100, Adam",
             ("vecgrad", "torch"), "torch",
             lambda e, s, d: _model_step(e, cnn1d_data(s, d), _cnn1d_forward, "adam")),
    Workload("conv1d", "the same 1-D CNN through F.conv1d on (N, C, L)",
             ("vecgrad", "torch"), "torch",
             lambda e, s, d: _model_step(e, _conv1d_data(s, d), _conv1d_forward, "adam"),
             needs="nn.functional.conv1d"),
    Workload("lstm", "LSTM 32->128, 50 steps, batch 32, linear head, Adam",
             ("vecgrad", "torch", "numpy"), "torch", lambda e, s, d: _lstm_step(e, s, d),
             needs="nn.LSTM"),
    Workload("conv2d", "conv2d fwd + bwd with dX: 32x3x32x32, 16 filters 5x5",
             ("vecgrad", "torch"), "torch", lambda e, s, d: _conv_step(e, s, d, True)),
    Workload("conv2d_nodx", "the same without dX (input needs no gradient)",
             ("vecgrad", "torch"), "torch", lambda e, s, d: _conv_step(e, s, d, False)),
)}


def missing_feature(workload: Workload) -> str | None:
    """The vecgrad feature a workload needs and this checkout lacks, else None."""
    if workload.needs is None:
        return None
    import importlib

    module_path, _, attribute = ("vecgrad." + workload.needs).rpartition(".")
    try:
        module = importlib.import_module(module_path)
    except ImportError:
        return f"vecgrad.{workload.needs} not available"
    return None if hasattr(module, attribute) else f"vecgrad.{workload.needs} not available"


def make_step(name: str, engine: str, device: str = "cpu", dtype=None, seed: int = 0):
    """One step of workload `name` on `engine` ("vecgrad", "numpy" or "torch")."""
    workload = WORKLOADS[name]
    if engine not in workload.engines:
        raise ValueError(f"bench: workload {name!r} has no {engine} version "
                         f"(it has {', '.join(workload.engines)})")
    dtype = np.dtype(workload.dtype if dtype is None else dtype).type
    return workload.build(_Engine(engine, device, dtype), seed, dtype)
