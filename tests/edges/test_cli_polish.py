"""The command lines behave like Unix tools: SIGPIPE, exact flags with suggestions,
--version, conflicts reported, messages that do not mislead, JSON that is JSON."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import scalargrad.cli as scalar_cli
from scalargrad.expr import build
from vecgrad.cli import main
from vecgrad.data import TensorDataset
from vecgrad.train.views import PlainView


def test_vecgrad_train_into_head_stops_quietly(tmp_path):
    script = (f"{sys.executable} -m vecgrad.cli train --dataset xor --epochs 200 --plain "
              "2>err.txt | head -1; echo status ${PIPESTATUS[0]}")
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("training: 700 train") and lines[-1] == "status 141"
    assert (tmp_path / "err.txt").read_text() == ""  # no "Broken pipe", no traceback


@pytest.mark.parametrize("command", ["-m tutorials", "-m tutorials 3 --no-pause",
                                     "-m scalargrad.cli graph 'x*y + x' x=1 y=2"])
def test_rich_output_into_a_closed_pipe_stops_quietly(tmp_path, command):
    # rich turns a closed pipe into exit status 1; these entry points say 141 (SIGPIPE).
    # `true` exits without reading, long before Python's first write: no race.
    script = (f"{sys.executable} {command} 2>err.txt | true; "
              "echo status ${PIPESTATUS[0]}")
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path, env={**os.environ, "COLUMNS": "80"})
    assert out.stdout.strip().splitlines()[-1] == "status 141"
    assert (tmp_path / "err.txt").read_text() == ""


def test_scalargrad_dot_into_a_missing_program(tmp_path):
    script = (f"{sys.executable} -m scalargrad.cli graph 'x*y' x=1 y=2 --dot 2>err.txt | "
              "no_such_program_xyz 2>/dev/null; echo status ${PIPESTATUS[0]}")
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60,
                         cwd=tmp_path)
    assert out.stdout.strip().splitlines()[-1] in ("status 141", "status 0")
    assert "Traceback" not in (tmp_path / "err.txt").read_text()


@pytest.mark.parametrize("argv, expected", [
    (["train", "--epoch", "5"], "unrecognized arguments: --epoch 5; did you mean --epochs?"),
    (["train", "--optimiser", "adam"], "did you mean --optimizer? (see vecgrad train --help)"),
    (["evaluate", "x.npz", "--splt", "val"], "did you mean --split?"),
])
def test_vecgrad_flags_are_exact_with_suggestions(capsys, argv, expected):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, expected", [
    (["graph", "x*y", "x=1", "y=2", "--trac"], "did you mean --trace?"),
    (["graph", "x*y", "x=1", "y=2", "--do"], "unrecognized arguments: --do"),
    (["bench", "--point", "3"], "did you mean --points?"),
    (["graph", "x*y", "x=1", "y=2", "--dot", "--trace"],
     "--dot prints only the graph's DOT text; it cannot be combined with --trace"),
    (["graph", "x", "x=1", "--svg", "--order", "2"], "cannot be combined with --order 2"),
])
def test_scalargrad_flags_and_conflicts(capsys, argv, expected):
    assert scalar_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and err.startswith("scalargrad: error:")


@pytest.mark.parametrize("entry, name", [(main, "vecgrad"), (scalar_cli.main, "scalargrad")])
def test_version(capsys, entry, name):
    from importlib import metadata

    assert entry(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"{name} {metadata.version('gradlab')} (gradlab)"


def test_a_flat_3000_term_sum_is_not_nested_too_deeply():
    root, inputs = build("+".join(["x"] * 3000), {"x": 1.5})
    root.backward()
    assert root.data == 4500.0 and inputs["x"].grad == 3000.0


def test_huge_weight_decay_is_named_not_suggested(capsys):
    assert main(["train", "--dataset", "xor", "--weight-decay", "1e300", "--quiet"]) == 3
    err = capsys.readouterr().err
    assert "the penalty --weight-decay 1e+300 is far too large" in err
    assert "add --weight-decay" not in err


def test_the_divergence_hint_does_not_suggest_the_default(capsys):
    assert main(["train", "--dataset", "xor", "--lr", "1e6", "--optimizer", "sgd",
                 "--quiet"]) == 3
    err = capsys.readouterr().err
    assert "lower --lr" in err and "--normalize zscore" not in err
    assert main(["train", "--dataset", "xor", "--lr", "1e6", "--optimizer", "sgd",
                 "--normalize", "none", "--quiet"]) == 3
    assert "use --normalize zscore" in capsys.readouterr().err


def _nan_validation_split(monkeypatch):
    """xor whose validation inputs hold one NaN (training data stays finite)."""
    import vecgrad.data as data

    real = data.load_dataset

    def load(name, data_dir=None, n=None):
        bundle = real(name, data_dir)
        inputs = bundle.val.inputs.copy()
        inputs[5, 0] = np.nan
        bundle.val = TensorDataset(inputs, bundle.val.targets)
        return bundle

    monkeypatch.setattr(data, "load_dataset", load)


def test_nan_in_the_validation_split_is_diagnosed(capsys, monkeypatch):
    _nan_validation_split(monkeypatch)
    assert main(["train", "--dataset", "xor", "--json", "--quiet"]) == 3
    captured = capsys.readouterr()
    assert "validation loss is nan after epoch 1: the validation split itself contains " \
           "NaN/inf (first in sample 5 of the split)" in captured.err
    metrics = json.loads(captured.out, parse_constant=lambda name: pytest.fail(name))
    assert metrics["stop_reason"] == "diverged" and metrics["test"] is None


def test_json_has_null_where_a_number_is_not_finite(capsys, tmp_path, monkeypatch):
    path = tmp_path / "run.npz"
    assert main(["train", "--dataset", "xor", "--epochs", "1", "--quiet", "--checkpoint",
                 str(path)]) == 0
    capsys.readouterr()
    _nan_validation_split(monkeypatch)
    assert main(["evaluate", str(path), "--split", "val", "--json"]) == 0
    out = capsys.readouterr().out
    metrics = json.loads(out, parse_constant=lambda name: pytest.fail(name))
    assert metrics["loss"] is None and "NaN" not in out


def test_plain_view_explains_the_mark():
    import io

    from vecgrad.train.events import FitStart

    stream = io.StringIO()
    PlainView(stream)(FitStart(3, 0, 10, 100, 20, "cpu", 50, "S"))
    assert "* = new best validation loss" in stream.getvalue()


def test_allocations_near_the_device_maximum(device):
    if device == "cpu":
        pytest.skip("an OpenCL limit")
    import vecgrad
    from vecgrad.backends.opencl_runtime import OpenCLError

    runtime = vecgrad.get_backend(device).runtime
    limit = runtime.max_alloc
    try:
        runtime.set_max_alloc(10_000)  # the pool rounds 9,990 bytes up past 10,000
        x = vecgrad.ones(2_497, device=device)
        assert (x + x).sum().item() == 2 * 2_497
        with pytest.raises(OpenCLError, match="largest single buffer is 10,000 bytes"):
            vecgrad.zeros(2_501, device=device)
    finally:
        runtime.set_max_alloc(limit)


@pytest.mark.parametrize("flags, message", [
    (["--epochs", str(10**20)], "--epochs must be in 1..10000000"),
    (["--seed", str(10**23)], "--seed must be in 0..2**63-1"),
    (["--batch-size", str(10**14)], "--batch-size must be in 1..16777216"),
    (["--model", "mlp:100000000"], "more than 268,435,456 parameters"),
])
def test_flags_stay_within_what_a_checkpoint_can_resume(capsys, flags, message):
    assert main(["train", "--dataset", "xor", "--quiet", *flags]) == 2
    assert message in capsys.readouterr().err
