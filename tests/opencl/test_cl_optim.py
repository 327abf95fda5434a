"""The fused optimizer kernels of kernels/optim.cl against the optimizers' Tensor code.

On OpenCL every optimizer hands its whole update to Backend.fused_update (one kernel
per parameter); the Tensor code in each optimizer's `_update` is the reference. The
tests run the same gradients on "cpu" (Tensor code on numpy) and on OpenCL with
`_update` made to raise, so a passing test proves the fused kernel ran, and compare the
parameters and the optimizer state after every step.
"""

import numpy as np
import pytest

import vecgrad
from vecgrad import optim

STEPS = 5
SHAPES = [(5, 7), (13,)]  # two parameters: the kernels see element offsets other than 0

# (id, optimizer class, options): every rule and every option that changes the kernel.
CASES = [
    ("sgd", optim.SGD, dict(lr=0.1)),
    ("sgd-decay", optim.SGD, dict(lr=0.1, weight_decay=0.05)),
    ("momentum", optim.SGD, dict(lr=0.05, momentum=0.9)),
    ("momentum-decay", optim.SGD, dict(lr=0.05, momentum=0.9, weight_decay=0.05)),
    ("nesterov", optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("nesterov-decay", optim.SGD, dict(lr=0.05, momentum=0.5, nesterov=True,
                                       weight_decay=0.01)),
    ("adagrad-inside", optim.AdaGrad, dict(lr=0.1, eps_inside_sqrt=True)),
    ("adagrad-outside", optim.AdaGrad, dict(lr=0.1, eps_inside_sqrt=False)),
    ("adagrad-decay", optim.AdaGrad, dict(lr=0.1, eps=1e-6, weight_decay=0.1)),
    ("rmsprop-inside", optim.RMSProp, dict(lr=0.01, eps_inside_sqrt=True)),
    ("rmsprop-outside", optim.RMSProp, dict(lr=0.01, eps_inside_sqrt=False)),
    ("rmsprop-decay", optim.RMSProp, dict(lr=0.01, beta=0.5, weight_decay=0.1)),
    ("adam-inside", optim.Adam, dict(lr=0.01, eps_inside_sqrt=True)),
    ("adam-outside", optim.Adam, dict(lr=0.01, eps_inside_sqrt=False)),
    ("adam-decay", optim.Adam, dict(lr=0.01, betas=(0.5, 0.9), eps=1e-6,
                                    weight_decay=0.1)),
]
CASE_IDS = [case[0] for case in CASES]

# float32: a few roundings apart at most after 5 steps (sqrt and / may differ by an ulp
# on some devices); float64: the same operations in the same order.
TOL = {np.dtype(np.float32): dict(rtol=1e-5, atol=1e-6),
       np.dtype(np.float64): dict(rtol=1e-12, atol=1e-14)}


def _data(dtype):
    rng = np.random.default_rng(7)
    thetas = [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]
    grads = []
    for step in range(STEPS):
        grads.append([rng.standard_normal(shape).astype(dtype) * (0.5 + step) for shape in SHAPES])
    grads[1][0][0, 0] = 0.0  # a zero gradient (0 / sqrt(eps) on the adaptive rules)
    grads[2][1][3] = 1e-6  # one far below sqrt(eps)
    return thetas, grads


def _snapshot(opt):
    """Parameter values and every state tensor, as host arrays."""
    params = [p.numpy().copy() for p in opt.params]
    states = [{name: value.numpy().copy() for name, value in state.items()
               if isinstance(value, vecgrad.Tensor)} for state in opt.state]
    return params, states


def _run(device, dtype, cls, options, steps=STEPS):
    """A snapshot after each step of `cls` fed the same gradients on `device`."""
    thetas, grads = _data(dtype)
    params = [vecgrad.tensor(t, device=device, requires_grad=True) for t in thetas]
    opt = cls(params, **options)
    history = []
    for step_grads in grads[:steps]:
        for p, g in zip(params, step_grads):
            p.grad = vecgrad.tensor(g, device=device)
        opt.step()
        history.append(_snapshot(opt))
    return opt, history


def _assert_same(got, want, dtype, **tol):
    tol = tol or TOL[np.dtype(dtype)]
    for step, ((g_params, g_states), (w_params, w_states)) in enumerate(zip(got, want)):
        for i, (a, b) in enumerate(zip(g_params, w_params)):
            assert a.dtype == b.dtype == dtype
            np.testing.assert_allclose(a, b, **tol, err_msg=f"step {step + 1}, param {i}")
        for i, (a, b) in enumerate(zip(g_states, w_states)):
            assert sorted(a) == sorted(b), f"step {step + 1}: state names differ"
            for name in a:
                np.testing.assert_allclose(a[name], b[name], **tol,
                                           err_msg=f"step {step + 1}, param {i}, {name}")


def _forbid_tensor_code(monkeypatch, cls):
    def refuse(self, param, grad, state):
        raise AssertionError(f"{type(self).__name__}._update ran: the fused kernel did not")

    monkeypatch.setattr(cls, "_update", refuse)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_fused_step_matches_the_tensor_code_on_cpu(case, cl_backend, float_dtype,
                                                   monkeypatch):
    _, cls, options = case
    _, want = _run("cpu", float_dtype, cls, options)
    _forbid_tensor_code(monkeypatch, cls)
    opt, got = _run(cl_backend.device, float_dtype, cls, options)
    _assert_same(got, want, float_dtype)
    assert [s["step"] for s in opt.state] == [STEPS] * len(SHAPES)
    plain_sgd = cls is optim.SGD and not options.get("momentum")
    names = ("step",) if plain_sgd else ("step",) + cls._state_names
    assert all(sorted(state) == sorted(names) for state in opt.state)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_fused_step_matches_the_tensor_code_on_the_same_device(case, cl_backend,
                                                               float_dtype, monkeypatch):
    _, cls, options = case
    _, fused = _run(cl_backend.device, float_dtype, cls, options)
    # the path before optim.cl: the backend declines and the Tensor code runs
    monkeypatch.setattr(type(cl_backend), "fused_update", lambda self, *args: False)
    monkeypatch.setattr(type(cl_backend), "fused_updates",
                        lambda self, rule, params, *args: [False] * len(params))
    _, reference = _run(cl_backend.device, float_dtype, cls, options)
    # the same element operations in the same order, both compiled for this device
    tol = dict(rtol=2e-7, atol=1e-7) if float_dtype == np.float32 else {}
    _assert_same(fused, reference, float_dtype, **tol)


def test_one_kernel_launch_per_step_and_no_wait(cl_backend, monkeypatch):
    launches, waits = [], []
    runtime = cl_backend.runtime
    real_launch = type(runtime).launch_1d
    monkeypatch.setattr(type(runtime), "launch_1d",
                        lambda self, knl, n, *a: launches.append(knl.function_name)
                        or real_launch(self, knl, n, *a))
    monkeypatch.setattr(type(cl_backend), "synchronize", lambda self: waits.append(1))
    params = [vecgrad.tensor(np.ones(s, np.float32), device=cl_backend.device,
                             requires_grad=True) for s in SHAPES]
    opt = optim.Adam(params)
    for p in params:  # state buffers are made (zero-filled) on the first step: make them
        p.grad = vecgrad.ones(p.shape, device=cl_backend.device)
    opt.step()
    launches.clear()
    opt.step()
    assert launches == ["optim_adam_slots"]  # every parameter in one launch
    launches.clear()
    optim.SGD(params, lr=0.1, momentum=0.9).step()  # the other rules: one per parameter
    assert launches == ["optim_momentum"] * len(SHAPES)
    assert not waits


# Odd sizes, none a multiple of the work-group size, 11 parameters: two launches of
# optim_adam_slots (8 slots, then 3 and five unused ones).
MANY = [(3,), (5, 7), (1,), (257,), (2, 3, 4), (13,), (1, 1), (300,), (17, 5), (6,), (2,)]


@pytest.mark.parametrize("options", [dict(lr=0.01), dict(lr=0.01, eps_inside_sqrt=True,
                                                         weight_decay=0.1, betas=(0.5, 0.9))],
                         ids=["plain", "inside-decay"])
def test_adam_slots_match_the_tensor_code(cl_backend, float_dtype, monkeypatch, options):
    rng = np.random.default_rng(11)
    thetas = [rng.standard_normal(shape).astype(float_dtype) for shape in MANY]
    grads = [[rng.standard_normal(shape).astype(float_dtype) for shape in MANY]
             for _ in range(3)]

    def run(device):
        params = [vecgrad.tensor(t, device=device, requires_grad=True) for t in thetas]
        opt = optim.Adam(params, **options)
        for step_grads in grads:
            for p, g in zip(params, step_grads):
                p.grad = vecgrad.tensor(g, device=device)
            opt.step()
        return [p.numpy() for p in params], [[s["s"].numpy(), s["r"].numpy()] for s in opt.state]

    want = run("cpu")
    launches = []
    runtime = cl_backend.runtime
    real_launch = type(runtime).launch_1d
    monkeypatch.setattr(type(runtime), "launch_1d",
                        lambda self, knl, n, *a: launches.append(knl.function_name)
                        or real_launch(self, knl, n, *a))
    _forbid_tensor_code(monkeypatch, optim.Adam)
    got = run(cl_backend.device)
    adam = [name for name in launches if name.startswith("optim_")]
    assert adam == ["optim_adam_slots"] * 6  # 3 steps x (8 + 3 parameters)
    tol = TOL[np.dtype(float_dtype)]
    for (a_params, a_states), (b_params, b_states) in [(got, want)]:
        for i, (a, b) in enumerate(zip(a_params, b_params)):
            np.testing.assert_allclose(a, b, **tol, err_msg=f"param {i} {MANY[i]}")
        for i, (a, b) in enumerate(zip(a_states, b_states)):
            for name, x, y in zip("sr", a, b):
                np.testing.assert_allclose(x, y, **tol, err_msg=f"param {i} state {name}")


def test_parameters_sharing_storage_are_updated_one_by_one(cl_backend):
    """Two parameters viewing one allocation: their slots would run at once, so the
    backend declines the multi launch for an overlap and the results stay right."""
    be = cl_backend
    storage = be.from_numpy(np.arange(10, dtype=np.float32))
    first, second = be.getitem(storage, (slice(0, 6),)), be.getitem(storage, (slice(4, 10),))
    grads = [be.from_numpy(np.ones(6, np.float32)) for _ in range(2)]
    states = [[be.full((6,), 0.0, np.float32), be.full((6,), 0.0, np.float32)] for _ in range(2)]
    hyper = {"lr": 0.1, "weight_decay": 0.0, "beta1": 0.9, "beta2": 0.999, "bias1": 0.1,
             "bias2": 0.001, "eps": 1e-8, "eps_inside_sqrt": False}
    assert be.fused_updates("adam", [first, second], grads, states, hyper) == [False, False]
    disjoint = [be.getitem(storage, (slice(0, 5),)), be.getitem(storage, (slice(5, 10),))]
    grads5 = [be.from_numpy(np.ones(5, np.float32)) for _ in range(2)]
    states5 = [[be.full((5,), 0.0, np.float32), be.full((5,), 0.0, np.float32)]
               for _ in range(2)]
    assert be.fused_updates("adam", disjoint, grads5, states5, hyper) == [True, True]
    # each element took one Adam step of size lr from its own start: θ - 0.1 (g = 1)
    np.testing.assert_allclose(be.to_numpy(storage), np.arange(10) - 0.1, rtol=1e-6)


def _buffers(cl_backend, dtype=np.float32, n=6):
    return [cl_backend.from_numpy(np.arange(n, dtype=dtype) + k) for k in range(3)]


def test_backend_declines_what_it_cannot_fuse(cl_backend):
    be = cl_backend
    p, g, v = _buffers(be)
    hyper = {"lr": 0.1, "weight_decay": 0.0, "momentum": 0.9, "nesterov": False}
    before = [be.to_numpy(b) for b in (p, g, v)]
    assert not be.fused_update("lion", p, g, [v], hyper)  # unknown rule
    assert not be.fused_update("momentum", p, g, [], hyper)  # missing state buffer
    p2 = be.reshape(p, (2, 3))
    assert not be.fused_update("sgd", be.permute(p2, (1, 0)), be.reshape(g, (3, 2)), [],
                               hyper)  # a transposed (strided) parameter
    assert not be.fused_update("sgd", be.getitem(p, (slice(None, None, 2),)),
                               be.getitem(g, (slice(None, None, 2),)), [], hyper)  # strided
    assert not be.fused_update("sgd", p, be.astype(g, np.float64) if be.supports_float64
                               else be.reshape(g, (2, 3)), [], hyper)  # dtype or shape
    assert not be.fused_update("momentum", p, g, [be.reshape(v, (3, 2))], hyper)  # shape
    ints = be.from_numpy(np.arange(6))
    assert not be.fused_update("sgd", ints, ints, [], hyper)  # not a float
    assert not be.fused_update("sgd", p, p, [], hyper)  # the gradient is the parameter
    assert not be.fused_update("momentum", p, g, [p], hyper)  # state aliases the parameter
    huge = dict(hyper, lr=1e300)  # not representable in float32
    assert not be.fused_update("sgd", p, g, [], huge)
    for want, buf in zip(before, (p, g, v)):
        np.testing.assert_array_equal(be.to_numpy(buf), want)  # nothing was touched


def test_backend_fuses_disjoint_slices_of_one_allocation(cl_backend):
    be = cl_backend
    whole = be.from_numpy(np.arange(12, dtype=np.float32))
    p = be.getitem(whole, (slice(0, 6),))
    g = be.getitem(whole, (slice(6, 12),))
    assert be.fused_update("sgd", p, g, [], {"lr": 0.5, "weight_decay": 0.0})
    np.testing.assert_array_equal(be.to_numpy(whole), [-3, -2.5, -2, -1.5, -1, -0.5,
                                                       6, 7, 8, 9, 10, 11])
    empty = be.from_numpy(np.zeros((0, 3), np.float32))
    assert be.fused_update("sgd", empty, empty, [], {"lr": 0.5, "weight_decay": 0.0})


def test_numpy_backend_does_not_fuse():
    be = vecgrad.get_backend("cpu")
    p = be.from_numpy(np.ones(3))
    assert be.fused_update("sgd", p, p.copy(), [], {"lr": 0.1, "weight_decay": 0.0}) is False
    np.testing.assert_array_equal(p, 1.0)


@pytest.mark.parametrize("case", [CASES[4], CASES[13]], ids=["nesterov", "adam-outside"])
def test_strided_parameters_and_gradients_fall_back_to_the_tensor_code(case, cl_backend,
                                                                      float_dtype):
    _, cls, options = case
    rng = np.random.default_rng(3)
    theta = rng.standard_normal((4, 3)).astype(float_dtype)
    grads = [rng.standard_normal((3, 4)).astype(float_dtype) for _ in range(STEPS)]
    results = {}
    for device in ("cpu", cl_backend.device):
        # a transposed leaf parameter, and gradients that are transposed views
        param = vecgrad.tensor(theta, device=device).T.detach().requires_grad_()
        plain = vecgrad.tensor(theta.T.copy(), device=device, requires_grad=True)
        opt = cls([param, plain], **options)
        for g in grads:
            param.grad = vecgrad.tensor(g, device=device)
            plain.grad = vecgrad.tensor(g.T.copy(), device=device).T  # strided grad
            opt.step()
        results[device] = (param.numpy(), plain.numpy(),
                           [s.numpy() for s in opt.state[0].values()
                            if isinstance(s, vecgrad.Tensor)])
    got, want = results[cl_backend.device], results["cpu"]
    tol = TOL[float_dtype]
    np.testing.assert_allclose(got[0], want[0], **tol)
    np.testing.assert_allclose(got[1], want[1], **tol)
    for a, b in zip(got[2], want[2]):
        np.testing.assert_allclose(a, b, **tol)


def test_a_gradient_that_is_the_parameter_falls_back(cl_backend):
    param = vecgrad.tensor([1.0, -2.0, 4.0], device=cl_backend.device, requires_grad=True)
    opt = optim.SGD([param], lr=0.25)
    param.grad = param.detach()  # aliases the parameter's buffer
    opt.step()
    np.testing.assert_allclose(param.numpy(), [0.75, -1.5, 3.0])


@pytest.mark.parametrize("case", [CASES[3], CASES[8], CASES[11], CASES[14]],
                         ids=["momentum", "adagrad", "rmsprop", "adam"])
def test_state_dict_round_trip_after_fused_steps(case, cl_backend, monkeypatch):
    _, cls, options = case
    dtype = np.float32
    _, want = _run(cl_backend.device, dtype, cls, options)  # 5 steps in one go
    _forbid_tensor_code(monkeypatch, cls)
    first, _ = _run(cl_backend.device, dtype, cls, options, steps=2)
    saved = first.state_dict()
    thetas, grads = _data(dtype)
    for device in (cl_backend.device, "cpu"):  # resume on OpenCL, and move to the cpu
        if device == "cpu":
            monkeypatch.undo()
        params = [vecgrad.tensor(p.numpy(), device=device, requires_grad=True)
                  for p in first.params]
        resumed = cls(params, **options)
        resumed.load_state_dict(saved)
        history = []
        for step_grads in grads[2:]:
            for p, g in zip(params, step_grads):
                p.grad = vecgrad.tensor(g, device=device)
            resumed.step()
            history.append(_snapshot(resumed))
        _assert_same(history, want[2:], dtype)
        assert [s["step"] for s in resumed.state] == [STEPS] * len(SHAPES)


def test_a_fused_step_is_seen_by_a_pending_backward(cl_backend, monkeypatch):
    _forbid_tensor_code(monkeypatch, optim.Adam)
    device = cl_backend.device
    w = vecgrad.tensor([1.0, 2.0], device=device, requires_grad=True)
    x = vecgrad.tensor([3.0, 4.0], device=device, requires_grad=True)
    opt = optim.Adam([w])
    y = (w * w).sum()  # saves w for its backward pass
    w.grad = vecgrad.ones(w.shape, device=device)
    opt.step()
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()
    # the state tensors are bumped too: a graph that used the moment estimate notices
    z = (x * opt.state[0]["s"]).sum()
    w.grad = vecgrad.ones(w.shape, device=device)
    opt.step()
    with pytest.raises(RuntimeError, match="modified in place"):
        z.backward()
    # and a detached alias of the parameter shares its version counter
    alias = w.detach()
    u = (x * alias).sum()
    opt.step()
    with pytest.raises(RuntimeError, match="modified in place"):
        u.backward()


def test_adam_launches_stay_within_32_bit_indexing():
    # Each launch of optim_adam_slots indexes all its parameters' elements with one int:
    # parameters legal alone (2**30 elements each) were packed 8 to a launch, and the
    # step failed with "size ... exceeds the 32-bit indexing".
    from vecgrad.backends.opencl_backend import _adam_chunks

    class Sized:
        def __init__(self, size):
            self.size = size

    entries = [(i, (Sized(size),)) for i, size in enumerate([2**30] * 5 + [10] * 12)]
    chunks = _adam_chunks(entries)
    assert [len(chunk) for chunk in chunks] == [1, 1, 1, 1, 8, 5]
    assert all(sum(buffers[0].size for _, buffers in chunk) < 2**31 for chunk in chunks)
    assert [i for chunk in chunks for i, _ in chunk] == list(range(17))
