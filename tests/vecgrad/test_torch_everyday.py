"""Everyday PyTorch names that small experiments reach for (session 11's port of a dozen
typical torch scripts): random integers and permutations, linspace, isclose/allclose/equal.
Each is checked against torch where torch is installed, else against numpy."""

import math

import numpy as np
import pytest

import vecgrad


def t(data, device, **kw):
    return vecgrad.tensor(data, device=device, **kw)


# ------------------------------------------------------------------ creation
def test_randint_spellings_range_dtype_and_seed(device):
    vecgrad.manual_seed(3)
    a = vecgrad.randint(2, 9, (50, 4), device=device)
    vecgrad.manual_seed(3)
    b = vecgrad.randint(2, 9, size=(50, 4), device=device)
    assert a.shape == (50, 4) and a.dtype == np.int64 and a.device == b.device
    assert vecgrad.equal(a, b)
    assert 2 <= a.numpy().min() and a.numpy().max() < 9
    assert set(np.unique(a.numpy())) == set(range(2, 9))
    c = vecgrad.randint(5, (1000,), device=device)      # randint(high, size)
    assert c.numpy().min() == 0 and c.numpy().max() == 4
    assert vecgrad.randint(0, 3, (2,), dtype=vecgrad.float32).dtype == np.float32
    assert vecgrad.randint(3, (0,)).shape == (0,)


@pytest.mark.parametrize("call, error", [
    (lambda: vecgrad.randint(5, 5, (2,)), ValueError),
    (lambda: vecgrad.randint(5), TypeError),
    (lambda: vecgrad.randint(0.5, (2,)), TypeError),
    (lambda: vecgrad.randint(0, 5, (-1,)), ValueError),
    (lambda: vecgrad.randint(0, 5, (2,), dtype=vecgrad.bool_), TypeError),
    (lambda: vecgrad.randperm(-1), ValueError),
    (lambda: vecgrad.randperm(2.0), TypeError),
    (lambda: vecgrad.linspace(0, 1, -1), ValueError),
    (lambda: vecgrad.linspace(0, 1, 2.5), TypeError),
    (lambda: vecgrad.linspace(0, "1", 2), TypeError),
])
def test_creation_errors_name_the_argument(call, error):
    with pytest.raises(error, match="randint|randperm|linspace"):
        call()


def test_randperm_is_a_seeded_permutation(device):
    vecgrad.manual_seed(1)
    p = vecgrad.randperm(20, device=device)
    vecgrad.manual_seed(1)
    q = vecgrad.randperm(20, device=device)
    assert p.dtype == np.int64 and sorted(p.tolist()) == list(range(20))
    assert p.tolist() == q.tolist()
    assert vecgrad.randperm(0).shape == (0,)


@pytest.mark.parametrize("start, end, steps", [(0, 1, 5), (-1, 1, 100), (3, -2, 7), (2, 2, 1),
                                               (0, 1, 0), (0.5, 10, 2)])
def test_linspace_matches_torch(device, start, end, steps):
    torch = pytest.importorskip("torch")
    ours = vecgrad.linspace(start, end, steps, device=device)
    theirs = torch.linspace(start, end, steps)
    assert ours.dtype == np.float32 and ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-7)
    assert vecgrad.linspace(0, 1, 3, dtype=vecgrad.float64).dtype == np.float64


# ------------------------------------------------------------------ comparisons
_A = [1.0, math.inf, math.nan, 1.0, -math.inf, 1e-9, 100.0, 0.0, -0.0, math.inf]
_B = [1.0 + 1e-7, math.inf, math.nan, math.inf, math.inf, 0.0, 100.001, -0.0, 1e-9, 1.0]


@pytest.mark.parametrize("rtol, atol, equal_nan", [(1e-5, 1e-8, False), (1e-5, 1e-8, True),
                                                   (0.0, 0.0, False), (1e-3, 0.0, True)])
def test_isclose_and_allclose_match_torch(device, rtol, atol, equal_nan):
    torch = pytest.importorskip("torch")
    for dtype in ("float32", "float64"):
        a, b = t(_A, device, dtype=dtype), t(_B, device, dtype=dtype)
        ta, tb = torch.tensor(_A, dtype=getattr(torch, dtype)), \
            torch.tensor(_B, dtype=getattr(torch, dtype))
        ours = vecgrad.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
        theirs = torch.isclose(ta, tb, rtol=rtol, atol=atol, equal_nan=equal_nan)
        assert ours.dtype == np.bool_ and ours.tolist() == theirs.tolist()
        assert a.isclose(b, rtol, atol, equal_nan).tolist() == theirs.tolist()
        for n in (1, 2, 3, len(_A)):
            assert vecgrad.allclose(a[:n], b[:n], rtol, atol, equal_nan) is \
                torch.allclose(ta[:n], tb[:n], rtol, atol, equal_nan)


def test_isclose_broadcasts_and_handles_ints_and_bools(device):
    torch = pytest.importorskip("torch")
    assert vecgrad.isclose(t([[10], [20]], device), t([11, 20, 22], device), rtol=0.1).tolist() \
        == torch.isclose(torch.tensor([[10], [20]]), torch.tensor([11, 20, 22]), rtol=0.1).tolist()
    m = t([True, False], device)
    assert vecgrad.isclose(m, t([True, True], device)).tolist() == [True, False]
    assert t([1.0, 2.0], device).allclose(t([1.0, 2.0 + 1e-6], device))


def test_isclose_records_no_graph(device):
    x = t([1.0, 2.0], device, requires_grad=True)
    close = vecgrad.isclose(x * 2, x)
    assert not close.requires_grad and close.tolist() == [False, False]


def test_equal_is_shape_and_values(device):
    a = t([[1.0, 2.0]], device)
    assert vecgrad.equal(a, t([[1.0, 2.0]], device)) is True
    assert a.equal(t([1.0, 2.0], device)) is False          # shape differs: no broadcasting
    assert vecgrad.equal(a, t([[1.0, 2.5]], device)) is False
    assert vecgrad.equal(t([math.nan], device), t([math.nan], device)) is False
    assert vecgrad.equal(t([], device), t([], device)) is True


@pytest.mark.parametrize("call", [
    lambda: vecgrad.isclose(vecgrad.tensor([1.0]), 1.0),
    lambda: vecgrad.equal([1.0], vecgrad.tensor([1.0])),
])
def test_comparisons_want_tensors(call):
    with pytest.raises(TypeError, match="expected two Tensors"):
        call()


def test_isclose_refuses_negative_tolerance():
    with pytest.raises(ValueError, match="isclose: rtol must be a number >= 0"):
        vecgrad.isclose(vecgrad.tensor([1.0]), vecgrad.tensor([1.0]), rtol=-1)


# ------------------------------------------------ dtype names, *_like, grad mode, methods
def test_pytorch_dtype_names():
    assert vecgrad.long == vecgrad.int64 and vecgrad.double == vecgrad.float64
    assert vecgrad.float == vecgrad.float32 and vecgrad.bool == vecgrad.bool_
    assert vecgrad.zeros(2, dtype=vecgrad.long).dtype == np.int64
    assert vecgrad.tensor([1, 0], dtype=vecgrad.bool).tolist() == [True, False]
    namespace = {}
    exec("from vecgrad import *", namespace)             # a star import keeps the builtins
    assert "float" not in namespace and "bool" not in namespace


def test_like_constructors_follow_the_tensor(device):
    x = vecgrad.zeros(2, 3, dtype=vecgrad.float64, device=device)
    for make in (vecgrad.rand_like, vecgrad.randn_like,
                 lambda t, **kw: vecgrad.full_like(t, 7, **kw)):
        y = make(x)
        assert (y.shape, y.dtype, y.device) == ((2, 3), np.float64, x.device)
        assert make(x, dtype=vecgrad.float32).dtype == np.float32
        assert make(x, requires_grad=True).requires_grad
    assert vecgrad.full_like(x, 7).tolist() == [[7.0] * 3] * 2
    vecgrad.manual_seed(0)
    a = vecgrad.randn_like(x)
    vecgrad.manual_seed(0)
    assert vecgrad.equal(a, vecgrad.randn_like(x))
    with pytest.raises(TypeError, match="randn_like: expected a Tensor, got ndarray"):
        vecgrad.randn_like(np.zeros(2))


def test_set_grad_enabled_as_call_with_block_and_decorator():
    x = vecgrad.tensor([1.0], requires_grad=True)
    assert vecgrad.is_grad_enabled()
    with vecgrad.set_grad_enabled(False):
        assert not (x * 2).requires_grad
        with vecgrad.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not vecgrad.is_grad_enabled()
    assert vecgrad.is_grad_enabled()
    vecgrad.set_grad_enabled(False)                     # a plain call switches at once
    try:
        assert not vecgrad.is_grad_enabled()
    finally:
        vecgrad.set_grad_enabled(True)

    @vecgrad.set_grad_enabled(False)
    def double(t):
        return t * 2

    assert vecgrad.is_grad_enabled()                     # decorating changes nothing
    assert not double(x).requires_grad and vecgrad.is_grad_enabled()
    with pytest.raises(TypeError, match="set_grad_enabled: mode must be a bool"):
        vecgrad.set_grad_enabled("no")


def test_comparison_methods_bool_and_add_alpha_match_torch(device):
    torch = pytest.importorskip("torch")
    a0, b0 = [1.0, -2.0, 3.0, 0.0], [1.0, 2.0, -3.0, 0.5]
    a, b = t(a0, device), t(b0, device)
    ta, tb = torch.tensor(a0), torch.tensor(b0)
    for name in ("eq", "ne", "lt", "le", "gt", "ge"):
        assert getattr(a, name)(b).tolist() == getattr(ta, name)(tb).tolist()
        assert getattr(a, name)(0.0).tolist() == getattr(ta, name)(0.0).tolist()
    assert a.bool().tolist() == ta.bool().tolist()
    assert a.eq(b).sum().item() == 1
    x = t(a0, device, requires_grad=True)
    y = x.add(b, alpha=2).sub(b, alpha=0.5)
    np.testing.assert_allclose(y.numpy(), ta.add(tb, alpha=2).sub(tb, alpha=0.5).numpy())
    y.sum().backward()
    assert x.grad.tolist() == [1.0] * 4
    assert vecgrad.is_tensor(x) and not vecgrad.is_tensor(a0)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div"])
def test_regression_losses_refuse_the_shapes_pytorch_broadcasts(name):
    import vecgrad.nn.functional as F

    with pytest.raises(ValueError, match=rf"{name}: prediction \(4, 1\) and target \(4,\) "
                                         r"must have the same shape"):
        getattr(F, name)(vecgrad.randn(4, 1), vecgrad.randn(4))


def test_empty_then_init_builds_a_parameter_as_in_a_custom_pytorch_layer(device):
    import math

    from vecgrad import nn

    w = nn.Parameter(vecgrad.empty(3, 4, device=device))
    assert w.shape == (3, 4) and w.dtype == np.float32 and w.tolist() == [[0.0] * 4] * 3
    nn.init.kaiming_uniform_(w, a=math.sqrt(5))
    assert 0 < np.abs(w.numpy()).max() <= 0.5 and w.requires_grad
    assert vecgrad.empty((2,), dtype=vecgrad.long).dtype == np.int64


def test_inference_mode_is_no_grad():
    x = vecgrad.tensor([1.0], requires_grad=True)
    with vecgrad.inference_mode():
        assert not (x * 2).requires_grad
    with vecgrad.inference_mode(False):
        assert (x * 2).requires_grad

    @vecgrad.inference_mode()
    def f(t):
        return t * 2

    @vecgrad.inference_mode
    def g(t):
        return t * 2

    assert not f(x).requires_grad and not g(x).requires_grad and (x * 2).requires_grad
    with pytest.raises(TypeError, match="inference_mode: mode must be a bool"):
        vecgrad.inference_mode("yes")


def test_new_constructors_follow_the_tensor_as_pytorchs(device):
    torch = pytest.importorskip("torch")
    x = t([1.0, 2.0], device, dtype=vecgrad.float64)
    tx = torch.tensor([1.0, 2.0], dtype=torch.float64)
    for name, args in [("new_zeros", (2, 3)), ("new_ones", ((4,),)), ("new_empty", (1, 2)),
                       ("new_full", ((2,), 7.0)), ("new_tensor", ([[1, 2]],))]:
        ours, theirs = getattr(x, name)(*args), getattr(tx, name)(*args)
        assert ours.shape == tuple(theirs.shape) and ours.dtype == np.float64
        assert ours.device == x.device
        if name != "new_empty":
            assert ours.tolist() == theirs.tolist()
    h = x.new_zeros(2, dtype=vecgrad.long, requires_grad=False)
    assert h.dtype == np.int64 and not h.requires_grad
    assert x.new_ones(2, requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="new_zeros: shape must be non-negative ints"):
        x.new_zeros(-1)
