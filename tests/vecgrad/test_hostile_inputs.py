"""Regression tests from a hostile-input review: edge shapes and dtypes on every device.

Each case once gave a silently wrong result or a deep numpy/OpenCL traceback.
"""

import numpy as np
import pytest

import vecgrad
import vecgrad.nn.functional as F


def test_in_place_float_into_int_is_refused_not_truncated(device):
    t = vecgrad.tensor([1, 2], device=device)
    with pytest.raises(TypeError, match=r"add_: .*fractional number 0\.5.*int64"):
        t.add_(0.5)
    with pytest.raises(TypeError, match=r"mul_: .*float32 tensor.*int64"):
        t.mul_(vecgrad.tensor([0.5, 0.5], device=device))
    with pytest.raises(TypeError, match=r"sub_: .*fractional number 0\.5"):
        t.sub_(1, alpha=0.5)
    with pytest.raises(TypeError, match=r"div_: .*int64"):
        t.div_(2)
    with pytest.raises(TypeError, match=r"add_: .*the non-finite number inf.*int64"):
        t.add_(vecgrad.tensor([1, 1], device=device), alpha=float("inf"))
    np.testing.assert_array_equal(t.numpy(), [1, 2])  # untouched by the refused calls
    t.add_(1)
    t.add_(vecgrad.tensor([1, 1], device=device))
    t.sub_(1, alpha=2.0)  # integral floats lose nothing
    np.testing.assert_array_equal(t.numpy(), np.array([1, 2]) + 1 + 1 - 2)


def test_integer_power_matches_numpy(device):
    a = np.array([3, -2, 5, 2 ** 20], dtype=np.int64)
    b = np.array([3, 3, 0, 3], dtype=np.int64)
    got = vecgrad.tensor(a, device=device) ** vecgrad.tensor(b, device=device)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got.numpy(), a ** b)
    np.testing.assert_array_equal((vecgrad.tensor(a, device=device) ** 2).numpy(), a ** 2)


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("axis", [0, -1, (0,)])
def test_zero_dim_tensor_accepts_axis_0_and_minus_1(device, op, axis):
    x = vecgrad.tensor(3.0, requires_grad=True, device=device)
    y = getattr(x, op)(axis=axis)
    assert y.shape == () and y.item() == 3.0
    y.backward()
    assert x.grad.item() == 1.0


def test_zero_dim_tensor_rejects_other_axes(device):
    with pytest.raises(ValueError, match="sum: axis 1 is out of range for a 0-dimensional"):
        vecgrad.tensor(3.0, device=device).sum(axis=1)


def test_log_softmax_over_an_empty_axis(device):
    x = vecgrad.tensor(np.zeros((2, 0), np.float32), requires_grad=True, device=device)
    for fn in (x.log_softmax, x.softmax):
        y = fn(-1)
        assert y.shape == (2, 0)
        y.sum().backward()
        assert x.grad.shape == (2, 0)


def test_max_over_non_empty_axes_of_an_empty_tensor(device):
    x = vecgrad.tensor(np.zeros((0, 3), np.float32), requires_grad=True, device=device)
    assert x.max(axis=1).shape == (0,) == np.zeros((0, 3)).max(axis=1).shape
    assert x.min(axis=-1, keepdims=True).shape == (0, 1)
    x.max(axis=1).sum().backward()
    assert x.grad.shape == (0, 3)
    with pytest.raises(ValueError, match=r"max: .*empty axis.*\(0, 3\)"):
        x.max(axis=0)


def test_argmax_and_max_dim_over_a_non_empty_axis_of_an_empty_tensor(device):
    # PyTorch gives empty results; these said "cannot take argmax of an empty tensor".
    x = vecgrad.tensor(np.zeros((0, 3), np.float32), requires_grad=True, device=device)
    assert x.argmax(1).shape == (0,) and x.argmax(1).dtype == vecgrad.int64
    assert x.argmin(dim=-1, keepdim=True).shape == (0, 1)
    assert vecgrad.zeros(2, 0, 3, device=device).argmax(2).shape == (2, 0)
    values, indices = x.max(1)
    assert values.shape == indices.shape == (0,)
    assert x.min(1, keepdim=True).values.shape == (0, 1)
    values.sum().backward()
    assert x.grad.shape == (0, 3)
    with pytest.raises(ValueError, match=r"argmax: .*empty axis.*\(0, 3\)"):
        x.argmax(0)
    with pytest.raises(ValueError, match=r"max: .*empty axis.*\(0, 3\)"):
        x.max(0)
    with pytest.raises(ValueError, match=r"argmin: .*empty tensor.*\(0, 3\)"):
        x.argmin()


def test_logsumexp_over_an_empty_axis_stays_in_the_graph(device):
    # -inf like PyTorch; it was detached, so backward() said "does not require grad".
    x = vecgrad.tensor(np.zeros((0, 3), np.float32), requires_grad=True, device=device)
    y = x.logsumexp(0)
    assert y.numpy().tolist() == [-np.inf] * 3 and y.requires_grad
    y.sum().backward()
    assert x.grad.shape == (0, 3)


def test_max_pool_of_an_empty_batch(device):
    x = vecgrad.tensor(np.zeros((0, 1, 4, 4), np.float32), requires_grad=True, device=device)
    y = F.max_pool2d(x, 2)
    assert y.shape == (0, 1, 2, 2)
    y.sum().backward()
    assert x.grad.shape == (0, 1, 4, 4)


def test_pow_gradients_at_zero_base_and_zero_exponent(device):
    # PyTorch's limits: d(a^0)/da = 0 everywhere; d(0^b)/db = 0 for b >= 0.
    a = vecgrad.tensor([0.0, 0.0, 2.0, 0.0], requires_grad=True, device=device)
    b = vecgrad.tensor([0.0, 2.0, 3.0, 0.5], requires_grad=True, device=device)
    (a ** b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [0.0, 0.0, 12.0, np.inf])
    np.testing.assert_allclose(b.grad.numpy(), [0.0, 0.0, 8 * np.log(2.0), 0.0], rtol=1e-6)
    x = vecgrad.tensor([0.0, 3.0], requires_grad=True, device=device)
    (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])


def test_binary_cross_entropy_names_nan_probabilities(device):
    p = vecgrad.tensor([np.nan, 0.5], device=device)
    with pytest.raises(ValueError, match="binary_cross_entropy: probabilities contain NaN"):
        F.binary_cross_entropy(p, vecgrad.tensor([1.0, 0.0], device=device))


def test_to_none_is_refused_instead_of_meaning_float64(device):
    with pytest.raises(TypeError, match="to: dtype must be given, got None"):
        vecgrad.tensor([1.0], device=device).to(None)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_floats_never_become_int64_min(device, bad):
    with pytest.raises(ValueError, match=r"to: cannot convert NaN or infinity to int64 \(1 of 2"):
        vecgrad.tensor([1.5, bad], device=device).to(vecgrad.int64)
    with pytest.raises(ValueError, match="tensor: cannot convert NaN or infinity to int64"):
        vecgrad.tensor([1.5, bad], dtype=vecgrad.int64, device=device)
    with pytest.raises(ValueError, match="full: cannot convert NaN or infinity to int64"):
        vecgrad.full((2,), bad, dtype=vecgrad.int64, device=device)
    ok = vecgrad.tensor([1.7, -1.7], device=device).long()
    np.testing.assert_array_equal(ok.numpy(), np.array([1.7, -1.7]).astype(np.int64))


def test_numbers_beyond_int64_are_refused_instead_of_wrapping(device):
    # numpy turned each of these into INT64_MIN (or wrapped 2**63) silently.
    for make in (lambda: vecgrad.tensor([1e30], device=device).long(),
                 lambda: vecgrad.tensor([2.0 ** 63], dtype=vecgrad.float64
                                        if device == "cpu" else vecgrad.float32,
                                        device=device).to(vecgrad.int64),
                 lambda: vecgrad.tensor([1.0, -1e19], dtype=vecgrad.int64, device=device),
                 lambda: vecgrad.full((2,), 1e30, dtype=vecgrad.int64, device=device),
                 lambda: vecgrad.tensor([2 ** 63], device=device),
                 lambda: vecgrad.tensor([[-2 ** 63 - 1]], device=device),
                 lambda: vecgrad.tensor(np.array([2 ** 63], dtype=np.uint64), device=device),
                 lambda: vecgrad.full((2,), 2 ** 63, device=device),
                 lambda: vecgrad.full((2,), -2 ** 63 - 1, device=device)):
        with pytest.raises(OverflowError, match="int64"):
            make()
    edges = vecgrad.tensor([2 ** 63 - 1, -2 ** 63], device=device)
    assert edges.tolist() == [2 ** 63 - 1, -2 ** 63]
    assert vecgrad.full((1,), 2 ** 63 - 1, device=device).tolist() == [2 ** 63 - 1]
    assert vecgrad.full((1,), 2 ** 63 - 1, dtype=vecgrad.int64,
                        device=device).tolist() == [2 ** 63 - 1]
    near = vecgrad.tensor([-2.0 ** 63, 9.2e18], dtype=vecgrad.float32, device=device).long()
    assert near.tolist() == [-2 ** 63, int(np.float32(9.2e18))]


@pytest.mark.parametrize("bad", [None, "a", [1, 2]])
def test_full_refuses_a_fill_value_that_is_not_a_number(device, bad):
    # None once became nan silently; a string gave a numpy traceback.
    with pytest.raises(TypeError, match="full: fill_value must be a number"):
        vecgrad.full((2,), bad, dtype=vecgrad.float32, device=device)


def test_axis_and_dim_together_are_refused_when_they_differ(device):
    x = vecgrad.tensor(np.arange(6.0).reshape(2, 3), device=device)
    with pytest.raises(TypeError, match="argmax: give axis or dim, not both"):
        x.argmax(axis=0, dim=1)
    with pytest.raises(TypeError, match="softmax: give axis or dim, not both"):
        x.softmax(axis=0, dim=1)
    with pytest.raises(TypeError, match="cat: give axis or dim, not both"):
        vecgrad.cat([x, x], axis=1, dim=0)
    assert vecgrad.stack([x, x], dim=2).shape == (2, 3, 2)
    assert x.argmax(dim=1).tolist() == [2, 2]


def test_zero_slice_step_is_a_getitem_error(device):
    with pytest.raises(IndexError, match=r"getitem: invalid index for a tensor of shape \(3,\)"):
        vecgrad.tensor([1.0, 2.0, 3.0], device=device)[::0]


def test_in_place_into_a_broadcast_view_is_refused(device):
    # OpenCL once added three times into the one shared element; numpy raised "read-only".
    x = vecgrad.tensor([[1.0, 2.0]], device=device)
    for write in (lambda v: v.add_(1), lambda v: v.copy_(vecgrad.zeros(3, 2, device=device))):
        with pytest.raises(RuntimeError, match=r"broadcast view \(expand\)"):
            write(x.expand(3, 2))
    np.testing.assert_array_equal(x.numpy(), [[1.0, 2.0]])


def test_in_place_with_an_aliasing_operand_reads_before_writing(device):
    a = np.arange(9.0, dtype=np.float32).reshape(3, 3)
    x = vecgrad.tensor(a, device=device)
    x.add_(x.T)
    np.testing.assert_array_equal(x.numpy(), a + a.T)
    y = vecgrad.tensor([1.0, 2.0, 3.0, 4.0], device=device)
    y[1:].copy_(y[:-1])
    np.testing.assert_array_equal(y.numpy(), [1.0, 1.0, 2.0, 3.0])


@pytest.mark.parametrize("name", ["tanh", "relu", "leaky_relu", "sigmoid", "elu", "softplus"])
def test_activation_at_nan_and_infinities_agrees_with_scalargrad(device, name):
    # OpenCL's tanh(inf) was 1 - ulp (so tanh'(inf) != 0); numpy's relu'(nan) was 0, not nan.
    from scalargrad.functions import ACTIVATIONS
    spec = ACTIVATIONS[name]
    points = [np.nan, np.inf, -np.inf, 30.0, -30.0, 0.5]
    x = vecgrad.tensor(points, requires_grad=True, device=device)
    F.activation(x, name).sum().backward()
    want_f = [spec.f(p, spec.default_alpha) for p in points]
    want_df = [spec.df(p, spec.default_alpha) for p in points]
    np.testing.assert_allclose(F.activation(x.detach(), name).numpy(), want_f, rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), want_df, rtol=1e-6, atol=1e-12)  # float32 s(1-s)


def test_stack_names_itself_when_devices_differ(device):
    other = "cpu" if device != "cpu" else "opencl"
    mine = vecgrad.tensor([1.0], device=device)
    try:
        theirs = vecgrad.tensor([1.0], device=other)
    except Exception:  # noqa: BLE001 - no OpenCL here: nothing to mix
        pytest.skip("needs both devices")
    with pytest.raises(ValueError, match="stack: tensors are on different devices"):
        vecgrad.stack([mine, theirs])


def test_mean_losses_of_an_empty_batch_name_the_loss(device):
    logits = vecgrad.tensor(np.zeros((0, 3), np.float32), device=device)
    labels = vecgrad.tensor(np.zeros((0,), np.int64), device=device)
    with pytest.raises(ValueError, match="cross_entropy: reduction='mean' of an empty batch"):
        F.cross_entropy(logits, labels)
    assert F.cross_entropy(logits, labels, reduction="sum").item() == 0.0
    assert F.nll_loss(logits, labels, reduction="none").shape == (0,)
    empty = vecgrad.tensor(np.zeros((0,), np.float32), device=device)
    with pytest.raises(ValueError, match="mse_loss: reduction='mean' of an empty batch"):
        F.mse_loss(empty, empty)


def test_max_gradient_goes_to_the_nan_that_made_it(device):
    # Was nan everywhere (nan == nan is false, so no entry "hit" and 0/0 spread).
    x = vecgrad.tensor([[np.nan, 1.0, 2.0], [1.0, 5.0, 5.0]], requires_grad=True, device=device)
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    y = vecgrad.tensor([np.nan, 1.0, np.nan], requires_grad=True, device=device)
    y.min().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [0.5, 0.0, 0.5])


@pytest.mark.parametrize("view", [lambda w: w.T, lambda w: w[0], lambda w: w.reshape(4)],
                         ids=["transpose", "slice", "reshape"])
def test_in_place_through_a_view_after_use_is_caught(device, view):
    # The gradient silently used the new values (30 instead of 3) before views shared versions.
    x = vecgrad.tensor(np.ones((2, 2)), requires_grad=True, device=device)
    w = vecgrad.tensor(np.full((2, 2), 3.0), device=device)
    y = (x * w).sum()
    view(w).mul_(10)
    with pytest.raises(RuntimeError, match="modified in place after it was used"):
        y.backward()
    z = (x * w.T).sum()  # and the other way: a view used, its base edited
    w.mul_(2)
    with pytest.raises(RuntimeError, match="modified in place after it was used"):
        z.backward()


def test_format_spec_on_a_one_element_tensor(device):
    loss = vecgrad.tensor(2.34567, device=device)
    assert f"{loss:.2f}" == "2.35"
    assert f"{vecgrad.tensor([[7]], device=device):d}" == "7"
    assert f"{loss}" == str(loss)
    with pytest.raises(TypeError, match=r"format: the spec '.2f' needs a one-element tensor"):
        format(vecgrad.tensor([1.0, 2.0], device=device), ".2f")


# ---- review of the fused primitives, axpy and the label range cache ------------------

def test_data_setter_shares_the_version_of_the_tensor_it_aliases(device):
    # `a.data = labels` makes a share labels' memory. An in-place edit through `a` then
    # changed labels without bumping labels' version: cross_entropy trusted the stale
    # cached range [0, 2] (OpenCL read logits out of bounds: a silent wrong loss; numpy
    # raised a raw IndexError) and a graph that saved labels did not notice the edit.
    logits = vecgrad.tensor(np.zeros((3, 4)), device=device)
    labels = vecgrad.tensor([0, 1, 2], device=device)
    alias = vecgrad.zeros(3, dtype="int64", device=device)
    alias.data = labels
    alias.add_(10)
    np.testing.assert_array_equal(labels.numpy(), [10, 11, 12])
    with pytest.raises(IndexError, match=r"labels must lie in \[0, 4\), got range \[10, 12\]"):
        F.cross_entropy(logits, labels)
    with pytest.raises(IndexError, match=r"got range \[10, 12\]"):
        F.nll_loss(logits, labels)
    # the same through a detached alias of the labels
    labels = vecgrad.tensor([0, 1, 2], device=device)
    alias = vecgrad.zeros(3, dtype="int64", device=device)
    alias.data = labels.detach()
    alias.sub_(vecgrad.tensor([1, 1, 1], device=device), alpha=4)
    with pytest.raises(IndexError, match=r"got range \[-4, -2\]"):
        F.cross_entropy(logits, labels)
    # autograd: the value saved by a graph, edited through the alias, is caught
    w = vecgrad.tensor([1.0, 2.0], device=device)
    x = vecgrad.tensor([3.0, 4.0], requires_grad=True, device=device)
    y = (x * w).sum()
    other = vecgrad.zeros(2, device=device)
    other.data = w
    y.backward(retain_graph=True)  # sharing alone changes no value the graph saw
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0])
    other.mul_(10)
    with pytest.raises(RuntimeError, match="modified in place after it was used"):
        y.backward()
    # and a graph that saved the tensor whose data was replaced still notices
    z = (x * other).sum()
    other.data = vecgrad.ones(2, device=device)
    with pytest.raises(RuntimeError, match="modified in place after it was used"):
        z.backward()


def test_bool_sub_is_refused_with_or_without_alpha(device):
    # sub_ with alpha went through axpy(-alpha), which on bools is a silent OR; without
    # alpha numpy/OpenCL raised their own errors. PyTorch refuses both.
    mask = vecgrad.tensor([True, False, False], device=device)
    other = vecgrad.tensor([True, True, False], device=device)
    for alpha in (1, 2, -1):
        with pytest.raises(TypeError, match=r"sub_: .*bool.*\^.*logical_xor"):
            mask.sub_(other, alpha=alpha)
    with pytest.raises(TypeError, match=r"sub_: .*bool"):
        mask.sub_(True)
    np.testing.assert_array_equal(mask.numpy(), [True, False, False])  # untouched
    mask.add_(other, alpha=2)  # add_ on masks stays a logical or, as in PyTorch
    np.testing.assert_array_equal(mask.numpy(), [True, True, False])
    mask.add_(vecgrad.tensor([False, False, True], device=device), alpha=0)
    np.testing.assert_array_equal(mask.numpy(), [True, True, False])


@pytest.mark.parametrize("alpha", [None, "2", 2j, [2.0]], ids=["None", "str", "complex", "list"])
def test_alpha_must_be_a_real_number(device, alpha):
    # alpha=None silently filled the tensor with nan; the others raised raw numpy errors.
    y = vecgrad.tensor([1.0, 2.0], device=device)
    for method in ("add_", "sub_"):
        with pytest.raises(TypeError, match=rf"{method}: alpha must be a real number, got "):
            getattr(y, method)(vecgrad.tensor([1.0, 1.0], device=device), alpha=alpha)
    with pytest.raises(TypeError, match=r"add_: alpha must be a real number, got Tensor.*item"):
        y.add_(y, alpha=vecgrad.tensor(2.0, device=device))
    np.testing.assert_array_equal(y.numpy(), [1.0, 2.0])


def test_int64_alpha_and_scalars_outside_int64_are_clear_errors(device):
    y = vecgrad.tensor([1, 2], device=device)
    x = vecgrad.tensor([1, 1], device=device)
    for alpha in (2 ** 63, 1e30, -(2 ** 63) - 1):
        with pytest.raises(OverflowError, match=r"add_: alpha .* does not fit in int64"):
            y.add_(x, alpha=alpha)
    with pytest.raises(OverflowError, match=r"add_: 1180591620717411303424 does not fit in int64"):
        y.add_(2 ** 70)
    with pytest.raises(OverflowError, match=r"add: 1180591620717411303424 does not fit in int64"):
        y + 2 ** 70
    np.testing.assert_array_equal(y.numpy(), [1, 2])
    # the extremes that fit are exact; sub_ negates in int64 arithmetic (wraps like numpy)
    y.add_(x, alpha=2 ** 62)
    np.testing.assert_array_equal(y.numpy(), [2 ** 62 + 1, 2 ** 62 + 2])
    z = vecgrad.tensor([5, -7], device=device)
    z.sub_(vecgrad.tensor([0, 1], device=device), alpha=-(2 ** 63))
    with np.errstate(all="ignore"):
        want = np.array([5, -7]) - np.int64(-(2 ** 63)) * np.array([0, 1])
    np.testing.assert_array_equal(z.numpy(), want)


@pytest.mark.filterwarnings("error")
def test_float32_alpha_beyond_its_range_is_inf_without_a_numpy_warning(device):
    y = vecgrad.tensor([1.0, 2.0, 3.0], device=device)
    y.add_(vecgrad.tensor([0.0, 1.0, -1.0], device=device), alpha=1e300)
    np.testing.assert_array_equal(y.numpy(), [np.nan, np.inf, -np.inf])  # 0 * inf = nan
    y = vecgrad.tensor([1.0], device=device)
    y.add_(10 ** 400)  # a Python int beyond every float: +inf like 1e400 would round
    np.testing.assert_array_equal(y.numpy(), [np.inf])
    np.testing.assert_array_equal((vecgrad.tensor([1.0], device=device) + 1e300).numpy(), [np.inf])


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0,)])
def test_in_place_ops_on_empty_tensors(device, shape):
    # numpy gives empty arrays zero strides, which the broadcast-view check took for an
    # expand: every in-place op on an empty cpu tensor raised (OpenCL ran them).
    y = vecgrad.zeros(*shape, device=device)
    x = vecgrad.ones(*shape, device=device)
    for call in (lambda: y.add_(x), lambda: y.add_(x, alpha=2), lambda: y.sub_(x, alpha=3),
                 lambda: y.mul_(2), lambda: y.div_(x), lambda: y.copy_(x), lambda: y.fill_(1),
                 lambda: y.zero_()):
        assert call() is y
        assert y.shape == shape
    version = y._version[0]
    y.add_(x, alpha=2)
    assert y._version[0] == version + 1
