"""Interrupts and saves: a signal during a save finishes it, the summary says what the
file holds, SIGTERM stops like Ctrl-C with the exact resume command, leftovers of killed
saves are removed, write problems name the checkpoint (before training, where possible),
and resuming a run that ended follows one stated rule."""

import errno
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

import vecgrad
from vecgrad import checkpoint
from vecgrad.checkpoint import CheckpointError
from vecgrad.cli import main
from vecgrad.train import RunConfig
from vecgrad.train.runner import run

from . import hostile


@pytest.fixture(autouse=True)
def _python_handles_ctrl_c():
    """These tests send SIGINT to this process. A suite started in the background by a
    non-interactive shell (`python -m pytest &`, nohup) inherits SIGINT ignored, as
    POSIX says, and Python then never installs its KeyboardInterrupt handler; each test
    here gets it back, and the disposition it found afterwards."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _savez_that_signals(monkeypatch, number, on_call=1):
    """np.savez that sends `number` to this process half-way through its `on_call`th
    write, then finishes writing."""
    real, calls = np.savez, []

    def savez(stream, **members):
        calls.append(1)
        if len(calls) == on_call:
            stream.write(b"")
            os.kill(os.getpid(), number)
            time.sleep(0.01)
        return real(stream, **members)

    monkeypatch.setattr(checkpoint.np, "savez", savez)
    return calls


def test_ctrl_c_during_a_save_finishes_the_save_first(tmp_path, monkeypatch):
    path = tmp_path / "state.npz"
    checkpoint.save({"epoch": 1}, path)
    _savez_that_signals(monkeypatch, signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save({"epoch": 2, "w": np.arange(3.0)}, path)
    monkeypatch.undo()
    assert checkpoint.load(path)["epoch"] == 2  # complete, and the new one
    assert os.listdir(tmp_path) == ["state.npz"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_ctrl_c_during_a_save_rolls_it_back(tmp_path, monkeypatch):
    path = tmp_path / "state.npz"
    checkpoint.save({"epoch": 1}, path)
    real = np.savez

    def twice(stream, **members):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)  # raises here: the save is abandoned
        time.sleep(0.01)
        return real(stream, **members)

    monkeypatch.setattr(checkpoint.np, "savez", twice)
    with pytest.raises(checkpoint.SaveAbandoned):
        checkpoint.save({"epoch": 2}, path)
    monkeypatch.undo()
    assert checkpoint.load(path)["epoch"] == 1  # the old file, intact
    assert os.listdir(tmp_path) == ["state.npz"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_the_summary_says_what_the_file_holds_after_ctrl_c_in_a_save(tmp_path, monkeypatch):
    path = tmp_path / "run.npz"
    _savez_that_signals(monkeypatch, signal.SIGINT, on_call=2)  # during epoch 2's save
    result = run(RunConfig(dataset="xor", model="mlp:4", epochs=5, checkpoint=str(path)))
    monkeypatch.undo()
    assert result.interrupted and len(result.history.train_loss) == 2
    state = vecgrad.load(path)
    assert state["epoch"] == 2 and result.trainer.saved == (2, state["early_stopping"]
                                                             ["best_epoch"])
    assert f"{path} holds 2 epoch(s)" in result.trainer.checkpoint_summary()


def test_sigterm_stops_like_ctrl_c_and_names_the_resume_command(tmp_path):
    path = tmp_path / "my run.npz"
    command = [sys.executable, "-m", "vecgrad.cli", "train", "--dataset", "xor", "--model",
               "mlp:4", "--epochs", "400", "--plain", "--checkpoint", str(path)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path)
    try:
        for line in proc.stdout:
            if line.startswith("epoch   2/"):
                break
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err  # 128 + SIGTERM, as a shell reports a kill
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    match = re.fullmatch(r"vecgrad train: stopped by SIGTERM; (.*) holds (\d+) epoch\(s\), best "
                         r"epoch \d+; continue with: (vecgrad train --resume .*)", last)
    assert match, last
    held = int(match.group(2))
    assert vecgrad.load(path)["epoch"] == held >= 2
    assert shlex.split(match.group(3))[3] == str(path)  # quoted: the space survives
    # the exact command works (a few more epochs so the test stays short)
    argv = shlex.split(match.group(3))[1:] + ["--epochs", str(held + 1), "--quiet"]
    assert main(argv) == 0 and vecgrad.load(path)["epoch"] == held + 1


def test_leftover_temp_files_of_killed_saves_are_removed(tmp_path):
    path = tmp_path / "run.npz"
    old = time.time() - 60
    stale = tmp_path / ".run.npz.ab12_xyz.tmp"
    fresh = tmp_path / ".run.npz.cd34_xyz.tmp"
    foreign = [tmp_path / ".other.npz.ab12_xyz.tmp", tmp_path / ".run.npz.ABCDEFGH.tmp",
               tmp_path / "run.npz.ab12_xyz.tmp"]
    for leftover in (stale, fresh, *foreign):
        leftover.write_bytes(b"x" * 1000)
        os.utime(leftover, (old, old))
    os.utime(fresh, None)  # a save that may still be running
    locked = tmp_path / ".run.npz.ef56_xyz.tmp"
    locked.write_bytes(b"x")
    os.utime(locked, (old, old))
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time; f = open(sys.argv[1], 'rb'); "
        "fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)"),
        str(locked)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        checkpoint.save({"epoch": 1}, path)
    finally:
        holder.kill()
    left = set(os.listdir(tmp_path))
    assert stale.name not in left
    assert {fresh.name, locked.name, *(f.name for f in foreign), "run.npz"} == left


def test_a_full_disk_names_the_checkpoint_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "big.npz"
    code = f"""
    import signal, resource
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
    import numpy as np
    from vecgrad import checkpoint
    try:
        checkpoint.save({{"w": np.zeros(1_000_000)}}, {str(target)!r})
    except checkpoint.CheckpointError as exc:
        print("CheckpointError: " + str(exc))
    """
    out = hostile.run_limited(code)
    assert out.stdout.startswith(f"CheckpointError: cannot save to {target}: File too large")
    assert os.listdir(tmp_path) == []


def test_an_unwritable_folder_is_found_before_training(monkeypatch, tmp_path, capsys):
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    status = main(["train", "--dataset", "xor", "--checkpoint", str(tmp_path / "r.npz")])
    captured = capsys.readouterr()
    assert status == 2 and "epoch" not in captured.out
    assert captured.err.strip() == (f"vecgrad train: error: --checkpoint {tmp_path / 'r.npz'}: "
                                    f"cannot write in {tmp_path} (Permission denied)")


# ------------------------------------------------------------- resuming a run that ended
@pytest.fixture()
def stopped_early(tmp_path):
    """A 3-epoch xor run whose checkpoint says it stopped early (patience 2, 2 bad)."""
    path = tmp_path / "run.npz"
    run(RunConfig(dataset="xor", model="mlp:4", epochs=3, checkpoint=str(path)))
    state = vecgrad.load(path)
    state["config"]["patience"], state["config"]["epochs"] = 2, 10
    state["early_stopping"]["bad_epochs"] = 2
    vecgrad.save(state, path)
    return path


def test_an_early_stopped_run_says_how_to_continue(stopped_early, capsys):
    assert main(["train", "--resume", str(stopped_early)]) == 2
    err = capsys.readouterr().err
    assert "stopped early after epoch 3 (no better validation loss for 2 epochs" in err
    assert "pass --patience N with N > 2 (0 = off), or --epochs N to restart the count" in err


@pytest.mark.parametrize("flags, epochs", [(["--patience", "0"], 10),
                                           (["--epochs", "5"], 5)])
def test_more_patience_or_epochs_continue_an_early_stopped_run(stopped_early, capsys,
                                                               flags, epochs):
    assert main(["train", "--resume", str(stopped_early), "--quiet", *flags]) == 0
    capsys.readouterr()
    assert vecgrad.load(stopped_early)["epoch"] == epochs


def test_a_finished_run_needs_more_epochs(tmp_path, capsys):
    path = tmp_path / "run.npz"
    run(RunConfig(dataset="xor", model="mlp:4", epochs=2, checkpoint=str(path)))
    assert main(["train", "--resume", str(path)]) == 2
    assert ("the run has already trained 2 epochs and it finished all 2 epochs; pass --epochs "
            "N with N > 2") in capsys.readouterr().err


def test_the_summary_line_says_what_the_checkpoint_holds(capsys, tmp_path):
    import json

    path = tmp_path / "run.npz"
    assert main(["train", "--dataset", "xor", "--model", "mlp:4", "--epochs", "2", "--quiet",
                 "--checkpoint", str(path)]) == 0
    best = vecgrad.load(path)["early_stopping"]["best_epoch"]
    assert capsys.readouterr().out.strip().endswith(
        f"; {path} holds 2 epoch(s), best epoch {best}")
    assert main(["train", "--resume", str(path), "--epochs", "3", "--json", "--quiet"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    state = vecgrad.load(path)
    assert metrics["checkpoint_holds"] == {"epochs": state["epoch"],
                                           "best_epoch": state["early_stopping"]["best_epoch"]}


def test_a_rolled_back_save_is_what_the_summary_reports(tmp_path, monkeypatch):
    path = tmp_path / "run.npz"
    real, calls = np.savez, []

    def savez(stream, **members):
        calls.append(1)
        if len(calls) == 2:  # epoch 2's save: Ctrl-C twice abandons it
            for _ in range(2):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.01)
        return real(stream, **members)

    monkeypatch.setattr(checkpoint.np, "savez", savez)
    result = run(RunConfig(dataset="xor", model="mlp:4", epochs=5, checkpoint=str(path)))
    monkeypatch.undo()
    assert result.interrupted and vecgrad.load(path)["epoch"] == 1
    assert result.trainer.saved[0] == 1
    assert f"{path} holds 1 epoch(s)" in result.trainer.checkpoint_summary()
