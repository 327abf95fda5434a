"""vecgrad's graph view: what a Tensor was computed from, on every backend.

Gradient norms are checked against the leaves' own .grad (computed by the engine, not
by the view) and against closed forms; the drawing itself is scalargrad.picture's.
"""

import io
import math
import shutil

import numpy as np
import pytest
from rich.console import Console

import vecgrad
import vecgrad.nn.functional as F
from scalargrad import picture as pic
from vecgrad import nn
from vecgrad.viz.graph import GraphView, graph_view


def _text(renderable, width=160) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    return out.getvalue()


@pytest.fixture
def no_dot(monkeypatch):
    monkeypatch.setattr(pic, "dot_program", lambda: None)


def _mlp_loss(device, seed=0):
    vecgrad.manual_seed(seed) if hasattr(vecgrad, "manual_seed") else None
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).to(device)
    x = vecgrad.tensor(rng.normal(size=(5, 4)).astype(np.float32), device=device)
    y = vecgrad.tensor([0, 1, 2, 0, 1], device=device)
    return model, x, F.cross_entropy(model(x), y)


def test_mlp_view_names_parameters_and_shows_gradient_norms(device, no_dot):
    model, x, loss = _mlp_loss(device)
    view = graph_view(loss, model, names={x: "x"})
    before = view.picture()
    assert all(node.cells[3] == "" for node in before.nodes)  # no gradients yet
    loss.backward()
    drawing = view.picture()
    by_name = {node.name: node for node in drawing.nodes}
    assert {"x", "0.weight", "0.bias", "2.weight", "2.bias", "linear", "relu",
            "crossentropy"} <= set(by_name)
    for name, param in model.named_parameters():
        expected = float(np.linalg.norm(param.grad.numpy().astype(np.float64)))
        assert float(by_name[name].cells[3]) == pytest.approx(expected, rel=1e-5)
        assert by_name[name].cells[:3] == (str(tuple(param.shape)), "float32", param.device)
    assert by_name["crossentropy"].cells == ("()", "float32", loss.device, "1")
    assert by_name["x"].cells[3] == ""  # an input that needs no gradient
    assert drawing.nodes[-1].name == "crossentropy"
    text = _text(view)
    assert text.splitlines()[1].lstrip("└─ ").startswith("crossentropy")
    assert f"device {loss.device}" not in text and loss.device in text


def test_intermediate_gradient_norm_matches_the_closed_form(device):
    # d(sum(h * h))/dh = 2h, so the gradient norm at h is 2 |h|.
    a = vecgrad.tensor([[1.0, -2.0], [3.0, 0.5]], requires_grad=True, device=device)
    h = a * 3.0
    out = (h * h).sum()
    view = graph_view(out)
    out.backward()
    mul = [n for n in view.picture().nodes if n.op == "mul" and n.cells[0] == "(2, 2)"]
    expected = 2 * float(np.linalg.norm(3.0 * a.numpy()))
    assert float(mul[0].cells[3]) == pytest.approx(expected, rel=1e-6)


def test_shared_tensor_is_one_node_with_two_edges(device, no_dot):
    x = vecgrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    y = x * x + x
    view = graph_view(y.sum())
    drawing = view.picture()
    leaves = [i for i, n in enumerate(drawing.nodes) if n.name == "parameter"]
    assert len(leaves) == 1
    users = [n for n in drawing.nodes if leaves[0] in n.parents]
    assert len(users) == 2 and users[0].parents.count(leaves[0]) + users[1].parents.count(
        leaves[0]) == 3  # x * x and + x
    assert "(shown above)" in _text(view)
    html = view.to_html()
    assert "<table" in html and "<td>mul, parameter</td>" in html  # the inputs of add


def test_nan_and_inf_are_flagged(device, no_dot):
    x = vecgrad.tensor([0.0, 1.0], requires_grad=True, device=device)
    out = (x.log() * 0.0).sum()  # -inf * 0 = nan
    view = graph_view(out)
    out.backward()
    drawing = view.picture()
    log = next(n for n in drawing.nodes if n.op == "log")
    assert log.warn and "nan or inf" in log.note
    assert drawing.nodes[-1].warn  # the nan sum
    assert 'fontcolor="red"' in view.to_dot()
    assert "values contain nan or inf" in view.to_html()


def test_labels_are_escaped(device, no_dot):
    x = vecgrad.tensor([1.0], requires_grad=True, device=device)
    out = (x * 2).sum()
    view = graph_view(out, names={x: '<b>"x|{y}"</b>&'})
    assert "<b>&quot;x|{y}&quot;</b>" not in view.to_html()
    assert "&lt;b&gt;&quot;x|{y}&quot;&lt;/b&gt;&amp;" in view.to_html()
    assert '\\<b\\>\\"x\\|\\{y\\}\\"\\</b\\>&' in view.to_dot()


def test_a_deep_network_is_folded(no_dot):
    layers = []
    for _ in range(400):
        layers += [nn.Linear(3, 3), nn.Tanh()]
    model = nn.Sequential(*layers)
    x = vecgrad.tensor(np.ones((2, 3), np.float32))
    out = model(x).sum()
    view = graph_view(out, model)
    out.backward()
    drawing = view.picture()
    assert len(view) > 1500 and len(drawing.nodes) <= pic.MAX_NODES
    assert drawing.original_nodes == len(view)
    assert sum(n.folded for n in drawing.nodes) == len(view)
    assert any("more copies" in n.note for n in drawing.nodes)
    assert drawing.nodes[-1].op == "sum"


def test_ten_thousand_tensors_fold(no_dot):
    x = vecgrad.tensor([1.0, 2.0], requires_grad=True)
    s = x
    for i in range(5000):
        s = s * 1.0001 + x
    view = graph_view(s.sum(), retain_grads=False)
    assert len(view) > 10_000
    drawing = view.picture()
    assert len(drawing.nodes) <= pic.MAX_NODES and sum(n.folded for n in drawing.nodes) == len(view)
    assert "summarised" in view.to_dot()


def test_a_freed_graph_is_a_clear_error():
    x = vecgrad.tensor([1.0], requires_grad=True)
    out = (x * 2).sum()
    out.backward()
    with pytest.raises(ValueError, match="before backward"):
        graph_view(out)
    with pytest.raises(TypeError, match="vecgrad Tensor"):
        graph_view([1.0])


def test_retain_graph_lets_a_view_be_made_after_backward():
    x = vecgrad.tensor([3.0], requires_grad=True)
    out = (x * x).sum()
    out.backward(retain_graph=True)
    drawing = graph_view(out).picture()
    leaf = next(n for n in drawing.nodes if n.name == "parameter")
    assert float(leaf.cells[3]) == pytest.approx(6.0)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")
def test_svg_in_jupyter_bundle(device):
    _, _, loss = _mlp_loss(device)
    view = graph_view(loss)
    loss.backward()
    bundle = view._repr_mimebundle_()
    assert bundle["image/svg+xml"].startswith("<svg") and "crossentropy" in bundle["image/svg+xml"]
    assert "<svg" in bundle["text/html"] and bundle["text/plain"] == repr(view)
    assert isinstance(view, GraphView) and math.isfinite(len(view))


def test_a_huge_finite_gradient_is_not_drawn_as_overflowed():
    # Its norm was computed as sqrt(sum(g*g)) = inf above 1e154: the box turned red.
    w = vecgrad.tensor(np.array([1e200, 1e200]), requires_grad=True)
    loss = (w * 1.0).sum() * 1e200  # finite gradients of 1e200, loss itself overflows
    view = graph_view(loss)
    loss.backward()
    parameter = next(line for line in view.to_dot().splitlines() if "parameter" in line)
    assert "grad norm 1.41421e+200" in parameter and "red" not in parameter


def test_the_readme_spelling_works_after_a_plain_import_vecgrad():
    # `vecgrad.viz.graph.graph_view(loss, model)` (the README's words) raised
    # AttributeError unless vecgrad.viz.graph had been imported by name first.
    import subprocess
    import sys

    code = ("import vecgrad; x = vecgrad.tensor([1.0, 2.0], requires_grad=True); "
            "print(len(vecgrad.viz.graph.graph_view((x * x).sum())), "
            "vecgrad.viz.plot.line_plot.__name__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3", "line_plot"]


def test_names_that_do_not_map_tensors_to_names_are_refused():
    # A list of pairs, a str, or {name: tensor} the other way round labelled nothing,
    # silently; a model without parameters raised AttributeError.
    x = vecgrad.ones(2, requires_grad=True)
    y = (x * 2).sum()
    assert "xin" in [node.name for node in graph_view(y, names={x: "xin"})._nodes]
    with pytest.raises(TypeError, match=r"names must map tensors to names.*got list"):
        graph_view(y, names=[(x, "xin")])
    with pytest.raises(TypeError, match=r"got the key 'xin' \(str\) \(the other way round\?\)"):
        graph_view(y, names={"xin": x})
    with pytest.raises(TypeError, match="model must be a Module .*got int"):
        graph_view(y, model=3)
