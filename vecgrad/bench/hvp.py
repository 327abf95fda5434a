"""The cost of a Hessian-vector product beside one gradient, on the bench's MLP workload.

    python -m vecgrad.bench.hvp [--device cpu|opencl] [--repeats N]

Both are timed in this one process, interleaved (timing.interleaved), on the same
784-1000-1000-10 MLP, batch 100, softmax cross-entropy (workloads.mlp_data):

- gradient: forward + loss.backward() (the first-order walk on raw buffers);
- HVP: forward + the gradient recorded (create_graph=True) + <gradient, v> differentiated
  once more (vecgrad.func.hvp: reverse over reverse, H never formed);
- a further HVP at the same point, the recorded gradient reused (a CG iteration).

Counted in matrix products: a gradient is 8 (3 forward, 5 backward), an HVP 22 (the 8,
then 9 through the recorded backward's products and 5 through the forward's), about
2.7x the gradient's floating-point work; the rest of the measured ratio is overhead.

Theory says an HVP costs a small constant times a gradient (Pearlmutter 1994); the target
here is at most 4x, printed "met" or "missed" against the gradient measured in this run.
"""

from __future__ import annotations

import argparse

import numpy as np

import vecgrad
import vecgrad.nn.functional as F
from vecgrad import func
from vecgrad.autograd import grad
from vecgrad.bench.timing import interleaved, machine_line
from vecgrad.bench.workloads import mlp_data

TARGET = 4.0


def _loss(x, y, params):
    h = x
    for i in range(0, len(params) - 2, 2):
        h = F.relu(F.linear(h, params[i], params[i + 1]))
    return F.cross_entropy(F.linear(h, params[-2], params[-1]), y)


def hvp_cost(device: str = "cpu", repeats: int = 10, warmup: int = 2, seed: int = 0) -> dict:
    """Median seconds of one gradient and one HVP on the MLP workload, and their ratio
    (median of per-round ratios), with the 4x target: a dict."""
    x, y, params = mlp_data(seed)
    vx, vy = vecgrad.tensor(x, device=device), vecgrad.tensor(y, device=device)
    vp = [vecgrad.tensor(p, device=device, requires_grad=True) for p in params]
    rng = np.random.default_rng(seed + 1)
    vs = tuple(vecgrad.tensor(rng.standard_normal(p.shape).astype(np.float32), device=device)
               for p in params)
    backend = vecgrad.get_backend(device)

    def gradient():
        for p in vp:
            p.grad = None
        _loss(vx, vy, vp).backward()
        backend.synchronize()

    def hessian_vector():
        func.hvp(lambda *ps: _loss(vx, vy, ps), tuple(vp), vs)
        backend.synchronize()

    # A further HVP at the same point reuses the recorded gradient (what each CG iteration
    # of optim.Newton pays): only <gradient, v> is differentiated again.
    recorded = grad(_loss(vx, vy, vp), vp, create_graph=True)
    dot = sum((g * v).sum() for g, v in zip(recorded, vs))

    def further_hvp():
        grad(dot, vp, retain_graph=True)
        backend.synchronize()

    timings = interleaved({"gradient": gradient, "hvp": hessian_vector,
                           "further": further_hvp}, repeats, warmup)
    ratio = timings.ratio("hvp", "gradient")
    return {"device": device, "gradient_s": timings.median("gradient"),
            "hvp_s": timings.median("hvp"), "ratio": ratio, "target": TARGET,
            "met": ratio <= TARGET, "further_hvp_s": timings.median("further"),
            "further_ratio": timings.ratio("further", "gradient")}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `python -m vecgrad.bench.hvp`."""
    parser.add_argument("--device", default=None, help="cpu, opencl, opencl:P:D or auto "
                        "(default: $VECGRAD_DEVICE, else cpu)")
    parser.add_argument("--repeats", type=int, default=10, help="timed rounds (default: 10)")
    parser.add_argument("--warmup", type=int, default=2,
                        help="untimed calls of each before the rounds (default: 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the data and weights")


def _run(args: argparse.Namespace) -> int:
    from vecgrad.backends import device_setting, resolve_device

    if args.repeats < 1 or args.warmup < 0 or args.seed < 0:
        raise ValueError(f"--repeats must be >= 1, --warmup >= 0 and --seed >= 0, got "
                         f"{args.repeats}, {args.warmup} and {args.seed}")
    device = resolve_device(*device_setting(args.device))
    result = hvp_cost(device, args.repeats, args.warmup, args.seed)
    print(machine_line())
    print(f"MLP 784-1000-1000-10, batch 100, {result['device']}: gradient "
          f"{result['gradient_s'] * 1e3:.1f} ms, Hessian-vector product "
          f"{result['hvp_s'] * 1e3:.1f} ms -> {result['ratio']:.2f}x one gradient "
          f"(target <= {TARGET:g}x): {'met' if result['met'] else 'missed'}")
    print(f"  a further HVP at the same point (recorded gradient reused, as in each CG "
          f"iteration of optim.Newton): {result['further_hvp_s'] * 1e3:.1f} ms -> "
          f"{result['further_ratio']:.2f}x one gradient")
    return 0


def main(argv=None) -> int:
    """`python -m vecgrad.bench.hvp`: returns the exit status (bad values and devices are
    one line on stderr and status 2, as for every vecgrad command)."""
    import sys
    import types

    from vecgrad.entry import run_command

    command = types.SimpleNamespace(add_arguments=add_arguments, main=_run)
    return run_command("python -m vecgrad.bench.hvp", command,
                       sys.argv[1:] if argv is None else list(argv),
                       "HVP cost relative to one gradient (MLP)")


if __name__ == "__main__":
    raise SystemExit(main())
