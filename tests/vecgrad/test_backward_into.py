"""The first-order walk adds a slice's gradient into its base's gradient buffer in place
(GetItem.backward_into): same results as the plain rule (zeros + slice, then add), and
one full-size buffer for a loop over x[t] instead of one per step."""

import numpy as np
import pytest

import vecgrad
from vecgrad.ops import movement
from vg_helpers import need_float64, numerical_grads

RNG = np.random.default_rng(11)

# Indexes read from one (4, 3, 5) tensor: basic (views, taken in place), 0-d results and
# index arrays with repeats (these keep the plain rule).
PIECES = [(0,), (slice(1, 2),), (3,), (slice(None), 1), (Ellipsis, slice(None, None, -2)),
          (2, None), (1, 2, 3), (np.array([0, 0, 2]),), (slice(None), np.array([1, 1]))]


def _loss(x, w):
    """Uses of x: every piece above (weighted so each gradient differs) and x itself."""
    total = (x * w).sum()
    for k, index in enumerate(PIECES):
        piece = x[index]
        total = total + ((piece * piece).sum() * (k + 1) if piece.ndim else piece * (k + 2))
    return total


def _grad(x_np, w_np, device):
    x = vecgrad.tensor(x_np, device=device, requires_grad=True)
    _loss(x, vecgrad.tensor(w_np, device=device)).backward()
    return x.grad.numpy()


def test_in_place_slices_match_central_differences_and_the_plain_rule(device, monkeypatch):
    need_float64(device)
    x_np, w_np = RNG.standard_normal((4, 3, 5)), RNG.standard_normal((4, 3, 5))
    fast = _grad(x_np, w_np, device)

    def loss_of(values):
        x = vecgrad.tensor(values, device=device)
        return float(_loss(x, vecgrad.tensor(w_np, device=device)).numpy())

    (numeric,) = numerical_grads(loss_of, [x_np.copy()])
    np.testing.assert_allclose(fast, numeric, rtol=1e-6, atol=1e-7)
    monkeypatch.setattr(movement.GetItem, "backward_into", None)
    np.testing.assert_allclose(fast, _grad(x_np, w_np, device), rtol=1e-13, atol=1e-13)


def test_a_loop_over_steps_builds_one_full_size_gradient(device, monkeypatch):
    x = vecgrad.tensor(RNG.standard_normal((20, 2, 3)).astype(np.float32), device=device,
                       requires_grad=True)
    backend = x._backend
    calls = []
    real = type(backend).index_add

    def counting(self, shape, index, src):
        calls.append(shape)
        return real(self, shape, index, src)

    monkeypatch.setattr(type(backend), "index_add", counting)
    h = vecgrad.zeros(2, 3, device=device)
    for t in range(20):
        h = (h + x[t]).tanh()
    h.sum().backward()
    assert calls == [(20, 2, 3)]  # the first slice's gradient; the other 19 add into it
    expected = x.detach()
    with vecgrad.no_grad():  # the same loop by hand: d/dx[t] through the tanh chain
        hs, h = [], vecgrad.zeros(2, 3, device=device)
        for t in range(20):
            h = (h + expected[t]).tanh()
            hs.append(h.numpy())
    g = np.ones((2, 3), np.float32)
    want = np.zeros((20, 2, 3), np.float32)
    for t in range(19, -1, -1):
        g = g * (1 - hs[t] ** 2)
        want[t] = g
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-5, atol=1e-6)


def test_retained_graph_and_accumulation_into_grad(device):
    x = vecgrad.tensor(RNG.standard_normal((5, 4)).astype(np.float32), device=device,
                       requires_grad=True)
    y = sum((x[t] * (t + 1)).sum() for t in range(5))
    y.backward(retain_graph=True)
    y.backward()  # twice: .grad accumulates, and the walk's own buffer was not reused
    want = 2 * np.arange(1, 6, dtype=np.float32)[:, None] * np.ones((5, 4), np.float32)
    np.testing.assert_allclose(x.grad.numpy(), want)


def test_create_graph_walk_gives_the_same_gradients_and_second_derivatives(device):
    need_float64(device)
    x_np = RNG.standard_normal((4, 3))
    x = vecgrad.tensor(x_np, device=device, requires_grad=True)
    y = sum((x[t] ** 3).sum() for t in range(4)) + (x[1:3] ** 2).sum()
    (g,) = vecgrad.autograd.grad(y, x, create_graph=True)
    want = 3 * x_np ** 2
    want[1:3] += 2 * x_np[1:3]
    np.testing.assert_allclose(g.numpy(), want, rtol=1e-12)
    (gg,) = vecgrad.autograd.grad(g.sum(), x)
    second = 6 * x_np
    second[1:3] += 2
    np.testing.assert_allclose(gg.numpy(), second, rtol=1e-12)
    x.grad = None
    y2 = sum((x[t] ** 3).sum() for t in range(4)) + (x[1:3] ** 2).sum()
    y2.backward()
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12)
