"""The on-disk cache of compiled kernel binaries (opencl_runtime.kernel_cache_dir)."""

import numpy as np
import pytest

from vecgrad.backends import opencl_runtime
from vecgrad.backends.opencl_runtime import Runtime, kernel_cache_dir


def _neg(rt, values):
    """Run elementwise.cl's unary_neg (1-d layout) on `values` through `rt`."""
    cl = rt.cl
    host = np.asarray(values, np.float32)
    src = cl.Buffer(rt.context, cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR, hostbuf=host)
    dst = cl.Buffer(rt.context, cl.mem_flags.READ_WRITE, host.nbytes)
    knl = rt.kernel("elementwise", "unary_neg", np.float32, {"STRIDED_NDIM": 1})
    packed = np.array([len(host)] + [1] * 7, np.int32).tobytes()
    strides = np.array([1] + [0] * 7, np.int32).tobytes()
    rt.launch_1d(knl, len(host), len(host), 1, packed, dst, strides, 0, src, strides, 0)
    out = np.empty_like(host)
    cl.enqueue_copy(rt.queue, out, dst)
    return out


def test_cache_folder_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("VECGRAD_KERNEL_CACHE", str(tmp_path / "k"))
    assert kernel_cache_dir() == tmp_path / "k"
    for off in ("off", "0", ""):
        monkeypatch.setenv("VECGRAD_KERNEL_CACHE", off)
        assert kernel_cache_dir() is None
    monkeypatch.delenv("VECGRAD_KERNEL_CACHE")
    assert kernel_cache_dir() is None  # off unless asked: filling it is slow on PoCL
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    for on in ("on", "1", "yes", "True"):
        monkeypatch.setenv("VECGRAD_KERNEL_CACHE", on)
        assert kernel_cache_dir() == tmp_path / "xdg" / "vecgrad" / "kernels"


def test_a_second_runtime_builds_from_the_stored_binary(cl_backend, monkeypatch, tmp_path):
    monkeypatch.setenv("VECGRAD_KERNEL_CACHE", str(tmp_path))
    first = Runtime(cl_backend.device)
    values = [1.5, -2.0, 0.0, 7.25, 3.0]
    np.testing.assert_array_equal(_neg(first, values), -np.float32(values))
    stored = sorted(tmp_path.glob("*.bin"))
    assert len(stored) == 1 and stored[0].stat().st_size > 0
    assert not list(tmp_path.glob(".tmp-*"))  # the temporary file was renamed into place

    def no_source_builds(self, *args):
        raise AssertionError("built from source although the binary was cached")

    monkeypatch.setattr(Runtime, "_build_source", no_source_builds)
    second = Runtime(cl_backend.device)
    np.testing.assert_array_equal(_neg(second, values), -np.float32(values))
    # scalar argument types (-cl-kernel-arg-info) survive the binary round trip
    knl = second.kernel("elementwise", "axpy", np.float32, {"STRIDED_NDIM": 1})
    assert np.float32 in second._scalar_arg_dtypes(knl)


def test_a_corrupt_binary_is_rebuilt_from_source(cl_backend, monkeypatch, tmp_path):
    monkeypatch.setenv("VECGRAD_KERNEL_CACHE", str(tmp_path))
    Runtime(cl_backend.device).program("elementwise", np.float32, {"STRIDED_NDIM": 1})
    (path,) = tmp_path.glob("*.bin")
    path.write_bytes(b"not a binary")
    rt = Runtime(cl_backend.device)
    np.testing.assert_array_equal(_neg(rt, [2.0, -3.0]), [-2.0, 3.0])
    assert path.read_bytes() != b"not a binary"  # replaced by the source build's binary


def test_cache_files_cut_short_or_altered_are_refused():
    binary = bytes(range(256)) * 40
    packed = opencl_runtime.pack_binary(binary)
    assert opencl_runtime.unpack_binary(packed) == binary
    for cut in (0, 5, len(packed) // 2, len(packed) - 1):
        assert opencl_runtime.unpack_binary(packed[:cut]) is None
    altered = bytearray(packed)
    altered[len(packed) // 2] ^= 0xFF
    assert opencl_runtime.unpack_binary(bytes(altered)) is None
    assert opencl_runtime.unpack_binary(binary) is None  # a bare binary (older format)


def test_a_truncated_binary_never_reaches_the_driver(cl_backend, monkeypatch, tmp_path):
    # PoCL dies of SIGSEGV when handed a truncated binary (a file cut short by a full
    # disk or a crash): such a file must be rebuilt from source, not loaded.
    monkeypatch.setenv("VECGRAD_KERNEL_CACHE", str(tmp_path))
    Runtime(cl_backend.device).program("elementwise", np.float32, {"STRIDED_NDIM": 1})
    (path,) = tmp_path.glob("*.bin")
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    real_program = cl_backend.runtime.cl.Program

    def program(context, *args):
        if len(args) == 2:  # (devices, binaries)
            raise AssertionError("a cut-short cache file was handed to the driver")
        return real_program(context, *args)

    monkeypatch.setattr(cl_backend.runtime.cl, "Program", program)
    rt = Runtime(cl_backend.device)
    np.testing.assert_array_equal(_neg(rt, [2.0, -3.0]), [-2.0, 3.0])
    assert path.stat().st_size == len(whole)  # replaced by the source build's file


def test_different_sources_and_options_get_different_files(cl_backend, monkeypatch, tmp_path):
    monkeypatch.setenv("VECGRAD_KERNEL_CACHE", str(tmp_path))
    rt = Runtime(cl_backend.device)
    rt.program("elementwise", np.float32, {"STRIDED_NDIM": 1})
    rt.program("elementwise", np.float32, {"STRIDED_NDIM": 2})
    rt.program("reduce", np.float32)
    assert len(list(tmp_path.glob("*.bin"))) == 3


def test_off_and_unwritable_folders_still_build(cl_backend, monkeypatch, tmp_path):
    monkeypatch.setenv("VECGRAD_KERNEL_CACHE", "off")
    rt = Runtime(cl_backend.device)
    np.testing.assert_array_equal(_neg(rt, [1.0]), [-1.0])
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("VECGRAD_KERNEL_CACHE", str(blocker / "kernels"))
    rt = Runtime(cl_backend.device)
    np.testing.assert_array_equal(_neg(rt, [4.0]), [-4.0])


def test_build_errors_still_show_the_log(cl_backend, monkeypatch, tmp_path):
    monkeypatch.setenv("VECGRAD_KERNEL_CACHE", str(tmp_path))
    real = opencl_runtime.kernel_source
    monkeypatch.setattr(opencl_runtime, "kernel_source", lambda family: (
        "__kernel void k(__global T* x) { x[0] = undeclared_name; }"
        if family == "softmax" else real(family)))
    with pytest.raises(opencl_runtime.OpenCLError, match="undeclared_name"):
        Runtime(cl_backend.device).program("softmax", np.float32)
    assert not list(tmp_path.glob("*.bin"))


# ----------------------------------------------------------- uploads without waiting
def test_uploads_do_not_wait_and_copy_the_callers_array(cl_backend, monkeypatch):
    rt = cl_backend.runtime
    host = np.arange(1001, dtype=np.float32)
    bufs = []
    for step in range(5):
        bufs.append(cl_backend.from_numpy(host))
        host += 1000  # the caller reuses its array at once: the uploads must not see it
    assert rt._uploads  # queued without waiting: their events are held until done
    for step, buf in enumerate(bufs):
        np.testing.assert_array_equal(cl_backend.to_numpy(buf),
                                      np.arange(1001, dtype=np.float32) + 1000 * step)
    assert not rt._uploads  # a read waits for the whole queue: nothing left pending


def test_large_and_many_uploads(cl_backend, monkeypatch):
    from vecgrad.backends import opencl_runtime as module

    monkeypatch.setattr(module, "ASYNC_UPLOAD_BYTES", 64)
    monkeypatch.setattr(module, "_MAX_PENDING_UPLOADS", 3)
    small = [cl_backend.from_numpy(np.full(7, i, np.int64)) for i in range(10)]
    assert len(cl_backend.runtime._uploads) <= 3
    big = cl_backend.from_numpy(np.arange(100, dtype=np.float64)
                                if cl_backend.supports_float64 else np.arange(100.0, dtype=np.float32))
    np.testing.assert_array_equal(cl_backend.to_numpy(big), np.arange(100))
    for i, buf in enumerate(small):
        np.testing.assert_array_equal(cl_backend.to_numpy(buf), np.full(7, i))


# ------------------------------------------------------------------ queue statistics
def test_queue_stats_count_launches_reads_writes_and_waits(cl_backend):
    stats = cl_backend.runtime.stats
    x = cl_backend.from_numpy(np.arange(5, dtype=np.float32))
    stats.reset()
    y = cl_backend.unary("neg", x)
    z = cl_backend.binary("add", x, y)
    assert stats.launches == 2 and stats.reads == 0 and stats.waits == 0
    cl_backend.from_numpy(np.ones(3, np.float32))
    assert stats.writes == 1 and stats.blocking_writes == 0
    np.testing.assert_array_equal(cl_backend.to_numpy(z), np.zeros(5))
    cl_backend.synchronize()
    assert stats.as_dict() == {"launches": 2, "reads": 1, "writes": 1, "blocking_writes": 0,
                               "waits": 1}
    knl = cl_backend.runtime.kernel("elementwise", "copy", np.float32)
    assert knl.function_name == "copy" and knl.num_args > 0  # attributes pass through
