"""`vecgrad bench`: vecgrad's speed and memory beside references measured in the same run.

Workloads (workloads.py; issue 12): the MLP 784-1000-1000-10 step in float32 and float64
against a hand-written numpy step and PyTorch; a tiny tanh MLP; LeNet-5; a 1-D CNN written
as 1x5 conv2d (and through conv1d, and an LSTM, where this vecgrad has them); conv2d
forward + backward with and without the input gradient; the MLP step's peak memory.

How (timing.py, worker.py): every engine - vecgrad, the hand-written numpy step, PyTorch -
runs in a worker process of its own. The processes take turns, one round at a time, in
an order that rotates; a round's value is the median of a few calls; a figure is the
median over rounds with its spread (half the interquartile range), and a ratio is the
median of the per-round ratios, so load that comes and goes hits both sides of a pair.
A verdict adds "at the line" where the per-round ratios' middle half spans the target.

`--busy` starts a neighbour process that spins on one core, stopped and resumed with
signals so quiet and busy rounds alternate, and reports each engine's busy/quiet ratio,
the BLAS threads vecgrad's policy chose in each kind of round, and `vecgrad train` quiet
against busy. It also reads the neighbour's CPU time: a neighbour that did not take about
a core in busy rounds only (a machine already loaded) leaves the target "not judged".
Every turn opens with WARM_S of untimed steps (see there). `--quick` is the short version (under about two
minutes); the default run is what the README's table comes from.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from vecgrad.bench.timing import (Neighbour, Timings, Worker, WorkerError, alternate,
                                  interleaved, load_average, peak_memory, pools_text, spread)
from vecgrad.backends.blas_threads import SAMPLE_S
from vecgrad.bench.workloads import WORKLOADS

# Ratio targets (vecgrad / reference, cpu backend), issue 12.
TARGETS = {("mlp", "numpy"): 1.05, ("mlp64", "numpy"): 1.05, ("mlp", "torch"): 1.15,
           ("lenet5", "torch"): 1.2, ("cnn1d", "torch"): 1.2, ("conv1d", "torch"): 1.2,
           ("conv2d", "torch"): 1.2, ("conv2d_nodx", "torch"): 1.2,
           ("lstm", "torch"): 1.5}  # issue 13: LSTM within 1.5x of PyTorch
MEMORY_TARGET = 1.3
BUSY_TARGET = 1.5     # busy / quiet time of vecgrad with one core taken by a neighbour
# Untimed steps that open every turn, for every engine. A worker is frozen between turns,
# so a turn is the first moment it runs beside the neighbour (--busy) or without it, or
# without the previous workload's still-spinning pools; a real process would have been
# running all along. Three of vecgrad's measuring windows let its BLAS policy see the
# cores it is left before the timing (a turn alone, 30-60 ms, is shorter than a window
# plus the product that closes it, so the policy would keep whatever it read at setup).
WARM_S = 3 * SAMPLE_S
OPENCL_TRAIN_TARGET = 2.0  # `vecgrad train --device opencl` / the same on cpu
TRAIN_RUNS = (("mlp:256,128", 5), ("cnn", 1))
ENGINE_LABEL = {"vecgrad": "vecgrad", "numpy": "hand numpy", "torch": "PyTorch"}

# Keep these names importable from vecgrad.bench (older scripts and tests use them).
__all__ = ["add_arguments", "main", "Timings", "interleaved", "peak_memory"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `vecgrad bench`."""
    parser.add_argument("--device", default=None, help="cpu, opencl, opencl:P:D or auto "
                        "(default: $VECGRAD_DEVICE, else cpu)")
    parser.add_argument("--rounds", "--repeats", dest="rounds", type=int, default=None,
                        help="alternating rounds per workload, 1..1000 (default: 15; 5 with "
                             "--quick)")
    parser.add_argument("--warmup", type=int, default=2,
                        help="untimed steps per engine before the rounds, 0..1000 (default: 2)")
    parser.add_argument("--quick", action="store_true",
                        help="fewer rounds and shorter turns: the whole run in about 1-2 "
                             "minutes")
    parser.add_argument("--busy", action="store_true",
                        help="alternate quiet rounds with rounds beside a process spinning "
                             "on one core; report busy/quiet and `vecgrad train` under load")
    parser.add_argument("--workloads", default=None,
                        help="comma-separated subset of: " + ", ".join(WORKLOADS))
    parser.add_argument("--no-torch", action="store_true",
                        help="skip the PyTorch references even when torch is installed")
    parser.add_argument("--no-train", action="store_true",
                        help="skip the `vecgrad train` timings of --busy and --device opencl")
    parser.add_argument("--settle", type=float, default=None,
                        help="seconds of pause before each turn, for the previous "
                             "process's threads to go idle (default: 0.05; 0.02 with --quick)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the data and weights")


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _thread_env() -> str:
    names = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
             "VECGRAD_BLAS_THREADS")
    found = [f"{n}={os.environ[n]}" for n in names if n in os.environ]
    return ", ".join(found) if found else "no thread variables set"


def _fmt_ms(seconds, spread_=None):
    text = f"{seconds * 1e3:.2f} ms"
    return text if spread_ is None else f"{text} ±{spread_ * 100:.0f}%"


def _verdict(ratio, target, pairs=None):
    """The target and whether the ratio meets it; with the paired rounds' ratios,
    "at the line" where their middle half spans the target (the machine's noise
    between rounds is then as large as the distance to the target, and another run
    may read the other way)."""
    if target is None:
        return "-"
    word = "[green]met[/]" if ratio <= target else "[red]missed[/]"
    if pairs is not None and at_the_line(pairs, target):
        word += ", at the line"
    return f"<= {target:.2f}x {word}"


def at_the_line(pairs, target) -> bool:
    """Whether the middle half of the paired ratios (their interquartile range; the
    whole range under four rounds) spans the target."""
    pairs = sorted(pairs)
    if not pairs:
        return False
    if len(pairs) < 4:
        low, high = pairs[0], pairs[-1]
    else:
        low, _, high = statistics.quantiles(pairs, n=4)
    return low <= target <= high


AT_THE_LINE = ("at the line: the middle half of the paired rounds' ratios spans the "
               "target, so the verdict is within this machine's noise between rounds")


def _losses_agree(a, b):
    return abs(a - b) <= 1e-3 * max(1.0, abs(a), abs(b))


class _Run:
    """The workers of one bench run and what they measured."""

    def __init__(self, args, console):
        self.args = args
        self.console = console
        self.quick = args.quick
        self.rounds = args.rounds or (5 if args.quick else 15)
        self.settle = args.settle if args.settle is not None else (0.02 if args.quick else 0.05)
        self.turn_s = 0.03 if args.quick else 0.06  # aim of one engine's turn in a round
        self.workers = {}
        self.neighbour = None
        self._neighbour_mark = None
        self.neighbour_use = {"quiet": [0.0, 0.0], "busy": [0.0, 0.0]}  # CPU s, wall s

    # ---------------------------------------------------------------- processes
    def start(self):
        engines = {"vecgrad": self.args.device, "numpy": "cpu"}
        torch_missing = importlib.util.find_spec("torch") is None
        if not (self.args.no_torch or torch_missing):
            engines["torch"] = "cpu"
        self.torch_note = ("skipped (--no-torch)" if self.args.no_torch else
                           "not installed" if torch_missing else None)
        for engine, device in engines.items():
            self.workers[engine] = Worker(engine, device)
        self.info = {name: w.request("info") for name, w in self.workers.items()}
        if self.args.busy:
            self.neighbour = Neighbour()

    def stop(self):
        if self.neighbour is not None:
            self.neighbour.stop()
        for worker in self.workers.values():
            worker.close()

    def machine_lines(self):
        numpy_info = self.info["numpy"]
        lines = [f"machine: {_cpu_name()}, {os.cpu_count()} logical CPUs, Python "
                 f"{platform.python_version()}, numpy {numpy_info['numpy']}, "
                 f"{load_average()} (at start)",
                 f"BLAS: {pools_text(numpy_info.get('pools'))}; {_thread_env()}"]
        if "torch" in self.info:
            t = self.info["torch"]
            lines.append(f"torch {t['torch']}, {t['torch_threads']} threads")
        else:
            lines.append(f"torch: {self.torch_note}")
        return lines

    # ------------------------------------------------------------ measurements
    def _toggle(self, index):
        """--busy: even rounds quiet, odd rounds beside the spinning neighbour. The
        workers are frozen here, so nothing of theirs can see the change: each turn opens
        with WARM_S of untimed steps instead (see measure). The neighbour's CPU
        time is read at each switch, to show it spun in busy rounds and rested in quiet
        ones."""
        if self.neighbour is None:
            return
        self._account_neighbour()
        if index % 2:
            self.neighbour.resume()
        else:
            self.neighbour.pause()
        time.sleep(0.05)  # the signal lands
        self._mark_neighbour("busy" if index % 2 else "quiet")

    def _mark_neighbour(self, kind):
        self._neighbour_mark = (self.neighbour.cpu_seconds(), time.perf_counter(), kind)

    def _account_neighbour(self):
        """Add the round since the last mark to the neighbour's use in that kind of round."""
        mark, self._neighbour_mark = self._neighbour_mark, None
        if mark is None or mark[0] is None:
            return
        cpu = self.neighbour.cpu_seconds()
        if cpu is not None:
            used = self.neighbour_use[mark[2]]
            used[0] += cpu - mark[0]
            used[1] += time.perf_counter() - mark[1]

    def measure(self, name):
        """{engine: {"loss", "quiet": [s...], "busy": [s...]}} or {"skip": why}."""
        workload = WORKLOADS[name]
        engines = [e for e in workload.engines if e in self.workers]
        setups, skipped = {}, {}
        if self.neighbour is not None:
            self.neighbour.pause()
        for engine in engines:
            worker = self.workers[engine]
            reply = worker.request("setup", workload=name, seed=self.args.seed)
            if "skip" in reply:
                skipped[engine] = reply
                continue
            for _ in range(self.args.warmup):
                worker.request("time", workload=name, calls=1)
            setups[engine] = reply
        if "vecgrad" not in setups:
            return {"skip": skipped.get("vecgrad", {}).get("skip", "not run")}
        calls = {e: max(1, min(25, round(self.turn_s / max(r["seconds"], 1e-6))))
                 for e, r in setups.items()}
        workers = {e: self.workers[e] for e in setups}
        busy = self.neighbour is not None
        replies = {}
        times = alternate(workers, name, self.rounds * (2 if busy else 1), calls,
                          self.settle, self._toggle if busy else None,
                          warm_s=WARM_S, replies=replies)
        if busy:
            self._account_neighbour()
            self.neighbour.pause()
        result = {}
        for engine, values in times.items():
            result[engine] = {"loss": setups[engine]["loss"],
                              "quiet": values[0::2] if busy else values,
                              "busy": values[1::2] if busy else None}
        # vecgrad's BLAS thread choices in its timed calls, by kind of round, and the
        # threads its convolutions shared their chunks over
        for kind, key in (("blas", "threads"), ("conv", "conv_threads")):
            counts = [r.get(kind, {}) for r in replies.get("vecgrad", [])]
            result["vecgrad"][key] = {
                "quiet": _sum_counts(counts[0::2] if busy else counts),
                "busy": _sum_counts(counts[1::2]) if busy else None}
        for engine, reply in skipped.items():
            result[engine] = {"skip": reply["skip"]}
        return result

    def memory(self):
        out = {}
        for engine in ("vecgrad", "numpy"):
            self.workers[engine].request("setup", workload="mlp", seed=self.args.seed)
            out[engine] = self.workers[engine].request("memory", workload="mlp")["bytes"]
        return out

    @staticmethod
    def train(device, model, epochs):
        """Wall seconds of `vecgrad train --model M --epochs E --device D --quiet` in a
        fresh process, as a user would run it (start-up and data loading included)."""
        command = [sys.executable, "-m", "vecgrad.cli", "train", "--model", model,
                   "--epochs", str(epochs), "--device", device, "--quiet"]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            tail = " | ".join(done.stderr.strip().splitlines()[-2:])
            raise WorkerError(f"{' '.join(command[2:])} failed ({done.returncode}): {tail}")
        return seconds


def _sum_counts(dicts):
    total = {}
    for counts in dicts:
        for threads, n in counts.items():
            total[int(threads)] = total.get(int(threads), 0) + n
    return total


def _threads_text(counts) -> str:
    """vecgrad's BLAS threads over a kind of round: "2", or "1: 70%, 2: 30%" when mixed;
    "-" when no product was large enough to be sized."""
    total = sum(counts.values())
    if not total:
        return "-"
    if len(counts) == 1:
        return str(next(iter(counts)))
    return ", ".join(f"{t}: {100 * n / total:.0f}%" for t, n in sorted(counts.items()))


def _ratio_rows(table, name, result, targets, absent="not installed"):
    """The table's rows for one workload; `absent` says why an engine that was never
    started has no figure (torch: not installed, or skipped by --no-torch). Returns
    whether a verdict was at the line."""
    workload = WORKLOADS[name]
    flagged = False
    if "skip" in result:
        table.add_row(workload.title, "skipped", "-", "-", "-", "-", result["skip"])
        return flagged
    ours = result["vecgrad"]
    references = [e for e in workload.engines if e != "vecgrad"]
    for engine in references:
        label = ENGINE_LABEL[engine]
        ref = result.get(engine)
        if ref is None or "skip" in ref:
            why = absent if ref is None else ref["skip"]
            table.add_row(workload.title, _fmt_ms(statistics.median(ours["quiet"])), label,
                          why, "-", "-", "")
            continue
        pairs = [a / b for a, b in zip(ours["quiet"], ref["quiet"])]
        ratio = statistics.median(pairs)
        target = targets.get((name, engine))
        flagged |= target is not None and at_the_line(pairs, target)
        agree = ("same" if _losses_agree(ours["loss"], ref["loss"])
                 else f"{ours['loss']:.5g} vs {ref['loss']:.5g}")
        table.add_row(workload.title,
                      _fmt_ms(statistics.median(ours["quiet"]), spread(ours["quiet"])),
                      label, _fmt_ms(statistics.median(ref["quiet"]), spread(ref["quiet"])),
                      f"{ratio:.2f}x", _verdict(ratio, target, pairs),
                      agree if name not in ("conv2d", "conv2d_nodx") else "")
    return flagged


# The pause before a turn is for a thread pool to go idle: a minute is far beyond it.
MAX_SETTLE_S = 60.0
# A round times every engine on every workload (0.1-1 s each): 1000 rounds is hours
# already, and a mistyped 10**20 would otherwise run until someone kills it.
MAX_ROUNDS = 1000
MAX_WARMUP = 1000


def _check_arguments(args: argparse.Namespace) -> list[str]:
    """Refuse values that cannot work before any process starts; returns the workloads."""
    if args.rounds is not None and not 1 <= args.rounds <= MAX_ROUNDS:
        raise ValueError(f"--rounds must be 1..{MAX_ROUNDS}, got {args.rounds}")
    if not 0 <= args.warmup <= MAX_WARMUP:
        raise ValueError(f"--warmup must be 0..{MAX_WARMUP}, got {args.warmup}")
    if args.settle is not None and not 0 <= args.settle <= MAX_SETTLE_S:  # also NaN
        raise ValueError(f"--settle must be a number of seconds in 0..{MAX_SETTLE_S:g}, "
                         f"got {args.settle}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    if args.workloads is None:
        return list(WORKLOADS)
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown or not names:
        given = f"unknown workload(s) {', '.join(unknown)}" if unknown else \
            f"--workloads {args.workloads!r} names no workload"
        raise ValueError(f"{given}; choose from {', '.join(WORKLOADS)}")
    return names


def main(args: argparse.Namespace) -> int:
    """Run every workload and print the tables; returns the exit status (0)."""
    from rich.table import Table

    from vecgrad.entry import pipe_console

    names = _check_arguments(args)
    from vecgrad.backends import device_setting, resolve_device

    args.device = resolve_device(*device_setting(args.device))
    console = pipe_console()
    run = _Run(args, console)
    started = time.perf_counter()
    try:
        run.start()
        device = run.info["vecgrad"]["device"]
        when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        console.print(f"vecgrad bench on {device} - {when} - {run.rounds} rounds per "
                      f"workload{' (--quick)' if args.quick else ''}"
                      f"{', quiet and busy rounds alternating' if args.busy else ''}",
                      markup=False)
        for line in run.machine_lines():
            console.print(line, markup=False)
        busy_note = _busy_machine_note()
        if busy_note:
            console.print(busy_note, markup=False)
        results = {name: run.measure(name) for name in names}
        # tracemalloc sees host memory only: the row is for the numpy backend
        memory = run.memory() if "mlp" in names and args.device == "cpu" else None
        train = _train_figures(run, device) if not args.no_train else []
        counts = (_opencl_counts(device) if device.startswith("opencl") and not args.no_train
                  else [])
        # The policy's last choice and its contention reading, as the run left them.
        end_info = run.workers["vecgrad"].request("info")
        console.print(end_info["vecgrad_blas"], markup=False)
        console.print(end_info["vecgrad_memory"], markup=False)
        numpy_memory = run.info["numpy"].get("numpy_memory")
        if numpy_memory:  # (like with like: see worker.py)
            console.print(f"hand numpy worker: {numpy_memory}", markup=False)
        console.print(f"after the run: {load_average()}, {time.perf_counter() - started:.0f} s",
                      markup=False)
    except WorkerError as exc:
        console.print(f"bench failed: {exc}", markup=False)
        return 1
    finally:
        run.stop()

    targets = TARGETS if device == "cpu" else {}
    table = Table(title="each engine in its own process; medians ±half the interquartile "
                        "range; ratio = median of paired rounds")
    for column in ("workload", "vecgrad", "reference", "ref. time", "ratio", "target",
                   "first loss"):
        table.add_column(column)
    flagged = False
    for name in names:
        flagged |= _ratio_rows(table, name, results[name], targets,
                               run.torch_note or "not run")
    if memory is not None:
        ratio = memory["vecgrad"] / memory["numpy"]
        table.add_row("MLP step peak traced memory", f"{memory['vecgrad'] / 2**20:.1f} MiB",
                      "hand numpy", f"{memory['numpy'] / 2**20:.1f} MiB", f"{ratio:.2f}x",
                      _verdict(ratio, MEMORY_TARGET), "")
    if flagged:
        table.caption = AT_THE_LINE
    console.print(table)
    if args.busy:
        # Judged only as the issue means it: one core taken, the other free.
        judged = _neighbour_spun(run.neighbour_use) and busy_note is None
        console.print(_busy_table(names, results, Table, judged))
        console.print(_neighbour_line(run.neighbour_use), markup=False)
        if busy_note:
            console.print("busy/quiet not judged: other programs already loaded this "
                          "machine (see the NOTE above), so busy rounds measured more than "
                          "one core taken", markup=False)
    if train:
        console.print(_train_table(train, Table, not args.busy or judged))
    if counts:
        console.print(_counts_table(counts, Table))
    if device.startswith("opencl"):
        # OpenCL-only figures (matmul GFLOP/s vs CLBlast, launch overhead).
        from vecgrad.bench import opencl as bench_opencl

        return bench_opencl.main(argparse.Namespace(
            device=device, sizes=",".join(map(str, bench_opencl.DEFAULT_SIZES)),
            repeats=3 if args.quick else 5, seed=args.seed))
    return 0


def _others_busy(seconds: float = 0.5) -> float | None:
    """Cores other processes kept busy over the next `seconds` (/proc/stat's idle time
    minus this process's CPU time; None where there is no /proc). The load average lags
    by a minute: right after another run it still reads busy on a machine gone quiet."""
    from vecgrad.backends import blas_threads

    try:
        cpus, idle = blas_threads._read_proc_stat()
        own, start = time.process_time(), time.monotonic()
        time.sleep(seconds)
        cpus, idle_after = blas_threads._read_proc_stat()
        wall = time.monotonic() - start
        busy = cpus * wall - (idle_after - idle) - (time.process_time() - own)
    except (OSError, ValueError, IndexError):
        return None
    return max(0.0, busy / wall)


def _busy_machine_note() -> str | None:
    """A warning when other processes already load the machine: vecgrad then sizes its
    BLAS pool to the free cores and the references do not, so ratios favour vecgrad and
    say little about a quiet machine (the README's figures must come from one); and
    --busy's rounds measure more than one core taken. Measured over half a second where
    /proc exists (over half a core used by others), else from the load average."""
    cpus = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    others = _others_busy()
    if others is not None:
        if others <= 0.5:
            return None
        what = f"other programs used {others:.1f} of {cpus} CPUs just now"
    elif load is not None and load > 0.5 * cpus:
        what = f"load {load:.1f} on {cpus} CPUs"
    else:
        return None
    return (f"NOTE: this machine is busy before the bench starts ({what}): vecgrad gives "
            f"its BLAS pool only the free cores, the references keep theirs, so the ratios "
            f"below favour vecgrad. Re-run on a quiet machine for figures to quote.")


def _neighbour_spun(use) -> bool:
    """Whether the neighbour took about a core (0.8 or more) in busy rounds and nothing in
    quiet ones. On a quiet machine it gets 0.95-1; on one loaded by other programs it
    gets a share of a core, and the busy rounds then measure that load as much as it."""
    (q_cpu, q_wall), (b_cpu, b_wall) = use["quiet"], use["busy"]
    if b_wall <= 0:
        return False
    return b_cpu / b_wall >= 0.8 and (q_cpu / q_wall if q_wall > 0 else 0.0) <= 0.05


def _neighbour_line(use) -> str:
    """What the spinning neighbour did: about a core in busy rounds, nothing in quiet
    ones - or a warning that the busy figures do not measure what they say."""
    (q_cpu, q_wall), (b_cpu, b_wall) = use["quiet"], use["busy"]
    if b_wall <= 0:
        return "neighbour: its CPU time could not be read (no /proc here)"
    busy, quiet = b_cpu / b_wall, (q_cpu / q_wall if q_wall > 0 else 0.0)
    line = (f"neighbour: {busy:.2f} of a core in busy rounds and runs ({b_wall:.1f} s), "
            f"{quiet:.2f} in quiet ones ({q_wall:.1f} s)")
    if not _neighbour_spun(use):
        line += (" - WARNING: it took under 0.8 of a core in busy rounds, or ran in quiet "
                 "ones; the busy/quiet figures do not measure one core taken")
    return line


def _busy_table(names, results, Table, judged=True):
    """busy/quiet per engine; vecgrad's against the target only when the neighbour
    really took a core in busy rounds (`judged`), since otherwise "met" means nothing."""
    table = Table(title=f"beside a process spinning on one core (alternate rounds); target "
                        f"busy/quiet <= {BUSY_TARGET}x for vecgrad")
    for column in ("workload", "engine", "quiet", "busy", "busy/quiet", "target",
                   "BLAS threads quiet / busy"):  # (and convolutions' own threads)
        table.add_column(column)
    for name in names:
        result = results[name]
        if "skip" in result:
            continue
        for engine, figures in result.items():
            if "skip" in figures:
                continue
            threads, conv = figures.get("threads"), figures.get("conv_threads")
            chosen = (f"{_threads_text(threads['quiet'])} / {_threads_text(threads['busy'])}"
                      if threads else "")
            if conv and (conv["quiet"] or conv["busy"]):  # BLAS is one thread inside them
                chosen += (f"; convolutions {_threads_text(conv['quiet'])} / "
                           f"{_threads_text(conv['busy'])}")
            quiet = statistics.median(figures["quiet"])
            busy = statistics.median(figures["busy"])
            pairs = [b / q for q, b in zip(figures["quiet"], figures["busy"])]
            ratio = statistics.median(pairs)
            if engine == "vecgrad" and judged and at_the_line(pairs, BUSY_TARGET):
                table.caption = AT_THE_LINE
            table.add_row(WORKLOADS[name].title if engine == "vecgrad" else "",
                          ENGINE_LABEL[engine], _fmt_ms(quiet), _fmt_ms(busy),
                          f"{ratio:.2f}x",
                          (_verdict(ratio, BUSY_TARGET, pairs) if judged else
                           f"<= {BUSY_TARGET:.2f}x not judged") if engine == "vecgrad" else "-",
                          chosen)
    return table


def _train_figures(run, device):
    """`vecgrad train` timings: quiet against busy (--busy), OpenCL against cpu."""
    rows = []
    runs = TRAIN_RUNS[:1] if run.quick else TRAIN_RUNS
    if run.neighbour is not None and device == "cpu":
        for model, epochs in runs:
            quiet, busy = [], []
            for _ in range(2 if run.quick else 3):
                run.neighbour.pause()
                run._mark_neighbour("quiet")
                quiet.append(run.train("cpu", model, epochs))
                run._account_neighbour()
                run.neighbour.resume()
                run._mark_neighbour("busy")
                busy.append(run.train("cpu", model, epochs))
                run._account_neighbour()
            run.neighbour.pause()
            rows.append((f"vecgrad train --model {model} --epochs {epochs}",
                         "busy", min(busy), "quiet", min(quiet), BUSY_TARGET))
    if device.startswith("opencl"):
        for model, epochs in runs:
            rows.append(_opencl_train_row(run, device, model, epochs))
    return rows


def _opencl_train_row(run, device, model, epochs):
    """`vecgrad train` on the OpenCL device against cpu: one untimed run of each first
    (kernels compiled into PoCL's cache, files in the page cache), then rounds that
    alternate which goes first; the medians, the median of the per-round ratios, and
    the load average around the rounds. Each run is a fresh process."""
    label = f"vecgrad train --model {model} --epochs {epochs}"
    run.train(device, model, epochs)
    run.train("cpu", model, epochs)
    ours, reference, ratios, loads = [], [], [], [os.getloadavg()[0]]
    for index in range(3 if run.quick else 5):
        order = ((device, ours), ("cpu", reference))
        for where, times in (order if index % 2 == 0 else order[::-1]):
            times.append(run.train(where, model, epochs))
        ratios.append(ours[-1] / reference[-1])
        loads.append(os.getloadavg()[0])
    label += f" ({len(ours)} rounds, load {min(loads):.1f}-{max(loads):.1f})"
    return (label, device, statistics.median(ours), "cpu", statistics.median(reference),
            OPENCL_TRAIN_TARGET, statistics.median(ratios))


def _opencl_counts(device):
    """Launches, reads and writes per training batch of `vecgrad train --model M` on
    the OpenCL device: the "device_queue" entry of `vecgrad train --json`."""
    rows = []
    for model, epochs in TRAIN_RUNS[:1]:
        command = [sys.executable, "-m", "vecgrad.cli", "train", "--model", model,
                   "--epochs", str(epochs), "--device", device, "--quiet", "--json"]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            tail = " | ".join(done.stderr.strip().splitlines()[-2:])
            raise WorkerError(f"{' '.join(command[2:])} failed ({done.returncode}): {tail}")
        queue = json.loads(done.stdout.strip().splitlines()[-1])["device_queue"]
        rows.append((model, epochs, queue))
    return rows


def _train_table(rows, Table, judged=True):
    table = Table(title="whole `vecgrad train ... --quiet` commands (wall seconds, start-up "
                        "and data loading included; busy/quiet: best of the runs; OpenCL/cpu: "
                        "medians after one untimed run each, ratio = median of paired rounds)")
    for column in ("run", "measured", "seconds", "reference", "seconds ", "ratio", "target"):
        table.add_column(column)
    for label, what, seconds, ref_what, ref_seconds, target, *paired in rows:
        ratio = paired[0] if paired else seconds / ref_seconds
        verdict = _verdict(ratio, target) if judged or what != "busy" else \
            f"<= {target:.2f}x not judged"
        table.add_row(label, what, f"{seconds:.2f}", ref_what, f"{ref_seconds:.2f}",
                      f"{ratio:.2f}x", verdict)
    return table


def _counts_table(rows, Table):
    table = Table(title="OpenCL queue work per training batch of `vecgrad train` "
                        "(evaluation included; independent of the machine's load)")
    for column in ("run", "batches", "kernel launches", "host reads", "uploads",
                   "blocking uploads", "waits"):
        table.add_column(column)
    for model, epochs, queue in rows:
        batches = max(queue["training_batches"], 1)
        per = {name: value / batches for name, value in queue.items()}
        table.add_row(f"--model {model} --epochs {epochs}", str(queue["training_batches"]),
                      f"{per['launches']:.1f}", f"{per['reads']:.2f}", f"{per['writes']:.2f}",
                      f"{per['blocking_writes']:.2f}", f"{per['waits']:.2f}")
    return table
