"""x[index] = value and masked_fill: values against numpy, gradients against central
differences on every device and against torch (float64) when it is installed."""

import numpy as np
import pytest
from vg_helpers import gradcheck, need_float64

import vecgrad

RNG = np.random.default_rng(3)

# (index, value shape): ints, slices, negative steps, None/..., masks and index arrays
CASES = [
    ((1,), (4,)),
    ((1,), ()),
    ((slice(None), 2), (3,)),
    ((slice(0, 3, 2), slice(1, None)), (1, 3)),
    ((Ellipsis, slice(None, None, -2)), (2,)),
    ((np.array([2, 0]),), (2, 4)),
    ((np.array([0, 2]), np.array([3, 1])), ()),
    ((np.array([[True, False, True, False]] * 3),), (6,)),
    ((slice(None), np.array([0, 3])), (3, 1)),
    ((1, 2), ()),  # one element: numpy's x[1, 2] is a copied scalar, not a view
    ((-1, -4), ()),
]


@pytest.mark.parametrize("index,value_shape", CASES)
def test_values_match_numpy(device, index, value_shape):
    x_np = RNG.standard_normal((3, 4)).astype(np.float32)
    v_np = RNG.standard_normal(value_shape).astype(np.float32)
    x = vecgrad.tensor(x_np, device=device)
    x[index] = vecgrad.tensor(v_np, device=device)
    want = x_np.copy()
    want[index] = v_np
    np.testing.assert_array_equal(x.numpy(), want)


@pytest.mark.parametrize("index,value_shape", CASES)
def test_gradients_reach_the_untouched_part_and_the_value(device, index, value_shape):
    def fn(a, v):
        x = a * 1.0  # a non-leaf: the write records SetItem
        x[index] = v
        return x * x  # the loss must see the written values
    gradcheck(fn, [RNG.standard_normal((3, 4)), RNG.standard_normal(value_shape)], device)


def test_write_into_a_fresh_tensor_builds_it_from_parts(device):
    need_float64(device)
    w = vecgrad.tensor(RNG.standard_normal(3), device=device, requires_grad=True)
    h = vecgrad.zeros(2, 3, dtype=vecgrad.float64, device=device)  # a leaf without grad
    h[0] = w
    h[1] = w * 2
    assert not h.is_leaf and h.requires_grad
    h.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [3.0, 3.0, 3.0])


@pytest.mark.parametrize("dtype,value", [(vecgrad.int64, 7), (vecgrad.bool_, True)])
def test_int_and_bool_tensors(device, dtype, value):
    x = vecgrad.zeros(2, 5, dtype=dtype, device=device)
    x[np.array([1, 0]), np.array([4, 2])] = value
    x[:, 0] = value
    want = np.zeros((2, 5), dtype=dtype)
    want[[1, 0], [4, 2]] = value
    want[:, 0] = value
    np.testing.assert_array_equal(x.numpy(), want)


def test_a_python_float_written_into_an_int_tensor_is_cast_toward_zero(device):
    # As a list, a float tensor, copy_/fill_ and PyTorch cast it; x[0] = 2.7 said
    # "2.7 has no int64 value" (and so did masked_fill).
    x = vecgrad.tensor([1, 2, 3], device=device)
    x[0] = 2.7
    x[1:] = [-2.7, 9.0]
    assert x.tolist() == [2, -2, 9]
    mask = vecgrad.tensor([True, False, True], device=device)
    assert x.masked_fill(mask, -7.9).tolist() == [-7, -2, -7]
    with pytest.raises(ValueError, match="setitem: nan has no int64 value"):
        x[0] = float("nan")
    with pytest.raises(OverflowError, match="setitem: .* does not fit in int64"):
        x[0] = 1e30
    b = vecgrad.tensor([False, False], device=device)
    b[0] = 0.5
    assert b.tolist() == [True, False]


def test_a_recorded_write_through_a_view_is_refused(device):
    # v = h[1:]; v[0] = w made v a new tensor and left h all zeros, silently (PyTorch
    # writes into h); now it says to index h itself
    w = vecgrad.tensor([1.0], device=device, requires_grad=True)
    h = vecgrad.zeros(2, 3, device=device)
    for view in (h[1:], h[1:][:, :2], h.detach(), h.reshape(6), h.T):
        with pytest.raises(RuntimeError, match="cannot be written through a view"):
            view[0] = w * 2
    assert h.tolist() == [[0.0] * 3] * 2
    h[1] = w * 2  # the tensor itself: recorded
    (h * vecgrad.tensor([[1.0] * 3, [2.0] * 3], device=device)).sum().backward()
    assert h.tolist() == [[0.0] * 3, [2.0] * 3] and w.grad.tolist() == [12.0]
    fresh = vecgrad.zeros(6, device=device).reshape(2, 3)  # a view of nothing else alive
    fresh[0] = w
    assert fresh.tolist()[0] == [1.0] * 3
    v = h.detach()[0]
    v[0] = 5.0  # no gradient: written in place, through the view, as before
    assert h.detach()[0, 0].item() == 5.0


def test_no_grad_write_is_in_place_and_seen_through_views(device):
    base = vecgrad.zeros(3, 4, device=device)
    row = base[1]
    row[2:] = 5.0
    assert base.numpy()[1].tolist() == [0, 0, 5, 5]
    x = vecgrad.arange(6, dtype=vecgrad.float32, device=device)
    x[1:] = x[:-1]  # overlapping read and write: everything is read first
    assert x.numpy().tolist() == [0, 0, 1, 2, 3, 4]


def test_stale_saved_tensor_is_caught():
    a = vecgrad.randn(3, requires_grad=True)
    x = vecgrad.ones(3)
    y = a * x  # saves x, which needs no gradient itself
    x[0] = vecgrad.randn(1, requires_grad=True)  # x becomes SetItem's output
    with pytest.raises(RuntimeError, match="modified in place"):
        y.sum().backward()
    x = a * 2
    y = x * x
    with vecgrad.no_grad():
        x[0] = 1.0  # an in-place write with no graph
    with pytest.raises(RuntimeError, match="modified in place"):
        y.sum().backward()


@pytest.mark.parametrize("how", ["backward", "grad", "create_graph"])
def test_earlier_use_that_saved_nothing_is_caught(how):
    """Every backward walk refuses, not only the first-order one (autograd.grad and
    create_graph gave [0, 1, 1] silently before)."""
    a = vecgrad.randn(3, requires_grad=True)
    x = a * 2
    y = x + 1  # saves nothing: the rebase check catches it
    x[0] = 1.0
    loss = y.sum() + x.sum()
    with pytest.raises(RuntimeError, match=r"later written in place \(x\[index\] = value\)"):
        if how == "grad":
            vecgrad.autograd.grad(loss, [a])
        else:
            loss.backward(create_graph=how == "create_graph")


@pytest.mark.parametrize("how", ["backward", "grad", "jacobian", "jacobian-forward", "jvp",
                                 "hvp"])
def test_a_write_computed_from_the_tensor_itself_is_caught(how):
    """x[1] = x[1] * 3 makes x its own ancestor; every walk must refuse it. autograd.grad
    (so vecgrad.func) and the forward-mode walk pruned that loop and gave a zero gradient
    for x[1] silently (the right one is 3 d(x[1])/da)."""
    def func(a):
        x = a.exp() * a
        x[1] = x[1] * 3
        return x.sum()

    a = vecgrad.tensor([0.3, -0.2, 0.5], dtype=vecgrad.float64)
    ones = vecgrad.ones(3, dtype=vecgrad.float64)
    calls = {
        "backward": lambda: func(a.detach().requires_grad_()).backward(),
        "grad": lambda: vecgrad.autograd.grad(func(a.requires_grad_()), a),
        "jacobian": lambda: vecgrad.func.jacobian(func, a),
        "jacobian-forward": lambda: vecgrad.func.jacobian(func, a, strategy="forward-mode"),
        "jvp": lambda: vecgrad.func.jvp(func, a, ones),
        "hvp": lambda: vecgrad.func.hvp(func, a, ones),
    }
    with pytest.raises(RuntimeError, match=r"later written in place \(x\[index\] = value\)"):
        calls[how]()


def test_clear_errors():
    leaf = vecgrad.randn(3, 4, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        leaf[0] = 1.0
    with vecgrad.no_grad():
        leaf[0] = 1.0  # allowed, like PyTorch
    assert leaf.numpy()[0].tolist() == [1, 1, 1, 1]
    x = vecgrad.zeros(3, 4)
    with pytest.raises(ValueError, match=r"value of shape \(3,\) cannot be assigned to "
                                         r"x\[index\] of shape \(2, 4\)"):
        x[1:] = vecgrad.zeros(3)
    with pytest.raises(IndexError, match="more than once"):
        x[np.array([0, 0])] = vecgrad.zeros(2, 4)
    with pytest.raises(IndexError, match="invalid index for a tensor of shape"):
        x[5] = 1.0
    view = (leaf * 1).reshape(4, 3)
    with pytest.raises(RuntimeError, match="view made by Reshape"):
        view[0] = vecgrad.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="broadcast view"):
        vecgrad.zeros(1, 4).expand(3, 4)[0] = 1.0


def test_masked_fill(device):
    need_float64(device)
    x_np = RNG.standard_normal((3, 4))
    mask = vecgrad.tensor(x_np > 0, device=device)
    x = vecgrad.tensor(x_np, device=device, requires_grad=True)
    out = x.masked_fill(mask, -1.0)
    np.testing.assert_array_equal(out.numpy(), np.where(x_np > 0, -1.0, x_np))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), (x_np <= 0).astype(float))
    row_mask = vecgrad.tensor([True, False, False, True], device=device)  # broadcasts
    assert x.masked_fill(row_mask, 0.0).numpy()[:, 0].tolist() == [0, 0, 0]
    with pytest.raises(TypeError, match="mask must be a bool Tensor"):
        x.masked_fill(x, 0.0)
    with pytest.raises(ValueError, match="cannot be broadcast"):
        x.masked_fill(vecgrad.tensor([True, False], device=device), 0.0)
    if device != "cpu":  # the error names the call made (it named `where`)
        with pytest.raises(ValueError, match="masked_fill: tensors are on different devices"):
            x.masked_fill(mask, vecgrad.tensor(2.0, dtype=vecgrad.float64))


def test_matches_torch_float64():
    torch = pytest.importorskip("torch")
    for index, value_shape in CASES:
        a_np, v_np = RNG.standard_normal((3, 4)), RNG.standard_normal(value_shape)
        w_np = RNG.standard_normal((3, 4))
        a, v = vecgrad.tensor(a_np, requires_grad=True), vecgrad.tensor(v_np, requires_grad=True)
        ta, tv = torch.tensor(a_np, requires_grad=True), torch.tensor(v_np, requires_grad=True)
        x, tx = a * 1.0, ta * 1.0
        x[index] = v
        t_index = tuple(torch.from_numpy(e.copy()) if isinstance(e, np.ndarray) else e
                        for e in index)
        if index[0] is Ellipsis:  # torch has no negative steps
            t_index = (Ellipsis, torch.tensor([3, 1]))
        tx[t_index] = tv
        (x * vecgrad.tensor(w_np)).sum().backward()
        (tx * torch.from_numpy(w_np)).sum().backward()
        np.testing.assert_allclose(x.numpy(), tx.detach().numpy(), err_msg=str(index))
        np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), err_msg=str(index))
        np.testing.assert_allclose(v.grad.numpy(), tv.grad.numpy(), err_msg=str(index))
