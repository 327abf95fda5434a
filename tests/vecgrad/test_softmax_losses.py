"""softmax, log_softmax and the losses: closed forms, stability at extreme logits."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import vecgrad
import vecgrad.nn.functional as F
from vg_helpers import PROPERTY, gradcheck, need_float64


def np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@PROPERTY
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
       data=st.data(), seed=st.integers(0, 2**16), permuted=st.booleans())
def test_softmax_and_log_softmax(device, shape, data, seed, permuted):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = np.random.default_rng(seed).standard_normal(shape) * 3
    result = gradcheck(lambda t: t.softmax(axis), [x], device, permuted=permuted)
    np.testing.assert_allclose(result.numpy(), np_softmax(x, axis), rtol=1e-12)
    result = gradcheck(lambda t: F.log_softmax(t, axis), [x], device, permuted=permuted)
    # log of a softmax near 1 is inexact in the reference itself: absolute tolerance too
    np.testing.assert_allclose(result.numpy(), np.log(np_softmax(x, axis)), rtol=1e-10,
                               atol=1e-12)


def test_cross_entropy_gradient_is_softmax_minus_onehot(device):
    need_float64(device)
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((5, 4))
    labels = np.array([0, 3, 1, 1, 2])
    x = vecgrad.tensor(logits, device=device, requires_grad=True)
    loss = F.cross_entropy(x, vecgrad.tensor(labels, device=device), reduction="sum")
    loss.backward()
    onehot = np.eye(4)[labels]
    np.testing.assert_allclose(x.grad.numpy(), np_softmax(logits, 1) - onehot, rtol=1e-12)
    expected = -np.log(np_softmax(logits, 1)[np.arange(5), labels]).sum()
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_reductions_and_gradcheck(device, reduction):
    rng = np.random.default_rng(1)
    labels = vecgrad.tensor([2, 0, 1], device=device)
    result = gradcheck(lambda t: F.cross_entropy(t, labels, reduction=reduction),
                       [rng.standard_normal((3, 3))], device)
    assert result.shape == ((3,) if reduction == "none" else ())


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_fused_cross_entropy_equals_nll_of_log_softmax(device, reduction):
    # cross_entropy is one fused op; the composition it replaces is the reference,
    # here on non-contiguous logits and with an uneven upstream gradient.
    need_float64(device)
    rng = np.random.default_rng(4)
    host = rng.standard_normal((7, 5)) * 3
    labels = vecgrad.tensor([4, 0, 2, 2, 1, 3, 0], device=device)
    upstream = rng.uniform(0.5, 2.0, 7) if reduction == "none" else 1.5
    grads = []
    for fused in (True, False):
        x = vecgrad.tensor(host.T.copy(), device=device, requires_grad=True)
        logits = x.T  # a transposed view
        if fused:
            loss = F.cross_entropy(logits, labels, reduction=reduction)
        else:
            loss = F.nll_loss(F.log_softmax(logits, axis=1), labels, reduction=reduction)
        loss.backward(vecgrad.tensor(upstream, device=device))
        grads.append((loss.numpy(), x.grad.numpy()))
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-12)
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-12, atol=1e-15)


def test_cross_entropy_of_an_empty_batch(device):
    x = vecgrad.zeros((0, 3), device=device, requires_grad=True)
    labels = vecgrad.tensor(np.zeros(0, dtype=np.int64), device=device)
    assert F.cross_entropy(x, labels, reduction="none").shape == (0,)
    total = F.cross_entropy(x, labels, reduction="sum")
    total.backward()
    assert total.item() == 0.0 and x.grad.shape == (0, 3)
    with pytest.raises(ValueError, match="cross_entropy: reduction='mean' of an empty batch"):
        F.cross_entropy(x, labels)


@pytest.mark.parametrize("loss", [
    lambda x, y: F.cross_entropy(x, y),
    lambda x, y: F.cross_entropy(x, y, label_smoothing=0.2),
    lambda x, y: F.cross_entropy(x.reshape(2, 2, 3).transpose(1, 2), y.reshape(2, 2)),
    lambda x, y: F.nll_loss(x.log_softmax(1), y),
], ids=["ce", "ce-smoothing", "ce-nchw", "nll"])
def test_a_batch_whose_targets_are_all_ignored_has_nan_loss_but_zero_gradient(device, loss):
    # PyTorch: the mean over no target is 0 / 0 = nan, and the gradient is 0 (a batch of
    # padding must not turn every parameter into nan at the next step)
    x = vecgrad.tensor(np.arange(12.0).reshape(4, 3) / 7, device=device, requires_grad=True)
    value = loss(x, vecgrad.tensor([-100] * 4, device=device))
    value.backward()
    assert np.isnan(value.item())
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((4, 3)))


@pytest.mark.parametrize("loss", [
    lambda x, y, **kw: F.cross_entropy(x, y, **kw),
    lambda x, y, **kw: F.cross_entropy(x, y, label_smoothing=0.2, **kw),
    lambda x, y, **kw: F.nll_loss(x.log_softmax(1), y, **kw),
], ids=["ce", "ce-smoothing", "nll"])
def test_an_ignored_target_gives_0_whatever_its_row_or_the_gradient_from_above(device, loss):
    # The ignored rows' terms were multiplied by 0: a -inf log-probability in such a row
    # made its loss nan (0 * -inf), and an inf or nan gradient from above (sqrt of a 0
    # loss; anything computed from the nan mean of a batch all ignored) a nan gradient
    # for every logit of the row, first order and recorded. PyTorch's are 0.
    need_float64(device)
    x = vecgrad.tensor([[-np.inf, 0.0, 1.0], [0.5, 0.2, 0.1], [0.3, -0.4, 2.0]],
                       dtype=vecgrad.float64, device=device, requires_grad=True)
    y = vecgrad.tensor([-100, 1, -100], device=device)
    losses = loss(x, y, reduction="none")
    assert losses.numpy()[0] == 0 and losses.numpy()[2] == 0
    for create_graph in (False, True):
        g, = vecgrad.autograd.grad(losses.sqrt().sum(), x, retain_graph=True,
                                   create_graph=create_graph)
        np.testing.assert_array_equal(g.numpy()[[0, 2]], np.zeros((2, 3)))
        assert np.isfinite(g.numpy()[1]).all()
    finite = x.detach()[1:]
    finite.requires_grad_(True)
    mean = loss(finite, vecgrad.tensor([-100, -100], device=device))
    assert np.isnan(mean.item())
    g, = vecgrad.autograd.grad(mean.sin() + mean * mean, finite, create_graph=True)
    np.testing.assert_array_equal(g.numpy(), np.zeros((2, 3)))
    h, = vecgrad.autograd.grad(g.sum(), finite, allow_unused=True)
    assert h is None or not h.numpy().any()


def test_class_weights_that_sum_to_zero_still_give_nan(device):
    x = vecgrad.tensor(np.ones((2, 3)), device=device, requires_grad=True)
    weight = vecgrad.tensor([0.0, 1.0, 1.0], device=device)
    value = F.cross_entropy(x, vecgrad.tensor([0, 0], device=device), weight=weight)
    value.backward()
    assert np.isnan(value.item()) and np.isnan(x.grad.numpy()).all()  # as in PyTorch


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_cross_entropy_extreme_logits_are_finite_with_rows_summing_to_zero(device, scale):
    logits = np.array([[scale, -scale, 0.0], [0.0, scale, scale], [-scale, -scale, scale]])
    x = vecgrad.tensor(logits, device=device, requires_grad=True)  # float32 as users do
    loss = F.cross_entropy(x, vecgrad.tensor([1, 0, 2], device=device))
    loss.backward()
    assert np.isfinite(loss.item())
    grad = x.grad.numpy()
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-6)


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_bce_with_logits_is_finite_at_extremes(device, scale):
    x = vecgrad.tensor([scale, -scale, scale], device=device, requires_grad=True)
    y = vecgrad.tensor([0.0, 1.0, 1.0], device=device)
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="sum")
    loss.backward()
    assert np.isfinite(loss.item())
    np.testing.assert_allclose(loss.item(), 2 * abs(scale) if scale > 0 else abs(scale),
                               rtol=1e-6)
    assert np.all(np.isfinite(x.grad.numpy()))
    sig = 1 / (1 + np.exp(-np.clip([scale, -scale, scale], -50, 50)))
    np.testing.assert_allclose(x.grad.numpy(), sig - np.array([0.0, 1.0, 1.0]), atol=1e-6)


def test_bce_with_logits_gradient_at_zero_is_half_minus_target(device):
    x = vecgrad.tensor([0.0, 0.0], device=device, requires_grad=True)
    F.binary_cross_entropy_with_logits(x, vecgrad.tensor([0.0, 1.0], device=device),
                                       reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.5, -0.5])


def test_losses_gradcheck_and_closed_forms(device):
    rng = np.random.default_rng(2)
    pred, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    result = gradcheck(F.mse_loss, [pred, target], device)
    np.testing.assert_allclose(result.item(), np.mean((pred - target) ** 2), rtol=1e-12)
    p, y = rng.uniform(0.05, 0.95, (5,)), rng.integers(0, 2, (5,)).astype(float)
    result = gradcheck(lambda t: F.binary_cross_entropy(t, vecgrad.tensor(y, device=device)),
                       [p], device)
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(result.item(), expected, rtol=1e-12)
    logits = rng.standard_normal(5)
    result = gradcheck(lambda t, u: F.binary_cross_entropy_with_logits(t, u), [logits, y],
                       device)
    s = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(result.item(), -np.mean(y * np.log(s) + (1 - y) * np.log(1 - s)),
                               rtol=1e-10)
    log_probs = np.log(np_softmax(rng.standard_normal((3, 4)), 1))
    labels = vecgrad.tensor([3, 0, 0], device=device)
    result = gradcheck(lambda t: F.nll_loss(t, labels), [log_probs], device)
    np.testing.assert_allclose(result.item(), -np.mean(log_probs[[0, 1, 2], [3, 0, 0]]))


def test_penalties(device):
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal(4)
    result = gradcheck(lambda s, t: F.l2_penalty([s, t]), [a, b], device)
    np.testing.assert_allclose(result.item(), (a ** 2).sum() + (b ** 2).sum(), rtol=1e-12)
    result = gradcheck(lambda s, t: F.l1_penalty([s, t]), [a, b], device)
    np.testing.assert_allclose(result.item(), np.abs(a).sum() + np.abs(b).sum(), rtol=1e-12)


def test_binary_cross_entropy_clamps_log_at_minus_100(device):
    loss = F.binary_cross_entropy(vecgrad.tensor([0.0, 1.0], device=device),
                                  vecgrad.tensor([1.0, 0.0], device=device), reduction="none")
    np.testing.assert_allclose(loss.numpy(), [100.0, 100.0])


def test_dropout_train_and_eval(device):
    vecgrad.manual_seed(0)
    x = vecgrad.ones(1000, device=device, requires_grad=True)
    y = F.dropout(x, p=0.25)
    kept = y.numpy() != 0
    assert 650 < kept.sum() < 850
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.75, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.where(kept, 1 / 0.75, 0.0), rtol=1e-6)
    assert F.dropout(x, p=0.25, training=False) is x
    vecgrad.manual_seed(0)
    np.testing.assert_array_equal(F.dropout(x, p=0.25).numpy(), y.numpy())  # seeded


@pytest.mark.parametrize("call, error, message", [
    (lambda x, y: F.cross_entropy(x, y.float()), TypeError, "labels must be an int64"),
    (lambda x, y: F.cross_entropy(x, y[:2]), ValueError, r"labels \(2,\) must have shape \(3,\)"),
    (lambda x, y: F.cross_entropy(x, y + 5), IndexError, r"labels must lie in \[0, 4\)"),
    (lambda x, y: F.cross_entropy(x[0], y), ValueError, r"labels \(3,\) must have shape \(\)"),
    (lambda x, y: F.cross_entropy(x, y, reduction="avg"), ValueError, "reduction must be"),
    (lambda x, y: F.mse_loss(x, x[0]), ValueError, "must have the same shape"),
    (lambda x, y: F.binary_cross_entropy(x, x), ValueError, r"must lie in \[0, 1\]"),
    (lambda x, y: F.dropout(x, p=1.5), ValueError, "dropout: p must be"),
])
def test_loss_errors_are_named(device, call, error, message):
    x = vecgrad.tensor(np.linspace(-2, 2, 12).reshape(3, 4), device=device)
    y = vecgrad.tensor([0, 1, 3], device=device)
    with pytest.raises(error, match=message):
        call(x, y)


def test_label_check_reads_no_device_memory_for_labels_from_the_host(device, monkeypatch):
    # Labels made from host data carry their range: the check needs no device round
    # trip in the middle of a training step (on OpenCL that would stall the queue).
    logits = vecgrad.tensor(np.zeros((3, 4)), device=device, requires_grad=True)
    labels = vecgrad.tensor([0, 3, 1], device=device)
    backend = vecgrad.get_backend(device)
    reads = []
    real = backend.to_numpy
    monkeypatch.setattr(backend, "to_numpy", lambda buf: reads.append(buf.shape) or real(buf))
    F.cross_entropy(logits, labels).backward()
    assert reads == []


def test_label_check_still_sees_in_place_changes_and_computed_labels(device):
    logits = vecgrad.tensor(np.zeros((3, 4)), device=device)
    labels = vecgrad.tensor([0, 3, 1], device=device)
    with vecgrad.no_grad():
        labels.add_(2)
    with pytest.raises(IndexError, match=r"labels must lie in \[0, 4\), got range \[2, 5\]"):
        F.cross_entropy(logits, labels)
    computed = vecgrad.tensor(np.eye(3, 4), device=device).argmax(axis=1) + 4
    with pytest.raises(IndexError, match=r"got range \[4, 6\]"):
        F.nll_loss(logits, computed)
    view = vecgrad.tensor([1, 2, 3, 9], device=device)[1:]
    with pytest.raises(IndexError, match=r"got range \[2, 9\]"):
        F.cross_entropy(logits, view)


def test_labels_given_new_data_are_checked_against_the_new_values(device):
    # labels.data = other kept the range noted for the old values: cross_entropy trusted
    # [0, 2] for labels now holding 7 (OpenCL read the logits out of bounds and returned
    # a wrong loss silently; numpy raised a raw IndexError).
    logits = vecgrad.tensor(np.zeros((3, 4)), device=device)
    labels = vecgrad.tensor([0, 1, 2], device=device)
    assert labels._int_range() == (0, 2)
    labels.data = vecgrad.tensor([7, 7, 7], device=device)
    with pytest.raises(IndexError, match=r"labels must lie in \[0, 4\), got range \[7, 7\]"):
        F.cross_entropy(logits, labels)
    labels.data = vecgrad.tensor([3, 3, 3], device=device) - 1  # computed: no host range
    assert F.cross_entropy(logits, labels).item() == pytest.approx(np.log(4))


def test_labels_moved_between_devices_keep_their_checked_range(device):
    labels = vecgrad.tensor([0, 7, 1]).to(device)
    assert labels._int_range() == (0, 7)
    with pytest.raises(IndexError, match=r"got range \[0, 7\]"):
        F.cross_entropy(vecgrad.zeros(3, 4, device=device), labels)


@pytest.mark.parametrize("bad", [1.5, "1", True, None])
def test_ignore_index_must_be_an_int(device, bad):
    # A float was truncated by the loss layers (1.5 ignored class 1) and ignored nothing
    # in the functions; a string or None raised numpy's or Python's comparison error.
    from vecgrad import nn
    x = vecgrad.tensor(np.zeros((3, 4)), device=device)
    y = vecgrad.tensor([0, 1, 2], device=device)
    for loss in (F.cross_entropy, F.nll_loss):
        with pytest.raises(TypeError, match=f"{loss.__name__}: ignore_index must be an int"):
            loss(x, y, ignore_index=bad)
    for layer in (nn.CrossEntropyLoss, nn.NLLLoss):
        with pytest.raises(TypeError, match=f"{layer.__name__}: ignore_index must be an int"):
            layer(ignore_index=bad)
    layer = nn.NLLLoss(ignore_index=np.int64(1))
    assert type(layer.ignore_index) is int
    assert layer(x - 1.0, y).item() == pytest.approx(1.0)


@pytest.mark.parametrize("target, found", [
    ([-1.0, 1.0], r"range \[-1.0, 1.0\]"), ([0.0, 255.0], r"range \[0.0, 255.0\]"),
    ([0.0, np.nan], r"NaN \(1 of 2\)"),
])
def test_binary_cross_entropy_refuses_targets_outside_0_1(device, target, found):
    # PyTorch refuses them; here labels of -1/1 gave a loss below zero without a word
    p = vecgrad.tensor([0.3, 0.6], device=device)
    with pytest.raises(ValueError, match=r"binary_cross_entropy: targets must lie in "
                                         r"\[0, 1\], got " + found):
        F.binary_cross_entropy(p, vecgrad.tensor(target, device=device))
    soft = F.binary_cross_entropy(p, vecgrad.tensor([0.0, 0.25], device=device))
    assert soft.item() == pytest.approx(-(np.log(0.7) + 0.25 * np.log(0.6)
                                          + 0.75 * np.log(0.4)) / 2, rel=1e-6)


def test_loss_options_may_be_numpy_numbers_but_not_nan_or_bools(device):
    # label_smoothing, beta and delta of np.float32 were refused as "must be a number";
    # beta=nan and delta=nan were accepted and gave a nan loss; label_smoothing=True
    # smoothed fully
    x = vecgrad.tensor([[0.0, 2.0, -1.0]], device=device)
    y = vecgrad.tensor([1], device=device)
    t = vecgrad.tensor([[1.0, -1.0, 0.5]], device=device)
    assert F.cross_entropy(x, y, label_smoothing=np.float32(0.25)).item() == \
        pytest.approx(F.cross_entropy(x, y, label_smoothing=0.25).item(), rel=1e-6)
    assert F.huber_loss(x, t, delta=np.float32(2.0)).item() == \
        pytest.approx(F.huber_loss(x, t, delta=2.0).item(), rel=1e-6)
    assert F.smooth_l1_loss(x, t, beta=np.float64(0.5)).item() == \
        pytest.approx(F.smooth_l1_loss(x, t, beta=0.5).item(), rel=1e-6)
    with pytest.raises(ValueError, match="beta must be a number >= 0"):
        F.smooth_l1_loss(x, t, beta=float("nan"))
    with pytest.raises(ValueError, match="delta must be a number > 0"):
        F.huber_loss(x, t, delta=float("nan"))
    with pytest.raises(ValueError, match="label_smoothing must be a number"):
        F.cross_entropy(x, y, label_smoothing=True)
