"""clip_grad_norm_ / clip_grad_value_: closed forms, every device, torch when installed."""

import math

import numpy as np
import pytest

import vecgrad
from vecgrad.nn.utils import clip_grad_norm_, clip_grad_value_, grad_norm

from .helpers import give_grad

RNG = np.random.default_rng(11)


def _params(device, grads):
    params = []
    for g in grads:
        p = vecgrad.zeros(*np.shape(g), dtype=vecgrad.float32, device=device, requires_grad=True)
        give_grad(p, g)
        params.append(p)
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf, "inf"])
def test_norm_and_scaling_match_the_closed_form(device, norm_type):
    grads = [RNG.standard_normal((3, 4)), RNG.standard_normal(5)]
    params = _params(device, grads)
    flat = np.concatenate([g.ravel() for g in grads])
    order = math.inf if norm_type == "inf" else norm_type
    want = np.linalg.norm(flat, ord=order)
    assert grad_norm(params, norm_type) == pytest.approx(want, rel=1e-5)
    total = clip_grad_norm_(params, max_norm=0.5, norm_type=norm_type)
    assert total.item() == pytest.approx(want, rel=1e-5)  # the norm before clipping
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad.numpy(), g * 0.5 / (want + 1e-6), rtol=1e-5)
    after = np.concatenate([p.grad.numpy().ravel() for p in params])
    assert np.linalg.norm(after, ord=order) == pytest.approx(0.5, rel=1e-4)


def test_small_gradients_are_left_alone(device):
    params = _params(device, [[0.1, -0.2]])
    clip_grad_norm_(params, 10.0)
    np.testing.assert_allclose(params[0].grad.numpy(), [0.1, -0.2], rtol=1e-6)
    clip_grad_value_(params, 0.15)
    np.testing.assert_allclose(params[0].grad.numpy(), [0.1, -0.15], rtol=1e-6)


def test_params_without_grad_and_single_tensor():
    a, b = _params("cpu", [[3.0, 4.0]])[0], vecgrad.zeros(2, requires_grad=True)
    assert clip_grad_norm_([a, b], 1.0).item() == pytest.approx(5.0)
    assert clip_grad_norm_(a, 1.0).item() == pytest.approx(1.0, rel=1e-5)
    assert clip_grad_norm_([b], 1.0).item() == 0.0


def test_errors():
    params = _params("cpu", [[np.inf, 1.0]])
    with pytest.raises(RuntimeError, match="total norm of order 2.0 of the gradients is inf"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="max_norm must be a number >= 0"):
        clip_grad_norm_(params, -1.0)
    with pytest.raises(ValueError, match="norm_type must be a number > 0 or inf"):
        clip_grad_norm_(params, 1.0, norm_type=0)
    with pytest.raises(ValueError, match="clip_value must be a number >= 0"):
        clip_grad_value_(params, -1)
    with pytest.raises(TypeError, match="parameter 0 is a list"):
        clip_grad_norm_([[1.0]], 1.0)


def test_matches_torch():
    torch = pytest.importorskip("torch")
    grads = [RNG.standard_normal((4, 3)), RNG.standard_normal(7)]
    for norm_type in (2.0, 1.5, math.inf):
        ours = _params("cpu", grads)
        theirs = [torch.zeros(np.shape(g), dtype=torch.float32, requires_grad=True) for g in grads]
        for t, g in zip(theirs, grads):
            t.grad = torch.tensor(g, dtype=torch.float32)
        a = clip_grad_norm_(ours, 1.0, norm_type)
        b = torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type)
        assert a.item() == pytest.approx(b.item(), rel=1e-5)
        for o, t in zip(ours, theirs):
            np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-7)
