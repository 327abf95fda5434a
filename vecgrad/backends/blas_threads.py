"""How many threads numpy's BLAS may use for each of the numpy backend's matrix products.

OpenBLAS keeps its worker threads spin-waiting for work. When another process holds a
core, a worker waits for a core it does not get and a product that takes 0.1 ms alone
takes milliseconds: `vecgrad train --model mlp:256,128` went from 1.0 s to 15.5 s beside
one busy process (issue 12), and products that small gain nothing from a second thread
even on a quiet machine. So before each product above OpenBLAS's own single-thread
threshold, the numpy backend asks `BlasThreads.fit(m * k * n, min(m, n))` for:

- 1 thread for a product below `SMALL_MACS` multiply-adds, or whose result has a side
  under `THIN_SIDE` (OpenBLAS shares the result out between its threads, and a thin one
  gives each too little: a (6, 50176) @ (50176, 25) product, the weight gradient of a
  6-channel convolution done as one product, took 0.58 ms on one thread and 0.93 ms on
  two, best of 40 each on the shared machine);
- otherwise the cores other processes leave free, never more than the library had when
  vecgrad first used it (so OPENBLAS_NUM_THREADS / OMP_NUM_THREADS still cap it).

Free cores are measured over windows of `SAMPLE_S` seconds while this process computes
(`_Contention`: all CPUs' busy time from /proc/stat's idle counter, minus this process's
own CPU time). A core counts as taken once others use over `TAKEN_SHARE` of it: beside one
spinning process, our two threads squeeze it to about 2/3 of a core, and with our one
thread it holds a whole one, so both readings keep us on one thread and the choice does
not flip-flop; on a quiet machine others read near 0. Until the first window is measured
(`prime()` starts it when the backend is created) products run on one thread. A window in
which this process neither ran nor waited to run for `MIN_OWN_SHARE` of a core (its CPU
time plus its main thread's wait for a CPU, /proc/self/schedstat) is dropped and the last
estimate kept: what others did while this process was idle, blocked or stopped (the
bench's turn-taking workers, a pause between epochs) says nothing about the cores they
leave it while it computes. A process starved by an overloaded machine still counts its
waiting, so its windows are kept and read the overload.

OpenBLAS's idle workers spin for about 0.1 s after their last product (its thread timeout,
2^28 cycles; `set_num_threads(1)` does not stop them). When the free cores drop to one, a
spinning worker would take a third of the CPUs from our thread and the neighbour for that
long (an MLP step read 31 ms instead of 17-18 ms in the 0.05-0.15 s after a neighbour
started, 2026-12-03 16:05 UTC). So on that drop the policy stops the workers with OpenBLAS's
own `blas_thread_shutdown_` (the call it makes itself around fork; the next product on
two threads starts them again): only for the pthreads build, and only when no Python
thread but vecgrad's own is alive, since stopping the pool under another thread's
product would hang it (`_WorkerRelease`). A program that owns its process and knows its
other threads never call BLAS says so with `claim_process()`: `vecgrad train` does, for
the terminal display's refresh thread.

The pool is resized through threadpoolctl (it finds the BLAS that numpy actually loaded:
OpenBLAS, MKL or BLIS, whatever its symbol names), only when the wanted count changes
(2 us a change). Environment variables are never written. `VECGRAD_BLAS_THREADS` chooses
the policy when the numpy backend is created: `auto` (default, the rules above),
`library` (leave the pool alone), or a number (that many threads for every product over
OpenBLAS's own threshold). The choice applies to the whole process's BLAS pool;
`describe()` says what was chosen and the bench prints it in its machine line.
"""

from __future__ import annotations

import os
import threading
import time

# OpenBLAS runs products of fewer multiply-adds than this on one thread by itself
# (interface/gemm.c: 65536 * GEMM_MULTITHREAD_THRESHOLD 4); below it there is nothing to do.
LIBRARY_SINGLE_MACS = 65536 * 4
# Below this many multiply-adds a product stays on one thread (about a 160^3 product):
# the hand-off to a second thread costs more than it saves, and a busy machine makes it
# far worse.
SMALL_MACS = 1 << 22
# A product whose result (m x n) has a side under this stays on one thread (see above).
THIN_SIDE = 16
# Length of one measuring window (two small reads, ~20 us, once per window).
SAMPLE_S = 0.05
# A window in which this process ran or waited for less of a core than this is dropped.
MIN_OWN_SHARE = 0.25
# Others' use of a core above which it counts as taken.
TAKEN_SHARE = 0.4


def _cores() -> int:
    """CPUs this process may run on (the affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _read_proc_stat():
    """(online CPUs, seconds all CPUs spent idle or waiting for I/O) from /proc/stat.

    The kernel keeps idle time exactly and prints it in clock ticks, so a difference of
    two readings is within one tick per CPU. (The busy columns, and /proc/self/stat, are
    sampled once a tick instead: over 0.05 s they misread by a third of a core.)"""
    with open("/proc/stat", "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    fields = lines[0].split()
    cpus = sum(1 for line in lines[1:] if line.startswith(b"cpu"))
    return cpus, (int(fields[4]) + int(fields[5])) / _HZ


_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _read_waited() -> float:
    """Seconds this process's main thread has spent runnable but waiting for a CPU
    (Linux schedstat; 0.0 where the kernel does not keep it)."""
    try:
        with open("/proc/self/schedstat", "rb") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


class _Contention:
    """Cores other processes keep busy, measured window by window:

        other cores = (CPUs x wall seconds - idle seconds - our CPU seconds) / wall seconds

    `read` gives (CPUs, idle seconds), `own` this process's CPU seconds (all its
    threads) and `waited` its seconds waiting for a CPU; tests pass fakes."""

    def __init__(self, read=_read_proc_stat, own=time.process_time, waited=_read_waited):
        self._read_machine = read
        self._own = own
        self._waited = waited
        self.available = True
        self.other_cores = None  # no window measured yet
        self._start = None  # (monotonic, idle, own CPU, own wait) in seconds
        try:
            read()
        except (OSError, ValueError, IndexError):
            self.available = False

    def _sample(self, now):
        cpus, idle = self._read_machine()
        return cpus, (now, idle, self._own(), self._waited())

    def restart(self, now: float) -> None:
        """Start a window at `now`, keeping the last estimate."""
        try:
            self._start = self._sample(now)[1]
        except (OSError, ValueError, IndexError):
            self.available = False

    @property
    def window_start(self):
        """Monotonic seconds at which the current window began (None: none yet)."""
        return self._start[0] if self._start is not None else None

    def elapsed(self, now: float) -> float:
        return now - self._start[0] if self._start is not None else float("inf")

    def update(self, now: float) -> None:
        """Close the window at `now` and start the next one. The window gives the
        estimate unless this process neither ran nor waited to in it (MIN_OWN_SHARE)."""
        try:
            cpus, sample = self._sample(now)
        except (OSError, ValueError, IndexError):
            self.available = False
            return
        start, self._start = self._start, sample
        if start is None or now <= start[0]:
            return
        seconds = now - start[0]
        own = sample[2] - start[2]
        if own + (sample[3] - start[3]) < MIN_OWN_SHARE * seconds:
            return
        busy = cpus * seconds - (sample[1] - start[1]) - own
        self.other_cores = min(float(cpus), max(0.0, busy / seconds))


class _WorkerRelease:
    """Stops OpenBLAS's spinning worker threads (see the module docstring), or says why it
    cannot here (`problem`)."""

    def __init__(self, pool):
        self.problem = None
        self.done = 0  # how many times the workers were stopped
        self._call = None
        if getattr(pool, "internal_api", None) != "openblas":
            self.problem = "not OpenBLAS"
        elif getattr(pool, "threading_layer", None) != "pthreads":
            self.problem = f"OpenBLAS's {getattr(pool, 'threading_layer', '?')} build"
        else:
            self._call = getattr(getattr(pool, "dynlib", None), "blas_thread_shutdown_", None)
            if self._call is None:
                self.problem = "this OpenBLAS has no blas_thread_shutdown_"

    @staticmethod
    def _alone() -> bool:
        """No Python thread but this one and vecgrad's own (idle between its calls) is
        alive, so none can be inside a product on the pool's workers."""
        current = threading.current_thread()
        return all(t is current or t.name.startswith(OWN_THREAD_PREFIX)
                   for t in threading.enumerate())

    def __call__(self, claimed: bool = False) -> bool:
        """Stop the workers; `claimed`: the program vouched that no other thread uses
        BLAS (claim_process), so other threads need not be checked."""
        if self._call is None or not (claimed or self._alone()):
            return False
        self._call()
        self.done += 1
        return True


# Names of the threads vecgrad starts (numpy_conv's pool): they run BLAS only inside a
# vecgrad call made by the thread that asks the policy.
OWN_THREAD_PREFIX = "vecgrad-"


class BlasThreads:
    """The thread count policy of one process's BLAS pool (see the module docstring)."""

    def __init__(self, contention=None):
        self._ready = False
        self.policy = "auto"
        self.ceiling = self.original = 1
        self.current = None
        self._pool = None
        self._contention = contention
        self.problem = None  # why the pool is left alone, when it is
        self._parallel = None  # the free-cores answer for the last large product
        self._release = None  # _WorkerRelease, once the pool is known
        self._release_due = False
        self.claimed = False  # claim_process(): no thread but vecgrad's calls BLAS
        self.chosen = {}  # threads -> how many large products ran with that many
        # threads -> how many convolutions numpy_conv shared out over that many of its
        # own threads (BLAS held to one inside them), so reports can say what ran
        self.conv_chosen = {}

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
        self._release = _WorkerRelease(self._pool)
        if text.isdigit():
            self.ceiling = int(text)
        if self._contention is None:
            self._contention = _Contention()

    def prime(self) -> None:
        """Start measuring contention now (the numpy backend calls this when it is
        created), so the first large product already has a window behind it."""
        if not self._ready:
            self._start()
        contention = self._contention
        if self.policy == "auto" and contention is not None and contention.available \
                and contention.window_start is None:
            contention.restart(time.monotonic())

    def wanted(self, macs: int, side: int | None = None) -> int | None:
        """Threads for a product of `macs` multiply-adds whose result's thinner side is
        `side` (None: not known, as for a whole convolution); None: leave the pool."""
        if not self._ready:
            self._start()
        if self._pool is None or macs <= LIBRARY_SINGLE_MACS:
            return None
        if self.policy != "auto":
            return self.ceiling
        if macs < SMALL_MACS or (side is not None and side < THIN_SIDE) \
                or self.ceiling == 1:
            return 1
        contention = self._contention
        if not contention.available:
            return self.ceiling
        now = time.monotonic()
        if contention.elapsed(now) >= SAMPLE_S:
            contention.update(now)
        if contention.other_cores is None:
            return 1  # not measured yet: one thread is never the disaster two can be
        free = _cores() - contention.other_cores
        threads = max(1, min(self.ceiling, int(free + TAKEN_SHARE)))
        if threads == 1 and (self._parallel or 1) > 1:
            self._release_due = True  # others took the cores: stop the spinning workers
        self._parallel = threads
        return threads

    def fit(self, macs: int, side: int | None = None) -> None:
        """Size the BLAS pool for a product (see wanted), if that changes it."""
        threads = self.wanted(macs, side)
        if threads is None:
            return
        self.chosen[threads] = self.chosen.get(threads, 0) + 1
        if threads != self.current:
            self._pool.set_num_threads(threads)
            self.current = threads
        if self._release_due and threads == 1:
            self._release_due = False
            if self._release is not None:
                self._release(self.claimed)

    def restore(self) -> None:
        """Give the BLAS pool back its size from before vecgrad changed it."""
        if self._pool is not None:
            self._pool.set_num_threads(self.original)
            self.current = self.original

    def describe(self) -> str:
        """One line: the policy and what it chose so far."""
        if not self._ready:
            self._start()
        if self.policy == "library":
            why = f" ({self.problem})" if self.problem else ""
            return f"vecgrad leaves the BLAS pool alone{why}"
        counts = ", ".join(f"{n} on {t} thread{'s' if t > 1 else ''}"
                           for t, n in sorted(self.chosen.items()))
        so_far = f"; products so far: {counts}" if counts else ""
        if self.policy != "auto":
            return (f"vecgrad BLAS threads: {self.ceiling} for products over "
                    f"{LIBRARY_SINGLE_MACS} multiply-adds (VECGRAD_BLAS_THREADS){so_far}")
        contention = self._contention
        if not contention.available:
            measured = "no contention measure here"
        elif contention.other_cores is None:
            measured = "others' cores not measured yet"
        else:
            measured = (f"others' cores measured every {SAMPLE_S:g} s of work, last "
                        f"{contention.other_cores:.2f}")
        release = self._release
        if release is None:
            stopped = ""
        elif release.problem:
            stopped = f"; idle workers left spinning ({release.problem})"
        else:
            stopped = (f"; idle workers stopped {release.done} time"
                       f"{'' if release.done == 1 else 's'} as others took the cores")
        return (f"vecgrad BLAS threads: auto, 1 below {SMALL_MACS:,} multiply-adds or a "
                f"result side under {THIN_SIDE}, else the free cores up to {self.ceiling} "
                f"({measured}); last chosen {self.current}{so_far}{stopped}")


_POLICY = BlasThreads()


def fit(macs: int, side: int | None = None) -> None:
    _POLICY.fit(macs, side)


def prime() -> None:
    _POLICY.prime()


def describe() -> str:
    return _POLICY.describe()


def claim_process() -> None:
    """Say that this process's other threads never call BLAS (a command-line program's
    display thread, say), so the policy may stop OpenBLAS's spinning workers while they
    are alive (see the module docstring). A library user who starts threads of their
    own should not call this."""
    _POLICY.claimed = True


def policy() -> BlasThreads:
    """The process's policy object (tests and the bench read it)."""
    return _POLICY
