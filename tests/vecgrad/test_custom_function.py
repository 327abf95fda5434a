"""vecgrad.autograd.CustomFunction: PyTorch's torch.autograd.Function written on Tensors
(forward/backward with ctx.save_for_backward), checked against torch."""

import numpy as np
import pytest

import vecgrad
from vecgrad.autograd import CustomFunction, Function, grad


class ScaledExp(CustomFunction):
    @staticmethod
    def forward(ctx, x, scale):
        out = x.exp() * scale
        ctx.save_for_backward(out)
        ctx.scale = scale
        return out

    @staticmethod
    def backward(ctx, grad_out):
        (out,) = ctx.saved_tensors
        return grad_out * out, None


class MulAdd(CustomFunction):     # two tensor inputs; backward may hand back grad_out itself
    @staticmethod
    def forward(ctx, a, b, c):
        ctx.save_for_backward(a, b)
        return a * b + c

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        assert ctx.needs_input_grad == (True, False, True)
        return g * b, None, g


def test_forward_and_gradient_match_torch(device):
    torch = pytest.importorskip("torch")
    x0 = np.random.default_rng(0).standard_normal((3, 4))
    x = vecgrad.tensor(x0, device=device, requires_grad=True)
    y = ScaledExp.apply(x, 2.0)
    assert y.requires_grad and not x.grad
    (y * y).sum().backward()
    tx = torch.tensor(x0, requires_grad=True)
    ty = torch.exp(tx) * 2.0
    (ty * ty).sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_partial_requires_grad_reuse_and_returned_grad_output(device):
    a = vecgrad.tensor([1.0, 2.0], dtype="float64", device=device, requires_grad=True)
    b = vecgrad.tensor([3.0, 4.0], dtype="float64", device=device)
    c = vecgrad.tensor([0.5, 0.5], dtype="float64", device=device, requires_grad=True)
    out = MulAdd.apply(a, b, c) + MulAdd.apply(a, b, c) * 2   # each node used, grads summed
    out.sum().backward()
    assert a.grad.tolist() == [9.0, 12.0] and c.grad.tolist() == [3.0, 3.0]
    assert b.grad is None and b.tolist() == [3.0, 4.0]


def test_a_gradient_that_is_a_saved_tensor_is_not_added_into(device):
    class Leak(CustomFunction):           # returns the saved tensor itself as the gradient
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x * 0 + 1)
            return x * 1

        @staticmethod
        def backward(ctx, g):
            (ones,) = ctx.saved_tensors
            return ones

    x = vecgrad.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = Leak.apply(x)
    (y + x * 3).sum().backward()
    assert x.grad.tolist() == [4.0, 4.0]


def test_no_grad_and_inputs_without_grad_give_a_plain_result():
    x = vecgrad.tensor([0.0], requires_grad=True)
    with vecgrad.no_grad():
        assert not ScaledExp.apply(x, 1.0).requires_grad
    assert not ScaledExp.apply(vecgrad.tensor([0.0]), 1.0).requires_grad


def test_torch_autograd_functional_is_vecgrad_func():
    import vecgrad.func

    assert vecgrad.autograd.functional is vecgrad.func
    assert vecgrad.autograd.functional.hessian is vecgrad.func.hessian


@pytest.mark.parametrize("backward, error, match", [
    (lambda ctx, g: (g, None, None), ValueError, "returned 3 gradients for the 2 arguments"),
    (lambda ctx, g: (g[:1], None), ValueError, r"gradient 0 has shape \(1,\), its input \(2,\)"),
    (lambda ctx, g: (g.numpy(), None), TypeError, "gradient 0 is a ndarray"),
])
def test_wrong_gradients_are_named(backward, error, match):
    Bad = type("Bad", (CustomFunction,), {"forward": staticmethod(lambda ctx, x, k: x * k),
                                          "backward": staticmethod(backward)})
    x = vecgrad.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(error, match=match):
        Bad.apply(x, 2.0).sum().backward()


def test_forward_must_return_a_tensor_and_save_tensors():
    class Two(CustomFunction):
        @staticmethod
        def forward(ctx, x):
            return x, x

    with pytest.raises(TypeError, match="Two.forward must return one Tensor, got tuple"):
        Two.apply(vecgrad.tensor([1.0], requires_grad=True))
    with pytest.raises(TypeError, match="save_for_backward: argument 0 is a float"):
        vecgrad.autograd.FunctionCtx((True,)).save_for_backward(1.0)


def test_create_graph_through_it_is_refused_clearly():
    x = vecgrad.tensor([1.0], dtype="float64", requires_grad=True)
    with pytest.raises(RuntimeError, match="ScaledExp: derivatives of derivatives"):
        grad(ScaledExp.apply(x, 1.0).sum(), x, create_graph=True)


def test_the_engine_function_names_custom_function_when_given_a_number():
    class Half(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 0.5

        @staticmethod
        def backward(ctx, g):
            return g * 0.5

    with pytest.raises(TypeError, match="subclass vecgrad.autograd.CustomFunction"):
        Half.apply(vecgrad.tensor([1.0]), 2.0)
