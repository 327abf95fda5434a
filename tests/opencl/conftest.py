"""Fixtures for the OpenCL backend tests: the OpenCL backend beside the numpy backend.

`pair.run(method, *args)` calls the same primitive on both backends (numpy arrays among
the arguments are uploaded to each) and returns both results as host arrays; the tests
then check that they agree. The numpy backend is the reference: it was written by another
helper, straight from numpy.
"""

import os

import numpy as np
import pytest

from vecgrad.backends.numpy_backend import NumpyBackend

RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}
ATOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def _open_opencl():
    try:
        from vecgrad.backends import get_backend

        return get_backend("opencl"), None
    except Exception as exc:  # any failure means: no usable OpenCL here
        return None, f"{type(exc).__name__}: {exc}"


@pytest.fixture(scope="session")
def cl_backend():
    """The OpenCL backend on the default device (skips without OpenCL, fails in CI)."""
    backend, problem = _open_opencl()
    if backend is None:
        if os.environ.get("VECGRAD_REQUIRE_OPENCL") == "1":
            pytest.fail(f"OpenCL is required here but unavailable: {problem}")
        pytest.skip(f"no OpenCL device: {problem}")
    return backend


class Pair:
    """The OpenCL backend and the numpy backend, driven with the same arguments."""

    def __init__(self, cl, ref):
        self.cl = cl
        self.ref = ref

    @staticmethod
    def _upload(backend, value):
        if isinstance(value, np.ndarray):
            return backend.from_numpy(value)
        if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
            return [backend.from_numpy(v) for v in value]
        return value

    def run(self, method, *args, view=None, **kwargs):
        """Results of backend.method(*args) on OpenCL and numpy, as host arrays.

        `view(backend, buf)` is applied to the first array argument after upload, to
        feed non-contiguous inputs (a permuted or sliced view) to the primitive.
        """
        results = []
        for backend in (self.cl, self.ref):
            uploaded = [self._upload(backend, a) for a in args]
            if view is not None:
                first = next(i for i, a in enumerate(args) if isinstance(a, np.ndarray))
                uploaded[first] = view(backend, uploaded[first])
            out = getattr(backend, method)(*uploaded, **kwargs)
            results.append(backend.to_numpy(out))
        return results

    def check(self, method, *args, view=None, rtol=None, atol=None, **kwargs):
        """Assert both backends agree (dtype, shape, values incl. nan positions)."""
        got, want = self.run(method, *args, view=view, **kwargs)
        assert got.dtype == want.dtype, f"{method}: dtype {got.dtype} != {want.dtype}"
        assert got.shape == want.shape, f"{method}: shape {got.shape} != {want.shape}"
        if got.dtype.kind == "f":
            np.testing.assert_allclose(
                got, want, rtol=rtol if rtol is not None else RTOL[got.dtype],
                atol=atol if atol is not None else ATOL[got.dtype], equal_nan=True,
                err_msg=f"{method} differs between OpenCL and numpy")
        else:
            np.testing.assert_array_equal(got, want, err_msg=f"{method} differs")
        return got


@pytest.fixture(scope="session")
def pair(cl_backend):
    return Pair(cl_backend, NumpyBackend("cpu"))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def float_dtype(request, cl_backend):
    if request.param == np.float64 and not cl_backend.supports_float64:
        pytest.skip("device has no cl_khr_fp64")
    return np.dtype(request.param)
