"""Layers: forward against numpy / closed forms, gradients against central differences."""

import math

import numpy as np
import pytest

import vecgrad
from vecgrad import nn
from vecgrad.nn import functional as F

from .helpers import device_name, numerical_grad

RNG = np.random.default_rng(42)


def _t(values, device, requires_grad=False):
    return vecgrad.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad,
                          device=device)


def _check_gradients(module, x_np, device, rtol=1e-6, atol=1e-8):
    """Backward of sum(out * R) vs central differences, for the input and every parameter."""
    x = _t(x_np, device, requires_grad=True)
    out = module(x)
    weights = RNG.standard_normal(out.shape)
    (out * _t(weights, device)).sum().backward()

    def loss_at_input(values):
        return float((module(_t(values, device)).numpy() * weights).sum())

    np.testing.assert_allclose(x.grad.numpy(), numerical_grad(loss_at_input, x_np),
                               rtol=rtol, atol=atol)
    for name, p in module.named_parameters():
        original = p.numpy().copy()

        def loss_at_param(values, p=p):
            with vecgrad.no_grad():
                p.copy_(_t(values, device))
                result = float((module(_t(x_np, device)).numpy() * weights).sum())
                p.copy_(_t(original, device))
            return result

        np.testing.assert_allclose(p.grad.numpy(), numerical_grad(loss_at_param, original),
                                   rtol=rtol, atol=atol, err_msg=name)


def test_linear_forward_is_x_wt_plus_b(device):
    layer = nn.Linear(4, 3, dtype=vecgrad.float64, device=device)
    x = RNG.standard_normal((5, 4))
    expected = x @ layer.weight.numpy().T + layer.bias.numpy()
    np.testing.assert_allclose(layer(_t(x, device)).numpy(), expected, rtol=1e-13)
    assert layer.weight.shape == (3, 4) and layer.bias.shape == (3,)
    assert layer.weight.device == device_name(device)


def test_linear_gradients(device):
    _check_gradients(nn.Linear(4, 3, dtype=vecgrad.float64, device=device),
                     RNG.standard_normal((2, 4)), device)
    _check_gradients(nn.Linear(3, 2, bias=False, dtype=vecgrad.float64, device=device),
                     RNG.standard_normal((2, 5, 3)), device)


def test_linear_default_init_is_uniform_in_fan_in_bound():
    vecgrad.manual_seed(0)
    layer = nn.Linear(400, 300)
    weights = layer.weight.numpy()
    bound = 1 / math.sqrt(400)
    assert weights.dtype == np.float32
    assert np.abs(weights).max() <= bound and np.abs(weights).max() > 0.99 * bound
    np.testing.assert_allclose(weights.var(), bound**2 / 3, rtol=0.02)


def test_linear_rejects_wrong_input_width(device):
    layer = nn.Linear(4, 3, device=device)
    with pytest.raises(ValueError, match=r"Linear: expected input \(\.\.\., 4\), got \(2, 5\)"):
        layer(vecgrad.zeros((2, 5), device=device))
    with pytest.raises(ValueError, match="in_features must be a positive int"):
        nn.Linear(0, 3)


def _conv_reference(x, w, b, stride, padding, dilation):
    """Direct definition of cross-correlation, one output pixel at a time."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    oh = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            rows = i * stride[0] + dilation[0] * np.arange(kh)
            cols = j * stride[1] + dilation[1] * np.arange(kw)
            patch = xp[:, :, rows][:, :, :, cols]
            out[:, :, i, j] = np.einsum("nckl,ockl->no", patch, w)
    return out + (0 if b is None else b[None, :, None, None])


@pytest.mark.parametrize("stride, padding, dilation, bias", [
    (1, 0, 1, True), (2, 1, 1, True), (1, 2, 2, False), ((2, 1), (0, 1), (1, 2), True),
])
def test_conv2d_forward_and_gradients(device, stride, padding, dilation, bias):
    layer = nn.Conv2d(2, 3, (3, 2) if stride == (2, 1) else 3, stride=stride, padding=padding,
                      dilation=dilation, bias=bias, dtype=vecgrad.float64, device=device)
    x = RNG.standard_normal((2, 2, 7, 6))
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    b = layer.bias.numpy() if bias else None
    expected = _conv_reference(x, layer.weight.numpy(), b, pair(stride), pair(padding),
                               pair(dilation))
    np.testing.assert_allclose(layer(_t(x, device)).numpy(), expected, rtol=1e-12, atol=1e-12)
    _check_gradients(layer, x, device)


@pytest.mark.parametrize("make", [
    lambda i: nn.Linear(i(3), i(2)),
    lambda i: nn.Conv2d(i(2), i(4), i(3), stride=(i(1), i(2)), padding=i(1), groups=i(2)),
    lambda i: nn.Conv1d(i(2), i(2), (i(3),), dilation=i(2)),
    lambda i: nn.ConvTranspose2d(i(2), i(2), i(2), stride=i(2)),
    lambda i: nn.MaxPool2d(i(2)),
    lambda i: nn.AvgPool1d(i(2), padding=i(1)),
    lambda i: nn.BatchNorm1d(i(3)),
    lambda i: nn.LayerNorm((i(2), i(3))),
    lambda i: nn.Embedding(i(4), i(3), padding_idx=i(0)),
    lambda i: nn.LSTM(i(3), i(4), num_layers=i(2)),
    lambda i: nn.GRUCell(i(3), i(2)),
])
def test_sizes_may_be_numpy_integers(make):
    # nn.Linear(np.prod(image_shape), 10): PyTorch takes numpy's integers; they were
    # refused as "must be a positive int, got np.int64(3)". Stored as Python ints.
    layer, reference = make(np.int64), make(int)
    assert repr(layer) == repr(reference)
    for (name, p), (_, q) in zip(layer.named_parameters(), reference.named_parameters()):
        assert p.shape == q.shape and all(type(n) is int for n in p.shape), name
    for name, value in vars(layer).items():
        assert not isinstance(value, np.integer), name
    with pytest.raises(ValueError, match="positive int"):
        nn.Linear(np.True_, 2)
    with pytest.raises(ValueError, match="positive int"):
        nn.Linear(np.float64(3), 2)


def test_conv2d_checks_channels_and_arguments(device):
    layer = nn.Conv2d(3, 4, 3, device=device)
    with pytest.raises(ValueError, match=r"Conv2d: expected input \(N, 3, H, W\), got \(1, 2, 5, 5\)"):
        layer(vecgrad.zeros((1, 2, 5, 5), device=device))
    with pytest.raises(ValueError, match="kernel_size must be an int >= 1 or a pair"):
        nn.Conv2d(3, 4, 0)
    with pytest.raises(ValueError, match="padding must be an int >= 0"):
        nn.Conv2d(3, 4, 3, padding=-1)


def _pool_reference(x, k, s, reduce):
    n, c, h, w = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = reduce(x[:, :, i * s:i * s + k, j * s:j * s + k], axis=(2, 3))
    return out


@pytest.mark.parametrize("cls, reduce", [(nn.MaxPool2d, np.max), (nn.AvgPool2d, np.mean)])
@pytest.mark.parametrize("kernel, stride", [(2, None), (3, 2), (2, 1)])
def test_pooling_forward_and_gradients(device, cls, reduce, kernel, stride):
    layer = cls(kernel, stride=stride)
    x = RNG.standard_normal((2, 3, 6, 7))  # continuous values: no ties for max
    expected = _pool_reference(x, kernel, stride or kernel, reduce)
    # atol: a mean of values near 1 that nearly cancel carries their rounding (~1e-16)
    # and no relative bound (the module RNG's draws depend on which tests ran before)
    np.testing.assert_allclose(layer(_t(x, device)).numpy(), expected, rtol=1e-13,
                               atol=1e-14)
    _check_gradients(layer, x, device)


def test_flatten(device):
    x = RNG.standard_normal((2, 3, 4, 5))
    np.testing.assert_array_equal(nn.Flatten()(_t(x, device)).numpy(), x.reshape(2, 60))
    np.testing.assert_array_equal(nn.Flatten(0, 1)(_t(x, device)).numpy(), x.reshape(6, 4, 5))
    np.testing.assert_array_equal(nn.Flatten(-2)(_t(x, device)).numpy(), x.reshape(2, 3, 20))
    _check_gradients(nn.Flatten(), RNG.standard_normal((2, 2, 3)), device)
    with pytest.raises(ValueError, match=r"Flatten: dims 3\.\.-1 do not fit input shape \(2, 3\)"):
        nn.Flatten(3)(_t(np.zeros((2, 3)), device))


def test_dropout_train_and_eval(device):
    x = _t(np.ones((200, 100)), device)
    layer = nn.Dropout(0.25)
    vecgrad.manual_seed(3)
    out = layer(x).numpy()
    kept = out != 0
    assert abs(kept.mean() - 0.75) < 0.01  # 20,000 draws: 5 standard deviations ≈ 0.015
    np.testing.assert_allclose(out[kept], 1 / 0.75)  # inverted dropout keeps E[out] = x
    vecgrad.manual_seed(3)
    np.testing.assert_array_equal(layer(x).numpy(), out)  # seeded
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())
    with pytest.raises(ValueError, match=r"Dropout: p must be in \[0, 1\], got 1.5"):
        nn.Dropout(1.5)


def test_dropout_of_one_zeroes_everything_as_the_function_and_pytorch_do(device):
    # nn.Dropout(1.0) and an RNN's dropout=1.0 were refused while F.dropout(x, 1.0) gave
    # zeros; PyTorch allows p = 1 in all three
    x = vecgrad.tensor([[1.0, -2.0, 3.0]], device=device, requires_grad=True)
    layer = nn.Dropout(1.0)
    out = layer(x)
    np.testing.assert_array_equal(out.numpy(), F.dropout(x, 1.0).numpy())
    np.testing.assert_array_equal(out.numpy(), np.zeros((1, 3)))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((1, 3)))
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())
    assert nn.LSTM(3, 2, num_layers=2, dropout=1.0).dropout == 1.0


def test_every_catalogue_activation_has_a_layer():
    from scalargrad.functions import ACTIVATIONS

    assert set(nn.ACTIVATION_LAYERS) == set(ACTIVATIONS)
    for name, cls in nn.ACTIVATION_LAYERS.items():
        assert getattr(nn, cls.__name__) is cls and cls().name == name


@pytest.mark.parametrize("name", sorted(nn.ACTIVATION_LAYERS))
def test_activation_layers_match_scalargrad(device, name):
    from scalargrad.functions import ACTIVATIONS

    entry = ACTIVATIONS[name]
    layer = nn.ACTIVATION_LAYERS[name]()
    # avoid the kinks (0 for relu/step/leaky_relu/elu) where one-sided values differ
    x_np = np.array([-2.5, -1.0, -0.3, 0.2, 0.7, 1.9, 3.0])
    x = _t(x_np, device, requires_grad=True)
    out = layer(x)
    out.sum().backward()
    alpha = entry.default_alpha
    np.testing.assert_allclose(out.numpy(), [entry.f(v, alpha) for v in x_np], rtol=1e-12,
                               atol=1e-14)
    np.testing.assert_allclose(x.grad.numpy(), [entry.df(v, alpha) for v in x_np],
                               rtol=1e-12, atol=1e-14)


def test_activation_by_name_and_alpha(device):
    x = _t([-2.0, 3.0], device)
    np.testing.assert_allclose(nn.Activation("leaky_relu", alpha=0.1)(x).numpy(), [-0.2, 3.0])
    np.testing.assert_allclose(nn.LeakyReLU(alpha=0.2)(x).numpy(), [-0.4, 3.0])
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        nn.Activation("swish")
    with pytest.raises(ValueError, match="relu takes no alpha parameter"):
        nn.Activation("relu", alpha=0.3)
    for bad in ("0.1", float("nan"), True):
        with pytest.raises(ValueError, match="leaky_relu's alpha must be a finite number"):
            nn.LeakyReLU(alpha=bad)


def test_softmax_and_log_softmax_layers(device):
    x = RNG.standard_normal((3, 4)) * 10
    e = np.exp(x - x.max(axis=1, keepdims=True))
    expected = e / e.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(nn.Softmax(axis=1)(_t(x, device)).numpy(), expected, rtol=1e-12)
    shifted = x - x.max(axis=1, keepdims=True)
    log_expected = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(nn.LogSoftmax()(_t(x, device)).numpy(), log_expected,
                               rtol=1e-12, atol=1e-14)
    e0 = np.exp(x - x.max(axis=0))
    np.testing.assert_allclose(nn.Softmax(axis=0)(_t(x, device)).numpy(), e0 / e0.sum(axis=0),
                               rtol=1e-12)
    _check_gradients(nn.LogSoftmax(), RNG.standard_normal((2, 3)), device)


def test_pytorch_argument_names_of_softmax_and_leaky_relu(device):
    # nn.Softmax(dim=1) and nn.LeakyReLU(negative_slope=...) are how PyTorch code reads.
    x = _t(RNG.standard_normal((3, 4)), device)
    np.testing.assert_allclose(nn.Softmax(dim=0)(x).numpy(), nn.Softmax(axis=0)(x).numpy())
    np.testing.assert_allclose(nn.LogSoftmax(dim=0)(x).numpy(),
                               nn.LogSoftmax(0)(x).numpy())
    assert nn.Softmax(dim=0).axis == 0 and "axis=0" in repr(nn.LogSoftmax(dim=0))
    with pytest.raises(TypeError, match="Softmax: give axis or dim, not both"):
        nn.Softmax(axis=1, dim=0)
    assert nn.LeakyReLU(negative_slope=0.2).alpha == 0.2
    np.testing.assert_allclose(nn.LeakyReLU(negative_slope=0.2)(_t([-1.0], device)).numpy(),
                               [-0.2])
    with pytest.raises(TypeError, match="LeakyReLU: give alpha or negative_slope, not both"):
        nn.LeakyReLU(0.1, negative_slope=0.2)
    np.testing.assert_allclose(F.leaky_relu(_t([-1.0], device), negative_slope=0.3).numpy(),
                               [-0.3])
    x = _t([-2.0, 0.5, 4.0], device)
    np.testing.assert_allclose(nn.Softplus(beta=2, threshold=5)(x).numpy(),
                               [np.log1p(np.exp(-4.0)) / 2, np.log1p(np.exp(1.0)) / 2, 4.0],
                               rtol=1e-12)
    np.testing.assert_allclose(nn.Softplus()(x).numpy(), np.log1p(np.exp(x.numpy())),
                               rtol=1e-12)
    assert repr(nn.Softplus(beta=2)) == "Softplus(beta=2.0, threshold=20.0)"
    assert repr(nn.Softplus()) == "Softplus()"
    with pytest.raises(TypeError, match="leaky_relu: give alpha or negative_slope, not both"):
        F.leaky_relu(_t([-1.0], device), 0.1, negative_slope=0.2)


def test_lecture_004_backprop_example_through_layers(device):
    """The worked example: x = (1, 2), W, ReLU, (w7, w8, w9), squared error to gold 3."""
    hidden = nn.Linear(2, 3, bias=False, dtype=vecgrad.float64, device=device)
    output = nn.Linear(3, 1, bias=False, dtype=vecgrad.float64, device=device)
    model = nn.Sequential(hidden, nn.ReLU(), output)
    model.load_state_dict({
        "0.weight": np.array([[2.0, 1.0], [-1.0, -1.0], [1.0, 2.0]]),
        "2.weight": np.array([[-1.0, 3.0, 2.0]]),
    })
    x = _t([[1.0, 2.0]], device, requires_grad=True)
    o = model(x)
    loss = ((o - 3.0) ** 2).sum()
    loss.backward()
    assert o.item() == 6.0 and loss.item() == 9.0
    np.testing.assert_array_equal(output.weight.grad.numpy(), [[24.0, 0.0, 30.0]])
    np.testing.assert_array_equal(hidden.weight.grad.numpy().reshape(-1), [-6, -12, 0, 0, 12, 24])
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 18.0]])


def test_small_mlp_trains_on_xor(device):
    """End to end: layers + loss + Adam fit XOR (a sanity check that it all connects)."""
    from vecgrad import optim

    vecgrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8, device=device), nn.Tanh(), nn.Linear(8, 2, device=device))
    x = vecgrad.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=vecgrad.float32, device=device)
    y = vecgrad.tensor([0, 1, 1, 0], dtype=vecgrad.int64, device=device)
    opt = optim.Adam(model.parameters(), lr=0.05)
    for _ in range(150):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    np.testing.assert_array_equal(model(x).numpy().argmax(axis=1), [0, 1, 1, 0])


@pytest.mark.parametrize("layer, shape", [
    (nn.Linear(2, 3), (4, 2)), (nn.Conv1d(1, 2, 3), (1, 1, 5)), (nn.Conv2d(1, 2, 3), (1, 1, 5, 5)),
    (nn.ConvTranspose2d(1, 2, 3), (1, 1, 5, 5)), (nn.BatchNorm1d(2), (3, 2)),
    (nn.BatchNorm2d(1), (2, 1, 2, 2)), (nn.Flatten(), (3, 2)), (nn.Dropout(0.5), (3, 2)),
])
def test_a_non_tensor_input_is_named_as_such(layer, shape):
    # An ndarray of the right shape used to be reported as a wrong shape ("expected
    # input (..., 2), got (4, 2)"), or returned as it was (Flatten, Dropout in eval).
    name = type(layer).__name__
    for value, kind in ((np.zeros(shape, np.float32), "numpy.ndarray"),
                        (np.zeros(shape).tolist(), "list")):
        with pytest.raises(TypeError, match=rf"{name}: input must be a vecgrad Tensor, "
                                            rf"got {kind} \(make one with vecgrad.tensor"):
            layer.eval()(value)
    with pytest.raises(TypeError, match="softmax: input must be a Tensor, got ndarray"):
        nn.Softmax(dim=1)(np.zeros(shape, np.float32))


@pytest.mark.parametrize("float_mask", [False, True])
def test_attention_query_with_every_key_masked_gives_zeros_not_nan(device, float_mask):
    # A padding query (every key masked) made a nan row, which poisons any loss summed
    # over the output; PyTorch gives 0 there (output and gradients).
    q, k, v = (_t(RNG.standard_normal((1, 3, 2)), device, requires_grad=True) for _ in range(3))
    allowed = np.array([[False] * 3, [True, True, False], [True] * 3])
    mask = np.where(allowed, 0.0, -np.inf) if float_mask else allowed
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=vecgrad.tensor(mask, device=device))
    out.sum().backward()
    np.testing.assert_array_equal(out.numpy()[0, 0], [0.0, 0.0])
    np.testing.assert_array_equal(q.grad.numpy()[0, 0], [0.0, 0.0])
    assert np.isfinite(k.grad.numpy()).all() and np.isfinite(v.grad.numpy()).all()
    # the other rows: softmax over their allowed keys only
    scores = q.numpy()[0] @ k.numpy()[0].T / np.sqrt(2)
    for row in (1, 2):
        w = np.exp(scores[row][allowed[row]] - scores[row][allowed[row]].max())
        np.testing.assert_allclose(out.numpy()[0, row], (w / w.sum()) @ v.numpy()[0][allowed[row]],
                                   rtol=1e-12)


def test_probabilities_may_be_numpy_floats():
    # nn.Dropout(np.float32(0.25)) was refused as "p must be in [0, 1)", as were an RNN's
    # dropout and calculate_gain's slope; stored as Python floats
    from vecgrad.nn import init
    layer = nn.Dropout(np.float32(0.25))
    assert layer.p == 0.25 and type(layer.p) is float
    assert nn.GRU(2, 3, num_layers=2, dropout=np.float64(0.5)).dropout == 0.5
    assert type(init.calculate_gain("leaky_relu", np.float32(0.5))) is float
    for bad in (np.True_, 1.5, "0.1"):
        with pytest.raises(ValueError, match="p must be in"):
            nn.Dropout(bad)


def test_every_layer_takes_dtype_and_device_by_keyword_only():
    """README, layers: dtype= and device= are keyword-only (PyTorch lists them positionally,
    in the order device, dtype). Linear took them positionally as (dtype, device), so
    PyTorch's nn.Linear(2, 3, True, "cpu") said "full: 'cpu' is not a dtype"."""
    import inspect

    seen = []
    for name in dir(nn):
        layer = getattr(nn, name)
        if not (inspect.isclass(layer) and issubclass(layer, nn.Module)):
            continue
        params = inspect.signature(layer.__init__).parameters
        for arg in ("dtype", "device"):
            if arg in params:
                seen.append(name)
                assert params[arg].kind is inspect.Parameter.KEYWORD_ONLY, (name, arg)
    assert "Linear" in seen and "Conv2d" in seen and "LSTM" in seen
    with pytest.raises(TypeError, match="positional argument"):
        nn.Linear(2, 3, True, "cpu")
    layer = nn.Linear(2, 3, True, dtype=vecgrad.float64, device="cpu")
    assert layer.weight.dtype == vecgrad.float64 and layer.bias.device == "cpu"


@pytest.mark.parametrize("make, shape", [
    (lambda: nn.Linear(3, 2), (4, 3)), (lambda: nn.Conv1d(2, 3, 2), (1, 2, 5)),
    (lambda: nn.Conv2d(2, 3, 2), (1, 2, 4, 4)), (lambda: nn.ConvTranspose1d(2, 3, 2), (1, 2, 5)),
    (lambda: nn.ConvTranspose2d(2, 3, 2), (1, 2, 4, 4)), (lambda: nn.BatchNorm1d(3), (4, 3)),
    (lambda: nn.BatchNorm2d(2, affine=False), (2, 2, 3, 3)), (lambda: nn.LayerNorm(3), (4, 3)),
    (lambda: nn.GRU(3, 2), (5, 1, 3)),
], ids=["Linear", "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "BatchNorm1d",
        "BatchNorm2d", "LayerNorm", "GRU"])
def test_layers_refuse_input_of_another_dtype_than_their_parameters(device, make, shape):
    # a float32 layer given float64 input (vecgrad.tensor of a numpy array) returned
    # float64 without a word, computed in float64 with float32 gradients; PyTorch and
    # our RNNs refuse it
    if not vecgrad.get_backend(device).supports_float64:
        pytest.skip(f"{device} has no float64")
    layer = make().to(device)
    name = type(layer).__name__
    x = vecgrad.tensor(RNG.standard_normal(shape), device=device)
    with pytest.raises(TypeError, match=rf"{name}: input is float64 but the parameters are "
                                        r"float32; convert one \(x.to\('float32'\) or "
                                        r"module.to\('float64'\)\)"):
        layer(x)
    out = layer(x.float())
    assert (out[0] if isinstance(out, tuple) else out).dtype == vecgrad.float32
    layer.double()
    with pytest.raises(TypeError, match=f"{name}: input is float32 but the parameters are "
                                        "float64"):
        layer(x.float())
    out = layer(x)
    assert (out[0] if isinstance(out, tuple) else out).dtype == vecgrad.float64


# ------------------------------------------------ PyTorch's inplace= (computed out of place)
@pytest.mark.parametrize("make", [
    lambda nn: nn.ReLU(inplace=True), lambda nn: nn.ReLU(True), lambda nn: nn.ELU(0.5, True),
    lambda nn: nn.LeakyReLU(0.2, True), lambda nn: nn.LeakyReLU(negative_slope=0.2, inplace=True),
    lambda nn: nn.SiLU(inplace=True), lambda nn: nn.ReLU6(inplace=True),
    lambda nn: nn.Hardtanh(-2.0, 0.5, inplace=True), lambda nn: nn.Hardswish(inplace=True),
    lambda nn: nn.Hardsigmoid(inplace=True), lambda nn: nn.SELU(inplace=True),
    lambda nn: nn.Mish(inplace=True), lambda nn: nn.Dropout(0.0, inplace=True),
])
def test_inplace_layers_port_and_give_pytorchs_values(make, device):
    torch = pytest.importorskip("torch")
    from vecgrad import nn

    values = [-3.0, -0.5, 0.0, 0.75, 4.0]
    x = vecgrad.tensor(values, device=device, requires_grad=True)
    ours, theirs = make(nn), make(torch.nn)
    assert ours.inplace is theirs.inplace is True
    out = ours(x)
    np.testing.assert_allclose(out.numpy(), theirs(torch.tensor(values)).numpy(), rtol=1e-6,
                               atol=1e-7)
    assert x.tolist() == values          # out of place: the input stays
    out.sum().backward()
    assert x.grad.shape == (5,)


def test_inplace_must_be_a_bool():
    from vecgrad import nn

    for make in (lambda: nn.ReLU(inplace=1), lambda: nn.Dropout(0.5, inplace="yes"),
                 lambda: nn.SiLU(inplace=None)):
        with pytest.raises(TypeError, match="inplace must be a bool"):
            make()
    assert nn.ReLU().inplace is False and nn.Tanh().inplace is False
