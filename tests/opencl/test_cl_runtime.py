"""The OpenCL runtime's promises: device strings, clear errors (no platform, bad device,
float64 without cl_khr_fp64, build failures with their log, CL status names), lazy
start-up, cached programs, pooled buffers and no host round trips inside op chains."""

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

import vecgrad

from vecgrad.backends import opencl_runtime
from vecgrad.backends.opencl_backend import OpenCLBackend, list_devices
from vecgrad.backends.opencl_runtime import OpenCLError, Runtime, cl_errors


@pytest.mark.parametrize("bad", ["opencl:0", "opencl:a:b", "gpu", "opencl:0:0:0"])
def test_bad_device_string(cl_backend, bad):
    with pytest.raises(OpenCLError, match="bad OpenCL device string"):
        OpenCLBackend(bad)


def test_missing_device_lists_what_exists(cl_backend):
    with pytest.raises(OpenCLError) as info:
        OpenCLBackend("opencl:99:0")
    message = str(info.value)
    assert "no OpenCL device 'opencl:99:0'" in message
    assert cl_backend.device in message and cl_backend.runtime.info.name in message


def test_default_device_resolves_to_an_explicit_string(cl_backend):
    assert cl_backend.device in list_devices()
    assert cl_backend.device.startswith("opencl:")


def test_no_platform_message_and_cpu_still_works(cl_backend, monkeypatch):
    monkeypatch.setattr(opencl_runtime, "_discover", lambda: [])
    with pytest.raises(OpenCLError) as info:
        OpenCLBackend("opencl")
    assert "pip install pocl-binary-distribution" in str(info.value)
    assert "'cpu' device" in str(info.value)
    assert list_devices() == []
    from vecgrad.backends import available_devices, get_backend

    assert available_devices() == ["cpu"]
    cpu = get_backend("cpu")
    assert cpu.to_numpy(cpu.full((2,), 3.0, np.dtype(np.float32))).tolist() == [3.0, 3.0]


def test_float64_refused_without_fp64(cl_backend):
    backend = OpenCLBackend(cl_backend.device)  # a private instance we may alter
    rt = backend.runtime
    rt.info = dataclasses.replace(rt.info, fp64=False)
    backend.supports_float64 = False
    with pytest.raises(OpenCLError, match="float64 needs the cl_khr_fp64 extension"):
        backend.from_numpy(np.zeros(3, np.float64))
    with pytest.raises(OpenCLError, match="use float32"):
        rt.program("elementwise", np.float64)
    x = backend.from_numpy(np.ones(3, np.float32))  # float32 still works
    with pytest.raises(OpenCLError, match="cl_khr_fp64"):
        backend.astype(x, np.float64)
    np.testing.assert_array_equal(backend.to_numpy(backend.unary("neg", x)), -np.ones(3))


def test_build_error_shows_the_log_and_the_file(cl_backend, monkeypatch):
    rt = Runtime(cl_backend.device)
    real = opencl_runtime.kernel_source

    def broken(family):
        if family == "softmax":
            return "__kernel void softmax_rows(__global T* x) { x[0] = not_declared; }"
        return real(family)

    monkeypatch.setattr(opencl_runtime, "kernel_source", broken)
    with pytest.raises(OpenCLError) as info:
        rt.program("softmax", np.float32)
    message = str(info.value)
    assert "building kernels/softmax.cl" in message and "Build log" in message
    assert "not_declared" in message  # the compiler's own words


def test_cl_errors_are_named(cl_backend):
    import pyopencl as cl

    prg = cl_backend.runtime.program("elementwise", np.float32)
    with pytest.raises(OpenCLError) as info:
        with cl_errors("creating a kernel"):
            cl.Kernel(prg, "no_such_kernel")
    assert "creating a kernel: CL_INVALID_KERNEL_NAME" in str(info.value)


def test_import_does_no_opencl_work():
    code = ("import sys, vecgrad, vecgrad.backends.opencl_backend, vecgrad.cli.devices; "
            "print('pyopencl' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "False"


def test_programs_and_kernels_are_built_once(cl_backend):
    rt = cl_backend.runtime
    assert rt.program("elementwise", np.float32) is rt.program("elementwise", np.float32)
    assert rt.kernel("elementwise", "copy", np.float32) is rt.kernel("elementwise", "copy",
                                                                    np.float32)


def test_buffers_return_to_the_pool(cl_backend):
    pool = cl_backend.runtime.pool
    cl_backend.synchronize()
    before = pool.active_blocks
    arrays = [cl_backend.full((1000,), 1.0, np.dtype(np.float32)) for _ in range(10)]
    assert pool.active_blocks >= before + 10
    del arrays
    assert pool.active_blocks <= before


def test_op_chain_makes_no_host_transfers(cl_backend, monkeypatch, rng):
    import pyopencl as cl

    x = cl_backend.from_numpy(rng.standard_normal((33, 65)).astype(np.float32))
    w = cl_backend.from_numpy(rng.standard_normal((65, 7)).astype(np.float32))
    transfers = []
    real_copy = cl.enqueue_copy
    monkeypatch.setattr(cl, "enqueue_copy", lambda *a, **k: transfers.append(a) or
                        real_copy(*a, **k))
    h = cl_backend.activation("tanh", cl_backend.matmul(x, w), None)
    loss = cl_backend.reduce("sum", cl_backend.log_softmax(h, 1), (0, 1), False)
    grad = cl_backend.matmul(x, cl_backend.activation_derivative("tanh", h, None),
                             transpose_a=True)
    cl_backend.binary("sub", w, grad, out=w)
    assert transfers == []
    monkeypatch.undo()
    assert np.isfinite(cl_backend.to_numpy(loss))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_an_error_instead_of_hanging(cl_backend):
    # A multiprocessing worker started with 'fork' that touched an OpenCL tensor
    # waited forever inside PoCL; now every use says why, and cpu work still runs.
    import time

    x = vecgrad.tensor(np.arange(4, dtype=np.float32), device=cl_backend.device)
    (x * 2).numpy()  # the device is open and has run kernels
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report each use in one line, never raise
        lines = []
        for use in (lambda: (x * 2).numpy(), lambda: x.numpy(), lambda: x.sum().item(),
                    # a kernel never asked for (its answer is not remembered)
                    lambda: cl_backend.runtime.has_kernel("elementwise", "no_such", np.float32),
                    lambda: vecgrad.zeros(3, device=cl_backend.device),
                    lambda: vecgrad.tensor([1.0, 2.0]).sum().item()):
            try:
                lines.append(f"ok {use()}")
            except Exception as exc:
                lines.append(f"{type(exc).__name__}: {exc}")
        os.write(write, "\n".join(lines).encode())
        os._exit(0)
    os.close(write)
    deadline = time.monotonic() + 30
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung on the OpenCL device")
        time.sleep(0.05)
    with os.fdopen(read) as pipe:
        lines = pipe.read().splitlines()
    assert len(lines) == 6, lines
    for line in lines[:5]:
        assert line.startswith("OpenCLError: this process was forked") and "spawn" in line
    assert lines[5] == "ok 3.0"
    np.testing.assert_array_equal((x * 3).numpy(), [0, 3, 6, 9])  # the parent goes on


def test_every_name_of_a_device_and_every_thread_share_one_backend(cl_backend, monkeypatch):
    # "opencl:0:0" opened before "opencl" (or two threads opening it at once) made two
    # backends, and their tensors could not meet: "tensors are on different devices
    # (opencl:0:0 and opencl:0:0)".
    import threading

    from vecgrad import backends

    explicit = cl_backend.device
    monkeypatch.setattr(backends, "_cached_backend", backends._BackendCache())
    a = vecgrad.ones(2, device=explicit)
    b = vecgrad.ones(2, device="opencl")
    c = vecgrad.ones(2, device=explicit)
    np.testing.assert_array_equal((a + b + c).numpy(), [3, 3])
    assert backends.get_backend("opencl") is backends.get_backend(explicit)

    monkeypatch.setattr(backends, "_cached_backend", backends._BackendCache())
    made = []
    start = threading.Barrier(4)

    def open_device(name):
        start.wait()
        made.append(backends.get_backend(name))

    threads = [threading.Thread(target=open_device, args=(name,))
               for name in ("opencl", explicit, "opencl", explicit)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 4 and all(backend is made[0] for backend in made)


def test_threads_launching_the_same_kernels_get_their_own_results(cl_backend):
    # pyopencl sets a kernel's arguments one call at a time before enqueueing it: two
    # threads launching the same kernel mixed their arguments (silently wrong values).
    import threading

    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    inputs = [vecgrad.tensor(np.full(64, i, np.float32), device=cl_backend.device)
              for i in range(8)]
    wrong = []

    def work(i):
        x = inputs[i]
        for _ in range(150):
            got = ((x + x) * x).numpy()
            if not (got == 2 * i * i).all():
                wrong.append((i, got[0]))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(previous)
    assert not wrong, wrong[:5]


def test_forgetting_uploads_waits_for_an_upload_in_progress(cl_backend):
    # to_numpy clears the pending uploads while another thread's upload() may be
    # walking them: that thread failed with "pop from an empty deque".
    import threading

    rt = cl_backend.runtime
    with rt.lock:  # as an upload() in progress on another thread holds it
        clearing = threading.Thread(target=rt.uploads_done)
        clearing.start()
        clearing.join(0.2)
        assert clearing.is_alive()
    clearing.join(5)
    assert not clearing.is_alive()
