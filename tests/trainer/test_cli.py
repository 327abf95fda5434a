"""`vecgrad train` / `vecgrad evaluate` end to end through main(argv)."""

import json
import subprocess
import sys

import numpy as np
import pytest

import vecgrad
import vecgrad.cli as cli
from vecgrad.cli import main

from .test_idx import write_mnist


def run_json(capsys, *argv):
    status = main(["train", "--json", "--quiet", *argv])
    out = capsys.readouterr().out
    return status, json.loads(out)


@pytest.mark.parametrize("dataset", ["moons", "circles", "spirals", "xor", "sine"])
def test_train_each_toy_dataset(capsys, dataset):
    status, metrics = run_json(capsys, "--dataset", dataset, "--epochs", "3",
                               "--model", "mlp:32", "--lr", "0.01")
    assert status == 0 and metrics["epochs"] == 3 and metrics["dataset"] == dataset
    assert len(metrics["history"]["val_loss"]) == 3
    if dataset == "sine":
        assert metrics["test"]["accuracy"] is None and metrics["test"]["loss"] < 0.5
    else:
        assert metrics["test"]["accuracy"] > 0.6
        confusion = np.array(metrics["test"]["confusion"])
        assert confusion.sum() == metrics["test"]["samples"]
        assert np.trace(confusion) / confusion.sum() == pytest.approx(
            metrics["test"]["accuracy"])


@pytest.mark.slow
def test_default_run_reaches_97_percent(capsys):
    status, metrics = run_json(capsys)
    assert status == 0 and metrics["dataset"] == "digits"
    assert metrics["test"]["accuracy"] >= 0.97
    print(f"default digits run: {metrics['test']['accuracy']:.4f} test accuracy in "
          f"{metrics['seconds']:.1f}s")


def test_plain_output_when_not_a_terminal(capsys):
    status = main(["train", "--dataset", "xor", "--epochs", "2", "--show", "all"])
    out = capsys.readouterr().out
    assert status == 0 and "\x1b[" not in out
    lines = out.splitlines()
    assert lines[0].startswith("training: 700 train / 150 val samples")
    assert any(line.startswith("epoch   2/2  train loss") for line in lines)
    assert any("grad norm" in line and "Linear" in line for line in lines)
    assert any(line.startswith("confusion matrix") for line in lines)
    assert lines[-1].startswith("xor mlp:128,64: test accuracy")


def test_options_reach_the_model(capsys):
    status, metrics = run_json(capsys, "--dataset", "moons", "--epochs", "2", "--model",
                               "mlp:8,8", "--activation", "tanh", "--optimizer", "nesterov",
                               "--lr", "0.05", "--dropout", "0.1", "--weight-decay", "1e-4",
                               "--l1", "1e-5", "--schedule", "step:1:0.5", "--normalize",
                               "minmax", "--batch-size", "64", "--loss", "bce")
    assert status == 0
    assert metrics["history"]["lr"] == [0.05, 0.025]
    assert metrics["settings"]["activation"] == "tanh" and metrics["settings"]["loss"] == "bce"


def test_cnn_on_digits_and_evaluate(capsys, tmp_path):
    path = tmp_path / "cnn.npz"
    status, metrics = run_json(capsys, "--model", "cnn:4,8", "--epochs", "2",
                               "--checkpoint", str(path))
    assert status == 0
    assert main(["evaluate", str(path), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["accuracy"] == metrics["test"]["accuracy"]
    assert evaluated["confusion"] == metrics["test"]["confusion"]
    assert main(["evaluate", str(path), "--split", "val"]) == 0
    out = capsys.readouterr().out
    assert "val: loss" in out and "confusion matrix" in out


def test_evaluate_repeats_the_runs_losses_to_the_last_digit(capsys, tmp_path):
    # evaluate summed float32 batch losses over batches of 256, the run over its own 32:
    # the validation loss differed from the run's best in the 7th digit
    path = tmp_path / "moons.npz"
    _, metrics = run_json(capsys, "--dataset", "moons", "--epochs", "2", "--checkpoint",
                          str(path))
    for split, expected in (("val", metrics["best_val_loss"]),
                            ("test", metrics["test"]["loss"])):
        assert main(["evaluate", str(path), "--split", split, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["loss"] == expected


def test_resume_equals_an_uninterrupted_run(capsys, tmp_path):
    flags = ["--dataset", "spirals", "--dropout", "0.2", "--optimizer", "momentum",
             "--schedule", "step:2:0.5", "--model", "mlp:32,32"]
    _, straight = run_json(capsys, *flags, "--epochs", "5")
    half = tmp_path / "half.npz"
    run_json(capsys, *flags, "--epochs", "2", "--checkpoint", str(half))
    status, resumed = run_json(capsys, "--resume", str(half), "--epochs", "5")
    assert status == 0
    assert resumed["history"]["val_loss"] == straight["history"]["val_loss"]
    assert resumed["test"] == straight["test"]
    assert vecgrad.load(half)["epoch"] == 5  # --resume writes back to its checkpoint


def test_resume_rejects_conflicting_flags(capsys, tmp_path):
    path = tmp_path / "run.npz"
    run_json(capsys, "--dataset", "xor", "--epochs", "1", "--checkpoint", str(path))
    status = main(["train", "--resume", str(path), "--model", "mlp:4"])
    err = capsys.readouterr().err
    assert status == 2 and "--model mlp:4 (checkpoint: mlp:128,64)" in err


def test_corrupted_checkpoints_are_clear_errors(capsys, tmp_path):
    good = tmp_path / "good.npz"
    run_json(capsys, "--dataset", "xor", "--epochs", "1", "--checkpoint", str(good))
    data = good.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a checkpoint at all")
    foreign = tmp_path / "foreign.npz"
    vecgrad.save({"weights": np.zeros(3)}, foreign)
    for path, expected in ((truncated, str(truncated)), (garbage, str(garbage)),
                           (foreign, "not a `vecgrad train` checkpoint")):
        for argv in (["evaluate", str(path)], ["train", "--resume", str(path)]):
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert expected in err and "Traceback" not in err


def test_divergence_exits_with_a_message(capsys):
    status = main(["train", "--optimizer", "sgd", "--lr", "1e4", "--epochs", "2"])
    out = capsys.readouterr().out
    assert status == 3
    assert "training diverged" in out and "NaN/inf" in out and "lower --lr" in out


def test_mnist_from_idx_files(capsys, tmp_path):
    write_mnist(tmp_path / "mnist", n_train=120, n_test=20)
    path = tmp_path / "mnist.npz"
    status, metrics = run_json(capsys, "--dataset", "mnist", "--data-dir",
                               str(tmp_path / "mnist"), "--epochs", "1", "--model", "mlp:8",
                               "--checkpoint", str(path))
    assert status == 0 and metrics["test"]["samples"] == 20
    # evaluate finds the files through the folder recorded in the checkpoint
    assert main(["evaluate", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == metrics["test"]["accuracy"]


def test_missing_mnist_files_are_named(capsys, tmp_path):
    status = main(["train", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 2
    assert "train-images-idx3-ubyte" in err and "t10k-labels-idx1-ubyte" in err
    assert str(tmp_path) in err


@pytest.mark.parametrize("argv, expected", [
    (["--activation", "swish"], "--activation 'swish': choose one of"),
    (["--model", "transformer:3"], "unknown architecture 'transformer'"),
    (["--dataset", "moons", "--model", "rnn:3"], "needs sequence inputs"),
    (["--model", "mlp:a,b"], "sizes must be integers"),
    (["--dataset", "moons", "--model", "cnn"], "needs image inputs"),
    (["--loss", "bce"], "needs two classes; digits has 10"),
    (["--dataset", "sine", "--loss", "cross_entropy"], "regression dataset"),
    (["--dropout", "1.5"], "--dropout must be in [0, 1)"),
    (["--schedule", "cosine"], "--schedule 'cosine'"),
    (["--device", "tpu"], "--device 'tpu'"),
    (["--model", "mlp:"], "--model 'mlp:': sizes must be integers"),
    (["--model", "mlp:8,,8"], "--model 'mlp:8,,8': sizes must be integers"),
    (["--lr", "inf"], "--lr must be a finite number > 0, got inf"),
    (["--lr", "-0.1"], "--lr must be a finite number > 0, got -0.1"),
    (["--weight-decay", "inf"], "--weight-decay must be a finite number >= 0"),
    (["--seed", "-1"], "--seed must be in 0..2**63-1, got -1"),
    (["--batch-size", "0"], "--batch-size must be in 1..16777216, got 0"),
    (["--checkpoint", "/no/such/folder/run.npz"], "the folder /no/such/folder does not exist"),
    # an empty --data-dir searched "." (train) or was ignored (evaluate)
    (["--dataset", "mnist", "--data-dir", ""], "argument --data-dir: give a folder name"),
    # argparse's own complaints: one line, no usage dump
    (["--dataset", "imagenet"], "argument --dataset: invalid choice: 'imagenet'"),
    (["--epochs", "ten"], "argument --epochs: invalid int value: 'ten'"),
    (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
])
def test_bad_flags_are_reported(capsys, argv, expected):
    assert main(["train", "--epochs", "1", *argv]) == 2
    captured = capsys.readouterr()
    assert expected in captured.err and "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    assert captured.out == ""


def test_resume_needs_more_epochs_than_done(capsys, tmp_path):
    path = tmp_path / "run.npz"
    run_json(capsys, "--dataset", "xor", "--epochs", "2", "--checkpoint", str(path))
    assert main(["train", "--resume", str(path), "--epochs", "2"]) == 2
    assert "already trained 2 epochs and --epochs 2 asks for no more; pass --epochs N with " \
        "N > 2" in (
        capsys.readouterr().err)


def test_missing_delegated_module_is_a_clear_error(capsys, monkeypatch):
    monkeypatch.setitem(cli.COMMANDS, "devices", ("vecgrad.no_such_module", "list devices"))
    assert main(["devices"]) == 2
    assert "vecgrad.no_such_module is missing" in capsys.readouterr().err


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "train" in capsys.readouterr().out


def test_train_never_imports_opencl():
    code = ("import sys; from vecgrad.cli import main; "
            "status = main(['train', '--dataset', 'xor', '--epochs', '1', '--quiet']); "
            "print(status, 'pyopencl' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.split()[-2:] == ["0", "False"], result.stderr


def test_train_on_opencl_when_available(capsys):
    try:
        vecgrad.get_backend("opencl")
    except Exception as exc:  # no OpenCL here: the CPU tests cover the logic
        pytest.skip(f"no OpenCL device: {exc}")
    status, metrics = run_json(capsys, "--dataset", "moons", "--epochs", "2", "--model",
                               "mlp:16", "--device", "opencl")
    assert status == 0 and metrics["device"].startswith("opencl")
    assert metrics["test"]["accuracy"] > 0.6


def test_evaluate_a_checkpoint_that_leaves_the_loss_unset(capsys, tmp_path):
    # The schema accepts config['loss'] = None (the flag's "task default"); evaluate
    # passed None on to the Trainer and ended in a TypeError traceback.
    path = tmp_path / "run.npz"
    status, metrics = run_json(capsys, "--dataset", "xor", "--model", "mlp:8", "--epochs",
                               "1", "--checkpoint", str(path))
    state = vecgrad.load(path)
    state["config"]["loss"] = None
    vecgrad.save(state, path)
    assert main(["evaluate", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["loss"] == pytest.approx(metrics["test"]["loss"])


@pytest.mark.parametrize("columns", ["20", "80"])
def test_devices_table_in_a_narrow_terminal_cuts_nothing(capsys, monkeypatch, columns):
    # rich cut the cells to fit: at 80 columns PoCL's device name read 'pthread-A…', at
    # 20 the table showed empty cells only.
    monkeypatch.setenv("COLUMNS", columns)
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert "…" not in out
    assert "cpu" in out.split() and "numpy" in out.split()
