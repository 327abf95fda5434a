"""The bench's harness (vecgrad.bench: workloads, worker, timing, suite): every engine's
version of a workload computes the same step, workers answer the protocol, rounds rotate,
and the bench's busy mode measures what it says. Nothing here is timed (the BLAS thread
policy's tests are in test_blas_threads.py)."""

import argparse
import io
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from vecgrad.bench import suite, timing, worker, workloads


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


def test_hand_numpy_lstm_matches_vecgrad_through_adam_steps():
    # backprop through time written out by hand against vecgrad's autograd over the
    # unrolled steps: after three Adam steps the losses agree to float64 rounding
    ours = workloads.make_step("lstm", "vecgrad", dtype=np.float64)
    reference = workloads.make_step("lstm", "numpy", dtype=np.float64)
    losses = [(ours(), reference()) for _ in range(4)]
    assert losses[0][0] != losses[-1][0]  # the parameters did move
    for a, b in losses:
        assert math.isclose(a, b, rel_tol=1e-12), (a, b)


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


def test_the_hand_numpy_worker_runs_with_vecgrads_malloc_thresholds():
    from vecgrad.backends import host_memory

    (info,) = _serve("numpy", {"op": "info"})
    assert info["numpy_memory"] == host_memory.describe()
    assert "untouched" not in info["numpy_memory"]  # it was set up, one way or the other


# ------------------------------------------------------------------ rounds and stats
class _FakeWorker:
    def __init__(self, name, log):
        self.name, self.log = name, log

        self.running = True

    def pause(self):
        self.running = False

    def resume(self):
        self.running = True

    def request(self, op, workload, calls, warm_s):
        assert self.running, "a frozen worker was asked to run"
        self.log.append(self.name)
        self.warm_s = warm_s
        self.others_frozen = all(not w.running for w in self.peers if w is not self)
        return {"times": [0.001 * (len(self.log))] * calls}


def test_alternate_rotates_the_order_and_takes_medians():
    log = []
    workers = {n: _FakeWorker(n, log) for n in "abc"}
    for worker in workers.values():
        worker.peers = list(workers.values())
    toggles = []
    times = timing.alternate(workers, "w", 3, dict.fromkeys("abc", 2), 0.0, toggles.append,
                             warm_s=0.15)
    assert log == list("abc" "bca" "cab")
    assert all(w.warm_s == 0.15 for w in workers.values())
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


def _state(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(") ", 1)[1][0]


def _wait_for(condition, what, seconds=10):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_neighbour_spins_pauses_and_stops():
    neighbour = timing.Neighbour()
    try:
        assert not neighbour.running
        neighbour.resume()
        assert neighbour.running
        if os.path.exists("/proc/self/stat"):  # it really spins when resumed...
            start = neighbour.cpu_seconds()
            _wait_for(lambda: neighbour.cpu_seconds() > start, "the neighbour never ran")
            neighbour.pause()  # ...and really rests when paused
            _wait_for(lambda: _state(neighbour._process.pid) == "T", "never stopped")
    finally:
        neighbour.stop()
    assert neighbour._process.returncode is not None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_bench_leaves_no_neighbour_behind():
    """The neighbour is paused (stopped) most of the time; a bench killed outright must not
    leave it stopped or spinning forever."""
    parent = subprocess.run(
        [sys.executable, "-c", "import os, time\nfrom vecgrad.bench.timing import Neighbour\n"
         "n = Neighbour()\ntime.sleep(0.3)\nprint(n._process.pid, flush=True)\nos._exit(0)"],
        capture_output=True, text=True, timeout=60)
    pid = int(parent.stdout.split()[-1])

    def gone():
        try:
            return _state(pid) == "Z"
        except (FileNotFoundError, ProcessLookupError):
            return True

    _wait_for(gone, f"neighbour {pid} outlived the bench")


def test_the_neighbour_line_warns_when_it_did_not_spin():
    good = suite._neighbour_line({"quiet": [0.0, 5.0], "busy": [4.9, 5.0]})
    assert "0.98 of a core in busy" in good and "WARNING" not in good
    starved = suite._neighbour_line({"quiet": [0.0, 5.0], "busy": [1.3, 5.0]})
    assert "0.26 of a core" in starved and "WARNING" in starved
    leaking = suite._neighbour_line({"quiet": [1.0, 5.0], "busy": [4.9, 5.0]})
    assert "WARNING" in leaking


def test_a_warm_turn_runs_untimed_steps_for_warm_s(monkeypatch):
    clock = [0.0]
    calls = []

    def step():
        calls.append(clock[0])
        clock[0] += 0.25
        return 1.0

    monkeypatch.setattr(worker.time, "perf_counter", lambda: clock[0])
    w = worker._Worker("numpy", "cpu")
    w.steps["fake"] = step
    assert len(w.time("fake", 3)["times"]) == 3 and len(calls) == 1 + 3
    calls.clear()
    assert len(w.time("fake", 3, warm_s=1.0)["times"]) == 3
    assert len(calls) == 4 + 3  # untimed steps until 1 s had passed, then 3 timed


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
    table = out.split("ratio = median")[-1]  # the PyTorch row says why it is empty
    assert "skipped (--no-torch)" in table and "not installed" not in table


def test_vecgrad_turns_report_the_blas_threads_of_their_timed_calls(monkeypatch):
    from vecgrad.backends import blas_threads

    policy = blas_threads.policy()
    monkeypatch.setattr(policy, "chosen", {1: 5})
    monkeypatch.setattr(policy, "conv_chosen", {})

    def step():  # as if each step ran two large products on two threads and one
        policy.chosen[2] = policy.chosen.get(2, 0) + 2  # convolution split over two
        policy.conv_chosen[2] = policy.conv_chosen.get(2, 0) + 1
        return 1.0

    w = worker._Worker("vecgrad", "cpu")
    w.steps["fake"] = step
    reply = w.time("fake", 3)
    assert reply["blas"] == {"2": 6}  # the untimed call's products are not counted
    assert reply["conv"] == {"2": 3}
    w = worker._Worker("numpy", "cpu")
    w.steps["fake"] = step
    assert "blas" not in w.time("fake", 3)


def test_the_busy_table_shows_the_threads_chosen_per_kind_of_round():
    from rich.console import Console
    from rich.table import Table

    assert suite._threads_text({2: 10}) == "2"
    assert suite._threads_text({1: 7, 2: 3}) == "1: 70%, 2: 30%"
    assert suite._threads_text({}) == "-"
    assert suite._sum_counts([{"1": 2}, {"1": 3, "2": 1}]) == {1: 5, 2: 1}
    results = {"mlp": {"vecgrad": {"loss": 1.0, "quiet": [0.010, 0.011], "busy": [0.014, 0.015],
                                   "threads": {"quiet": {2: 40}, "busy": {1: 40}}},
                       "numpy": {"loss": 1.0, "quiet": [0.010, 0.010], "busy": [0.020, 0.020]}}}
    console = Console(width=250, record=True)
    console.print(suite._busy_table(["mlp"], results, Table))
    text = console.export_text()
    assert "BLAS threads quiet / busy" in text and "2 / 1" in text and "1.38x" in text
    assert "met" in text and "convolutions" not in text  # an MLP has none
    results["mlp"]["vecgrad"]["conv_threads"] = {"quiet": {2: 40}, "busy": {1: 30, 2: 10}}
    console = Console(width=250, record=True)
    console.print(suite._busy_table(["mlp"], results, Table))
    assert "convolutions 2 / 1: 75%, 2: 25%" in console.export_text()
    console = Console(width=250, record=True)
    console.print(suite._busy_table(["mlp"], results, Table, judged=False))
    assert "not judged" in console.export_text()  # the neighbour did not take a core
    assert not suite._neighbour_spun({"quiet": [0.0, 5.0], "busy": [1.3, 5.0]})
    assert not suite._neighbour_spun({"quiet": [0.0, 5.0], "busy": [3.0, 5.0]})  # 0.6
    assert suite._neighbour_spun({"quiet": [0.0, 5.0], "busy": [4.9, 5.0]})


def test_busy_bench_alternates_quiet_and_busy_rounds(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    parser = argparse.ArgumentParser()
    suite.add_arguments(parser)
    args = parser.parse_args(["--rounds", "1", "--warmup", "1", "--no-torch", "--quick",
                              "--workloads", "tiny", "--settle", "0", "--busy", "--no-train"])
    assert suite.main(args) == 0
    out = capsys.readouterr().out
    for needle in ("quiet and busy rounds alternating", "busy/quiet", "neighbour:",
                   "in busy rounds"):
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
    monkeypatch.setattr(suite.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(suite, "_others_busy", lambda: 1.3)  # measured: trusted first
    monkeypatch.setattr(suite.os, "getloadavg", lambda: (0.2, 0.1, 0.1))
    assert "other programs used 1.3 of 2 CPUs just now" in suite._busy_machine_note()
    monkeypatch.setattr(suite, "_others_busy", lambda: 0.1)
    monkeypatch.setattr(suite.os, "getloadavg", lambda: (9.0, 8.0, 7.0))  # lagging
    assert suite._busy_machine_note() is None
    monkeypatch.setattr(suite, "_others_busy", lambda: None)  # no /proc: load average
    assert "busy before the bench starts (load 9.0 on 2 CPUs)" in suite._busy_machine_note()
    monkeypatch.setattr(suite.os, "getloadavg", lambda: (0.2, 0.1, 0.1))
    assert suite._busy_machine_note() is None


def test_others_busy_reads_this_machine():
    others = suite._others_busy(0.05)
    assert others is None or others >= 0.0


def test_bench_rejects_an_unknown_workload():
    parser = argparse.ArgumentParser()
    suite.add_arguments(parser)
    with pytest.raises(ValueError, match="unknown workload.*nope"):
        suite.main(parser.parse_args(["--workloads", "tiny,nope"]))


def test_a_verdict_within_the_rounds_spread_says_at_the_line():
    """met/missed is the median paired ratio against the target; where the middle half
    of the paired ratios spans the target, the verdict says so and the table explains
    it in its caption (a clear verdict gets neither)."""
    from rich.console import Console
    from rich.table import Table

    assert suite.at_the_line([1.0, 1.1, 1.2, 1.3, 1.4], 1.2)
    assert not suite.at_the_line([0.9, 0.95, 1.0, 1.02, 1.05], 1.2)
    assert not suite.at_the_line([1.3, 1.35, 1.4, 1.5, 1.6], 1.2)
    assert suite.at_the_line([1.1, 1.3], 1.2)  # under four rounds: the whole range
    assert not suite.at_the_line([], 1.2)
    assert suite._verdict(1.1, 1.2) == "<= 1.20x [green]met[/]"
    assert suite._verdict(1.1, 1.2, [1.0, 1.1, 1.3, 1.4]).endswith("met[/], at the line")
    assert suite._verdict(1.3, 1.2, [1.25, 1.3, 1.35, 1.4]) == "<= 1.20x [red]missed[/]"

    def table_text(quiet_ref):
        results = {"conv2d_nodx": {
            "vecgrad": {"loss": 0.0, "quiet": [0.010] * 6},
            "torch": {"loss": 0.0, "quiet": quiet_ref}}}
        table = Table()
        for _ in range(7):
            table.add_column("c")
        if suite._ratio_rows(table, "conv2d_nodx", results["conv2d_nodx"], suite.TARGETS):
            table.caption = suite.AT_THE_LINE
        console = Console(width=250, record=True)
        console.print(table)
        return console.export_text()

    noisy = table_text([0.0095, 0.0090, 0.0080, 0.0075, 0.0085, 0.0078])  # 1.05-1.33x
    assert "at the line" in noisy and "middle half" in noisy
    clear = table_text([0.0110, 0.0105, 0.0112, 0.0108, 0.0111, 0.0109])  # about 0.92x
    assert "met" in clear and "at the line" not in clear

    busy = {"mlp": {"vecgrad": {"loss": 1.0, "quiet": [0.010] * 4,
                                "busy": [0.014, 0.016, 0.013, 0.017]}}}
    console = Console(width=250, record=True)
    console.print(suite._busy_table(["mlp"], busy, Table))
    text = console.export_text()
    assert "met, at the line" in text and "middle half" in text
