"""The example notebooks run top to bottom in a real Jupyter kernel, outputs checked.

nbclient starts an ipykernel on this Python (both in the dev extra; no network: the
kernel talks over local sockets). Graphviz is optional, so a graph output is an SVG
picture or, without `dot`, the HTML table; both carry the "gradlab-graph" class.
"""

import json
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parents[2] / "tutorials" / "notebooks"


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """A kernel spec for this very Python (a machine-wide "python3" spec could name
    another interpreter, one without gradlab)."""
    spec = tmp_path / "jupyter" / "kernels" / "gradlab-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "gradlab tests", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return "gradlab-test"


def _execute(name: str, tmp_path, kernel: str):
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(book, timeout=180, kernel_name=kernel,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    return book


def _outputs(book, index):
    return book.cells[index].get("outputs", [])


def _graph_outputs(book) -> list:
    found = []
    for cell in book.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/svg+xml" in data or 'class="gradlab-graph"' in data.get("text/html", ""):
                found.append(data)
    return found


def _text(out) -> str:
    return out.get("text", "") or out.get("data", {}).get("text/plain", "")


def test_every_notebook_is_listed_here():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == [
        "01_lecture_graph.ipynb", "02_trainer_experiment.ipynb", "03_cnn_backward_graph.ipynb"]
    for path in NOTEBOOKS.glob("*.ipynb"):  # checked in clean: outputs come from the run
        book = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in book.cells if c.cell_type == "code"), path


@pytest.mark.slow
def test_lecture_notebook_shows_the_graphs_with_the_lectures_numbers(tmp_path, kernel):
    book = _execute("01_lecture_graph.ipynb", tmp_path, kernel)
    graphs = _graph_outputs(book)
    assert len(graphs) == 3  # f, l, and the vecgrad view
    first = graphs[0].get("image/svg+xml") or graphs[0]["text/html"]
    assert "-12" in first.replace("&#45;", "-") and "q" in first
    printed = "".join(_text(o) for c in book.cells for o in c.get("outputs", []))
    assert "l = 0.474077, dl/dw = [-0.377541, -0.377541, -0.377541]" in printed
    assert "vecgrad:             [-0.377541, -0.377541, -0.377541]" in printed


@pytest.mark.slow
def test_trainer_notebook_updates_one_output_and_reaches_the_accuracy(tmp_path, kernel):
    book = _execute("02_trainer_experiment.ipynb", tmp_path, kernel)
    fit_cell = next(i for i, c in enumerate(book.cells) if "trainer.fit" in c.source)
    live = [o for o in _outputs(book, fit_cell) if o["output_type"] == "display_data"]
    assert len(live) == 1  # updated in place: one output, not one per update
    final_text, final_html = live[0]["data"]["text/plain"], live[0]["data"]["text/html"]
    assert "training completed after 8 epoch(s)" in final_text
    assert final_html.count("<tr>") >= 8 and "<progress" not in final_html
    assert final_html.count("<svg") == 1 and "train loss" in final_html  # the loss curve
    printed = "".join(_text(o) for c in book.cells for o in c.get("outputs", []))
    accuracy = float(re.search(r"test accuracy ([0-9.]+)", printed).group(1))
    assert accuracy > 0.9
    model_out = _outputs(book, 1)[0]["data"]
    assert "4,810 parameters" in model_out["text/html"]
    assert "'epoch': 8" in _text(_outputs(book, fit_cell + 1)[0])


@pytest.mark.slow
def test_cnn_notebook_draws_the_backward_graph_and_folds_the_deep_one(tmp_path, kernel):
    book = _execute("03_cnn_backward_graph.ipynb", tmp_path, kernel)
    graphs = _graph_outputs(book)
    assert len(graphs) == 2
    cnn = graphs[0].get("image/svg+xml") or graphs[0]["text/html"]
    for word in ("crossentropy", "conv2d", "0.weight", "grad norm", "(32, 10)"):
        assert word in cnn
    deep = graphs[1].get("image/svg+xml") or graphs[1]["text/html"]
    assert "more copies" in deep and "summarised" in deep
    printed = "".join(_text(o) for c in book.cells for o in c.get("outputs", []))
    # its text promises the view 'as DOT text for Graphviz': the cell prints it
    assert "digraph vecgrad {" in printed and "grad norm" in printed
    boxes = re.search(r"(\d+) tensors drawn as (\d+) boxes", printed)
    assert int(boxes.group(1)) > 200 and int(boxes.group(2)) < 60
