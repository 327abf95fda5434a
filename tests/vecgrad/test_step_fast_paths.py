"""The training step's fast paths (issue 12, item 3) compute what the general paths do:
F.linear's and F.cross_entropy's one-expression checks, ReLU's backward written over
the walk's own gradient buffer, and the first-order walk itself. Both backends,
float32 and float64, odd shapes, against finite differences, the general paths and
torch when it is installed; nothing is timed."""

import numpy as np
import pytest

import vecgrad
import vecgrad.nn.functional as F
from vecgrad import autograd, nn
from vecgrad.ops import losses, matmul
from vg_helpers import gradcheck, need_float64

RNG = np.random.default_rng(5)
DTYPES = [np.float32, np.float64]


def _tol(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


def _calls(monkeypatch, cls):
    """Count cls.apply calls (to see which path ran)."""
    seen = []
    real = cls.apply.__func__

    def counting(klass, *args, **kwargs):
        seen.append(klass.__name__)
        return real(klass, *args, **kwargs)

    monkeypatch.setattr(cls, "apply", classmethod(counting))
    return seen


# ------------------------------------------------------------------------------ linear
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, out_features", [((5, 3), 4), ((1, 7), 1), ((2, 3, 6), 5),
                                                   ((4, 1), 3)])
def test_linear_fast_path_matches_numpy_and_gradients(device, dtype, x_shape, out_features):
    if dtype == np.float64:
        need_float64(device)
    x = RNG.standard_normal(x_shape).astype(dtype)
    w = RNG.standard_normal((out_features, x_shape[-1])).astype(dtype)
    b = RNG.standard_normal(out_features).astype(dtype)
    g = RNG.standard_normal(x_shape[:-1] + (out_features,)).astype(dtype)
    vx, vw, vb = (vecgrad.tensor(a, device=device, requires_grad=True) for a in (x, w, b))
    out = F.linear(vx, vw, vb)
    assert out.grad_fn == "Linear"
    np.testing.assert_allclose(out.numpy(), x @ w.T + b, **_tol(dtype))
    out.backward(vecgrad.tensor(g, device=device))
    rows = g.reshape(-1, out_features)
    np.testing.assert_allclose(vx.grad.numpy(), g @ w, **_tol(dtype))
    np.testing.assert_allclose(vw.grad.numpy(), rows.T @ x.reshape(-1, x_shape[-1]),
                               **_tol(dtype))
    np.testing.assert_allclose(vb.grad.numpy(), rows.sum(axis=0), **_tol(dtype))


def test_linear_fast_path_gradcheck(device):
    gradcheck(lambda x, w, b: F.linear(x, w, b),
              [RNG.standard_normal((3, 5)), RNG.standard_normal((2, 5)),
               RNG.standard_normal(2)], device)


def test_linear_takes_parameters_on_the_fast_path(device, monkeypatch):
    layer = nn.Linear(4, 3)
    layer.to(device)
    seen = _calls(monkeypatch, matmul.Linear)
    x = vecgrad.tensor(RNG.standard_normal((2, 4)).astype(np.float32), device=device)
    out = layer(x)
    assert seen == ["Linear"]
    want = x.numpy() @ layer.weight.numpy().T + layer.bias.numpy()
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", ["1-D input", "mixed dtypes", "no bias"])
def test_linear_other_cases_take_the_general_path(device, case):
    need_float64(device)
    x = RNG.standard_normal((3, 4))
    w = RNG.standard_normal((2, 4))
    b = RNG.standard_normal(2)
    if case == "1-D input":
        args = (vecgrad.tensor(x[0], device=device), vecgrad.tensor(w, device=device),
                vecgrad.tensor(b, device=device))
        want = x[0] @ w.T + b
    elif case == "mixed dtypes":  # a float32 bias is cast to the input's float64
        args = (vecgrad.tensor(x, device=device), vecgrad.tensor(w, device=device),
                vecgrad.tensor(b.astype(np.float32), device=device))
        want = x @ w.T + b.astype(np.float32)
    else:
        args = (vecgrad.tensor(x, device=device), vecgrad.tensor(w, device=device))
        want = x @ w.T
    np.testing.assert_allclose(F.linear(*args).numpy(), want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("w_shape, b_shape, message", [
    ((2, 5), (2,), "has 4 features but weight"),
    ((2, 4), (3,), "bias must have shape"),
    ((2, 4, 1), (2,), "weight must be 2-D"),
])
def test_linear_errors_still_name_the_problem(device, w_shape, b_shape, message):
    x = vecgrad.tensor(np.ones((3, 4), np.float32), device=device)
    w = vecgrad.tensor(np.ones(w_shape, np.float32), device=device)
    b = vecgrad.tensor(np.ones(b_shape, np.float32), device=device)
    with pytest.raises(ValueError, match=message):
        F.linear(x, w, b)


def test_linear_integer_input_still_refused(device):
    x = vecgrad.tensor(np.ones((3, 4), np.int64), device=device)
    w = vecgrad.tensor(np.ones((2, 4), np.int64), device=device)
    b = vecgrad.tensor(np.ones(2, np.int64), device=device)
    with pytest.raises(TypeError, match="float32 or float64"):
        F.linear(x, w, b)


# ------------------------------------------------------------------------ cross_entropy
def _ce_reference(logits, labels, reduction):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    losses_ = -log_probs[np.arange(len(labels)), labels]
    grad = np.exp(log_probs)
    grad[np.arange(len(labels)), labels] -= 1
    if reduction == "mean":
        return losses_.mean(), grad / len(labels)
    if reduction == "sum":
        return losses_.sum(), grad
    return losses_, grad


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("n, c", [(1, 1), (5, 3), (7, 10)])
def test_cross_entropy_fast_path_matches_the_closed_form(device, dtype, reduction, n, c,
                                                         monkeypatch):
    if dtype == np.float64:
        need_float64(device)
    logits = (RNG.standard_normal((n, c)) * 3).astype(dtype)
    labels = RNG.integers(0, c, size=n)
    seen = _calls(monkeypatch, losses.CrossEntropy)
    vl = vecgrad.tensor(logits, device=device, requires_grad=True)
    loss = F.cross_entropy(vl, vecgrad.tensor(labels, device=device), reduction=reduction)
    assert seen == ["CrossEntropy"]
    want, grad = _ce_reference(logits.astype(np.float64), labels, reduction)
    tol = _tol(dtype) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loss.numpy(), want, **tol)
    loss.sum().backward() if reduction == "none" else loss.backward()
    np.testing.assert_allclose(vl.grad.numpy(), grad, **tol)


def test_cross_entropy_labels_of_unknown_range_take_the_general_path(device):
    """Labels made on the device (no host range) are checked by reading them: the
    fast path must not trust them, and gives the same values when they are fine."""
    logits = RNG.standard_normal((4, 3)).astype(np.float32)
    host = np.array([0, 2, 1, 2])
    made = vecgrad.tensor(host + 1, device=device) - 1  # computed: no host range
    assert made._host_range is None
    direct = F.cross_entropy(vecgrad.tensor(logits, device=device),
                             vecgrad.tensor(host, device=device))
    general = F.cross_entropy(vecgrad.tensor(logits, device=device), made)
    np.testing.assert_allclose(general.numpy(), direct.numpy(), rtol=1e-6)
    bad = vecgrad.tensor(host + 2, device=device) - 1  # 3 is out of range
    with pytest.raises(IndexError, match=r"labels must lie in \[0, 3\)"):
        F.cross_entropy(vecgrad.tensor(logits, device=device), bad)


def test_cross_entropy_labels_edited_in_place_are_checked_again(device):
    logits = vecgrad.tensor(RNG.standard_normal((3, 4)).astype(np.float32), device=device)
    labels = vecgrad.tensor(np.array([0, 1, 3]), device=device)
    F.cross_entropy(logits, labels)
    labels.add_(vecgrad.tensor(np.array([0, 0, 1]), device=device))  # 4: out of range now
    with pytest.raises(IndexError, match=r"\[0, 4\)"):
        F.cross_entropy(logits, labels)


@pytest.mark.parametrize("labels, kwargs, message", [
    ([0, 5], {}, IndexError),
    ([0, -1], {}, IndexError),
    ([0, 1], {"reduction": "average"}, ValueError),
    ([0, 1], {"label_smoothing": 1.5}, ValueError),
])
def test_cross_entropy_errors_still_raised(device, labels, kwargs, message):
    logits = vecgrad.tensor(np.zeros((2, 3), np.float32), device=device)
    with pytest.raises(message):
        F.cross_entropy(logits, vecgrad.tensor(np.array(labels), device=device), **kwargs)


def test_cross_entropy_ignore_index_inside_the_range_takes_the_general_path(device):
    logits = RNG.standard_normal((3, 4)).astype(np.float32)
    labels = np.array([1, 2, 3])
    loss = F.cross_entropy(vecgrad.tensor(logits, device=device),
                           vecgrad.tensor(labels, device=device), ignore_index=2)
    want, _ = _ce_reference(logits[[0, 2]].astype(np.float64), labels[[0, 2]], "mean")
    np.testing.assert_allclose(loss.numpy(), want, rtol=1e-5)


# ------------------------------------------------------------- ReLU over an owned gradient
def _mlp(device, dtype, seed=0):
    rng = np.random.default_rng(seed)
    sizes = (6, 9, 7, 4)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append(vecgrad.tensor(rng.standard_normal((fan_out, fan_in)).astype(dtype),
                                     device=device, requires_grad=True))
        params.append(vecgrad.tensor(rng.standard_normal(fan_out).astype(dtype),
                                     device=device, requires_grad=True))
    x = rng.standard_normal((5, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[-1], size=5)
    return params, x, y


def _hand_grads(params, x, y):
    """The hand-written numpy step's backward (float64)."""
    w1, b1, w2, b2, w3, b3 = [p.numpy().astype(np.float64) for p in params]
    z1 = x @ w1.T + b1
    h1 = np.maximum(z1, 0)
    z2 = h1 @ w2.T + b2
    h2 = np.maximum(z2, 0)
    z3 = h2 @ w3.T + b3
    _, g3 = _ce_reference(z3, y, "mean")
    g2 = (g3 @ w3) * (z2 > 0)
    g1 = (g2 @ w2) * (z1 > 0)
    return [g1.T @ x, g1.sum(0), g2.T @ h1, g2.sum(0), g3.T @ h2, g3.sum(0)], g3 @ w3


@pytest.mark.parametrize("dtype", DTYPES)
def test_mlp_step_gradients_match_the_hand_step(device, dtype):
    if dtype == np.float64:
        need_float64(device)
    params, x, y = _mlp(device, dtype)
    h = vecgrad.tensor(x, device=device)
    for i in range(0, 4, 2):
        h = F.relu(F.linear(h, params[i], params[i + 1]))
    F.cross_entropy(F.linear(h, params[4], params[5]), vecgrad.tensor(y, device=device)).backward()
    want, _ = _hand_grads(params, x.astype(np.float64), y)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    for p, g in zip(params, want):
        np.testing.assert_allclose(p.grad.numpy(), g, **tol)


def test_relu_over_the_walks_buffer_leaves_retained_grads_alone(device):
    """h.retain_grad() copies h's gradient before ReLU's backward writes over the walk's
    buffer: h.grad must stay dL/dh, not the masked dL/dz."""
    need_float64(device)
    params, x, y = _mlp(device, np.float64, seed=1)
    z = F.linear(vecgrad.tensor(x, device=device), params[0], params[1])
    h = F.relu(z)
    z.retain_grad()
    h.retain_grad()
    h2 = F.relu(F.linear(h, params[2], params[3]))
    F.cross_entropy(F.linear(h2, params[4], params[5]), vecgrad.tensor(y, device=device)).backward()
    w2 = params[2].numpy()
    grads, _ = _hand_grads(params, x, y)
    z1 = x @ params[0].numpy().T + params[1].numpy()
    h1 = np.maximum(z1, 0)
    z2 = h1 @ w2.T + params[3].numpy()
    h2_ = np.maximum(z2, 0)
    _, g3 = _ce_reference(h2_ @ params[4].numpy().T + params[5].numpy(), y, "mean")
    dh = ((g3 @ params[4].numpy()) * (z2 > 0)) @ w2
    np.testing.assert_allclose(h.grad.numpy(), dh, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(z.grad.numpy(), dh * (z1 > 0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(params[0].grad.numpy(), grads[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_never_writes_over_the_callers_gradient(device, dtype):
    """The root's gradient belongs to the caller: relu(x).backward(g) leaves g as it was,
    and x.grad is a buffer of its own."""
    if dtype == np.float64:
        need_float64(device)
    x_host = np.array([[-1.0, 2.0, 0.0], [3.0, -4.0, 5.0]], dtype)
    g_host = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype)
    x = vecgrad.tensor(x_host, device=device, requires_grad=True)
    g = vecgrad.tensor(g_host, device=device)
    F.relu(x).backward(g)
    np.testing.assert_array_equal(g.numpy(), g_host)
    np.testing.assert_array_equal(x.grad.numpy(), g_host * (x_host > 0))
    F.relu(x).backward(g)  # accumulates into x.grad, still not into g
    np.testing.assert_array_equal(g.numpy(), g_host)
    np.testing.assert_array_equal(x.grad.numpy(), 2 * g_host * (x_host > 0))


def test_relu_over_an_owned_gradient_keeps_the_nan_rule(device):
    """relu'(nan) = nan: the in-place backward writes nan where the input was nan."""
    x_host = np.array([[np.nan, 1.0, -1.0], [2.0, 0.0, -3.0]], np.float32)
    w_host = np.eye(3, dtype=np.float32)
    x = vecgrad.tensor(x_host, device=device, requires_grad=True)
    w = vecgrad.tensor(w_host, device=device, requires_grad=True)
    backend = x._backend
    offered = []
    real = backend.activation_backward

    def recording(name, x, grad, alpha, out=None):
        offered.append(out is grad)
        return real(name, x, grad, alpha, out=out)

    backend.activation_backward = recording  # (an instance attribute: undone below)
    try:
        # the gradient reaching relu is matmul's result: the walk's own buffer
        F.relu(x).matmul(w).sum().backward()
    finally:
        del backend.activation_backward
    assert offered == [True]
    got = x.grad.numpy()
    assert np.isnan(got[0, 0])
    np.testing.assert_array_equal(got[0, 1:], [1.0, 0.0])
    np.testing.assert_array_equal(got[1], [1.0, 0.0, 0.0])


def test_relu_backward_out_is_grads_memory_on_numpy():
    """The numpy backend writes the result over `out` (= grad) when offered, and
    declines an `out` that is not grad or that overlaps x."""
    be = vecgrad.get_backend("cpu")
    x = np.array([[-1.0, 2.0], [3.0, np.nan]], np.float32)
    grad = np.array([[5.0, 6.0], [7.0, 8.0]], np.float32)
    want = np.array([[0.0, 6.0], [7.0, np.nan]], np.float32)
    result = be.activation_backward("relu", x, grad, None, out=grad)
    assert result is grad
    np.testing.assert_array_equal(result, want)
    grad = np.array([[5.0, 6.0], [7.0, 8.0]], np.float32)
    other = np.zeros_like(grad)
    result = be.activation_backward("relu", x, grad, None, out=other)
    assert result is not other and result is not grad
    np.testing.assert_array_equal(result, want)
    same = x.copy()
    result = be.activation_backward("relu", same, same, None, out=same)
    assert result is not same


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (1,), (3, 5), (2, 3, 4)])
def test_relu_forward_keeps_buffers_arrays_and_nan(device, dtype, shape):
    """The numpy backend's relu skips the catalogue's table: same values (nan kept),
    a 0-d input still gives an array buffer, strided views work."""
    if dtype == np.float64:
        need_float64(device)
    host = RNG.standard_normal(shape).astype(dtype)
    if host.size:
        host.reshape(-1)[0] = np.nan
    x = vecgrad.tensor(host, device=device)
    got = F.relu(x)
    assert got.shape == shape and got.dtype == dtype
    np.testing.assert_array_equal(got.numpy(), np.maximum(host, 0))
    buf = x._backend.activation("relu", x._buf, None)
    assert type(buf) is type(x._buf)
    if len(shape) >= 2:
        np.testing.assert_array_equal(F.relu(x.T).numpy(), np.maximum(host.T, 0))


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "leaky_relu", "elu"])
def test_other_activations_ignore_out_and_stay_right(device, name):
    gradcheck(lambda x, w: F.activation(x.matmul(w), name),
              [RNG.standard_normal((3, 4)), RNG.standard_normal((4, 2))], device)


def test_owned_flag_is_down_outside_backward(device):
    x = vecgrad.tensor(np.ones((2, 2), np.float32), device=device, requires_grad=True)
    out = F.relu(x.matmul(x))
    ctx = out._node.ctx
    assert ctx.grad_owned is False
    out.sum().backward(retain_graph=True)
    assert ctx.grad_owned is False


def test_second_derivative_through_relu_mlp(device):
    """create_graph walks never offer their buffers: Hessian-vector products of a ReLU
    MLP's loss match finite differences of its gradient."""
    need_float64(device)
    params, x, y = _mlp(device, np.float64, seed=3)
    vx = vecgrad.tensor(x, device=device)
    vy = vecgrad.tensor(y, device=device)

    def loss_of(w3):
        h = vx
        for i in range(0, 4, 2):
            h = F.relu(F.linear(h, params[i], params[i + 1]))
        return F.cross_entropy(F.linear(h, w3, params[5]), vy)

    w3 = params[4]
    (g,) = autograd.grad(loss_of(w3), w3, create_graph=True)
    v = RNG.standard_normal(w3.shape)
    (hv,) = autograd.grad((g * vecgrad.tensor(v, device=device)).sum(), w3)
    eps = 1e-6
    host = w3.numpy()

    def grad_at(values):
        leaf = vecgrad.tensor(values, device=device, requires_grad=True)
        (gg,) = autograd.grad(loss_of(leaf), leaf)
        return gg.numpy()

    numeric = (grad_at(host + eps * v) - grad_at(host - eps * v)) / (2 * eps)
    np.testing.assert_allclose(hv.numpy(), numeric, rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------------- the engine
def test_wrap_sets_every_field_adopt_sets(device):
    """A wrapped tensor starts exactly like an adopted one (fresh counter, no grad)."""
    from vecgrad.tensor import Tensor

    backend = vecgrad.get_backend(device)
    buf = backend.from_numpy(np.ones((2, 3), np.float32))
    for node in (None, object()):
        wrapped = Tensor._wrap(buf, backend, node)
        adopted = object.__new__(Tensor)
        adopted._adopt(buf, backend, node)
        for name in Tensor.__slots__:
            if name == "__weakref__":
                continue
            a, b = getattr(wrapped, name), getattr(adopted, name)
            assert a is b if name in ("_buf", "_backend", "_node") else a == b, name
        assert wrapped._version is not adopted._version  # each its own counter


@pytest.mark.parametrize("make", ["fresh", "view", "same"])
def test_apply_shares_the_version_counter_exactly_with_views(device, make):
    """Function.apply's inlined overlap test: a view of its input shares the input's
    version counter (an in-place edit through either invalidates the other's graphs),
    a fresh result does not."""
    x = vecgrad.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3), device=device,
                       requires_grad=True)
    if make == "fresh":
        out = x * 2.0
    elif make == "view":
        out = x.T
    else:
        out = x.reshape(2, 3)
    assert (out._version is x._version) == (make != "fresh")


def test_apply_shares_counters_with_a_view_input_of_numpy_arrays():
    """A result that is the owner of the memory its (view) input shows shares too."""
    from vecgrad.autograd import Function

    class Base(Function):
        @staticmethod
        def forward(ctx, x):
            return x.base

        @staticmethod
        def backward(ctx, grad):
            return grad

    owner = vecgrad.tensor(np.zeros((2, 2), np.float32))
    view = owner.T
    assert Base.apply(view)._version is view._version


def test_no_grad_nests_decorates_and_restores_on_errors():
    x = vecgrad.tensor(np.ones(3, np.float32), requires_grad=True)
    guard = vecgrad.no_grad()
    with guard:
        assert not vecgrad.is_grad_enabled()
        with vecgrad.enable_grad():
            assert vecgrad.is_grad_enabled() and (x * 2.0).requires_grad
            with guard:  # the same object entered again inside itself
                assert not (x * 2.0).requires_grad
            assert vecgrad.is_grad_enabled()
        assert not vecgrad.is_grad_enabled()
    assert vecgrad.is_grad_enabled()
    with pytest.raises(ZeroDivisionError):
        with vecgrad.no_grad():
            1 / 0
    assert vecgrad.is_grad_enabled()

    @vecgrad.no_grad()
    def doubled(t):
        return t * 2.0

    assert not doubled(x).requires_grad and vecgrad.is_grad_enabled()
    assert not doubled(doubled(x)).requires_grad


def test_no_grad_is_per_thread():
    import threading

    seen = {}

    @vecgrad.no_grad()
    def inner(name, started, release):
        started.set()
        release.wait(5)
        seen[name] = vecgrad.is_grad_enabled()

    started, release = threading.Event(), threading.Event()
    worker = threading.Thread(target=inner, args=("worker", started, release))
    worker.start()
    started.wait(5)
    seen["main"] = vecgrad.is_grad_enabled()  # the worker's no_grad is not ours
    release.set()
    worker.join(5)
    assert seen == {"main": True, "worker": False}


# ------------------------------------------------------------------------------- torch
def test_mlp_step_matches_torch(device):
    torch = pytest.importorskip("torch")
    need_float64(device)
    params, x, y = _mlp(device, np.float64, seed=7)
    tp = [torch.tensor(p.numpy(), requires_grad=True) for p in params]
    h, th = vecgrad.tensor(x, device=device), torch.tensor(x)
    for i in range(0, 4, 2):
        h = F.relu(F.linear(h, params[i], params[i + 1]))
        th = torch.relu(torch.nn.functional.linear(th, tp[i], tp[i + 1]))
    loss = F.cross_entropy(F.linear(h, params[4], params[5]), vecgrad.tensor(y, device=device))
    tloss = torch.nn.functional.cross_entropy(torch.nn.functional.linear(th, tp[4], tp[5]),
                                              torch.tensor(y))
    loss.backward()
    tloss.backward()
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-12)
    for p, t in zip(params, tp):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)
