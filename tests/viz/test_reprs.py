"""Tensor, Module and optimizer in rich and in Jupyter (repr() is unchanged)."""

import io

import numpy as np
import pytest
from rich.console import Console
from rich.pretty import pretty_repr

import vecgrad
from vecgrad import nn, optim


def _text(renderable, width=120) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    return out.getvalue()


def test_tensor_rich_shows_facts_preview_and_stats(device):
    t = vecgrad.tensor(np.arange(200, dtype=np.float32).reshape(10, 20), requires_grad=True,
                       device=device)
    text = _text(t)
    assert "shape=(10, 20)" in text and "dtype=float32" in text
    assert f"device={t.device}" in text and "requires_grad=True" in text
    assert "…" in text and "⋮" in text  # long axes elided
    assert "199" in text and "min 0" in text and "max 199" in text
    assert "mean 99.5" in text
    assert repr(t).startswith("tensor([[")  # repr() is the Tensor's own


def test_tensor_grad_fn_and_grad_norm(device):
    a = vecgrad.tensor([3.0, 4.0], requires_grad=True, device=device)
    out = (a * a).sum()
    assert "grad_fn=Sum" in _text(out) and "grad_fn</b>=Sum" in out._repr_html_()
    out.backward()
    assert "grad=(2,) (norm 10)" in _text(a)  # grad 2a = (6, 8)
    assert pretty_repr(a, max_width=200) == (f"Tensor(shape=(2,), dtype='float32', device="
                                             f"'{a.device}', requires_grad=True, grad_norm=10.0)")


def test_tensor_nan_inf_and_empty_and_int(device):
    t = vecgrad.tensor([1.0, float("nan"), float("inf"), -float("inf")], device=device)
    text = _text(t)
    assert "nan 1" in text and "inf 2" in text and "min 1" in text
    assert "nan" in t._repr_html_() and "inf" in t._repr_html_()
    empty = vecgrad.tensor(np.zeros((0, 3), np.float32), device=device)
    assert "shape=(0, 3)" in _text(empty)
    ints = vecgrad.tensor([[1, 2], [3, 4]], device=device)
    assert "int64" in _text(ints) and "max 4" in _text(ints)
    cube = vecgrad.tensor(np.ones((2, 3, 4), np.float32), device=device)
    assert "[[[1., 1., 1., 1.]" in _text(cube)
    scalar = vecgrad.tensor(3.14159265, device=device)
    assert "3.141593" in _text(scalar)


def test_tensor_html_escapes_and_previews():
    t = vecgrad.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    html = t._repr_html_()
    assert html.count("<tr>") == 2 and "<td>5</td>" in html and "shape</b>=(2, 3)" in html
    assert "min 0" in html


def test_module_lists_layers_with_parameter_counts():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 10))
    text = _text(model, width=160)
    assert "1,490 parameters (1,490 trainable) on cpu" in text
    assert "Conv2d(1, 4" in text and "40" in text and "1,450" in text
    assert "weight (10, 144), bias (10,)" in text
    html = model._repr_html_()
    assert "1,490 parameters" in html and "<td>1,450</td>" in html
    assert repr(model).startswith("Sequential(\n  (0): Conv2d(")


def test_module_nested_and_frozen():
    inner = nn.Sequential(nn.Linear(2, 2), nn.Tanh())
    model = nn.Sequential(inner, nn.Linear(2, 1))
    model[0][0].weight.requires_grad = False if hasattr(model, "__getitem__") else None
    text = _text(model, width=160)
    assert "0.0" in text and "9 parameters (5 trainable)" in text


def test_a_deeply_nested_module_table_stops_12_levels_down_saying_so():
    # every level had a row whose dotted name and indentation grew with its depth: the
    # table grew with the square of the nesting (5,000 levels did not print in 300 s)
    from vecgrad.viz.reprs import MAX_TABLE_DEPTH, module_rows

    model = nn.Linear(2, 3)
    for _ in range(3000):
        model = nn.Sequential(model)
    rows = module_rows(model)
    assert len(rows) == MAX_TABLE_DEPTH + 2 == 14
    assert rows[-1][:3] == ("...", "2,988 module(s) more than 12 levels down, not listed", 9)
    assert sum(row[2] for row in rows) == 9  # the parameters below the cut are counted
    html = model._repr_html_()
    assert html.count("<tr>") == 15 and len(html) < 5000
    text = _text(model, width=160)
    assert "9 parameters (9 trainable)" in text and "more than 12 levels down" in text
    shallow = nn.Sequential(nn.Sequential(nn.Linear(1, 1)))
    assert [row[0] for row in module_rows(shallow, max_depth=1)] == ["(model)", "0", "..."]
    assert [row[0] for row in module_rows(shallow)] == ["(model)", "0", "0.0"]


def test_optimizer_shows_hyperparameters_and_steps():
    model = nn.Linear(3, 2)
    opt = optim.Adam(model.parameters(), lr=0.01)
    assert repr(opt).startswith("Adam(lr=0.01, ") and repr(opt).endswith("parameters=2)")
    text = _text(opt)
    assert "lr" in text and "0.01" in text and "2 tensors, 8 values" in text and "steps" in text
    loss = model(vecgrad.tensor(np.ones((1, 3), np.float32))).sum()
    loss.backward()
    opt.step()
    assert "│ steps           │ 1 " in _text(opt)
    assert "<caption>Adam</caption>" in opt._repr_html_()
    sgd = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    assert "momentum=0.9" in repr(sgd)


def test_optimizer_shows_every_parameter_group_value():
    # With groups of different lr the repr and the table showed the first group's only
    model = nn.Linear(3, 2)
    opt = optim.Adam([{"params": [model.weight], "lr": 0.1},
                      {"params": [model.bias], "betas": (0.8, 0.9)}], lr=0.001)
    assert repr(opt) == ("Adam(lr=0.1 | 0.001, weight_decay=0, eps=1e-08, "
                         "eps_inside_sqrt=True, betas=[0.9, 0.999] | [0.8, 0.9], "
                         "parameters=2, groups=2)")
    text = _text(opt, width=120)
    assert "0.1 | 0.001" in text and "parameter groups" in text
    assert "0.1 | 0.001" in opt._repr_html_()
    assert "groups" not in repr(optim.SGD(model.parameters(), lr=0.1))


@pytest.mark.parametrize("width", [40, 200])
def test_reprs_fit_any_width(width):
    t = vecgrad.tensor(np.random.default_rng(0).normal(size=(50, 50)).astype(np.float32))
    assert _text(t, width)
    assert _text(nn.Linear(3, 4), width)


def test_module_names_with_brackets_are_text_not_rich_markup():
    # A ModuleDict key "enc[/b]" raised MarkupError in rich.print(model).
    text = _text(nn.ModuleDict({"enc[/b]": nn.Linear(2, 2), "w[i]": nn.ReLU()}))
    assert "enc[/b]" in text and "w[i]" in text


def test_statistics_of_huge_finite_values_do_not_overflow():
    # The mean and std of [1e308, ±1e308] came out inf (and numpy warned in the cell).
    from vecgrad.viz.reprs import host_norm, tensor_stats

    with np.errstate(all="raise"):
        assert dict(tensor_stats(np.array([1e308, -1e308])))["std"] == "1e+308"
        assert dict(tensor_stats(np.array([1e308, 1e308])))["mean"] == "1e+308"
        assert host_norm(np.array([3e200, 4e200])) == pytest.approx(5e200)
    assert host_norm(np.array([np.inf, 1.0])) == np.inf and host_norm(np.zeros(0)) == 0.0
