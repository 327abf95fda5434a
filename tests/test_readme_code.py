"""Each Python block of README.md stands on its own: a reader who copies one block gets
no NameError (a block once used `vecgrad` without importing it)."""

import ast
import builtins
import pathlib
import re

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
