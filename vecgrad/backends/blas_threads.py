"""How many threads numpy's BLAS may use for each of the numpy backend's matrix products.

OpenBLAS keeps its worker threads spin-waiting for work. When another process holds a
core, a worker waits for a core it does not get and a product that takes 0.1 ms alone
takes milliseconds: `vecgrad train --model mlp:256,128` went from 1.0 s to 15.5 s beside
one busy process (issue 12), and products that small gain nothing from a second thread
even on a quiet machine. So before each product above OpenBLAS's own single-thread
threshold, the numpy backend asks `BlasThreads.fit(m * n * k)` for:

- 1 thread below `SMALL_MACS` multiply-adds per product (too small to share out);
- otherwise the cores other processes leave free, measured from /proc/stat (Linux) at
  most every `SAMPLE_S` seconds, and never more than the library had when vecgrad first
  used it (so OPENBLAS_NUM_THREADS / OMP_NUM_THREADS still cap it).
  A pause of more than `IDLE_GAP_S` between products starts a fresh window: what others
  did while this process was idle does not count against it.

The pool is resized through threadpoolctl (it finds the BLAS that numpy actually loaded:
OpenBLAS, MKL or BLIS, whatever its symbol names), only when the wanted count changes
(2 us a change). Environment variables are never written. `VECGRAD_BLAS_THREADS` chooses
the policy when the backend first multiplies: `auto` (default, the rules above),
`library` (leave the pool alone), or a number (that many threads for every large
product). The choice applies to the whole process's BLAS pool; `describe()` says what
was chosen and the bench prints it in its machine line.
"""

from __future__ import annotations

import os
import time

# OpenBLAS runs products of fewer multiply-adds than this on one thread by itself
# (interface/gemm.c: 65536 * GEMM_MULTITHREAD_THRESHOLD 4); below it there is nothing to do.
LIBRARY_SINGLE_MACS = 65536 * 4
# Below this many multiply-adds a product stays on one thread (about a 160^3 product):
# the hand-off to a second thread costs more than it saves, and a busy machine makes it
# far worse.
SMALL_MACS = 1 << 22
# How often the other processes' CPU use is re-read (two small /proc reads, ~30 us).
SAMPLE_S = 0.25
# A pause this long between two products starts a fresh measuring window. Others' CPU
# use while this process did no products (between epochs, or the bench's turn-taking
# workers) says nothing about the cores they leave it while it computes.
IDLE_GAP_S = 0.1


def _cores() -> int:
    """CPUs this process may run on (the affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class _Contention:
    """Cores busy with other processes, from /proc/stat minus this process's own time."""

    def __init__(self):
        self.available = os.path.exists("/proc/stat") and os.path.exists("/proc/self/stat")
        self._last = None  # (monotonic seconds, busy ticks of all cpus, own ticks)
        self.other_cores = 0.0
        self._hz = os.sysconf("SC_CLK_TCK") if self.available else 100

    def _read(self):
        with open("/proc/stat", "rb") as f:
            fields = f.readline().split()[1:]
        ticks = [int(v) for v in fields[:8]]
        busy = sum(ticks) - ticks[3] - ticks[4]  # all but idle and iowait
        with open("/proc/self/stat", "rb") as f:
            stat = f.read()
        own = stat[stat.rindex(b")") + 2:].split()  # fields after "(comm)"
        return time.monotonic(), busy, int(own[11]) + int(own[12])  # utime + stime

    def update(self, now):
        """Refresh other_cores when SAMPLE_S has passed since the last reading."""
        try:
            sample = self._read()
        except (OSError, ValueError, IndexError):
            self.available = False
            return
        if self._last is not None and sample[0] > self._last[0]:
            seconds = sample[0] - self._last[0]
            others = (sample[1] - self._last[1]) - (sample[2] - self._last[2])
            self.other_cores = max(0.0, others / self._hz / seconds)
        self._last = sample

    def restart(self):
        """Start a fresh window, keeping the last estimate (see IDLE_GAP_S)."""
        try:
            self._last = self._read()
        except (OSError, ValueError, IndexError):
            self.available = False


class BlasThreads:
    """The thread count policy of one process's BLAS pool (see the module docstring)."""

    def __init__(self):
        self._ready = False
        self.policy = "auto"
        self.ceiling = self.original = 1
        self.current = None
        self._pool = None
        self._contention = None
        self._next_sample = 0.0
        self._last_call = None
        self.problem = None  # why the pool is left alone, when it is

    def _start(self):
        self._ready = True
        text = os.environ.get("VECGRAD_BLAS_THREADS", "auto").strip().lower() or "auto"
        if text not in ("auto", "library") and not (text.isdigit() and int(text) > 0):
            raise ValueError(f"VECGRAD_BLAS_THREADS={text!r}: use auto, library or a "
                             f"positive number of threads")
        self.policy = text
        if text == "library":
            return
        try:
            import threadpoolctl
        except ImportError:
            self.problem = "threadpoolctl not installed"
            self.policy = "library"
            return
        pools = [lib for lib in threadpoolctl.ThreadpoolController().lib_controllers
                 if lib.user_api == "blas"]
        if not pools:
            self.problem = "no BLAS found by threadpoolctl"
            self.policy = "library"
            return
        self._pool = pools[0]
        self.original = self.ceiling = max(1, int(self._pool.num_threads or 1))
        self.current = self.ceiling
        if text.isdigit():
            self.ceiling = int(text)
        self._contention = _Contention()

    def wanted(self, macs: int) -> int | None:
        """Threads for a product of `macs` multiply-adds (None: leave the pool as it is)."""
        if not self._ready:
            self._start()
        if self._pool is None or macs <= LIBRARY_SINGLE_MACS:
            return None
        if self.policy != "auto":
            return self.ceiling
        if macs < SMALL_MACS or self.ceiling == 1:
            return 1
        contention = self._contention
        if contention.available:
            now = time.monotonic()
            idle = self._last_call is not None and now - self._last_call > IDLE_GAP_S
            self._last_call = now
            if idle:
                contention.restart()
                self._next_sample = now + SAMPLE_S
            elif now >= self._next_sample:
                self._next_sample = now + SAMPLE_S
                contention.update(now)
            free = _cores() - contention.other_cores
            return max(1, min(self.ceiling, int(free + 0.5)))
        return self.ceiling

    def fit(self, macs: int) -> None:
        """Size the BLAS pool for a product of `macs` multiply-adds, if that changes it."""
        threads = self.wanted(macs)
        if threads is not None and threads != self.current:
            self._pool.set_num_threads(threads)
            self.current = threads

    def restore(self) -> None:
        """Give the BLAS pool back its size from before vecgrad changed it."""
        if self._pool is not None:
            self._pool.set_num_threads(self.original)
            self.current = self.original

    def describe(self) -> str:
        """One line: the policy and what it chose last."""
        if not self._ready:
            self._start()
        if self.policy == "library":
            why = f" ({self.problem})" if self.problem else ""
            return f"vecgrad leaves the BLAS pool alone{why}"
        if self.policy != "auto":
            return f"vecgrad BLAS threads: {self.ceiling} for products over " \
                   f"{LIBRARY_SINGLE_MACS} multiply-adds (VECGRAD_BLAS_THREADS)"
        measured = ("others' cores measured from /proc/stat every "
                    f"{SAMPLE_S:g} s, now {self._contention.other_cores:.1f}"
                    if self._contention.available else "no contention measure here")
        return (f"vecgrad BLAS threads: auto, 1 below {SMALL_MACS:,} multiply-adds a "
                f"product, else the free cores up to {self.ceiling} ({measured}); "
                f"last chosen {self.current}")


_POLICY = BlasThreads()


def fit(macs: int) -> None:
    _POLICY.fit(macs)


def describe() -> str:
    return _POLICY.describe()


def policy() -> BlasThreads:
    """The process's policy object (tests and the bench read it)."""
    return _POLICY
