"""`vecgrad check [--device D]`: a quick self-test of the engine on one device.

For each op family, backward on the device is compared with central differences of the
forward on the same device (float64 where the device has it, else float32 with looser
tolerances), through a random projection so every Jacobian entry counts. Prints a table;
exits 1 when any family fails.
"""

from __future__ import annotations

import argparse

import numpy as np
from scalargrad.functions import ACTIVATIONS
from rich.text import Text
from scalargrad.render import fitted_table

import vecgrad
import vecgrad.nn.functional as F
from vecgrad.backends import device_setting, resolve_device
from vecgrad.cli.common import add_device_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `vecgrad check`."""
    add_device_argument(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed for the test inputs")


def _activations(x):
    out = None
    for name in ACTIVATIONS:
        term = F.activation(x, name).sum()
        out = term if out is None else out + term
    return out


def _families():
    """(family, function of tensors, input shapes, positive inputs?)."""
    labels = np.array([2, 0, 1])
    return [
        ("elementwise", lambda a, b: (a * b + a / (b * b + 1.0) - b ** 2).exp(),
         [(2, 3), (3,)], False),
        ("pow / log / sqrt", lambda a, b: (a ** b).log() + a.sqrt(), [(2, 3), (1, 3)], True),
        ("reduce", lambda a: a.sum(axis=0) * a.mean(axis=1, keepdims=True) + a.max(axis=1,
         keepdims=True) + a.var(axis=0), [(3, 4)], False),
        ("movement", lambda a: vecgrad.cat([a.T.reshape(2, 6), a[[0, 2], 1:].reshape(2, 3)],
                                           axis=1).unsqueeze(0).permute(2, 0, 1),
         [(3, 4)], False),
        ("matmul", lambda a, b: a @ b, [(2, 3, 4), (4, 2)], False),
        ("linear", F.linear, [(5, 3), (2, 3), (2,)], False),
        ("conv2d", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, dilation=1),
         [(2, 2, 5, 5), (3, 2, 3, 3), (3,)], False),
        ("pools", lambda x: F.max_pool2d(x, 2) + F.avg_pool2d(x, 2), [(1, 2, 4, 4)], False),
        ("conv1d / transposed / resize", lambda x, w: F.interpolate(F.conv_transpose1d(
            F.max_pool1d(F.conv1d(x, w, padding="same"), 2, ceil_mode=True), w, stride=2),
            scale_factor=1.5, mode="linear"), [(1, 2, 7), (2, 2, 3)], False),
        ("norms / embedding", lambda x, w, e: F.batch_norm(x, None, None, w, training=True)
         * F.layer_norm(x, 3) + F.embedding([[2, 2]], e), [(4, 2, 3), (2,), (3, 3)], False),
        ("activations", _activations, [(7,)], False),
        ("softmax", lambda a: a.softmax(axis=1) * a.log_softmax(axis=0), [(3, 4)], False),
        ("losses", lambda a, b: F.cross_entropy(a, vecgrad.tensor(labels, device=a.device))
         + F.binary_cross_entropy_with_logits(a, b.sigmoid()) + F.mse_loss(a, b),
         [(3, 3), (3, 3)], False),
        ("log1p / expm1 / erf", lambda a: a.log1p() * a.expm1() + a.erf(), [(2, 3)], True),
        # positive inputs keep a / (b + 2) in (0.14, 0.6) and -a / 2 in (-1, 0): no jumps
        ("remainder / floor_divide", lambda a, b: (a % (b + 2.0)) * b + ((-a) // 2.0) * a,
         [(2, 3), (3,)], True),
        ("scans / einsum / sort", lambda a, b: vecgrad.einsum(
            "ij,jk->ik", a.cumsum(1), b).logsumexp(1) + a.prod(1) + a.norm(dim=1)
         + a.sort(1).values[:, 0] + F.gelu(a).amax(1), [(3, 4), (4, 2)], False),
    ]


def _inputs(rng, shapes, positive):
    arrays = []
    for shape in shapes:
        a = rng.uniform(0.5, 1.5, shape) if positive else rng.uniform(-1.5, 1.5, shape)
        # keep away from kinks (relu at 0, ties in max) where finite differences straddle
        a = np.where(np.abs(a) < 0.1, 0.37, a) + rng.uniform(0, 1e-3, shape)
        arrays.append(a)
    return arrays


def check_family(fn, arrays, device, dtype):
    """Largest |analytic - numeric| / (1 + |numeric|) over all input gradients."""
    eps = 1e-6 if dtype == np.float64 else 1e-2
    leaves = [vecgrad.tensor(a, dtype=dtype, device=device, requires_grad=True) for a in arrays]
    out = fn(*leaves)
    projection = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(vecgrad.tensor(projection, dtype=dtype, device=device))

    def scalar(values):
        with vecgrad.no_grad():
            ts = [vecgrad.tensor(v, dtype=dtype, device=device) for v in values]
            return float(np.sum(fn(*ts).numpy().astype(np.float64) * projection))

    worst = 0.0
    for k, (leaf, array) in enumerate(zip(leaves, arrays)):
        analytic = leaf.grad.numpy().astype(np.float64).reshape(-1)
        for i in range(array.size):
            values = [a.copy() for a in arrays]
            values[k].reshape(-1)[i] += eps
            up = scalar(values)
            values[k].reshape(-1)[i] -= 2 * eps
            numeric = (up - scalar(values)) / (2 * eps)
            worst = max(worst, abs(analytic[i] - numeric) / (1 + abs(numeric)))
    return worst


def main(args: argparse.Namespace) -> int:
    """Run the checks and print the table; 0 when all pass, 1 otherwise."""
    from rich.table import Table

    from vecgrad.entry import pipe_console

    if args.seed < 0:  # numpy's message would not name the flag
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    backend = vecgrad.get_backend(resolve_device(*device_setting(args.device)))
    dtype = np.float64 if backend.supports_float64 else np.float32
    tolerance = 1e-6 if dtype == np.float64 else 2e-2
    rng = np.random.default_rng(args.seed)
    table = Table(title=f"vecgrad check on {backend.device} ({np.dtype(dtype).name}, "
                        f"tolerance {tolerance:g})")
    for column in ("op family", "inputs", "max error", "result"):
        table.add_column(column)
    failures = 0
    for family, fn, shapes, positive in _families():
        try:
            error = check_family(fn, _inputs(rng, shapes, positive), backend.device, dtype)
            ok = bool(np.isfinite(error)) and error <= tolerance
            shown = f"{error:.2e}"
        except Exception as exc:  # a crash in one family is reported, not fatal
            # the message as written: '[/x]' in it raised MarkupError, '[red]' vanished
            ok, shown = False, Text(f"{type(exc).__name__}: {exc}")
        failures += not ok
        table.add_row(family, ", ".join(str(s) for s in shapes), shown,
                      "[green]pass[/]" if ok else "[red]FAIL[/]")
    console = pipe_console()
    console.print(fitted_table(table, console))
    console.print("all op families agree with finite differences" if not failures
                  else f"[red]{failures} op famil{'y' if failures == 1 else 'ies'} failed[/]")
    return 1 if failures else 0


if __name__ == "__main__":
    import sys

    from vecgrad.entry import run_command

    sys.exit(run_command("python -m vecgrad.cli.check", sys.modules[__name__], sys.argv[1:],
                         __doc__))
