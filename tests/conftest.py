"""Shared fixtures: the vecgrad suites run once per backend.

`device` is "cpu" and, when an OpenCL device can be opened, "opencl". Set
VECGRAD_TEST_DEVICES=cpu to run only the numpy backend. CI sets VECGRAD_REQUIRE_OPENCL=1,
which turns a missing OpenCL device into a failure instead of a skip: PoCL is installed
there, so every kernel must run.
"""

import os

import pytest


def _opencl_problem():
    """None when an OpenCL device works, else the reason it does not."""
    try:
        from vecgrad.backends import get_backend

        get_backend("opencl")
    except Exception as exc:  # any failure means: no usable OpenCL here
        return f"{type(exc).__name__}: {exc}"
    return None


def _test_devices():
    wanted = os.environ.get("VECGRAD_TEST_DEVICES", "cpu,opencl").split(",")
    return [d.strip() for d in wanted if d.strip()]


@pytest.fixture(params=_test_devices())
def device(request):
    """The device string a vecgrad test runs on."""
    name = request.param
    if name.startswith("opencl"):
        problem = _opencl_problem()
        if problem is not None:
            if os.environ.get("VECGRAD_REQUIRE_OPENCL") == "1":
                pytest.fail(f"OpenCL is required here but unavailable: {problem}")
            pytest.skip(f"no OpenCL device: {problem}")
    return name
