"""Which OpenCL device the lessons can use, or why none (they then continue on cpu)."""

from __future__ import annotations

from typing import Optional

from vecgrad.backends import get_backend


def opencl_device() -> tuple[Optional[str], Optional[str]]:
    """("opencl", None) when an OpenCL device opens here, else (None, the reason)."""
    try:
        get_backend("opencl")
    except Exception as exc:  # any failure (no driver, no platform, build error) = none
        return None, f"{type(exc).__name__}: {exc}"
    return "opencl", None
