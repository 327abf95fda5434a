"""The memos on the OpenCL launch path (opencl_backend._elementwise's layouts, _new's
allocation sizes, Runtime.kernel's lookups): a layout, shape or dtype seen before must
never lend its cached arguments to a different one."""

import numpy as np
import pytest

from vecgrad.backends import opencl_backend
from vecgrad.backends.opencl_array import CLArray
from vecgrad.backends.opencl_runtime import OpenCLError, frozen_defines


@pytest.fixture
def fresh_memos(cl_backend, monkeypatch):
    """Empty layout and allocation memos for the test (the session's are put back)."""
    monkeypatch.setattr(cl_backend, "_layouts", {})
    monkeypatch.setattr(cl_backend, "_allocations", {})
    return cl_backend


def test_same_layout_is_planned_once_and_reused(fresh_memos, rng):
    be = fresh_memos
    a = be.from_numpy(rng.standard_normal((5, 40)).astype(np.float32))
    b = be.from_numpy(rng.standard_normal((5, 40)).astype(np.float32))
    be.binary("add", a, b)
    planned = dict(be._layouts)
    for op, fn in (("sub", np.subtract), ("mul", np.multiply), ("add", np.add)):
        got = be.to_numpy(be.binary(op, a, b))
        np.testing.assert_allclose(got, fn(be.to_numpy(a), be.to_numpy(b)), rtol=1e-6)
    assert be._layouts.keys() == planned.keys()  # one layout, every op
    assert all(be._layouts[k] is planned[k] for k in planned)


def test_changed_strides_take_their_own_layout(fresh_memos, rng):
    """Same shape, other strides (transposed, stepped, broadcast): new layouts, right
    values, while the first layout's vectors stay as they were."""
    be = fresh_memos
    host = rng.standard_normal((40, 40)).astype(np.float32)
    big = rng.standard_normal((80, 120)).astype(np.float32)
    x = be.from_numpy(host)
    first = be._layouts.get(((40, 40), (40, 1), (40, 1)))
    views = {
        "contiguous": (x, host),
        "transposed": (be.permute(x, (1, 0)), host.T),
        "stepped": (be.getitem(be.from_numpy(big), (slice(1, None, 2), slice(2, None, 3))),
                    big[1::2, 2::3]),
        "row": (be.expand(be.from_numpy(host[0]), (40, 40)), np.broadcast_to(host[0], (40, 40))),
    }
    for _ in range(2):  # twice: the second round runs from the memo
        for name, (view, want) in views.items():
            got = be.to_numpy(be.unary("neg", view))
            np.testing.assert_array_equal(got, -want, err_msg=name)
    assert first is None or be._layouts[((40, 40), (40, 1), (40, 1))] is first
    assert len(be._layouts) == len(views)


def test_offsets_are_not_cached(fresh_memos, rng):
    """Views with one layout but different offsets share a _Layout; each reads its own
    elements."""
    be = fresh_memos
    host = rng.standard_normal((6, 50)).astype(np.float32)
    x = be.from_numpy(host)
    rows = [be.getitem(x, (i,)) for i in range(6)]
    assert len({r.offset for r in rows}) == 6
    for i, row in enumerate(rows):
        np.testing.assert_array_equal(be.to_numpy(be.unary("neg", row)), -host[i])
    assert len(be._layouts) == 1


@pytest.mark.parametrize("dtypes", [(np.float32, np.int64, np.bool_, np.float32),
                                    (np.int64, np.float32, np.int64)],
                         ids=["f32-i64-bool-f32", "i64-f32-i64"])
def test_changed_dtype_takes_its_own_kernel(fresh_memos, rng, dtypes):
    """A layout is dtype-free, the kernel is not: alternating dtypes on one layout."""
    be = fresh_memos
    for dtype in dtypes:
        host = (rng.standard_normal((7, 33)) * 5).astype(dtype)
        other = (rng.standard_normal((7, 33)) * 5).astype(dtype)
        got = be.to_numpy(be.binary("maximum", be.from_numpy(host), be.from_numpy(other)))
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got, np.maximum(host, other))
        filled = be.to_numpy(be.full((7, 33), 3, dtype))
        assert filled.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(filled, np.full((7, 33), 3, dtype))


def test_empty_layout_launches_nothing(fresh_memos):
    be = fresh_memos
    out = be.unary("neg", be.from_numpy(np.zeros((0, 3), np.float32)))
    assert out.shape == (0, 3)
    assert be.to_numpy(out).shape == (0, 3)


def test_layout_memo_is_bounded(fresh_memos, monkeypatch):
    be = fresh_memos
    monkeypatch.setattr(opencl_backend, "_MAX_MEMO_ENTRIES", 3)
    for n in range(1, 8):
        x = be.full((n,), float(n), np.float32)
        np.testing.assert_array_equal(be.to_numpy(be.unary("neg", x)), np.full(n, -n))
        assert len(be._layouts) <= 3
        assert len(be._allocations) <= 3


def test_new_remembers_shape_and_dtype_apart(fresh_memos):
    be = fresh_memos
    a = be._new((3, 4), np.float32)
    b = be._new((3, 4), np.float64 if be.supports_float64 else np.int64)
    c = be._new((3, 4), np.float32)
    assert (a.dtype, b.dtype.itemsize, c.dtype) == (np.float32, 8, np.float32)
    assert a.shape == b.shape == c.shape == (3, 4) and a.strides == (4, 1)
    assert a.data.size >= 48 and b.data.size >= 96
    assert a.data is not c.data  # a fresh allocation each time, only the sizes are memoized


def test_new_normalizes_any_shape(fresh_memos):
    be = fresh_memos
    for shape in ([2, 5], (np.int64(2), np.int32(5)), (2, 5)):
        arr = be._new(shape, "float32")
        assert arr.shape == (2, 5) and type(arr.shape[0]) is int
        assert arr.strides == (5, 1) and type(arr.strides[0]) is int
        assert arr.dtype == np.dtype(np.float32) and arr.offset == 0
    scalar = be._new((), np.float32)
    assert scalar.shape == () and scalar.strides == () and scalar.data.size >= 1


def test_new_refuses_the_same_bad_request_every_time(fresh_memos):
    be = fresh_memos
    for _ in range(2):  # a refusal is never memoized
        with pytest.raises(OpenCLError, match="not supported"):
            be._new((2,), np.complex64)
        with pytest.raises(OpenCLError, match="32-bit"):
            be._new((2**16, 2**16), np.float32)
    assert not be._allocations


def test_trusted_array_matches_the_checked_constructor(cl_backend):
    buf = cl_backend.runtime.alloc(64)
    made = CLArray(buf, [2, np.int64(3)], "float32", None, np.int64(0), cl_backend.device)
    fast = CLArray.trusted(buf, (2, 3), np.dtype(np.float32), (3, 1), 0, cl_backend.device)
    for field in ("data", "shape", "dtype", "strides", "offset", "device"):
        assert getattr(made, field) == getattr(fast, field), field
    assert fast.is_contiguous and fast.size == 6


def test_kernel_lookup_by_dict_or_frozen_defines(cl_backend):
    rt = cl_backend.runtime
    defines = {"STRIDED_NDIM": 1}
    knl = rt.kernel("elementwise", "copy", np.float32, defines)
    assert rt.kernel("elementwise", "copy", np.float32, frozen_defines(defines)) is knl
    assert rt.kernel("elementwise", "copy", np.float32, {"STRIDED_NDIM": 2}) is not knl
    assert rt.kernel("elementwise", "copy", np.float32) is not knl
    assert rt.kernel("elementwise", "copy", np.int64, defines) is not knl
    assert frozen_defines({}) is None and frozen_defines(None) is None
    assert frozen_defines({"b": 1, "a": 2}) == (("a", 2), ("b", 1))


def test_has_kernel_answers_from_the_cache_and_still_refuses(cl_backend):
    rt = cl_backend.runtime
    assert rt.has_kernel("elementwise", "unary_neg", np.float32)
    assert rt.has_kernel("elementwise", "unary_neg", np.float32)
    assert not rt.has_kernel("elementwise", "no_such_kernel", np.float32)
    with pytest.raises(OpenCLError, match="not defined for bool"):
        cl_backend.unary("neg", cl_backend.from_numpy(np.array([True])))


def test_bench_launch_overhead_runs(cl_backend):
    """The bench sets unary_neg's arguments by hand: this catches a signature change."""
    from vecgrad.bench.opencl import bench_launch_overhead

    figures = bench_launch_overhead(cl_backend, launches=8, rounds=1)
    assert set(figures) == {"enqueue_us", "unary_us", "binary_us", "finish_each_us"}
    assert all(v > 0 for v in figures.values())
    # the hand-set arguments left the kernel usable by the backend
    x = cl_backend.from_numpy(np.arange(5, dtype=np.float32))
    np.testing.assert_array_equal(cl_backend.to_numpy(cl_backend.unary("neg", x)),
                                  -np.arange(5, dtype=np.float32))
