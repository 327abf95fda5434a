"""Kernel files built together (opencl_runtime.BUNDLED_FAMILIES), matmul.cl's tile sets
built as variants of one program (Runtime.variants_program, opencl_linalg.tile_variants)
and the remembered matmul plans: fewer builds, the same kernels and results."""

import numpy as np
import pytest

from vecgrad.backends import opencl_runtime
from vecgrad.backends.opencl_linalg import _fitted_tiles, tile_variants
from vecgrad.backends.opencl_runtime import (BUNDLED_FAMILIES, LAYOUT_FAMILIES, OpenCLError,
                                             Runtime, bundle_of, frozen_defines)


def _break_file(monkeypatch, broken_family, source):
    """kernels/<broken_family>.cl reads as `source` (which does not compile)."""
    real = opencl_runtime.kernel_source
    monkeypatch.setattr(opencl_runtime, "kernel_source", lambda family: (
        source if family == broken_family else real(family)))


@pytest.fixture
def builds(monkeypatch):
    """The (files, options) of every program a Runtime builds from here on."""
    seen = []
    real = Runtime._build

    def counted(self, starts, source, options):
        seen.append(([label for label, _ in starts], options))
        return real(self, starts, source, options)

    monkeypatch.setattr(Runtime, "_build", counted)
    return seen


def test_bundle_membership():
    assert bundle_of("reduce", ()) == BUNDLED_FAMILIES
    assert bundle_of("elementwise", (("STRIDED_NDIM", 1),)) == LAYOUT_FAMILIES
    assert bundle_of("reduce", (("STRIDED_NDIM", 1),)) == ("reduce",)
    assert bundle_of("matmul", (("TM", 64),)) == ("matmul",)
    assert bundle_of("matmul", ()) == ("matmul",)


def test_one_build_serves_every_family_of_a_bundle(cl_backend, builds):
    rt = Runtime(cl_backend.device)
    for family, name in [("elementwise", "copy"), ("reduce", "reduce_sum_rows"),
                         ("softmax", "softmax_rows"), ("optim", "optim_sgd"),
                         ("activations", "act_relu"), ("indexing", "take_flat"),
                         ("conv2d", "im2col")]:
        assert rt.kernel(family, name, np.float32).function_name == name
    assert len(builds) == 1 and len(builds[0][0]) == len(BUNDLED_FAMILIES)
    rt.kernel("elementwise", "unary_neg", np.float32, {"STRIDED_NDIM": 1})
    rt.kernel("activations", "act_tanh", np.float32, {"STRIDED_NDIM": 1})
    assert len(builds) == 2 and builds[1][0] == [f"kernels/{f}.cl" for f in LAYOUT_FAMILIES]
    assert rt.program("reduce", np.float32) is rt.program("softmax", np.float32)
    # kernels() still lists one file's own kernels, not the bundle's
    assert "copy" not in rt.kernels("reduce", np.float32)
    assert "reduce_sum_rows" in rt.kernels("reduce", np.float32)


def test_float_only_files_have_no_kernels_for_other_dtypes(cl_backend):
    rt = Runtime(cl_backend.device)
    for dtype in (np.int64, np.bool_):
        assert rt.has_kernel("elementwise", "copy", dtype)  # the bundle still builds
        assert not rt.has_kernel("activations", "act_relu", dtype)
        assert not rt.has_kernel("softmax", "softmax_rows", dtype)
        with pytest.raises(OpenCLError, match=r"activations.cl has no kernel 'act_relu'"):
            rt.kernel("activations", "act_relu", dtype)
    x = cl_backend.from_numpy(np.array([3, -1, 2], np.int64))
    with pytest.raises(OpenCLError, match="needs a float tensor, got int64"):
        cl_backend.activation("relu", x, 0.0)


def test_a_broken_file_leaves_the_rest_of_its_bundle_working(cl_backend, monkeypatch):
    _break_file(monkeypatch, "softmax",
                "__kernel void softmax_rows(__global T* x) { x[0] = not_declared_here; }")
    rt = Runtime(cl_backend.device)
    assert rt.kernel("reduce", "reduce_sum_rows", np.float32).function_name == "reduce_sum_rows"
    with pytest.raises(OpenCLError) as info:
        rt.kernel("softmax", "softmax_rows", np.float32)
    message = str(info.value)  # built alone: its own file, line offset and log
    assert "building kernels/softmax.cl for" in message
    assert "kernels/softmax.cl starts at line" in message and "not_declared_here" in message


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_fitted_tile_set_is_a_built_variant(cl_backend, dtype):
    if dtype == np.float64 and not cl_backend.supports_float64:
        pytest.skip("no float64 on this device")
    variants = tile_variants(cl_backend, dtype)
    assert len(set(variants)) == len(variants) and frozen_defines(
        cl_backend.matmul_tiles(dtype)) in variants
    for m in (1, 7, 8, 9, 31, 32, 33, 100):
        for k in (1, 15, 16, 17, 40, 100, 129, 256, 257, 1000):
            for n in (None, 1, 16, 17, 33, 64, 65, 129, 1000):
                assert frozen_defines(_fitted_tiles(cl_backend, dtype, m, k, n)) in variants
    program = cl_backend.runtime.variants_program("matmul", dtype, variants)
    names = {knl.function_name for knl in program.all_kernels()}
    assert {f"matmul_v{i}" for i in range(len(variants))} <= names  # in the main program
    assert "reduce_sum_rows" in names and f"matmul_v{len(variants)}" not in names


@pytest.mark.parametrize("first", ["matmul", "elementwise"])
def test_all_tile_sets_come_with_the_main_program(cl_backend, builds, first):
    """The backend registers matmul.cl's tile sets with its runtime: they are built
    into the float32 program of the other files, whichever is asked for first."""
    from vecgrad.backends.opencl_backend import OpenCLBackend

    backend = OpenCLBackend(cl_backend.device)  # a fresh runtime: nothing built yet
    rng = np.random.default_rng(3)
    if first == "elementwise":
        x = backend.from_numpy(np.arange(70, dtype=np.float32).reshape(7, 10))
        np.testing.assert_array_equal(backend.to_numpy(backend.reduce("sum", x, (0,), False)),
                                      np.arange(70).reshape(7, 10).sum(0))
    shapes = [(5, 40, 300), (33, 7, 17), (100, 300, 129), (8, 16, 16)]
    assert len({frozen_defines(_fitted_tiles(backend, np.float32, m, k, n))
                for m, k, n in shapes}) >= 3
    for m, k, n in shapes:
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        got = backend.to_numpy(backend.matmul(backend.from_numpy(a), backend.from_numpy(b)))
        np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4)
    assert len(builds) == 1, builds
    files = builds[0][0]
    assert files[:len(BUNDLED_FAMILIES)] == [f"kernels/{f}.cl" for f in BUNDLED_FAMILIES]
    assert files[-1].startswith("kernels/matmul.cl (copy 0 of")
    # int64 keeps its bundle without matmul copies
    backend.to_numpy(backend.reduce("sum", backend.from_numpy(np.arange(5)), (0,), False))
    assert len(builds) == 2 and not any("matmul" in f for f in builds[1][0])


def test_tiles_set_after_the_main_program_build_alone(cl_backend, builds):
    from vecgrad.backends.opencl_backend import MATMUL_TILES, OpenCLBackend

    backend = OpenCLBackend(cl_backend.device)
    backend.reduce("sum", backend.from_numpy(np.ones((3, 4), np.float32)), (0,), False)
    backend.matmul_tiles = lambda dtype: dict(MATMUL_TILES["small"])  # new variants
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    got = backend.to_numpy(backend.matmul(backend.from_numpy(a), backend.from_numpy(a.T.copy())))
    np.testing.assert_allclose(got, a @ a.T)
    assert len(builds) == 2 and builds[1][0] == [
        "kernels/matmul.cl (copy 0 of 1, one per variant)"]


def test_a_broken_variant_file_names_the_copy(cl_backend, monkeypatch):
    _break_file(monkeypatch, "matmul",
                "__kernel void VARIANT(matmul)(__global T* x) { x[0] = TM + oops; }")
    rt = Runtime(cl_backend.device)
    variants = (frozen_defines({"TM": 8}), frozen_defines({"TM": 16}))
    with pytest.raises(OpenCLError, match=r"kernels/matmul.cl \(copy 0 of 2, one per "
                                          r"variant\) starts at line \d+(.|\n)*oops"):
        rt.kernel("matmul", "matmul", np.float32, variants[1], variants)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_remembered_matmul_plans_take_each_calls_buffers(cl_backend, dtype):
    """Same shapes and strides, different buffers and offsets (views), a strided bias,
    broadcast batches, the copy and K = 0 paths: every call gets its own data."""
    if dtype == np.float64 and not cl_backend.supports_float64:
        pytest.skip("no float64 on this device")
    be = cl_backend
    rng = np.random.default_rng(11)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    big, b = rng.standard_normal((12, 7)).astype(dtype), rng.standard_normal((7, 5)).astype(dtype)
    bias_src = rng.standard_normal(14).astype(dtype)
    d_big, d_b, d_bias = be.from_numpy(big), be.from_numpy(b), be.from_numpy(bias_src)
    for start in range(4):
        rows = be.getitem(d_big, (slice(start, start + 6),))
        bias = be.getitem(d_bias, (slice(start, start + 10, 2),))
        got = be.to_numpy(be.matmul(rows, d_b, bias=bias))
        want = big[start:start + 6].astype(np.float64) @ b + bias_src[start:start + 10:2]
        np.testing.assert_allclose(got, want, **tol)
    for _ in range(2):  # twice: the second call runs from the remembered plan
        x = rng.standard_normal((2, 1, 3, 4, 5)).astype(dtype)  # stretched batch axes
        y = rng.standard_normal((1, 6, 1, 5, 2)).astype(dtype)
        got = be.to_numpy(be.matmul(be.from_numpy(x), be.from_numpy(y)))
        np.testing.assert_allclose(got, x.astype(np.float64) @ y, **tol)
        z = be.matmul(be.from_numpy(np.zeros((3, 0), dtype)), be.from_numpy(np.zeros((0, 2), dtype)),
                      bias=be.from_numpy(np.array([1.0, 2.0], dtype)))
        np.testing.assert_array_equal(be.to_numpy(z), np.tile([1.0, 2.0], (3, 1)))
    with pytest.raises(OpenCLError, match="do not align"):
        be.matmul(d_big, d_big)


def test_asking_for_a_kernel_builds_only_the_program_the_run_uses(cl_backend, builds):
    rt = Runtime(cl_backend.device)
    one_d = {"STRIDED_NDIM": 1}
    assert rt.has_kernel("elementwise", "binary_add", np.int64, one_d)
    rt.kernel("elementwise", "binary_add", np.int64, one_d)
    assert not rt.has_kernel("elementwise", "no_such_kernel", np.int64, one_d)
    assert rt.has_kernel("activations", "act_relu", np.float32, one_d)
    assert rt.has_kernel("elementwise", "copy", np.float32)  # answered by that program
    assert [options[-1] for _, options in builds] == ["-DSTRIDED_NDIM=1"] * 2
    # the ops' own check launches the 1-d program: no general int64 program either
    be = cl_backend
    total = be.binary("add", be.from_numpy(np.array(2, np.int64)),
                      be.from_numpy(np.array(40, np.int64)))
    assert be.to_numpy(total) == 42
    with pytest.raises(OpenCLError, match="is not defined for bool"):
        be.unary("sqrt", be.from_numpy(np.array([True])))
