"""One engine of the bench in a process of its own: `python -m vecgrad.bench.worker ENGINE
DEVICE`, driven by the bench (timing.Worker) over stdin/stdout, one JSON object a line.

A process per engine keeps each engine's thread pools (numpy's OpenBLAS threads, torch's
OpenMP threads) and allocator state away from the others: in one process, the threads a
library leaves spinning after its call slow whatever runs next (measured: PyTorch's MLP
step 12-15 ms right after numpy's, 7.1 ms alone).

Requests and replies:
  {"op": "info"}                          -> versions, thread pools, vecgrad's BLAS policy
                                             and host memory (the hand numpy worker's too:
                                             it runs with vecgrad's malloc thresholds)
  {"op": "setup", "workload", "seed", "dtype"} -> {"loss", "seconds"} or {"skip": reason}
  {"op": "time", "workload", "calls", "warm_s"} -> {"times": [seconds per call, ...]}
                                             after untimed calls for warm_s seconds (at
                                             least one: it absorbs the switch of process);
                                             vecgrad adds "blas": {threads: products} of
                                             its timed calls (the BLAS policy's choices)
  {"op": "memory", "workload"}            -> {"bytes": peak traced bytes of one step}
  {"op": "quit"}
Errors come back as {"error": "..."}; the worker stays up.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback


def _torch_threads(torch):
    # Compare like with like: when numpy's BLAS is limited by the environment, so is torch.
    limit = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
    if limit and limit.isdigit() and int(limit) > 0:
        torch.set_num_threads(int(limit))


def _info(engine, device):
    import numpy as np

    info = {"engine": engine, "device": device, "numpy": np.__version__, "pid": os.getpid()}
    try:
        import threadpoolctl

        info["pools"] = [{k: lib.get(k) for k in ("internal_api", "version", "num_threads",
                                                   "threading_layer", "architecture")}
                         for lib in threadpoolctl.threadpool_info()]
    except ImportError:
        info["pools"] = None
    if engine == "torch":
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    if engine == "vecgrad":
        import vecgrad
        from vecgrad.backends import blas_threads, host_memory

        vecgrad.get_backend("cpu")  # the numpy backend sets up host memory on creation
        info["vecgrad_blas"] = blas_threads.describe()
        info["vecgrad_memory"] = host_memory.describe()
    if engine == "numpy":
        from vecgrad.backends import host_memory

        info["numpy_memory"] = host_memory.describe()
    return info


class _Worker:
    def __init__(self, engine, device):
        self.engine = engine
        self.device = device
        self.steps = {}
        if engine == "torch":
            import torch

            _torch_threads(torch)
        if engine == "numpy":
            # Like with like: the hand-written step runs with the malloc thresholds the
            # numpy backend sets for vecgrad (host_memory). Without them glibc's sliding
            # mmap threshold left the float64 step faulting in ~3,500 pages a step in some
            # processes and not in others (31.8 ms against 21.4-22.5 ms, 2026-12-03 17:05
            # UTC): a reference that jumps between two speeds from one run to the next.
            from vecgrad.backends import host_memory

            host_memory.keep_freed_memory()

    def setup(self, workload, seed=0, dtype=None):
        from vecgrad.bench.workloads import WORKLOADS, make_step, missing_feature

        if self.engine == "vecgrad":
            missing = missing_feature(WORKLOADS[workload])
            if missing:
                return {"skip": missing}
        if self.engine == "torch":
            try:
                import torch  # noqa: F401
            except ImportError:
                return {"skip": "torch not installed"}
        try:
            step = make_step(workload, self.engine, self.device, dtype, seed)
        except NotImplementedError as exc:
            return {"skip": str(exc)}
        loss = step()  # the first step's loss: every engine starts from the same weights
        start = time.perf_counter()
        step()
        seconds = time.perf_counter() - start
        self.steps[workload] = step
        return {"loss": loss, "seconds": seconds}

    def time(self, workload, calls, warm_s=0.0):
        step = self.steps[workload]
        # Untimed: absorbs the switch from another process (caches, spinning pools). With
        # warm_s, untimed steps go on that long: a process that has just been resumed
        # has run for no time beside its neighbour, and vecgrad's BLAS policy needs a
        # window of work to see the cores it is left (the bench's --busy mode).
        start = time.perf_counter()
        step()
        while time.perf_counter() - start < float(warm_s):
            step()
        chosen = self._blas_chosen()
        times = []
        for _ in range(int(calls)):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        reply = {"times": times}
        if chosen is not None:  # how many large products ran on how many BLAS threads,
            after = self._blas_chosen()  # and convolutions on how many of their own
            for kind in ("blas", "conv"):
                before, now = chosen[kind], after[kind]
                reply[kind] = {str(k): now[k] - before.get(k, 0) for k in now
                               if now[k] != before.get(k, 0)}
        return reply

    def _blas_chosen(self):
        if self.engine != "vecgrad":
            return None
        from vecgrad.backends import blas_threads

        policy = blas_threads.policy()
        return {"blas": dict(policy.chosen), "conv": dict(policy.conv_chosen)}

    def memory(self, workload):
        from vecgrad.bench.timing import peak_memory

        return {"bytes": peak_memory(self.steps[workload])}


def serve(engine: str, device: str, requests, replies) -> None:
    """Answer requests (an iterable of JSON lines) on `replies` until quit or EOF."""
    worker = None
    for line in requests:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            op = request.pop("op")
            if op == "quit":
                break
            if worker is None:
                worker = _Worker(engine, device)
            if op == "info":
                reply = _info(engine, device)
            elif op in ("setup", "time", "memory"):
                reply = getattr(worker, op)(**request)
            else:
                reply = {"error": f"unknown request {op!r}"}
        except Exception as exc:  # report, keep serving: the bench prints it in the table
            traceback.print_exc(file=sys.stderr)
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] not in ("vecgrad", "numpy", "torch"):
        print("usage: python -m vecgrad.bench.worker {vecgrad,numpy,torch} DEVICE",
              file=sys.stderr)
        return 2
    # Replies go to the real stdout; anything else printed lands on stderr.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr
    serve(argv[0], argv[1], sys.stdin, replies)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
