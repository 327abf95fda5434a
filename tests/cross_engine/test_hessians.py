"""Hessians of random compositions of ops, five ways (issue 15): scalargrad (reverse over
reverse), vecgrad on every device (func.hessian: create_graph), central differences of
vecgrad's first-order gradient, torch float64 when installed - and scalargrad's three
other modes inside test_higher_order. Every catalogue activation and every elementwise
op is drawn; a dot product and a sum mix the variables like a layer would.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

import scalargrad as sg
import vecgrad
from scalargrad.functions import ACTIVATIONS
from vecgrad import func

UNARY = ["neg", "square", "exp", "sin", "cos", "log1", "sqrt1", "abs", "recip1"] + sorted(
    ACTIVATIONS)
BINARY = ["+", "-", "*", "/", "pow", "dot"]
N = 3


def need_float64(device):
    if not vecgrad.get_backend(device).supports_float64:
        pytest.skip(f"{device} has no float64")


def _program(seed):
    """Seven random steps; the unary ops cycle through UNARY across SEEDS (so every op
    is drawn), the rest (binary op, operands) is random."""
    r = random.Random(seed)
    start = SEEDS.index(seed) * 14
    steps = []
    for k in range(7):
        u1, u2 = UNARY[(start + 2 * k) % len(UNARY)], UNARY[(start + 2 * k + 1) % len(UNARY)]
        steps.append((r.choice(BINARY), u1, r.randrange(N + k), u2, r.randrange(N + k)))
    return steps


def _unary(name, v, torch=None):
    if name == "neg":
        return -v
    if name == "square":
        return v * v
    if name == "log1":
        return (v * v + 1.0).log()
    if name == "sqrt1":
        return (v * v + 0.5).sqrt()
    if name == "recip1":
        return 1.0 / (v * v + 1.0)
    if name in ("exp", "sin", "cos", "abs"):
        return abs(v) if name == "abs" else getattr(v, name)()
    if torch is None:
        return v.activation(name)
    return _torch_activation(torch, name, v)


def _torch_activation(torch, name, v):
    F = torch.nn.functional
    table = {
        "identity": lambda: v, "step": lambda: (v >= 0).to(v.dtype),
        "sigmoid": lambda: torch.sigmoid(v), "tanh": lambda: torch.tanh(v),
        "arctan": lambda: torch.atan(v), "relu": lambda: torch.relu(v),
        "leaky_relu": lambda: F.leaky_relu(v, 0.01), "elu": lambda: F.elu(v, 1.0),
        "softplus": lambda: F.softplus(v),
        "bent_identity": lambda: ((v * v + 1).sqrt() - 1) / 2 + v,
        "soft_exponential": lambda: (torch.exp(0.5 * v) - 1) / 0.5 + 0.5,
        "sin": lambda: torch.sin(v), "cos": lambda: torch.cos(v),
        "sinc": lambda: torch.sin(v) / v, "gaussian": lambda: torch.exp(-v * v),
    }
    return table[name]()


def _run(steps, xs, torch=None):
    """The program on a list of scalars (Values, 0-d Tensors or torch scalars)."""
    values = list(xs)
    for binary, u1, i1, u2, i2 in steps:
        a, b = _unary(u1, values[i1], torch), _unary(u2, values[i2], torch)
        if binary == "+":
            out = a + b
        elif binary == "-":
            out = a - b
        elif binary == "*":
            out = a * b
        elif binary == "/":
            out = a / (b * b + 1.0)
        elif binary == "pow":
            out = (a * a + 0.5) ** (0.5 * b.tanh() if torch is None else 0.5 * torch.tanh(b))
        else:  # a dot product with every variable: a layer-like mix
            out = a * 0.5
            for w, x in zip((0.3, -0.2, 0.1), xs):
                out = out + w * x * b
        values.append(out * 0.5)  # keep magnitudes moderate over seven steps
    return values[-1] + values[-2]


def _vecgrad_fn(steps):
    def f(x):
        return _run(steps, [x[i] for i in range(N)])
    return f


SEEDS = [11, 23, 42, 77, 101, 2024]
POINT = np.array([0.45, -0.7, 1.1])


@pytest.fixture(scope="module")
def scalar_hessians():
    out = {}
    for seed in SEEDS:
        steps = _program(seed)
        out[seed] = np.array(sg.hessian(lambda *xs: _run(steps, xs), list(POINT)))
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_vecgrad_hessian_matches_scalargrad(seed, device, scalar_hessians):
    need_float64(device)
    steps = _program(seed)
    x = vecgrad.tensor(POINT, dtype="float64", device=device)
    h = func.hessian(_vecgrad_fn(steps), x).numpy()
    np.testing.assert_allclose(h, scalar_hessians[seed], rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("seed", SEEDS)
def test_hessian_matches_finite_differences_of_the_gradient(seed, scalar_hessians):
    steps = _program(seed)
    f = _vecgrad_fn(steps)
    eps = 1e-5
    columns = []
    for k in range(N):
        e = np.zeros(N)
        e[k] = eps
        up = func.vjp(f, vecgrad.tensor(POINT + e, dtype="float64"))[1].numpy()
        down = func.vjp(f, vecgrad.tensor(POINT - e, dtype="float64"))[1].numpy()
        columns.append((up - down) / (2 * eps))
    np.testing.assert_allclose(np.stack(columns, axis=1), scalar_hessians[seed],
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("seed", SEEDS)
def test_hvp_matches_torch(seed, scalar_hessians):
    torch = pytest.importorskip("torch")
    steps = _program(seed)

    def g(x):
        return _run(steps, [x[i] for i in range(N)], torch)

    want = torch.autograd.functional.hessian(g, torch.tensor(POINT)).numpy()
    np.testing.assert_allclose(scalar_hessians[seed], want, rtol=1e-9, atol=1e-10)
    v = np.array([0.3, -1.0, 0.5])
    _, hv = func.hvp(_vecgrad_fn(steps), vecgrad.tensor(POINT, dtype="float64"),
                     vecgrad.tensor(v, dtype="float64"))
    np.testing.assert_allclose(hv.numpy(), want @ v, rtol=1e-9, atol=1e-10)


def test_every_unary_op_and_activation_is_drawn():
    drawn = {name for seed in SEEDS for step in _program(seed) for name in (step[1], step[3])}
    binaries = {step[0] for seed in SEEDS for step in _program(seed)}
    assert set(BINARY) <= binaries
    missing = set(UNARY) - drawn
    assert not missing, f"add seeds so that every op is drawn; missing {sorted(missing)}"


ALPHAS = [("soft_exponential", -0.5), ("soft_exponential", -2.0), ("soft_exponential", 0.0),
          ("soft_exponential", 0.5), ("leaky_relu", -0.5), ("elu", 2.0), ("elu", 1.0),
          ("gaussian", None)]
EDGES = [math.nan, -0.0, 0.0, 1.0, -1.0, 1.5, -1.5, 1.75, -1.75, 5.0, -5.0, 40.0, -40.0,
         1e10, -1e10]


@pytest.mark.parametrize("name, alpha", ALPHAS)
def test_recorded_derivatives_with_alpha_agree_with_the_catalogue(name, alpha, device):
    """create_graph's f' and the second derivative, both engines, a given alpha, in and
    out of the domain: soft_exponential with alpha < 0 is nan where 1 - alpha (x + alpha)
    < 0, and both engines' recorded f' = 1 / (1 - alpha (x + alpha)) gave a finite
    negative slope there (alpha = 0 gave 1 at nan)."""
    need_float64(device)
    want = [ACTIVATIONS[name].df(v, alpha) for v in EDGES]
    firsts, seconds = [], []
    for v in EDGES:
        x = sg.Value(v)
        (g,) = sg.grad(x.activation(name, alpha), [x], create_graph=True)
        firsts.append(g.data if isinstance(g, sg.Value) else g)
        seconds.append(sg.hessian(lambda t: t.activation(name, alpha), [v])[0][0])
    np.testing.assert_allclose(firsts, want, rtol=1e-12, equal_nan=True)
    x = vecgrad.tensor(EDGES, dtype="float64", device=device, requires_grad=True)
    with np.errstate(all="ignore"):
        (g,) = vecgrad.autograd.grad(x.activation(name, alpha).sum(), x, create_graph=True)
        np.testing.assert_allclose(g.numpy(), want, rtol=1e-12, equal_nan=True)
        if g.requires_grad:
            (h,) = vecgrad.autograd.grad(g.sum(), x)
            # at x = nan too: nan in, nan out, wherever f' is an expression of x (vecgrad's
            # elu gave 0 there, through clip, and scalargrad's soft_exponential with
            # alpha < 0 a constant nan f', so 0)
            np.testing.assert_allclose(h.numpy(), seconds, rtol=1e-12, equal_nan=True)
            assert np.isnan(h.numpy()[0]) and np.isnan(seconds[0])
        else:  # a piecewise-constant f' (nan at nan): f'' is 0, at nan too, as PyTorch's
            assert seconds == [0.0] * len(EDGES)
