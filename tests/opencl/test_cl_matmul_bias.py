"""matmul.cl's bias epilogue (Backend.matmul(..., bias=)): the bias joins each column as
the product is stored. Checked against the numpy backend at sizes around the tiles'
edges (odd, not multiples of the work-group), both dtypes, transposes, batches and a
strided bias; and through nn.Linear against the numpy device."""

import numpy as np
import pytest

import vecgrad
from vecgrad import nn
from vecgrad.backends.opencl_runtime import OpenCLError

SHAPES = [(1, 1, 1), (3, 5, 7), (32, 64, 10), (33, 17, 129), (64, 256, 128), (7, 300, 65),
          (129, 9, 3)]


@pytest.mark.parametrize("m, k, n", SHAPES)
@pytest.mark.parametrize("ta, tb", [(False, False), (False, True), (True, False)])
def test_bias_epilogue_matches_numpy(pair, float_dtype, rng, m, k, n, ta, tb):
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(float_dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(float_dtype)
    bias = rng.standard_normal(n).astype(float_dtype)
    got = pair.check("matmul", a, b, ta, tb, bias)  # (positional: pair uploads it)
    want = (a.T if ta else a) @ (b.T if tb else b) + bias
    tol = 1e-4 if float_dtype == np.float32 else 1e-11
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * max(1.0, np.abs(want).max()))


def test_batched_product_and_strided_bias(cl_backend, float_dtype, rng):
    a = rng.standard_normal((3, 5, 6)).astype(float_dtype)
    b = rng.standard_normal((6, 9)).astype(float_dtype)
    every_other = rng.standard_normal(18).astype(float_dtype)
    bias = cl_backend.getitem(cl_backend.from_numpy(every_other), (slice(None, None, 2),))
    got = cl_backend.to_numpy(cl_backend.matmul(cl_backend.from_numpy(a),
                                                cl_backend.from_numpy(b), bias=bias))
    np.testing.assert_allclose(got, a @ b + every_other[::2],
                               rtol=1e-4 if float_dtype == np.float32 else 1e-12, atol=1e-5)


def test_empty_k_gives_the_bias(cl_backend, rng):
    a, b = np.zeros((4, 0), np.float32), np.zeros((0, 3), np.float32)
    bias = np.array([1.0, -2.0, 3.0], np.float32)
    got = cl_backend.to_numpy(cl_backend.matmul(cl_backend.from_numpy(a), cl_backend.from_numpy(b),
                                                bias=cl_backend.from_numpy(bias)))
    np.testing.assert_array_equal(got, np.tile(bias, (4, 1)))


def test_a_bias_of_the_wrong_shape_is_named(cl_backend):
    a = cl_backend.from_numpy(np.ones((2, 3), np.float32))
    b = cl_backend.from_numpy(np.ones((3, 4), np.float32))
    with pytest.raises(OpenCLError, match=r"bias must have shape \(4,\)"):
        cl_backend.matmul(a, b, bias=cl_backend.from_numpy(np.ones(3, np.float32)))


def test_linear_layer_on_opencl_matches_cpu_with_gradients(cl_backend, rng):
    x = rng.standard_normal((37, 11)).astype(np.float32)
    layer = nn.Linear(11, 13)
    out_cpu = layer(vecgrad.tensor(x, requires_grad=True))
    out_cpu.tanh().sum().backward()
    grads_cpu = [p.grad.numpy() for p in layer.parameters()]
    layer.zero_grad()
    layer.to("opencl")
    xo = vecgrad.tensor(x, device="opencl", requires_grad=True)
    out = layer(xo)
    np.testing.assert_allclose(out.numpy(), out_cpu.numpy(), rtol=1e-5, atol=1e-5)
    out.tanh().sum().backward()
    for p, want in zip(layer.parameters(), grads_cpu):
        np.testing.assert_allclose(p.grad.numpy(), want, rtol=1e-4, atol=1e-5)
