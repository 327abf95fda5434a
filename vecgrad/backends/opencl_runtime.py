"""OpenCL runtime: device discovery, one context/queue per device, the program cache and
readable errors.

Nothing here touches OpenCL at import time: pyopencl is imported and platforms are
queried only when a device is first asked for.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import importlib.resources
import os
import re
import tempfile
import threading
import warnings
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

NO_PLATFORM_HELP = (
    "no OpenCL platform found. Install one: `pip install pocl-binary-distribution` gives a "
    "CPU device anywhere; for a GPU install its vendor driver (NVIDIA, AMD ROCm, Intel "
    "compute-runtime) and make sure its ICD file is registered under /etc/OpenCL/vendors. "
    "The 'cpu' device (numpy) works without OpenCL."
)

# Element types the kernels are compiled for: numpy dtype -> (C type, is_float, is_bool).
C_TYPES = {
    np.dtype(np.float32): ("float", True, False),
    np.dtype(np.float64): ("double", True, False),
    np.dtype(np.int64): ("long", False, False),
    np.dtype(np.bool_): ("uchar", False, True),
}


def frozen_defines(defines: dict[str, Any] | None) -> tuple | None:
    """Build defines as a hashable key: sorted (name, value) pairs, None when empty."""
    return tuple(sorted(defines.items())) if defines else None


class OpenCLError(RuntimeError):
    """An OpenCL problem explained in words (device, op, error name, build log)."""


def _pyopencl():
    try:
        import pyopencl
    except ImportError as exc:  # pyopencl is a dependency, but say how to fix a broken env
        raise OpenCLError(
            f"pyopencl cannot be imported ({exc}); install it with `pip install pyopencl`"
        ) from None
    return pyopencl


def error_name(exc: Exception) -> str:
    """'CL_OUT_OF_RESOURCES (-5) in clEnqueueNDRangeKernel' for a pyopencl error."""
    cl = _pyopencl()
    code = getattr(exc, "code", None)
    routine = getattr(exc, "routine", "") or ""
    if callable(code):  # pyopencl.Error exposes code() on some versions
        code = code()
    if isinstance(code, int):
        try:
            name = "CL_" + cl.status_code.to_string(code)
        except (ValueError, KeyError, AttributeError):
            name = "CL error"
        where = f" in {routine}" if routine else ""
        return f"{name} ({code}){where}"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


@contextlib.contextmanager
def cl_errors(what: str) -> Iterator[None]:
    """Turn a pyopencl exception inside the block into an OpenCLError naming `what`."""
    cl = _pyopencl()
    try:
        yield
    except cl.Error as exc:
        raise OpenCLError(f"{what}: {error_name(exc)}") from None


@dataclass(frozen=True)
class DeviceInfo:
    """What `vecgrad devices` shows about one OpenCL device."""

    platform_index: int
    device_index: int
    platform: str
    name: str
    type: str
    compute_units: int
    global_mem_bytes: int
    local_mem_bytes: int
    max_work_group_size: int
    fp64: bool

    @property
    def device_string(self) -> str:
        return f"opencl:{self.platform_index}:{self.device_index}"


def _device_type(cl, dev) -> str:
    kinds = []
    for flag, label in ((cl.device_type.GPU, "GPU"), (cl.device_type.CPU, "CPU"),
                        (cl.device_type.ACCELERATOR, "accelerator")):
        if dev.type & flag:
            kinds.append(label)
    return "/".join(kinds) or "other"


def _discover() -> list[tuple[Any, DeviceInfo]]:
    cl = _pyopencl()
    try:
        platforms = cl.get_platforms()
    except cl.Error:
        platforms = []
    found = []
    for p_idx, platform in enumerate(platforms):
        try:
            devices = platform.get_devices()
        except cl.Error:  # a platform with no usable device (e.g. driver without hardware)
            continue
        for d_idx, dev in enumerate(devices):
            info = DeviceInfo(
                platform_index=p_idx,
                device_index=d_idx,
                platform=platform.name.strip(),
                name=dev.name.strip(),
                type=_device_type(cl, dev),
                compute_units=int(dev.max_compute_units),
                global_mem_bytes=int(dev.global_mem_size),
                local_mem_bytes=int(dev.local_mem_size),
                max_work_group_size=int(dev.max_work_group_size),
                fp64="cl_khr_fp64" in dev.extensions.split(),
            )
            found.append((dev, info))
    return found


def list_devices() -> list[DeviceInfo]:
    """Every OpenCL device on every platform; [] when there is no platform."""
    return [info for _, info in _discover()]


_DEVICE_RE = re.compile(r"^opencl(?::(\d+):(\d+))?$")


def resolve_device(device: str) -> tuple[Any, DeviceInfo]:
    """Find the cl.Device for "opencl" (a GPU if any, else a CPU) or "opencl:P:D"."""
    match = _DEVICE_RE.match(device.strip())
    if match is None:
        raise OpenCLError(
            f"bad OpenCL device string {device!r}: use 'opencl' (best device) or "
            "'opencl:P:D' (platform P, device D; `vecgrad devices` lists them)"
        )
    found = _discover()
    if not found:
        raise OpenCLError(NO_PLATFORM_HELP)
    if match.group(1) is None:
        for wanted in ("GPU", "CPU"):
            for dev, info in found:
                if wanted in info.type.split("/"):
                    return dev, info
        return found[0]
    p_idx, d_idx = int(match.group(1)), int(match.group(2))
    for dev, info in found:
        if (info.platform_index, info.device_index) == (p_idx, d_idx):
            return dev, info
    listing = "; ".join(f"{i.device_string} = {i.name} ({i.type}, {i.platform})"
                        for _, i in found)
    raise OpenCLError(f"no OpenCL device {device!r}; available: {listing}")


def kernel_source(family: str) -> str:
    """The text of kernels/<family>.cl as shipped in the vecgrad.kernels package."""
    root = importlib.resources.files("vecgrad.kernels")
    path = root.joinpath(f"{family}.cl")
    if not path.is_file():
        raise OpenCLError(f"kernel file {family}.cl is missing from the vecgrad.kernels package")
    return path.read_text(encoding="utf-8")


# Compiled programs can be kept on disk between processes (opt-in): PoCL caches source
# builds too, but finding its entry preprocesses the source first (40-140 ms per program,
# measured; a `vecgrad train` run builds ~17 programs, about 1.1 s in all), while building
# from a stored binary takes 2-7 ms. It is off by default because storing costs far more
# than it saves for a run or two: PoCL compiles every kernel of a program when asked for
# its binary (6 s a program, 118 s for a first `vecgrad train --device opencl`, measured
# 12:26 UTC, against 13 s without the cache).
KERNEL_CACHE_ENV = "VECGRAD_KERNEL_CACHE"
_CACHE_FORMAT = "vecgrad-cl-binary-2"
# A cache file is this magic, the SHA-256 of the binary, then the binary. Drivers do not
# check what they are given: PoCL crashed the process (SIGSEGV) on a truncated binary,
# as a file cut short by a full disk or a crash before the rename reached disk would be.
# A file whose length or digest does not match is never handed to the driver.
_BINARY_MAGIC = b"vecgrad-cl-binary\n"
_DIGEST_BYTES = 32


def pack_binary(binary: bytes) -> bytes:
    """A cache file's bytes for `binary` (see _BINARY_MAGIC)."""
    return _BINARY_MAGIC + hashlib.sha256(binary).digest() + binary


def unpack_binary(data: bytes) -> bytes | None:
    """The binary held by a cache file's bytes, or None when they are not a whole,
    intact cache file."""
    head = len(_BINARY_MAGIC) + _DIGEST_BYTES
    if len(data) <= head or not data.startswith(_BINARY_MAGIC):
        return None
    binary = data[head:]
    if hashlib.sha256(binary).digest() != data[len(_BINARY_MAGIC):head]:
        return None
    return binary


def kernel_cache_dir() -> Path | None:
    """Where compiled kernel binaries are kept, or None (the default: no cache).

    $VECGRAD_KERNEL_CACHE: unset, "off", "0" or "" -> no cache; "on", "1", "yes" or
    "true" -> $XDG_CACHE_HOME/vecgrad/kernels (else ~/.cache/vecgrad/kernels); anything
    else is the folder itself. Read when asked.
    """
    setting = os.environ.get(KERNEL_CACHE_ENV)
    if setting is None or setting.strip().lower() in ("", "0", "off", "no", "false"):
        return None
    if setting.strip().lower() not in ("1", "on", "yes", "true"):
        return Path(setting).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "vecgrad" / "kernels"


def binary_cache_path(cl_device, source: str, options: list) -> Path | None:
    """The cache file of one build: named by a hash of everything the binary depends
    on (source, options, device, driver and platform versions)."""
    folder = kernel_cache_dir()
    if folder is None:
        return None
    digest = hashlib.sha256()
    for part in (_CACHE_FORMAT, cl_device.platform.name, cl_device.platform.version,
                 cl_device.name, cl_device.version, cl_device.driver_version,
                 " ".join(options), source):
        digest.update(part.encode("utf-8", "replace"))
        digest.update(b"\0")
    return folder / f"{digest.hexdigest()}.bin"


def store_binary(path: Path, program, cl) -> None:
    """Write the program's binary to `path` atomically (a temporary file renamed into
    place, so a concurrent reader sees the whole file or none). The cache only saves
    time: a folder that cannot be written is skipped silently."""
    try:  # first: asking PoCL for the binary compiles every kernel (seconds)
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    try:
        (binary,) = program.get_info(cl.program_info.BINARIES)
    except (cl.Error, ValueError):
        return
    if not binary:
        return
    try:
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".bin")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pack_binary(binary))
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError:
        pass


# Kernel files built together: one program per (dtype, defines) holds every family of a
# bundle. PoCL preprocesses a program's whole source, clang's opencl-c.h included, on
# every build even when its cache holds the program: 35-90 ms a program, nearly the same
# for one file as for the six below together (measured 2026-12-03 13:30 UTC, load 2), so
# a `vecgrad train --device opencl` that built 19 programs spent ~1 s on lookups. A
# program's kernels are still compiled one by one, when first launched. Without defines
# every family below shares one program, which also takes the variant copies of the
# files in Runtime.bundle_variants (matmul.cl's tile sets for float dtypes); the layout
# variants (STRIDED_NDIM, common.cl) bundle the two families that use them. Anything
# else builds alone.
BUNDLED_FAMILIES = ("elementwise", "activations", "reduce", "softmax", "optim", "indexing",
                    "conv2d")
LAYOUT_FAMILIES = ("elementwise", "activations")


def bundle_of(family: str, frozen_defines: tuple) -> tuple:
    """The families built in one program with `family` under `frozen_defines` (sorted
    (name, value) pairs); (family,) when it builds alone."""
    if family in BUNDLED_FAMILIES and not frozen_defines:
        return BUNDLED_FAMILIES
    if family in LAYOUT_FAMILIES and all(name == "STRIDED_NDIM" for name, _ in frozen_defines):
        return LAYOUT_FAMILIES
    return (family,)


def _variant_copies(family: str, variants: tuple, line: int) -> tuple[list, tuple, int]:
    """kernels/<family>.cl once per define set of `variants` (frozen_defines tuples):
    copy i is preceded by its defines as #define lines and VARIANT_SUFFIX _v<i>, so the
    file's kernels, declared VARIANT(name) (common.cl), are named name_v<i>. Every
    define any variant sets is #undef'd before each copy, so the file's own #ifndef
    defaults apply afresh. Returns (source parts, (label, line where copy 0's text
    starts), the line after the last copy) for a source whose next line is `line`."""
    text = kernel_source(family)
    names = sorted({name for defines in variants for name, _ in defines or ()})
    parts, first_line = [], line
    for index, defines in enumerate(variants):
        head = "".join(f"#undef {name}\n" for name in names + ["VARIANT_SUFFIX"])
        head += f"#define VARIANT_SUFFIX _v{index}\n"
        head += "".join(f"#define {name} {value}\n" for name, value in defines or ())
        parts.append(head + text)
        line += head.count("\n")
        if index == 0:
            first_line = line
        line += text.count("\n") + 1
    label = f"kernels/{family}.cl (copy 0 of {len(variants)}, one per variant)"
    return parts, (label, first_line), line


class QueueStats:
    """What this runtime has asked of its queue: kernel launches, device-to-host reads
    (each waits for every command before it), host-to-device writes (`blocking_writes`
    of them waited too) and explicit waits (finish). Counting costs one integer add;
    `vecgrad bench --device opencl` reports them per training batch (a figure the
    machine's load does not change)."""

    __slots__ = ("launches", "reads", "writes", "blocking_writes", "waits")

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.launches = self.reads = self.writes = self.blocking_writes = self.waits = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


class _CountedKernel:
    """A cl.Kernel that counts its launches in QueueStats (attributes pass through).

    A launch holds its runtime's lock: pyopencl sets a kernel's arguments one Python
    call at a time, then enqueues it, so two threads launching one kernel could mix
    their arguments (a silently wrong result; 14 of 2400 products were wrong with 8
    threads on one device)."""

    __slots__ = ("kernel", "stats", "lock")

    def __init__(self, kernel, stats: QueueStats, lock):
        self.kernel, self.stats, self.lock = kernel, stats, lock

    def __call__(self, *args):
        self.stats.launches += 1
        with self.lock:
            return self.kernel(*args)

    def __getattr__(self, name):
        return getattr(self.kernel, name)


class _Forked:
    """Stands in for a runtime's queue, context, pool and kernels in a process forked
    after the runtime was made: any use raises OpenCLError(message). An OpenCL context
    does not survive fork (the driver's threads stay in the parent): PoCL waited
    forever on the first kernel a forked child launched (a multiprocessing worker
    touching an OpenCL tensor hung, with no message)."""

    __slots__ = ("message",)

    def __init__(self, message: str):
        self.message = message

    def __getattr__(self, name):
        raise OpenCLError(self.message)

    def __call__(self, *args, **kwargs):
        raise OpenCLError(self.message)


_RUNTIMES: "weakref.WeakSet[Runtime]" = weakref.WeakSet()


def _disable_runtimes_after_fork() -> None:
    for runtime in list(_RUNTIMES):
        runtime.disable_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_disable_runtimes_after_fork)


# Host arrays up to this size are uploaded without waiting (Runtime.upload).
ASYNC_UPLOAD_BYTES = 4 << 20
_MAX_PENDING_UPLOADS = 256


class Runtime:
    """Context, in-order queue, memory pool and compiled programs of one device."""

    def __init__(self, device: str):
        cl = _pyopencl()
        import pyopencl.tools as cl_tools

        self.cl = cl
        self.cl_device, self.info = resolve_device(device)
        self.is_gpu = "GPU" in self.info.type.split("/")
        with cl_errors(f"creating an OpenCL context on {self.info.name}"):
            self.context = cl.Context([self.cl_device])
            self.queue = cl.CommandQueue(self.context)
            self.pool = cl_tools.MemoryPool(cl_tools.ImmediateAllocator(self.queue))
        self.set_max_alloc(int(self.cl_device.max_mem_alloc_size))
        self.max_work_group_size = self.info.max_work_group_size
        self._programs: dict[tuple, Any] = {}
        self._failed_bundles: set[tuple] = set()
        self._has: dict[tuple, bool] = {}  # see has_kernel
        self._file_kernels: dict[tuple, list] = {}  # see kernels
        # Files built as variants into a dtype's bundle without defines (one program
        # less per run): family -> function(dtype) giving its variants, or None for
        # none. The OpenCL backend registers matmul.cl's tile sets for float dtypes.
        self.bundle_variants: dict[str, Any] = {}
        self._kernels: dict[tuple, Any] = {}
        self._uploads: collections.deque = collections.deque()  # see upload()
        self.stats = QueueStats()
        self.lock = threading.Lock()  # held by each launch (_CountedKernel) and upload
        _RUNTIMES.add(self)

    def disable_after_fork(self) -> None:
        """Make every later use of this runtime an OpenCLError saying why (called in a
        forked child, see _Forked); nothing of OpenCL is called or released here."""
        forked = _Forked(
            f"this process was forked after it opened the OpenCL device {self.info.name} "
            f"({self.info.device_string}), and OpenCL cannot be used in a forked child (it "
            "would hang): start workers with multiprocessing's 'spawn' method, or give "
            "them cpu tensors (tensor.cpu()) and move results to OpenCL in the parent")
        self.queue = self.context = self.pool = self.stats = forked
        self.kernel = self.program = self.variants_program = forked
        self.has_kernel = self.kernels = forked  # (has_kernel would answer 'no kernel')
        self.lock = threading.Lock()  # (another thread of the parent may have held it)
        for knl in self._kernels.values():
            knl.kernel, knl.lock = forked, self.lock

    # ------------------------------------------------------------------ programs
    def check_dtype(self, dtype: np.dtype, what: str) -> None:
        dtype = np.dtype(dtype)
        if dtype not in C_TYPES:
            raise OpenCLError(f"{what}: dtype {dtype} is not supported on OpenCL "
                              f"(supported: float32, float64, int64, bool)")
        if dtype == np.float64 and not self.info.fp64:
            raise OpenCLError(
                f"{what}: float64 needs the cl_khr_fp64 extension, which {self.info.name} "
                "does not have; use float32 (tensor.float()) on this device"
            )

    def build_options(self, dtype: np.dtype, defines: dict[str, Any] | None = None) -> list:
        c_type, is_float, is_bool = C_TYPES[np.dtype(dtype)]
        opts = {"T": c_type, "T_IS_FLOAT": int(is_float), "T_IS_BOOL": int(is_bool),
                "HAVE_FP64": int(self.info.fp64)}
        opts.update(defines or {})
        # arg info lets kernel() declare scalar argument types to pyopencl
        return ["-cl-kernel-arg-info"] + [f"-D{k}={v}" for k, v in opts.items()]

    def program(self, family: str, dtype: np.dtype, defines: dict[str, Any] | None = None):
        """The program holding kernels/<family>.cl built for `dtype` (and extra
        defines), once per device: the program of the family's bundle (bundle_of) when
        it has one, so one build serves every family of the bundle."""
        dtype = np.dtype(dtype)
        frozen = tuple(sorted((defines or {}).items()))
        key = (family, dtype, frozen)
        prg = self._programs.get(key)
        if prg is None:
            self.check_dtype(dtype, f"kernels/{family}.cl")
            families = bundle_of(family, frozen)
            if len(families) > 1 and (dtype, frozen) not in self._failed_bundles:
                extra = {}
                if families == BUNDLED_FAMILIES and not frozen:
                    for name, variants_of in self.bundle_variants.items():
                        variants = variants_of(dtype)
                        if variants:
                            extra[name] = variants
                try:
                    prg = self._build_families(families, dtype, defines, extra)
                except OpenCLError:
                    # one broken file must not take the others down: build each alone
                    # (the broken one then reports its own error and line numbers)
                    self._failed_bundles.add((dtype, frozen))
                else:
                    for member in families:
                        self._programs.setdefault((member, dtype, frozen), prg)
                    for name, variants in extra.items():
                        self._programs.setdefault((name, dtype, variants), prg)
                    return prg
            prg = self._programs[key] = self._build_families((family,), dtype, defines)
        return prg

    def _build_families(self, families: tuple, dtype: np.dtype, defines,
                        variant_files: dict | None = None):
        """kernels/common.cl followed by every file of `families`, then the copies of
        each file of `variant_files` (family -> variants, see _variant_copies), built
        as one program."""
        common = kernel_source("common")
        parts, starts, line = [common], [], common.count("\n") + 2
        for member in families:
            text = kernel_source(member)
            parts.append(text)
            starts.append((f"kernels/{member}.cl", line))
            line += text.count("\n") + 1
        for member, variants in (variant_files or {}).items():
            copies, start, line = _variant_copies(member, variants, line)
            parts += copies
            starts.append(start)
        return self._build(starts, "\n".join(parts), self.build_options(dtype, defines))

    def _build(self, starts: list, source: str, options: list):
        """The built program: from the binary cache when it holds this exact build,
        else compiled from source (and the binary stored for the next process).
        `starts`: (file, line where it begins in `source`) for error messages."""
        cached = binary_cache_path(self.cl_device, source, options)
        if cached is not None:
            program = self._load_binary(cached, options)
            if program is not None:
                return program
        program = self._build_source(starts, source, options)
        if cached is not None:
            store_binary(cached, program, self.cl)
        return program

    def _load_binary(self, path: Path, options: list):
        """The program built from a cached binary, or None (no file, or one that is
        cut short, altered or rejected by the driver: then it is removed and the source
        build replaces it)."""
        try:
            binary = unpack_binary(path.read_bytes())
        except OSError:
            return None
        cl = self.cl
        if binary is None:
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        try:
            return cl.Program(self.context, [self.cl_device], [binary]).build(options=options)
        except (cl.Error, RuntimeError, ValueError):
            with contextlib.suppress(OSError):
                path.unlink()
            return None

    def _build_source(self, starts: list, source: str, options: list):
        cl = self.cl
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", cl.CompilerWarning)
                return cl.Program(self.context, source).build(options=options)
        except cl.Error as exc:
            log = str(exc)
            files = " + ".join(label for label, _ in starts)
            where = "; ".join(f"{label} starts at line {line}" for label, line in starts)
            raise OpenCLError(
                f"building {files} for {self.info.name} failed "
                f"(options: {' '.join(options)}; kernels/common.cl is prepended: {where})."
                f"\nBuild log:\n{log}"
            ) from None

    def kernel(self, family: str, name: str, dtype: np.dtype,
               defines: dict[str, Any] | tuple | None = None, variants: tuple | None = None):
        """A cached kernel object (retrieving one from a program is not free).

        `defines` is a dict or, from callers that launch often, frozen_defines(dict)
        made once: then the lookup is one dict get, with no sorting per launch.
        `variants`: for files whose defines take a few known values (matmul.cl's tile
        sizes), a tuple of frozen define sets built together as one program the first
        time any of them is asked for (see variants_program); `defines` outside it
        builds alone.
        """
        if isinstance(defines, dict):
            defines = frozen_defines(defines)
        key = (family, name, dtype, defines)
        knl = self._kernels.get(key)
        if knl is None:
            if variants is not None and defines in variants:
                prg = self.variants_program(family, dtype, variants)
                built_name = f"{name}_v{variants.index(defines)}"
            else:
                prg = self.program(family, dtype, None if defines is None else dict(defines))
                built_name = name
            try:
                knl = self.cl.Kernel(prg, built_name)
            except self.cl.Error:
                raise OpenCLError(
                    f"kernels/{family}.cl has no kernel {name!r} for {np.dtype(dtype)}"
                ) from None
            knl.set_scalar_arg_dtypes(self._scalar_arg_dtypes(knl))
            knl = self._kernels[key] = _CountedKernel(knl, self.stats, self.lock)
        return knl

    def variants_program(self, family: str, dtype: np.dtype, variants: tuple):
        """kernels/<family>.cl built once per define set of `variants` (frozen_defines
        tuples), all in one program (see _variant_copies): one program instead of one
        per variant, since PoCL's lookup of a cached program costs 35-90 ms whatever
        its size (see BUNDLED_FAMILIES). When these are the variants registered in
        bundle_variants, they come with the dtype's main bundle (built now if needed)."""
        dtype = np.dtype(dtype)
        key = (family, dtype, variants)
        prg = self._programs.get(key)
        if prg is None and family in self.bundle_variants and \
                (dtype, ()) not in self._failed_bundles and \
                variants == self.bundle_variants[family](dtype):
            self.program(BUNDLED_FAMILIES[0], dtype)
            prg = self._programs.get(key)
        if prg is None:
            self.check_dtype(dtype, f"kernels/{family}.cl")
            common = kernel_source("common")
            copies, start, _ = _variant_copies(family, variants, common.count("\n") + 2)
            prg = self._programs[key] = self._build([start], "\n".join([common] + copies),
                                                    self.build_options(dtype))
        return prg

    def _scalar_arg_dtypes(self, knl) -> list:
        """numpy dtypes of a kernel's by-value arguments (None for pointers).

        Declaring them lets pyopencl pack plain Python ints and floats itself, which is
        ~50x cheaper per launch than passing numpy scalars through the buffer protocol.
        """
        cl = self.cl
        import pyopencl.cltypes as cltypes

        by_name = {"int": np.int32, "uint": np.uint32, "long": np.int64, "uchar": np.uint8,
                   "float": np.float32, "double": np.float64, "int8": cltypes.int8}
        dtypes = []
        for i in range(knl.num_args):
            type_name = knl.get_arg_info(i, cl.kernel_arg_info.TYPE_NAME).strip()
            if "*" in type_name:
                dtypes.append(None)
                continue
            if type_name not in by_name:
                raise OpenCLError(f"kernel {knl.function_name}: argument {i} has a type "
                                  f"({type_name}) the runtime does not know")
            dtypes.append(by_name[type_name])
        return dtypes

    def has_kernel(self, family: str, name: str, dtype: np.dtype,
                   defines: dict[str, Any] | None = None) -> bool:
        """Whether the program holding kernels/<family>.cl has `name` for `dtype` (ops
        ask before every launch; the answer is remembered). It does not depend on
        layout defines, so a program already built for the family and dtype answers;
        else the one for `defines` is built: callers pass the defines they will most
        likely launch with, so that asking builds no program the run would not build
        anyway (the general int64 program cost a `vecgrad train` 50-130 ms for one
        probe)."""
        key = (family, name, dtype)
        known = self._has.get(key)
        if known is None:
            dtype = np.dtype(dtype)
            program = next((prg for (fam, dt, _), prg in self._programs.items()
                            if fam == family and dt == dtype), None)
            try:
                if program is None:
                    program = self.program(family, dtype, defines)
                self.cl.Kernel(program, name)
                known = True
            except (OpenCLError, self.cl.Error):
                known = False
            self._has[key] = known
        return known

    def kernels(self, family: str, dtype: np.dtype) -> list[str]:
        """Names of the kernels kernels/<family>.cl really defines for `dtype` (built
        alone, so the other families of its bundle do not count; for tests)."""
        dtype = np.dtype(dtype)
        names = self._file_kernels.get((family, dtype))
        if names is None:
            self.check_dtype(dtype, f"kernels/{family}.cl")
            prg = self._build_families((family,), dtype, None)
            names = self._file_kernels[(family, dtype)] = sorted(
                k.function_name for k in prg.all_kernels())
        return list(names)

    # ----------------------------------------------------------------- launching
    def local_size_1d(self) -> int:
        return min(256, self.max_work_group_size)

    def range_1d(self, n: int) -> tuple[tuple[int], tuple[int]]:
        """(global, local) sizes of one work-item per element: global padded to the
        work-group size."""
        local = self.local_size_1d()
        return ((n + local - 1) // local * local,), (local,)

    def launch_1d(self, knl, n: int, *args) -> None:
        """One work-item per element (see range_1d)."""
        if n <= 0:
            return
        global_size, local_size = self.range_1d(n)
        knl(self.queue, global_size, local_size, *args)

    def upload(self, buffer, host: np.ndarray) -> None:
        """Queue a copy of `host` into `buffer` without waiting for it.

        A blocking write waits for every command queued before it (the queue is in
        order): in a training loop that is one full stop of the device per uploaded
        batch. Small arrays are copied on the host first, so the caller may change its
        array at once; pyopencl's event keeps that copy alive and waits for the transfer
        when dropped, so events are held here until the device has done them. Large
        arrays (above ASYNC_UPLOAD_BYTES) are written blocking: no second host copy.
        """
        cl = self.cl
        self.stats.writes += 1
        if host.nbytes > ASYNC_UPLOAD_BYTES:
            self.stats.blocking_writes += 1
            cl.enqueue_copy(self.queue, buffer, host)
            return
        pending = self._uploads
        with self.lock:
            while pending and pending[0].command_execution_status == \
                    cl.command_execution_status.COMPLETE:
                pending.popleft()
            if len(pending) >= _MAX_PENDING_UPLOADS:
                self.stats.waits += 1
                pending.popleft().wait()
            pending.append(cl.enqueue_copy(self.queue, buffer, host.copy(), is_blocking=False))

    def uploads_done(self) -> None:
        """Forget the pending uploads' events (after a wait for the whole queue). Under
        the lock: another thread's upload() walking the queue failed with 'pop from an
        empty deque' when it was cleared under it."""
        with self.lock:
            self._uploads.clear()

    def set_max_alloc(self, nbytes: int) -> None:
        """The device's largest single buffer (CL_DEVICE_MAX_MEM_ALLOC_SIZE); requests
        above half of it go through `alloc`'s checks (the pool rounds sizes up)."""
        self.max_alloc = nbytes
        self.pool_threshold = nbytes // 2

    def alloc(self, nbytes: int):
        """A pooled device buffer (returned to the pool when garbage-collected).

        A request above the device's largest buffer is an OpenCLError saying so. One just
        below it that the pool would round up past the limit is allocated directly (not
        pooled), instead of failing with CL_INVALID_BUFFER_SIZE.
        """
        nbytes = max(int(nbytes), 1)
        if nbytes > self.pool_threshold:
            if nbytes > self.max_alloc:
                raise OpenCLError(
                    f"cannot allocate {nbytes:,} bytes on {self.info.name}: its largest single "
                    f"buffer is {self.max_alloc:,} bytes (CL_DEVICE_MAX_MEM_ALLOC_SIZE); use "
                    "smaller tensors (e.g. smaller batches) or the cpu device")
            if self.pool.alloc_size(self.pool.bin_number(nbytes)) > self.max_alloc:
                with cl_errors(f"allocating {nbytes:,} bytes on {self.info.name}"):
                    return self.cl.Buffer(self.context, self.cl.mem_flags.READ_WRITE, nbytes)
        return self.pool.allocate(nbytes)
