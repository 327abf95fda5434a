"""`vecgrad bench`: vecgrad's speed and memory beside references measured in the same run.

Workloads (issue 3):
- one SGD step of an MLP 784-1000-1000-10 (batch 100, ReLU, softmax cross-entropy),
  against a hand-written numpy step (below) and PyTorch CPU when it is installed;
- conv2d forward + backward (input and weight gradients), batch 32, 3->16 channels,
  32x32, 5x5 kernel, against PyTorch CPU when installed;
- peak traced memory (tracemalloc) of the MLP step against the numpy step.

Runners are interleaved round by round (vecgrad, reference, vecgrad, ...); times are
medians and each ratio is the median of the per-round ratios, so slow phases of a busy
machine hit both sides of a pair alike. Run as `vecgrad bench` or
`python -m vecgrad.bench`. The workloads are in workloads.py, the measuring in timing.py.
"""

from __future__ import annotations

import argparse
import datetime
import os

import numpy as np

import vecgrad
import vecgrad.nn.functional as F

from vecgrad.bench.timing import Timings, interleaved, machine_line, peak_memory
from vecgrad.bench.workloads import (CONV, LR, mlp_data, numpy_mlp_step, torch_mlp_step,
                                     vecgrad_mlp_step)
TARGETS = {"mlp_numpy": 1.10, "mlp_torch": 1.15, "conv_torch": 2.0, "memory": 1.3}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `vecgrad bench`."""
    parser.add_argument("--device", default=None, help="cpu, opencl, opencl:P:D or auto "
                        "(default: $VECGRAD_DEVICE, else cpu)")
    parser.add_argument("--repeats", type=int, default=20,
                        help="timed repeats per workload (default: 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed warm-up runs (default: 3)")
    parser.add_argument("--no-torch", action="store_true",
                        help="skip the PyTorch references even when torch is installed")
    parser.add_argument("--seed", type=int, default=0, help="seed for the random data")


def _torch_or_none(skip):
    if skip:
        return None
    try:
        import torch
    except ImportError:
        return None
    # Compare like with like: when numpy's BLAS is limited by the environment, so is torch.
    limit = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
    if limit and limit.isdigit() and int(limit) > 0:
        torch.set_num_threads(int(limit))
    return torch


def _sync(device):
    backend = vecgrad.get_backend(device)
    return backend.synchronize


def bench_mlp(device, repeats, warmup, seed, torch):
    x, y, params = mlp_data(seed)
    np_params = [p.copy() for p in params]
    vx = vecgrad.tensor(x, device=device)
    vy = vecgrad.tensor(y, device=device)
    v_params = [vecgrad.tensor(p, device=device, requires_grad=True) for p in params]
    sync = _sync(device)

    def run_vecgrad():
        vecgrad_mlp_step(vx, vy, v_params)
        sync()

    runners = {"vecgrad": run_vecgrad, "numpy": lambda: numpy_mlp_step(x, y, np_params)}
    if torch is not None:
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        t_params = [torch.tensor(p, requires_grad=True) for p in params]
        optimizer = torch.optim.SGD(t_params, lr=LR)
        runners["torch"] = lambda: torch_mlp_step(torch, tx, ty, t_params, optimizer)
    return interleaved(runners, repeats, warmup)


def bench_mlp_memory(seed):
    x, y, params = mlp_data(seed)
    np_params = [p.copy() for p in params]
    vx, vy = vecgrad.tensor(x), vecgrad.tensor(y)
    v_params = [vecgrad.tensor(p, requires_grad=True) for p in params]
    return {
        "vecgrad": peak_memory(lambda: vecgrad_mlp_step(vx, vy, v_params)),
        "numpy": peak_memory(lambda: numpy_mlp_step(x, y, np_params)),
    }


def bench_conv(device, repeats, warmup, seed, torch):
    rng = np.random.default_rng(seed)
    c = CONV
    x = rng.standard_normal((c["batch"], c["in_ch"], c["size"], c["size"])).astype(np.float32)
    w = rng.standard_normal((c["out_ch"], c["in_ch"], c["kernel"], c["kernel"])).astype(np.float32)
    b = np.zeros(c["out_ch"], dtype=np.float32)
    vx, vw, vb = (vecgrad.tensor(a, device=device, requires_grad=True) for a in (x, w, b))
    sync = _sync(device)
    out_size = c["size"] - c["kernel"] + 1
    g = rng.standard_normal((c["batch"], c["out_ch"], out_size, out_size)).astype(np.float32)
    vg = vecgrad.tensor(g, device=device)

    def run_vecgrad():
        for t in (vx, vw, vb):
            t.grad = None
        F.conv2d(vx, vw, vb).backward(vg)
        sync()

    runners = {"vecgrad": run_vecgrad}
    if torch is not None:
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        tg = torch.from_numpy(g)

        def run_torch():
            for t in (tx, tw, tb):
                t.grad = None
            torch.nn.functional.conv2d(tx, tw, tb).backward(tg)

        runners["torch"] = run_torch
    return interleaved(runners, repeats, warmup)


# ----------------------------------------------------------------------- report
def _row(table, workload, timings, reference, reference_label, target):
    ours = timings.median("vecgrad")
    if reference not in timings:
        table.add_row(workload, _fmt(ours), reference_label, "not installed", "-", "-")
        return
    _add(table, workload, ours, reference_label, timings.median(reference),
         timings.ratio("vecgrad", reference), target)


def _add(table, workload, ours, reference_label, reference, ratio, target, unit="ms"):
    if target is None:  # the targets are set for the cpu backend only
        target_text = "-"
    else:
        verdict = "[green]met[/]" if ratio <= target else "[red]missed[/]"
        target_text = f"{target:.2f}x {verdict}"
    table.add_row(workload, _fmt(ours, unit), reference_label, _fmt(reference, unit),
                  f"{ratio:.2f}x", target_text)


def _fmt(value, unit="ms"):
    if unit == "ms":
        return f"{value * 1e3:.2f} ms"
    return f"{value / 2**20:.1f} MiB"


def main(args: argparse.Namespace) -> int:
    """Run every workload and print one table; returns the exit status (0)."""
    from rich.console import Console
    from rich.table import Table

    if args.repeats < 1 or args.warmup < 0:
        raise SystemExit("bench: --repeats must be >= 1 and --warmup >= 0")
    console = Console()
    torch = _torch_or_none(args.no_torch)
    from vecgrad.backends import device_setting, resolve_device

    device = resolve_device(*device_setting(args.device))
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    console.print(f"vecgrad bench on {device} - {when}")
    console.print(f"machine: {machine_line()}")
    if torch is not None:
        console.print(f"torch {torch.__version__} with {torch.get_num_threads()} threads")

    mlp = bench_mlp(device, args.repeats, args.warmup, args.seed, torch)
    conv = bench_conv(device, args.repeats, args.warmup, args.seed, torch)
    memory = bench_mlp_memory(args.seed)

    console.print("MLP step: 784-1000-1000-10, batch 100, ReLU, softmax cross-entropy, SGD")
    console.print("conv2d: forward + backward, input 32x3x32x32, 16 filters 5x5")
    table = Table(title="vecgrad vs references (medians; ratio = median of paired rounds)")
    for column in ("workload", "vecgrad", "reference", "ref. value", "ratio", "target"):
        table.add_column(column)
    targets = TARGETS if device == "cpu" else dict.fromkeys(TARGETS)
    _row(table, "MLP step", mlp, "numpy", "numpy", targets["mlp_numpy"])
    _row(table, "MLP step", mlp, "torch", "PyTorch", targets["mlp_torch"])
    _row(table, "conv2d", conv, "torch", "PyTorch", targets["conv_torch"])
    _add(table, "MLP peak memory", memory["vecgrad"], "numpy", memory["numpy"],
         memory["vecgrad"] / memory["numpy"], TARGETS["memory"], unit="MiB")
    console.print(table)
    if device.startswith("opencl"):
        # OpenCL-only figures (matmul GFLOP/s vs CLBlast, launch overhead) live beside
        # the kernels' runtime; print them in the same run.
        from vecgrad.bench import opencl as bench_opencl

        return bench_opencl.main(argparse.Namespace(
            device=device, sizes=",".join(map(str, bench_opencl.DEFAULT_SIZES)),
            repeats=args.repeats, seed=args.seed))
    return 0
