"""scalargrad and vecgrad computing the same things: random expression graphs and a small
MLP give the same values and gradients (float64, tight tolerance). Parametrized over the
`device` fixture, so every vecgrad backend is checked against the scalar engine."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scalargrad import Value
from scalargrad.functions import ACTIVATIONS

import vecgrad
import vecgrad.nn.functional as F

SETTINGS = settings(max_examples=15, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
TOL = dict(rtol=1e-10, atol=1e-12)


def _need_float64(device):
    if not vecgrad.get_backend(device).supports_float64:
        pytest.skip(f"{device} has no float64")


# Each step combines two earlier nodes (binary) or transforms one (unary). The same
# recipe is replayed on scalargrad Values and on vecgrad tensors (one element per
# sample), so the two engines see the same expression graph with shared subexpressions.
BINARY = ["add", "sub", "mul", "div"]
UNARY = sorted(ACTIVATIONS) + ["exp", "square"]


def _apply_binary(op, a, b):
    if op == "add":
        return a + b
    if op == "sub":
        return a - b
    if op == "mul":
        return a * b
    return a / (b * b + 1.0)  # a denominator that never reaches 0


def _apply_unary(op, a, is_value):
    if op == "exp":
        return (a * 0.1).exp()
    if op == "square":
        return a ** 2
    if op == "soft_exponential":
        return a.soft_exponential(0.5) if is_value else a.activation(op, 0.5)
    return getattr(a, op)() if is_value else a.activation(op)


@st.composite
def recipes(draw):
    steps = []
    for i in range(draw(st.integers(3, 10))):
        nodes = 3 + i
        if draw(st.booleans()):
            steps.append(("b", draw(st.sampled_from(BINARY)),
                          draw(st.integers(0, nodes - 1)), draw(st.integers(0, nodes - 1))))
        else:
            steps.append(("u", draw(st.sampled_from(UNARY)), draw(st.integers(0, nodes - 1)), 0))
    return steps


def _replay(recipe, inputs, is_value):
    nodes = list(inputs)
    for kind, op, i, j in recipe:
        if kind == "b":
            nodes.append(_apply_binary(op, nodes[i], nodes[j]))
        else:
            nodes.append(_apply_unary(op, nodes[i], is_value))
    return nodes[-1]


@SETTINGS
@given(recipe=recipes(), seed=st.integers(0, 2**16))
def test_random_expression_graphs_agree(device, recipe, seed):
    _need_float64(device)
    # Away from activation kinks at 0, where one-sided conventions are a matter of choice.
    samples = np.random.default_rng(seed).uniform(0.2, 1.5, (4, 3)) * \
        np.random.default_rng(seed + 1).choice([-1, 1], (4, 3))
    leaves = [vecgrad.tensor(samples[:, k], dtype=vecgrad.float64, device=device,
                             requires_grad=True) for k in range(3)]
    out = _replay(recipe, leaves, is_value=False)
    if out.requires_grad:
        out.sum().backward()
    for row in range(samples.shape[0]):
        values = [Value(float(v)) for v in samples[row]]
        scalar_out = _replay(recipe, values, is_value=True)
        scalar_out.backward()
        # overflowing graphs (e.g. squares of squares) say nothing about agreement
        assume(np.isfinite(scalar_out.data) and all(np.isfinite(v.grad) for v in values))
        assert out.numpy()[row] == pytest.approx(scalar_out.data, rel=1e-10, abs=1e-12)
        for k, v in enumerate(values):
            got = 0.0 if leaves[k].grad is None else leaves[k].grad.numpy()[row]
            assert got == pytest.approx(v.grad, rel=1e-9, abs=1e-12), (recipe, row, k)


def test_small_mlp_agrees(device):
    _need_float64(device)
    rng = np.random.default_rng(0)
    sizes = [3, 4, 4, 2]
    weights = [rng.standard_normal((o, i)) * 0.7 for i, o in zip(sizes[:-1], sizes[1:])]
    biases = [rng.standard_normal(o) * 0.1 for o in sizes[1:]]
    xs = rng.standard_normal((5, 3))
    targets = rng.standard_normal((5, 2))

    # vecgrad: tanh hidden layers, linear output, MSE summed over the batch
    vw = [vecgrad.tensor(w, device=device, requires_grad=True) for w in weights]
    vb = [vecgrad.tensor(b, device=device, requires_grad=True) for b in biases]
    h = vecgrad.tensor(xs, device=device)
    for layer, (w, b) in enumerate(zip(vw, vb)):
        h = F.linear(h, w, b)
        if layer < len(vw) - 1:
            h = h.tanh()
    loss = ((h - vecgrad.tensor(targets, device=device)) ** 2).sum()
    loss.backward()

    # scalargrad: the same network written neuron by neuron
    sw = [[[Value(float(v)) for v in row] for row in w] for w in weights]
    sb = [[Value(float(v)) for v in b] for b in biases]
    total = Value(0.0)
    for x, target in zip(xs, targets):
        act = [Value(float(v)) for v in x]
        for layer, (w, b) in enumerate(zip(sw, sb)):
            act = [sum((wi * ai for wi, ai in zip(row, act)), bias) for row, bias in zip(w, b)]
            if layer < len(sw) - 1:
                act = [a.tanh() for a in act]
        for a, t in zip(act, target):
            total = total + (a - float(t)) ** 2
    total.backward()

    assert loss.item() == pytest.approx(total.data, rel=1e-12)
    for t, s in zip(vw + vb, sw + sb):
        expected = np.array([[v.grad for v in row] for row in s]) if isinstance(s[0], list) \
            else np.array([v.grad for v in s])
        np.testing.assert_allclose(t.grad.numpy(), expected, **TOL)
