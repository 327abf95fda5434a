"""The fused primitives on OpenCL: activation_backward (bact_<name> in activations.cl)
and cross_entropy / cross_entropy_backward (softmax.cl), against the numpy backend, against
the unfused primitives they replace, on awkward shapes, strided views and nan inputs."""

import math

import numpy as np
import pytest

import vecgrad
import vecgrad.nn.functional as F
from scalargrad.functions import ACTIVATIONS

# The tolerances of tests/opencl/conftest.py (float32: OpenCL vs numpy).
RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}
ATOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}

NAMES = sorted(ACTIVATIONS)
SHAPES = [(1,), (3,), (7, 33), (129,), (257,), (3, 7, 33)]


def _alphas(name):
    default = ACTIVATIONS[name].default_alpha
    if name == "soft_exponential":
        return [-0.5, 0.0, 0.5]
    return [default] if default is None else [default, 0.3]


def _close(got, want, what, dtype=None):
    dtype = np.dtype(dtype or want.dtype)
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=ATOL[dtype],
                               equal_nan=True, err_msg=what)


def _on_both(pair, fn):
    """fn(backend) -> buffer or tuple of buffers, run on OpenCL and numpy, as host arrays."""
    results = []
    for backend in (pair.cl, pair.ref):
        out = fn(backend)
        outs = out if isinstance(out, tuple) else (out,)
        results.append(tuple(backend.to_numpy(o) for o in outs))
    return results


# --------------------------------------------------------------- activation_backward
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_activation_backward_matches_numpy_and_unfused(pair, rng, name, shape, float_dtype):
    x = (rng.standard_normal(shape) * 2).astype(float_dtype)
    grad = rng.standard_normal(shape).astype(float_dtype)
    cl = pair.cl
    for alpha in _alphas(name):
        with np.errstate(all="ignore"):
            (got,), (want,) = _on_both(pair, lambda be: be.activation_backward(
                name, be.from_numpy(x), be.from_numpy(grad), alpha))
        _close(got, want, f"activation_backward {name}(alpha={alpha}) vs numpy")
        xb, gb = cl.from_numpy(x), cl.from_numpy(grad)
        unfused = cl.to_numpy(cl.binary("mul", cl.activation_derivative(name, xb, alpha), gb))
        np.testing.assert_allclose(got, unfused, rtol=1e-6, atol=0, equal_nan=True,
                                   err_msg=f"{name}: fused != activation_derivative * grad")


def _transposed(be, buf):
    return be.permute(buf, (1, 0))


def _sliced(be, buf):
    return be.getitem(buf, (slice(1, None, 2), slice(None, None, -3)))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("x_view, g_view", [(_transposed, _transposed), (_transposed, None),
                                            (None, _sliced), (_sliced, _sliced)],
                         ids=["both-T", "x-T", "grad-sliced", "both-sliced"])
def test_activation_backward_on_strided_views(pair, rng, name, x_view, g_view):
    # Views of a (33, 66) array: transposed -> (66, 33); sliced -> (16, 22).
    x = (rng.standard_normal((33, 66)) * 2).astype(np.float32)
    g = rng.standard_normal((33, 66)).astype(np.float32)
    shape_of = {_transposed: (66, 33), _sliced: (16, 22), None: None}
    target = shape_of[x_view] or shape_of[g_view]
    if x_view is None:  # a contiguous operand of the view's shape
        x = (rng.standard_normal(target) * 2).astype(np.float32)
    if g_view is None:
        g = rng.standard_normal(target).astype(np.float32)
    alpha = ACTIVATIONS[name].default_alpha

    def run(be):
        xb, gb = be.from_numpy(x), be.from_numpy(g)
        xb = x_view(be, xb) if x_view else xb
        gb = g_view(be, gb) if g_view else gb
        assert xb.shape == gb.shape == target
        return be.activation_backward(name, xb, gb, alpha)

    with np.errstate(all="ignore"):
        (got,), (want,) = _on_both(pair, run)
    _close(got, want, f"activation_backward {name} on views")


@pytest.mark.parametrize("name", NAMES)
def test_activation_backward_nan_and_inf(pair, name, float_dtype):
    special = [0.0, -0.0, 1e-4, -1.0, 3.0, 1e6, -1e6, math.inf, -math.inf, math.nan]
    x = np.array(special * 3, dtype=float_dtype)
    g = np.repeat(np.array([1.5, -2.0, math.nan], dtype=float_dtype), len(special))
    cl = pair.cl
    for alpha in _alphas(name):
        with np.errstate(all="ignore"):
            (got,), (want,) = _on_both(pair, lambda be: be.activation_backward(
                name, be.from_numpy(x), be.from_numpy(g), alpha))
            derivative = cl.to_numpy(cl.activation_derivative(name, cl.from_numpy(x), alpha))
        _close(got, want, f"{name}(alpha={alpha}) at nan/inf vs numpy")
        with np.errstate(all="ignore"):
            unfused = derivative * g
        np.testing.assert_array_equal(np.isnan(got), np.isnan(unfused),
                                      err_msg=f"{name}: nan positions differ from f' * grad")


def test_activation_backward_needs_float(cl_backend):
    from vecgrad.backends.opencl_runtime import OpenCLError

    x = cl_backend.from_numpy(np.arange(3))
    with pytest.raises(OpenCLError, match="needs a float tensor, got int64"):
        cl_backend.activation_backward("relu", x, x, None)


def test_activation_backward_empty(cl_backend):
    x = cl_backend.from_numpy(np.zeros((0, 5), np.float32))
    assert cl_backend.to_numpy(cl_backend.activation_backward("tanh", x, x, None)).shape == (0, 5)


# --------------------------------------------------------------------- cross_entropy
CE_SHAPES = [(1, 1), (5, 1), (1, 2), (3, 7), (33, 10), (2, 257), (7, 300), (4, 1000),
             (129, 3)]


def _labels(rng, n, c):
    labels = rng.integers(0, c, n)
    labels[0] = c - 1  # the last class is always hit once
    return labels.astype(np.int64)


@pytest.mark.parametrize("shape", CE_SHAPES, ids=str)
def test_cross_entropy_matches_numpy(pair, rng, shape, float_dtype):
    n, c = shape
    logits = (rng.standard_normal(shape) * 3).astype(float_dtype)
    labels = _labels(rng, n, c)
    (losses, log_probs), (want_losses, want_log_probs) = _on_both(
        pair, lambda be: be.cross_entropy(be.from_numpy(logits), be.from_numpy(labels)))
    _close(losses, want_losses, f"cross_entropy losses {shape}")
    _close(log_probs, want_log_probs, f"cross_entropy log_probs {shape}")
    _close(log_probs, pair.cl.to_numpy(pair.cl.log_softmax(pair.cl.from_numpy(logits), 1)),
           "cross_entropy log_probs vs log_softmax")
    _close(losses, -want_log_probs[np.arange(n), labels], "losses = -log_probs[label]")


@pytest.mark.parametrize("shape", CE_SHAPES, ids=str)
def test_cross_entropy_scale_multiplies_each_loss(pair, rng, shape, float_dtype):
    """scale = 1/N: the losses' sum is their mean (CrossEntropy's 'mean' in 2 launches);
    log_probs are not scaled."""
    n, c = shape
    logits = (rng.standard_normal(shape) * 3).astype(float_dtype)
    labels = _labels(rng, n, c)
    scale = 1.0 / n
    (losses, log_probs), (want_losses, want_log_probs) = _on_both(
        pair, lambda be: be.cross_entropy(be.from_numpy(logits), be.from_numpy(labels), scale))
    _close(losses, want_losses, f"scaled cross_entropy losses {shape}")
    _close(log_probs, want_log_probs, f"scaled cross_entropy log_probs {shape}")
    _close(losses, -want_log_probs[np.arange(n), labels] * np.dtype(float_dtype).type(scale),
           "losses = -log_probs[label] * scale")
    _close(np.sum(losses, dtype=np.float64), np.mean(-want_log_probs[np.arange(n), labels],
                                                     dtype=np.float64), "sum of scaled = mean", float_dtype)


@pytest.mark.parametrize("shape", CE_SHAPES, ids=str)
@pytest.mark.parametrize("grad_shape", ["()", "(N,)"])
@pytest.mark.parametrize("scale", [1.0, "1/N"])
def test_cross_entropy_backward_matches_numpy(pair, rng, shape, grad_shape, scale,
                                              float_dtype):
    n, c = shape
    scale = 1.0 / n if scale == "1/N" else scale
    log_probs = pair.ref.log_softmax(rng.standard_normal(shape).astype(float_dtype), 1)
    labels = _labels(rng, n, c)
    grad = (np.array(1.7, dtype=float_dtype) if grad_shape == "()"
            else rng.standard_normal(n).astype(float_dtype))
    (got,), (want,) = _on_both(pair, lambda be: be.cross_entropy_backward(
        be.from_numpy(log_probs), be.from_numpy(labels), be.from_numpy(grad), scale))
    _close(got, want, f"cross_entropy_backward {shape} grad {grad_shape} scale {scale}")
    onehot = np.eye(c, dtype=float_dtype)[labels]
    g = grad if grad.ndim == 0 else grad[:, None]
    _close(got, ((np.exp(log_probs) - onehot) * g * scale).astype(float_dtype),
           "cross_entropy_backward vs its formula")


def test_cross_entropy_on_strided_inputs(pair, rng):
    # logits: a transposed (C, N) array; labels and grad: every other element.
    n, c = 17, 300
    logits_t = rng.standard_normal((c, n)).astype(np.float32)
    labels = rng.integers(0, c, 2 * n).astype(np.int64)
    grad = rng.standard_normal(2 * n).astype(np.float32)

    def run(be):
        logits = be.permute(be.from_numpy(logits_t), (1, 0))
        lab = be.getitem(be.from_numpy(labels), (slice(1, None, 2),))
        g = be.getitem(be.from_numpy(grad), (slice(None, None, 2),))
        losses, log_probs = be.cross_entropy(logits, lab)
        back = be.cross_entropy_backward(be.permute(be.permute(log_probs, (1, 0)), (1, 0)),
                                         lab, g, 0.25)
        return losses, log_probs, back

    got, want = _on_both(pair, run)
    for what, a, b in zip(("losses", "log_probs", "backward"), got, want):
        _close(a, b, f"cross_entropy on views: {what}")


@pytest.mark.parametrize("magnitude", [1e4, -1e4])
@pytest.mark.parametrize("shape", [(4, 3), (3, 300)], ids=str)
def test_cross_entropy_extreme_logits_stay_finite(pair, rng, magnitude, shape, float_dtype):
    n, c = shape
    logits = (rng.choice([-1.0, 0.5, 1.0], size=shape) * magnitude).astype(float_dtype)
    labels = _labels(rng, n, c)
    cl = pair.cl
    losses, log_probs = cl.cross_entropy(cl.from_numpy(logits), cl.from_numpy(labels))
    back = cl.to_numpy(cl.cross_entropy_backward(log_probs, cl.from_numpy(labels),
                                                 cl.from_numpy(np.ones(n, float_dtype)), 1.0))
    losses, log_probs = cl.to_numpy(losses), cl.to_numpy(log_probs)
    assert np.isfinite(losses).all() and np.isfinite(log_probs).all() and np.isfinite(back).all()
    np.testing.assert_allclose(back.sum(axis=1), 0.0, atol=1e-5)
    want_losses, want_log_probs = pair.ref.cross_entropy(logits, labels)
    _close(losses, want_losses, "losses at +-1e4")
    _close(log_probs, want_log_probs, "log_probs at +-1e4")


def test_cross_entropy_nan_row_stays_in_its_row(pair, rng):
    logits = rng.standard_normal((3, 5)).astype(np.float32)
    logits[1, 2] = np.nan
    labels = np.array([0, 4, 2], dtype=np.int64)
    (losses, log_probs), (want_losses, want_log_probs) = _on_both(
        pair, lambda be: be.cross_entropy(be.from_numpy(logits), be.from_numpy(labels)))
    _close(losses, want_losses, "losses with a nan row")
    _close(log_probs, want_log_probs, "log_probs with a nan row")
    assert np.isnan(losses[1]) and np.isfinite(losses[[0, 2]]).all()


def test_cross_entropy_empty_batch(cl_backend):
    logits = cl_backend.from_numpy(np.zeros((0, 4), np.float32))
    labels = cl_backend.from_numpy(np.zeros(0, np.int64))
    losses, log_probs = cl_backend.cross_entropy(logits, labels)
    assert losses.shape == (0,) and log_probs.shape == (0, 4)
    grad = cl_backend.from_numpy(np.zeros(0, np.float32))
    back = cl_backend.cross_entropy_backward(log_probs, labels, grad, 1.0)
    assert cl_backend.to_numpy(back).shape == (0, 4)


# ------------------------------------------------------- through vecgrad.nn.functional
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(1, 1), (9, 4), (6, 300)], ids=str)
def test_functional_cross_entropy_opencl_equals_cpu(cl_backend, rng, reduction, shape,
                                                    float_dtype):
    n, c = shape
    logits = (rng.standard_normal(shape) * 2).astype(float_dtype)
    labels = _labels(rng, n, c)
    upstream = rng.standard_normal(n).astype(float_dtype)
    results = {}
    for device in ("cpu", cl_backend.device):
        x = vecgrad.tensor(logits, device=device, requires_grad=True)
        loss = F.cross_entropy(x, vecgrad.tensor(labels, device=device), reduction=reduction)
        if reduction == "none":
            loss.backward(vecgrad.tensor(upstream, device=device))
        else:
            loss.backward()
        results[device] = (loss.numpy(), x.grad.numpy())
    (loss_cl, grad_cl), (loss_cpu, grad_cpu) = results[cl_backend.device], results["cpu"]
    _close(loss_cl, loss_cpu, f"F.cross_entropy({reduction}) loss")
    _close(grad_cl, grad_cpu, f"F.cross_entropy({reduction}) d/dlogits")


@pytest.mark.parametrize("name", ["relu", "tanh", "leaky_relu", "sinc"])
def test_functional_activation_backward_opencl_equals_cpu(cl_backend, rng, name):
    x_host = (rng.standard_normal((7, 33)) * 2).astype(np.float32)
    upstream = rng.standard_normal((33, 7)).astype(np.float32)
    grads = {}
    for device in ("cpu", cl_backend.device):
        x = vecgrad.tensor(x_host, device=device, requires_grad=True)
        y = getattr(F, name)(x.T)  # a transposed input reaches the primitive as a view
        y.backward(vecgrad.tensor(upstream, device=device))
        grads[device] = x.grad.numpy()
    _close(grads[cl_backend.device], grads["cpu"], f"F.{name} backward")
