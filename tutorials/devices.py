"""Which device the lessons run on, and which OpenCL device they can compare against.

The lessons follow vecgrad's one device rule ($VECGRAD_DEVICE, else cpu; "auto" = the
best available). Where the library would raise, a lesson falls back to cpu and says so
in a sentence: a tutorial should teach, not stop at a bad environment variable.
"""

from __future__ import annotations

import os
from typing import Optional

from vecgrad.backends import (DEVICE_VARIABLE, DeviceError, device_setting, get_backend,
                              resolve_device)


def lesson_device() -> tuple[str, str]:
    """(device, note): the device $VECGRAD_DEVICE selects, or ("cpu", why) when it does
    not name a device that opens here; note is "" when there is nothing to say."""
    text, origin = device_setting()
    if origin == "default":
        return "cpu", ""
    try:
        return resolve_device(text, origin), ""
    except DeviceError as exc:
        return "cpu", f"{exc}. The lessons run on cpu instead."


def apply_lesson_device() -> str:
    """Make the lessons' default device usable; returns the note to show (or "").

    On a fallback the variable is set to "cpu" for this process only, so every tensor
    a lesson makes without naming a device lands on the cpu instead of raising.
    """
    device, note = lesson_device()
    if note:
        os.environ[DEVICE_VARIABLE] = device
    return note


def opencl_device() -> tuple[Optional[str], Optional[str]]:
    """(device, None) for the OpenCL device the lessons compare against: the one
    $VECGRAD_DEVICE selects when it is an OpenCL device, else "opencl" (the best one);
    (None, the reason in one line) when none opens here."""
    chosen, _ = lesson_device()
    wanted = chosen if chosen.startswith("opencl") else "opencl"
    try:
        return get_backend(wanted).device, None
    except Exception as exc:  # any failure (no driver, no platform, build error) = none
        return None, " ".join(str(exc).split()).split(". ")[0]
