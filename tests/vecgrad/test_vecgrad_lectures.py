"""The lectures' worked examples, reproduced with vecgrad tensors (numbers from
/work/shared/lectures/README.md)."""

import numpy as np
import pytest

import vecgrad


def test_lecture_003_f_equals_x_plus_y_times_z(device):
    x, y, z = (vecgrad.tensor(v, device=device, requires_grad=True) for v in (-2.0, 5.0, -4.0))
    q = x + y
    q.retain_grad()
    f = q * z
    f.backward()
    assert q.item() == 3.0 and f.item() == -12.0
    assert z.grad.item() == 3.0 and q.grad.item() == -4.0
    assert x.grad.item() == -4.0 and y.grad.item() == -4.0


def test_lecture_003_negative_log_sigmoid(device):
    x = vecgrad.tensor([1.0, 1.0, 1.0], device=device)
    w = vecgrad.tensor([1.0, 1.0, -1.5], device=device, requires_grad=True)
    s = w @ x
    loss = -s.sigmoid().log()
    loss.backward()
    assert s.item() == pytest.approx(0.5)
    assert loss.item() == pytest.approx(0.474077, abs=1e-6)
    np.testing.assert_allclose(w.grad.numpy(), [-0.377541] * 3, atol=1e-6)


def test_lecture_004_backprop_example_in_matrix_form(device):
    x = vecgrad.tensor([1.0, 2.0], device=device, requires_grad=True)
    W = vecgrad.tensor([[2.0, 1.0], [-1.0, -1.0], [1.0, 2.0]], device=device,
                       requires_grad=True)
    v = vecgrad.tensor([-1.0, 3.0, 2.0], device=device, requires_grad=True)  # w7, w8, w9
    i = W @ x
    i.retain_grad()
    h = i.relu()
    h.retain_grad()
    o = h @ v
    o.retain_grad()
    loss = (o - 3.0) ** 2
    loss.backward()
    assert i.tolist() == [4.0, -3.0, 5.0] and h.tolist() == [4.0, 0.0, 5.0]
    assert o.item() == 6.0 and loss.item() == 9.0
    assert o.grad.item() == 6.0
    assert v.grad.tolist() == [24.0, 0.0, 30.0]
    assert h.grad.tolist() == [-6.0, 18.0, 12.0]
    assert i.grad.tolist() == [-6.0, 0.0, 12.0]
    assert W.grad.numpy().reshape(-1).tolist() == [-6.0, -12.0, 0.0, 0.0, 12.0, 24.0]
    assert x.grad.tolist() == [0.0, 18.0]


def test_lecture_000_softmax_cross_entropy_gradient(device):
    a = vecgrad.tensor([[2.0, -1.0, 0.5]], device=device, requires_grad=True)
    y = vecgrad.tensor([2], device=device)
    loss = vecgrad.nn.functional.cross_entropy(a, y)
    loss.backward()
    p = np.exp([2.0, -1.0, 0.5]) / np.exp([2.0, -1.0, 0.5]).sum()
    np.testing.assert_allclose(a.grad.numpy()[0], p - np.array([0.0, 0.0, 1.0]), rtol=1e-6)
