"""How the bench measures: interleaved rounds, medians, paired ratios, traced peak
memory, and the line that says which machine the figures come from."""

from __future__ import annotations

import os
import platform
import statistics
import time
import tracemalloc

import numpy as np


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
