"""A new user at the command lines: Ctrl-C at any moment and bad option values end in one
line naming the problem (exit 130 or 2), never a traceback or a run that fails later."""

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
