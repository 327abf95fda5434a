"""The backward engine: accumulation, graph freeing, deep graphs, grad mode, dtype mixing,
and the random-projection check <u, J v> = <J^T u, v> on composite functions."""

import numpy as np
import pytest

import vecgrad
import vecgrad.nn.functional as F
from vg_helpers import need_float64


def test_gradients_accumulate_across_backward_calls(device):
    x = vecgrad.tensor([1.0, 2.0], device=device, requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 + 3, 4 + 3])
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_a_tensor_used_twice_sums_its_gradients(device):
    x = vecgrad.tensor(3.0, device=device, requires_grad=True)
    y = x * x + x  # x feeds three places
    y.backward()
    assert x.grad.item() == pytest.approx(7.0)
    a = vecgrad.tensor([1.0, 2.0], device=device, requires_grad=True)
    (a + a).sum().backward()  # the same buffer handed to both inputs of one op
    np.testing.assert_allclose(a.grad.numpy(), [2.0, 2.0])


def test_leaf_grads_are_independent_buffers(device):
    a = vecgrad.tensor([1.0, 2.0], device=device, requires_grad=True)
    b = vecgrad.tensor([3.0, 4.0], device=device, requires_grad=True)
    (a + b).sum().backward()
    a.grad.mul_(10)  # an optimizer editing one gradient must not touch the other
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0])


def test_graph_is_freed_after_backward_unless_retained(device):
    x = vecgrad.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])
    with pytest.raises(RuntimeError, match="already freed.*retain_graph=True"):
        y.backward()


def test_non_scalar_output_needs_an_explicit_gradient(device):
    x = vecgrad.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"shape \(2,\): pass gradient="):
        y.backward()
    y.backward(vecgrad.tensor([1.0, -1.0], device=device))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -2.0])
    with pytest.raises(ValueError, match=r"gradient shape \(3,\) does not match"):
        (x * 2).backward(vecgrad.zeros(3, device=device))


def test_backward_without_grad_is_a_clear_error(device):
    with pytest.raises(RuntimeError, match="does not require grad"):
        vecgrad.tensor([1.0], device=device).sum().backward()


def test_no_grad_records_nothing(device):
    x = vecgrad.tensor([1.0], device=device, requires_grad=True)
    with vecgrad.no_grad():
        assert not vecgrad.is_grad_enabled()
        y = x * 2
    assert vecgrad.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf and y.grad_fn is None
    z = x * 2
    assert z.requires_grad and not z.is_leaf and z.grad_fn == "Mul"


def test_detach_cuts_the_graph(device):
    x = vecgrad.tensor([2.0], device=device, requires_grad=True)
    y = x * x.detach()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0])


def test_retain_grad_keeps_intermediate_gradients(device):
    x = vecgrad.tensor([1.0, 2.0], device=device, requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), [6.0, 12.0])


def _deep_chain(device, depth):
    x = vecgrad.tensor(0.0, device=device, requires_grad=True)
    y = x
    for _ in range(depth):
        y = y + 1.0
    y.backward()
    assert x.grad.item() == 1.0
    assert y.item() == depth
    del y  # freeing a long chain must not recurse either


def test_hundred_thousand_deep_graph():
    """The walk is iterative: depth is limited by memory only. The engine is the same for
    every backend, so the full depth runs on the cpu (one kernel launch per op on OpenCL
    would take minutes); test_deep_graph_on_device covers each device."""
    _deep_chain("cpu", 100_000)


def test_deep_graph_on_device(device):
    _deep_chain(device, 3_000)


def test_in_place_change_after_use_is_detected(device):
    w = vecgrad.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = (w * w).sum()
    with vecgrad.no_grad():
        w.add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_no_grad_decorates_without_parentheses_and_holds_inside_generators():
    x = vecgrad.tensor([1.0, 2.0], requires_grad=True)

    @vecgrad.no_grad  # PyTorch allows both spellings
    def doubled(t):
        return t * 2.0

    assert not doubled(x).requires_grad and doubled.__name__ == "doubled"
    with vecgrad.no_grad():
        assert vecgrad.enable_grad(lambda t: t * 2.0)(x).requires_grad

    @vecgrad.no_grad()
    def steps(n):
        for _ in range(n):
            yield (x * 2.0).requires_grad, vecgrad.is_grad_enabled()
        return "done"

    seen = []
    for recorded, enabled_inside in steps(2):
        seen.append((recorded, enabled_inside, vecgrad.is_grad_enabled()))
    # off while the body runs (it used to run with gradients on), on again outside it
    assert seen == [(False, False, True)] * 2
    with pytest.raises(TypeError, match="no_grad: takes no arguments"):
        vecgrad.no_grad(3)


def _write_through_detach(y):
    y.detach().zero_()


def _write_through_data(y):
    y.data.fill_(1.0)


def _write_through_a_view(y):
    with vecgrad.no_grad():
        y.T[0, 1] = 7.0


@pytest.mark.parametrize("write", [_write_through_detach, _write_through_data,
                                   _write_through_a_view])
@pytest.mark.parametrize("op", [lambda x: x.exp(), lambda x: x.sqrt(),
                                lambda x: x.softmax(1)], ids=["exp", "sqrt", "softmax"])
def test_change_of_a_saved_output_through_an_alias_is_detected(device, write, op):
    # exp's backward reads its own output: editing it made the gradient silently wrong
    x = vecgrad.tensor([[0.5, 1.0], [1.5, 2.0]], device=device, requires_grad=True)
    y = op(x)
    write(y)
    with pytest.raises(RuntimeError, match="the output of .* was modified in place"):
        y.sum().backward()


def test_aliases_that_do_not_touch_a_saved_output_are_fine(device):
    x = vecgrad.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = x.exp()
    y[0] = 3.0  # recorded: SetItem writes into a copy, exp's output is unchanged
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 2 * np.exp(4.0)], rtol=1e-6)
    x.grad = None
    z = x * 2  # Mul saves its inputs, not its output
    z.detach().add_(1.0)
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_in_place_ops_on_non_leaves_are_refused(device):
    x = vecgrad.tensor([1.0], device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (x * 2).add_(1.0)


def test_float32_leaf_gets_float32_grad_through_float64_ops(device):
    need_float64(device)
    a = vecgrad.tensor([1.5, 2.0], device=device, requires_grad=True)
    b = vecgrad.tensor([3.0, 4.0], dtype=vecgrad.float64, device=device, requires_grad=True)
    y = a * b
    assert y.dtype == np.float64  # numpy promotion, no precision lost forward
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_allclose(a.grad.numpy(), [3.0, 4.0])
    np.testing.assert_allclose(b.grad.numpy(), [1.5, 2.0])


def _composite(x, w, b):
    h = F.linear(x, w, b).tanh()
    return (h.softmax(axis=1) * h.exp()).sum(axis=0) + (x ** 2).mean() * h.max()


def test_random_projection_identity_on_a_composite(device):
    """HIPS autograd's check: <u, JVP(v)> equals <VJP(u), v>, JVP from central differences."""
    need_float64(device)
    rng = np.random.default_rng(7)
    inputs = [rng.standard_normal((4, 3)), rng.standard_normal((5, 3)), rng.standard_normal(5)]
    leaves = [vecgrad.tensor(a, device=device, requires_grad=True) for a in inputs]
    out = _composite(*leaves)
    u = rng.standard_normal(out.shape)
    out.backward(vecgrad.tensor(u, device=device))
    v = [rng.standard_normal(a.shape) for a in inputs]
    vjp_dot_v = sum(float(np.sum(leaf.grad.numpy() * d)) for leaf, d in zip(leaves, v))
    eps = 1e-6

    def f(sign):
        with vecgrad.no_grad():
            moved = [vecgrad.tensor(a + sign * eps * d, device=device) for a, d in zip(inputs, v)]
            return _composite(*moved).numpy()

    jvp = (f(+1) - f(-1)) / (2 * eps)
    assert np.sum(u * jvp) == pytest.approx(vjp_dot_v, rel=1e-6, abs=1e-8)


def test_move_between_devices_keeps_the_graph(device):
    x = vecgrad.tensor([1.0, 2.0], device="cpu", requires_grad=True)
    y = (x.to(device) * 3).to("cpu").sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])
    assert x.to("cpu") is x


def test_a_function_without_backward_is_refused_at_definition():
    from vecgrad.autograd import Function

    with pytest.raises(TypeError, match="Half must define backward"):
        class Half(Function):  # noqa: F841 - defining it is the test
            @staticmethod
            def forward(ctx, x):
                return x
