"""Derivatives of derivatives (issue 15): create_graph=True and vecgrad.autograd.grad.

The registry test walks EVERY Function subclass in vecgrad (ops added by anyone): each
needs a row in CASES (a scalar function through the op), and its Hessian-vector product,
recorded by create_graph, must match central differences of its first-order gradient on
every device. See /work/notes/HIORDER-CONTRACT.md (and README, development) for the rules
a backward follows to be recordable.
"""

from __future__ import annotations

import gc
import importlib
import math
import pkgutil
import sys

import numpy as np
import pytest
from vg_helpers import need_float64

import vecgrad
from vecgrad import autograd
from vecgrad.autograd import Function, grad
from vecgrad.ops import activations, conv, matmul, movement
from vecgrad.ops import recurrent as _recurrent  # noqa: F401 - its Functions are listed
from vecgrad.ops import losses as L
from scalargrad.functions import ACTIVATIONS

RNG = np.random.default_rng(15)


def _all_functions():
    """Every Function subclass defined in the vecgrad package (imports all modules)."""
    for info in pkgutil.walk_packages(vecgrad.__path__, "vecgrad."):
        if ".cli" in info.name or info.name.endswith("__main__"):
            continue
        try:
            importlib.import_module(info.name)
        except ImportError:  # an optional extra (e.g. pyopencl) missing: skip its module
            continue
    found, stack = {}, list(Function.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith("vecgrad."):
            found[cls.__name__] = cls
    return found


def _pos(*shape):
    return RNG.uniform(0.5, 2.0, shape)


def _any(*shape):
    return RNG.uniform(-1.5, 1.5, shape)


def _conv_cols():
    return _any(2, 2 * 2 * 2, 3 * 3)  # im2col of (2, 2, 4, 4) with a 2x2 window


_CONV = dict(stride=(2, 1), padding=(1, 1), dilation=(1, 2), groups=2)

# name -> (input arrays, scalar function of the input Tensors through that op). The
# outer sin/squares make every second derivative non-trivial, so the op's own backward
# rule is differentiated, not just passed through.
CASES = {
    "Cast": ([_any(2, 3)], lambda x: (x.float().double() ** 3).sum()),
    "Add": ([_any(2, 3), _any(3)], lambda a, b: ((a + b) ** 3).sum()),
    "Sub": ([_any(2, 3), _any(3)], lambda a, b: ((a - b) ** 3).sum()),
    "Mul": ([_any(2, 3), _any(3)], lambda a, b: (a * b * a).sin().sum()),
    "Div": ([_any(2, 3), _pos(3)], lambda a, b: (a / b).sin().sum()),
    "Pow": ([_pos(2, 3), _any(3)], lambda a, b: (a ** b).sum()),
    # piecewise: the random points lie away from the jumps of a // b (a / b whole)
    "FloorDivide": ([_any(2, 3), _pos(3)], lambda a, b: ((a // b) * a * b + a * b * b).sum()),
    "Remainder": ([_any(2, 3), _pos(3)], lambda a, b: ((a % b) * a * b).sin().sum()),
    "Neg": ([_any(2, 3)], lambda x: (-(x ** 3)).sum()),
    "Exp": ([_any(2, 3)], lambda x: (x.exp() * x).sum()),
    "Log": ([_pos(2, 3)], lambda x: (x.log() * x).sum()),
    "Sqrt": ([_pos(2, 3)], lambda x: (x.sqrt() * x).sum()),
    "Abs": ([_any(2, 3)], lambda x: (x.abs() * x * x).sum()),
    "Sin": ([_any(2, 3)], lambda x: (x.sin() * x).sum()),
    "Cos": ([_any(2, 3)], lambda x: (x.cos() * x).sum()),
    "Where": ([_any(2, 3), _any(2, 3)],
              lambda a, b: vecgrad.where(a > 0, a * a * b, b.sin()).sum()),
    "Clip": ([_any(2, 3)], lambda x: (x.clip(-0.7, 0.7) ** 3 * x).sum()),
    "Sum": ([_any(2, 3)], lambda x: (x.sin().sum(axis=1) ** 2).sum()),
    "MaxMin": ([_any(2, 3)], lambda x: (vecgrad.ops.reduce.max(x * x, axis=1) ** 2).sum()
               + (x.min() ** 3)),
    "Activation": ([_any(2, 3)], lambda x: (x.tanh() * x.sigmoid()).sum()),
    "Reshape": ([_any(2, 3)], lambda x: (x.reshape(3, 2).sin() ** 2).sum()),
    "Permute": ([_any(2, 3)], lambda x: (x.T.sin() * x.T).sum()),
    "Expand": ([_any(2, 1)], lambda x: (x.expand(2, 3).sin() * x).sum()),
    "GetItem": ([_any(4, 3)], lambda x: (x[1:3].sin() ** 2).sum() + (x[[0, 0, 2]] ** 3).sum()),
    "IndexAdd": ([_any(3, 3)], lambda x: (movement.IndexAdd.apply(
        x, shape=(4, 3), index=(np.array([0, 2, 0]),)).sin() ** 2).sum()),
    "Cat": ([_any(2, 3), _any(1, 3)], lambda a, b: (vecgrad.cat([a, b * b]).sin()).sum()),
    "Gather": ([_any(3, 4)], lambda x: (movement.gather(
        x, 1, vecgrad.tensor([[0, 2], [3, 3], [1, 0]], device=x.device)).sin() ** 2).sum()),
    "ScatterAdd": ([_any(3, 2)], lambda x: (movement.ScatterAdd.apply(
        x, vecgrad.tensor([[0, 2], [3, 3], [1, 0]], device=x.device),
        shape=(3, 4), axis=1).sin() ** 2).sum()),
    "MatMul": ([_any(2, 2, 3), _any(3, 4)], lambda a, b: ((a @ b).sin() ** 2).sum()
               + (matmul.MatMul.apply(b, a, transpose_a=True, transpose_b=True) ** 2).sum()),
    "Linear": ([_any(4, 3), _any(2, 3), _any(2)],
               lambda x, w, b: (matmul.linear(x, w, b).tanh() ** 2).sum()),
    "MatMulBias": ([_any(2, 3), _any(3, 2), _any(2, 1)],
                   lambda a, b, c: (matmul.MatMulBias.apply(a, b, c).sin() ** 2).sum()),
    "Im2Col": ([_any(2, 2, 4, 4)], lambda x: (conv.im2col(x * x, (2, 3), padding=1,
                                                          dilation=(1, 2)).sin() ** 2).sum()),
    # stride, padding, dilation and groups at once; the two adjoints as the recorded
    # backward uses them (their own rules are the third-order terms)
    "Conv2d": ([_any(2, 4, 5, 4), _any(6, 2, 2, 3), _any(6)],
               lambda x, w, b: (vecgrad.conv2d(x, w, b, **_CONV).sin() ** 2).sum()),
    "ConvInputGrad": ([_any(2, 6, 3, 2), _any(6, 2, 2, 3)],
                      lambda g, w: (conv.ConvInputGrad.apply(
                          g, w, input_shape=(2, 4, 5, 4), **_CONV).sin() ** 2).sum()),
    "ConvWeightGrad": ([_any(2, 4, 5, 4), _any(2, 6, 3, 2)],
                       lambda x, g: (conv.ConvWeightGrad.apply(
                           x, g, weight_shape=(6, 2, 2, 3), **_CONV).sin() ** 2).sum()),
    "Col2Im": ([_conv_cols()], lambda c: (conv.Col2Im.apply(
        c, input_shape=(2, 2, 4, 4), kernel_size=(2, 2), stride=(1, 1), padding=(0, 0),
        dilation=(1, 1)).sin() ** 2).sum()),
    # max-pool over whole 2x2 tiles (3x5: a row and a column outside every tile)
    "TiledMaxPool": ([_any(2, 2, 3, 5)], lambda x: (vecgrad.nn.functional.max_pool2d(
        x.sin() * x, 2) ** 2).sum()),
    "Softmax": ([_any(2, 4)], lambda x: (x.softmax(axis=1) ** 2 * x).sum()),
    "LogSoftmax": ([_any(2, 4)], lambda x: (x.log_softmax(axis=0) ** 2).sum()),
    "BCEWithLogits": ([_any(2, 3), RNG.uniform(0, 1, (2, 3))],
                      lambda x, y: L.binary_cross_entropy_with_logits(x * x, y)),
    "Log1p": ([_pos(2, 3)], lambda x: (x.log1p() * x).sum()),
    "Expm1": ([_any(2, 3)], lambda x: (x.expm1() * x).sum()),
    "Exp2": ([_any(2, 3)], lambda x: (x.exp2() * x).sum()),
    "LogBase": ([_pos(2, 3)], lambda x: ((x.log2() + x.log10()) * x).sum()),
    "Erf": ([_any(2, 3)], lambda x: (x.erf() * x).sum()),
    "MaximumMinimum": ([_any(2, 3), _any(3)], lambda a, b: (vecgrad.maximum(a * a, b).sin()
                                                            + vecgrad.minimum(a, b) ** 3).sum()),
    "BinaryCrossEntropy": ([RNG.uniform(0.1, 0.9, (2, 3)), RNG.uniform(0, 1, (2, 3))],
                           lambda p, y: L.binary_cross_entropy(p * p, y)),
    "CrossEntropy": ([_any(3, 4)], lambda x: L.cross_entropy(
        x * x, vecgrad.tensor([1, 0, 3], device=x.device))
        + (L.cross_entropy(x.sin(), vecgrad.tensor([2, 2, 0], device=x.device),
                           reduction="none") ** 2).sum()),
}
def _written(x, v):
    """x with a row, a slice and scattered entries overwritten (SetItem), v from x too."""
    y = x * 1.0
    y[1] = v.sin()
    y[0, 1:3] = v[:2] * v[:2]
    y[np.array([2, 2]), np.array([0, 3])] = v[2:].cos()
    return (y.sin() ** 2 * x).sum()


CASES["SetItem"] = ([_any(3, 4), _any(4)], _written)
CASES["GRUStep"] = ([_any(3, 6), _any(3, 2), _any(6, 2), _any(6)], lambda xp, h, w, b: (
    vecgrad.ops.recurrent.gru_step(xp * xp, h, w, b).sin() ** 2).sum())
CASES["LSTMStep"] = ([_any(3, 8), _any(3, 4), _any(8, 2)], lambda xp, hc, w: (
    vecgrad.ops.recurrent.lstm_step(xp * xp, hc, w).sin() ** 2).sum())


def _round_trip(x):
    """x moved to another device and back (ToDevice both ways) when there is one."""
    devices = [d for d in vecgrad.available_devices() if d != x.device]
    other = "cpu" if x.device != "cpu" else (devices[0] if devices else "cpu")
    try:
        y = x.to(other)
    except Exception:  # no second usable device here: stay put
        y = x
    return (y.sin() * y).to(x.device)


CASES["ToDevice"] = ([_any(2, 3)], lambda x: (_round_trip(x) ** 2).sum())
# Cast: a float32 round trip inside; x**3 has an exact central difference of its
# gradient at any step, so a wide step keeps float32 rounding small
LOOSE = {"Cast": (1e-2, 1e-4)}


def _tensors(arrays, device):
    return [vecgrad.tensor(a, dtype="float64", device=device, requires_grad=True)
            for a in arrays]


def _gradient(f, arrays, device):
    xs = _tensors(arrays, device)
    return [g.numpy() for g in grad(f(*xs), xs)]


def hvp_recorded(f, arrays, vs, device):
    xs = _tensors(arrays, device)
    gs = grad(f(*xs), xs, create_graph=True)
    dot = sum((g * vecgrad.tensor(v, dtype="float64", device=device)).sum()
              for g, v in zip(gs, vs))
    return [h.numpy() for h in grad(dot, xs)]


def hvp_finite_differences(f, arrays, vs, device, eps=1e-5):
    up = _gradient(f, [a + eps * v for a, v in zip(arrays, vs)], device)
    down = _gradient(f, [a - eps * v for a, v in zip(arrays, vs)], device)
    return [(u - d) / (2 * eps) for u, d in zip(up, down)]


def test_every_function_has_a_case():
    # _Custom records a user's CustomFunction, whose backward is written on Tensors and
    # first order only: a recorded walk through it is refused (test_custom_function.py).
    missing = sorted(set(_all_functions()) - set(CASES) - {"_Custom"})
    assert not missing, (
        f"Functions without a create_graph case in tests/vecgrad/test_higher_order.py "
        f"CASES: {missing}; add a row (see /work/notes/HIORDER-CONTRACT.md)")


@pytest.mark.parametrize("name", sorted(CASES))
def test_hvp_of_every_function_matches_finite_differences(name, device):
    need_float64(device)
    arrays, f = CASES[name]
    vs = [RNG.standard_normal(a.shape) for a in arrays]
    eps, tol = LOOSE.get(name, (1e-5, 1e-6))
    got = hvp_recorded(f, arrays, vs, device)
    want = hvp_finite_differences(f, arrays, vs, device, eps)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_hvp_of_every_activation(name, device):
    need_float64(device)
    # away from kinks (relu/step/leaky_relu/elu at 0); soft_exponential's default is defined
    x = RNG.uniform(0.2, 1.4, (2, 3)) * RNG.choice([-1.0, 1.0], (2, 3))
    v = RNG.standard_normal(x.shape)

    def f(t):
        return (activations.activation(t, name) * t.sin()).sum()

    got = hvp_recorded(f, [x], [v], device)[0]
    want = hvp_finite_differences(f, [x], [v], device)[0]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_derivative_table_matches_the_catalogue(name):
    """activations.DERIVATIVES (recorded f') agrees with the catalogue's numeric f'."""
    x = np.concatenate([RNG.uniform(-3, 3, 40), [1e-3, -2e-3, 0.5]])
    entry = ACTIVATIONS[name]
    got = activations.derivative(name, vecgrad.tensor(x, dtype="float64"), None).numpy()
    want = [entry.df(float(v), entry.default_alpha) for v in x]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_recorded_derivative_equals_first_order_at_the_ends_of_the_range(device, dtype):
    """create_graph's f' (activations.DERIVATIVES) is the catalogue's f' (the backend's
    first-order gradient) from 0 out to the largest floats and +-inf and at nan, and f''
    is not nan at any finite x: identity, step, relu and leaky_relu gave a number for
    nan (the catalogue: nan in, nan out); bent_identity's x * x overflowed past 1.8e19
    in float32 (f' was 1, not 1.5 or 0.5), gaussian's -2x at the largest floats and
    sinc's cos(inf) gave nan for the limit 0, and sinc's unused series branch made f''
    nan beyond 1e77."""
    if dtype == "float64":
        need_float64(device)
    big = float(np.finfo(dtype).max)
    x0 = np.array([0.0, 1e-30, 1.0, 30.0, 1e10, 2e19, 1e30, 1e155, big / 3, big])
    x0 = np.append(x0[x0 <= big], math.inf).astype(dtype)
    x0 = np.append(np.unique(np.concatenate([x0, -x0])), math.nan)
    finite = np.isfinite(x0)
    for name in ACTIVATIONS:
        x = vecgrad.tensor(x0, dtype=dtype, device=device, requires_grad=True)
        with np.errstate(all="ignore"):
            (plain,) = grad(x.activation(name).sum(), x)
            (recorded,) = grad(x.activation(name).sum(), x, create_graph=True)
            np.testing.assert_allclose(recorded.numpy(), plain.numpy(), rtol=1e-6, atol=0,
                                       equal_nan=True, err_msg=f"{name}'s recorded f'")
            assert np.isnan(plain.numpy()[-1]), name
            if recorded.requires_grad:
                (second,) = grad(recorded.sum(), x)
                assert not np.isnan(second.numpy()[finite]).any(), (name, second.numpy())


@pytest.mark.parametrize("name, alpha", [
    ("soft_exponential", -0.5), ("soft_exponential", -2.0), ("soft_exponential", 0.0),
    ("soft_exponential", 1e-6), ("leaky_relu", -0.5), ("elu", 2.0), ("elu", 0.0)])
def test_recorded_derivative_with_alpha_equals_first_order(device, name, alpha):
    """create_graph's f' for a given alpha, inside and outside the domain: soft_exponential
    with alpha < 0 is -log(1 - alpha (x + alpha)) / alpha, nan where the log's argument is
    negative; its recorded f' = 1 / (1 - alpha (x + alpha)) was a finite negative slope
    there (first order and the catalogue: nan), and alpha = 0 gave 1 at nan."""
    x0 = np.array([math.nan, -0.0, 0.0, 1.0, -1.0, 1.5, -1.5, 1.75, -1.75, 5.0, -5.0,
                   40.0, -40.0, 1e10, -1e10, math.inf, -math.inf])
    x = vecgrad.tensor(x0, dtype="float32", device=device, requires_grad=True)
    with np.errstate(all="ignore"):
        (plain,) = grad(x.activation(name, alpha).sum(), x)
        (recorded,) = grad(x.activation(name, alpha).sum(), x, create_graph=True)
    want = [ACTIVATIONS[name].df(float(v), alpha) for v in x0]
    np.testing.assert_allclose(plain.numpy(), want, rtol=1e-5, equal_nan=True)
    np.testing.assert_allclose(recorded.numpy(), plain.numpy(), rtol=1e-6, equal_nan=True)


THIRD = {  # f''' in closed form
    "tanh": lambda x: -2 * (1 - np.tanh(x) ** 2) * (1 - 3 * np.tanh(x) ** 2),
    "sigmoid": lambda x: (lambda s: s * (1 - s) * (1 - 6 * s + 6 * s * s))(1 / (1 + np.exp(-x))),
    "softplus": lambda x: (lambda s: s * (1 - s) * (1 - 2 * s))(1 / (1 + np.exp(-x))),
    "sin": lambda x: -np.cos(x),
    "gaussian": lambda x: (12 * x - 8 * x ** 3) * np.exp(-x * x),
    "arctan": lambda x: (6 * x * x - 2) / (1 + x * x) ** 3,
}


@pytest.mark.parametrize("name", sorted(THIRD))
def test_third_derivative_of_activations(name, device):
    need_float64(device)
    x0 = np.linspace(-2.0, 2.0, 9)
    x = vecgrad.tensor(x0, dtype="float64", device=device, requires_grad=True)
    y = activations.activation(x, name).sum()
    (d1,) = grad(y, x, create_graph=True)
    (d2,) = grad(d1.sum(), x, create_graph=True)
    (d3,) = grad(d2.sum(), x)
    np.testing.assert_allclose(d3.numpy(), THIRD[name](x0), rtol=1e-9, atol=1e-12)


def test_fourth_order_of_a_polynomial():
    x = vecgrad.tensor([0.5, -1.0, 2.0], dtype="float64", requires_grad=True)
    g = (x ** 5).sum()
    for k in range(4):
        (g,) = grad(g.sum() if k else g, x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), 120 * x.numpy())  # d^4/dx^4 x^5 = 120 x


# ----------------------------------------------------------------- PyTorch semantics
def test_grad_does_not_touch_dot_grad_and_backward_create_graph_does():
    x = vecgrad.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    (g,) = grad((x ** 3).sum(), x)
    assert x.grad is None and g.grad_fn is None and not g.requires_grad
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.grad_fn is not None
    first = x.grad
    (x ** 2).sum().backward(create_graph=True)  # accumulates, recorded, out of place
    np.testing.assert_allclose(x.grad.numpy(), 3 * x.numpy() ** 2 + 2 * x.numpy())
    np.testing.assert_allclose(first.numpy(), 3 * x.numpy() ** 2)
    (h,) = grad(x.grad.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * x.numpy() + 2)


def test_first_order_backward_after_a_recorded_grad_adds_out_of_place():
    x = vecgrad.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    recorded = x.grad
    (x * 1.0).sum().backward()
    np.testing.assert_allclose(recorded.numpy(), 3 * x.numpy() ** 2)  # not edited in place
    np.testing.assert_allclose(x.grad.numpy(), 3 * x.numpy() ** 2 + 1)


def test_grad_options():
    x = vecgrad.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    unused = vecgrad.tensor([3.0], dtype="float64", requires_grad=True)
    y = x * x
    with pytest.raises(RuntimeError, match="one-element"):
        grad(y, x)
    (g,) = grad(y, x, grad_outputs=vecgrad.tensor([1.0, 10.0], dtype="float64"),
                retain_graph=True)
    np.testing.assert_allclose(g.numpy(), [2.0, 40.0])
    with pytest.raises(RuntimeError, match="not used"):
        grad(y.sum(), [x, unused], retain_graph=True)
    gx, gu = grad(y.sum(), [x, unused], allow_unused=True)
    assert gu is None
    with pytest.raises(RuntimeError, match="already freed"):
        grad(y.sum(), x)
    with pytest.raises(RuntimeError, match="does not require grad"):
        grad(y.sum().detach(), x)
    with pytest.raises(ValueError, match="does not match"):
        grad(x * 2, x, grad_outputs=vecgrad.ones(3, dtype="float64"))


def test_backward_create_graph_keeps_dot_grad_a_function_of_a_gradient_that_requires_grad(
        device):
    """backward(v, create_graph=True) with v requiring grad: where v reaches a leaf as it
    is (x + 0, or x itself), .grad was a plain copy of v, cut off from it (PyTorch's
    .grad is a recorded copy, d(.grad)/dv = 1)."""
    x = vecgrad.tensor([1.0, 2.0], device=device, requires_grad=True)
    v = vecgrad.tensor([3.0, 4.0], device=device, requires_grad=True)
    (x + 0.0).backward(v, create_graph=True)
    assert x.grad.requires_grad
    (dv,) = grad((x.grad * x.grad).sum(), v)
    np.testing.assert_allclose(dv.numpy(), [6.0, 8.0])
    x.grad = None
    x.backward(v, create_graph=True)
    (dv,) = grad((x.grad * 2.0).sum(), v)
    np.testing.assert_allclose(dv.numpy(), [2.0, 2.0])
    with vecgrad.no_grad():
        v.mul_(2.0)
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])  # a copy, not v's memory
    w = vecgrad.tensor([1.0, 2.0], device=device)  # a plain gradient: a plain copy
    x.grad = None
    (x + 0.0).backward(w, create_graph=True)
    assert not x.grad.requires_grad
    with vecgrad.no_grad():
        w.mul_(2.0)
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 2.0])


def test_backward_create_graph_errors_name_its_gradient_argument():
    """backward(create_graph=True) named grad_outputs, an argument backward does not
    have, where backward() says gradient (and left out why a tensor needs no grad)."""
    w = vecgrad.tensor([1.0, 2.0], requires_grad=True)
    for create_graph in (False, True):
        with pytest.raises(RuntimeError, match="pass gradient") as info:
            (w * 2).backward(create_graph=create_graph)
        assert "grad_outputs" not in str(info.value)
        with pytest.raises(ValueError, match=r"gradient shape \(3,\)") as info:
            (w * 2).backward(vecgrad.ones(3), create_graph=create_graph)
        assert "grad_outputs" not in str(info.value)
        with pytest.raises(RuntimeError, match="computed under no_grad"):
            vecgrad.ones(2).sum().backward(create_graph=create_graph)
    with pytest.raises(RuntimeError, match="pass grad_outputs"):
        grad(w * 2, w)


def test_grad_of_several_outputs_and_of_an_intermediate():
    x = vecgrad.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    h = x.sin()
    a, b = (h * h).sum(), (h * x).sum()
    gx, gh = grad([a, b], [x, h], retain_graph=True)
    c, s = np.cos(x.numpy()), np.sin(x.numpy())
    np.testing.assert_allclose(gh.numpy(), 2 * s + x.numpy())
    np.testing.assert_allclose(gx.numpy(), 2 * s * c + s + x.numpy() * c)


def test_gradient_with_respect_to_grad_outputs_double_backward():
    """grad_outputs that require grad are differentiated through (the double-vjp trick)."""
    x = vecgrad.tensor([[1.0, 2.0], [0.5, -1.0]], dtype="float64")
    w = vecgrad.tensor([0.3, -0.2], dtype="float64", requires_grad=True)
    u = vecgrad.zeros(2, dtype="float64", requires_grad=True)
    (vjp,) = grad(x @ w, w, grad_outputs=u, create_graph=True)  # x^T u, linear in u
    v = vecgrad.tensor([1.0, 3.0], dtype="float64")
    (jvp,) = grad(vjp, u, grad_outputs=v)  # = x v
    np.testing.assert_allclose(jvp.numpy(), x.numpy() @ v.numpy())


def test_in_place_version_check_fires_with_create_graph():
    x = vecgrad.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    w = vecgrad.tensor([3.0, 4.0], dtype="float64", requires_grad=True)
    y = (x * w).sum()
    with vecgrad.no_grad():
        w.add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        grad(y, x, create_graph=True)
    # an edit after the recorded backward: the second-order pass sees it too
    (g,) = grad((x * x * x).sum(), x, create_graph=True)  # 3 x^2, saved x
    with vecgrad.no_grad():
        x.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        grad(g.sum(), x)


def test_no_grad_is_respected():
    x = vecgrad.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    with vecgrad.no_grad():
        frozen = x * x  # a constant for every order
    (g,) = grad((frozen * x * x).sum(), x, create_graph=True)
    (h,) = grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 2 * x.numpy() ** 2)  # frozen * 2, not 12 x^2
    (g,) = grad((x ** 3).sum(), x, create_graph=True)
    with vecgrad.no_grad():
        step = x - 0.1 * g  # an optimizer update with a recorded gradient
    assert not step.requires_grad and step.grad_fn is None
    assert vecgrad.is_grad_enabled()  # the walk restores grad mode


def test_create_graph_under_no_grad_still_records_like_pytorch():
    x = vecgrad.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    y = (x ** 3).sum()
    with vecgrad.no_grad():
        (g,) = grad(y, x, create_graph=True)
        assert not vecgrad.is_grad_enabled()
    assert g.requires_grad


def _cube_forward(ctx, x):
    be = ctx.backend
    sq = be.binary("mul", x, x)
    ctx.save_for_backward(sq)  # x*x: neither its input nor its output
    return be.binary("mul", sq, x)


def _cube_backward(ctx, g):
    be = ctx.backend
    (sq,) = ctx.saved_tensors
    return be.binary("mul", g, be.binary("mul", sq, be.full((), 3, sq.dtype)))


def test_a_rule_that_saves_an_intermediate_needs_saved_for_graph():
    class Cube(Function):
        forward = staticmethod(_cube_forward)
        backward = staticmethod(_cube_backward)

    class RecomputedCube(Function):
        forward = staticmethod(_cube_forward)
        backward = staticmethod(_cube_backward)

        @staticmethod
        def saved_for_graph(ctx, inputs, output):
            return (inputs[0] * inputs[0],)

    x = vecgrad.tensor([2.0], dtype="float64", requires_grad=True)
    (g,) = grad(Cube.apply(x).sum(), x)  # first order: fine
    np.testing.assert_allclose(g.numpy(), [12.0])
    with pytest.raises(RuntimeError, match="Cube saved a buffer.*saved_for_graph"):
        grad(Cube.apply(x).sum(), x, create_graph=True)
    (g,) = grad(RecomputedCube.apply(x).sum(), x, create_graph=True)
    (h,) = grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), [12.0])  # 6 x


def test_a_rule_that_computes_outside_the_backend_is_named():
    class HostSquare(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return ctx.backend.binary("mul", x, x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return np.asarray(g) * 2 * np.asarray(x)  # numpy: not recordable

    x = vecgrad.tensor([2.0], dtype="float64", requires_grad=True)
    with pytest.raises(Exception, match="HostSquare"):
        grad(HostSquare.apply(x).sum(), x, create_graph=True)


# ------------------------------------------------------------------ memory over time
def _hvp_step(x, v):
    (g,) = grad((x.tanh() * x).sum(), x, create_graph=True)
    (h,) = grad((g * v).sum(), x)
    return h


@pytest.mark.slow
def test_no_memory_growth_over_a_thousand_hvps():
    """Allocated blocks and live objects stay flat: every recorded graph is freed.

    sys.getallocatedblocks counts every live pymalloc block (tracemalloc would slow each
    HVP six-fold); a leak of one small object per HVP would add 1,000. The interpreter
    and numpy settle their own caches over the first ~1,000 steps of ANY loop here
    (first-order backward too, measured), so those run before the measured 1,000.
    """
    x = vecgrad.tensor(RNG.standard_normal(6), dtype="float64", requires_grad=True)
    v = vecgrad.tensor(RNG.standard_normal(6), dtype="float64")
    gc.collect()
    for _ in range(1000):
        _hvp_step(x, v)
    blocks_before, objects_before = sys.getallocatedblocks(), len(gc.get_objects())
    for _ in range(1000):
        h = _hvp_step(x, v)
    del h
    blocks_after, objects_after = sys.getallocatedblocks(), len(gc.get_objects())
    assert blocks_after - blocks_before < 300, (
        f"{blocks_after - blocks_before} more memory blocks after 1000 HVPs")
    assert objects_after - objects_before < 50
    assert gc.collect() == 0  # nothing was left to the cycle collector either


def test_first_order_backward_still_uses_raw_buffers(monkeypatch):
    """The fast path never builds a recording backend."""
    def refuse(*args, **kwargs):
        raise AssertionError("GraphBackend used on the first-order path")

    monkeypatch.setattr(autograd.Recorder, "backend_of", refuse)
    x = vecgrad.tensor([1.0, 2.0], requires_grad=True)
    (x.tanh() * x).sum().backward()
    assert x.grad is not None


def test_deep_chain_has_no_recursion_limit():
    """1500 recorded steps y <- y + a y^2; second derivative by forward recursion."""
    a, steps = 2e-4, 1500
    x = vecgrad.tensor([0.5], dtype="float64", requires_grad=True)
    y = x
    for _ in range(steps):
        y = y + a * y * y
    (g,) = grad(y.sum(), x, create_graph=True)
    (h,) = grad(g.sum(), x)
    value, d1, d2 = 0.5, 1.0, 0.0
    for _ in range(steps):
        value, d1, d2 = (value + a * value * value, d1 * (1 + 2 * a * value),
                         d2 * (1 + 2 * a * value) + 2 * a * d1 * d1)
    assert math.isclose(g.item(), d1, rel_tol=1e-9)
    assert math.isclose(h.item(), d2, rel_tol=1e-9)


def test_errors_name_bad_arguments():
    x = vecgrad.tensor([1.0], dtype="float64", requires_grad=True)
    with pytest.raises(TypeError, match="outputs"):
        grad("y", x)
    with pytest.raises(RuntimeError, match=r"inputs\[0\].*does not require grad"):
        grad((x * 2).sum(), vecgrad.tensor([1.0]))
    with pytest.raises(ValueError, match="grad_outputs for"):
        grad([(x * 2).sum()], x, grad_outputs=[None, None])
    assert autograd.grad is grad


def test_graph_backend_covers_every_primitive():
    """A primitive added to the vocabulary needs its recorded form too (contract rule 5)."""
    from vecgrad.backends import primitives
    from vecgrad.ops.graph_backend import GraphBackend

    methods = set(primitives.OTHER_PRIMITIVES) | {"unary", "binary", "compare", "reduce",
                                                  "arg_reduce"}
    assert not sorted(m for m in methods if not hasattr(GraphBackend, m))
    gb = GraphBackend.of(vecgrad.get_backend("cpu"))
    x = vecgrad.tensor([0.5, 2.0], dtype="float64", requires_grad=True)
    y = vecgrad.tensor([1.5, 0.25], dtype="float64", requires_grad=True)
    for op in primitives.UNARY_OPS:
        out = gb.unary(op, x)
        np.testing.assert_allclose(out.numpy(), gb.real.unary(op, x._buf))
    for op in primitives.BINARY_OPS:
        out = gb.binary(op, x, y)
        np.testing.assert_allclose(out.numpy(), gb.real.binary(op, x._buf, y._buf))
        assert out.requires_grad
    for op in primitives.REDUCE_OPS:
        np.testing.assert_allclose(gb.reduce(op, x, (0,), False).numpy(),
                                   gb.real.reduce(op, x._buf, (0,), False))


def test_powers_zero_and_one_stay_finite_at_zero_to_third_order(device):
    """x**0 and x**1 at x = 0: the Hessian of a polynomial sum(c_k x^k) at the origin was
    nan, because the masked b == 0 branch of Pow's rule still held 0^-1 = inf."""
    need_float64(device)
    x0 = np.array([0.0, 1.0, -2.0])
    x = vecgrad.tensor(x0, dtype="float64", device=device, requires_grad=True)
    poly = (1.0 + 2.0 * x ** 1 + 3.0 * x ** 2 + x ** 0 * x ** 0.0).sum()
    (g,) = grad(poly, x, create_graph=True)
    (h,) = grad(g.sum(), x, create_graph=True)
    (third,) = grad(h.sum(), x, allow_unused=True)
    np.testing.assert_allclose(g.numpy(), 2.0 + 6.0 * x0)
    np.testing.assert_allclose(h.numpy(), [6.0, 6.0, 6.0])
    assert third is None or np.array_equal(third.numpy(), np.zeros(3))
    # a tensor exponent with zeros in it: the same rule
    e = vecgrad.tensor([0.0, 1.0, 2.0], dtype="float64", device=device)
    (g,) = grad((vecgrad.zeros(3, dtype="float64", device=device) + x * 0 + x ** e).sum(),
                x, create_graph=True)
    (h,) = grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), [0.0, 0.0, 2.0])
