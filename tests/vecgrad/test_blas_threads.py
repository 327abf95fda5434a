"""The BLAS thread policy (vecgrad.backends.blas_threads) decides as documented: small and
thin products on one thread, large ones on the cores other processes leave free, measured
from a fake /proc on a fake clock. Nothing here is timed."""

import os

import numpy as np
import pytest

from vecgrad.backends import blas_threads

LARGE = (10**8, 100)  # the MLP's hidden product: 1e8 multiply-adds, a 100 x 1000 result


class _Pool:
    def __init__(self, threads):
        self.num_threads = threads
        self.calls = []

    def set_num_threads(self, n):
        self.calls.append(n)
        self.num_threads = n


class _Machine:
    """A fake 2-CPU machine: a clock, the idle seconds /proc/stat would print (whole
    clock ticks, as the kernel prints them) and this process's CPU seconds."""

    def __init__(self, monkeypatch, cpus=2, tick=0.01):
        self.cpus, self.tick = cpus, tick
        self.now, self.idle, self.own, self.waited = 1000.0, 0.0, 0.0, 0.0
        monkeypatch.setattr(blas_threads.time, "monotonic", lambda: self.now)

    def read(self):
        return self.cpus, (self.idle // self.tick) * self.tick

    def run(self, seconds, ours, others, waiting=0.0):
        """`seconds` pass with our process on `ours` cores (and waiting for a CPU for
        `waiting` of them) and others on `others`."""
        self.now += seconds
        self.own += ours * seconds
        self.waited += waiting * seconds
        self.idle += max(0.0, self.cpus - ours - others) * seconds

    def contention(self):
        return blas_threads._Contention(read=self.read, own=lambda: self.own,
                                        waited=lambda: self.waited)


def _policy(monkeypatch, machine, env="auto", threads=2):
    monkeypatch.setenv("VECGRAD_BLAS_THREADS", env)
    monkeypatch.setattr(blas_threads, "_cores", lambda: machine.cpus)
    policy = blas_threads.BlasThreads(contention=machine.contention())
    pool = _Pool(threads)
    monkeypatch.setattr(policy, "_start", lambda: None)
    policy._ready = True
    policy.policy = env
    policy._pool = pool
    policy.ceiling = policy.original = threads if env in ("auto", "library") else int(env)
    policy.current = threads
    return policy, pool


def _compute(policy, machine, seconds, others, shape=LARGE):
    """Run large products for `seconds` beside others that want `others` cores. Our
    threads and a spinning neighbour share the CPUs in proportion to their threads (CFS
    gives each runnable thread the same share); returns the thread counts chosen."""
    chosen = []
    step = blas_threads.SAMPLE_S / 5
    for _ in range(round(seconds / step)):
        threads = policy.wanted(*shape)
        chosen.append(threads)
        total = threads + others
        ours = min(threads, machine.cpus * threads / total) if total > machine.cpus else threads
        machine.run(step, ours, min(others, machine.cpus - ours))
    return chosen


def test_small_and_thin_products_stay_on_one_thread(monkeypatch):
    machine = _Machine(monkeypatch)
    policy, pool = _policy(monkeypatch, machine)
    policy.prime()
    _compute(policy, machine, 0.2, others=0.0)
    assert policy.wanted(*LARGE) == 2
    assert policy.wanted(1000) is None  # OpenBLAS keeps these on one thread itself
    assert policy.wanted(64 * 400 * 120, 64) == 1  # 3.1M multiply-adds: under SMALL_MACS
    assert policy.wanted(6 * 50176 * 25, 6) == 1  # 7.5M but a 6 x 25 result: too thin to share
    assert policy.wanted(6 * 25 * 50176, 6) == 1
    assert policy.wanted(6 * 25 * 50176) == 2  # shape not known (a whole convolution)
    assert policy.wanted(16 * 150 * 6400, 16) == 2  # LeNet's second convolution: shared
    policy.fit(64 * 400 * 120, 64)
    policy.fit(64 * 400 * 121, 64)  # unchanged: the pool is not touched again
    policy.fit(*LARGE)
    assert pool.calls == [1, 2]
    assert policy.chosen == {1: 2, 2: 1}


def test_one_thread_until_the_first_window_is_measured(monkeypatch):
    machine = _Machine(monkeypatch)
    policy, _ = _policy(monkeypatch, machine)
    policy.prime()
    assert policy.wanted(*LARGE) == 1  # nothing measured yet
    machine.run(blas_threads.SAMPLE_S * 1.01, ours=1.0, others=0.0)  # e.g. loading data
    assert policy.wanted(*LARGE) == 2  # a quiet window behind us: both cores


def test_a_spinning_neighbour_takes_a_thread_away_within_a_window_and_for_good(monkeypatch):
    """Beside one spinning process our two threads squeeze it to 2/3 of a core (others
    read 0.67, not 1): that must already mean one thread; and once we run on one thread
    the neighbour holds a whole core, which must keep us there (no flip-flop)."""
    machine = _Machine(monkeypatch)
    policy, _ = _policy(monkeypatch, machine)
    policy.prime()
    quiet = _compute(policy, machine, 0.5, others=0.0)
    assert quiet[-40:] == [2] * 40
    busy = _compute(policy, machine, 3.0, others=1.0)
    switched = busy.index(1)
    assert switched <= 2 * 5  # within two windows (SAMPLE_S / 5 per product here)
    assert set(busy[switched:]) == {1}
    assert 0.6 < policy._contention.other_cores <= 1.0
    again = _compute(policy, machine, 0.5, others=0.0)  # the neighbour stops
    assert again[-10:] == [2] * 10


def test_busy_readings_and_the_rounding(monkeypatch):
    machine = _Machine(monkeypatch)
    policy, _ = _policy(monkeypatch, machine)
    contention = policy._contention
    for others, threads in ((0.0, 2), (0.3, 2), (0.5, 1), (0.67, 1), (1.0, 1), (2.0, 1)):
        contention.other_cores = others
        assert policy.wanted(*LARGE) == threads, others
    machine.cpus = 4  # four cores, one and a half taken: two free, a third mostly
    monkeypatch.setattr(blas_threads, "_cores", lambda: 4)
    policy.ceiling = 4
    contention.other_cores = 1.5
    assert policy.wanted(*LARGE) == 2


def test_idle_tick_rounding_does_not_fake_a_neighbour(monkeypatch):
    """/proc/stat prints idle time in whole ticks: a 50 ms window misreads by up to a tick
    per CPU. On one thread of a quiet machine (the other CPU idle) that must not read as
    a neighbour."""
    machine = _Machine(monkeypatch, tick=0.01)
    policy, _ = _policy(monkeypatch, machine)
    machine.idle = 0.0099  # just under a tick: the worst truncation
    policy.prime()
    machine.run(blas_threads.SAMPLE_S * 1.01, ours=1.0, others=0.0)
    assert policy.wanted(*LARGE) == 2
    assert policy._contention.other_cores < blas_threads.TAKEN_SHARE


def test_a_window_in_which_we_were_stopped_or_idle_is_dropped(monkeypatch):
    """The bench's workers take turns and are stopped between them; others ran then,
    which says nothing about the cores they leave us when we compute."""
    machine = _Machine(monkeypatch)
    policy, _ = _policy(monkeypatch, machine)
    policy.prime()
    _compute(policy, machine, 0.5, others=0.0)
    assert policy.wanted(*LARGE) == 2
    machine.run(2.0, ours=0.0, others=2.0)  # we are stopped; others use both cores
    assert policy.wanted(*LARGE) == 2  # the window is dropped, the estimate stands
    assert policy._contention.other_cores < 0.1
    assert policy._contention.window_start == machine.now  # a fresh window starts here
    _compute(policy, machine, 0.2, others=0.0)
    assert policy.wanted(*LARGE) == 2


def test_a_starved_process_still_reads_the_overload(monkeypatch):
    """On an overloaded machine we may get a tenth of a core: we barely ran, but we
    waited to, so the window counts, and it says: no free core."""
    machine = _Machine(monkeypatch)
    policy, _ = _policy(monkeypatch, machine)
    policy.prime()
    _compute(policy, machine, 0.5, others=0.0)
    assert policy.wanted(*LARGE) == 2
    machine.run(0.2, ours=0.1, others=1.9, waiting=0.9)
    assert policy.wanted(*LARGE) == 1
    assert policy._contention.other_cores > 1.5


def test_the_library_setting_is_a_ceiling_and_numbers_are_obeyed(monkeypatch):
    machine = _Machine(monkeypatch)
    policy, _ = _policy(monkeypatch, machine, threads=1)  # e.g. OPENBLAS_NUM_THREADS=1
    _compute(policy, machine, 0.3, others=0.0)
    assert policy.wanted(*LARGE) == 1
    policy, _ = _policy(monkeypatch, machine, env="3")
    assert policy.wanted(*LARGE) == 3
    assert policy.wanted(64 * 400 * 120, 64) == 3  # a number applies to every product...
    assert policy.wanted(1000) is None  # ...that OpenBLAS would share at all


def test_no_contention_measure_means_the_ceiling(monkeypatch):
    machine = _Machine(monkeypatch)
    policy, _ = _policy(monkeypatch, machine)
    policy._contention.available = False
    assert policy.wanted(*LARGE) == 2


def test_an_unreadable_proc_turns_measuring_off():
    def broken():
        raise OSError("no /proc here")

    assert not blas_threads._Contention(read=broken).available


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs Linux /proc")
def test_the_real_proc_reading_is_sane():
    cpus, idle = blas_threads._read_proc_stat()
    assert cpus >= 1 and idle >= 0
    assert blas_threads._read_proc_stat()[1] >= idle
    assert blas_threads._read_waited() >= 0.0


def test_bad_policy_text_is_an_error(monkeypatch):
    monkeypatch.setenv("VECGRAD_BLAS_THREADS", "many")
    with pytest.raises(ValueError, match="VECGRAD_BLAS_THREADS='many'"):
        blas_threads.BlasThreads().wanted(*LARGE)


def test_library_policy_leaves_the_pool_alone(monkeypatch):
    monkeypatch.setenv("VECGRAD_BLAS_THREADS", "library")
    policy = blas_threads.BlasThreads()
    assert policy.wanted(*LARGE) is None
    assert "leaves the BLAS pool alone" in policy.describe()


def test_describe_says_what_was_chosen(monkeypatch):
    machine = _Machine(monkeypatch)
    policy, _ = _policy(monkeypatch, machine)
    assert "not measured yet" in policy.describe()
    policy.prime()
    _compute(policy, machine, 0.2, others=1.0)
    policy.fit(*LARGE)
    text = policy.describe()
    assert "auto" in text and "last chosen 1" in text and "on 1 thread" in text


def test_the_numpy_backend_sizes_each_product(monkeypatch):
    import vecgrad

    seen = []
    monkeypatch.setattr(blas_threads, "fit", lambda macs, side: seen.append((macs, side)))
    a = vecgrad.tensor(np.ones((2, 3, 4), np.float32))
    b = vecgrad.tensor(np.ones((4, 5), np.float32))
    (a @ b).numpy()
    assert seen == [(3 * 4 * 5, 3)]  # per matrix of the batch


# ------------------------------------------------ stopping OpenBLAS's spinning workers
class _Release:
    """Stands in for _WorkerRelease: counts the stops."""

    problem = None

    def __init__(self):
        self.done = 0
        self.claimed = []

    def __call__(self, claimed=False):
        self.done += 1
        self.claimed.append(claimed)
        return True


def test_the_workers_are_stopped_once_when_others_take_the_cores(monkeypatch):
    machine = _Machine(monkeypatch)
    policy, pool = _policy(monkeypatch, machine)
    policy._release = release = _Release()
    policy.prime()
    for _ in range(20):  # quiet: large products on two threads, small ones on one
        machine.run(blas_threads.SAMPLE_S / 4, ours=2.0, others=0.0)
        policy.fit(*LARGE)
        policy.fit(64 * 400 * 120, 64)
    assert pool.calls[-2:] == [2, 1] and release.done == 0  # size alone never stops them
    for _ in range(20):  # a neighbour takes a core
        machine.run(blas_threads.SAMPLE_S / 4, ours=1.0, others=1.0)
        policy.fit(*LARGE)
    assert release.done == 1  # once, on the drop, not for every one-thread product
    assert "idle workers stopped 1 time as others took the cores" in policy.describe()
    for _ in range(20):  # it stops: two threads again, the workers start by themselves
        machine.run(blas_threads.SAMPLE_S / 4, ours=2.0, others=0.0)
        policy.fit(*LARGE)
    assert pool.num_threads == 2 and release.done == 1
    policy.claimed = True  # claim_process(): passed on, so other threads are not checked
    for _ in range(20):
        machine.run(blas_threads.SAMPLE_S / 4, ours=1.0, others=1.0)
        policy.fit(*LARGE)
    assert release.claimed == [False, True]


class _Lib:
    def __init__(self, api="openblas", layer="pthreads", symbol=True):
        self.internal_api, self.threading_layer = api, layer
        self.stopped = 0
        if symbol:
            self.dynlib = type("Dll", (), {"blas_thread_shutdown_": self._stop})()
        else:
            self.dynlib = object()

    def _stop(self):
        self.stopped += 1


@pytest.mark.parametrize("lib, problem", [
    (_Lib(api="mkl"), "not OpenBLAS"),
    (_Lib(layer="openmp"), "openmp build"),
    (_Lib(symbol=False), "no blas_thread_shutdown_")])
def test_the_release_says_why_it_cannot_stop_the_workers(lib, problem):
    release = blas_threads._WorkerRelease(lib)
    assert problem in release.problem
    assert release() is False and lib.stopped == 0


def test_the_workers_are_not_stopped_while_another_thread_may_use_them():
    import threading

    lib = _Lib()
    release = blas_threads._WorkerRelease(lib)
    assert release.problem is None
    assert release() is True and lib.stopped == 1
    gate = threading.Event()
    user = threading.Thread(target=gate.wait, name="user-thread")
    own = threading.Thread(target=gate.wait, name=blas_threads.OWN_THREAD_PREFIX + "conv_0")
    own.start()
    try:
        assert release() is True and lib.stopped == 2  # vecgrad's own idle pool is fine
        user.start()
        assert release() is False and lib.stopped == 2  # a user's thread might be in a product
        assert release(claimed=True) is True and lib.stopped == 3  # claim_process vouched
    finally:
        gate.set()
        own.join()
        if user.is_alive() or user.ident is not None:
            user.join()


def _openblas_pthreads():
    try:
        import threadpoolctl
    except ImportError:
        return None
    for lib in threadpoolctl.ThreadpoolController().lib_controllers:
        if lib.user_api == "blas" and lib.internal_api == "openblas" \
                and lib.threading_layer == "pthreads":
            return lib
    return None


_REAL_STOP = """
import os, time, numpy as np, threadpoolctl
from vecgrad.backends import blas_threads
pool = [lib for lib in threadpoolctl.ThreadpoolController().lib_controllers
        if lib.user_api == "blas"][0]
release = blas_threads._WorkerRelease(pool)
assert release.problem is None, release.problem
rng = np.random.default_rng(0)
a, b = rng.standard_normal((300, 400)), rng.standard_normal((400, 500))
expected = np.einsum("ij,jk->ik", a, b)  # not BLAS
tasks = lambda: len(os.listdir("/proc/self/task"))
pool.set_num_threads(2)
np.testing.assert_allclose(a @ b, expected, rtol=1e-10, atol=1e-10)
with_workers = tasks()
pool.set_num_threads(1)
assert release() is True
# pthread_join returns once a worker has left its start routine; the kernel drops its
# /proc/self/task entry a moment later (a busy machine showed the old count once)
deadline = time.monotonic() + 10
while tasks() >= with_workers and time.monotonic() < deadline:
    time.sleep(0.01)
assert tasks() < with_workers, (tasks(), with_workers)
np.testing.assert_allclose(a @ b, expected, rtol=1e-10, atol=1e-10)  # one thread
pool.set_num_threads(2)
np.testing.assert_allclose(a @ b, expected, rtol=1e-10, atol=1e-10)  # started again
assert tasks() == with_workers, (tasks(), with_workers)
print("ok")
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task") or _openblas_pthreads() is None,
                    reason="needs numpy on a pthreads OpenBLAS and Linux /proc")
def test_stopping_the_real_openblas_workers_ends_their_threads_and_products_still_work():
    """Against numpy's own OpenBLAS, in a fresh process (no other test's threads): the
    stop joins its worker threads (the process has fewer), and the next product on two
    threads starts them again and is still right."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _REAL_STOP], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
