"""`vecgrad devices`: every compute device vecgrad can use, as a table.

The numpy CPU device is always there; OpenCL devices are listed per platform with the
device string to pass as --device / VECGRAD_DEVICE.
"""

from __future__ import annotations

import argparse


def _gib(nbytes: int) -> str:
    return f"{nbytes / 2**30:.1f} GiB"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`vecgrad devices` takes no options; kept for the CLI's uniform interface."""
    parser.set_defaults(devices_plain=False)


def main(args: argparse.Namespace | None = None) -> int:
    """Print the device table; returns 0 (the cpu device always works)."""
    from rich.table import Table

    from vecgrad.backends.opencl_runtime import NO_PLATFORM_HELP, OpenCLError, list_devices
    from scalargrad.render import fitted_table

    from vecgrad.entry import pipe_console

    console = pipe_console()
    table = Table(title="vecgrad devices")
    for column in ("device", "platform", "name", "type", "compute units",
                   "global memory", "fp64"):
        table.add_column(column, justify="right" if column == "compute units" else "left")
    table.add_row("cpu", "numpy", "host CPU (numpy)", "CPU", "-", "host RAM", "yes")
    problem = None
    try:
        infos = list_devices()
    except OpenCLError as exc:  # pyopencl missing or broken
        infos, problem = [], str(exc)
    for info in infos:
        table.add_row(info.device_string, info.platform, info.name, info.type,
                      str(info.compute_units), _gib(info.global_mem_bytes),
                      "yes" if info.fp64 else "no")
    console.print(fitted_table(table, console))
    if problem is not None:
        console.print(f"OpenCL unavailable: {problem}", markup=False)
    elif not infos:
        console.print(f"OpenCL: {NO_PLATFORM_HELP}", markup=False)
    else:
        console.print("'opencl' picks the first GPU, else the first CPU device; "
                      "'opencl:P:D' picks one explicitly.", markup=False)
    return 0


if __name__ == "__main__":
    import sys

    from vecgrad.entry import run_command

    sys.exit(run_command("python -m vecgrad.cli.devices", sys.modules[__name__], sys.argv[1:],
                         __doc__))
