"""Property tests: random shapes (awkward sizes included), random axis orders and
broadcasting, OpenCL against the numpy backend."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SIZES = st.sampled_from([1, 2, 3, 7, 33, 129, 257])
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def permuted_arrays(draw):
    """(data, axes): data is stored in one axis order and read through a permutation."""
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(SIZES, min_size=ndim, max_size=ndim)))
    while np.prod(shape) > 40_000:
        shape = shape[1:]
    axes = tuple(draw(st.permutations(range(len(shape)))))
    seed = draw(st.integers(0, 2**16))
    data = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return data, axes


@SETTINGS
@given(case=permuted_arrays(), op=st.sampled_from(["add", "mul", "maximum", "sub"]),
       drop=st.integers(0, 2))
def test_binary_on_permuted_views_with_broadcast(pair, case, op, drop):
    data, axes = case
    viewed_shape = tuple(data.shape[a] for a in axes)
    other = np.random.default_rng(1).standard_normal(viewed_shape[drop:]).astype(np.float32)
    pair.check("binary", op, data, other, view=lambda be, buf: be.permute(buf, axes))


@SETTINGS
@given(case=permuted_arrays(), op=st.sampled_from(["sum", "max", "min"]), data=st.data())
def test_reduce_on_permuted_views(pair, case, op, data):
    array, axes = case
    ndim = array.ndim
    reduced = tuple(sorted(data.draw(st.sets(st.integers(0, ndim - 1), min_size=1))))
    pair.check("reduce", op, array, reduced, False, view=lambda be, buf: be.permute(buf, axes),
               rtol=1e-4, atol=1e-4)


@SETTINGS
@given(m=SIZES, k=SIZES, n=SIZES, ta=st.booleans(), tb=st.booleans())
def test_matmul_random_sizes(pair, m, k, n, ta, tb):
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    pair.check("matmul", a, b, transpose_a=ta, transpose_b=tb, rtol=1e-4, atol=1e-4)
