"""matmul (tiles, edges, transposes, batches, views), im2col/col2im and softmax on
OpenCL against the numpy backend."""

import itertools

import numpy as np
import pytest

SIZES = [1, 3, 7, 33, 129]


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (3, 7, 33), (129, 33, 7), (33, 129, 3),
                                   (65, 257, 66), (7, 1, 129)])
@pytest.mark.parametrize("ta,tb", list(itertools.product([False, True], repeat=2)))
def test_matmul_any_size_and_transposes(pair, rng, m, k, n, ta, tb, float_dtype):
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(float_dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(float_dtype)
    pair.check("matmul", a, b, transpose_a=ta, transpose_b=tb)


@pytest.mark.parametrize("ashape,bshape", [((4, 7, 33), (4, 33, 5)), ((33, 7), (3, 7, 9)),
                                           ((2, 1, 5, 6), (3, 6, 4)),
                                           ((2, 3, 5, 6), (1, 3, 6, 2))], ids=str)
def test_matmul_batched_broadcast(pair, rng, ashape, bshape):
    a = rng.standard_normal(ashape).astype(np.float32)
    b = rng.standard_normal(bshape).astype(np.float32)
    pair.check("matmul", a, b)


def test_matmul_on_views_and_int64(pair, rng):
    a = rng.standard_normal((33, 65)).astype(np.float32)
    b = rng.standard_normal((33, 17)).astype(np.float32)
    pair.check("matmul", a, b, view=lambda be, buf: be.permute(buf, (1, 0)))
    pair.check("matmul", a, b[:, :5], view=lambda be, buf: be.getitem(be.permute(buf, (1, 0)),
                                                                      (slice(None, None, 2),)))
    pair.check("matmul", rng.integers(-5, 5, (7, 9)), rng.integers(-5, 5, (9, 3)))


def test_matmul_large_against_numpy(cl_backend, rng):
    a = rng.standard_normal((300, 513)).astype(np.float32)
    b = rng.standard_normal((513, 200)).astype(np.float32)
    got = cl_backend.to_numpy(cl_backend.matmul(cl_backend.from_numpy(a), cl_backend.from_numpy(b)))
    np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4)


CONV = [  # input shape, kernel, stride, padding, dilation
    ((2, 3, 7, 9), (3, 3), (1, 1), (0, 0), (1, 1)),
    ((1, 2, 8, 8), (3, 2), (2, 3), (1, 2), (1, 1)),
    ((2, 1, 9, 7), (2, 3), (1, 2), (2, 1), (2, 2)),
    ((3, 4, 5, 5), (1, 1), (1, 1), (0, 0), (1, 1)),
]


@pytest.mark.parametrize("shape,ks,st,pad,dil", CONV, ids=str)
def test_im2col_col2im(pair, rng, shape, ks, st, pad, dil, float_dtype):
    x = rng.standard_normal(shape).astype(float_dtype)
    cols = pair.check("im2col", x, ks, st, pad, dil)
    grad = rng.standard_normal(cols.shape).astype(float_dtype)
    pair.check("col2im", grad, shape, ks, st, pad, dil)
    # strided NCHW input (a channels-last array permuted to NCHW)
    nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    pair.check("im2col", nhwc, ks, st, pad, dil,
               view=lambda be, buf: be.permute(buf, (0, 3, 1, 2)))


@pytest.mark.parametrize("method", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,axis", [((1,), 0), ((7, 10), 1), ((7, 10), 0),
                                        ((3, 257, 5), 1), ((2, 3000), 1)], ids=str)
def test_softmax(pair, rng, method, shape, axis, float_dtype):
    x = (rng.standard_normal(shape) * 5).astype(float_dtype)
    pair.check(method, x, axis)


def test_softmax_is_stable_and_propagates_nan(pair):
    x = np.array([[1000.0, 999.0, -1000.0], [np.nan, 0.0, 1.0], [-np.inf, 0.0, 1.0]],
                 np.float32)
    with np.errstate(all="ignore"):
        for method in ("softmax", "log_softmax"):
            pair.check(method, x, 1)


@pytest.mark.parametrize("config", ["GPU", "small", "CPU"])
def test_every_tile_configuration_is_correct(cl_backend, rng, config, float_dtype):
    """The GPU and fallback tiles cannot be timed here, but they must compute right."""
    from vecgrad.backends.opencl_backend import MATMUL_TILES, OpenCLBackend

    tiles = MATMUL_TILES[config] if config == "small" else MATMUL_TILES[(config,
                                                                         float_dtype.itemsize)]
    backend = OpenCLBackend(cl_backend.device)  # private instance with forced tiles
    backend.matmul_tiles = lambda dtype: dict(tiles)
    for (m, k, n), (ta, tb) in [((70, 33, 129), (False, False)), ((1, 200, 65), (True, True)),
                                ((129, 7, 3), (True, False))]:
        a = rng.standard_normal((k, m) if ta else (m, k)).astype(float_dtype)
        b = rng.standard_normal((n, k) if tb else (k, n)).astype(float_dtype)
        got = backend.to_numpy(backend.matmul(backend.from_numpy(a), backend.from_numpy(b),
                                              transpose_a=ta, transpose_b=tb))
        want = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
