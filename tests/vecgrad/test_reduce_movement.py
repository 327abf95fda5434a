"""Reductions and shape/indexing ops: forward vs numpy, backward vs finite differences."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import vecgrad
from vg_helpers import PROPERTY, gradcheck, need_float64


@st.composite
def shape_and_axis(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    axis = draw(st.one_of(
        st.none(), st.integers(-len(shape), len(shape) - 1),
        st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape),
                 unique=True).map(tuple)))
    return shape, axis


REDUCTIONS = {
    "sum": (lambda x, a, k: x.sum(axis=a, keepdims=k), lambda x, a, k: np.sum(x, a, keepdims=k)),
    "mean": (lambda x, a, k: x.mean(axis=a, keepdims=k), lambda x, a, k: np.mean(x, a, keepdims=k)),
    "max": (lambda x, a, k: x.max(axis=a, keepdims=k), lambda x, a, k: np.max(x, a, keepdims=k)),
    "min": (lambda x, a, k: x.min(axis=a, keepdims=k), lambda x, a, k: np.min(x, a, keepdims=k)),
    "var": (lambda x, a, k: x.var(axis=a, keepdims=k), lambda x, a, k: np.var(x, a, keepdims=k)),
    "std": (lambda x, a, k: x.std(axis=a, keepdims=k), lambda x, a, k: np.std(x, a, keepdims=k)),
}


@PROPERTY
@given(case=shape_and_axis(), name=st.sampled_from(sorted(REDUCTIONS)),
       keepdims=st.booleans(), seed=st.integers(0, 2**16), permuted=st.booleans())
def test_reductions_forward_and_backward(device, case, name, keepdims, seed, permuted):
    shape, axis = case
    ours, reference = REDUCTIONS[name]
    x = np.random.default_rng(seed).standard_normal(shape)  # distinct values: no ties
    axes = range(len(shape)) if axis is None else np.atleast_1d(axis)
    if name == "std" and np.prod([shape[a] for a in axes]) == 1:
        # one element per group: std is 0 there and has no derivative; check values only
        need_float64(device)
        out = ours(vecgrad.tensor(x, device=device, dtype=np.float64), axis, keepdims)
        np.testing.assert_allclose(out.numpy(), reference(x, axis, keepdims), atol=1e-12)
        return
    result = gradcheck(lambda t: ours(t, axis, keepdims), [x], device, permuted=permuted,
                       atol=1e-5)
    np.testing.assert_allclose(result.numpy(), reference(x, axis, keepdims), rtol=1e-10)


def test_max_shares_the_gradient_among_ties(device):
    x = vecgrad.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]], device=device, requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5], [1, 0, 0]])


def test_dim_alias_and_argmax(device):
    x = vecgrad.tensor([[1.0, 5.0, 5.0], [7.0, 0.0, 1.0]], device=device)
    np.testing.assert_allclose(x.sum(dim=0).numpy(), [8.0, 5.0, 6.0])
    assert x.argmax(axis=1).tolist() == [1, 0]  # first occurrence on ties
    assert x.argmax().item() == 3
    assert x.argmin(axis=0, keepdims=True).tolist() == [[0, 1, 1]]
    assert x.argmax(axis=1).dtype == np.int64


def test_var_ddof(device):
    x = np.array([1.0, 2.0, 4.0, 7.0])
    t = vecgrad.tensor(x, device=device)
    np.testing.assert_allclose(t.var(ddof=1).item(), np.var(x, ddof=1), rtol=1e-6)
    np.testing.assert_allclose(t.std().item(), np.std(x), rtol=1e-6)


MOVEMENTS = {
    "reshape": (lambda t: t.reshape(-1), lambda x: x.reshape(-1)),
    "view": (lambda t: t.view(t.numel(), 1), lambda x: x.reshape(-1, 1)),
    "flatten": (lambda t: t.flatten(), lambda x: x.reshape(-1)),
    "T": (lambda t: t.T, lambda x: x.T),
    "transpose": (lambda t: t.transpose(0, -1), lambda x: np.swapaxes(x, 0, -1)),
    "permute": (lambda t: t.permute(*reversed(range(t.ndim))), lambda x: x.transpose()),
    "unsqueeze": (lambda t: t.unsqueeze(1), lambda x: np.expand_dims(x, 1)),
    "squeeze": (lambda t: t.unsqueeze(0).squeeze(0), lambda x: x),
    "expand": (lambda t: t.unsqueeze(0).expand(2, *t.shape),
               lambda x: np.broadcast_to(x, (2,) + x.shape)),
    "slice": (lambda t: t[..., ::2], lambda x: x[..., ::2]),
    "int_index": (lambda t: t[0], lambda x: x[0]),
    "fancy": (lambda t: t[[0, 0, -1]], lambda x: x[[0, 0, -1]]),
    "cat": (lambda t: vecgrad.cat([t, t * 2], axis=0), lambda x: np.concatenate([x, 2 * x])),
    "stack": (lambda t: vecgrad.stack([t, -t], axis=-1), lambda x: np.stack([x, -x], -1)),
}


@PROPERTY
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
       name=st.sampled_from(sorted(MOVEMENTS)), seed=st.integers(0, 2**16),
       permuted=st.booleans())
def test_movement_forward_and_backward(device, shape, name, seed, permuted):
    ours, reference = MOVEMENTS[name]
    x = np.random.default_rng(seed).standard_normal(shape)
    result = gradcheck(ours, [x], device, permuted=permuted)
    np.testing.assert_array_equal(result.numpy(), reference(x))


def test_repeated_fancy_index_accumulates(device):
    x = vecgrad.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    x[vecgrad.tensor([0, 0, 2, 0], device=device)].sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 0.0, 1.0])


def test_bool_mask_index_and_newaxis(device):
    x = vecgrad.tensor([[1.0, -2.0], [3.0, -4.0]], device=device, requires_grad=True)
    picked = x[x > 0]
    np.testing.assert_allclose(picked.numpy(), [1.0, 3.0])
    picked.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[1.0, 0.0], [1.0, 0.0]])
    assert x[None, :, 1].shape == (1, 2)


def test_gather_picks_along_an_axis(device):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4))
    index = np.array([[1], [3], [1]])
    t_index = vecgrad.tensor(index, device=device)
    result = gradcheck(lambda t: t.gather(1, t_index), [x], device)
    np.testing.assert_array_equal(result.numpy(), np.take_along_axis(x, index, 1))


def test_cat_of_mixed_dtypes_promotes(device):
    a = vecgrad.tensor([1.0], device=device)
    b = vecgrad.tensor([2], device=device)
    assert vecgrad.cat([a, b]).dtype == np.float32


@pytest.mark.parametrize("call, message", [
    (lambda t: t.reshape(4, 4), r"reshape: cannot reshape \(2, 3\)"),
    (lambda t: t.permute(0, 0), "permute"),
    (lambda t: t.squeeze(2), "squeeze: axis 2 is out of range"),
    (lambda t: t.expand(3, 3), "expand: cannot expand"),
    (lambda t: t[5], "getitem: invalid index"),
    (lambda t: t[0.5], "getitem: unsupported index"),
    (lambda t: vecgrad.cat([t, t.T]), "cat: shapes"),
    (lambda t: t.sum(axis=2), "sum: axis 2 is out of range"),
    (lambda t: t.max(axis=(0, 0)), "max: repeated axis"),
])
def test_bad_shapes_and_axes_are_named(device, call, message):
    t = vecgrad.zeros(2, 3, device=device)
    with pytest.raises((ValueError, IndexError, TypeError), match=message):
        call(t)


@pytest.mark.parametrize("call", [
    lambda x: x.split(1), lambda x: x.chunk(1), lambda x: x.unbind(0),
    lambda x: x.narrow(0, 0, 1), lambda x: x.gather(0, vecgrad.tensor(0, device=x.device)),
])
def test_axis_ops_on_a_zero_dimensional_tensor_say_so(device, call):
    # they raised "IndexError: tuple index out of range" from inside movement.py
    x = vecgrad.tensor(2.0, device=device)
    with pytest.raises(ValueError, match="needs at least one axis, got a 0-dimensional"):
        call(x)


def test_transpose_and_size_of_a_zero_dimensional_tensor(device):
    x = vecgrad.tensor(2.0, device=device, requires_grad=True)
    assert x.transpose(0, -1) is x and x.swapaxes(0, 0) is x  # PyTorch: nothing to swap
    with pytest.raises(ValueError, match="transpose: axis 1 is out of range"):
        x.transpose(0, 1)
    with pytest.raises(IndexError, match="size: a 0-dimensional tensor has no axis"):
        x.size(0)
    assert x.size() == ()


def test_expand_refuses_minus_one_for_a_new_axis(device):
    # numpy raised its own error on cpu; OpenCL returned a tensor of shape (-1, 3)
    x = vecgrad.tensor([1.0, 2.0, 3.0], device=device)
    with pytest.raises(ValueError, match=r"expand: cannot expand \(3,\) to \(-1, 3\)"):
        x.expand(-1, 3)
    with pytest.raises(ValueError, match="expand: cannot expand"):
        x.expand(2, -2)
    assert x.expand(2, -1).shape == (2, 3)
