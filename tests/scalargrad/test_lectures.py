"""The worked examples of shared/lectures/README.md, every printed number."""

import math

import pytest

from scalargrad import Value
from scalargrad.forward import gradient


def test_f_equals_x_plus_y_times_z():
    """Lecture 003: f = (x + y) z at x = -2, y = 5, z = -4."""
    x, y, z = Value(-2.0, "x"), Value(5.0, "y"), Value(-4.0, "z")
    q = x + y
    f = q * z
    f.backward()
    assert q.data == 3.0
    assert f.data == -12.0
    assert z.grad == 3.0
    assert q.grad == -4.0
    assert x.grad == -4.0
    assert y.grad == -4.0
    assert f.grad == 1.0


def test_f_forward_mode_gives_the_same_gradient():
    grads = gradient(lambda x, y, z: (x + y) * z, [-2.0, 5.0, -4.0])
    assert grads == [-4.0, -4.0, 3.0]


def _sigmoid_reference(t):
    return 1.0 / (1.0 + math.exp(-t))


def test_logistic_loss_of_lecture_003():
    """l(w) = -log sigma(w . x) at x = (1, 1, 1), w = (1, 1, -1.5)."""
    xs = [1.0, 1.0, 1.0]
    w = [Value(1.0), Value(1.0), Value(-1.5)]
    s = w[0] * xs[0] + w[1] * xs[1] + w[2] * xs[2]
    loss = -s.sigmoid().log()
    loss.backward()
    assert s.data == 0.5
    assert loss.data == pytest.approx(0.474077, abs=5e-7)
    expected = -(1.0 - _sigmoid_reference(0.5))
    assert expected == pytest.approx(-0.377541, abs=5e-7)
    for wi, xi in zip(w, xs):
        assert wi.grad == pytest.approx(expected * xi, rel=1e-12)
        assert wi.grad == pytest.approx(-0.377541, abs=5e-7)


def test_logistic_loss_forward_mode():
    def loss(a, b, c):
        return -((a * 1.0 + b * 1.0 + c * 1.0).sigmoid().log())

    grads = gradient(loss, [1.0, 1.0, -1.5])
    assert grads == pytest.approx([-0.377541] * 3, abs=5e-7)


def _backprop_example():
    """Lecture 004's network: x = (1, 2), W (3x2), ReLU, w7..w9, gold 3, squared error."""
    x = [Value(1.0, "x1"), Value(2.0, "x2")]
    rows = [[2.0, 1.0], [-1.0, -1.0], [1.0, 2.0]]
    W = [[Value(v, f"w{2 * r + c + 1}") for c, v in enumerate(row)] for r, row in enumerate(rows)]
    i = [W[r][0] * x[0] + W[r][1] * x[1] for r in range(3)]
    h = [v.relu() for v in i]
    out_w = [Value(-1.0, "w7"), Value(3.0, "w8"), Value(2.0, "w9")]
    o = out_w[0] * h[0] + out_w[1] * h[1] + out_w[2] * h[2]
    loss = (o - 3.0) ** 2
    return x, W, i, h, out_w, o, loss


def test_backprop_example_of_lecture_004():
    x, W, i, h, out_w, o, loss = _backprop_example()
    loss.backward()
    assert [v.data for v in i] == [4.0, -3.0, 5.0]
    assert [v.data for v in h] == [4.0, 0.0, 5.0]
    assert o.data == 6.0
    assert loss.data == 9.0
    assert o.grad == 6.0
    assert [w.grad for w in out_w] == [24.0, 0.0, 30.0]
    assert [v.grad for v in h] == [-6.0, 18.0, 12.0]
    assert [v.grad for v in i] == [-6.0, 0.0, 12.0]
    assert [w.grad for row in W for w in row] == [-6.0, -12.0, 0.0, 0.0, 12.0, 24.0]
    assert [v.grad for v in x] == [0.0, 18.0]


def test_backprop_example_forward_mode_matches():
    def loss(x1, x2, *weights):
        W = [weights[0:2], weights[2:4], weights[4:6]]
        h = [(row[0] * x1 + row[1] * x2).relu() for row in W]
        o = weights[6] * h[0] + weights[7] * h[1] + weights[8] * h[2]
        return (o - 3.0) ** 2

    point = [1.0, 2.0, 2.0, 1.0, -1.0, -1.0, 1.0, 2.0, -1.0, 3.0, 2.0]
    assert gradient(loss, point) == [0.0, 18.0, -6.0, -12.0, 0.0, 0.0, 12.0, 24.0,
                                     24.0, 0.0, 30.0]
