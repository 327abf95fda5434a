"""The README's picture is the script's output: every label of the graph is in the SVG."""

import html
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tutorials" / "notebooks"))

import make_readme_svg  # noqa: E402


def _svg_texts(svg: str) -> list:
    return [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def _dot_fields(dot: str) -> list:
    fields = []
    for label in re.findall(r'label="([^"]*)"', dot):
        fields += [f.strip() for f in label.strip("{} ").split(" | ")]
    return [f for f in fields if f]


def test_checked_in_svg_shows_the_exercise():
    svg = make_readme_svg.OUTPUT.read_text(encoding="utf-8")
    texts = _svg_texts(svg)
    fields = _dot_fields(make_readme_svg.to_dot(make_readme_svg.exercise()))
    assert sorted(texts) == sorted(fields)
    assert "value 0.474077" in texts and texts.count("grad -0.377541") == 10
    assert "tutorials/notebooks/lecture_graph.svg" in (ROOT / "README.md").read_text()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")
def test_script_writes_the_same_picture(tmp_path, monkeypatch):
    monkeypatch.setattr(make_readme_svg, "OUTPUT", tmp_path / "g.svg")
    assert make_readme_svg.main() == 0
    fresh = (tmp_path / "g.svg").read_text(encoding="utf-8")
    assert _svg_texts(fresh) == _svg_texts(make_readme_svg.OUTPUT.with_name("g.svg").read_text())
    checked_in = (ROOT / "tutorials" / "notebooks" / "lecture_graph.svg").read_text()
    assert sorted(_svg_texts(fresh)) == sorted(_svg_texts(checked_in))


def test_script_without_graphviz_says_so(monkeypatch, tmp_path, capsys):
    from scalargrad import picture

    monkeypatch.setattr(picture, "dot_program", lambda: None)
    monkeypatch.setattr(make_readme_svg, "OUTPUT", tmp_path / "g.svg")
    assert make_readme_svg.main() == 1
    assert "Graphviz" in capsys.readouterr().err and not (tmp_path / "g.svg").exists()
