"""Recurrent layers: central differences on every device, PyTorch in float64 when installed."""

import numpy as np
import pytest

import vecgrad
from vecgrad import nn

from .helpers import numerical_grad

RNG = np.random.default_rng(7)
MODES = [("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("LSTM", {}), ("GRU", {})]


def _need_float64(device):
    if not vecgrad.get_backend(device).supports_float64:
        pytest.skip(f"{device} has no float64")


def _t(values, device, requires_grad=False):
    return vecgrad.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad,
                          device=device)


def _states(name, layers, batch, hidden):
    shape = (layers, batch, hidden)
    if name == "LSTM":
        return [RNG.standard_normal(shape), RNG.standard_normal(shape)]
    return [RNG.standard_normal(shape)]


def _as_hx(name, states):
    return tuple(states) if name == "LSTM" else states[0]


def _outputs(name, result):
    output, hidden = result
    return [output, *hidden] if name == "LSTM" else [output, hidden]


@pytest.mark.parametrize("name,kwargs", MODES)
def test_backward_matches_central_differences(device, name, kwargs):
    _need_float64(device)
    module = getattr(nn, name)(2, 3, dtype=vecgrad.float64, device=device, **kwargs)
    x_np = RNG.standard_normal((3, 2, 2))
    state_np = _states(name, 1, 2, 3)
    weights = None

    def loss(x_values, state_values):
        result = module(_t(x_values, device), _as_hx(name, [_t(s, device) for s in state_values]))
        return sum(float((o.numpy() * w).sum()) for o, w in zip(_outputs(name, result), weights))

    x = _t(x_np, device, requires_grad=True)
    states = [_t(s, device, requires_grad=True) for s in state_np]
    outs = _outputs(name, module(x, _as_hx(name, states)))
    weights = [RNG.standard_normal(o.shape) for o in outs]
    sum((o * _t(w, device)).sum() for o, w in zip(outs, weights)).backward()

    np.testing.assert_allclose(x.grad.numpy(), numerical_grad(lambda v: loss(v, state_np), x_np),
                               rtol=1e-6, atol=1e-8)
    for i, state in enumerate(states):
        def at_state(v, i=i):
            return loss(x_np, [v if j == i else s for j, s in enumerate(state_np)])
        np.testing.assert_allclose(state.grad.numpy(), numerical_grad(at_state, state_np[i]),
                                   rtol=1e-6, atol=1e-8, err_msg=f"state {i}")
    for pname, p in module.named_parameters():
        original = p.numpy().copy()

        def at_param(values, p=p):
            with vecgrad.no_grad():
                p.copy_(_t(values, device))
                return loss(x_np, state_np)

        numeric = numerical_grad(at_param, original)
        with vecgrad.no_grad():
            p.copy_(_t(original, device))
        np.testing.assert_allclose(p.grad.numpy(), numeric, rtol=1e-6, atol=1e-8,
                                   err_msg=pname)


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_one_step_of_the_layer(device, name):
    _need_float64(device)
    layer_name = name[:-4]
    cell = getattr(nn, name)(3, 4, dtype=vecgrad.float64, device=device)
    layer = getattr(nn, layer_name)(3, 4, dtype=vecgrad.float64, device=device)
    layer.load_state_dict({f"{k}_l0": v for k, v in cell.state_dict().items()})
    x_np = RNG.standard_normal((5, 3))
    states = _states(layer_name, 1, 5, 4)
    got = cell(_t(x_np, device), _as_hx(layer_name, [_t(s[0], device) for s in states]))
    out, hidden = layer(_t(x_np[None], device), _as_hx(layer_name, [_t(s, device) for s in states]))
    got = list(got) if layer_name == "LSTM" else [got]
    want = [hidden[0][0], hidden[1][0]] if layer_name == "LSTM" else [hidden[0]]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.numpy()[0], got[0].numpy(), rtol=1e-12, atol=1e-12)
    # unbatched input and no state: zeros
    single = cell(_t(x_np[0], device))
    single = single[0] if layer_name == "LSTM" else single
    assert single.shape == (4,)


def test_multilayer_bidirectional_batch_first_shapes(device):
    lstm = nn.LSTM(3, 5, num_layers=2, batch_first=True, bidirectional=True, device=device)
    out, (h, c) = lstm(vecgrad.randn(4, 6, 3, device=device))
    assert out.shape == (4, 6, 10) and h.shape == (4, 4, 5) and c.shape == (4, 4, 5)
    gru = nn.GRU(3, 5, num_layers=3, device=device)
    out, h = gru(vecgrad.randn(6, 3, device=device))  # unbatched (seq, input)
    assert out.shape == (6, 5) and h.shape == (3, 5)
    names = [n for n, _ in lstm.named_parameters()]
    assert names[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert names[4] == "weight_ih_l0_reverse" and len(names) == 16
    assert lstm.weight_ih_l1.shape == (20, 10)
    bound = 1 / np.sqrt(5)
    assert all(np.abs(p.numpy()).max() <= bound for p in lstm.parameters())


def test_clear_errors():
    lstm = nn.LSTM(3, 5, num_layers=2)
    with pytest.raises(ValueError, match=r"LSTM: expected input \(seq, batch, input_size\).*"
                                         r"input_size=3, got shape \(4, 2, 7\)"):
        lstm(vecgrad.randn(4, 2, 7))
    with pytest.raises(ValueError, match=r"input_size=3, got shape \(3,\)"):
        lstm(vecgrad.randn(3))
    with pytest.raises(ValueError, match=r"h_0 .*must have shape \(2, 2, 5\), got \(1, 2, 5\)"):
        lstm(vecgrad.randn(4, 2, 3), (vecgrad.zeros(1, 2, 5), vecgrad.zeros(2, 2, 5)))
    with pytest.raises(TypeError, match="hx must be a pair"):
        lstm(vecgrad.randn(4, 2, 3), vecgrad.zeros(2, 2, 5))
    with pytest.raises(ValueError, match="sequence is empty"):
        lstm(vecgrad.randn(0, 2, 3))
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        nn.RNN(3, 5, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size must be a positive int"):
        nn.GRU(3, 0)
    with pytest.raises(ValueError, match=r"GRUCell: hx must have shape \(2, 5\), got \(5,\)"):
        nn.GRUCell(3, 5)(vecgrad.randn(2, 3), vecgrad.zeros(5))
    with pytest.raises(TypeError, match="float32 or float64"):
        nn.RNN(3, 5)(vecgrad.zeros(2, 1, 3, dtype=vecgrad.int64))
    with pytest.raises(TypeError, match=r"LSTM: input is float64 but the parameters are "
                                        r"float32"):
        lstm(vecgrad.randn(4, 2, 3, dtype=vecgrad.float64))
    with pytest.raises(TypeError, match="GRUCell: input is float64"):
        nn.GRUCell(3, 5)(vecgrad.randn(2, 3, dtype=vecgrad.float64))


def test_dropout_between_layers_only_in_training():
    vecgrad.manual_seed(0)
    gru = nn.GRU(3, 8, num_layers=2, dropout=0.5)
    x = vecgrad.randn(5, 2, 3)
    gru.eval()
    a, b = gru(x)[0].numpy(), gru(x)[0].numpy()
    np.testing.assert_array_equal(a, b)
    gru.train()
    assert not np.allclose(gru(x)[0].numpy(), a)


def _lstm_step_composite(xp, hc, w_hh):
    """The LSTM step from separate ops: the reference for the fused op."""
    hidden = w_hh.shape[1]
    h, c = hc[..., :hidden], hc[..., hidden:]
    gates = xp + h @ w_hh.transpose(0, 1)
    i, f = gates[..., :hidden].sigmoid(), gates[..., hidden:2 * hidden].sigmoid()
    g, o = gates[..., 2 * hidden:3 * hidden].tanh(), gates[..., 3 * hidden:].sigmoid()
    c_new = f * c + i * g
    return vecgrad.cat([o * c_new.tanh(), c_new], axis=-1)


@pytest.mark.parametrize("lead", [(3,), (1, 3), (3, 1)])
def test_fused_lstm_step_matches_the_composition(device, lead):
    _need_float64(device)
    from vecgrad.ops.recurrent import lstm_step

    xp_np, hc_np = RNG.standard_normal(lead + (8,)) * 2, RNG.standard_normal(lead + (4,))
    w_np, weight = RNG.standard_normal((8, 2)), RNG.standard_normal(lead + (4,))
    results = []
    for fn in (lstm_step, _lstm_step_composite):
        xp, hc, w = _t(xp_np, device, True), _t(hc_np, device, True), _t(w_np, device, True)
        out = fn(xp, hc, w)
        (out * _t(weight, device)).sum().backward()
        results.append([out.numpy(), xp.grad.numpy(), hc.grad.numpy(), w.grad.numpy()])
    for fused, composite in zip(*results):
        np.testing.assert_allclose(fused, composite, rtol=1e-12, atol=1e-14)
    # and against central differences, every input
    for k, arrays in enumerate([xp_np, hc_np, w_np]):
        def loss(v, k=k):
            args = [xp_np, hc_np, w_np]
            args[k] = v
            return float((lstm_step(*[_t(a, device) for a in args]).numpy() * weight).sum())
        np.testing.assert_allclose(results[0][1 + k], numerical_grad(loss, arrays),
                                   rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match=r"xp must be \(\.\.\., 4 \* hidden\)"):
        lstm_step(_t(xp_np[..., :6], device), _t(hc_np, device), _t(w_np, device))
    with pytest.raises(ValueError, match=r"w_hh must be \(4 \* hidden, hidden\)"):
        lstm_step(_t(xp_np, device), _t(hc_np, device), _t(w_np[:6], device))


def _gru_step_composite(xp, h, w_hh, b_hh):
    """The GRU step from separate ops: the reference for the fused op."""
    hidden = w_hh.shape[1]
    hp = h @ w_hh.transpose(0, 1) + (b_hh if b_hh is not None else 0.0)
    rz = (xp[..., :2 * hidden] + hp[..., :2 * hidden]).sigmoid()
    r, z = rz[..., :hidden], rz[..., hidden:]
    n = (xp[..., 2 * hidden:] + r * hp[..., 2 * hidden:]).tanh()
    return n + z * (h - n)


@pytest.mark.parametrize("lead,bias", [((3,), True), ((1, 3), True), ((3, 1), False)])
def test_fused_gru_step_matches_the_composition(device, lead, bias):
    _need_float64(device)
    from vecgrad.ops.recurrent import gru_step

    arrays = [RNG.standard_normal(lead + (6,)) * 2, RNG.standard_normal(lead + (2,)),
              RNG.standard_normal((6, 2))] + ([RNG.standard_normal(6)] if bias else [])
    weight = RNG.standard_normal(lead + (2,))

    def run(fn, values, requires_grad):
        ts = [_t(a, device, requires_grad) for a in values]
        out = fn(*ts, *([] if bias else [None]))
        return ts, out

    results = []
    for fn in (gru_step, _gru_step_composite):
        ts, out = run(fn, arrays, True)
        (out * _t(weight, device)).sum().backward()
        results.append([out.numpy()] + [t.grad.numpy() for t in ts])
    for fused, composite in zip(*results):
        np.testing.assert_allclose(fused, composite, rtol=1e-12, atol=1e-14)
    for k, array in enumerate(arrays):
        def loss(v, k=k):
            values = [v if j == k else a for j, a in enumerate(arrays)]
            return float((run(gru_step, values, False)[1].numpy() * weight).sum())
        np.testing.assert_allclose(results[0][1 + k], numerical_grad(loss, array),
                                   rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match=r"w_hh must be \(3 \* hidden, hidden\)"):
        gru_step(_t(arrays[0], device), _t(arrays[1], device), _t(arrays[2][:4], device))
    with pytest.raises(ValueError, match=r"b_hh must have shape \(6,\)"):
        gru_step(_t(arrays[0], device), _t(arrays[1], device), _t(arrays[2], device),
                 _t(np.zeros(5), device))


# ---------------------------------------------------------------------- against torch
CONFIGS = [("LSTM", {}), ("GRU", {}), ("RNN", {}), ("RNN", {"nonlinearity": "relu"}),
           ("LSTM", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
           ("GRU", {"num_layers": 2, "bias": False, "bidirectional": True}),
           ("RNN", {"num_layers": 3, "batch_first": True})]


@pytest.mark.parametrize("name,kwargs", CONFIGS)
def test_matches_torch_float64(name, kwargs):
    torch = pytest.importorskip("torch")
    ours = getattr(nn, name)(3, 5, dtype=vecgrad.float64, **kwargs)
    theirs = getattr(torch.nn, name)(3, 5, dtype=torch.float64, **kwargs)
    # keys, order and shapes identical; our state_dict loads into torch unchanged
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    theirs.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in ours.state_dict().items()})
    layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    x_np = RNG.standard_normal((2, 4, 3) if kwargs.get("batch_first") else (4, 2, 3))
    states = _states(name, layers, 2, 5)
    x, tx = _t(x_np, "cpu", True), torch.tensor(x_np, requires_grad=True)
    s = [_t(v, "cpu", True) for v in states]
    ts = [torch.tensor(v, requires_grad=True) for v in states]
    outs = _outputs(name, ours(x, _as_hx(name, s)))
    touts = _outputs(name, theirs(tx, _as_hx(name, ts)))
    weights = [RNG.standard_normal(tuple(o.shape)) for o in touts]
    for o, to in zip(outs, touts):
        np.testing.assert_allclose(o.numpy(), to.detach().numpy(), rtol=1e-12, atol=1e-12)
    sum((o * _t(w, "cpu")).sum() for o, w in zip(outs, weights)).backward()
    sum((o * torch.from_numpy(w)).sum() for o, w in zip(touts, weights)).backward()
    for ours_t, theirs_t in zip([x, *s], [tx, *ts]):
        np.testing.assert_allclose(ours_t.grad.numpy(), theirs_t.grad.numpy(), atol=1e-12)
    for (pname, p), tp in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), atol=1e-12, err_msg=pname)


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_torch_float64(name):
    torch = pytest.importorskip("torch")
    ours = getattr(nn, name)(3, 4, dtype=vecgrad.float64)
    theirs = getattr(torch.nn, name)(3, 4, dtype=torch.float64)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in ours.state_dict().items()})
    x_np = RNG.standard_normal((2, 3))
    got = ours(_t(x_np, "cpu"))
    want = theirs(torch.from_numpy(x_np))
    got, want = (got, want) if name == "LSTMCell" else ((got,), (want,))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.detach().numpy(), atol=1e-12)


def test_torch_state_dict_loads_into_vecgrad():
    torch = pytest.importorskip("torch")
    theirs = torch.nn.LSTM(4, 6, num_layers=2, batch_first=True)
    ours = nn.LSTM(4, 6, num_layers=2, batch_first=True)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x_np = RNG.standard_normal((3, 5, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(vecgrad.tensor(x_np))[0].numpy(),
                               theirs(torch.from_numpy(x_np))[0].detach().numpy(), atol=1e-5)


def test_lstm_layer_second_derivatives_match_finite_differences(device):
    # create_graph walks the unrolled layer with recorded ops (LSTMStep's saved_for_graph,
    # each x[t] slice as IndexAdd): its Hessian-vector product against differences of
    # first-order gradients
    _need_float64(device)
    lstm = nn.LSTM(2, 3, dtype=vecgrad.float64, device=device)
    x_np, v_np = RNG.standard_normal((3, 2, 2)), RNG.standard_normal((3, 2, 2))

    def gradient(values, create_graph=False):
        x = _t(values, device, True)
        loss = (lstm(x)[0] ** 2).sum()
        (g,) = vecgrad.autograd.grad(loss, x, create_graph=create_graph)
        return x, g

    x, g = gradient(x_np, create_graph=True)
    (hvp,) = vecgrad.autograd.grad((g * _t(v_np, device)).sum(), x)
    eps = 1e-5
    numeric = (gradient(x_np + eps * v_np)[1].numpy()
               - gradient(x_np - eps * v_np)[1].numpy()) / (2 * eps)
    np.testing.assert_allclose(hvp.numpy(), numeric, rtol=1e-5, atol=1e-7)
