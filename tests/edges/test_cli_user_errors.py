"""A new user at the command lines: Ctrl-C at any moment, bad option values, closed pipes,
an output that cannot be written or cannot encode Unicode, a closed stdin: each ends in one
line naming the problem (exit 130, 2 or 141), never a traceback or a run that fails later."""

import os
import subprocess
import sys

import pytest

import scalargrad.cli as scalar_cli
import vecgrad.cli as vecgrad_cli


def _status(entry, argv):
    """The exit status; an escaping KeyboardInterrupt fails the test, not the session."""
    try:
        return entry(argv)
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped the command line")


def test_ctrl_c_in_scalargrad_bench_is_one_line(monkeypatch, capsys):
    import scalargrad.bench

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(scalargrad.bench, "run_bench", interrupted)
    assert _status(scalar_cli.main, ["bench", "--no-micrograd"]) == 130
    assert capsys.readouterr().err == "scalargrad: interrupted\n"


def test_ctrl_c_while_a_vecgrad_command_imports_is_one_line(monkeypatch, capsys):
    def interrupted(name):
        raise KeyboardInterrupt

    monkeypatch.setattr(vecgrad_cli.importlib, "import_module", interrupted)
    assert _status(vecgrad_cli.main, ["check"]) == 130
    assert capsys.readouterr().err == "vecgrad check: interrupted\n"


def test_ctrl_c_while_the_tutorials_import_is_quiet(tmp_path):
    # Ctrl-C lands in `python -m tutorials`'s imports (most of its first second).
    script = (
        "import importlib.abc, runpy, sys\n"
        "class Interrupt(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'tutorials.registry':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "runpy.run_module('tutorials', run_name='__main__', alter_sys=True)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 130 and "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize("argv, expected", [
    (["--settle", "inf"], "--settle must be a number of seconds in 0..60, got inf"),
    (["--settle", "nan"], "--settle must be a number of seconds in 0..60, got nan"),
    (["--settle", "-1"], "--settle must be a number of seconds in 0..60, got -1.0"),
    (["--seed", "-1"], "--seed must be >= 0, got -1"),
    (["--rounds", "0"], "--rounds must be 1..1000, got 0"),
    (["--rounds", str(10**20)], "--rounds must be 1..1000, got 100000000000000000000"),
    (["--warmup", "-1"], "--warmup must be 0..1000, got -1"),
    (["--warmup", "1001"], "--warmup must be 0..1000, got 1001"),
    (["--workloads", ","], "--workloads ',' names no workload; choose from mlp,"),
    (["--workloads", ""], "--workloads '' names no workload"),
])
def test_bench_refuses_bad_values_before_it_starts(capsys, argv, expected):
    # before the fix: a traceback (inf), or errors after the machine lines, or a run of
    # no workload (or of all of them) that exited 0
    assert vecgrad_cli.main(["bench", *argv]) == 2
    captured = capsys.readouterr()
    assert expected in captured.err and len(captured.err.splitlines()) == 1
    assert captured.out == ""  # nothing measured, no machine lines


def test_check_names_a_negative_seed(capsys):
    assert vecgrad_cli.main(["check", "--seed", "-1"]) == 2
    assert capsys.readouterr().err == "vecgrad check: error: --seed must be >= 0, got -1\n"


@pytest.mark.parametrize("argv, expected", [
    (["--sizes", "abc"], "--sizes 'abc': give matrix sizes in 1..16384"),
    (["--sizes", "0"], "--sizes '0'"),
    (["--sizes", "-5"], "--sizes '-5'"),
    (["--sizes", ","], "--sizes ','"),
    (["--sizes", "100000"], "--sizes '100000'"),
    (["--repeats", "0"], "--repeats must be >= 1"),
])
def test_opencl_bench_refuses_bad_values_before_it_starts(capsys, argv, expected):
    from vecgrad.bench import opencl
    from vecgrad.entry import run_command

    assert run_command("python -m vecgrad.bench.opencl", opencl, argv) == 2
    captured = capsys.readouterr()
    assert expected in captured.err and len(captured.err.splitlines()) == 1
    assert captured.out == ""


@pytest.mark.parametrize("argv, expected", [
    (["--device", "nope"], "--device 'nope' is not a device name"),
    (["--seed", "-1"], "--seed >= 0, got 10, 2 and -1"),
    (["--repeats", "0"], "--repeats must be >= 1"),
])
def test_hvp_bench_errors_are_one_line(capsys, argv, expected):
    from vecgrad.bench import hvp

    assert hvp.main(argv) == 2  # before the fix: tracebacks from parse_device and numpy
    err = capsys.readouterr().err
    assert err.startswith("python -m vecgrad.bench.hvp: error: ") and expected in err


def test_hvp_bench_follows_the_device_rule(monkeypatch, capsys):
    from vecgrad.bench import hvp

    monkeypatch.setenv("VECGRAD_DEVICE", "nonsense")
    assert hvp.main(["--repeats", "1"]) == 2
    assert "VECGRAD_DEVICE='nonsense' (environment variable)" in capsys.readouterr().err


@pytest.mark.parametrize("expression", ["sqrt(x)", "exp(x)"])
def test_order_2_compares_infinite_hessians_honestly(capsys, expression):
    # sqrt''(0) = -inf and exp''(1e6) = inf by both routes: inf - inf is nan, and the
    # line used to claim "the same Hessian (largest difference nan)"
    value = "x=0" if expression == "sqrt(x)" else "x=1e6"
    assert scalar_cli.main(["graph", expression, value, "--order", "2"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == "forward over reverse gives the same Hessian (largest difference 0)"


def test_order_2_says_when_the_two_hessians_differ(monkeypatch, capsys):
    import scalargrad.higher

    real = scalargrad.higher.tangents
    monkeypatch.setattr(scalargrad.higher, "tangents",
                        lambda *args: [t + 1.0 for t in real(*args)])
    assert scalar_cli.main(["graph", "x**3", "x=2", "--order", "2"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == "forward over reverse gives a different Hessian (largest difference 1)"


@pytest.mark.parametrize("command", ["-m vecgrad.cli devices", "-m vecgrad.cli.devices",
                                     "-m tutorials --help"])
def test_more_output_into_a_closed_pipe_stops_quietly(tmp_path, command):
    # were: status 1 (rich's own closed-pipe exit) and, for the tutorials' usage, a
    # BrokenPipeError traceback; `true` exits before the first write, so no race
    script = f"{sys.executable} {command} 2>err.txt | true; echo status ${{PIPESTATUS[0]}}"
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert out.stdout.strip().splitlines()[-1] == "status 141"
    assert (tmp_path / "err.txt").read_text() == ""


@pytest.mark.parametrize("command", ["-m vecgrad.cli train --help",
                                     "-m vecgrad.cli train --dataset xor --epochs 1 --plain",
                                     "-m tutorials 1 --no-pause",
                                     "-m scalargrad.cli graph é*2 é=1 --dot"])
def test_an_ascii_only_output_gets_question_marks_not_a_crash(tmp_path, command):
    # λ in the help, the loss plot's dots, the lessons' '·': UnicodeEncodeError before
    # (a traceback, or "error" and exit 2 after the whole training run)
    done = subprocess.run([sys.executable, *command.split()], capture_output=True,
                          timeout=120, cwd=tmp_path, env={**os.environ,
                                                          "PYTHONIOENCODING": "ascii"})
    assert done.returncode == 0, done.stderr.decode()[-500:]
    assert b"Traceback" not in done.stderr and b"?" in done.stdout


def test_a_lesson_file_answers_help(capsys):
    from tutorials.framework import main_for
    from tutorials.registry import load_lesson

    assert main_for(load_lesson(1), ["--help"]) == 0  # was: "unknown argument(s)", 2
    assert "[--no-pause]" in capsys.readouterr().out


def test_a_lesson_file_into_a_closed_pipe_stops_quietly(tmp_path):
    import pathlib

    lesson = pathlib.Path(__file__).resolve().parents[2] / "tutorials" / "lesson01_graph.py"
    script = f"{sys.executable} {lesson} --no-pause 2>err.txt | true; echo ${{PIPESTATUS[0]}}"
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert out.stdout.strip().splitlines()[-1] == "141"  # was 1 (rich's closed-pipe exit)
    assert (tmp_path / "err.txt").read_text() == ""


def test_the_command_list_says_what_check_and_bench_compare(capsys):
    # was "check gradients and backends against each other" (it compares one device
    # with central differences) and "measure the backends against each other"
    assert vecgrad_cli.main(["--help"]) == 0
    listing = " ".join(capsys.readouterr().out.split())
    assert "check every op family's gradients against central differences on one device" \
        in listing
    assert "bench time vecgrad against hand-written numpy and PyTorch" in listing
    assert "backends against each other" not in listing


@pytest.mark.parametrize("schedule, expected", [
    ("step:a:0.5", "--schedule 'step:a:0.5': STEP_SIZE must be a whole number, got 'a'"),
    ("step:1e3:0.5", "STEP_SIZE must be a whole number, got '1e3'"),
    ("step:10:x", "--schedule 'step:10:x': GAMMA must be a number, got 'x'"),
    ("inverse:abc", "--schedule 'inverse:abc': DECAY must be a number, got 'abc'"),
])
def test_a_schedule_that_is_not_a_number_is_named(capsys, schedule, expected):
    # was: "invalid literal for int() with base 10: 'a'" (Python's words, no part named)
    assert vecgrad_cli.main(["train", "--dataset", "xor", "--epochs", "1", "--quiet",
                             "--schedule", schedule]) == 2
    err = capsys.readouterr().err
    assert expected in err and "invalid literal" not in err


@pytest.mark.parametrize("argv, expected", [
    (["train", "--dataset", "xor", "--epochs", "1", "--checkpoint", ""],
     "vecgrad train: error: --checkpoint '': give a file name\n"),
    (["train", "--dataset", "xor", "--epochs", "1", "--resume", ""],
     "vecgrad train: error: checkpoint: the file name is empty\n"),
    (["evaluate", ""], "vecgrad evaluate: error: checkpoint: the file name is empty\n"),
])
def test_an_empty_file_name_is_named_before_training(tmp_path, monkeypatch, capsys, argv,
                                                     expected):
    # was: an epoch of training, then "cannot save to <the working folder>: it is a
    # directory", or "checkpoint  does not exist" (the empty name invisible)
    monkeypatch.chdir(tmp_path)
    assert vecgrad_cli.main([*argv, "--quiet"]) == 2
    assert capsys.readouterr().err == expected


@pytest.mark.parametrize("batch_size, expected", [
    ("419", "with --batch-size 419 the last batch of each epoch holds 1 of the 1258 training "
            "samples (1258 = 3·419 + 1)"),
    ("1", "--batch-norm needs batches of 2 or more samples, got --batch-size 1"),
])
def test_batch_norm_with_a_batch_of_one_is_refused_before_training(capsys, batch_size,
                                                                   expected):
    # was: an epoch of training, then BatchNorm1d's "use a larger batch" about 419
    assert vecgrad_cli.main(["train", "--batch-norm", "--batch-size", batch_size,
                             "--epochs", "1", "--plain"]) == 2
    captured = capsys.readouterr()
    assert expected in captured.err and "epoch" not in captured.out


@pytest.mark.parametrize("settings, expected", [
    ({"epochs": "5"}, "epochs must be an int, got str '5'"),
    ({"lr": "0.1"}, "lr must be a number, got str '0.1'"),
    ({"batch_size": True}, "batch_size must be an int, got bool True"),
    ({"model": 5}, "model must be a string, got int 5"),
    ({"optimizer": "adamw"}, "--optimizer 'adamw': choose one of sgd, momentum"),
])
def test_run_config_names_a_wrong_type_from_python(settings, expected):
    # were: TypeError '<=' not supported..., KeyError 'adamw', AttributeError on 5, and
    # batch_size=True trained with batches of one
    from vecgrad.train import RunConfig
    from vecgrad.train.config import ConfigError

    with pytest.raises(ConfigError, match="^" + expected.replace("(", r"\(").replace(")", r"\)")):
        RunConfig(dataset="xor", **settings).validate()


def test_run_config_takes_numpy_numbers_as_python_ones():
    import numpy as np

    from vecgrad.train import RunConfig

    config = RunConfig(epochs=np.int64(3), lr=np.float32(0.5)).validate()
    assert type(config.epochs) is int and type(config.lr) is float and config.epochs == 3


def test_a_data_dir_that_is_not_read_is_said(tmp_path, capsys):
    # was silent: a user pointing --data-dir at their files trained on the built-in data
    note = "note: --data-dir is read only for mnist and fashion-mnist; xor is built in"
    assert vecgrad_cli.main(["train", "--dataset", "xor", "--epochs", "1", "--quiet",
                             "--data-dir", str(tmp_path),
                             "--checkpoint", str(tmp_path / "run.npz")]) == 0
    assert f"vecgrad train: {note}" in capsys.readouterr().err
    assert vecgrad_cli.main(["evaluate", str(tmp_path / "run.npz"), "--quiet",
                             "--data-dir", str(tmp_path)]) == 0
    assert f"vecgrad evaluate: {note}" in capsys.readouterr().err
    assert vecgrad_cli.main(["evaluate", str(tmp_path / "run.npz"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("command, expected", [
    ("-m scalargrad.cli graph x*y x=1 y=2",
     "scalargrad: error: cannot write the output: No space left on device"),
    ("-m tutorials 1 --no-pause",
     "python -m tutorials: error: cannot write the output: No space left on device"),
    # exited 0 without a word (the usage was lost in the flush at exit)
    ("-m tutorials --help",
     "python -m tutorials: error: cannot write the output: No space left on device"),
    # said "[Errno 28] No space left on device", not what could not be written
    ("-m vecgrad.cli devices", "vecgrad devices: error: cannot write the output: No space"),
    ("-m vecgrad.cli train --epochs 1 --quiet",
     "vecgrad train: error: cannot write the output: No space left on device"),
    # --help and --version exited 0 without a word (argparse drops its write's OSError)
    ("-m vecgrad.cli --help", "vecgrad: error: cannot write the output: No space left"),
    ("-m vecgrad.cli --version", "vecgrad: error: cannot write the output: No space left"),
    ("-m vecgrad.cli train --help",
     "vecgrad train: error: cannot write the output: No space left"),
    ("-m vecgrad.bench --help",
     "python -m vecgrad.bench: error: cannot write the output: No space left"),
    ("-m scalargrad.cli --help", "scalargrad: error: cannot write the output: No space left"),
    ("-m scalargrad.cli graph --help",
     "scalargrad: error: cannot write the output: No space left"),
])
def test_an_output_that_cannot_be_written_is_one_line(tmp_path, command, expected):
    # were tracebacks (OSError ENOSPC out of rich's write)
    done = subprocess.run(["bash", "-c", f"{sys.executable} {command} > /dev/full"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        done.stderr.strip()] and expected in done.stderr, done.stderr


@pytest.mark.parametrize("command", ["-m tutorials 1"])
def test_the_tutorials_run_with_a_closed_stdin(tmp_path, command):
    # `<&-` leaves sys.stdin None: was an AttributeError traceback in should_pause
    done = subprocess.run(["bash", "-c", f"{sys.executable} {command} <&- >/dev/null"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0 and done.stderr == "", done.stderr[-500:]


@pytest.mark.parametrize("extra", [["--"], ["--", "--epochs", "1"]])
def test_a_bare_double_dash_gets_no_made_up_suggestion(capsys, extra):
    # was "unrecognized arguments: --; did you mean --lr?"
    assert vecgrad_cli.main(["train", "--dataset", "xor", *extra]) == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --" in err and "did you mean" not in err


def test_a_checkpoint_under_a_file_says_the_file_is_no_folder(tmp_path, capsys):
    # was "the folder .../notes.txt does not exist" about a file that exists
    (tmp_path / "notes.txt").write_text("x")
    target = tmp_path / "notes.txt" / "run.npz"
    assert vecgrad_cli.main(["train", "--dataset", "xor", "--epochs", "1", "--quiet",
                             "--checkpoint", str(target)]) == 2
    assert f": {tmp_path / 'notes.txt'} is not a folder" in capsys.readouterr().err


def test_check_shows_a_crashing_family_message_as_written(monkeypatch, capsys):
    # The message went through rich markup: '[/x]' raised MarkupError (a traceback).
    import vecgrad.cli.check as check

    def crash(a):
        raise ValueError("bad [/x] and [red]kept[/red]")

    monkeypatch.setattr(check, "_families", lambda: [("crashing", crash, [(2,)], False)])
    monkeypatch.setenv("COLUMNS", "200")
    assert vecgrad_cli.main(["check"]) == 1
    out = capsys.readouterr().out
    assert "ValueError: bad [/x] and [red]kept[/red]" in out and "1 op family failed" in out


@pytest.mark.parametrize("module", ["train", "evaluate", "bench", "check", "devices"])
def test_each_command_module_runs_as_a_script(module):
    # python -m vecgrad.cli.train (evaluate, bench) ran nothing and exited 0 silently
    done = subprocess.run([sys.executable, "-m", f"vecgrad.cli.{module}", "--no-such-flag"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.startswith(
        f"python -m vecgrad.cli.{module}: error: ") and done.stderr.count("\n") == 1
