"""a // b and a % b (floor_divide, remainder): Python's rounding down and the sign of the
divisor, on both backends, checked against Python's own operators, torch where installed,
and central differences for the remainder's gradient."""

import math
import operator

import numpy as np
import pytest

import vecgrad

# Values where a naive floor(a / b) or a C fmod would differ from Python's answer:
# 1 // 0.1 is 9 (1 / 0.1 rounds up to 10), signs on either side, zeros, infinities.
A = [1.0, -7.5, 7.5, 0.0, -0.0, 5.0, math.inf, 3.0, 1e30, -3.0, -5.0, 0.3, 7.0, -7.0, 2.5]
B = [0.1, 2.0, -2.0, 3.0, 3.0, 0.0, 2.0, math.inf, 7.0, math.inf, -0.0, 0.1, -0.7, 0.7, 2.5]


def _same(got, expected):
    """Equal numbers, equal signs of zero, nan where nan (its sign aside)."""
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    nan = np.isnan(expected)
    assert np.array_equal(np.isnan(got), nan)
    np.testing.assert_array_equal(got[~nan], expected[~nan])
    np.testing.assert_array_equal(np.signbit(got[~nan]), np.signbit(expected[~nan]))


def _python_floordiv(a, b):
    if b == 0:  # Python refuses; numpy and PyTorch give a / b (inf, or nan for 0 / 0)
        with np.errstate(all="ignore"):
            return float(np.float64(a) / np.float64(b))
    return a // b


def _python_mod(a, b):
    if b == 0 or math.isnan(a) or math.isinf(a):
        return math.nan
    result = math.fmod(a, b)  # PyTorch keeps fmod's -0.0 (Python's % says +0.0)
    return result + b if result != 0 and (b < 0) != (result < 0) else result


def test_float64_matches_python(device):
    a = vecgrad.tensor(A, dtype=vecgrad.float64, device=device)
    b = vecgrad.tensor(B, dtype=vecgrad.float64, device=device)
    _same((a // b).numpy(), [_python_floordiv(x, y) for x, y in zip(A, B)])
    _same((a % b).numpy(), [_python_mod(x, y) for x, y in zip(A, B)])
    # the two fit together: a = (a // b) * b + a % b for finite results
    q, r = (a // b).numpy(), (a % b).numpy()
    finite = np.isfinite(q) & np.isfinite(r) & np.isfinite(B)
    rebuilt = q[finite] * np.array(B)[finite] + r[finite]
    np.testing.assert_allclose(rebuilt, np.array(A)[finite], rtol=1e-15)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_values_and_gradients_match_torch(device, dtype):
    torch = pytest.importorskip("torch")
    a = vecgrad.tensor(A, dtype=dtype, device=device, requires_grad=True)
    b = vecgrad.tensor(B, dtype=dtype, device=device, requires_grad=True)
    ta = torch.tensor(A, dtype=getattr(torch, dtype), requires_grad=True)
    tb = torch.tensor(B, dtype=getattr(torch, dtype), requires_grad=True)
    _same((a // b).numpy(), (ta // tb).detach().numpy())
    remainder, t_remainder = a % b, ta % tb
    _same(remainder.detach().numpy(), t_remainder.detach().numpy())
    remainder.sum().backward()
    t_remainder.sum().backward()
    _same(a.grad.numpy(), ta.grad.numpy())
    _same(b.grad.numpy(), tb.grad.numpy())


def test_integers_stay_integers_and_round_down(device):
    a = vecgrad.tensor([7, -7, 7, -7, 0, -(2 ** 63), 5], device=device)
    b = vecgrad.tensor([2, 2, -2, -2, 3, -1, 1], device=device)
    quotient, rest = a // b, a % b
    assert quotient.dtype == np.int64 and rest.dtype == np.int64
    # Python's // and %, except INT64_MIN // -1, which wraps as in numpy and PyTorch
    assert quotient.tolist() == [3, -4, -4, 3, 0, -(2 ** 63), 5]
    assert rest.tolist() == [1, 1, -1, -1, 0, 0, 0]
    assert (a // 2.5).dtype == np.float32                  # a float number makes floats
    assert (5 % vecgrad.tensor([3, -3], device=device)).tolist() == [2, -1]
    assert (vecgrad.tensor([5.0], device=device) // 2).tolist() == [2.0]


def test_booleans_count_as_integers(device):
    t = vecgrad.tensor([True, True], device=device)
    assert (t // t).tolist() == [1, 1] and (t % t).tolist() == [0, 0]


@pytest.mark.parametrize("op, name", [(operator.floordiv, "floor_divide"),
                                      (operator.mod, "remainder")])
def test_integer_division_by_zero_is_refused(device, op, name):
    a = vecgrad.tensor([4, 5], device=device)
    zero = vecgrad.tensor([1, 0], device=device)
    with pytest.raises(ZeroDivisionError, match=f"{name}: integer division by zero"):
        op(a, zero)
    with pytest.raises(ZeroDivisionError, match=name):
        op(a, 0)


def test_remainder_gradient_matches_central_differences(device):
    # away from the jumps (a / b not near a whole number), a % b is smooth
    rng = np.random.default_rng(0)
    a0 = rng.uniform(-5, 5, (3, 4))
    b0 = rng.choice([-1.7, 1.3, 2.9], (1, 4))
    a = vecgrad.tensor(a0, device=device, dtype=vecgrad.float64, requires_grad=True)
    b = vecgrad.tensor(b0, device=device, dtype=vecgrad.float64, requires_grad=True)
    weights = rng.normal(size=(3, 4))
    ((a % b) * vecgrad.tensor(weights, device=device, dtype=vecgrad.float64)).sum().backward()

    def f(x, y):
        return float(np.sum(np.remainder(x, y) * weights))

    h = 1e-7
    for k, grad in enumerate((a.grad.numpy(), b.grad.numpy())):
        numeric = np.zeros_like(grad)
        for index in np.ndindex(grad.shape):
            up, down = [a0.copy(), b0.copy()], [a0.copy(), b0.copy()]
            up[k][index] += h
            down[k][index] -= h
            numeric[index] = (f(*up) - f(*down)) / (2 * h)
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-6)


def test_floor_divide_has_gradient_zero_and_second_order_works(device):
    a = vecgrad.tensor([3.5, -2.0], device=device, requires_grad=True)
    b = vecgrad.tensor([1.5, 0.75], device=device, requires_grad=True)
    ((a // b) * 3).sum().backward()
    assert a.grad.tolist() == [0.0, 0.0] and b.grad.tolist() == [0.0, 0.0]
    # d(a % b)/db = -(a // b), itself piecewise constant: its own derivative is 0
    a.grad = b.grad = None
    (grad_b,) = vecgrad.autograd.grad((a % b).sum(), [b], create_graph=True)
    assert grad_b.tolist() == [-2.0, 3.0]
    (second,) = vecgrad.autograd.grad(grad_b.sum(), [b])  # -(a // b) is flat in b
    assert second.tolist() == [0.0, 0.0]
    (grad_a,) = vecgrad.autograd.grad((a % b * a).sum(), [a], create_graph=True)
    (second,) = vecgrad.autograd.grad(grad_a.sum(), [a])  # d2/da2 (a % b) a = 2
    assert second.tolist() == [2.0, 2.0]


def test_module_level_names_and_methods(device):
    a = vecgrad.tensor([7.0, -7.0], device=device)
    assert vecgrad.floor_divide(a, 2).tolist() == a.floor_divide(2).tolist() == [3.0, -4.0]
    assert vecgrad.remainder(a, 2).tolist() == a.remainder(2).tolist() == [1.0, 1.0]
    assert (20.0 // vecgrad.tensor([3.0], device=device)).tolist() == [6.0]
