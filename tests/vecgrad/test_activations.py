"""Every activation of scalargrad's catalogue in vecgrad: values and derivatives agree with
the catalogue's own f and df (the other engine), and backward agrees with central
differences. Walks ACTIVATIONS, so a new entry is tested here the day it is added."""

import math

import numpy as np
import pytest
from scalargrad.functions import ACTIVATIONS

import vecgrad
import vecgrad.nn.functional as F
from vg_helpers import gradcheck, need_float64

NAMES = sorted(ACTIVATIONS)
# Points away from the kinks (0 for relu/step/..., the soft_exponential boundary).
SMOOTH_POINTS = np.array([-3.1, -1.2, -0.4, 0.3, 0.9, 2.2, 4.7])
KINK_POINTS = np.array([0.0, -0.0, 1e-8, -1e-8])
EXTREME_POINTS = np.array([1e6, -1e6, 80.0, -80.0, 1e4, -1e4])


def _reference(name, points, which="f", alpha=None):
    entry = ACTIVATIONS[name]
    fn = entry.f if which == "f" else entry.df
    return np.array([fn(float(p), alpha) for p in points])


@pytest.mark.parametrize("name", NAMES)
def test_values_and_derivatives_match_the_catalogue(device, name):
    need_float64(device)
    points = np.concatenate([SMOOTH_POINTS, KINK_POINTS])
    x = vecgrad.tensor(points, device=device, requires_grad=True)
    y = x.activation(name)
    np.testing.assert_allclose(y.numpy(), _reference(name, points), rtol=1e-12, atol=1e-15)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), _reference(name, points, "df"),
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_backward_matches_finite_differences(device, name):
    gradcheck(lambda t: F.activation(t, name), [SMOOTH_POINTS.reshape(7, 1)], device, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_extreme_inputs_give_the_catalogue_limits(device, name):
    need_float64(device)
    x = vecgrad.tensor(EXTREME_POINTS, device=device, requires_grad=True)
    y = x.activation(name)
    np.testing.assert_allclose(y.numpy(), _reference(name, EXTREME_POINTS), rtol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), _reference(name, EXTREME_POINTS, "df"),
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bent_identity_slope_near_the_largest_float(device, dtype):
    # x / (2 * hypot(x, 1)) overflowed 2 * hypot past half the largest float: slope 1
    # instead of the limits 1.5 and 0.5
    if dtype == "float64":
        need_float64(device)
    big = float(np.finfo(dtype).max) * 0.9
    x = vecgrad.tensor([big, -big], dtype=getattr(vecgrad, dtype), device=device,
                       requires_grad=True)
    x.bent_identity().sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.5, 0.5], rtol=1e-6)
    assert ACTIVATIONS["bent_identity"].df(big) == 1.5
    assert ACTIVATIONS["bent_identity"].df(-big) == 0.5


def test_bent_identity_near_zero_and_at_minus_infinity(device):
    # hypot(x, 1) - 1 cancelled near 0 (f(1e-8) = 1e-8 exactly), and f(-inf) was nan
    need_float64(device)
    x = vecgrad.tensor([1e-8, -1e-8, -math.inf, math.inf], dtype=vecgrad.float64,
                       device=device)
    got = x.bent_identity().numpy()
    np.testing.assert_allclose(got[:2], [1e-8 + 2.5e-17, -1e-8 + 2.5e-17], rtol=1e-15)
    assert got[2] == -math.inf and got[3] == math.inf
    assert list(got) == [ACTIVATIONS["bent_identity"].f(float(v)) for v in x.numpy()]


def test_soft_exponential_small_alpha_times_x_does_not_cancel(device):
    # (exp(a x) - 1) / a lost 5 digits at a = 1e-6, x = 1e-8 in the scalar catalogue and
    # the OpenCL kernel (numpy used expm1): now expm1 in all three
    need_float64(device)
    points = [1e-8, -1e-8, 2.0]
    want = [math.expm1(1e-6 * p) / 1e-6 + 1e-6 for p in points]
    x = vecgrad.tensor(points, dtype=vecgrad.float64, device=device)
    np.testing.assert_allclose(x.soft_exponential(alpha=1e-6).numpy(), want, rtol=1e-14)
    scalar = [ACTIVATIONS["soft_exponential"].f(p, 1e-6) for p in points]
    np.testing.assert_allclose(scalar, want, rtol=1e-14)


@pytest.mark.parametrize("name, alpha", [("leaky_relu", 0.2), ("elu", 0.5),
                                         ("soft_exponential", -0.4), ("soft_exponential", 0.0),
                                         ("soft_exponential", 0.8)])
def test_alpha_parameter(device, name, alpha):
    need_float64(device)
    points = SMOOTH_POINTS[SMOOTH_POINTS > -2]  # inside soft_exponential's domain for -0.4
    x = vecgrad.tensor(points, device=device, requires_grad=True)
    y = x.activation(name, alpha)
    np.testing.assert_allclose(y.numpy(), _reference(name, points, alpha=alpha), rtol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), _reference(name, points, "df", alpha), rtol=1e-9)
    gradcheck(lambda t: t.activation(name, alpha), [points], device)


def test_methods_and_functional_names_cover_the_catalogue(device):
    x = vecgrad.tensor([0.5, -0.5], device=device)
    for name in NAMES:
        by_method = getattr(x, name)().numpy()
        by_function = getattr(F, name)(x).numpy()
        np.testing.assert_allclose(by_method, by_function)
        np.testing.assert_allclose(by_method, _reference(name, [0.5, -0.5]), rtol=1e-6)


def test_float32_stays_float32(device):
    x = vecgrad.tensor([1.0, -1.0], device=device, requires_grad=True)
    for name in NAMES:
        assert x.activation(name).dtype == np.float32


def test_unknown_activation_and_bad_alpha_are_named(device):
    x = vecgrad.tensor([1.0], device=device)
    with pytest.raises(ValueError, match="unknown activation 'swish'; known: identity"):
        x.activation("swish")
    with pytest.raises(ValueError, match="relu takes no alpha"):
        x.activation("relu", 0.3)
    with pytest.raises(TypeError, match="relu: input must be float32 or float64"):
        vecgrad.tensor([1, 2], device=device).relu()


def test_kink_conventions(device):
    x = vecgrad.tensor([0.0], device=device, requires_grad=True)
    expected = {"relu": 0.0, "leaky_relu": 0.01, "elu": 1.0, "step": 0.0, "sinc": 0.0}
    for name, slope in expected.items():
        x.grad = None
        x.activation(name).sum().backward()
        assert math.isclose(x.grad.item(), slope, rel_tol=1e-6), name


@pytest.mark.parametrize("name", NAMES)
def test_fused_backward_primitive_equals_derivative_times_grad(device, name):
    # activation_backward fuses grad * f'(x); it must keep f' exactly, nan rule included.
    backend = vecgrad.get_backend(device)
    points = np.concatenate([SMOOTH_POINTS, KINK_POINTS, EXTREME_POINTS,
                             [np.nan, np.inf, -np.inf]]).astype(np.float32)
    rng = np.random.default_rng(3)
    grad = rng.standard_normal(points.shape).astype(np.float32)
    grad[:2] = [0.0, np.inf]
    alpha = ACTIVATIONS[name].default_alpha
    x_buf, g_buf = backend.from_numpy(points), backend.from_numpy(grad)
    fused = backend.to_numpy(backend.activation_backward(name, x_buf, g_buf, alpha))
    local = backend.to_numpy(backend.activation_derivative(name, x_buf, alpha))
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(fused, local * grad, rtol=1e-6, atol=0, equal_nan=True)


def test_sigmoid_keeps_its_tiny_values_beside_a_nan(device):
    # float32 sigmoid(-88.77) is 2.8e-39; the cpu fast path gave 0 when the tensor also
    # held a nan (its overflow check read the max, which was nan); OpenCL gave 2.8e-39
    x = vecgrad.tensor([-88.7729, float("nan"), 1.0], device=device)
    got = x.sigmoid().numpy()
    assert np.isnan(got[1]) and got[0] == np.float32(2.795232e-39)
    assert got[0] == vecgrad.tensor([-88.7729], device=device).sigmoid().item()


def test_elu_of_minus_zero_is_minus_zero(device):
    # alpha * expm1(-0.0), as scalargrad, OpenCL and PyTorch give (cpu gave +0.0)
    out = vecgrad.tensor([-0.0, 0.0], device=device).elu().numpy()
    assert out.tolist() == [0.0, 0.0] and np.signbit(out).tolist() == [True, False]
    assert math.copysign(1.0, ACTIVATIONS["elu"].f(-0.0)) == -1.0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sinc_slope_near_zero_keeps_its_digits(device, dtype):
    # cos(x)/x - sin(x)/x^2 cancels with a relative error of about eps / x^2: float32
    # sinc'(1.01e-3) was 27% off (and 0.7% at 2e-3) on both devices; the Taylor series
    # now covers |x| < 1 in float32 and < 1e-2 in float64
    if dtype == "float64":
        need_float64(device)
    xs = [1e-4, 1.01e-3, 2e-3, 1e-2, 0.3, 0.99, 1.0, 3.0, -0.5]
    want = []
    for x in xs:
        x = float(np.float32(x))
        want.append(sum((-1) ** k * 2 * k * x ** (2 * k - 1) / math.factorial(2 * k + 1)
                        for k in range(1, 14)))
    x = vecgrad.tensor(np.array(xs, np.float32), dtype=dtype, device=device,
                       requires_grad=True)
    x.sinc().sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=3e-7 if dtype == "float32" else 1e-12)
    recorded, = vecgrad.autograd.grad(x.sinc().sum(), [x], create_graph=True)
    np.testing.assert_allclose(recorded.numpy(), want, rtol=3e-7 if dtype == "float32" else 1e-12)
