"""vecgrad.func: vjp, jvp (forward mode), jacobian, hessian, hvp (issue 15)."""

from __future__ import annotations

import numpy as np
import pytest
from vg_helpers import need_float64

import vecgrad
from vecgrad import func
from vecgrad.autograd import Function, grad

RNG = np.random.default_rng(16)


def _t(array, device, **kw):
    return vecgrad.tensor(array, dtype="float64", device=device, **kw)


def _functions(device):
    a = _t(RNG.standard_normal((3, 4)), device)
    return {
        "tanh_matmul": lambda x: (a @ x).tanh() * x[:3],
        "softmax": lambda x: (x * x).softmax(axis=0)[1:],
        "cat_gather": lambda x: vecgrad.cat([x.sin(), (x ** 2)[:2]]).exp(),
        "reduce": lambda x: vecgrad.stack([x.max(), x.sum(), (x * x).mean()]),
    }


@pytest.mark.parametrize("name", ["tanh_matmul", "softmax", "cat_gather", "reduce"])
def test_jvp_equals_the_jacobian_column(name, device):
    need_float64(device)
    f = _functions(device)[name]
    x = _t(RNG.standard_normal(4), device)
    jac = func.jacobian(f, x).numpy()  # reverse mode: one vjp per output element
    for k in range(4):
        e = np.zeros(4)
        e[k] = 1.0
        out, jv = func.jvp(f, x, _t(e, device))
        np.testing.assert_allclose(jv.numpy(), jac[:, k], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(out.numpy(), f(x).numpy())
    forward = func.jacobian(f, x, strategy="forward-mode").numpy()
    np.testing.assert_allclose(forward, jac, rtol=1e-10, atol=1e-12)


def test_vjp_and_jvp_agree_by_random_projection(device):
    """<u, J v> = <J^T u, v> (HIPS/autograd's check: catches a transposed Jacobian)."""
    need_float64(device)
    w = _t(RNG.standard_normal((2, 3, 3)), device)

    def f(x, y):
        return ((w @ x).sigmoid() * y).sum(axis=0), (x * y).log_softmax(axis=1)

    x, y = _t(RNG.standard_normal((3, 2)), device), _t(RNG.standard_normal((3, 2)), device)
    u = (_t(RNG.standard_normal((3, 2)), device), _t(RNG.standard_normal((3, 2)), device))
    v = (_t(RNG.standard_normal((3, 2)), device), _t(RNG.standard_normal((3, 2)), device))
    _, jv = func.jvp(f, (x, y), v)
    _, vj = func.vjp(f, (x, y), u)
    left = sum(float((a * b).sum().item()) for a, b in zip(u, jv))
    right = sum(float((a * b).sum().item()) for a, b in zip(vj, v))
    assert abs(left - right) < 1e-10 * max(1.0, abs(left))



def test_jvp_results_follow_the_outputs_not_the_inputs():
    """J v holds one tangent per output (torch.autograd.functional.jvp): two inputs and
    one output give a Tensor, one input and two outputs give both tangents."""
    x, y = _t([1.0, 2.0], "cpu"), _t([3.0, 4.0], "cpu")
    _, jv = func.jvp(lambda a, b: a * b, (x, y), (_t([1.0, 1.0], "cpu"), _t([0.0, 1.0], "cpu")))
    assert isinstance(jv, vecgrad.Tensor)
    np.testing.assert_allclose(jv.numpy(), [3.0, 6.0])
    _, jv = func.jvp(lambda a: (a * 2.0, a * a), x, _t([1.0, 1.0], "cpu"))
    assert isinstance(jv, tuple) and len(jv) == 2
    np.testing.assert_allclose(jv[0].numpy(), [2.0, 2.0])
    np.testing.assert_allclose(jv[1].numpy(), [2.0, 4.0])

def test_hessian_and_hvp(device):
    need_float64(device)
    a = _t(RNG.standard_normal((5, 3)), device)
    b = _t(RNG.standard_normal(5), device)

    def loss(w):  # lecture 003's logistic loss: H = A^T diag(s(1-s)) A / n
        return vecgrad.nn.functional.binary_cross_entropy_with_logits(a @ w, (b > 0).double())

    w = _t(RNG.standard_normal(3), device)
    h = func.hessian(loss, w).numpy()
    s = 1 / (1 + np.exp(-(a.numpy() @ w.numpy())))
    closed = a.numpy().T @ np.diag(s * (1 - s)) @ a.numpy() / 5
    np.testing.assert_allclose(h, closed, rtol=1e-10, atol=1e-12)
    v = _t(RNG.standard_normal(3), device)
    value, hv = func.hvp(loss, w, v)
    np.testing.assert_allclose(hv.numpy(), closed @ v.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(value.numpy(), loss(w).numpy())
    # forward over reverse: the jvp of the gradient is the same H v
    _, fwd = func.jvp(lambda t: grad(loss(t), t, create_graph=True)[0], w, v)
    np.testing.assert_allclose(fwd.numpy(), closed @ v.numpy(), rtol=1e-10, atol=1e-12)


def test_hessian_of_two_inputs_has_blocks():
    x, y = _t([1.0, 2.0], "cpu"), _t([0.5], "cpu")
    blocks = func.hessian(lambda x, y: (x * x * y).sum() + (y ** 3).sum(), (x, y))
    (hxx, hxy), (hyx, hyy) = blocks
    np.testing.assert_allclose(hxx.numpy(), np.diag([1.0, 1.0]))  # 2y
    np.testing.assert_allclose(hxy.numpy(), [[2.0], [4.0]])  # 2x
    np.testing.assert_allclose(hyx.numpy(), [[2.0, 4.0]])
    np.testing.assert_allclose(hyy.numpy(), [[3.0]])  # 6y


def test_create_graph_gives_third_derivatives():
    x = _t([0.3, -0.7], "cpu", requires_grad=True)
    v = _t([1.0, 1.0], "cpu")
    _, hv = func.hvp(lambda t: t.tanh().sum(), x, v, create_graph=True)
    (third,) = grad(hv.sum(), x)
    t = np.tanh(x.numpy())
    np.testing.assert_allclose(third.numpy(), -2 * (1 - t * t) * (1 - 3 * t * t), rtol=1e-12)


def test_jvp_cost_does_not_grow_with_the_number_of_inputs(monkeypatch):
    """Forward mode, not n reverse passes: the ops applied by one jvp are counted (not
    timed) for 4 and for 400 inputs - the same count."""
    counts = []

    def count(n):
        w = _t(RNG.standard_normal((3, n)), "cpu")
        x = _t(RNG.standard_normal(n), "cpu")
        v = _t(RNG.standard_normal(n), "cpu")
        applied = [0]
        original = Function.apply.__func__

        def counting(cls, *args, **kwargs):
            applied[0] += 1
            return original(cls, *args, **kwargs)

        monkeypatch.setattr(Function, "apply", classmethod(counting))
        func.jvp(lambda t: (w @ t.tanh()).sin(), x, v)
        monkeypatch.undo()
        return applied[0]

    counts = [count(4), count(400)]
    assert counts[0] == counts[1], counts
    assert counts[0] < 60  # 4 forward ops: a constant number of op-sized steps each


def test_torch_agrees_when_installed():
    torch = pytest.importorskip("torch")
    a0 = RNG.standard_normal((4, 3))
    w0 = RNG.standard_normal(3)

    def ours(w):
        a = _t(a0, "cpu")
        return ((a @ w).tanh() ** 2).sum() + (w.exp() * w).sum()

    def theirs(w):
        a = torch.tensor(a0)
        return ((a @ w).tanh() ** 2).sum() + (w.exp() * w).sum()

    got = func.hessian(ours, _t(w0, "cpu")).numpy()
    want = torch.autograd.functional.hessian(theirs, torch.tensor(w0)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_errors():
    x = _t([1.0, 2.0], "cpu")
    with pytest.raises(TypeError, match="inputs must be a Tensor"):
        func.jvp(lambda t: t, [1.0])
    with pytest.raises(ValueError, match="v is required"):
        func.jvp(lambda t: t, x)
    with pytest.raises(ValueError, match="one-element"):
        func.hessian(lambda t: t * 2, x)
    with pytest.raises(ValueError, match=r"v\[0\] has shape \(3,\)"):
        func.hvp(lambda t: t.sum(), x, _t([1.0, 2.0, 3.0], "cpu"))
    with pytest.raises(ValueError, match="strategy"):
        func.jacobian(lambda t: t, x, strategy="sideways")
    with pytest.raises(TypeError, match="must return a Tensor"):
        func.vjp(lambda t: 3.0, x)


def test_hessian_and_jvp_with_create_graph_differentiate_again():
    x = _t([0.3, -0.4], "cpu", requires_grad=True)

    def f(t):
        return (t ** 3).sum() * t[0]

    h = func.hessian(f, x, create_graph=True)
    assert h.requires_grad
    (third,) = grad(h.sum(), x)
    eps = 1e-5

    def summed(v):
        return func.hessian(f, _t(v, "cpu")).numpy().sum()

    base = np.array([0.3, -0.4])
    want = [(summed(base + eps * e) - summed(base - eps * e)) / (2 * eps) for e in np.eye(2)]
    np.testing.assert_allclose(third.numpy(), want, rtol=1e-7, atol=1e-8)
    _, jv = func.jvp(lambda t: t.sin() * t, x, _t([1.0, 0.0], "cpu"), create_graph=True)
    (g2,) = grad(jv.sum(), x)
    np.testing.assert_allclose(g2.numpy(), [2 * np.cos(0.3) - 0.3 * np.sin(0.3), 0.0],
                               rtol=1e-12)


def test_an_infinite_second_derivative_puts_nan_in_the_other_rows_as_in_pytorch():
    """README, vecgrad.func: row k of a Hessian is a vjp with the k-th unit vector, so
    where d2f/dx2 is inf, the zero seed of x's entry meets it in row y (0 * inf = nan),
    as in torch.autograd.functional.hessian; with the variables as a tuple of tensors
    each block is its own pass and H[y][x] is 0 (scalargrad.hessian's number too)."""
    def f(x, y):
        return (x * 2000.0).exp() + y * y

    h = func.hessian(lambda t: f(t[0], t[1]), _t([1.0, 3.0], "cpu")).numpy()
    assert h[0, 0] == np.inf and h[0, 1] == 0.0 and h[1, 1] == 2.0
    assert np.isnan(h[1, 0])
    blocks = func.hessian(f, (_t(1.0, "cpu"), _t(3.0, "cpu")))
    assert blocks[1][0].item() == 0.0 and blocks[0][0].item() == np.inf
    torch = pytest.importorskip("torch")
    want = torch.autograd.functional.hessian(lambda t: f(t[0], t[1]),
                                             torch.tensor([1.0, 3.0], dtype=torch.float64))
    np.testing.assert_array_equal(h, want.numpy())


def test_hessian_and_hvp_of_a_function_that_ignores_its_inputs_are_zero(device):
    """As vjp and jacobian (and PyTorch's non-strict helpers) give 0: hessian and hvp
    raised grad's 'outputs[0] does not require grad' from inside func."""
    need_float64(device)
    x = _t([1.0, 2.0], device)
    for f in (lambda a: _t(3.0, device), lambda a: a.sum().detach()):
        np.testing.assert_array_equal(func.hessian(f, x).numpy(), np.zeros((2, 2)))
        out, hv = func.hvp(f, x, _t([1.0, -1.0], device))
        assert out.item() == 3.0 and np.array_equal(hv.numpy(), [0.0, 0.0])
        blocks = func.hessian(lambda a, b: f(a), (x, _t([4.0], device)))
        assert blocks[1][0].shape == (1, 2) and not blocks[1][0].numpy().any()


def test_create_graph_results_keep_their_graph_inside_no_grad():
    """jacobian and hessian with create_graph=True inside no_grad() returned results that
    did not require grad (their rows were recorded, the stacking was not), while vjp, jvp
    and hvp kept theirs; PyTorch's helpers keep the graph in all five."""
    x = _t([0.3, -0.8], "cpu", requires_grad=True)
    v = _t([1.0, 2.0], "cpu")

    def f(a):
        return (a.sin() * a).sum()

    def g(a):
        return a.sin() * a

    with vecgrad.no_grad():
        results = [func.hessian(f, x, create_graph=True),
                   func.jacobian(g, x, create_graph=True),
                   func.jacobian(g, x, create_graph=True, strategy="forward-mode"),
                   func.hvp(f, x, v, create_graph=True)[1],
                   func.vjp(g, x, v, create_graph=True)[1],
                   func.jvp(g, x, v, create_graph=True)[1]]
        assert not func.hessian(f, x).requires_grad
    assert all(r.requires_grad for r in results)
    (third,) = grad(results[0].sum(), x)  # d/dx of f'' = -3 sin x - x cos x
    x0 = x.numpy()
    np.testing.assert_allclose(third.numpy(), -3 * np.sin(x0) - x0 * np.cos(x0))
