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
`python -m vecgrad.bench`.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
import tracemalloc

import numpy as np

import vecgrad
import vecgrad.nn.functional as F

MLP_SIZES = (784, 1000, 1000, 10)
BATCH = 100
LR = 0.1
CONV = dict(batch=32, in_ch=3, out_ch=16, size=32, kernel=5)
TARGETS = {"mlp_numpy": 1.10, "mlp_torch": 1.15, "conv_torch": 2.0, "memory": 1.3}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `vecgrad bench`."""
    parser.add_argument("--device", default="cpu", help="vecgrad device (default: cpu)")
    parser.add_argument("--repeats", type=int, default=20,
                        help="timed repeats per workload (default: 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed warm-up runs (default: 3)")
    parser.add_argument("--no-torch", action="store_true",
                        help="skip the PyTorch references even when torch is installed")
    parser.add_argument("--seed", type=int, default=0, help="seed for the random data")


# ------------------------------------------------------------------ the MLP step
def mlp_data(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, MLP_SIZES[0])).astype(np.float32)
    y = rng.integers(0, MLP_SIZES[-1], size=BATCH).astype(np.int64)
    params = []
    for fan_in, fan_out in zip(MLP_SIZES[:-1], MLP_SIZES[1:]):
        bound = np.sqrt(6.0 / fan_in)
        params.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32))
        params.append(np.zeros(fan_out, dtype=np.float32))
    return x, y, params


def numpy_mlp_step(x, y, params):
    """The reference: forward, softmax cross-entropy, backward and SGD, by hand in numpy."""
    w1, b1, w2, b2, w3, b3 = params
    n = x.shape[0]
    z1 = x @ w1.T
    z1 += b1
    h1 = np.maximum(z1, 0)
    z2 = h1 @ w2.T
    z2 += b2
    h2 = np.maximum(z2, 0)
    z3 = h2 @ w3.T
    z3 += b3
    shifted = z3 - z3.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = float(np.mean(np.log(total[:, 0]) - shifted[rows, y]))
    g3 = e / total  # softmax - onehot, averaged over the batch
    g3[rows, y] -= 1
    g3 /= n
    grads = [None] * 6
    grads[4], grads[5] = g3.T @ h2, g3.sum(axis=0)
    g2 = g3 @ w3
    g2 *= z2 > 0
    grads[2], grads[3] = g2.T @ h1, g2.sum(axis=0)
    g1 = g2 @ w2
    g1 *= z1 > 0
    grads[0], grads[1] = g1.T @ x, g1.sum(axis=0)
    for p, g in zip(params, grads):
        g *= LR
        p -= g
    return loss


def vecgrad_mlp_step(x, y, params):
    """The same step written with vecgrad as a user would."""
    h = x
    for i in range(0, 4, 2):
        h = F.relu(F.linear(h, params[i], params[i + 1]))
    loss = F.cross_entropy(F.linear(h, params[4], params[5]), y)
    loss.backward()
    with vecgrad.no_grad():
        for p in params:
            p.sub_(p.grad, alpha=LR)
            p.grad = None
    return loss.item()


def torch_mlp_step(torch, x, y, params, optimizer):
    h = x
    for i in range(0, 4, 2):
        h = torch.relu(torch.nn.functional.linear(h, params[i], params[i + 1]))
    loss = torch.nn.functional.cross_entropy(torch.nn.functional.linear(h, params[4], params[5]), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


# ------------------------------------------------------------------- measurement
class Timings:
    """Seconds per call of each runner, one entry per interleaved round."""

    def __init__(self, times: dict):
        self.times = times

    def median(self, name: str) -> float:
        return statistics.median(self.times[name])

    def ratio(self, name: str, reference: str) -> float:
        """Median over rounds of ours/reference: rounds pair calls made moments apart,
        so load that comes and goes on a shared machine cancels out of each pair."""
        pairs = zip(self.times[name], self.times[reference])
        return statistics.median(ours / ref for ours, ref in pairs)

    def __contains__(self, name: str) -> bool:
        return name in self.times


def interleaved(runners: dict, repeats: int, warmup: int) -> Timings:
    """Time each runner once per round, runners interleaved round-robin.

    Each timed call follows an untimed call of the same runner: the thread pools of the
    previous library (OpenMP in torch, OpenBLAS in numpy) spin for a while after their
    work and would otherwise slow whichever runner comes next. The order rotates from
    round to round as well, so no runner always comes right after the same neighbour.
    """
    for _ in range(warmup):
        for run in runners.values():
            run()
    names = list(runners)
    times = {name: [] for name in names}
    for round_ in range(repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            run = runners[name]
            run()
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return Timings(times)


def peak_memory(run) -> int:
    """Peak bytes traced by tracemalloc (numpy buffers included) during run()."""
    run()  # warm caches outside the measurement
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        run()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


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
def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, "
            f"numpy {np.__version__}")


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
    device = vecgrad.get_backend(args.device).device
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
        from vecgrad import bench_opencl

        return bench_opencl.main(argparse.Namespace(
            device=device, sizes=",".join(map(str, bench_opencl.DEFAULT_SIZES)),
            repeats=args.repeats, seed=args.seed))
    return 0


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="python -m vecgrad.bench", description=__doc__)
    add_arguments(_parser)
    raise SystemExit(main(_parser.parse_args()))
