"""Reductions on OpenCL against the numpy backend: every axis combination, keepdims,
long rows (work-group tree), strided inputs, nan propagation, first-occurrence ties."""

import itertools

import numpy as np
import pytest

from vecgrad.backends.primitives import ARG_REDUCE_OPS, REDUCE_OPS

SHAPE = (3, 7, 33)
AXES = [axes for r in (1, 2, 3) for axes in itertools.combinations(range(3), r)]


@pytest.mark.parametrize("op", REDUCE_OPS)
@pytest.mark.parametrize("axes", AXES, ids=str)
def test_reduce_axes(pair, rng, op, axes, float_dtype):
    x = rng.standard_normal(SHAPE).astype(float_dtype)
    for keepdims in (False, True):
        pair.check("reduce", op, x, axes, keepdims)


@pytest.mark.parametrize("op", REDUCE_OPS)
@pytest.mark.parametrize("shape", [(1,), (129,), (2, 5000), (100_003,)], ids=str)
def test_reduce_long_rows(pair, rng, op, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    pair.check("reduce", op, x, (len(shape) - 1,), False, rtol=2e-4, atol=1e-3)


@pytest.mark.parametrize("op", REDUCE_OPS)
def test_reduce_strided_input(pair, rng, op):
    x = rng.standard_normal((33, 7, 4)).astype(np.float32)
    view = lambda backend, buf: backend.permute(buf, (2, 0, 1))  # noqa: E731
    pair.check("reduce", op, x, (1,), False, view=view)
    pair.check("reduce", op, x, (0, 2), True, view=view)


def test_reduce_int_bool_and_nan(pair, rng):
    ints = rng.integers(-9, 9, (7, 33))
    for op in REDUCE_OPS:
        pair.check("reduce", op, ints, (0,), False)
    pair.check("reduce", "sum", rng.random((7, 33)) > 0.5, (1,), False)
    x = np.array([[1.0, np.nan, 3.0], [np.inf, 1.0, -np.inf]], np.float32)
    for op in REDUCE_OPS:
        with np.errstate(all="ignore"):
            pair.check("reduce", op, x, (1,), False)


@pytest.mark.parametrize("op", ARG_REDUCE_OPS)
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_arg_reduce(pair, rng, op, axis):
    # Few distinct values so ties are common: the first occurrence must win.
    x = rng.integers(0, 3, SHAPE).astype(np.float32)
    for keepdims in (False, True):
        pair.check("arg_reduce", op, x, axis, keepdims)
    view = lambda backend, buf: backend.permute(buf, (2, 1, 0))  # noqa: E731
    pair.check("arg_reduce", op, x, axis, False, view=view)


def test_arg_reduce_nan_is_first(pair):
    x = np.array([[1.0, np.nan, 5.0, np.nan], [2.0, 2.0, 1.0, 1.0]], np.float32)
    for op in ARG_REDUCE_OPS:
        pair.check("arg_reduce", op, x, 1, False)


@pytest.mark.parametrize("shape, axes", [((1,), (0,)), ((7, 33), (1,)), ((7, 33), (0,)),
                                         ((3, 257, 5), (0, 2)), ((2, 5000), (1,)),
                                         ((100_003,), (0,)), ((4, 0, 3), (1,))], ids=str)
def test_bool_sums_count_in_one_launch(pair, rng, shape, axes, monkeypatch):
    """reduce_count_mid (odd sizes, a strided view, long rows that keep the cast path,
    an empty axis) against numpy's int64 count."""
    x = rng.random(shape) > 0.3
    got = pair.check("reduce", "sum", x, axes, False)
    assert got.dtype == np.int64
    pair.check("reduce", "sum", x, axes, True)
    if x.ndim > 1:
        view = lambda backend, buf: backend.permute(buf, tuple(reversed(range(x.ndim))))  # noqa: E731
        pair.check("reduce", "sum", x, axes, False, view=view)


def test_a_bool_count_is_one_launch(cl_backend):
    x = cl_backend.from_numpy(np.array([[True, False, True], [True, True, True]]))
    stats = cl_backend.runtime.stats
    stats.reset()
    out = cl_backend.reduce("sum", x, (1,), False)
    assert stats.launches == 1
    np.testing.assert_array_equal(cl_backend.to_numpy(out), [2, 3])
