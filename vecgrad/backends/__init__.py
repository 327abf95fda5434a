"""Backends: where a Tensor's buffer lives and who runs the primitives on it.

The table below is the whole registry: a device kind names the module that implements
it. Modules are imported only when a device of that kind is first asked for, so importing
vecgrad never touches OpenCL.

A backend module provides ``create_backend(device: str) -> Backend`` (``device`` is the
validated string, e.g. "cpu", "opencl" or "opencl:0:1") and may provide
``list_devices() -> list[str]`` naming the concrete devices it can open.

What lives here: the interface (base.py) and its vocabulary (primitives.py), the numpy
backend, and the OpenCL runtime (opencl_runtime: devices, context, program cache;
opencl_array: device buffers; opencl_backend, opencl_linalg, opencl_indexing: the
primitives as kernel launches). The floor of the house: it imports no other part of
vecgrad, and never implements a derivative.
"""

from __future__ import annotations

import importlib
import os
import re
import threading

from vecgrad.backends.base import Backend

#: device kind -> module implementing it (imported lazily)
BACKEND_MODULES = {
    "cpu": "vecgrad.backends.numpy_backend",
    "opencl": "vecgrad.backends.opencl_backend",
}

_OPENCL_EXPLICIT = re.compile(r"^opencl:(\d+):(\d+)$")


class DeviceError(ValueError):
    """A device string that does not name a usable device."""


def parse_device(device) -> str:
    """Validate a device string and return it normalised (stripped, lower case).

    Accepted: "cpu", "opencl" (the best OpenCL device), "opencl:P:D" (platform P,
    device D) and "auto" (resolve_device turns it into one of those). Anything else
    raises DeviceError naming the accepted forms.
    """
    if not isinstance(device, str):
        raise DeviceError(f"device must be a string such as 'cpu' or 'opencl', "
                          f"got {type(device).__name__} {device!r}")
    name = device.strip().lower()
    if name in ("cpu", "opencl", "auto") or _OPENCL_EXPLICIT.match(name):
        return name
    raise DeviceError(f"unknown device {device!r}; expected 'cpu', 'opencl', "
                      f"'opencl:<platform>:<device>' (e.g. 'opencl:0:0') or 'auto'")


#: the environment variable that selects the default device
DEVICE_VARIABLE = "VECGRAD_DEVICE"


def device_setting(flag: str | None = None, fallback: str = "cpu") -> tuple[str, str]:
    """The device text in force and where it came from: `flag` (a --device value) when
    given, else $VECGRAD_DEVICE when set and non-empty, else `fallback`.

    Returns (text, origin) with origin "--device", "VECGRAD_DEVICE" or "default"; this is
    the one rule every entry point follows (library default, train, evaluate, check,
    bench, tutorials).
    """
    if flag is not None:
        return flag, "--device"
    text = os.environ.get(DEVICE_VARIABLE, "").strip()
    if text:
        return text, DEVICE_VARIABLE
    return fallback, "default"


def describe_origin(text: str, origin: str) -> str:
    """`--device 'x'`, `VECGRAD_DEVICE='x'` or `device 'x'`: how messages name a setting."""
    if origin == DEVICE_VARIABLE:
        return f"{DEVICE_VARIABLE}={text!r} (environment variable)"
    if origin == "--device":
        return f"--device {text!r}"
    return f"device {text!r}"


def default_device() -> str:
    """The device new tensors go to: $VECGRAD_DEVICE (read at every call), else "cpu".

    "auto" picks the best available device. A bad value raises DeviceError naming the
    variable and the devices that exist.
    """
    text, origin = device_setting()
    if origin == "default":
        return "cpu"
    return resolve_device(text, origin, open_device=False)


def resolve_device(text: str | None = None, origin: str | None = None, *,
                   open_device: bool = True) -> str:
    """A concrete device string for "cpu", "opencl", "opencl:P:D" or "auto".

    `text` None follows the rule (VECGRAD_DEVICE, else cpu). "auto" is the first OpenCL
    GPU when there is one, else cpu. A device that cannot be used raises DeviceError in
    one line saying where the value came from (`origin`: "--device", "VECGRAD_DEVICE")
    and which devices exist. With open_device=False an OpenCL name is only parsed (the
    backend opens it on first use and reports its own errors).
    """
    if text is None:
        text, origin = device_setting()
    origin = origin or "argument"
    if isinstance(text, str) and text.strip().lower() == "auto":
        return _first_opencl_gpu() or "cpu"
    try:
        name = parse_device(text)
    except DeviceError:
        raise DeviceError(f"{describe_origin(text, origin)} is not a device name (use cpu, "
                          f"opencl, opencl:P:D or auto); devices here: {_listing()}") from None
    if name == "cpu" or not open_device:
        return name
    try:
        return get_backend(name).device
    except Exception as exc:  # any OpenCL failure: report it in the user's terms
        raise DeviceError(f"{describe_origin(text, origin)}: cannot open it ({_brief(exc)}); "
                          f"devices here: {_listing()}") from None


def _brief(exc: Exception) -> str:
    """An OpenCL failure in a few words: the first sentence, without the device list."""
    text = " ".join(str(exc).split())
    return text.split("; available:")[0].split(". ")[0].rstrip(".")


def _listing() -> str:
    """The device strings that work here, for error messages ("cpu" at least)."""
    return ", ".join(available_devices()) + " (`vecgrad devices` shows details)"


_AUTO_CACHE: dict[str, str | None] = {}


def _first_opencl_gpu() -> str | None:
    """The device string of the first OpenCL GPU, or None (no OpenCL, or CPUs only).

    Probed once per process: the platforms do not change while it runs.
    """
    if "gpu" in _AUTO_CACHE:
        return _AUTO_CACHE["gpu"]
    try:
        from vecgrad.backends.opencl_runtime import list_devices

        infos = list_devices()
    except Exception:  # no pyopencl, no platform, driver trouble: auto means cpu then
        infos = []
    gpus = [info for info in infos if "GPU" in info.type.split("/")]
    _AUTO_CACHE["gpu"] = gpus[0].device_string if gpus else None
    return _AUTO_CACHE["gpu"]


def _kind(device: str) -> str:
    return device.split(":", 1)[0]


def get_backend(device: str | None = None) -> Backend:
    """The Backend for `device` (default: default_device()), created once per device.

    "opencl" and the explicit "opencl:P:D" it resolves to share one instance, so tensors
    made through either string can meet in one op. "auto" is the one device rule's best
    available device (an OpenCL GPU, else cpu), as for --device and $VECGRAD_DEVICE, so
    vecgrad.zeros(3, device="auto") and x.to("auto") work too.
    """
    if device is None:
        name = default_device()
        try:
            backend = _cached_backend(name)
        except Exception as exc:  # the variable names a device that does not open
            text, origin = device_setting()
            raise DeviceError(f"{describe_origin(text, origin)}: cannot open it "
                              f"({_brief(exc)}); devices here: {_listing()}") from None
    else:
        name = parse_device(device)
        if name == "auto":
            name = resolve_device(name)
        backend = _cached_backend(name)
    return backend


class _BackendCache:
    """A per-device-string cache (like functools.cache, plus aliasing resolved names).

    One backend per device: a name that resolves to another ("opencl" to "opencl:0:0")
    takes the backend already open under the resolved name, if any, and is remembered
    as its alias. Creation holds a lock, so threads asking for a device at once share
    one backend. (Each "opencl" and "opencl:0:0" once opened its own, and tensors of the
    two could not meet: "tensors are on different devices (opencl:0:0 and opencl:0:0)".)
    """

    def __init__(self):
        self.cache_registry: dict[str, Backend] = {}
        self._lock = threading.RLock()

    def __call__(self, name: str) -> Backend:
        backend = self.cache_registry.get(name)
        if backend is None:
            with self._lock:
                backend = self.cache_registry.get(name)
                if backend is None:
                    backend = _create(name)
                    backend = self.cache_registry.setdefault(backend.device, backend)
                    self.cache_registry[name] = backend
        return backend


def _create(name: str) -> Backend:
    module = _load_module(_kind(name))
    return module.create_backend(name)


def _load_module(kind: str):
    module_name = BACKEND_MODULES[kind]
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise DeviceError(f"the {kind!r} backend cannot be loaded ({module_name}): {exc}") from exc


# The cache of opened devices: like PyTorch's per-device state, created on first use.
_cached_backend = _BackendCache()


def available_devices() -> list[str]:
    """Every device string that can be used here: "cpu" first, then OpenCL devices.

    OpenCL devices are listed only when the OpenCL backend loads and finds devices; a
    machine without OpenCL simply gets ["cpu"].
    """
    devices = ["cpu"]
    try:
        module = _load_module("opencl")
    except DeviceError:
        return devices
    lister = getattr(module, "list_devices", None)
    if lister is None:
        return devices
    try:
        devices.extend(lister())
    except Exception:  # no platform / driver problems: OpenCL is simply unavailable
        return devices
    return devices
