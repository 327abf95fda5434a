"""The layout variants of the elementwise kernels (kernels/common.cl, ELEMENT_OFFSETS):
every elementwise primitive is run on purpose through the contiguous 1-d program, the
2-d range (row/column broadcast, transposes, strided slices) and the general program
(3+ axes, narrow rows), with strided outputs too, against numpy on the same views."""

import numpy as np
import pytest

from vecgrad.backends import opencl_backend
from vecgrad.backends.opencl_array import collapse_dims

R, C = 37, 70  # C >= _MIN_2D_COLS and not a multiple of the 2-d work-group width


@pytest.fixture
def variants(monkeypatch, cl_backend):
    """The layout variants _elementwise chose, as 'contiguous', '2d' or 'general'."""
    seen = []
    # _elementwise remembers each layout's variant: start the test with none remembered
    monkeypatch.setattr(cl_backend, "_layouts", {})
    choose = opencl_backend._layout_variant

    def spy(shape):
        defines, two_d = choose(shape)
        seen.append("2d" if two_d else "general" if defines is None else "contiguous")
        return defines, two_d

    monkeypatch.setattr(opencl_backend, "_layout_variant", spy)
    return seen


def operand(backend, host, kind):
    """A device buffer with the values of `host` (2-d) laid out as `kind`, and those
    values as numpy computes them from the same view."""
    rows, cols = host.shape
    if kind == "contiguous":
        return backend.from_numpy(host), host
    if kind == "transposed":
        return backend.permute(backend.from_numpy(np.ascontiguousarray(host.T)), (1, 0)), host
    if kind == "stepped":  # x[1::2, ::3] of a bigger array: offset and strides 2 and 3
        big = np.zeros((2 * rows + 1, 3 * cols), host.dtype)
        big[1::2, ::3] = host
        return backend.getitem(backend.from_numpy(big), (slice(1, None, 2),
                                                         slice(None, None, 3))), host
    if kind == "reversed":  # negative strides
        flipped = np.ascontiguousarray(host[::-1, ::-1])
        return backend.getitem(backend.from_numpy(flipped), (slice(None, None, -1),
                                                             slice(None, None, -1))), host
    if kind == "row":  # (cols,) broadcast over the rows: bias add
        return backend.from_numpy(host[0]), host[0]
    if kind == "column":  # (rows, 1) broadcast over the columns
        return backend.from_numpy(host[:, :1]), host[:, :1]
    if kind == "scalar":  # 0-d: stride 0 everywhere
        return backend.from_numpy(host[0, 0]), host[0, 0]
    raise AssertionError(kind)


KINDS = ["contiguous", "transposed", "stepped", "reversed", "row", "column", "scalar"]


def _values(rng, dtype, shape=(R, C)):
    if np.dtype(dtype) == np.bool_:
        return rng.random(shape) > 0.5
    if np.dtype(dtype).kind == "i":
        return rng.integers(-5, 6, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _check(got, want):
    assert got.shape == want.shape and got.dtype == want.dtype
    if got.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kind_a", KINDS)
@pytest.mark.parametrize("kind_b", KINDS)
def test_binary_on_every_pair_of_layouts(cl_backend, rng, kind_a, kind_b):
    a, ha = operand(cl_backend, _values(rng, np.float32), kind_a)
    b, hb = operand(cl_backend, _values(rng, np.float32), kind_b)
    for op, fn in (("add", np.add), ("mul", np.multiply), ("maximum", np.maximum)):
        _check(cl_backend.to_numpy(cl_backend.binary(op, a, b)), fn(ha, hb))
    _check(cl_backend.to_numpy(cl_backend.compare("gt", a, b)), ha > hb)


@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.bool_])
@pytest.mark.parametrize("kind", ["contiguous", "transposed", "row", "scalar"])
def test_other_dtypes_in_every_variant(cl_backend, rng, dtype, kind):
    if dtype == np.float64 and not cl_backend.supports_float64:
        pytest.skip("device has no cl_khr_fp64")
    a, ha = operand(cl_backend, _values(rng, dtype), "contiguous")
    b, hb = operand(cl_backend, _values(rng, dtype), kind)
    ops = {"add": np.add, "mul": np.multiply, "minimum": np.minimum}
    if np.dtype(dtype) == np.bool_:
        ops = {"add": np.logical_or, "mul": np.logical_and, "minimum": np.minimum}
    for op, fn in ops.items():
        _check(cl_backend.to_numpy(cl_backend.binary(op, a, b)), fn(ha, hb))
    _check(cl_backend.to_numpy(cl_backend.compare("eq", b, a)), hb == ha)
    _check(cl_backend.to_numpy(cl_backend.astype(b, np.float32)),
           np.broadcast_to(hb, b.shape).astype(np.float32))


def test_every_variant_is_taken(cl_backend, rng, variants):
    x = cl_backend.from_numpy(_values(rng, np.float32))
    cl_backend.unary("neg", x)                                       # contiguous
    cl_backend.binary("add", x, cl_backend.from_numpy(np.float32(2)))  # scalar: contiguous
    cl_backend.binary("add", x, cl_backend.from_numpy(_values(rng, np.float32)[0]))  # row
    cl_backend.copy(cl_backend.permute(x, (1, 0)))                  # transposed, 70 wide: 2d
    cl_backend.copy(cl_backend.getitem(x, (slice(None), slice(None, 20))))  # narrow: general
    cube = cl_backend.from_numpy(_values(rng, np.float32, (3, 4, 5)))
    cl_backend.copy(cl_backend.permute(cube, (2, 0, 1)))            # 3 axes: general
    assert variants == ["contiguous", "contiguous", "2d", "2d", "general", "general"]


@pytest.mark.parametrize("kind", KINDS)
def test_unary_activation_and_backward_on_every_layout(cl_backend, rng, kind):
    x, hx = operand(cl_backend, _values(rng, np.float32), kind)
    g, hg = operand(cl_backend, _values(rng, np.float32), "transposed")
    hx_full = np.broadcast_to(hx, (R, C)) if kind in ("row", "column", "scalar") else hx
    if x.shape != (R, C):
        x = cl_backend.expand(x, (R, C))
    _check(cl_backend.to_numpy(cl_backend.unary("exp", x)), np.exp(hx_full))
    _check(cl_backend.to_numpy(cl_backend.activation("relu", x, None)), np.maximum(hx_full, 0))
    back = cl_backend.activation_backward("leaky_relu", x, g, 0.1)
    _check(cl_backend.to_numpy(back), np.where(hx_full > 0, 1.0, 0.1).astype(np.float32) * hg)


def test_where_with_four_layouts(cl_backend, rng, variants):
    cond, hc = operand(cl_backend, _values(rng, np.bool_), "column")
    a, ha = operand(cl_backend, _values(rng, np.float32), "transposed")
    b, hb = operand(cl_backend, _values(rng, np.float32), "row")
    _check(cl_backend.to_numpy(cl_backend.where(cond, a, b)), np.where(hc, ha, hb))
    a, ha = operand(cl_backend, _values(rng, np.float32), "stepped")
    _check(cl_backend.to_numpy(cl_backend.where(cond, a, b)), np.where(hc, ha, hb))
    assert variants[-1] == "2d"


@pytest.mark.parametrize("kind", ["transposed", "stepped", "reversed"])
def test_strided_outputs(cl_backend, rng, kind):
    """assign and binary(out=) write through a strided view and nowhere else."""
    base = _values(rng, np.float32, (2 * R + 1, 3 * C))
    buf = cl_backend.from_numpy(base)
    index = {"transposed": (slice(None, C), slice(None, R)),
             "stepped": (slice(1, None, 2), slice(None, None, 3)),
             "reversed": (slice(R, 0, -1), slice(C, 0, -1))}[kind]
    view = cl_backend.getitem(buf, index)
    if kind == "transposed":
        view = cl_backend.permute(view, (1, 0))
    src = _values(rng, np.float32, view.shape)
    cl_backend.assign(view, cl_backend.from_numpy(src))
    want = base.copy()
    (want[index].T if kind == "transposed" else want[index])[...] = src
    _check(cl_backend.to_numpy(buf), want)
    row = _values(rng, np.float32, (view.shape[1],))
    result = cl_backend.binary("sub", view, cl_backend.from_numpy(row), out=view)
    assert result is view
    (want[index].T if kind == "transposed" else want[index])[...] -= row
    _check(cl_backend.to_numpy(buf), want)


@pytest.mark.parametrize("shape", [(0,), (0, 70), (70, 0), (3, 0, 5), (1,), (1, 1, 1), ()],
                         ids=str)
def test_empty_and_single_element(cl_backend, rng, shape):
    host = _values(rng, np.float32, shape) if shape else np.float32(-1.5)
    x = cl_backend.from_numpy(np.asarray(host))
    _check(cl_backend.to_numpy(cl_backend.binary("add", x, x)), np.asarray(host + host))
    _check(cl_backend.to_numpy(cl_backend.activation("relu", x, None)),
           np.asarray(np.maximum(host, 0)))
    _check(cl_backend.to_numpy(cl_backend.full(shape, 2.5, np.dtype(np.float32))),
           np.full(shape, 2.5, np.float32))
    if len(shape) >= 2:
        t = cl_backend.permute(x, tuple(reversed(range(len(shape)))))
        _check(cl_backend.to_numpy(cl_backend.copy(t)), np.asarray(host).T)


def test_nan_rules_in_every_variant(cl_backend):
    host = np.tile(np.array([np.nan, 1.0, -np.inf, 0.0, np.nan, -2.0], np.float32), (3, 12))
    other = np.roll(host, 1, axis=1)  # nan meets numbers on both sides
    for x, y, hx, hy in (
            (cl_backend.from_numpy(host), cl_backend.from_numpy(other), host, other),
            (cl_backend.permute(cl_backend.from_numpy(host.T.copy()), (1, 0)),
             cl_backend.from_numpy(other), host, other),
            (cl_backend.permute(cl_backend.from_numpy(host.reshape(3, 8, 9)), (2, 0, 1)),
             cl_backend.from_numpy(other.reshape(3, 8, 9).transpose(2, 0, 1).copy()),
             host.reshape(3, 8, 9).transpose(2, 0, 1), other.reshape(3, 8, 9).transpose(2, 0, 1))):
        with np.errstate(invalid="ignore"):
            _check(cl_backend.to_numpy(cl_backend.binary("maximum", x, y)), np.maximum(hx, hy))
            _check(cl_backend.to_numpy(cl_backend.binary("minimum", x, y)), np.minimum(hx, hy))
            _check(cl_backend.to_numpy(cl_backend.unary("sign", x)), np.sign(hx))
        relu = cl_backend.to_numpy(cl_backend.activation("relu", x, None))
        assert np.array_equal(np.isnan(relu), np.isnan(hx))
        d_relu = cl_backend.to_numpy(cl_backend.activation_derivative("relu", x, None))
        assert np.array_equal(np.isnan(d_relu), np.isnan(hx))


def test_eight_unmergeable_axes_and_the_limit(cl_backend, rng):
    host = _values(rng, np.float32, (2, 3) * 4)
    axes = tuple(reversed(range(8)))
    view = cl_backend.permute(cl_backend.from_numpy(host), axes)
    assert len(collapse_dims(view.shape, [view.strides, (0,) * 8])[0]) == 8
    _check(cl_backend.to_numpy(cl_backend.binary("mul", view, view)),
           np.transpose(host, axes) ** 2)
    nine = cl_backend.permute(cl_backend.from_numpy(_values(rng, np.float32, (2,) * 9)),
                              tuple(reversed(range(9))))
    with pytest.raises(ValueError, match="at most 8 non-mergeable axes"):
        collapse_dims(nine.shape, [nine.strides])


def test_more_unmergeable_axes_than_the_kernels_take_run_in_slices(cl_backend, rng):
    # numpy (and the cpu device) take up to 64 axes; these used to raise "OpenCL kernels
    # take at most 8 non-mergeable axes" from .numpy(), exp(), sum() and matmul alike.
    host = _values(rng, np.float32, (2, 3, 1, 2, 3, 2, 2, 3, 2, 2))
    axes = tuple(reversed(range(10)))
    view = cl_backend.permute(cl_backend.from_numpy(host), axes)
    want = np.transpose(host, axes)
    _check(cl_backend.to_numpy(view), want)
    column = cl_backend.getitem(view, (slice(None), slice(0, 1)))  # broadcast along axis 1
    _check(cl_backend.to_numpy(cl_backend.binary("add", view, column)), want + want[:, :1])
    _check(cl_backend.to_numpy(cl_backend.reduce("sum", view, (0, 4, 7), False)),
           want.sum(axis=(0, 4, 7)))
    batch = _values(rng, np.float32, (2,) * 9 + (3, 4))
    batch_axes = tuple(reversed(range(9))) + (9, 10)
    right = _values(rng, np.float32, (4, 5))
    product = cl_backend.matmul(cl_backend.permute(cl_backend.from_numpy(batch), batch_axes),
                                cl_backend.from_numpy(right))
    np.testing.assert_allclose(cl_backend.to_numpy(product),
                               np.transpose(batch, batch_axes) @ right, rtol=1e-5, atol=1e-5)


def test_large_row_broadcast_spans_many_work_groups(cl_backend, rng):
    a = _values(rng, np.float32, (300, 1000))
    b = _values(rng, np.float32, (1000,))
    col = _values(rng, np.float32, (300, 1))
    out = cl_backend.binary("add", cl_backend.from_numpy(a), cl_backend.from_numpy(b))
    _check(cl_backend.to_numpy(out), a + b)
    out = cl_backend.binary("mul", cl_backend.from_numpy(col), cl_backend.from_numpy(a))
    _check(cl_backend.to_numpy(out), col * a)


@pytest.mark.parametrize("shape, axes", [((20, 37), (1, 0)), ((7, 33, 5), (2, 1, 0)),
                                         ((4, 6, 5, 7), (3, 1, 0, 2))], ids=str)
def test_general_program_values(cl_backend, rng, variants, shape, axes):
    """Narrow rows and 3+ axes: the general program, operands in several layouts."""
    host = _values(rng, np.float32, shape)
    x = cl_backend.permute(cl_backend.from_numpy(host), axes)
    hx = np.transpose(host, axes)
    other = _values(rng, np.float32, hx.shape)
    last = _values(rng, np.float32, hx.shape[-1:])
    y = cl_backend.from_numpy(other)
    _check(cl_backend.to_numpy(cl_backend.binary("sub", x, y)), hx - other)
    _check(cl_backend.to_numpy(cl_backend.binary("mul", y, x)), other * hx)
    _check(cl_backend.to_numpy(cl_backend.binary("add", x, cl_backend.from_numpy(last))),
           hx + last)
    _check(cl_backend.to_numpy(cl_backend.activation_backward("relu", x, y, None)),
           (hx > 0) * other)
    _check(cl_backend.to_numpy(cl_backend.astype(x, np.int64)), hx.astype(np.int64))
    assert set(variants) == {"general"}, variants


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_])
def test_scalars_take_the_contiguous_program(cl_backend, variants, dtype):
    """0-d operands and outputs (loss sums, accuracy counts) run the 1-d program, so a
    run whose int64 work is all scalars and vectors builds no general int64 program."""
    a, b = np.array(3, dtype), np.array(5 if dtype != np.bool_ else 0, dtype)
    op = "maximum" if dtype == np.bool_ else "add"
    got = cl_backend.binary(op, cl_backend.from_numpy(a), cl_backend.from_numpy(b))
    _check(cl_backend.to_numpy(got), np.maximum(a, b) if op == "maximum" else a + b)
    flag = cl_backend.compare("eq", cl_backend.from_numpy(a), cl_backend.from_numpy(a))
    assert cl_backend.to_numpy(flag) == np.array(True)
    assert variants and set(variants) == {"contiguous"}
