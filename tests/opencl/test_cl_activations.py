"""Every catalogue activation on OpenCL: against the numpy backend on random inputs and
against scalargrad's float definitions at the conventions' special points."""

import math

import numpy as np
import pytest

from scalargrad.functions import ACTIVATIONS

NAMES = sorted(ACTIVATIONS)
# Kinks, the sinc series switch, nan/inf and |x| = 1e6 (limits, never overflow errors).
SPECIAL = [0.0, -0.0, 1e-4, -1e-4, 1.0, -1.0, 3.0, -3.0, 1e6, -1e6,
           math.inf, -math.inf, math.nan]


def _alphas(name):
    default = ACTIVATIONS[name].default_alpha
    if name == "soft_exponential":
        return [-0.5, 0.0, 0.5]
    return [default] if default is None else [default, 0.3]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [(1,), (7, 33), (257,)], ids=str)
def test_forward_and_derivative_match_numpy(pair, rng, name, shape, float_dtype):
    x = (rng.standard_normal(shape) * 2).astype(float_dtype)
    for alpha in _alphas(name):
        with np.errstate(all="ignore"):
            pair.check("activation", name, x, alpha)
            pair.check("activation_derivative", name, x, alpha)


@pytest.mark.parametrize("name", NAMES)
def test_on_a_transposed_view(pair, rng, name):
    x = rng.standard_normal((33, 7)).astype(np.float32)
    alpha = ACTIVATIONS[name].default_alpha
    view = lambda backend, buf: backend.permute(buf, (1, 0))  # noqa: E731
    pair.check("activation", name, x, alpha, view=view)
    pair.check("activation_derivative", name, x, alpha, view=view)


@pytest.mark.parametrize("name", NAMES)
def test_special_points_follow_scalargrad(cl_backend, name):
    entry = ACTIVATIONS[name]
    x = np.array(SPECIAL, dtype=np.float64 if cl_backend.supports_float64 else np.float32)
    for alpha in _alphas(name):
        buf = cl_backend.from_numpy(x)
        got_f = cl_backend.to_numpy(cl_backend.activation(name, buf, alpha))
        got_df = cl_backend.to_numpy(cl_backend.activation_derivative(name, buf, alpha))
        want_f = np.array([entry.f(float(v), alpha) for v in x])
        want_df = np.array([entry.df(float(v), alpha) for v in x])
        np.testing.assert_allclose(got_f, want_f, rtol=1e-6, atol=1e-12, equal_nan=True,
                                   err_msg=f"{name}(alpha={alpha}) at {SPECIAL}")
        np.testing.assert_allclose(got_df, want_df, rtol=1e-6, atol=1e-12, equal_nan=True,
                                   err_msg=f"{name}'(alpha={alpha}) at {SPECIAL}")


def test_activation_needs_float(cl_backend):
    from vecgrad.backends.opencl_runtime import OpenCLError

    with pytest.raises(OpenCLError, match="needs a float tensor, got int64"):
        cl_backend.activation("relu", cl_backend.from_numpy(np.arange(3)), None)
