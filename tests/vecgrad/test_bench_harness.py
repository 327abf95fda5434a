"""The bench's harness (vecgrad.bench: workloads, worker, timing, suite): every engine's
version of a workload computes the same step, workers answer the protocol, rounds rotate,
and the BLAS thread policy decides as documented. Nothing here is timed."""

import argparse
import io
import json
import math

import numpy as np
import pytest

from vecgrad.bench import suite, timing, worker, workloads
from vecgrad.backends import blas_threads


def _torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)  # correctness only; one thread is quickest on a shared machine
    return torch


# ------------------------------------------------------------------ workloads agree
@pytest.mark.parametrize("name", ["mlp", "mlp64", "tiny"])
def test_hand_numpy_step_matches_vecgrad_step(name):
    ours = workloads.make_step(name, "vecgrad")
    reference = workloads.make_step(name, "numpy")
    for _ in range(2):  # the second step starts from the first step's update
        a, b = ours(), reference()
        assert math.isclose(a, b, rel_tol=1e-5 if name == "mlp64" else 2e-4), (a, b)


@pytest.mark.parametrize("name", ["tiny", "lenet5", "cnn1d", "conv1d", "lstm"])
def test_torch_step_matches_vecgrad_step(name):
    _torch()
    missing = workloads.missing_feature(workloads.WORKLOADS[name])
    if missing:
        pytest.skip(missing)
    ours = workloads.make_step(name, "vecgrad")
    reference = workloads.make_step(name, "torch")
    for _ in range(3):
        a, b = ours(), reference()
        # float32 and Adam: a few steps amplify rounding differences a little
        assert math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-5), (a, b)


def test_conv_workload_gradients_match_torch():
    torch = _torch()
    x, w, b, g = workloads.conv_data(0)
    import vecgrad
    import vecgrad.nn.functional as F

    vx, vw, vb = (vecgrad.tensor(a, requires_grad=True) for a in (x, w, b))
    F.conv2d(vx, vw, vb).backward(vecgrad.tensor(g))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    torch.nn.functional.conv2d(tx, tw, tb).backward(torch.from_numpy(g))
    for ours, ref in ((vx, tx), (vw, tw), (vb, tb)):
        np.testing.assert_allclose(ours.grad.numpy(), ref.grad.numpy(), rtol=2e-4, atol=2e-3)


def test_make_step_names_a_missing_engine():
    with pytest.raises(ValueError, match="lenet5.*no numpy version"):
        workloads.make_step("lenet5", "numpy")


# ------------------------------------------------------------------ worker protocol
def _serve(engine, *requests):
    replies = io.StringIO()
    worker.serve(engine, "cpu", [json.dumps(r) + "\n" for r in requests], replies)
    return [json.loads(line) for line in replies.getvalue().splitlines()]


def test_worker_answers_setup_time_memory_and_errors():
    setup, timed, memory, unknown, bad = _serve(
        "vecgrad",
        {"op": "setup", "workload": "tiny", "seed": 0},
        {"op": "time", "workload": "tiny", "calls": 3},
        {"op": "memory", "workload": "tiny"},
        {"op": "nonsense"},
        {"op": "time", "workload": "never-set-up", "calls": 1},
        {"op": "quit"},
        {"op": "info"},  # after quit: not answered
    )
    assert setup["loss"] > 0 and setup["seconds"] > 0
    assert len(timed["times"]) == 3 and all(t > 0 for t in timed["times"])
    assert memory["bytes"] > 0
    assert "unknown request" in unknown["error"]
    assert "KeyError" in bad["error"]


def test_worker_skips_a_workload_this_vecgrad_lacks(monkeypatch):
    monkeypatch.setitem(workloads.WORKLOADS, "future", workloads.Workload(
        "future", "needs a layer that does not exist", ("vecgrad",), "torch",
        lambda e, s, d: None, needs="nn.NoSuchLayer"))
    (reply,) = _serve("vecgrad", {"op": "setup", "workload": "future"})
    assert reply == {"skip": "vecgrad.nn.NoSuchLayer not available"}


def test_worker_info_names_the_blas_policy():
    (info,) = _serve("vecgrad", {"op": "info"})
    assert info["engine"] == "vecgrad" and "BLAS" in info["vecgrad_blas"]


# ------------------------------------------------------------------ rounds and stats
class _FakeWorker:
    def __init__(self, name, log):
        self.name, self.log = name, log

        self.running = True

    def pause(self):
        self.running = False

    def resume(self):
        self.running = True

    def request(self, op, workload, calls):
        assert self.running, "a frozen worker was asked to run"
        self.log.append(self.name)
        self.others_frozen = all(not w.running for w in self.peers if w is not self)
        return {"times": [0.001 * (len(self.log))] * calls}


def test_alternate_rotates_the_order_and_takes_medians():
    log = []
    workers = {n: _FakeWorker(n, log) for n in "abc"}
    for worker in workers.values():
        worker.peers = list(workers.values())
    toggles = []
    times = timing.alternate(workers, "w", 3, dict.fromkeys("abc", 2), 0.0, toggles.append)
    assert log == list("abc" "bca" "cab")
    # Only the worker whose turn it is runs; all run again afterwards.
    assert all(w.others_frozen for w in workers.values())
    assert all(w.running for w in workers.values())
    assert toggles == [0, 1, 2]
    assert times["a"] == [0.001, 0.006, 0.008]


def test_a_paused_worker_sleeps_until_resumed():
    import os
    import time

    worker = timing.Worker("numpy")
    stat = f"/proc/{worker._process.pid}/stat"
    if not os.path.exists(stat):
        worker.close()
        pytest.skip("no /proc here to read a process state from")
    try:
        worker.request("info")
        worker.pause()
        deadline = time.monotonic() + 5
        while open(stat).read().split(") ")[1][0] != "T":  # the signal lands asynchronously
            assert time.monotonic() < deadline, "the worker was never stopped"
            time.sleep(0.01)
        worker.resume()
        assert worker.request("info")["engine"] == "numpy"
    finally:
        worker.close()


def test_spread_is_half_the_interquartile_range_over_the_median():
    assert timing.spread([1.0, 1.0, 1.0, 1.0]) == 0
    assert timing.spread([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(
        (4.5 - 1.5) / 2 / 3)


def test_neighbour_spins_pauses_and_stops():
    neighbour = timing.Neighbour()
    try:
        assert not neighbour.running
        neighbour.resume()
        assert neighbour.running
    finally:
        neighbour.stop()
    assert neighbour._process.returncode is not None


def test_bench_runs_in_worker_processes_and_prints_its_table(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps table cells on narrow terminals
    parser = argparse.ArgumentParser()
    suite.add_arguments(parser)
    args = parser.parse_args(["--rounds", "1", "--warmup", "1", "--no-torch", "--quick",
                              "--workloads", "tiny", "--settle", "0"])
    assert suite.main(args) == 0
    out = capsys.readouterr().out
    for needle in ("machine:", "BLAS:", "load average", "2-16-16-2", "hand numpy", "same",
                   "torch: skipped (--no-torch)", "vecgrad BLAS threads"):
        assert needle in out, needle


class _SkippingWorker:
    def __init__(self, reply):
        self.reply, self.asked = reply, []

    def request(self, op, **fields):
        self.asked.append(op)
        if op != "setup":
            raise AssertionError(f"{op} asked of a worker that skipped the workload")
        return self.reply


def test_a_workload_vecgrad_lacks_is_skipped_without_timing(monkeypatch):
    parser = argparse.ArgumentParser()
    suite.add_arguments(parser)
    run = suite._Run(parser.parse_args(["--warmup", "2"]), console=None)
    run.workers = {"vecgrad": _SkippingWorker({"skip": "vecgrad.nn.LSTM not available"}),
                   "torch": _SkippingWorker({"skip": "torch not installed"})}
    assert run.measure("lstm") == {"skip": "vecgrad.nn.LSTM not available"}
    assert run.workers["vecgrad"].asked == ["setup"]


def test_a_busy_machine_is_called_out(monkeypatch):
    monkeypatch.setattr(suite.os, "getloadavg", lambda: (9.0, 8.0, 7.0))
    monkeypatch.setattr(suite.os, "cpu_count", lambda: 2)
    assert "busy before the bench starts (load 9.0 on 2 CPUs)" in suite._busy_machine_note()
    monkeypatch.setattr(suite.os, "getloadavg", lambda: (0.2, 0.1, 0.1))
    assert suite._busy_machine_note() is None


def test_bench_rejects_an_unknown_workload():
    parser = argparse.ArgumentParser()
    suite.add_arguments(parser)
    with pytest.raises(ValueError, match="unknown workload.*nope"):
        suite.main(parser.parse_args(["--workloads", "tiny,nope"]))


# ------------------------------------------------------------------ BLAS thread policy
class _Pool:
    def __init__(self, threads):
        self.num_threads = threads
        self.calls = []

    def set_num_threads(self, n):
        self.calls.append(n)
        self.num_threads = n


def _policy(monkeypatch, env="auto", threads=2, others=0.0, cores=2):
    monkeypatch.setenv("VECGRAD_BLAS_THREADS", env)
    policy = blas_threads.BlasThreads()
    pool = _Pool(threads)
    monkeypatch.setattr(policy, "_start", lambda: None)
    policy._ready = True
    policy.policy = env
    policy._pool = pool
    policy.ceiling = policy.original = threads if env == "auto" else int(env)
    policy.current = threads
    contention = blas_threads._Contention()
    contention.available = True
    contention.other_cores = others
    monkeypatch.setattr(contention, "update", lambda now: None)
    policy._contention = contention
    monkeypatch.setattr(blas_threads, "_cores", lambda: cores)
    return policy, pool


def test_small_products_run_on_one_thread_large_ones_on_free_cores(monkeypatch):
    policy, pool = _policy(monkeypatch)
    assert policy.wanted(100) is None  # OpenBLAS keeps these on one thread itself
    assert policy.wanted(blas_threads.SMALL_MACS - 1) == 1
    assert policy.wanted(10 * blas_threads.SMALL_MACS) == 2
    policy.fit(blas_threads.SMALL_MACS - 1)
    policy.fit(blas_threads.SMALL_MACS - 2)  # unchanged: the pool is not touched again
    policy.fit(10 * blas_threads.SMALL_MACS)
    assert pool.calls == [1, 2]


def test_a_busy_neighbour_takes_a_thread_away(monkeypatch):
    policy, _ = _policy(monkeypatch, others=1.0)
    assert policy.wanted(10 * blas_threads.SMALL_MACS) == 1
    policy, _ = _policy(monkeypatch, others=0.3)  # a little background load: keep both
    assert policy.wanted(10 * blas_threads.SMALL_MACS) == 2


def test_the_library_setting_is_a_ceiling(monkeypatch):
    policy, _ = _policy(monkeypatch, threads=1)  # e.g. OPENBLAS_NUM_THREADS=1
    assert policy.wanted(10 * blas_threads.SMALL_MACS) == 1


def test_contention_reading_subtracts_this_process(monkeypatch):
    contention = blas_threads._Contention()
    readings = iter([(0.0, 1000, 100), (1.0, 1000 + 150, 100 + 50)])
    monkeypatch.setattr(contention, "_read", lambda: next(readings))
    contention._hz = 100
    contention.update(0.0)
    contention.update(1.0)
    assert contention.other_cores == pytest.approx(1.0)


def test_a_pause_between_products_starts_a_fresh_window(monkeypatch):
    """Turn-taking processes (the bench's workers, or a pause between epochs): others ran
    while we did no products, which says nothing about the cores they leave us when we
    compute. After a pause the window restarts and the last estimate stands."""
    policy, pool = _policy(monkeypatch, threads=2)
    contention = policy._contention
    contention.update = blas_threads._Contention.update.__get__(contention)  # the real one
    contention.available = True
    clock = [100.0]
    monkeypatch.setattr(blas_threads.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(blas_threads, "IDLE_GAP_S", 1.0)
    readings = []
    monkeypatch.setattr(contention, "_read", lambda: readings.pop(0))
    contention.other_cores = 0.0
    # We run continuously: the window is measured (others took 1 core).
    readings[:] = [(100.0, 0, 0), (100.3, 100 + 30, 100)]
    policy._last_call = 99.99
    contention._last = None
    policy._next_sample = 0.0
    contention._hz = 100
    assert policy.wanted(10 * blas_threads.SMALL_MACS) == 2  # first reading: no window yet
    clock[0] = 100.3
    assert policy.wanted(10 * blas_threads.SMALL_MACS) == 1  # others hold one core
    # A 2-second pause in which others used both cores: not counted against us.
    clock[0] = 102.3
    readings[:] = [(102.3, 10**6, 130)]
    assert policy.wanted(10 * blas_threads.SMALL_MACS) == 1  # last estimate stands
    assert contention.other_cores == pytest.approx(1.0)
    assert contention._last == (102.3, 10**6, 130)  # a fresh window from here


def test_bad_policy_text_is_an_error(monkeypatch):
    monkeypatch.setenv("VECGRAD_BLAS_THREADS", "many")
    with pytest.raises(ValueError, match="VECGRAD_BLAS_THREADS='many'"):
        blas_threads.BlasThreads().wanted(10**9)


def test_library_policy_leaves_the_pool_alone(monkeypatch):
    monkeypatch.setenv("VECGRAD_BLAS_THREADS", "library")
    policy = blas_threads.BlasThreads()
    assert policy.wanted(10**9) is None
    assert "leaves the BLAS pool alone" in policy.describe()


def test_contention_reads_this_machine():
    contention = blas_threads._Contention()
    if not contention.available:
        pytest.skip("no /proc here")
    contention.update(0.0)
    contention.update(0.0)
    assert contention.other_cores >= 0.0
