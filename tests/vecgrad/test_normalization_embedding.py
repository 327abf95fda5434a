"""batch_norm, layer_norm and embedding: gradients against central differences on every
test device, values against numpy formulas, and against torch in float64 when installed."""

import numpy as np
import pytest

import vecgrad
import vecgrad.nn.functional as F
from vg_helpers import gradcheck, need_float64

RNG = np.random.default_rng(21)


def _t(a, device, **kwargs):
    return vecgrad.tensor(np.asarray(a, dtype=np.float64), device=device, **kwargs)


@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 4), (2, 3, 2, 3)])
def test_batch_norm_training_gradients_and_values(device, shape):
    x = RNG.standard_normal(shape) * 2 + 1
    w, b = RNG.standard_normal(shape[1]), RNG.standard_normal(shape[1])
    out = gradcheck(lambda *t: F.batch_norm(t[0], None, None, t[1], t[2], training=True),
                    [x, w, b], device, atol=1e-5)
    axes = (0,) + tuple(range(2, len(shape)))
    kept = (1, shape[1]) + (1,) * (len(shape) - 2)
    want = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + 1e-5)
    np.testing.assert_allclose(out.numpy(), want * w.reshape(kept) + b.reshape(kept),
                               rtol=1e-10, atol=1e-12)


def test_batch_norm_running_statistics(device):
    need_float64(device)
    x = RNG.standard_normal((6, 3, 4)) * 3 + 2
    mean, var = _t(np.zeros(3), device), _t(np.ones(3), device)
    F.batch_norm(_t(x, device), mean, var, training=True, momentum=0.25)
    n = 6 * 4  # values per channel; the running variance is the unbiased one
    np.testing.assert_allclose(mean.numpy(), 0.25 * x.mean((0, 2)), rtol=1e-12)
    np.testing.assert_allclose(var.numpy(), 0.75 + 0.25 * x.var((0, 2)) * n / (n - 1),
                               rtol=1e-12)
    # eval: the running statistics normalize, and they are constants for the gradient
    out = gradcheck(lambda t: F.batch_norm(t, mean, var, training=False), [x], device)
    want = (x - mean.numpy()[:, None]) / np.sqrt(var.numpy()[:, None] + 1e-5)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-12)


def test_batch_norm_errors(device):
    with pytest.raises(ValueError, match=r"more than 1 value per channel when training, got "
                                         r"input of shape \(1, 3\)"):
        F.batch_norm(vecgrad.zeros(1, 3, device=device), None, None, training=True)
    F.batch_norm(vecgrad.zeros(1, 3, 2, device=device), None, None, training=True)  # 2 values
    with pytest.raises(ValueError, match=r"running_mean must have shape \(3,\)"):
        F.batch_norm(vecgrad.zeros(2, 3, device=device), vecgrad.zeros(4, device=device),
                     vecgrad.ones(4, device=device))
    with pytest.raises(ValueError, match="training=False needs running_mean"):
        F.batch_norm(vecgrad.zeros(2, 3, device=device), None, None)
    with pytest.raises(ValueError, match="at least 2 axes"):
        F.batch_norm(vecgrad.zeros(3, device=device), None, None, training=True)
    with pytest.raises(TypeError, match="batch_norm: input must be float32 or float64"):
        F.batch_norm(vecgrad.zeros(2, 3, dtype=vecgrad.int64, device=device), None, None,
                     training=True)


@pytest.mark.parametrize("normalized_shape", [4, (3, 4)])
def test_layer_norm(device, normalized_shape):
    x = RNG.standard_normal((2, 3, 4)) * 2 + 1
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
    w, b = RNG.standard_normal(shape), RNG.standard_normal(shape)
    out = gradcheck(lambda *t: F.layer_norm(t[0], normalized_shape, t[1], t[2]), [x, w, b],
                    device, atol=1e-5)
    axes = tuple(range(3 - len(shape), 3))
    want = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + 1e-5)
    np.testing.assert_allclose(out.numpy(), want * w + b, rtol=1e-10, atol=1e-12)
    gradcheck(lambda t: F.layer_norm(t, normalized_shape, eps=0.1), [x], device)
    with pytest.raises(ValueError, match=r"input \(2, 3, 4\) does not end with normalized_shape "
                                         r"\(3,\)"):
        F.layer_norm(_t(x, "cpu"), 3)
    with pytest.raises(ValueError, match="normalized_shape must be a positive int"):
        F.layer_norm(_t(x, "cpu"), (0,))


def test_embedding_gradient_adds_up_by_index(device):
    need_float64(device)
    weight = _t(RNG.standard_normal((5, 3)), device, requires_grad=True)
    idx = np.array([[0, 2, 2], [4, 2, 0]])
    out = F.embedding(vecgrad.tensor(idx, device=device), weight)
    np.testing.assert_array_equal(out.numpy(), weight.numpy()[idx])
    upstream = RNG.standard_normal((2, 3, 3))
    out.backward(_t(upstream, device))
    want = np.zeros((5, 3))
    np.add.at(want, idx, upstream)  # row 2 picked three times: three gradients
    np.testing.assert_allclose(weight.grad.numpy(), want, rtol=1e-12)
    gradcheck(lambda w: F.embedding(idx, w), [weight.numpy()], device)


def test_embedding_padding_row_gets_no_gradient(device):
    need_float64(device)
    w = RNG.standard_normal((4, 2))
    weight = _t(w, device, requires_grad=True)
    idx = vecgrad.tensor([3, 1, 3, 0], device=device)
    out = F.embedding(idx, weight, padding_idx=-1)  # row 3
    np.testing.assert_array_equal(out.numpy(), w[[3, 1, 3, 0]])  # its values still read
    out.backward(_t(np.ones((4, 2)), device))
    np.testing.assert_array_equal(weight.grad.numpy(), [[1, 1], [1, 1], [0, 0], [0, 0]])


def test_embedding_errors(device):
    weight = vecgrad.zeros(5, 3, device=device)
    with pytest.raises(IndexError, match=r"embedding: index 5 is out of range for 5 "
                                         r"embeddings \(valid: 0 to 4\)"):
        F.embedding(vecgrad.tensor([1, 5], device=device), weight)
    with pytest.raises(IndexError, match="index -1 is out of range"):
        F.embedding([0, -1], weight)
    with pytest.raises(TypeError, match=r"indices must be an int64 Tensor, got float32 "
                                        r"\(convert with \.long\(\)\)"):
        F.embedding(vecgrad.tensor([1.0, 2.0], device=device), weight)
    with pytest.raises(TypeError, match="indices must be integers, got float64"):
        F.embedding(np.array([1.5]), weight)
    with pytest.raises(ValueError, match="weight must be 2-D"):
        F.embedding([0], vecgrad.zeros(5, device=device))
    with pytest.raises(ValueError, match="padding_idx 5 is out of range"):
        F.embedding([0], weight, padding_idx=5)


def test_against_torch(device):
    torch = pytest.importorskip("torch")
    need_float64(device)
    tf = torch.nn.functional
    x = RNG.standard_normal((4, 3, 5))
    w, b = RNG.standard_normal(3), RNG.standard_normal(3)
    cases = [
        (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True, eps=1e-3),
         lambda x, w, b: tf.batch_norm(x, None, None, w, b, training=True, eps=1e-3)),
        (lambda x, w, b: F.layer_norm(x, (5,), None, None) * w[0] + b[1],
         lambda x, w, b: tf.layer_norm(x, (5,)) * w[0] + b[1]),
    ]
    for ours, theirs in cases:
        leaves = [_t(a, device, requires_grad=True) for a in (x, w, b)]
        refs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
        out, ref = ours(*leaves), theirs(*refs)
        np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
        up = RNG.standard_normal(out.shape)
        out.backward(_t(up, device))
        ref.backward(torch.tensor(up))
        for leaf, r in zip(leaves, refs):
            np.testing.assert_allclose(leaf.grad.numpy(), r.grad.numpy(), rtol=1e-9,
                                       atol=1e-11)
    rm, rv = _t(np.zeros(3), device), _t(np.ones(3), device)
    trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    F.batch_norm(_t(x, device), rm, rv, training=True, momentum=0.3)
    tf.batch_norm(torch.tensor(x), trm, trv, training=True, momentum=0.3)
    np.testing.assert_allclose(rm.numpy(), trm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(rv.numpy(), trv.numpy(), rtol=1e-12)
    weight = RNG.standard_normal((6, 2))
    idx = np.array([[1, 5, 1], [0, 1, 2]])
    ours = _t(weight, device, requires_grad=True)
    theirs = torch.tensor(weight, requires_grad=True)
    up = RNG.standard_normal((2, 3, 2))
    F.embedding(vecgrad.tensor(idx, device=device), ours, padding_idx=1).backward(_t(up, device))
    tf.embedding(torch.tensor(idx), theirs, padding_idx=1).backward(torch.tensor(up))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", ["batch_norm", "layer_norm", "max_pool1d", "conv1d",
                                  "conv_transpose1d", "interpolate"])
def test_second_derivatives_through_the_new_layers(device, name):
    """Hessian-vector products (create_graph through the composites) against central
    differences of the gradient."""
    need_float64(device)
    from vecgrad.func import hvp

    w = RNG.standard_normal((2, 2, 3))
    functions = {
        "batch_norm": lambda x: F.batch_norm(x, None, None, training=True),
        "layer_norm": lambda x: F.layer_norm(x, 3),
        "max_pool1d": lambda x: F.max_pool1d(x * x, 2, 1, ceil_mode=True),
        "conv1d": lambda x: F.conv1d(x, _t(w, device), padding=1),
        "conv_transpose1d": lambda x: F.conv_transpose1d(x, _t(w, device), stride=2),
        "interpolate": lambda x: F.interpolate(x, size=5, mode="linear"),
    }
    inner = functions[name]
    weights = _t(RNG.standard_normal(inner(_t(np.zeros((3, 2, 3)), device)).shape), device)

    def loss(x):  # a smooth scalar with curvature in every direction
        return ((inner(x) * weights).sin()).sum()

    x0, v = RNG.standard_normal((3, 2, 3)), RNG.standard_normal((3, 2, 3))
    _, got = hvp(loss, _t(x0, device), _t(v, device))

    def gradient(values):
        x = _t(values, device, requires_grad=True)
        loss(x).backward()
        return x.grad.numpy()

    eps = 1e-5
    want = (gradient(x0 + eps * v) - gradient(x0 - eps * v)) / (2 * eps)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)
