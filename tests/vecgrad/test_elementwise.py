"""Elementwise ops: forward vs numpy, backward vs central differences (float64), with
hypothesis over shapes (size-1 axes, broadcasting) and non-contiguous inputs."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import vecgrad
from vg_helpers import PROPERTY, gradcheck, need_float64

BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "pow": (lambda a, b: a ** b, np.power),
}
# Inputs kept where each op is smooth: positive bases for pow, denominators away from 0.
POSITIVE = {"div": (False, True), "pow": (True, False)}


def _values(rng, shape, positive):
    if positive:
        return rng.uniform(0.5, 2.0, shape)
    return rng.uniform(-2.0, 2.0, shape)


@PROPERTY
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                  min_side=1, max_side=3),
       name=st.sampled_from(sorted(BINARY)), seed=st.integers(0, 2**16),
       permuted=st.booleans())
def test_binary_ops_forward_and_backward(device, shapes, name, seed, permuted):
    op, reference = BINARY[name]
    rng = np.random.default_rng(seed)
    positive = POSITIVE.get(name, (False, False))
    a = _values(rng, shapes.input_shapes[0], positive[0])
    b = _values(rng, shapes.input_shapes[1], positive[1])
    result = gradcheck(op, [a, b], device, permuted=permuted)
    np.testing.assert_allclose(result.numpy(), reference(a, b), rtol=1e-12)
    assert result.shape == shapes.result_shape


UNARY = {
    "exp": (lambda x: x.exp(), np.exp, False),
    "log": (lambda x: x.log(), np.log, True),
    "sqrt": (lambda x: x.sqrt(), np.sqrt, True),
    "abs": (lambda x: abs(x), np.abs, False),
    "neg": (lambda x: -x, np.negative, False),
    "sin": (lambda x: x.sin(), np.sin, False),
    "cos": (lambda x: x.cos(), np.cos, False),
    "square": (lambda x: x ** 2, np.square, False),
    "reciprocal": (lambda x: 1.0 / x, np.reciprocal, True),
    "rsub": (lambda x: 3.0 - x, lambda x: 3.0 - x, False),
    "clip": (lambda x: x.clip(-0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7), False),
}


@PROPERTY
@given(shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4),
       name=st.sampled_from(sorted(UNARY)), seed=st.integers(0, 2**16))
def test_unary_ops_forward_and_backward(device, shape, name, seed):
    op, reference, positive = UNARY[name]
    x = _values(np.random.default_rng(seed), shape, positive)
    if name in ("abs", "clip"):  # keep clear of the kinks where the derivative jumps
        x = np.where(np.abs(x) < 0.05, 0.3, x)
        x = np.where(np.abs(x - 0.7) < 0.05, 0.9, np.where(np.abs(x + 0.5) < 0.05, -0.9, x))
    result = gradcheck(op, [x], device)
    np.testing.assert_allclose(result.numpy(), reference(x), rtol=1e-12)


def test_float32_forward_matches_numpy(device):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((4,)).astype(np.float32)
    ta, tb = vecgrad.tensor(a, device=device), vecgrad.tensor(b, device=device)
    for got, want in [((ta * tb + 1.5) / 2, (a * b + 1.5) / 2), (ta - tb, a - b),
                      (ta.exp(), np.exp(a)), (abs(ta).sqrt(), np.sqrt(np.abs(a)))]:
        assert got.dtype == np.float32
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-6)


def test_where_selects_and_routes_gradients(device):
    a = vecgrad.tensor([1.0, -2.0, 3.0], device=device, requires_grad=True)
    b = vecgrad.tensor([10.0], device=device, requires_grad=True)
    out = vecgrad.where(a > 0, a, b)
    np.testing.assert_allclose(out.numpy(), [1.0, 10.0, 3.0])
    out.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [1.0, 0.0, 1.0])
    np.testing.assert_allclose(b.grad.numpy(), [1.0])  # one broadcast use, summed back


def test_where_gradcheck_with_broadcasting(device):
    rng = np.random.default_rng(5)
    cond = vecgrad.tensor(rng.random((2, 3)) > 0.5, device=device)
    gradcheck(lambda a, b: vecgrad.where(cond, a, b), [rng.standard_normal((2, 1)),
                                                       rng.standard_normal((3,))], device)


def test_comparisons_give_masks_without_gradient(device):
    x = vecgrad.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    for mask, want in [(x > 2, [0, 0, 1]), (x >= 2, [0, 1, 1]), (x < 2, [1, 0, 0]),
                       (x <= 2, [1, 1, 0]), (x == 2, [0, 1, 0]), (x != 2, [1, 0, 1])]:
        assert mask.dtype == np.bool_ and not mask.requires_grad
        np.testing.assert_array_equal(mask.numpy(), np.array(want, dtype=bool))
    np.testing.assert_array_equal((~(x > 2)).numpy(), [True, True, False])


def test_masks_combine_with_and_or_xor_like_numpy(device):
    rng = np.random.default_rng(11)
    a_host, b_host = rng.random((3, 1)) > 0.5, rng.random((4,)) > 0.5
    a, b = vecgrad.tensor(a_host, device=device), vecgrad.tensor(b_host, device=device)
    for got, want in [(a & b, a_host & b_host), (a | b, a_host | b_host),
                      (a ^ b, a_host ^ b_host), (True & b, b_host), (b | False, b_host),
                      (True ^ b, ~b_host), (~a & b, ~a_host & b_host)]:
        assert got.dtype == np.bool_ and got.device == a.device and not got.requires_grad
        np.testing.assert_array_equal(got.numpy(), want)


def test_mask_operators_refuse_numbers_and_float_tensors(device):
    mask = vecgrad.tensor([True, False], device=device)
    x = vecgrad.tensor([1.0, 2.0], device=device)
    with pytest.raises(TypeError, match=r"logical_and: & needs bool tensors .* got float32"):
        mask & x
    with pytest.raises(TypeError, match=r"logical_or: \| needs bool tensors .* got int"):
        mask | 1
    with pytest.raises(ValueError, match="logical_xor"):
        mask ^ vecgrad.tensor([True, False, True], device=device)


def test_python_numbers_on_both_sides_keep_float32(device):
    x = vecgrad.tensor([1.0, 2.0], device=device)
    for out in (2 * x, x * 2, 1 - x, x - 1, 2 / x, x / 2, x ** 2, 2 ** x, x + 0.5, 0.5 + x):
        assert out.dtype == np.float32
    np.testing.assert_allclose((2 ** x).numpy(), [2.0, 4.0])
    np.testing.assert_allclose((1 - x).numpy(), [0.0, -1.0])


def test_sign_and_abs_gradient_at_zero_is_zero(device):
    x = vecgrad.tensor([-2.0, 0.0, 3.0], device=device, requires_grad=True)
    abs(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(x.sign().numpy(), [-1.0, 0.0, 1.0])


def test_clip_passes_gradient_inside_and_at_the_bounds(device):
    x = vecgrad.tensor([-2.0, -1.0, 0.0, 1.0, 2.0], device=device, requires_grad=True)
    x.clip(-1.0, 1.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 1.0, 1.0, 1.0, 0.0])


def test_integer_arithmetic_stays_integer_and_division_is_true(device):
    a = vecgrad.tensor([1, 2, 3], device=device)
    assert (a + 1).dtype == np.int64 and (a * a).dtype == np.int64
    assert (a / 2).dtype == np.float32
    np.testing.assert_allclose((a / 2).numpy(), [0.5, 1.0, 1.5])
    assert (a + 0.5).dtype == np.float32


def test_overflow_follows_ieee_without_warnings(device):
    x = vecgrad.tensor([1000.0, -1000.0, 0.0], device=device)
    np.testing.assert_array_equal(x.exp().numpy(), [np.inf, 0.0, 1.0])
    np.testing.assert_array_equal(vecgrad.tensor([0.0], device=device).log().numpy(), [-np.inf])


@pytest.mark.parametrize("bad", ["text", None, object()])
def test_bad_operands_are_named(device, bad):
    x = vecgrad.tensor([1.0], device=device)
    with pytest.raises(TypeError, match="add"):
        x + bad


def test_power_by_a_python_half_is_a_square_root_like_pytorch(device):
    # x ** 0.5 and x ** -0.5 (a Python number) are sqrt(x) and 1 / sqrt(x), as in PyTorch
    # (and numpy's x ** 0.5): -0.0 gives -0.0 / -inf, -inf gives nan. OpenCL gave C's
    # pow there (+0.0, +inf) and cpu numpy's sqrt or pow depending on the layout.
    xs = [-np.inf, -0.0, 0.0, 4.0]
    x = vecgrad.tensor(xs, device=device, requires_grad=True)
    y = x ** 0.5
    y.sum().backward()
    np.testing.assert_array_equal(y.numpy(), [np.nan, -0.0, 0.0, 2.0])
    assert np.signbit(y.numpy()[1]) and not np.signbit(y.numpy()[2])
    np.testing.assert_array_equal(x.grad.numpy(), [np.nan, -np.inf, np.inf, 0.25])
    np.testing.assert_array_equal((x.detach() ** -0.5).numpy(), [np.nan, -np.inf, np.inf, 0.5])
    # a tensor exponent is C's pow on every device and layout (PyTorch's too)
    for half in (vecgrad.tensor(0.5, device=device), vecgrad.full((4,), 0.5, device=device)):
        out = (x.detach() ** half).numpy()
        np.testing.assert_array_equal(out, [np.inf, 0.0, 0.0, 2.0])
        assert not np.signbit(out).any()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_power_at_signed_zeros_and_infinities_matches_torch(device, dtype):
    torch = pytest.importorskip("torch")
    if dtype == "float64":
        need_float64(device)
    xs = np.array([-np.inf, -4.0, -0.0, 0.0, 1e-30, 2.25, np.inf, np.nan], dtype=dtype)
    for p in [0.5, -0.5, 1.5, 2, 3, -1, -2, 0, 1, 2.5, -1.5, np.inf, -np.inf, np.nan]:
        for tensor_exponent in (False, True):
            x = vecgrad.tensor(xs, device=device, requires_grad=True)
            tx = torch.tensor(xs, requires_grad=True)
            if tensor_exponent:
                y = x ** vecgrad.tensor(p, dtype=dtype, device=device)
                ty = tx ** torch.tensor(p, dtype=tx.dtype)
            else:
                y, ty = x ** p, tx ** p
            y.backward(vecgrad.ones(len(xs), dtype=dtype, device=device))  # (a sum of
            ty.backward(torch.ones_like(ty))  # inf and -inf would be nan, with a warning)
            for got, want in ((y.numpy(), ty.detach().numpy()), (x.grad.numpy(), tx.grad.numpy())):
                np.testing.assert_allclose(got, want, rtol=1e-5, err_msg=f"p={p}")
                same_sign = (np.signbit(got) == np.signbit(want)) | np.isnan(want)
                assert same_sign.all(), (p, tensor_exponent, got, want)


def test_clip_of_an_int_tensor_by_float_bounds_is_float(device):
    # PyTorch promotes to float32; the bounds were cast to int64 first (0.5 became 0), so
    # clamp(0.5, 3.5) of [0, 5] gave [0, 3] silently
    x = vecgrad.tensor([0, 2, 5], device=device)
    out = x.clamp(0.5, 3.5)
    assert out.dtype == vecgrad.float32 and out.tolist() == [0.5, 2.0, 3.5]
    assert x.clamp(max=2.5).tolist() == [0.0, 2.0, 2.5]
    ints = x.clamp(1, 3)
    assert ints.dtype == vecgrad.int64 and ints.tolist() == [1, 2, 3]
    with pytest.raises(OverflowError, match="clip: min .* does not fit in int64"):
        x.clamp(2 ** 70)


def test_where_of_two_numbers_has_pytorchs_dtype(device):
    # where(m, 1, 0) was float32 (PyTorch: int64) and where(m, True, False) float32 (bool)
    m = vecgrad.tensor([True, False], device=device)
    for a, b, dtype, values in [(1, 0, vecgrad.int64, [1, 0]),
                                (True, False, vecgrad.bool_, [True, False]),
                                (True, 0, vecgrad.int64, [1, 0]),
                                (1, 2.5, vecgrad.float32, [1.0, 2.5]),
                                (np.float32(1.0), 0, vecgrad.float32, [1.0, 0.0])]:
        out = vecgrad.where(m, a, b)
        assert out.dtype == dtype and out.tolist() == values, (a, b)
    with pytest.raises(TypeError, match="where: a value must be a real number"):
        vecgrad.where(m, "a", 0)
