"""matmul.cl with the tiles fitted to skinny products (convolutions: few output
channels, short K, very long N): right results at every size around the tile edges."""

import os

import numpy as np
import pytest

from vecgrad.backends import get_backend
from vecgrad.backends.opencl_linalg import _fitted_tiles


@pytest.fixture(scope="module")
def backend():
    try:
        return get_backend("opencl")
    except Exception as exc:  # noqa: BLE001 - no usable OpenCL here
        if os.environ.get("VECGRAD_REQUIRE_OPENCL") == "1":
            pytest.fail(f"OpenCL is required here but unavailable: {exc}")
        pytest.skip(f"no OpenCL device: {exc}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (6, 25, 700), (8, 16, 129), (9, 17, 33),
                                     (16, 150, 300), (32, 33, 65), (33, 64, 7),
                                     (6, 700, 25), (150, 16, 257),
                                     (32, 144, 16), (144, 32, 9), (16, 200, 31)])
@pytest.mark.parametrize("ta, tb", [(False, False), (True, False), (False, True)])
def test_skinny_products_match_numpy(backend, dtype, m, k, n, ta, tb):
    if dtype == np.float64 and not backend.supports_float64:
        pytest.skip("no float64 on this device")
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    got = backend.to_numpy(backend.matmul(backend.from_numpy(a), backend.from_numpy(b), ta, tb))
    want = (a.T if ta else a) @ (b.T if tb else b)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())


def test_tiles_shrink_only_for_skinny_products(backend):
    full = backend.matmul_tiles(np.float32)
    assert _fitted_tiles(backend, np.float32, 512, 512) == full
    if not backend.runtime.is_gpu and full["TM"] >= 32:
        small = _fitted_tiles(backend, np.float32, 6, 25)
        assert small["TM"] == 8 and small["TK"] == 32 and small["WM"] <= 8


def test_narrow_products_get_narrow_tiles(backend):
    if backend.runtime.is_gpu or backend.matmul_tiles(np.float32)["TM"] < 32:
        pytest.skip("GPU tiles are left as tuned")
    tiles = _fitted_tiles(backend, np.float32, 32, 144, 16)  # a conv's per-image product
    assert tiles["TN"] == 16 and tiles["TK"] == 16 and tiles["TM"] == 32
    assert _fitted_tiles(backend, np.float32, 32, 64, 33)["TN"] == 64
    assert _fitted_tiles(backend, np.float32, 100, 784, 1000) == backend.matmul_tiles(np.float32)
