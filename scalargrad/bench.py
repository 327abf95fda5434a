"""`scalargrad bench`: one MLP training epoch, scalargrad vs micrograd, in the same run.

The work (the issue's definition): an MLP(2, [16, 16, 1]) with ReLU hidden layers and a
linear output, over 100 2-D points: forward of the summed squared loss, zero_grad,
backward, one SGD update. micrograd (0.1.0, `pip install micrograd`, not a dependency)
runs the same epochs from the same weights when it is installed; the two losses are
compared, so both engines provably did the same arithmetic.

Each engine is timed with the cyclic garbage collector enabled and disabled, each in its
own phase (the heap is collected between phases, so one engine's garbage is not charged
to the other); rounds of phases repeat and the median epoch is reported. With gc
disabled micrograd's graphs (reference cycles) are never freed, so its epoch does not
include freeing them; scalargrad's epoch does (reference counting frees each graph).
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from scalargrad.graph import topological_order
from scalargrad.nn import MLP
from scalargrad.value import Value

LEARNING_RATE = 0.001
LAYERS = [16, 16, 1]


# An epoch's graph holds about 0.1 MB of Values per point, all alive until backward:
# 10,000 points is about 1 GB (a mistyped 10**9 filled the memory before failing).
MAX_POINTS = 10_000
MAX_EPOCHS = 1_000
MAX_ROUNDS = 100


def too_many_points(points: int) -> str:
    return (f"--points must be at most {MAX_POINTS:,}, got {points:,}: an epoch's graph "
            f"keeps about 0.1 MB per point in memory until backward")


def make_points(n: int, seed: int = 0) -> tuple[list, list]:
    """n points uniform in [-1, 1]^2 with target x * y (a saddle): pure Python, seeded."""
    rng = random.Random(seed)
    points = [[rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)] for _ in range(n)]
    return points, [x * y for x, y in points]


def scalargrad_epoch(model: MLP, points: list, targets: list) -> tuple[float, Value]:
    """One epoch; returns (loss before the update, the loss Value) for inspection."""
    loss = Value(0.0)
    for point, target in zip(points, targets):
        loss = loss + (model(point)[0] - target) ** 2
    model.zero_grad()
    loss.backward()
    for p in model.parameters():
        p.data -= LEARNING_RATE * p.grad
    return loss.data, loss


def micrograd_epoch(model, points: list, targets: list) -> float:
    """The same epoch with micrograd (its Layer returns a bare Value for one neuron)."""
    from micrograd.engine import Value as MicroValue

    loss = MicroValue(0.0)
    for point, target in zip(points, targets):
        loss = loss + (model(point) - target) ** 2
    model.zero_grad()
    loss.backward()
    for p in model.parameters():
        p.data -= LEARNING_RATE * p.grad
    return loss.data


def micrograd_copy(model: MLP):
    """A micrograd MLP with exactly the weights of `model`, or None if not installed."""
    try:
        from micrograd.nn import MLP as MicroMLP
    except ImportError:
        return None
    twin = MicroMLP(2, list(LAYERS))
    for ours, theirs in zip(model.parameters(), twin.parameters()):
        theirs.data = ours.data
    return twin


@dataclass
class Timing:
    """Median seconds per epoch of one engine with the collector enabled or not."""

    engine: str
    gc_enabled: bool
    epoch_s: float
    per_node_s: float
    samples: list = field(default_factory=list)


@dataclass
class BenchResult:
    points: int
    epochs: int
    nodes: int
    timings: list
    loss_gap: Optional[float]  # max relative loss difference between engines (None: no micrograd)

    def ratio(self, gc_enabled: bool) -> Optional[float]:
        """micrograd epoch time / scalargrad epoch time, or None without micrograd."""
        ours = [t for t in self.timings if t.engine == "scalargrad" and t.gc_enabled == gc_enabled]
        theirs = [t for t in self.timings if t.engine == "micrograd" and t.gc_enabled == gc_enabled]
        if not ours or not theirs:
            return None
        return theirs[0].epoch_s / ours[0].epoch_s


def _phase(run: Callable[[], float], epochs: int, gc_enabled: bool) -> tuple[list, list]:
    """One warm-up epoch, then `epochs` timed ones, with the collector on or off.

    The heap is collected first so that garbage left by the previous phase (e.g. the
    other engine's) is not charged to this one.
    """
    gc.collect()
    gc.enable() if gc_enabled else gc.disable()
    losses = [run()]
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        losses.append(run())  # the graph is dropped (and, for scalargrad, freed) inside
        seconds.append(time.perf_counter() - start)
    return seconds, losses


def run_bench(points: int = 100, epochs: int = 2, seed: int = 0, compare: bool = True,
              rounds: int = 3) -> BenchResult:
    """Time each engine and gc setting: `rounds` rounds of `epochs` timed epochs.

    A round runs every (gc setting, engine) phase once; repeating rounds spreads the
    engines over the same stretch of time, so background load hits both alike. The
    reported figure is the median over all rounds.
    """
    if points < 1 or epochs < 1 or rounds < 1:
        raise ValueError(f"bench needs points, epochs and rounds >= 1, got {points}, "
                         f"{epochs} and {rounds}")
    if points > MAX_POINTS:
        raise ValueError(too_many_points(points))
    xs, ys = make_points(points, seed)
    model = MLP(2, LAYERS, activation="relu", seed=seed)
    twin = micrograd_copy(model) if compare else None
    nodes = len(topological_order(scalargrad_epoch(model, xs, ys)[1]))
    if twin is not None:
        micrograd_epoch(twin, xs, ys)  # the same first update as ours just above

    runs = {"scalargrad": lambda: scalargrad_epoch(model, xs, ys)[0]}
    if twin is not None:
        runs["micrograd"] = lambda: micrograd_epoch(twin, xs, ys)
    samples = {(name, on): [] for on in (True, False) for name in runs}
    gap = 0.0
    was_enabled = gc.isenabled()
    try:
        for _ in range(rounds):
            for gc_enabled in (True, False):
                losses = {}
                for name, run in runs.items():
                    seconds, losses[name] = _phase(run, epochs, gc_enabled)
                    samples[(name, gc_enabled)].extend(seconds)
                if twin is not None:  # both ran the same epochs from the same weights
                    gap = max([gap] + [abs(a - b) / max(1.0, abs(b)) for a, b in
                                       zip(losses["scalargrad"], losses["micrograd"])])
    finally:
        gc.enable() if was_enabled else gc.disable()
        gc.collect()
    timings = []
    for (name, gc_enabled), secs in samples.items():
        median = statistics.median(secs)
        timings.append(Timing(name, gc_enabled, median, median / nodes, secs))
    return BenchResult(points, epochs * rounds, nodes, timings,
                       gap if twin is not None else None)


def report(result: BenchResult, console) -> None:
    """Print the figures and the ratios with rich."""
    from rich.table import Table

    from scalargrad.render import fitted_table

    table = Table(title=f"one epoch of MLP(2, {LAYERS}) over {result.points} points "
                        f"(median of {result.epochs}); graph: {result.nodes} nodes")
    for header in ("engine", "gc", "ms / epoch", "µs / node"):
        table.add_column(header, justify="left" if header in ("engine", "gc") else "right")
    for t in result.timings:
        table.add_row(t.engine, "enabled" if t.gc_enabled else "disabled",
                      f"{t.epoch_s * 1e3:.1f}", f"{t.per_node_s * 1e6:.2f}")
    console.print(fitted_table(table, console))
    if result.loss_gap is None:
        console.print("micrograd is not installed (pip install micrograd): no comparison.")
        return
    console.print(f"same work: largest relative loss difference between the engines "
                  f"{result.loss_gap:.2g} (summation order only)")
    for gc_enabled, target in ((True, 5.0), (False, 1.5)):
        ratio = result.ratio(gc_enabled)
        state = "enabled" if gc_enabled else "disabled"
        verdict = "meets" if ratio >= target else "misses"
        console.print(f"gc {state}: scalargrad is {ratio:.2f}x faster than micrograd "
                      f"({verdict} the {target:g}x target)")
