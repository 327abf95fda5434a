"""The layers stay in step: every primitive op has a numpy implementation and an OpenCL
kernel; every catalogue activation exists in scalargrad, vecgrad and activations.cl."""

import os

import numpy as np
import pytest

import vecgrad
import vecgrad.nn.functional as F
from scalargrad import Value
from scalargrad.functions import ACTIVATIONS
from vecgrad.backends.base import Backend
from vecgrad.backends.numpy_backend import NumpyBackend
from vecgrad.backends.opencl_backend import KERNELS_OF_PRIMITIVE, OpenCLBackend
from vecgrad.backends import primitives

OPS_OF = {
    "unary": primitives.UNARY_OPS,
    "binary": primitives.BINARY_OPS,
    "compare": primitives.COMPARE_OPS,
    "reduce": primitives.REDUCE_OPS,
    "arg_reduce": primitives.ARG_REDUCE_OPS,
}
ALL_PRIMITIVES = tuple(OPS_OF) + primitives.OTHER_PRIMITIVES


@pytest.fixture(scope="module")
def opencl():
    try:
        from vecgrad.backends import get_backend

        return get_backend("opencl")
    except Exception as exc:  # no OpenCL here: fail in CI, skip elsewhere
        if os.environ.get("VECGRAD_REQUIRE_OPENCL") == "1":
            pytest.fail(f"OpenCL is required here but unavailable: {exc}")
        pytest.skip(f"no OpenCL device: {exc}")


def test_every_primitive_is_a_backend_method():
    for name in ALL_PRIMITIVES:
        assert hasattr(Backend, name), f"{name} is listed in primitives.py but not in base.py"
        for backend_class in (NumpyBackend, OpenCLBackend):
            method = getattr(backend_class, name)
            assert not getattr(method, "__isabstractmethod__", False), (
                f"{backend_class.__name__}.{name} is not implemented")


def test_numpy_backend_runs_every_op_name():
    be = NumpyBackend("cpu")
    x = be.from_numpy(np.array([[0.5, 2.0], [1.5, 3.0]]))
    for op in primitives.UNARY_OPS:
        assert be.to_numpy(be.unary(op, x)).shape == (2, 2), op
    for op in primitives.BINARY_OPS:
        assert be.to_numpy(be.binary(op, x, x)).shape == (2, 2), op
    for op in primitives.COMPARE_OPS:
        assert be.to_numpy(be.compare(op, x, x)).dtype == np.bool_, op
    for op in primitives.REDUCE_OPS:
        assert be.to_numpy(be.reduce(op, x, (0,), False)).shape == (2,), op
    for op in primitives.ARG_REDUCE_OPS:
        assert be.to_numpy(be.arg_reduce(op, x, 1, False)).dtype == np.int64, op


def test_kernel_table_covers_every_primitive():
    assert set(KERNELS_OF_PRIMITIVE) == set(ALL_PRIMITIVES)


def _expanded_kernels(primitive):
    for family, pattern in KERNELS_OF_PRIMITIVE[primitive]:
        if "{op}" in pattern:
            for op in OPS_OF[primitive]:
                yield family, pattern.format(op=op)
        elif "{name}" in pattern:
            for name in ACTIVATIONS:
                yield family, pattern.format(name=name)
        else:
            yield family, pattern


@pytest.mark.parametrize("primitive", ALL_PRIMITIVES)
def test_every_primitive_has_its_opencl_kernels(opencl, primitive):
    rt = opencl.runtime
    for family, name in _expanded_kernels(primitive):
        if family == "matmul":
            built = rt.kernel(family, name, np.float32, opencl.matmul_tiles(np.float32))
            assert built.function_name == name
        else:
            assert name in rt.kernels(family, np.float32), f"{family}.cl has no {name}"


def test_every_activation_exists_in_every_engine(opencl):
    built = set(opencl.runtime.kernels("activations", np.float32))
    in_kernels = {k[len("act_"):] for k in built if k.startswith("act_")}
    assert in_kernels == set(ACTIVATIONS), "activations.cl and the catalogue differ"
    assert {k[len("dact_"):] for k in built if k.startswith("dact_")} == set(ACTIVATIONS)
    be = NumpyBackend("cpu")
    x = be.from_numpy(np.linspace(-2, 2, 5))
    points = np.linspace(-2, 2, 5)
    for name, entry in ACTIVATIONS.items():
        want = [entry.f(float(v), entry.default_alpha) for v in points]
        assert getattr(Value(0.5), name)().data == entry.f(0.5, entry.default_alpha), name
        out = be.to_numpy(be.activation(name, x, entry.default_alpha))
        np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12, err_msg=name)
        t = vecgrad.tensor(points, dtype=vecgrad.float64)
        np.testing.assert_allclose(getattr(t, name)().numpy(), want, rtol=1e-12, atol=1e-12,
                                   err_msg=f"Tensor.{name}")
        np.testing.assert_allclose(getattr(F, name)(t).numpy(), want, rtol=1e-12,
                                   atol=1e-12, err_msg=f"F.{name}")
