"""Elementwise primitives on OpenCL against the numpy backend: awkward sizes, strided
views, broadcasting, in-place `out=`, nan/inf and the integer/bool kernels."""

import numpy as np
import pytest

from vecgrad.backends.primitives import BINARY_OPS, COMPARE_OPS, UNARY_OPS

SHAPES = [(1,), (3,), (7, 33), (129,), (2, 3, 257)]


def transposed(backend, buf):
    return backend.permute(buf, tuple(reversed(range(len(buf.shape)))))


def every_other(backend, buf):
    return backend.getitem(buf, (slice(None, None, 2),))


def _inputs(rng, op, shape, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    if op in ("log", "sqrt"):
        x = np.abs(x) + dtype.type(0.1)
    return x


@pytest.mark.parametrize("op", UNARY_OPS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_unary_matches_numpy(pair, rng, op, shape, float_dtype):
    pair.check("unary", op, _inputs(rng, op, shape, float_dtype))


@pytest.mark.parametrize("op", UNARY_OPS)
@pytest.mark.parametrize("view", [transposed, every_other])
def test_unary_on_views(pair, rng, op, view):
    x = _inputs(rng, op, (9, 5, 4), np.dtype(np.float32))
    pair.check("unary", op, x, view=view)


def test_unary_special_values(pair):
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30], np.float32)
    with np.errstate(all="ignore"):
        for op in UNARY_OPS:
            pair.check("unary", op, x)


@pytest.mark.parametrize("op", ["abs", "sign"])
def test_abs_and_sign_of_negative_zero_are_positive_zero(pair, op, float_dtype):
    # The kernels gave -0.0 (numpy and PyTorch give +0.0), so 1 / x.abs() was -inf.
    x = np.array([-0.0, 0.0, -2.0, np.nan], dtype=float_dtype)
    got, want = pair.run("unary", op, x)
    np.testing.assert_array_equal(got, want)
    assert np.signbit(got).tolist() == np.signbit(want).tolist() == [False, False, op == "sign", False]


@pytest.mark.parametrize("op", BINARY_OPS)
@pytest.mark.parametrize("shapes", [((1,), (1,)), ((33,), (33,)), ((7, 1), (1, 129)),
                                    ((3, 257), (257,)), ((2, 1, 7), (3, 1))], ids=str)
def test_binary_broadcast_matches_numpy(pair, rng, op, shapes, float_dtype):
    a = rng.standard_normal(shapes[0]).astype(float_dtype)
    b = rng.standard_normal(shapes[1]).astype(float_dtype)
    if op == "pow":
        a = np.abs(a) + float_dtype.type(0.5)
    pair.check("binary", op, a, b)


@pytest.mark.parametrize("op", BINARY_OPS)
def test_binary_transposed_operand(pair, rng, op):
    a = np.abs(rng.standard_normal((33, 7))).astype(np.float32) + np.float32(0.5)
    b = rng.standard_normal((7, 33)).astype(np.float32)
    pair.check("binary", op, a, b, view=transposed)


def test_binary_nan_propagation(pair):
    a = np.array([np.nan, 1.0, np.nan, -np.inf], np.float32)
    b = np.array([1.0, np.nan, np.nan, np.inf], np.float32)
    for op in ("maximum", "minimum", "add", "mul"):
        pair.check("binary", op, a, b)


def test_binary_out_writes_in_place(cl_backend, rng):
    a = rng.standard_normal((33, 3)).astype(np.float32)
    b = rng.standard_normal((3,)).astype(np.float32)
    buf = cl_backend.from_numpy(a)
    result = cl_backend.binary("sub", buf, cl_backend.from_numpy(b), out=buf)
    assert result is buf
    np.testing.assert_allclose(cl_backend.to_numpy(buf), a - b, rtol=1e-6)


@pytest.mark.parametrize("op", COMPARE_OPS)
def test_compare(pair, rng, op):
    a = rng.integers(-2, 3, (7, 33)).astype(np.float32)
    b = rng.integers(-2, 3, (33,)).astype(np.float32)
    pair.check("compare", op, a, b)
    pair.check("compare", op, a.astype(np.int64), b.astype(np.int64))


def test_where_broadcasts_three_operands(pair, rng):
    cond = rng.random((7, 1)) > 0.5
    a = rng.standard_normal((7, 33)).astype(np.float32)
    b = rng.standard_normal((33,)).astype(np.float32)
    pair.check("where", cond, a, b)


@pytest.mark.parametrize("dtype", [np.int64, np.bool_])
def test_integer_and_bool_kernels(pair, rng, dtype):
    a = rng.integers(-5, 5, (3, 129)).astype(dtype)
    b = rng.integers(-5, 5, (129,)).astype(dtype)
    ops = ["add", "mul", "maximum", "minimum"] + (["sub"] if dtype == np.int64 else [])
    for op in ops:
        pair.check("binary", op, a, b)
    if dtype == np.int64:
        for op in ("neg", "abs", "sign"):
            pair.check("unary", op, a)


@pytest.mark.parametrize("src", [np.float32, np.float64, np.int64, np.bool_])
@pytest.mark.parametrize("dst", [np.float32, np.float64, np.int64, np.bool_])
def test_astype(pair, rng, cl_backend, src, dst):
    if np.float64 in (src, dst) and not cl_backend.supports_float64:
        pytest.skip("device has no cl_khr_fp64")
    x = (rng.standard_normal((7, 33)) * 3).astype(src)
    pair.check("astype", x, np.dtype(dst), view=transposed)


def test_full_copy_assign(pair, cl_backend, rng):
    for dtype in (np.float32, np.int64, np.bool_):
        pair.check("full", (3, 129), 1.5 if dtype == np.float32 else 1, np.dtype(dtype))
    x = rng.standard_normal((7, 33)).astype(np.float32)
    pair.check("copy", x, view=transposed)
    dst = cl_backend.full((33, 7), 0.0, np.dtype(np.float32))
    cl_backend.assign(dst, transposed(cl_backend, cl_backend.from_numpy(x)))
    np.testing.assert_array_equal(cl_backend.to_numpy(dst), x.T)


def test_round_trip_and_empty(cl_backend, rng):
    for x in (rng.standard_normal((2, 0, 3)).astype(np.float32), np.float32(2.5),
              rng.standard_normal((5, 3))[::2, ::-1]):
        x = np.asarray(x)
        back = cl_backend.to_numpy(cl_backend.from_numpy(x))
        np.testing.assert_array_equal(back, x)
        assert back.dtype == x.dtype and back.shape == x.shape
    empty = cl_backend.unary("exp", cl_backend.from_numpy(np.zeros((0, 4), np.float32)))
    assert cl_backend.to_numpy(empty).shape == (0, 4)


def test_unary_unknown_op_and_int_math_are_clear_errors(cl_backend):
    from vecgrad.backends.opencl_runtime import OpenCLError

    x = cl_backend.from_numpy(np.arange(3))
    with pytest.raises(OpenCLError, match="unknown unary op 'tan'"):
        cl_backend.unary("tan", x)
    with pytest.raises(OpenCLError, match="unary 'exp' is not defined for int64"):
        cl_backend.unary("exp", x)
