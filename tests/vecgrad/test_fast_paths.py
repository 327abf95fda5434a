"""The fast paths of issue 12 compute what the plain ones do: max-pooling over whole
tiles (strided views, no im2col), the numpy backend's fused Adam, ReLU's cheaper nan
check, col2im's channels-last view and the host-memory setting. Both backends, float32
and float64, odd shapes and strided inputs; nothing is timed."""

import numpy as np
import pytest

import vecgrad
import vecgrad.nn.functional as F
from vecgrad import optim
from vecgrad.backends import host_memory, numpy_backend
from vecgrad.ops import conv

RNG = np.random.default_rng(12)


def _max_pool_reference(x, k, grad):
    """Loops: each window's first maximum (its first nan, if any) takes the gradient."""
    kh, kw = k
    n, c, h, w = x.shape
    oh, ow = h // kh, w // kw
    out = np.zeros((n, c, oh, ow), x.dtype)
    gx = np.zeros_like(x)
    for a in range(n):
        for b in range(c):
            for i in range(oh):
                for j in range(ow):
                    window = x[a, b, i * kh:(i + 1) * kh, j * kw:(j + 1) * kw].reshape(-1)
                    nan = np.flatnonzero(np.isnan(window))
                    first = nan[0] if len(nan) else int(np.argmax(window))
                    out[a, b, i, j] = window[first]
                    gx[a, b, i * kh + first // kw, j * kw + first % kw] += grad[a, b, i, j]
    return out, gx


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, kernel", [((2, 3, 8, 8), (2, 2)), ((2, 2, 7, 9), (2, 2)),
                                           ((1, 2, 9, 9), (3, 3)), ((2, 1, 6, 8), (2, 4)),
                                           ((1, 2, 5, 4), (1, 1)), ((3, 1, 4, 6), (4, 1))])
@pytest.mark.parametrize("with_nan", [True, False])  # the numpy backend's two ways
def test_tiled_max_pool_matches_the_first_maximum_rule(device, dtype, shape, kernel, with_nan):
    x = np.maximum(RNG.standard_normal(shape), 0).astype(dtype)  # ReLU zeros tie a lot
    flat = x.reshape(-1)
    every7 = np.arange(0, flat.size - 1, 7)
    flat[every7] = flat[every7 + 1]  # and some exact ties between nonzeros
    if with_nan:
        x[0, 0, 0, 0] = np.nan
    x[-1, -1, -1, 0] = np.inf
    oh, ow = shape[2] // kernel[0], shape[3] // kernel[1]
    grad = RNG.standard_normal((shape[0], shape[1], oh, ow)).astype(dtype)
    expected, expected_grad = _max_pool_reference(x, kernel, grad)
    tx = vecgrad.tensor(x, device=device, requires_grad=True)
    out = F.max_pool2d(tx, kernel)
    assert out._node.function is conv.TiledMaxPool
    out.backward(vecgrad.tensor(grad, device=device))
    np.testing.assert_array_equal(out.numpy(), expected)
    np.testing.assert_array_equal(tx.grad.numpy(), expected_grad)
    assert tx.grad.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_tiled_pool_backward_gives_the_generic_rules_bits(dtype):
    """The numpy backend's max_pool_tiles_backward (results written in place, no cat)
    against base.Backend's composition: same bits, inf gradients (nan beside the
    maximum) and channels-last inputs included; with a nan it hands over to it."""
    from vecgrad.backends.base import Backend

    be = numpy_backend.NumpyBackend("cpu")
    for shape, kernel in (((3, 4, 8, 10), (2, 2)), ((2, 3, 7, 9), (3, 2)), ((2, 2, 4, 4), (1, 1))):
        x = np.maximum(RNG.standard_normal(shape), 0).astype(dtype)
        x = np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
        out = be.max_pool_tiles(x, kernel)
        grad = RNG.standard_normal(out.shape).astype(dtype)
        grad[0, 0, 0, 0] = np.inf
        for case in ("plain", "nan"):
            if case == "nan":
                x = x.copy()
                x[-1, -1, 0, 0] = np.nan
                out = be.max_pool_tiles(x, kernel)
            have = be.max_pool_tiles_backward(x, out, grad, kernel)
            want = Backend.max_pool_tiles_backward(be, x, out, grad, kernel)
            assert have.dtype == dtype and have.shape == x.shape
            np.testing.assert_array_equal(have, want)


def test_tiled_max_pool_of_a_strided_input(device):
    base = RNG.standard_normal((6, 4, 2, 3))  # a permuted view: (2, 3, 6, 4) logically
    x = vecgrad.tensor(base, device=device, requires_grad=True)
    y = x.permute(2, 3, 0, 1)
    grad = RNG.standard_normal((2, 3, 3, 2))
    F.max_pool2d(y, 2).backward(vecgrad.tensor(grad, device=device))
    expected_out, expected_grad = _max_pool_reference(base.transpose(2, 3, 0, 1), (2, 2), grad)
    np.testing.assert_array_equal(F.max_pool2d(y, 2).numpy(), expected_out)
    np.testing.assert_array_equal(x.grad.numpy(), expected_grad.transpose(2, 3, 0, 1))


def test_overlapping_or_padded_pools_keep_the_general_path(device):
    x = vecgrad.tensor(RNG.standard_normal((1, 1, 6, 6)), device=device)
    for kwargs in ({"kernel_size": 3, "stride": 2}, {"kernel_size": 2, "padding": 1}):
        out = F.max_pool2d(x, **kwargs)
        assert out._node is None or out._node.function is not conv.TiledMaxPool


def test_tiled_max_pool_agrees_with_torch_on_relu_ties():
    torch = pytest.importorskip("torch")
    x = np.maximum(RNG.standard_normal((4, 3, 10, 12)), 0)
    grad = RNG.standard_normal((4, 3, 5, 6))
    tx = vecgrad.tensor(x, requires_grad=True)
    F.max_pool2d(tx, 2).backward(vecgrad.tensor(grad))
    ref = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(ref, 2).backward(torch.tensor(grad))
    np.testing.assert_array_equal(tx.grad.numpy(), ref.grad.numpy())


# ------------------------------------------------------------------ fused Adam (numpy)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", [{}, {"weight_decay": 0.01}, {"eps_inside_sqrt": False}])
def test_numpy_fused_adam_gives_the_tensor_codes_bits(dtype, options):
    shapes = [(5, 7), (3,), (2, 3, 4)]
    ours = [vecgrad.tensor(RNG.standard_normal(s).astype(dtype), requires_grad=True)
            for s in shapes]
    reference = [vecgrad.tensor(p.numpy(), requires_grad=True) for p in ours]
    fused = optim.Adam(ours, lr=0.01, **options)
    plain = optim.Adam(reference, lr=0.01, **options)
    plain._fused_step = lambda *args: False  # the Tensor code, the reference
    for _ in range(4):
        for p, q in zip(ours, reference):
            g = RNG.standard_normal(p.shape).astype(dtype)
            p.grad, q.grad = vecgrad.tensor(g), vecgrad.tensor(g)
        fused.step()
        plain.step()
    for p, q in zip(ours, reference):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    for name in ("s", "r"):
        for a, b in zip(fused.state, plain.state):
            np.testing.assert_array_equal(a[name].numpy(), b[name].numpy())


def test_numpy_fused_update_declines_what_it_does_not_do():
    backend = vecgrad.get_backend("cpu")
    p = np.ones(4, np.float32)
    g = np.ones(4, np.float32)
    hyper = {"lr": 0.1, "weight_decay": 0.0}
    assert backend.fused_update("sgd", p, g, [], hyper) is False
    assert backend.fused_update("adam", p, p, [np.zeros(4, np.float32)] * 2, hyper) is False
    assert backend.fused_update("adam", np.ones(4, np.int64), g, [g, g], hyper) is False


# ------------------------------------------------------------------ ReLU, col2im, memory
def test_relu_backward_nan_check_keeps_the_catalogue_rule():
    x = np.array([1.0, -2.0, np.inf, -np.inf, np.nan, 0.0], np.float32)
    grad = np.full(6, 3.0, np.float32)
    with np.errstate(all="ignore"):  # as the backend calls it
        out = numpy_backend._relu_backward(x, grad)
        no_nan = np.array([np.inf, -np.inf, 2.0], np.float32)  # inf - inf: exact path
        exact = numpy_backend._relu_backward(no_nan, grad[:3])
    np.testing.assert_array_equal(out, [3.0, 0.0, 3.0, 0.0, np.nan, 0.0])
    np.testing.assert_array_equal(exact, [3.0, 0.0, 3.0])
    empty = np.zeros((0, 3), np.float32)  # a maximum over nothing must not raise
    assert numpy_backend._relu_backward(empty, empty).shape == (0, 3)
    strided = np.array([[np.nan, 1.0], [2.0, -1.0]], np.float32).T  # not contiguous
    np.testing.assert_array_equal(numpy_backend._relu_backward(strided, np.ones((2, 2),
                                  np.float32)), [[np.nan, 1.0], [1.0, 0.0]])


def test_relu_backward_across_memory_orders():
    """A gradient laid out unlike x (NCHW against a convolution's (C, H, W, N) output,
    or a slice of a padded frame) gives what one laid out like x gives, nan rule
    included (the copy-into-x's-order path)."""
    x = RNG.standard_normal((4, 3, 2, 5)).astype(np.float32)
    x[0, 1, 1, 2], x[1, 0, 0, 0] = np.nan, 0.0
    grad = RNG.standard_normal(x.shape).astype(np.float32)
    want = np.where(x > 0, grad, np.float32(0))
    want[0, 1, 1, 2] = np.nan

    def batch_last(a):
        return np.ascontiguousarray(a.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)

    framed = np.zeros((3, 2, 9, 4), np.float32)
    framed[:, :, 2:7, :] = grad.transpose(1, 2, 3, 0)
    for xs in (x, batch_last(x)):
        for gs in (grad, batch_last(grad), framed[:, :, 2:7, :].transpose(3, 0, 1, 2)):
            with np.errstate(all="ignore"):
                got = numpy_backend._relu_backward(xs, gs)
            assert got.dtype == np.float32 and got.shape == x.shape
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("value", [-0.5, 0.5, 0.0, float("nan")])
def test_relu_backward_of_a_0d_tensor(value):
    # A 0-d product is a numpy scalar: relu(relu(x)) raised "return arrays must be of
    # ArrayType" and relu(nan) "copyto() argument 1 must be a numpy.ndarray".
    x = vecgrad.tensor(value, dtype=vecgrad.float64, requires_grad=True)
    x.relu().relu().backward()
    want = 1.0 if value > 0 else (value if value != value else 0.0)
    np.testing.assert_array_equal(x.grad.numpy(), np.float64(want))


def test_col2im_is_the_adjoint_of_im2col_as_a_channels_last_view():
    backend = vecgrad.get_backend("cpu")
    x = RNG.standard_normal((2, 3, 7, 6))
    args = ((3, 2), (2, 1), (1, 2), (1, 2))
    cols = backend.im2col(x, *args)
    v = RNG.standard_normal(cols.shape)
    back = backend.col2im(v, x.shape, *args)
    assert back.shape == x.shape
    # <im2col(x), v> == <x, col2im(v)>
    assert np.isclose(np.sum(cols * v), np.sum(x * back), rtol=1e-12)


def test_host_memory_setting_is_reported_and_can_be_declined(monkeypatch):
    vecgrad.get_backend("cpu")
    assert "malloc" in host_memory.describe()
    monkeypatch.setattr(host_memory, "_state", {"done": False, "text": ""})
    monkeypatch.setenv("VECGRAD_MALLOC", "system")
    host_memory.keep_freed_memory()
    assert "VECGRAD_MALLOC=system" in host_memory.describe()
    monkeypatch.setattr(host_memory, "_state", {"done": False, "text": ""})
    monkeypatch.setenv("VECGRAD_MALLOC", "sometimes")
    with pytest.raises(ValueError, match="VECGRAD_MALLOC='sometimes'"):
        host_memory.keep_freed_memory()
