"""kernels/conv2d.cl's max_pool_tiles and max_pool_tiles_backward against the numpy
backend (whose backward gives the same bits as base.py's rule): odd sizes with rows and
columns past the last tile, non-square tiles, ties, nan, inf gradients, strided input,
both dtypes; one launch each; and through F.max_pool2d on OpenCL vs cpu."""

import numpy as np
import pytest

import vecgrad
from vecgrad.backends.base import Backend
from vecgrad.nn import functional as F

CASES = [((2, 3, 8, 8), (2, 2)), ((1, 2, 7, 9), (2, 2)), ((3, 1, 9, 7), (3, 2)),
         ((2, 5, 5, 6), (1, 3)), ((1, 1, 4, 4), (4, 4)), ((2, 3, 3, 3), (2, 2)),
         ((33, 2, 6, 10), (2, 5))]


def _data(rng, shape, dtype, ties=False):
    x = rng.standard_normal(shape).astype(dtype)
    if ties:
        x = np.round(x).astype(dtype)  # few distinct values: many ties in a tile
    return x


@pytest.mark.parametrize("shape, kernel", CASES, ids=str)
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
def test_forward_and_backward_match_numpy(pair, rng, float_dtype, shape, kernel, ties):
    x = _data(rng, shape, float_dtype, ties)
    out = pair.check("max_pool_tiles", x, kernel)
    grad = rng.standard_normal(out.shape).astype(float_dtype)
    got, want = pair.run("max_pool_tiles_backward", x, out, grad, kernel)
    np.testing.assert_array_equal(got, want)  # the same arithmetic: the same bits


def test_nan_in_a_tile_and_non_finite_gradients(pair, float_dtype):
    x = np.arange(2 * 1 * 4 * 6, dtype=float_dtype).reshape(2, 1, 4, 6) % 5
    x[0, 0, 0, 1] = np.nan          # a tile whose maximum is nan: the first nan takes it
    x[0, 0, 1, 0] = np.nan
    x[1, 0, 2:4, 2:4] = 3.0          # a tile of ties: the first position takes it
    out = pair.check("max_pool_tiles", x, (2, 2))
    assert np.isnan(out[0, 0, 0, 0])
    grad = np.ones(out.shape, float_dtype)
    grad[1, 0, 0, 0] = np.inf        # spreads nan beside its maximum, as base.py's rule
    grad[1, 0, 1, 2] = np.nan
    got, want = pair.run("max_pool_tiles_backward", x, out, grad, (2, 2))
    np.testing.assert_array_equal(got, want)
    reference = Backend.max_pool_tiles_backward(pair.ref, x, out, grad, (2, 2))
    np.testing.assert_array_equal(got, reference)


def test_strided_input_and_int64(pair, rng):
    x = rng.standard_normal((3, 2, 6, 8)).astype(np.float32)
    view = lambda backend, buf: backend.permute(buf, (1, 0, 2, 3))  # noqa: E731
    pair.check("max_pool_tiles", x, (2, 2), view=view)
    ints = rng.integers(-5, 5, (2, 2, 4, 6))
    out = pair.check("max_pool_tiles", ints, (2, 3))
    got, want = pair.run("max_pool_tiles_backward", ints, out, np.ones_like(out), (2, 3))
    np.testing.assert_array_equal(got, want)


def test_one_launch_each(cl_backend, rng):
    x = cl_backend.from_numpy(rng.standard_normal((2, 3, 8, 8)).astype(np.float32))
    stats = cl_backend.runtime.stats
    stats.reset()
    out = cl_backend.max_pool_tiles(x, (2, 2))
    assert stats.launches == 1
    cl_backend.max_pool_tiles_backward(x, out, cl_backend.full(out.shape, 1.0, np.float32),
                                       (2, 2))
    assert stats.launches == 3  # (the fill of the gradient, then one)


def test_max_pool2d_layer_on_opencl_matches_cpu(cl_backend, rng):
    x = rng.standard_normal((4, 3, 9, 10)).astype(np.float32)
    results = []
    for device in ("cpu", cl_backend.device):
        t = vecgrad.tensor(x, device=device, requires_grad=True)
        y = F.max_pool2d(t, 2)
        (y * y).sum().backward()
        results.append((y.numpy(), t.grad.numpy()))
    np.testing.assert_allclose(results[1][0], results[0][0])
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-6)
