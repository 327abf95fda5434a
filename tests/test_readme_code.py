"""Each Python block of README.md stands on its own and does what the text says: a reader
who copies one block gets no NameError (a block once used `vecgrad` without importing
it), the block runs, and the values its comments state (gradients, shapes, printed
lines, losses) are the ones it computes."""

import ast
import builtins
import math
import os
import pathlib
import re

import numpy as np
import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _blocks():
    text = README.read_text(encoding="utf-8")
    return [(text[:m.start()].count("\n") + 1, m.group(1))
            for m in re.finditer(r"```python\n(.*?)```", text, re.S)]


def _undefined_names(code: str) -> set[str]:
    tree = ast.parse(code)
    defined = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            defined.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
    return {node.id for node in ast.walk(tree)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
            and node.id not in defined}


def test_the_readme_has_python_blocks():
    assert len(_blocks()) >= 5


def test_every_python_block_defines_or_imports_what_it_uses():
    missing = {line: sorted(names) for line, code in _blocks()
               if (names := _undefined_names(code))}
    assert not missing, f"README.md blocks (by first line) use names they never define: {missing}"


def test_the_check_sees_a_missing_import():
    assert _undefined_names("x = vecgrad.tensor([1.0])") == {"vecgrad"}
    assert _undefined_names("import vecgrad\nx = vecgrad.tensor([1.0])") == set()


# ------------------------------------------------------------------ running the blocks
def _block(marker: str) -> tuple[int, str]:
    """The one README block that contains `marker` (a line of it)."""
    found = [(line, code) for line, code in _blocks() if marker in code]
    assert len(found) == 1, f"{len(found)} README.md python blocks contain {marker!r}"
    return found[0]


def _run(marker: str, until: str | None = None, replace: tuple[str, str] | None = None):
    """Run the block holding `marker` (up to and including the first line holding `until`,
    with one text replaced) in a fresh namespace; returns the namespace."""
    line, code = _block(marker)
    if until is not None:
        lines = code.splitlines(keepends=True)
        stop = next(i for i, text in enumerate(lines) if until in text)
        code = "".join(lines[:stop + 1])
    if replace is not None:
        assert replace[0] in code
        code = code.replace(*replace)
    namespace = {"__name__": "__readme__"}
    exec(compile(code, f"README.md, block at line {line}", "exec"), namespace)
    return namespace


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Blocks write files (run.npz, api_run.npz) into the working folder, and new tensors
    go to VECGRAD_DEVICE: a scratch folder and the default device."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VECGRAD_DEVICE", raising=False)
    return tmp_path


def test_every_python_block_runs(in_tmp, capsys):
    from vecgrad.backends import get_backend

    for line, code in _blocks():
        if 'device="opencl' in code:
            try:
                get_backend("opencl")
            except Exception:
                if os.environ.get("VECGRAD_REQUIRE_OPENCL") == "1":
                    raise
                continue
        exec(compile(code, f"README.md, block at line {line}", "exec"),
             {"__name__": "__readme__"})
    capsys.readouterr()


def test_scalargrad_tour_gradients_are_the_comments(in_tmp, capsys):
    marker = "f.backward()                       # x.grad == y.grad == -4.0, z.grad == 3.0"
    ns = _run(marker, until=marker)
    assert (ns["x"].grad, ns["y"].grad, ns["z"].grad) == (-4.0, -4.0, 3.0)
    ns = _run(marker, until="# accumulates, as in PyTorch: x.grad == -8.0")
    assert ns["x"].grad == -8.0
    ns = _run(marker, until="# every node f depends on back to 0")
    assert [v.grad for v in (ns["x"], ns["y"], ns["z"], ns["f"], ns["f"].parents[0])] == [0] * 5
    ns = _run(marker)
    assert ns["d"].tangent == -4.0 and ns["d"].value == -12.0      # df/dx by forward mode
    printed = capsys.readouterr().out
    slope = 1 / (1 + math.exp(-1.5)) - 1                           # d/dw -log sigmoid(w + 0.5)
    numerical = float(re.search(r"^\[(\S+)\]$", printed, re.M).group(1))
    assert numerical == pytest.approx(slope, abs=1e-8)             # central differences
    assert "n4" in printed and "digraph" in printed                # the table, tree and DOT


def test_tensor_block_gives_a_float32_gradient_tensor(in_tmp, capsys):
    import vecgrad

    ns = _run("loss = F.cross_entropy(F.linear(x, w, b).relu(), labels)")
    assert ns["x"].dtype == vecgrad.float32 and ns["x"].device == "cpu"
    assert ns["labels"].dtype == vecgrad.int64
    assert isinstance(ns["w"].grad, vecgrad.Tensor) and ns["w"].grad.shape == (2, 3)
    assert "tensor(" in capsys.readouterr().out


def test_higher_order_block_is_3x2_then_6x(in_tmp):
    ns = _run("(g,) = grad((x ** 3).sum(), x, create_graph=True)")
    x = np.array([1.0, 2.0])
    assert ns["g"].requires_grad and np.array_equal(ns["g"].numpy(), 3 * x ** 2)
    assert np.array_equal(ns["h"].numpy(), 6 * x)


def test_model_block_defaults_schedule_and_checkpoint_round_trip(in_tmp):
    ns = _run("schedule = optim.InverseTimeDecay(opt, decay=0.1)")
    group = ns["opt"].param_groups[0]
    assert (group["lr"] == pytest.approx(0.001 / (1 + 0.1 * 100)) and group["betas"] == (0.9, 0.999)
            and group["eps"] == 1e-8)                      # α_k = α_0 / (1 + 0.1 k), k = 100
    assert ns["state"]["epoch"] == 100 and (in_tmp / "run.npz").exists()
    for name, value in ns["model"].state_dict().items():
        assert np.array_equal(value.numpy(), ns["state"]["model"][name].numpy())


def test_cnn_block_prints_what_its_comments_say(in_tmp, capsys):
    line, code = _block("nn.AdaptiveAvgPool2d(1), nn.Flatten(),")
    # the comments after each print: "# (1, 10)" and the state_dict keys' line
    expected = [re.search(r"#\s*(\(1, 10\))", code).group(1),
                re.search(r"^# (\[.*\])$", code, re.M).group(1)]
    _run("nn.AdaptiveAvgPool2d(1), nn.Flatten(),")
    assert capsys.readouterr().out.splitlines() == expected


def test_lstm_block_losses_are_the_comment(in_tmp):
    marker = "for step in range(100):"
    first = _run(marker, replace=(marker, "for step in range(1):"))["loss"].item()
    ns = _run(marker)
    assert tuple(ns["out"].shape) == (256, 20, 32)
    assert tuple(ns["h_n"].shape) == tuple(ns["c_n"].shape) == (1, 256, 32)
    # "loss 0.54 at the start, 0.0096 after 100 steps"
    assert round(first, 2) == 0.54 and abs(ns["loss"].item() - 0.0096) < 5e-4


def test_python_api_blocks_train(in_tmp, capsys):
    ns = _run("result = run(RunConfig(model=\"mlp:64\", epochs=5, seed=0))")
    assert ns["result"].device == "cpu" and len(ns["result"].history.val_loss) == 5
    assert ns["result"].test.accuracy > 0.9
    ns = _run("history = trainer.fit(train, val)")
    assert ns["trainer"].evaluate(ns["test"]).accuracy > 0.95
    assert (in_tmp / "api_run.npz").exists()
    capsys.readouterr()


def test_device_block_says_where_each_tensor_lives(in_tmp):
    from vecgrad.backends import get_backend

    try:
        get_backend("opencl")
    except Exception as exc:
        if os.environ.get("VECGRAD_REQUIRE_OPENCL") == "1":
            raise
        pytest.skip(f"no OpenCL device: {exc}")
    ns = _run('x = vecgrad.randn(64, 784, device="opencl")')
    assert ns["x"].device.startswith("opencl:") and ns["z"].device == "opencl:0:0"
    assert ns["y"].device == "cpu"
    from vecgrad.backends.opencl_runtime import list_devices

    gpu = any("GPU" in info.type.split("/") for info in list_devices())
    assert ns["w"].device.startswith("opencl") if gpu else ns["w"].device == "cpu"
    with pytest.raises(ValueError, match="different devices"):
        ns["x"] + ns["y"]


# ------------------------------------------------------ what the README says commands print
def _console_block(first_line: str) -> list[str]:
    """The README console block whose first line is `first_line` (before any comment)."""
    text = README.read_text(encoding="utf-8")
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        if block.splitlines()[0].split("#")[0].rstrip() == first_line:
            return block.splitlines()
    raise AssertionError(f"no README console block starts with {first_line!r}")


def _untimed(line: str) -> str:
    """A printed line without its seconds ("0.07s", "in 2.9s"): those vary run to run."""
    return re.sub(r"\b\d+(\.\d+)?s\b", "<s>", line).rstrip()


def test_vecgrad_train_prints_the_readme_run(in_tmp, capsys):
    from vecgrad.cli import main

    shown = [line for line in _console_block("$ vecgrad train")[1:] if line != "..."]
    assert main(["train", "--plain"]) == 0
    printed = {_untimed(line) for line in capsys.readouterr().out.splitlines()}
    missing = [line for line in shown if _untimed(line) not in printed]
    assert not missing, f"README's `vecgrad train` lines that the run does not print: {missing}"


def test_the_readme_train_examples_say_what_happens(in_tmp, capsys):
    from vecgrad.cli import main

    block = "\n".join(_console_block("$ vecgrad train --model cnn"))
    accuracy = re.search(r"--model cnn +# ([\d.]+)% test accuracy", block).group(1)
    assert main(["train", "--model", "cnn", "--quiet"]) == 0
    assert f"test accuracy {accuracy}%" in capsys.readouterr().out
    diverged = re.search(r"--lr 1e4 .*\n(.*)\n(.*): \.\.\.", block)
    assert main(["train", "--optimizer", "sgd", "--lr", "1e4", "--plain"]) == 3
    printed = capsys.readouterr()
    assert diverged.group(1) in printed.out + printed.err
    assert diverged.group(2) in printed.out + printed.err


def test_the_readme_error_messages_are_the_ones_raised():
    import vecgrad
    import vecgrad.nn.functional as F
    from vecgrad.backends import get_backend

    text = README.read_text(encoding="utf-8")
    lines = re.search(r"\*\*Errors name the problem\*\*.*?```text\n(.*?)```", text,
                      re.S).group(1).splitlines()
    calls = {
        "matmul": lambda: vecgrad.zeros(3, 4) @ vecgrad.zeros(5, 2),
        "add": lambda: vecgrad.zeros(3) + vecgrad.zeros(3, device="opencl:0:0"),
        "cross_entropy": lambda: F.cross_entropy(vecgrad.zeros(3, 4), vecgrad.tensor([0, 7, 1])),
        "exp": lambda: vecgrad.tensor([1, 2]).exp(),
    }
    assert sorted(line.split(": ")[1] for line in lines) == sorted(calls)
    for line in lines:
        if line.split(": ")[1] == "add":
            try:
                get_backend("opencl:0:0")
            except Exception:
                if os.environ.get("VECGRAD_REQUIRE_OPENCL") == "1":
                    raise
                continue
        with pytest.raises(Exception) as caught:
            calls[line.split(": ")[1]]()
        assert f"{type(caught.value).__name__}: {caught.value}" == line


def test_every_link_inside_the_readme_has_its_heading():
    """[text](#anchor) links point at a heading (GitHub's slugs: lower case, punctuation
    dropped, spaces to hyphens), and relative file links at files of the repository."""
    text = README.read_text(encoding="utf-8")
    outside = re.sub(r"```.*?```", "", text, flags=re.S)
    slugs = {re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
             for title in re.findall(r"^#+ (.*)$", outside, re.M)}
    anchors = set(re.findall(r"\]\(#([^)]+)\)", outside))
    assert anchors and not anchors - slugs, f"links to no heading: {anchors - slugs}"
    files = [f for f in re.findall(r"\]\(([^)#:]+)\)", outside)]
    assert all((README.parent / f).exists() for f in files), files


def test_the_flags_table_gives_the_defaults_vecgrad_train_uses():
    """README's `vecgrad train` flags table ("meaning (default)") against RunConfig's
    defaults and the parser's."""
    import argparse

    from vecgrad.cli.train import add_arguments
    from vecgrad.train.config import RunConfig

    text = README.read_text(encoding="utf-8")
    rows = {m.group(1): m.group(2) for m in
            re.finditer(r"^\| `(--[\w-]+)[^|]*\| (.*) \|$", text, re.M)}
    d = RunConfig()
    for flag, default in (("--dataset", f"(`{d.dataset}`)"), ("--model", f"(`{d.model}`)"),
                          ("--activation", f"(`{d.activation}`)"),
                          ("--schedule", f"(`{d.schedule}`)"),
                          ("--normalize", f"(`{d.normalize}`)"),
                          ("--dropout", f"({d.dropout:g})"), ("--seed", f"({d.seed})"),
                          ("--patience", f"({d.patience}; 0 = off)"),
                          ("--batch-size", f"{d.batch_size}, {d.epochs}"),
                          ("--loss", "(`cross_entropy`; `mse` for regression")):
        assert default in rows[flag], (flag, default, rows[flag])
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.get_default("show") == "auto" and "(`auto`:" in rows["--show"]
