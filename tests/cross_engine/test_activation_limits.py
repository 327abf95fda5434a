"""Both engines agree on every activation at the edges: 0, kinks and huge |x|.

scalargrad's catalogue is the reference (it documents each limit); vecgrad's numpy
backend and the OpenCL kernels must give the same value and derivative there.
"""

import numpy as np
import pytest

import vecgrad
from scalargrad.functions import ACTIVATIONS

EDGES = [-1e308, -1e6, -50.0, -1.0, -1e-9, 0.0, 1e-9, 1.0, 50.0, 1e6, 1e308]


def _alphas(activation):
    if activation.default_alpha is None:
        return [None]
    return [activation.default_alpha, -0.5] if activation.name == "soft_exponential" \
        else [activation.default_alpha]


def _reference(fn, x, alpha):
    try:
        return fn(x, alpha)
    except (ValueError, OverflowError) as exc:  # the catalogue never raises on floats
        pytest.fail(f"scalargrad raised {exc!r} at x={x}")


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_edges_match_scalargrad(name, device):
    activation = ACTIVATIONS[name]
    for alpha in _alphas(activation):
        x = vecgrad.tensor(EDGES, dtype=vecgrad.float64, device=device, requires_grad=True)
        y = x.activation(name, alpha)
        y.sum().backward()
        want_f = [_reference(activation.f, v, alpha) for v in EDGES]
        want_df = [_reference(activation.df, v, alpha) for v in EDGES]
        np.testing.assert_allclose(y.numpy(), want_f, rtol=1e-12, atol=0,
                                   err_msg=f"{name}(alpha={alpha}) value")
        np.testing.assert_allclose(x.grad.numpy(), want_df, rtol=1e-12, atol=1e-300,
                                   err_msg=f"{name}(alpha={alpha}) derivative")
