"""The folders show the architecture, and the imports keep to it.

Each layer may import the layers below it, never one above: backends know nothing of ops,
the engine (tensor, autograd, ops, nn, optim, data, checkpoint) knows nothing of the
training stack, the command line or the bench. Old flat module paths still import.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VECGRAD = ROOT / "vecgrad"

# package or module (relative to vecgrad/) -> vecgrad subpackages it must never import
FORBIDDEN = {
    "backends": ("ops", "nn", "optim", "train", "cli", "bench", "tensor", "autograd"),
    "ops": ("train", "cli", "bench", "nn"),
    "autograd.py": ("ops", "nn", "train", "cli", "bench"),
    "tensor.py": ("train", "cli", "bench", "nn"),
    "nn": ("train", "cli", "bench"),
    "optim.py": ("train", "cli", "bench"),
    "data.py": ("train", "cli", "bench"),
    "checkpoint.py": ("train", "cli", "bench"),
    "train": ("cli", "bench"),
    "bench": ("cli", "train"),
    # Graph views and reprs watch the engine; the engine imports only viz/reprs.py's mixins.
    "viz": ("train", "cli", "bench"),
}


def _imported_vecgrad_modules(path: Path) -> set[str]:
    """Every vecgrad.X module named by an import statement in the file (any depth)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {n for n in names if n.startswith("vecgrad.")}


def _files(unit: str) -> list[Path]:
    target = VECGRAD / unit
    return sorted(target.rglob("*.py")) if target.is_dir() else [target]


@pytest.mark.parametrize("unit", sorted(FORBIDDEN))
def test_no_import_points_up(unit):
    wrong = []
    for path in _files(unit):
        for name in _imported_vecgrad_modules(path):
            top = name.split(".")[1]
            if top in FORBIDDEN[unit] or f"{top}.py" in FORBIDDEN[unit]:
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_every_folder_says_what_lives_there():
    for package in ("backends", "ops", "nn", "train", "cli", "bench"):
        doc = ast.get_docstring(ast.parse((VECGRAD / package / "__init__.py").read_text()))
        assert doc and len(doc) > 80, f"vecgrad/{package}/__init__.py needs a docstring"
    for folder in ("kernels", "tests", "tutorials", "scalargrad"):
        readme = ROOT / folder / "README.md"
        init = ROOT / folder / "__init__.py"
        assert readme.exists() or (init.exists() and ast.get_docstring(ast.parse(init.read_text()))), folder


def test_top_level_of_vecgrad_is_the_engine():
    modules = {p.stem for p in VECGRAD.glob("*.py")}
    # The training stack, the CLI and the bench each have their own package now.
    assert not modules & {"trainer", "training_events", "training_losses", "layer_watch",
                          "ui", "cli", "bench", "bench_opencl", "devices", "check"}


@pytest.mark.parametrize("old, new", [
    ("vecgrad.trainer", "vecgrad.train.trainer"),
    ("vecgrad.training_events", "vecgrad.train.events"),
    ("vecgrad.training_losses", "vecgrad.train.losses"),
    ("vecgrad.layer_watch", "vecgrad.train.layer_watch"),
    ("vecgrad.ui", "vecgrad.train.views"),
    ("vecgrad.bench_opencl", "vecgrad.bench.opencl"),
    ("vecgrad.ops.primitives", "vecgrad.backends.primitives"),
])
def test_old_module_paths_still_import(old, new):
    import vecgrad  # noqa: F401  (installs the finder)

    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert any(new in str(w.message) for w in caught)


def test_documented_names_import():
    from vecgrad.train import RunConfig, Trainer, make_view, run  # noqa: F401
    from vecgrad.trainer import Trainer as OldTrainer

    assert OldTrainer is Trainer


def test_tutorials_run_from_any_folder(tmp_path):
    done = subprocess.run([sys.executable, "-m", "tutorials", "--help"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "usage" in done.stdout.lower()


def test_run_from_python_matches_the_command_line(capsys):
    """RunConfig -> run() is what `vecgrad train` does: same settings, same metrics."""
    import json

    from vecgrad.cli import main
    from vecgrad.train import RunConfig, run

    result = run(RunConfig(model="mlp:16", epochs=2, seed=3))
    assert main(["train", "--model", "mlp:16", "--epochs", "2", "--seed", "3", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["test"]["accuracy"] == result.test.accuracy
    assert metrics["history"]["val_loss"] == [float(v) for v in result.history.val_loss]


def test_run_config_is_validated_before_anything_runs():
    from vecgrad.train import ConfigError, RunConfig, run

    with pytest.raises(ConfigError, match=r"--batch-size must be in 1\.\.16777216"):
        run(RunConfig(batch_size=0))


def _readme_layout() -> dict[str, set[str]]:
    """Folder -> the .py names README.md's Layout block gives for it (globs kept)."""
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    named: dict[str, set[str]] = {}
    folder = ""
    for line in block.splitlines():
        indent = len(line) - len(line.lstrip())
        head, _, rest = line.strip().partition(" ")
        if indent == 0 and head:
            folder, described = (head if head.endswith("/") else ""), rest
        elif indent == 2:
            folder = "vecgrad/" + head if head.endswith("/") else "vecgrad/"
            described = rest if head.endswith("/") else line
        else:
            described = line
        named.setdefault(folder, set()).update(re.findall(r"[\w*]+\.py\b", described))
    return named


def test_the_readme_layout_names_every_module_and_only_real_ones():
    named = _readme_layout()
    missing = [f"{folder}{name}" for folder, names in named.items() for name in names
               if not list((ROOT / folder).glob(name))]
    assert not missing, f"README's Layout names files that do not exist: {missing}"
    for folder in ("scalargrad/", "vecgrad/", "vecgrad/backends/", "vecgrad/nn/",
                   "vecgrad/train/", "vecgrad/viz/", "vecgrad/bench/"):
        covered = {p.name for name in named.get(folder, ()) for p in (ROOT / folder).glob(name)}
        unnamed = sorted(p.name for p in (ROOT / folder).glob("*.py")
                         if p.name not in covered | {"__init__.py", "__main__.py"})
        assert not unnamed, f"README's Layout does not say what {folder}{unnamed} hold"
