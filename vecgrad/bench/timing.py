"""How the bench measures: each engine in a worker process of its own (worker.py), rounds
that alternate between the processes, medians, spreads and medians of paired ratios,
traced peak memory, a spinning neighbour for --busy, and the line that says which
machine the figures come from."""

from __future__ import annotations

import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
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


# --------------------------------------------------------------- worker processes
class WorkerError(RuntimeError):
    """A worker process died or answered with an error."""


class Worker:
    """One engine in a process of its own (`python -m vecgrad.bench.worker`)."""

    def __init__(self, engine: str, device: str = "cpu"):
        self.engine = engine
        self.device = device
        self._log = tempfile.TemporaryFile(mode="w+")  # the worker's stderr, for errors
        self._process = subprocess.Popen(
            [sys.executable, "-m", "vecgrad.bench.worker", engine, device],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True,
            bufsize=1)

    def request(self, op: str, **fields) -> dict:
        """Send one request, wait for its reply (a dict; errors raise WorkerError)."""
        process = self._process
        try:
            process.stdin.write(json.dumps({"op": op, **fields}) + "\n")
            process.stdin.flush()
            line = process.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            raise WorkerError(f"bench worker {self.engine} exited: {self._stderr_tail()}")
        reply = json.loads(line)
        if "error" in reply:
            raise WorkerError(f"bench worker {self.engine}: {reply['error']}")
        return reply

    def pause(self) -> None:
        """Freeze the worker between its turns (SIGSTOP where the OS has it): its BLAS or
        OpenMP threads spin for a while after their work, and a frozen process's threads
        cannot take cores from the engine whose turn it is."""
        if hasattr(signal, "SIGSTOP") and self._process.poll() is None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if hasattr(signal, "SIGCONT") and self._process.poll() is None:
            self._process.send_signal(signal.SIGCONT)

    def _stderr_tail(self) -> str:
        self._process.poll()
        self._log.seek(0)
        text = self._log.read().strip().splitlines()
        return " | ".join(text[-3:]) or f"exit status {self._process.returncode}"

    def close(self) -> None:
        self.resume()  # a frozen worker cannot read "quit"
        if self._process.poll() is None:
            try:
                self._process.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self._process.stdin.flush()
                self._process.wait(timeout=10)
            except (BrokenPipeError, OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()
        self._log.close()


# The neighbour spins in plain Python. A bench killed outright must leave nothing behind:
# on Linux the kernel kills the neighbour with its parent (PR_SET_PDEATHSIG, which also
# ends a stopped process); elsewhere it looks now and then whether its parent is gone.
_SPIN = """import os
parent = os.getppid()
try:
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
except (OSError, AttributeError):
    pass
print("ready", flush=True)
while os.getppid() == parent:
    for _ in range(1000000):
        pass
"""


class Neighbour:
    """A process that spins on one core (`--busy`), paused and resumed with signals so
    quiet and busy rounds can take turns. It runs in a session of its own, as another
    user's job would: Linux's autogroup scheduling then shares the CPUs between it and
    the bench's processes as between two programs, not thread by thread."""

    def __init__(self):
        self._process = subprocess.Popen([sys.executable, "-c", _SPIN],
                                         start_new_session=True, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._process.stdout.readline()  # set up (stopping it earlier would skip that)
        self._process.stdout.close()
        self.running = True
        self.pause()

    def pause(self) -> None:
        if self.running:
            self._process.send_signal(signal.SIGSTOP)
            self.running = False

    def resume(self) -> None:
        if not self.running:
            self._process.send_signal(signal.SIGCONT)
            self.running = True

    def stop(self) -> None:
        self._process.kill()  # SIGKILL also ends a stopped process
        self._process.wait()

    def cpu_seconds(self) -> float | None:
        """CPU seconds the neighbour has used so far (None where /proc is missing): the
        bench checks that it really spun in busy rounds and really rested in quiet ones."""
        try:
            with open(f"/proc/{self._process.pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            return None
        fields = stat[stat.rindex(b")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / _HZ


_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def spread(values) -> float:
    """Half the interquartile range over the median: the +-x of "median +-x"."""
    if len(values) < 4:
        return (max(values) - min(values)) / 2 / statistics.median(values)
    q1, _, q3 = statistics.quantiles(values, n=4)
    return (q3 - q1) / 2 / statistics.median(values)


def alternate(workers: dict, workload: str, rounds: int, calls: dict, settle_s: float,
              before_round=None, warm_s: float = 0.0, replies: dict | None = None) -> dict:
    """Per-round seconds per call of each worker: the workers take turns, one round at a
    time, in an order that rotates from round to round; the value of a round is the
    median of its timed calls. `settle_s` of sleep between turns lets the previous
    process's spinning pool go quiet, and every worker but the one whose turn it is stays
    frozen (Worker.pause), so no pool spins beside the engine being timed.
    `before_round(index)` runs first in each round (the --busy mode toggles its
    neighbour there); `warm_s` of untimed steps open each turn (worker.py). Each
    worker's whole replies are appended to `replies[name]` when a dict is given.
    Returns {name: [seconds, ...]}."""
    names = list(workers)
    times = {name: [] for name in names}
    for worker in workers.values():
        worker.pause()
    try:
        for index in range(rounds):
            if before_round is not None:
                before_round(index)
            shift = index % len(names)
            for name in names[shift:] + names[:shift]:
                time.sleep(settle_s)
                worker = workers[name]
                worker.resume()
                try:
                    reply = worker.request("time", workload=workload, calls=calls[name],
                                           warm_s=warm_s)
                finally:
                    worker.pause()
                times[name].append(statistics.median(reply["times"]))
                if replies is not None:
                    replies.setdefault(name, []).append(reply)
    finally:
        for worker in workers.values():
            worker.resume()
    return times


def load_average() -> str:
    try:
        return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "load average unknown"


def pools_text(pools) -> str:
    """The thread pools threadpoolctl found in a worker, as text."""
    if pools is None:
        return "thread pools unknown (threadpoolctl not installed)"
    parts = []
    for pool in pools:
        extra = ", ".join(str(pool[k]) for k in ("threading_layer", "architecture")
                          if pool.get(k))
        parts.append(f"{pool['internal_api']} {pool.get('version') or ''} "
                     f"{pool['num_threads']} threads" + (f" ({extra})" if extra else ""))
    return "; ".join(p.replace("  ", " ") for p in parts)


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
