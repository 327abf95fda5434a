"""`vecgrad train` on OpenCL: what one training batch asks of the queue (issue 12), and
the bench's OpenCL-against-cpu row. Nothing here is timed."""

import pytest

import json
import subprocess
import sys

from vecgrad.bench import suite
from vecgrad.train.runner import RunConfig, run


def test_a_training_batch_reads_nothing_and_launches_few_kernels(cl_backend):
    from vecgrad.train.events import BatchEnd

    batches = []
    result = run(RunConfig(model="mlp:16", epochs=1, device=cl_backend.device),
                 views=[lambda e: batches.append(1) if isinstance(e, BatchEnd) else None],
                 layer_stats=False)
    queue = result.queue
    assert queue["training_batches"] == len(batches) > 10
    per = {name: value / queue["training_batches"] for name, value in queue.items()}
    # one read per epoch for the training figures, two for the validation, two for the
    # test split: far below one per batch
    assert queue["reads"] <= 5
    assert per["blocking_writes"] == 0 and per["waits"] == 0
    # inputs and labels of each batch, the evaluations' (one epoch: val and test weigh
    # as much as a third of the training), the parameters once
    assert per["writes"] <= 3.5
    # forward 3 (matmul with bias, relu, matmul with bias), loss 2 (cross-entropy rows
    # scaled by 1/N, their sum), backward 8 (seed, cross-entropy, 3 products, 2 bias
    # sums, relu), Adam 1, accumulated figures 5: 19 per batch, 24.2 with evaluation
    # (50 before issue 12's work, 30 before the cross-entropy mean took 2 launches)
    assert per["launches"] <= 26, per


class _FakeRun:
    quick = True

    def __init__(self, seconds):
        self.seconds, self.calls = seconds, []

    def train(self, device, model, epochs):
        self.calls.append(device)
        return self.seconds[device]


def test_the_opencl_row_warms_up_alternates_and_takes_medians(monkeypatch):
    monkeypatch.setattr(suite.os, "getloadavg", lambda: (1.25, 1.0, 1.0))
    run = _FakeRun({"opencl:0:0": 3.0, "cpu": 2.0})
    label, what, ours, ref_what, ref, target, ratio = suite._opencl_train_row(
        run, "opencl:0:0", "mlp:8", 2)
    # one untimed run each, then 3 rounds whose order alternates
    assert run.calls == ["opencl:0:0", "cpu", "opencl:0:0", "cpu", "cpu", "opencl:0:0",
                         "opencl:0:0", "cpu"]
    assert (ours, ref, ratio, target) == (3.0, 2.0, 1.5, suite.OPENCL_TRAIN_TARGET)
    assert "3 rounds, load 1.2-1.2" in label


def test_train_table_prints_the_paired_ratio_and_verdict(capsys):
    from rich.console import Console
    from rich.table import Table

    rows = [("train a", "opencl:0:0", 3.0, "cpu", 2.0, 2.0, 1.4),
            ("train b", "busy", 3.0, "quiet", 1.0, 1.5)]
    Console(width=200).print(suite._train_table(rows, Table))
    out = capsys.readouterr().out
    assert "1.40x" in out and "met" in out and "3.00x" in out and "missed" in out


def test_train_json_reports_the_device_queue(cl_backend, tmp_path):
    out = subprocess.run([sys.executable, "-m", "vecgrad.cli", "train", "--model", "mlp:8",
                          "--epochs", "1", "--device", cl_backend.device, "--quiet", "--json"],
                         capture_output=True, text=True, timeout=300, check=True)
    queue = json.loads(out.stdout.strip().splitlines()[-1])["device_queue"]
    assert set(queue) == {"launches", "reads", "writes", "blocking_writes", "waits",
                          "training_batches"}
    assert queue["training_batches"] > 0 and queue["launches"] > queue["training_batches"]


def test_cpu_runs_have_no_device_queue():
    assert run(RunConfig(model="mlp:8", epochs=1, device="cpu"), layer_stats=False).queue is None
