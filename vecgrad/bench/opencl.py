"""OpenCL figures for `vecgrad bench --device opencl`, all measured in one run:

- matmul GFLOP/s at 256, 512, 1024, 2048 (float32, square) for vecgrad's matmul.cl,
  numpy's BLAS on the host, and CLBlast on the same OpenCL device when the optional
  `pyclblast` package is installed;
- one SGD step of the MLP 784-1000-1000-10 (batch 100) on OpenCL, beside the numpy
  backend (the step is vecgrad.bench's, written as a user would);
- kernel launch overhead on tiny buffers: pyopencl's bare enqueue of a prebuilt kernel
  (the floor), a unary and a binary op through the backend queued back to back (one
  wait at the end), and the unary op waited for after every launch.

Every measurement takes turns with its reference (interleaved repeats, medians), so a
busy shared machine slows both sides alike; compare ratios, not absolute figures.
Run `python -m vecgrad.bench.opencl [--device opencl:0:0]`.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time

import numpy as np

DEFAULT_SIZES = (256, 512, 1024, 2048)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the OpenCL benchmark."""
    parser.add_argument("--device", default=None, help="OpenCL device: opencl, opencl:P:D "
                        "or auto (default: $VECGRAD_DEVICE, else opencl)")
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                        help="square matmul sizes, comma separated (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed repeats per measurement; the median is shown (default: 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the random data")


def _interleaved_medians(runners: dict, repeats: int, budget_s: float = 30.0) -> dict:
    """Median seconds per call of each runner, taking turns (ours, reference, ours...).

    Taking turns means a busy phase of a shared machine slows every runner alike, so
    the ratios stay meaningful. One untimed warm-up call each; fewer repeats when a
    round is slow, to bound the run time.
    """
    start = time.perf_counter()
    for run in runners.values():
        run()
    round_s = time.perf_counter() - start
    repeats = max(1, min(repeats, int(budget_s / max(round_s, 1e-9))))
    times = {name: [] for name in runners}
    for _ in range(repeats):
        for name, run in runners.items():
            begin = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - begin)
    return {name: statistics.median(values) for name, values in times.items()}


def _clblast_runner(backend, a, b, n):
    """A CLBlast sgemm on the backend's own queue, or None without pyclblast."""
    try:
        import pyclblast
        import pyopencl.array as cl_array
    except ImportError:
        return None
    queue = backend.runtime.queue
    da = cl_array.to_device(queue, a)
    db = cl_array.to_device(queue, b)
    dc = cl_array.zeros(queue, (n, n), np.float32)

    def run():
        pyclblast.gemm(queue, n, n, n, da, db, dc, a_ld=n, b_ld=n, c_ld=n)
        queue.finish()

    return run


def bench_matmul(backend, sizes, repeats: int, seed: int) -> list[dict]:
    """GFLOP/s of ours, numpy and CLBlast per size (None where not measured)."""
    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        a = rng.standard_normal((n, n)).astype(np.float32)
        b = rng.standard_normal((n, n)).astype(np.float32)
        da, db = backend.from_numpy(a), backend.from_numpy(b)
        flops = 2.0 * n**3

        def ours():
            backend.matmul(da, db)
            backend.synchronize()

        got = backend.to_numpy(backend.matmul(da, db))
        error = float(np.max(np.abs(got - a @ b)) / max(1.0, float(np.max(np.abs(a @ b)))))
        runners = {"ours": ours, "numpy": lambda: a @ b}
        clblast = _clblast_runner(backend, a, b, n)
        if clblast is not None:
            runners["clblast"] = clblast
        seconds = _interleaved_medians(runners, repeats)
        row = {name: flops / s / 1e9 for name, s in seconds.items()}
        row.update({"n": n, "max_rel_error": error})
        row.setdefault("clblast", None)
        rows.append(row)
    return rows


def bench_mlp_step(device: str, repeats: int, seed: int) -> dict:
    """Seconds per MLP 784-1000-1000-10 SGD step on `device` and on the numpy backend."""
    import vecgrad
    from vecgrad.bench.workloads import mlp_data, vecgrad_mlp_step

    x, y, params = mlp_data(seed)
    runners = {}
    for name, dev in (("opencl", device), ("numpy", "cpu")):
        vx = vecgrad.tensor(x, device=dev)
        vy = vecgrad.tensor(y, device=dev)
        v_params = [vecgrad.tensor(p, device=dev, requires_grad=True) for p in params]
        runners[name] = functools.partial(vecgrad_mlp_step, vx, vy, v_params)
    result = _interleaved_medians(runners, repeats)
    return result


def bench_launch_overhead(backend, launches: int = 2000, rounds: int = 7) -> dict:
    """Microseconds per launch on 16-element float32 buffers, queued back to back with
    one wait per batch; the runners take turns (medians of `rounds`):

    - enqueue_us: pyopencl's bare enqueue of the prebuilt unary_neg kernel, arguments
      set once: the floor of OpenCL itself, with no Python argument handling;
    - unary_us, binary_us: backend.unary("neg", x) and backend.binary("add", x, y),
      which add what every op pays in Python (checks, output allocation from the pool,
      layout and kernel lookups, arguments);
    - finish_each_us: unary with queue.finish() after each launch (a host round trip).
    """
    rt = backend.runtime
    cl, queue = rt.cl, rt.queue
    x = backend.from_numpy(np.ones(16, np.float32))
    y = backend.from_numpy(np.full(16, 2.0, np.float32))
    out = backend.unary("neg", x)  # builds the program
    # unary_neg(HEAD, out, STRIDED_ARGS(out), x, STRIDED_ARGS(x)) of kernels/elementwise.cl,
    # in its contiguous variant: HEAD = n, ndim, int8 shape; STRIDED_ARGS = int8 strides,
    # offset
    # (.kernel: the pyopencl object itself, without the runtime's launch counting)
    knl = rt.kernel("elementwise", "unary_neg", np.float32, {"STRIDED_NDIM": 1}).kernel
    shape8 = np.array([16] + [1] * 7, np.int32)
    strides8 = np.array([1] + [0] * 7, np.int32)
    knl.set_args(16, 1, shape8, out.data, strides8, 0, x.data, strides8, 0)
    global_size, local_size = rt.range_1d(16)

    def queued(launch):
        def run():
            for _ in range(launches):
                launch()
            queue.finish()
        return run

    def finish_each():
        for _ in range(launches // 4):
            backend.unary("neg", x)
            queue.finish()

    runners = {
        "enqueue": queued(lambda: cl.enqueue_nd_range_kernel(queue, knl, global_size,
                                                             local_size)),
        "unary": queued(lambda: backend.unary("neg", x)),
        "binary": queued(lambda: backend.binary("add", x, y)),
        "finish_each": finish_each,
    }
    seconds = _interleaved_medians(runners, rounds)
    result = {f"{name}_us": s / launches * 1e6 for name, s in seconds.items()}
    result["finish_each_us"] *= 4
    return result


# Three float32 matrices of 16384² are 3 GiB on the host and again on the device.
MAX_SIZE = 16384


def parse_sizes(text: str) -> list[int]:
    """`--sizes 256,512` -> [256, 512]; ValueError naming the flag for anything else."""
    words = [w.strip() for w in str(text).split(",") if w.strip()]
    try:
        sizes = [int(w) for w in words]
    except ValueError:
        sizes = []
    if not words or len(sizes) != len(words) or not all(1 <= n <= MAX_SIZE for n in sizes):
        raise ValueError(f"--sizes {text!r}: give matrix sizes in 1..{MAX_SIZE}, comma "
                         "separated, e.g. 256,512,1024")
    return sizes


def _fmt(value, digits=1):
    return "-" if value is None else f"{value:.{digits}f}"


def main(args: argparse.Namespace) -> int:
    """Measure and print every OpenCL figure; returns 0."""
    import datetime

    from rich.table import Table

    from vecgrad.backends import (DeviceError, describe_origin, device_setting, get_backend,
                                  resolve_device)
    from vecgrad.bench.timing import machine_line
    from vecgrad.entry import pipe_console

    sizes = parse_sizes(args.sizes)
    if args.repeats < 1 or args.seed < 0:
        raise ValueError(f"--repeats must be >= 1 and --seed >= 0, got {args.repeats} and "
                         f"{args.seed}")
    text, origin = device_setting(args.device, fallback="opencl")
    device = resolve_device(text, origin)
    if device == "cpu":
        raise DeviceError(f"{describe_origin(text, origin)} is the cpu: this bench measures "
                          "an OpenCL device; pass --device opencl or opencl:P:D "
                          "(`vecgrad devices`)")
    console = pipe_console()
    backend = get_backend(device)
    info = backend.runtime.info
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    console.print(f"OpenCL bench on {backend.device} = {info.name} ({info.platform}, "
                  f"{info.compute_units} compute units) - {when}", markup=False)
    console.print(f"machine: {machine_line()}", markup=False)
    console.print(f"matmul tiles: {backend.matmul_tiles(np.float32)}", markup=False)

    table = Table(title="matmul float32, square (GFLOP/s, median)")
    for column in ("n", "vecgrad matmul.cl", "CLBlast (same device)", "ours / CLBlast",
                   "numpy BLAS (host)", "max rel. error"):
        table.add_column(column, justify="right")
    for row in bench_matmul(backend, sizes, args.repeats, args.seed):
        ratio = None if row["clblast"] is None else row["ours"] / row["clblast"]
        table.add_row(str(row["n"]), _fmt(row["ours"]), _fmt(row["clblast"]),
                      _fmt(ratio, 2), _fmt(row["numpy"]), f"{row['max_rel_error']:.1e}")
    console.print(table)
    try:
        import pyclblast  # noqa: F401
    except ImportError:
        console.print("CLBlast column empty: `pip install pyclblast` (needs the CLBlast "
                      "library) to measure it.", markup=False)

    mlp = bench_mlp_step(backend.device, args.repeats, args.seed)
    launch = bench_launch_overhead(backend)
    other = Table(title="training step and launch overhead (median)")
    for column in ("measurement", "OpenCL", "reference", "ratio"):
        other.add_column(column, justify="right")
    other.add_row("MLP 784-1000-1000-10 SGD step, batch 100 (ms)", _fmt(mlp["opencl"] * 1e3),
                  f"numpy backend {_fmt(mlp['numpy'] * 1e3)}",
                  _fmt(mlp["opencl"] / mlp["numpy"], 2))
    floor = launch["enqueue_us"]
    other.add_row("tiny kernel, bare pyopencl enqueue, args set once (us/launch)",
                  _fmt(floor), "-", "-")
    for name, what in (("unary", "unary neg"), ("binary", "binary add")):
        other.add_row(f"tiny {what} through the backend, queued (us/launch)",
                      _fmt(launch[f"{name}_us"]), f"bare enqueue {_fmt(floor)}",
                      _fmt(launch[f"{name}_us"] / floor, 2))
    other.add_row("tiny unary neg + queue.finish each (us/launch)",
                  _fmt(launch["finish_each_us"]), "-", "-")
    console.print(other)
    return 0


if __name__ == "__main__":
    import sys

    from vecgrad.entry import run_command

    sys.exit(run_command("python -m vecgrad.bench.opencl", sys.modules[__name__],
                         sys.argv[1:], __doc__))
