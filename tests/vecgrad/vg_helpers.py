"""Shared helpers for the vecgrad tests: finite differences and gradient checks.

Kept in a uniquely named module (no package __init__ here: a package called `vecgrad`
would shadow the library).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import vecgrad

# Hypothesis settings shared by the property tests: modest example counts (the machine is
# shared), no deadline (first calls import things), and the per-test `device` fixture.
PROPERTY = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def need_float64(device):
    """Skip the test where the device has no float64 (some OpenCL devices)."""
    if not vecgrad.get_backend(device).supports_float64:
        pytest.skip(f"{device} has no float64")


def numerical_grads(f, arrays, eps=1e-6):
    """Central differences of the scalar f(*arrays) for every element of every array."""
    grads = []
    for array in arrays:
        g = np.zeros_like(array)
        flat, gflat = array.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            up = f(*arrays)
            flat[i] = old - eps
            down = f(*arrays)
            flat[i] = old
            gflat[i] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


def _build(array, device, permuted, requires_grad=False):
    """(leaf, input): with permuted=True the input is a non-contiguous permuted view."""
    if permuted and array.ndim >= 2:
        axes = tuple(reversed(range(array.ndim)))
        leaf = vecgrad.tensor(array.transpose(axes).copy(), device=device,
                              requires_grad=requires_grad)
        return leaf, leaf.permute(*axes)
    leaf = vecgrad.tensor(array, device=device, requires_grad=requires_grad)
    return leaf, leaf


def gradcheck(fn, arrays, device, atol=1e-6, rtol=1e-5, seed=0, permuted=False):
    """Check fn's backward against central differences in float64.

    fn maps vecgrad tensors to a tensor. A random projection w turns the output into the
    scalar sum(fn(x) * w), so every element of the Jacobian matters. permuted=True feeds
    non-contiguous (transposed) views of the inputs.
    """
    need_float64(device)
    arrays = [np.array(a, dtype=np.float64) for a in arrays]

    def scalar(*host):
        with vecgrad.no_grad():
            out = fn(*[_build(a, device, permuted)[1] for a in host])
            return float(np.sum(out.numpy() * w))

    leaves, inputs = zip(*[_build(a, device, permuted, True) for a in arrays])
    result = fn(*inputs)
    assert result.dtype == np.float64, f"float64 inputs gave {result.dtype}"
    w = np.random.default_rng(seed).standard_normal(result.shape)
    result.backward(vecgrad.tensor(w, device=device))
    expected = numerical_grads(scalar, arrays)
    for i, (leaf, numeric) in enumerate(zip(leaves, expected)):
        assert leaf.grad is not None, f"input {i} got no gradient"
        got = leaf.grad.numpy()
        if permuted and got.ndim >= 2:
            got = got.transpose(tuple(reversed(range(got.ndim))))
        np.testing.assert_allclose(got, numeric, atol=atol, rtol=rtol,
                                   err_msg=f"gradient of input {i}")
    return result
