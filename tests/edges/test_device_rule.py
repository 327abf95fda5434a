"""One device rule for every entry point: --device > $VECGRAD_DEVICE > cpu (or, on resume
and evaluate, the run's own device), "auto" = best available; errors in one line naming
where the value came from and which devices exist."""

import os
import subprocess
import sys
import textwrap

import pytest

import vecgrad
from vecgrad.backends import DeviceError, device_setting, resolve_device
from vecgrad.cli import main
from vecgrad.train import RunConfig
from vecgrad.train.runner import choose_device, evaluate, run

from tutorials import devices as lesson_devices


def _opencl():
    try:
        return resolve_device("opencl", "--device")
    except DeviceError:
        return None


def test_flag_beats_variable_beats_default(monkeypatch):
    monkeypatch.delenv("VECGRAD_DEVICE", raising=False)
    assert device_setting(None) == ("cpu", "default")
    monkeypatch.setenv("VECGRAD_DEVICE", "opencl:3:4")
    assert device_setting(None) == ("opencl:3:4", "VECGRAD_DEVICE")
    assert device_setting("cpu") == ("cpu", "--device")
    monkeypatch.setenv("VECGRAD_DEVICE", "  ")  # blank counts as unset
    assert device_setting(None, fallback="opencl") == ("opencl", "default")


def test_auto_is_the_best_available(monkeypatch):
    monkeypatch.setenv("VECGRAD_DEVICE", "auto")
    device = vecgrad.zeros(1).device
    assert device == resolve_device("auto") and device in vecgrad.available_devices()


def test_auto_is_accepted_wherever_a_device_is_taken():
    # It worked for --device and VECGRAD_DEVICE but device="auto" said "unknown device".
    best = resolve_device("auto")
    assert vecgrad.zeros(2, device="auto").device == best
    assert vecgrad.tensor([1.0], device=" AUTO ").device == best
    assert vecgrad.ones(1).to("auto").device == best
    assert vecgrad.get_backend("auto") is vecgrad.get_backend(best)


@pytest.mark.parametrize("text, origin, named", [
    ("nonsense", "--device", "--device 'nonsense'"),
    ("nonsense", "VECGRAD_DEVICE", "VECGRAD_DEVICE='nonsense' (environment variable)"),
    ("opencl:9:9", "--device", "--device 'opencl:9:9'"),
    ("opencl:9:9", "VECGRAD_DEVICE", "VECGRAD_DEVICE='opencl:9:9'"),
])
def test_errors_say_where_the_value_came_from_and_what_exists(text, origin, named):
    with pytest.raises(DeviceError) as info:
        resolve_device(text, origin)
    message = str(info.value)
    assert message.startswith(named) and "devices here: cpu" in message
    assert "\n" not in message


def test_library_default_names_the_variable(monkeypatch):
    monkeypatch.setenv("VECGRAD_DEVICE", "opencl:9:9")
    with pytest.raises(DeviceError, match=r"^VECGRAD_DEVICE='opencl:9:9'.*devices here: cpu"):
        vecgrad.zeros(2)


@pytest.mark.parametrize("argv", [
    ["train", "--epochs", "1", "--dataset", "xor"],
    ["check"],
    ["bench", "--repeats", "1"],
])
@pytest.mark.parametrize("env, flag", [
    ("nonsense", None), ("opencl:9:9", None), (None, "nonsense"), (None, "opencl:9:9")])
def test_every_command_reports_a_bad_device_in_one_line(capsys, monkeypatch, argv, env, flag):
    if env is None:
        monkeypatch.delenv("VECGRAD_DEVICE", raising=False)
    else:
        monkeypatch.setenv("VECGRAD_DEVICE", env)
    status = main(argv + (["--device", flag] if flag else []))
    err = capsys.readouterr().err
    assert status == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert ("--device" if flag else "VECGRAD_DEVICE") in err and "devices here: cpu" in err


def test_train_follows_the_variable(capsys, monkeypatch):
    monkeypatch.setenv("VECGRAD_DEVICE", "cpu")
    result = run(RunConfig(dataset="xor", model="mlp:4", epochs=1))
    assert result.device == "cpu"
    monkeypatch.setenv("VECGRAD_DEVICE", "opencl:9:9")
    with pytest.raises(DeviceError, match="VECGRAD_DEVICE"):
        run(RunConfig(dataset="xor", model="mlp:4", epochs=1))


def _checkpoint_with_device(tmp_path, device):
    """A one-epoch xor checkpoint whose run claims it trained on `device`."""
    path = tmp_path / "run.npz"
    run(RunConfig(dataset="xor", model="mlp:4", epochs=1, device="cpu",
                  checkpoint=str(path)))
    state = vecgrad.load(path)
    assert state["config"]["device"] == "cpu"  # checkpoints carry their device
    state["config"]["device"] = device
    vecgrad.save(state, path)
    return path


def test_a_checkpoint_from_a_device_missing_here_maps_to_cpu(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("VECGRAD_DEVICE", raising=False)
    path = _checkpoint_with_device(tmp_path, "opencl:7:7")
    assert choose_device(None, "opencl:7:7")[0] == "cpu"
    done = evaluate(path)
    assert done.device == "cpu" and "continuing on cpu" in done.note
    assert main(["train", "--resume", str(path), "--epochs", "2", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "opencl:7:7" in err and "continuing on cpu" in err
    # the resumed run went on on cpu, and its checkpoint now says so
    assert vecgrad.load(path)["config"]["device"] == "cpu"
    # asked for explicitly, a missing device stays an error
    with pytest.raises(DeviceError, match="--device 'opencl:7:7'"):
        choose_device("opencl:7:7", "cpu")


def test_resume_without_device_continues_on_the_runs_device(tmp_path, monkeypatch):
    opencl = _opencl()
    if opencl is None:
        pytest.skip("no OpenCL device here")
    monkeypatch.delenv("VECGRAD_DEVICE", raising=False)
    path = _checkpoint_with_device(tmp_path, opencl)
    config, state = RunConfig.resume(path, epochs=2)
    assert config.device is None
    result = run(config, resume_state=state)
    assert result.device == opencl and result.notes == []
    assert vecgrad.load(path, device="cpu")["config"]["device"] == opencl


def test_lessons_fall_back_to_cpu_with_a_sentence(monkeypatch):
    monkeypatch.setenv("VECGRAD_DEVICE", "nonsense")
    device, note = lesson_devices.lesson_device()
    assert device == "cpu" and "VECGRAD_DEVICE='nonsense'" in note
    assert note.endswith("The lessons run on cpu instead.")
    monkeypatch.setenv("VECGRAD_DEVICE", "cpu")
    assert lesson_devices.lesson_device() == ("cpu", "")


def _run(args, env_extra=None, cwd=None, timeout=120):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=cwd)


def test_tutorials_run_from_any_folder_with_a_bad_variable(tmp_path):
    out = _run(["-m", "tutorials", "1", "--no-pause"], {"VECGRAD_DEVICE": "nonsense",
                                                        "COLUMNS": "200"}, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    shown = " ".join(out.stdout.split())  # rich wraps at the console width
    assert "The lessons run on cpu instead." in shown and "Traceback" not in out.stderr


def test_module_entry_points_report_devices_in_one_line(tmp_path):
    for module in ("vecgrad.bench.opencl", "vecgrad.bench_opencl", "vecgrad.cli.check"):
        out = _run(["-W", "ignore", "-m", module, "--device", "nonsense"], cwd=tmp_path)
        assert out.returncode == 2, (module, out.stderr)
        assert out.stderr.count("\n") == 1 and "--device 'nonsense'" in out.stderr


def test_no_opencl_driver_at_all(tmp_path):
    """pyopencl missing entirely: opencl is an error naming the variable, cpu works."""
    fake = tmp_path / "fake" / "pyopencl"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('raise ImportError("simulated: no OpenCL here")\n')
    env = {"PYTHONPATH": str(fake.parent), "VECGRAD_DEVICE": "opencl"}
    code = textwrap.dedent("""
        import vecgrad
        from vecgrad.cli import main
        print(vecgrad.available_devices())
        raise SystemExit(main(["check"]))
    """)
    out = _run(["-c", code], env, cwd=tmp_path)
    assert out.returncode == 2 and "['cpu']" in out.stdout
    assert out.stderr.startswith("vecgrad check: error: VECGRAD_DEVICE='opencl'")
    assert "devices here: cpu (" in out.stderr and "Traceback" not in out.stderr
