"""Views and indexing on OpenCL against the numpy backend: reshape/permute/expand views,
basic and advanced getitem, the adjoints index_add and scatter_add, gather, cat."""

import numpy as np
import pytest


def test_views_share_memory_and_read_correctly(pair, cl_backend, rng):
    x = rng.standard_normal((3, 7, 33)).astype(np.float32)
    pair.check("permute", x, (2, 0, 1))
    pair.check("expand", x[:, :1], (2, 3, 5, 33))
    pair.check("reshape", x, (21, 33))
    # reshape of a non-contiguous view must copy, not reinterpret memory
    view = lambda backend, buf: backend.permute(buf, (2, 1, 0))  # noqa: E731
    pair.check("reshape", x, (33, 21), view=view)
    buf = cl_backend.from_numpy(x)
    assert cl_backend.permute(buf, (2, 0, 1)).data is buf.data


BASIC = [
    (slice(None), 1),
    (slice(1, None, 2), slice(None, None, -1)),
    (0, slice(2, 5), None),
    (Ellipsis, -1),
    (None, slice(None), slice(10, 2, -3)),
    (slice(5, 5),),
]


@pytest.mark.parametrize("index", BASIC, ids=str)
def test_basic_getitem_and_index_add(pair, rng, index):
    x = rng.standard_normal((3, 7, 33)).astype(np.float32)
    got = pair.check("getitem", x, index)
    src = rng.standard_normal(got.shape).astype(np.float32)
    pair.check("index_add", (3, 7, 33), index, src)


ADVANCED = [
    (np.array([2, 0, 2, 1]),),
    (slice(None), np.array([[0, 6], [6, 6]])),
    (np.array([0, 1, 1]), slice(None), np.array([3, 3, -1])),
    (np.array([True, False, True]),),
    (1, np.array([5, 5, 5]), slice(2, 9, 3)),
    (True, slice(None, 2)),  # a bare bool is advanced indexing in numpy
    (slice(None), False),
]


@pytest.mark.parametrize("index", ADVANCED, ids=lambda i: repr(i)[:40])
def test_advanced_getitem_and_index_add_accumulates(pair, rng, index):
    x = rng.standard_normal((3, 7, 33)).astype(np.float32)
    got = pair.check("getitem", x, index)
    src = rng.standard_normal(got.shape).astype(np.float32)
    pair.check("index_add", (3, 7, 33), index, src)  # repeated indices add up
    view = lambda backend, buf: backend.getitem(backend.permute(  # noqa: E731
        backend.expand(buf, (2, 33, 7, 3)), (0, 3, 2, 1)), (1,))
    pair.check("getitem", x.transpose(2, 1, 0), index, view=view)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_gather_and_scatter_add(pair, rng, axis):
    x = rng.standard_normal((4, 5, 6)).astype(np.float32)
    idx_shape = list(x.shape)
    idx_shape[axis] = 3
    index = rng.integers(-x.shape[axis], x.shape[axis], idx_shape)
    got = pair.check("gather", x, axis, index)
    src = rng.standard_normal(got.shape).astype(np.float32)
    pair.check("scatter_add", x.shape, axis, index, src)


def test_cross_entropy_style_gather(pair, rng):
    logits = rng.standard_normal((129, 10)).astype(np.float32)
    labels = rng.integers(0, 10, (129, 1))
    pair.check("gather", logits, 1, labels)
    pair.check("scatter_add", (129, 10), 1, labels, np.ones((129, 1), np.float32))


@pytest.mark.parametrize("axis", [0, 1])
def test_cat(pair, rng, axis):
    parts = [rng.standard_normal((3, 7)).astype(np.float32),
             rng.standard_normal((3, 7)).astype(np.float32)]
    shape = [3, 7]
    shape[axis] = 1
    parts.append(rng.standard_normal(shape).astype(np.float32))
    pair.check("cat", parts, axis)


def test_advanced_index_of_a_large_view_builds_only_the_selected_offsets(cl_backend):
    # The host offsets of x[index] were once built for every element of the view, then
    # indexed: an expanded view of 10**7 elements cost 80 MB here (10**10 would be 80 GB
    # and the process killed); now the memory follows the result.
    import tracemalloc

    col = np.arange(10, dtype=np.float32).reshape(10, 1, 1)
    buf = cl_backend.expand(cl_backend.from_numpy(col), (10, 1000, 1000))
    index = (np.array([0, 9, 3]), slice(None, None, 500), np.array([[999], [0]]))
    tracemalloc.start()
    try:
        out = cl_backend.to_numpy(cl_backend.getitem(buf, index))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    want = np.broadcast_to(col, (10, 1000, 1000))[index]
    np.testing.assert_array_equal(out, want)
    assert peak < 2_000_000, peak
