"""The everyday PyTorch API (issue 14): the two fixed gradients, the conventions we chose
(README: "Differences from PyTorch"), precision of the new primitives, and errors.
Values and gradients of every new op are checked by test_differential.py."""

import math

import numpy as np
import pytest

import vecgrad
import vecgrad.nn.functional as F
from vecgrad.backends.numpy_backend import _erf
from vg_helpers import need_float64


def t(data, device, **kw):
    return vecgrad.tensor(data, device=device, **kw)


# ------------------------------------------------------------ the two wrong gradients
def test_std_gradient_is_zero_at_zero_variance(device):
    x = t([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]], device, requires_grad=True)
    x.std(dim=1, correction=1).sum().backward()
    g = x.grad.numpy()
    assert np.all(np.isfinite(g))
    np.testing.assert_array_equal(g[0], 0.0)  # PyTorch: 0 where the spread is 0
    row = np.array([1.0, 2.0, 4.0])
    expected = (row - row.mean()) / (2 * np.std(row, ddof=1))  # d std / dx = (x - m)/((n-1) s)
    np.testing.assert_allclose(g[1], expected, rtol=1e-6)


def test_norm_gradient_is_zero_at_the_zero_vector(device):
    x = t([[0.0, 0.0], [3.0, 4.0]], device, requires_grad=True)
    x.norm(dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0], [0.6, 0.8]], rtol=1e-6)


@pytest.mark.parametrize("p, values, grads", [
    (0.5, [3.0 + 2 * 2 ** 0.5, 0.0], [[1 + 2 ** 0.5, 0.0, (1 + 2 ** 0.5) / 2 ** 0.5],
                                     [0.0, 0.0, 0.0]]),
    (-1.0, [0.0, 0.0], [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]),
])
def test_norm_below_one_has_gradient_zero_at_zero_entries(device, p, values, grads):
    # PyTorch's values; the slope p |x|^(p-1) is infinite at 0, and the gradient was nan
    x = t([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0]], device, requires_grad=True)
    y = x.norm(p, dim=1)
    y.sum().backward()
    np.testing.assert_allclose(y.numpy(), values, rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), grads, rtol=1e-6)


def test_norm_zero_counts_nonzeros_in_the_graph_with_gradient_zero(device):
    # it was detached: y = x.norm(0); y.backward() said "does not require grad"
    x = t([[1.0, 0.0, -2.0], [0.0, 0.0, 0.0]], device, requires_grad=True)
    y = x.norm(0, dim=1)
    assert y.tolist() == [2.0, 0.0] and y.requires_grad
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0.0)


def test_bce_gradient_at_exact_zero_and_one_is_finite_like_pytorch(device):
    # A float32 sigmoid reaches exactly 1.0 once the logit passes about 17.
    logits = t([20.0, 20.0, -120.0, -120.0], device, requires_grad=True)
    p = logits.sigmoid()
    assert p.numpy().tolist() == [1.0, 1.0, 0.0, 0.0]
    p.retain_grad()
    y = t([1.0, 0.0, 0.0, 1.0], device)
    F.binary_cross_entropy(p, y, reduction="sum").backward()
    # PyTorch's rule: (p - y) / max(p (1 - p), 1e-12)
    np.testing.assert_allclose(p.grad.numpy(), [0.0, 1e12, 0.0, -1e12], rtol=1e-6)
    assert np.all(np.isfinite(logits.grad.numpy()))
    loss = F.binary_cross_entropy(p.detach(), y, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [0.0, 100.0, 0.0, 100.0])  # logs clamped at -100


def test_bce_target_gradient_is_the_clamped_logs_difference(device):
    # PyTorch gives -logit(p) = +-inf here; ours is the derivative of the clamped loss.
    p = t([0.0, 1.0, 0.25], device)
    y = t([0.5, 0.5, 0.5], device, requires_grad=True)
    F.binary_cross_entropy(p, y, reduction="sum").backward()
    np.testing.assert_allclose(y.grad.numpy(), [100.0, -100.0, math.log(3.0)], rtol=1e-6)


# -------------------------------------------------------------------- conventions
def test_sign_of_nan_is_nan_and_gradient_is_zero(device):
    x = t([float("nan"), -2.0, 0.0, 3.0], device, requires_grad=True)
    s = x.sign()
    assert np.isnan(s.numpy()[0]) and s.numpy()[1:].tolist() == [-1.0, 0.0, 1.0]
    s.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0.0)


def test_adding_or_multiplying_bool_tensors_counts_in_int64(device):
    # README, "Differences from PyTorch": PyTorch and numpy give bool (or / and) here
    m = vecgrad.tensor([True, False, True], device=device)
    n = vecgrad.tensor([True, False, False], device=device)
    for out, want in ((m + n, [2, 0, 1]), (m * n, [1, 0, 0]), (m + True, [2, 1, 2])):
        assert out.dtype == vecgrad.int64 and out.tolist() == want
    assert (m | n).tolist() == [True, False, True] and (m & n).tolist() == [True, False, False]


def test_mean_refuses_an_integer_dtype(device):
    # mean(dtype=int64) truncated the input ([1.5, 2.5] -> [1, 2]) and gave float32 1.5
    x = t([1.5, 2.5], device)
    with pytest.raises(TypeError, match="mean: dtype must be float32 or float64"):
        x.mean(dtype=vecgrad.int64)
    assert t([1, 2], device).mean(dtype=vecgrad.float32).item() == 1.5


def test_view_of_a_transposed_tensor_is_a_copy(device):
    # README, "Differences from PyTorch": view is reshape (PyTorch's view raises here)
    x = t([[1.0, 2.0], [3.0, 4.0]], device)
    flat = x.T.view(-1)
    assert flat.tolist() == [1.0, 3.0, 2.0, 4.0]
    flat[0] = 9.0
    assert x.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    x.view(-1)[0] = 9.0  # a contiguous tensor: a real view
    assert x.tolist()[0][0] == 9.0


def test_clip_with_min_above_max_gives_max(device):
    x = t([-3.0, 0.0, 3.0], device, requires_grad=True)
    out = x.clip(2.0, 1.0)
    np.testing.assert_array_equal(out.numpy(), [1.0, 1.0, 1.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0.0)


def test_sum_over_no_axes_reduces_nothing(device):
    x = t([[1.0, 2.0], [3.0, 4.0]], device)
    np.testing.assert_array_equal(x.sum(axis=()).numpy(), x.numpy())  # numpy's rule


def test_mean_over_an_empty_axis_is_nan(device):
    x = vecgrad.zeros(2, 0, device=device, requires_grad=True)
    out = x.mean(dim=1)
    assert out.shape == (2,) and np.isnan(out.numpy()).all()
    out.sum().backward()
    assert x.grad.shape == (2, 0)


def test_squeeze_of_a_longer_axis_leaves_it(device):
    x = vecgrad.zeros(2, 1, 3, device=device)
    assert x.squeeze(0).shape == (2, 1, 3)
    assert x.squeeze((0, 1)).shape == (2, 3)
    assert x.squeeze(dim=1).shape == (2, 3)


def test_max_forms_and_who_gets_the_gradient_on_ties(device):
    x = t([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]], device, requires_grad=True)
    values, indices = x.max(dim=1)  # PyTorch's form: the first maximum takes it all
    assert indices.tolist() == [1, 0]
    values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0], [1, 0, 0]])
    x.grad = None
    x.amax(dim=1).sum().backward()  # amax (and axis=): ties share it
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0.5, 0.5], [0.5, 0, 0.5]])
    x.grad = None
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0.5, 0.5], [0.5, 0, 0.5]])
    assert x.max().item() == 3.0
    np.testing.assert_array_equal(x.max(x.detach() * 0 + 2.5).numpy(),
                                  [[2.5, 3, 3], [2.5, 2.5, 2.5]])
    top = vecgrad.max(x, 0, keepdim=True)
    assert top.values.shape == (1, 3) and top.indices.tolist() == [[1, 0, 0]]


def test_maximum_splits_the_gradient_on_ties_like_pytorch(device):
    a = t([1.0, 2.0, 3.0], device, requires_grad=True)
    b = t([1.0, 5.0, 0.0], device, requires_grad=True)
    vecgrad.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 0, 1])
    np.testing.assert_array_equal(b.grad.numpy(), [0.5, 1, 0])


def test_max_pool_and_max_dim_send_a_tie_to_the_first_maximum(device):
    # PyTorch's rule for both (amax / max(axis=...) share instead, see above).
    x = t(np.ones((1, 1, 2, 2)), device, requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[[1.0, 0.0], [0.0, 0.0]]]])
    x.grad = None
    x.reshape(4).max(0).values.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[[1.0, 0.0], [0.0, 0.0]]]])


def test_keepdim_and_keepdims_spellings(device):
    x = vecgrad.ones(2, 3, device=device)
    assert x.sum(1, keepdim=True).shape == (2, 1)
    assert x.mean(axis=1, keepdims=True).shape == (2, 1)
    assert x.var(dim=0, keepdim=True).shape == (1, 3)
    with pytest.raises(TypeError, match="keepdims or keepdim"):
        x.sum(1, keepdims=True, keepdim=False)
    with pytest.raises(TypeError, match="one of ddof, correction or unbiased"):
        x.var(ddof=0, correction=1)


def test_var_defaults_to_the_population_variance(device):
    x = t([1.0, 2.0, 4.0], device)
    assert x.var().item() == pytest.approx(np.var([1, 2, 4]))
    assert x.var(correction=1).item() == pytest.approx(np.var([1, 2, 4], ddof=1))
    assert x.std(unbiased=True).item() == pytest.approx(np.std([1, 2, 4], ddof=1))


def test_sum_dtype_and_bool_sums(device):
    m = t([[True, False], [True, True]], device)
    assert m.sum().item() == 3 and m.sum().dtype == np.int64
    assert m.sum(dtype=vecgrad.float32).dtype == np.float32
    assert m.all().item() is False and m.any(dim=1).tolist() == [True, True]
    assert vecgrad.zeros(0, device=device).all().item() is True
    assert vecgrad.zeros(0, device=device).any().item() is False


# ------------------------------------------------------------ precision of primitives
def test_erf_matches_the_standard_library():
    x = np.concatenate([np.linspace(-7, 7, 2001), [0.0, 1.0, -1.0, 8.0, 30.0, -40.0]])
    expected = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(_erf(x), expected, rtol=2e-16 * 4, atol=1e-300)
    assert _erf(np.array([np.inf, -np.inf])).tolist() == [1.0, -1.0]
    assert np.isnan(_erf(np.array([np.nan])))[0]


def test_erf_log1p_expm1_on_the_device(device):
    need_float64(device)
    x = np.array([-0.75, -1e-12, 0.0, 1e-12, 0.5, 2.5])
    xt = t(x, device)
    np.testing.assert_allclose(xt.erf().numpy(), [math.erf(v) for v in x], rtol=1e-14)
    np.testing.assert_allclose(xt.log1p().numpy(), np.log1p(x), rtol=1e-14)
    np.testing.assert_allclose(xt.expm1().numpy(), np.expm1(x), rtol=1e-14)
    assert xt.log1p().numpy()[3] == pytest.approx(1e-12, rel=1e-12)  # log(1 + x) gives 1.00009e-12


def test_round_is_half_to_even(device):
    x = t([0.5, 1.5, 2.5, -0.5, -1.5, 2.4], device)
    assert x.round().tolist() == [0.0, 2.0, 2.0, -0.0, -2.0, 2.0]
    assert x.floor().tolist() == [0.0, 1.0, 2.0, -1.0, -2.0, 2.0]
    assert x.ceil().tolist() == [1.0, 2.0, 3.0, -0.0, -1.0, 3.0]
    assert x.trunc().tolist() == [0.0, 1.0, 2.0, -0.0, -1.0, 2.0]
    ints = t([1, -2], device)
    assert ints.round().tolist() == [1, -2] and ints.floor().dtype == np.int64


def test_prod_gradient_with_zeros(device):
    x = t([[0.0, 2.0, 3.0], [0.0, 0.0, 5.0]], device, requires_grad=True)
    x.prod(dim=1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[6.0, 0.0, 0.0], [0.0, 0.0, 0.0]])


# ------------------------------------------------------------------------- errors
@pytest.mark.parametrize("call, error, message", [
    (lambda x: vecgrad.einsum("ij,jk->ik", x), ValueError, "names 2 operand"),
    (lambda x: vecgrad.einsum("ijk->i", x), ValueError, "names 3 axes"),
    (lambda x: vecgrad.einsum("ij->q", x), ValueError, "'q' is not in any input"),
    (lambda x: vecgrad.einsum("ij,ij->", x, x.t()), ValueError, "size 2 in one operand"),
    (lambda x: x.split([1, 1], dim=1), ValueError, "add up to 3"),
    (lambda x: x.chunk(0), ValueError, "chunks must be a positive int"),
    (lambda x: x.narrow(1, 2, 5), IndexError, "do not fit"),
    (lambda x: x.topk(4), ValueError, r"k must be an int in \[0, 3\]"),
    (lambda x: x.mm(x), ValueError, r"\(2, 3\) @ \(2, 3\): 3 != 2"),
    (lambda x: x.bmm(x), ValueError, "must be 3-D"),
    (lambda x: x.dot(x), ValueError, "must be 1-D"),
    (lambda x: x.t().t().unsqueeze(0).t(), ValueError, "at most 2 axes"),
    (lambda x: x.repeat(2), ValueError, "at least one per axis"),
    (lambda x: x.cumsum(), TypeError, "needs dim"),
    (lambda x: x.norm(p="nuc"), ValueError, "p must be a number"),
    (lambda x: x.gather(1, vecgrad.zeros(3, 1, dtype=vecgrad.int64, device=x.device)),
     ValueError, "larger than the input shape"),
    (lambda x: F.gelu(x, approximate="fast"), ValueError, "approximate must be"),
    (lambda x: F.glu(x), ValueError, "odd length 3"),
    (lambda x: F.one_hot(vecgrad.tensor([0, 5], device=x.device), 3), ValueError,
     r"lie in \[0, 3\)"),
    (lambda x: F.cross_entropy(x, vecgrad.tensor([0, 1], device=x.device), "sum"),
     TypeError, "pass reduction='sum' by keyword"),
    (lambda x: F.cross_entropy(x, vecgrad.tensor([0, 1], device=x.device),
                               weight=vecgrad.ones(2, device=x.device)), ValueError,
     r"weight must be a Tensor of shape \(3,\)"),
    (lambda x: F.cross_entropy(x, vecgrad.tensor([0, 7], device=x.device)), IndexError,
     r"labels must lie in \[0, 3\)"),
    (lambda x: F.kl_div(x, x, reduction="avg"), ValueError, "batchmean"),
    (lambda x: F.scaled_dot_product_attention(x, x.t(), x), ValueError, "feature size"),
])
def test_errors_name_the_problem(device, call, error, message):
    x = vecgrad.tensor(np.arange(6.0).reshape(2, 3), device=device)
    with pytest.raises(error, match=message):
        call(x)


def test_cross_entropy_ignore_index_and_weights_by_hand(device):
    need_float64(device)
    logits = np.array([[1.0, 2.0, 0.5], [0.1, 0.2, 3.0], [2.0, 1.0, 0.0]])
    labels = np.array([1, -100, 0])
    w = np.array([2.0, 0.5, 1.0])
    x = t(logits, device)
    loss = F.cross_entropy(x, t(labels, device), weight=t(w, device)).item()
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    expected = (0.5 * -logp[0, 1] + 2.0 * -logp[2, 0]) / (0.5 + 2.0)
    assert loss == pytest.approx(expected, rel=1e-12)


def test_module_level_functions_match_methods(device):
    x = vecgrad.tensor(np.arange(6.0).reshape(2, 3) - 2, device=device)
    np.testing.assert_array_equal(vecgrad.exp(x).numpy(), x.exp().numpy())
    np.testing.assert_array_equal(vecgrad.sum(x, dim=1).numpy(), x.sum(axis=1).numpy())
    np.testing.assert_array_equal(vecgrad.maximum(x, 0.0).numpy(), np.maximum(x.numpy(), 0))
    assert vecgrad.clamp is vecgrad.clip and vecgrad.concat is vecgrad.cat
    assert x.contiguous() is x and not x.t().is_contiguous()
    assert x.t().contiguous().is_contiguous()


# ------------------------------------------- odd shapes and negative axes (properties)
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from vg_helpers import PROPERTY, gradcheck  # noqa: E402

AXIS_OPS = {
    "prod": (lambda x, a: x.prod(dim=a), lambda x, a: np.prod(x, a)),
    "cumsum": (lambda x, a: x.cumsum(a), lambda x, a: np.cumsum(x, a)),
    "logsumexp": (lambda x, a: x.logsumexp(a),
                  lambda x, a: np.log(np.sum(np.exp(x), axis=a))),
    "flip": (lambda x, a: x.flip(a), lambda x, a: np.flip(x, a)),
    "roll": (lambda x, a: x.roll(2, a), lambda x, a: np.roll(x, 2, a)),
    "amax": (lambda x, a: x.amax(a), lambda x, a: np.max(x, a)),
    "norm": (lambda x, a: x.norm(dim=a), lambda x, a: np.sqrt(np.sum(x * x, a))),
    "sort": (lambda x, a: x.sort(a).values, lambda x, a: np.sort(x, a)),
    "max-dim": (lambda x, a: x.max(a).values, lambda x, a: np.max(x, a)),
}


@PROPERTY
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5),
       data=st.data(), name=st.sampled_from(sorted(AXIS_OPS)), seed=st.integers(0, 2**16),
       permuted=st.booleans())
def test_axis_ops_on_odd_shapes_and_negative_axes(device, shape, data, name, seed, permuted):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    ours, reference = AXIS_OPS[name]
    x = np.random.default_rng(seed).standard_normal(shape)  # distinct: no ties
    result = gradcheck(lambda t: ours(t, axis), [x], device, permuted=permuted, atol=1e-5)
    np.testing.assert_allclose(result.numpy(), reference(x, axis), rtol=1e-10, atol=1e-12)


def test_activation_layers_wrap_the_functions(device):
    x = vecgrad.tensor(np.linspace(-4, 4, 12).reshape(3, 4), dtype=vecgrad.float32, device=device)
    nn = vecgrad.nn
    pairs = [(nn.GELU(), F.gelu(x)), (nn.GELU("tanh"), F.gelu(x, approximate="tanh")),
             (nn.SiLU(), F.silu(x)), (nn.Mish(), F.mish(x)), (nn.SELU(), F.selu(x)),
             (nn.Softsign(), F.softsign(x)), (nn.LogSigmoid(), F.logsigmoid(x)),
             (nn.ReLU6(), F.relu6(x)), (nn.Hardsigmoid(), F.hardsigmoid(x)),
             (nn.Hardswish(), F.hardswish(x)), (nn.Hardtanh(-2, 2), F.hardtanh(x, -2, 2)),
             (nn.Softmin(dim=0), F.softmin(x, dim=0)), (nn.GLU(dim=1), F.glu(x, dim=1))]
    for layer, expected in pairs:
        np.testing.assert_array_equal(layer(x).numpy(), expected.numpy(), err_msg=repr(layer))
    model = nn.Sequential(nn.Linear(4, 4), nn.GELU(), nn.Linear(4, 2)).to(device)
    assert model(x).shape == (3, 2)
    assert "GELU(approximate='tanh')" in repr(nn.GELU("tanh"))
    with pytest.raises(ValueError, match="min_val 2 is greater"):
        nn.Hardtanh(2, 1)



def test_hard_activation_gradients_at_the_ends_follow_pytorch(device):
    """torch 2.13: hardswish' is 0 at -3 and 1 at 3 (the quadratic piece is open at both
    ends); hardsigmoid', relu6' and hardtanh' are 0 at their ends."""
    ends = [-3.0, 3.0]
    cases = [(F.hardswish, [0.0, 1.0]), (F.hardsigmoid, [0.0, 0.0]),
             (lambda v: F.relu6(v + 3.0), [0.0, 0.0]), (lambda v: F.hardtanh(v / 3.0), [0.0, 0.0])]
    for fn, want in cases:
        x = t(ends, device, requires_grad=True)
        fn(x).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), want)

def test_loss_layers_call_the_functions(device):
    nn = vecgrad.nn
    rng = np.random.default_rng(4)
    x = t(rng.standard_normal((4, 3)), device)
    p = x.sigmoid()
    y = t(rng.uniform(0, 1, (4, 3)), device)
    labels = t([0, 2, 1, 2], device)
    w = t([1.0, 2.0, 0.5], device)
    pairs = [
        (nn.MSELoss()(x, y), F.mse_loss(x, y)),
        (nn.L1Loss(reduction="sum")(x, y), F.l1_loss(x, y, reduction="sum")),
        (nn.SmoothL1Loss(beta=0.5)(x, y), F.smooth_l1_loss(x, y, beta=0.5)),
        (nn.HuberLoss(delta=0.5)(x, y), F.huber_loss(x, y, delta=0.5)),
        (nn.KLDivLoss(reduction="batchmean")(x.log_softmax(1), p),
         F.kl_div(x.log_softmax(1), p, reduction="batchmean")),
        (nn.BCELoss(weight=w)(p, y), F.binary_cross_entropy(p, y, weight=w)),
        (nn.BCEWithLogitsLoss(pos_weight=w)(x, y),
         F.binary_cross_entropy_with_logits(x, y, pos_weight=w)),
        (nn.NLLLoss(weight=w)(x.log_softmax(1), labels),
         F.nll_loss(x.log_softmax(1), labels, weight=w)),
        (nn.CrossEntropyLoss(weight=w, label_smoothing=0.1)(x, labels),
         F.cross_entropy(x, labels, weight=w, label_smoothing=0.1)),
    ]
    for got, expected in pairs:
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)
    criterion = nn.CrossEntropyLoss(weight=vecgrad.tensor([1.0, 2.0, 0.5]))
    criterion.to(device)
    assert criterion.weight.device == x.device
    assert list(criterion.state_dict()) == ["weight"]  # a buffer, as in PyTorch
    assert list(nn.BCEWithLogitsLoss(pos_weight=w).state_dict()) == ["pos_weight"]
    assert "reduction='sum'" in repr(nn.MSELoss(reduction="sum"))
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(TypeError, match="weight must be a Tensor"):
        nn.CrossEntropyLoss(weight=[1.0, 2.0])


def test_einsum_of_integers_by_mul_and_sum(device):
    a = t([[1, 2], [3, 4]], device)
    b = t([[5, 6], [7, 8]], device)
    out = vecgrad.einsum("ij,jk->ik", a, b)
    assert out.dtype == np.int64 and out.tolist() == [[19, 22], [43, 50]]
    assert vecgrad.einsum("ii", a).item() == 5


@pytest.mark.parametrize("make", [
    lambda x: x.flip(0), lambda x: x.flip((0, 1)), lambda x: vecgrad.flip(x[:1], 0),
    lambda x: x.flip(()), lambda x: x.repeat(1, 1), lambda x: x.tile((1,)),
], ids=["flip", "flip-both", "flip-length-1", "flip-nothing", "repeat-ones", "tile-ones"])
def test_flip_and_repeat_are_copies_as_in_pytorch(device, make):
    # numpy's flip is a view: a write into the result (y[0] = 0, y += 1 under no_grad)
    # changed x too, where PyTorch's flip and repeat never share memory
    x = t([[1.0, 2.0], [3.0, 4.0]], device)
    y = make(x)
    y.fill_(0.0)
    y += 1
    np.testing.assert_array_equal(x.numpy(), [[1.0, 2.0], [3.0, 4.0]])
    mask = x > 2  # bool tensors too
    make(mask).fill_(True)
    np.testing.assert_array_equal(mask.numpy(), [[False, False], [True, True]])


def test_round_of_an_int_tensor_to_tens_is_refused(device):
    # it returned the integers unchanged (1234 for decimals=-2, numpy says 1200)
    x = vecgrad.tensor([1234, -5], device=device)
    assert x.round(decimals=2).tolist() == [1234, -5]  # nothing after the point
    with pytest.raises(TypeError, match="round: decimals=-2 needs a float tensor"):
        x.round(decimals=-2)
    assert x.float().round(decimals=-2).tolist() == [1200.0, 0.0]


def test_second_derivatives_at_kinks_follow_the_first_derivatives_branch(device):
    """README, differences: elu''(0) is alpha (the branch whose slope alpha elu'(0) is, in
    both libraries; PyTorch's elu''(0) is 0), and norm's Hessian at the zero vector is 0
    (its gradient is 0 there; PyTorch's Hessian is nan)."""
    from vecgrad.autograd import grad

    x = t([0.0, -0.0, -1.0, 1.0], device, requires_grad=True)
    (g,) = grad(F.elu(x, 2.0).sum(), x, create_graph=True)
    (h,) = grad(g.sum(), x)
    np.testing.assert_allclose(g.numpy(), [2.0, 2.0, 2 * math.exp(-1), 1.0], rtol=1e-6)
    np.testing.assert_allclose(h.numpy(), [2.0, 2.0, 2 * math.exp(-1), 0.0], rtol=1e-6)
    z = t([[0.0, 0.0], [3.0, 4.0]], device, requires_grad=True)
    (g,) = grad(z.norm(dim=1).sum(), z, create_graph=True)
    (h,) = grad((g * t([[1.0, 2.0], [1.0, 2.0]], device)).sum(), z)
    assert np.array_equal(h.numpy()[0], [0.0, 0.0]) and np.isfinite(h.numpy()).all()
    torch = pytest.importorskip("torch")
    tx = torch.tensor([0.0], requires_grad=True)
    (tg,) = torch.autograd.grad(torch.nn.functional.elu(tx, 2.0).sum(), tx, create_graph=True)
    (th,) = torch.autograd.grad(tg.sum(), tx)
    assert tg.item() == 2.0 and th.item() == 0.0  # PyTorch's (the documented difference)


def test_second_derivatives_at_nan_are_nan_where_the_first_is_an_expression(device):
    """README, differences: elu''(nan) is nan in both engines (vecgrad's was 0, through
    clip's zero gradient at nan; PyTorch's is 0); relu's f' is a constant nan there, its
    derivative 0 in scalargrad (PyTorch's too) and absent in vecgrad (no graph)."""
    from scalargrad import higher
    from scalargrad.value import Value
    from vecgrad.autograd import grad

    x = t([math.nan, -1.0], device, requires_grad=True)
    for name in ("elu", "gaussian"):
        (g,) = grad(x.activation(name).sum(), x, create_graph=True)
        (h,) = grad(g.sum(), x)
        assert np.isnan(h.numpy()[0]) and np.isfinite(h.numpy()[1]), name
        v = Value(math.nan)
        (gv,) = higher.grad(v.activation(name), [v], create_graph=True)
        assert math.isnan(higher.grad(gv, [v])[0]), name
    (g,) = grad(x.relu().sum(), x, create_graph=True)
    assert np.isnan(g.numpy()[0]) and not g.requires_grad
    v = Value(math.nan)
    (gv,) = higher.grad(v.relu(), [v], create_graph=True)
    assert math.isnan(gv.data) and higher.grad(gv, [v]) == [0.0]
    torch = pytest.importorskip("torch")
    tx = torch.tensor([math.nan], dtype=torch.float64, requires_grad=True)
    (tg,) = torch.autograd.grad(torch.nn.functional.elu(tx).sum(), tx, create_graph=True)
    assert torch.autograd.grad(tg.sum(), tx)[0].item() == 0.0  # the documented difference


def test_variance_needs_more_elements_than_the_correction_and_reads_keepdims_second(device):
    """README, differences: fewer elements than correction + 1 is an error (PyTorch: nan
    or inf), and the second positional argument of var/std is numpy's keepdims."""
    x = t([[1.0, 2.0], [3.0, 5.0]], device)
    assert x.std(1, True).shape == (2, 1) and x.var(1, True).shape == (2, 1)
    for call in (lambda: x.var(dim=1, correction=2), lambda: x[:, :1].std(dim=1, correction=1),
                 lambda: t([], device).var()):
        with pytest.raises(ValueError, match="need more than"):
            call()


def test_rounding_functions_have_gradient_zero_and_sort_is_stable(device):
    """README, differences: floor, round, sign, ... have gradient 0 like PyTorch; sort is
    always stable (ties keep their order, descending too), on every device."""
    x = t([0.3, -1.7, 2.5, -0.5], device, requires_grad=True)
    for name in ("floor", "ceil", "round", "trunc", "sign"):
        x.grad = None
        getattr(x, name)().sum().backward()
        assert x.grad.tolist() == [0.0] * 4, name
    ties = t([2.0, 1.0, 2.0, 1.0, 2.0, 0.0], device)
    assert ties.sort().indices.tolist() == [5, 1, 3, 0, 2, 4]
    assert ties.argsort().tolist() == [5, 1, 3, 0, 2, 4]
    assert ties.sort(descending=True).indices.tolist() == [0, 2, 4, 1, 3, 5]


def test_matrix_products_need_float_tensors(device):
    """README, differences: @, mm, bmm, dot (and einsum through matmul) refuse integer
    tensors, where PyTorch multiplies them; einsum of integers works by mul and sum."""
    a = t([[1, 2], [3, 4]], device)
    for call in (lambda: a @ a, lambda: a.mm(a), lambda: a[0].dot(a[1]),
                 lambda: a.reshape(1, 2, 2).bmm(a.reshape(1, 2, 2))):
        with pytest.raises(TypeError, match="float32 or float64"):
            call()


def test_softplus_is_the_exact_formula_within_2e_9_of_pytorch(device):
    """README, differences: F.softplus with beta=1, threshold=20 uses log(1 + e^x) beyond
    the threshold too; PyTorch returns x there, log1p(e^-20) = 2.06e-9 away at most."""
    need_float64(device)
    torch = pytest.importorskip("torch")
    grid = np.linspace(15.0, 40.0, 2501)
    ours = F.softplus(t(grid, device, dtype=vecgrad.float64)).numpy()
    theirs = torch.nn.functional.softplus(torch.tensor(grid)).numpy()
    gap = np.abs(ours - theirs)
    assert gap.max() <= 2.1e-9 and gap.max() > 2e-9           # at x just above 20
    np.testing.assert_allclose(ours[grid <= 20], theirs[grid <= 20], rtol=1e-14, atol=0)


def test_normalize_and_cosine_similarity_have_finite_hessians_at_zero(device):
    """README, differences: the Hessian of F.normalize or F.cosine_similarity at a zero
    vector is finite here (PyTorch's is nan)."""
    from vecgrad.autograd import grad

    z = t([[0.0, 0.0]], device, requires_grad=True)
    w = t([[1.0, 2.0]], device)
    for f in (lambda z: F.normalize(z).sum(), lambda z: F.cosine_similarity(z, w).sum()):
        (g,) = grad(f(z), z, create_graph=True)
        (h,) = grad((g * w).sum(), z)
        assert np.isfinite(h.numpy()).all()


def test_expm1_slope_far_below_zero_is_exp(device):
    # out + 1 cancelled: float32 expm1'(-10) was 1e-3 off, expm1'(-17) 0 on OpenCL
    xs = [-10.0, -17.0, -80.0, 0.0, 2.0]
    x = t(xs, device, requires_grad=True)
    x.expm1().sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp(np.array(xs, np.float32)), rtol=1e-6)


def test_kl_div_defaults_to_the_elementwise_mean_and_cross_entropy_names_its_arguments(device):
    """README, F: kl_div's default reduction is "mean" over every element (PyTorch's
    default too; "batchmean" is the true KL), and cross_entropy(logits, labels, ...)."""
    log_p = t(np.log([[0.2, 0.8], [0.5, 0.5], [0.9, 0.1]]), device)
    q = t([[0.3, 0.7], [0.6, 0.4], [0.5, 0.5]], device)
    terms = F.kl_div(log_p, q, reduction="none").numpy()
    assert F.kl_div(log_p, q).item() == pytest.approx(terms.mean())
    assert F.kl_div(log_p, q, reduction="batchmean").item() == pytest.approx(terms.sum() / 3)
    labels = t([1, 0, 0], device)
    assert F.cross_entropy(logits=log_p, labels=labels).item() == \
        pytest.approx(F.cross_entropy(log_p, labels).item())


def test_kl_div_target_gradient_is_0_where_the_target_is_0(device):
    """README, differences: kl_div's gradient with respect to a target of exactly 0 is 0
    (PyTorch's is nan); elsewhere, and with respect to the input, PyTorch's numbers."""
    need_float64(device)
    x = t([-1.0, -2.0, -0.5], device, dtype=vecgrad.float64, requires_grad=True)
    q = t([0.0, 0.3, 0.7], device, dtype=vecgrad.float64, requires_grad=True)
    F.kl_div(x, q, reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, -0.3, -0.7], rtol=1e-15)
    np.testing.assert_allclose(q.grad.numpy(), [0.0, math.log(0.3) + 3.0, math.log(0.7) + 1.5],
                               rtol=1e-14)
    torch = pytest.importorskip("torch")
    tx = torch.tensor([-1.0, -2.0, -0.5], dtype=torch.float64, requires_grad=True)
    tq = torch.tensor([0.0, 0.3, 0.7], dtype=torch.float64, requires_grad=True)
    torch.nn.functional.kl_div(tx, tq, reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-15)
    np.testing.assert_allclose(q.grad.numpy()[1:], tq.grad.numpy()[1:], rtol=1e-14)
    assert math.isnan(tq.grad[0].item())  # PyTorch's (the documented difference)


def test_from_numpy_copies_the_array(device):
    """README, tensors: from_numpy makes a copy (PyTorch's shares the array's memory), so
    writing into the array later leaves the tensor as it was, and the other way round."""
    need_float64(device)
    array = np.array([1.0, 2.0])
    x = vecgrad.from_numpy(array, device=device)
    array[0] = 7.0
    assert x.tolist() == [1.0, 2.0] and x.dtype == vecgrad.float64
    x.add_(1.0)
    assert array.tolist() == [7.0, 2.0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_exp2_log2_log10_are_exact_at_powers(device, dtype):
    # composed from exp and log they gave log2(8) = 2.9999999999999996, log10(100) =
    # 1.9999999999999998 and exp2(3) = 7.999999999999998 in float64 (so floor(log2(8)) = 2)
    if dtype == "float64":
        need_float64(device)
    x = vecgrad.tensor([1.0, 8.0, 1024.0, 0.5, 2.0 ** -20], dtype=dtype, device=device,
                       requires_grad=True)
    assert x.log2().tolist() == [0.0, 3.0, 10.0, -1.0, -20.0]
    tens = vecgrad.tensor([10.0 ** k for k in range(11)], dtype=dtype, device=device)
    assert tens.log10().tolist() == list(range(11))
    e = vecgrad.tensor([3.0, -2.0, 10.0, 0.5], dtype=dtype, device=device, requires_grad=True)
    assert e.exp2().tolist()[:3] == [8.0, 0.25, 1024.0]
    rng = np.random.default_rng(0)  # elsewhere within an ulp of the float64 value, rounded
    y = np.exp(rng.uniform(-80, 80, 2000)).astype(dtype)
    for name in ("log2", "log10"):
        got = getattr(vecgrad.tensor(y, device=device), name)().numpy()
        want = getattr(np, name)(y.astype(np.float64))
        assert (np.abs(got - want) <= np.spacing(np.abs(want).astype(dtype))).all(), name
    (x.log2() + x.log10()).sum().backward()
    e.exp2().sum().backward()
    xs = x.detach().numpy().astype(np.float64)
    np.testing.assert_allclose(x.grad.numpy(), 1 / (xs * np.log(2)) + 1 / (xs * np.log(10)),
                               rtol=1e-6)
    np.testing.assert_allclose(e.grad.numpy(), np.exp2([3.0, -2.0, 10.0, 0.5]) * np.log(2),
                               rtol=1e-6)


def test_lerp_hits_its_ends_exactly(device):
    # start + w * (end - start) gave 0 for lerp(1e8, 1, 1) in float32; PyTorch's form
    # (from end when w >= 0.5) gives end at w = 1 and start at w = 0
    start, end = t([1e8, -3.0], device, requires_grad=True), t([1.0, 1e-8], device)
    assert start.lerp(end, 1.0).tolist() == end.tolist()
    assert start.lerp(end, 0.0).tolist() == start.tolist()
    weight = t([[1.0], [0.0]], device, requires_grad=True)
    out = start.lerp(end, weight)
    assert out.tolist() == [end.tolist(), start.tolist()]
    out.sum().backward()
    np.testing.assert_allclose(start.grad.numpy(), [1.0, 1.0])  # (1 - w) summed over rows
    np.testing.assert_allclose(weight.grad.numpy(), [[1 - 1e8 + 1e-8 + 3]] * 2, rtol=1e-6)


def test_floor_divide_has_gradient_zero_where_pytorch_refuses(device):
    # README, Differences from PyTorch: `//` has gradient 0, like floor
    a = t([3.5, -2.0], device, requires_grad=True)
    (a // 1.5).sum().backward()
    assert a.grad.tolist() == [0.0, 0.0]
    torch = pytest.importorskip("torch")
    ta = torch.tensor([3.5, -2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="floor_divide"):
        (ta // 1.5).sum().backward()


def test_parameter_owns_a_copy_and_load_state_dict_refuses_another_dtype(device):
    # README, differences from PyTorch: Parameter(t) copies t (PyTorch's shares it), and
    # a state of another dtype is an error naming key and dtypes (PyTorch converts it).
    from vecgrad import nn

    data = vecgrad.zeros(2, device=device)
    param = nn.Parameter(data)
    data.add_(1.0)
    assert param.tolist() == [0.0, 0.0] and param.device == data.device
    model = nn.Linear(2, 1).to(device)
    state = {key: value.double() for key, value in model.state_dict().items()}
    before = model.weight.tolist()
    with pytest.raises(nn.StateDictError, match="weight: dtype float64 in the state, "
                                                "float32 in the model"):
        model.load_state_dict(state)
    assert model.weight.tolist() == before
    need_float64(device)
    model.double().load_state_dict(state)  # the documented way


def test_data_assignment_needs_the_same_shape_dtype_and_device(device):
    # README, differences from PyTorch: PyTorch's p.data = t takes any tensor; here a
    # new Parameter resizes a layer.
    from vecgrad import nn

    layer = nn.Embedding(3, 2).to(device)
    weight = layer.weight
    layer.weight.data = vecgrad.ones(3, 2, device=device)  # same shape: swapped in place
    assert layer.weight is weight and layer.weight.sum().item() == 6.0
    for other in (vecgrad.ones(4, 2, device=device), vecgrad.ones(3, 2, dtype=vecgrad.int64,
                                                                   device=device)):
        with pytest.raises(ValueError, match=r"data: needs a Tensor of shape \(3, 2\)"):
            layer.weight.data = other
    layer.weight = nn.Parameter(vecgrad.ones(4, 2, device=device))  # the documented way
    assert layer(vecgrad.tensor([3], device=device)).shape == (1, 2)


def test_there_is_no_half_precision():
    # README, differences from PyTorch: no float16/bfloat16, so no .half() either.
    from vecgrad import nn

    assert not hasattr(vecgrad, "float16") and not hasattr(vecgrad.ones(1), "half")
    assert not hasattr(nn.Linear(1, 1), "half")
    with pytest.raises(TypeError, match="unsupported dtype float16"):
        vecgrad.ones(1, dtype="float16")
    with pytest.raises(TypeError, match="float"):
        nn.Linear(1, 1).to("float16")
