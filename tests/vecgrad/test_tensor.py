"""Tensor creation, dtypes, devices, host conversion and in-place updates."""

import numpy as np
import pytest

import vecgrad
from vecgrad.backends import DeviceError, available_devices, get_backend, parse_device


def test_dtype_rules_of_creation(device):
    assert vecgrad.tensor([1.0, 2.0], device=device).dtype == vecgrad.float32
    assert vecgrad.tensor([1, 2], device=device).dtype == vecgrad.int64
    assert vecgrad.tensor([True, False], device=device).dtype == vecgrad.bool_
    assert vecgrad.tensor(np.zeros(2, np.float32), device=device).dtype == np.float32
    assert vecgrad.tensor(np.zeros(2, np.int32), device=device).dtype == np.int64
    assert vecgrad.zeros(2, 3, device=device).dtype == np.float32
    assert vecgrad.arange(5, device=device).dtype == np.int64
    assert vecgrad.arange(0, 1, 0.25, device=device).dtype == np.float32
    if get_backend(device).supports_float64:
        assert vecgrad.from_numpy(np.zeros(2)).dtype == np.float64
        assert vecgrad.ones(2, dtype=vecgrad.float64, device=device).dtype == np.float64


def test_creation_values(device):
    np.testing.assert_array_equal(vecgrad.zeros((2, 3), device=device).numpy(), np.zeros((2, 3)))
    np.testing.assert_array_equal(vecgrad.ones(2, device=device).numpy(), [1, 1])
    np.testing.assert_array_equal(vecgrad.full((2,), 7.5, device=device).numpy(), [7.5, 7.5])
    np.testing.assert_array_equal(vecgrad.eye(2, 3, device=device).numpy(), np.eye(2, 3))
    np.testing.assert_array_equal(vecgrad.arange(1, 7, 2, device=device).numpy(), [1, 3, 5])
    t = vecgrad.tensor([[1.0, 2.0]], device=device)
    np.testing.assert_array_equal(vecgrad.zeros_like(t).numpy(), [[0, 0]])
    np.testing.assert_array_equal(vecgrad.ones_like(t).numpy(), [[1, 1]])
    assert vecgrad.Tensor([1.0], device=device).tolist() == [1.0]


def test_seeded_random_numbers_repeat(device):
    vecgrad.manual_seed(3)
    a, b = vecgrad.rand(4, device=device), vecgrad.randn(2, 2, device=device)
    vecgrad.manual_seed(3)
    np.testing.assert_array_equal(vecgrad.rand(4, device=device).numpy(), a.numpy())
    np.testing.assert_array_equal(vecgrad.randn(2, 2, device=device).numpy(), b.numpy())
    assert np.all((a.numpy() >= 0) & (a.numpy() < 1))
    assert isinstance(vecgrad.random_generator(), np.random.Generator)


def test_host_conversion_and_attributes(device):
    t = vecgrad.tensor([[1.0, 2.0, 3.0]], device=device, requires_grad=True)
    assert t.shape == (1, 3) and t.ndim == 2 and t.numel() == 3 and len(t) == 1
    assert t.device == get_backend(device).device and t.is_leaf and t.grad is None
    host = t.numpy()
    host[0, 0] = 100.0  # a copy: the tensor is unchanged
    assert t.tolist() == [[1.0, 2.0, 3.0]]
    assert t[0, 1].item() == 2.0
    assert "requires_grad=True" in repr(t) and "float32" in repr(t)
    assert [row.tolist() for row in t] == [[1.0, 2.0, 3.0]]
    with pytest.raises(ValueError, match="item: only one-element"):
        t.item()


def test_to_dtype_float_double(device):
    t = vecgrad.tensor([1.5, 2.5], device=device)
    assert t.to(vecgrad.int64).tolist() == [1, 2]
    if get_backend(device).supports_float64:
        assert t.double().dtype == np.float64 and t.double().float().dtype == np.float32
        assert t.to("float64").dtype == np.float64


def test_to_takes_pytorchs_forms(device):
    dtype = vecgrad.float64 if get_backend(device).supports_float64 else vecgrad.float32
    x = vecgrad.tensor([1.5, 2.5], requires_grad=True)  # on cpu
    other = vecgrad.zeros(1, dtype=dtype, device=device)
    for moved in (x.to(other), x.to(device, dtype), x.to(device=device, dtype=dtype),
                  x.to(dtype=dtype).to(device=device)):
        # x.to(other) kept x on cpu before (only the dtype was taken from other)
        assert moved.device == other.device and moved.dtype == dtype
    (x.to(other) * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])
    assert x.grad.dtype == np.float32 and x.grad.device == "cpu"
    with pytest.raises(TypeError, match="two devices given"):
        x.to("cpu", device)
    with pytest.raises(TypeError, match="tensor argument .* must come alone"):
        x.to(other, vecgrad.float32)


def test_in_place_updates(device):
    p = vecgrad.tensor([1.0, 2.0], device=device, requires_grad=True)
    buffer_before = p._buf
    p.add_(vecgrad.tensor([1.0, 1.0], device=device), alpha=2.0)
    np.testing.assert_allclose(p.numpy(), [3.0, 4.0])
    p.sub_(1.0).mul_(2.0)
    np.testing.assert_allclose(p.numpy(), [4.0, 6.0])
    p.copy_(vecgrad.tensor([9.0, 8.0], device=device))
    np.testing.assert_allclose(p.numpy(), [9.0, 8.0])
    p.fill_(0.5)
    np.testing.assert_allclose(p.numpy(), [0.5, 0.5])
    p.zero_()
    np.testing.assert_allclose(p.numpy(), [0.0, 0.0])
    assert p._buf is buffer_before  # the buffer stays on the device, updated in place
    with pytest.raises(ValueError, match=r"add_: shapes \(2,\) and \(3,\)"):
        p.add_(vecgrad.zeros(3, device=device))


def test_augmented_assignment_updates_parameters_in_place(device):
    # PyTorch's hand-written SGD: `p -= lr * p.grad` under no_grad must change the
    # model's parameter (the loop variable is only a name for it)
    model = vecgrad.nn.Linear(2, 1)
    params = list(model.parameters())
    before = [p.numpy() for p in params]
    loss = model(vecgrad.tensor([[1.0, 2.0]], device=model.weight.device)).sum()
    loss.backward()
    with vecgrad.no_grad():
        for p in params:
            p -= 0.5 * p.grad
    for p, old, now in zip(params, before, model.parameters()):
        assert p is now and p.requires_grad and p.is_leaf
        np.testing.assert_allclose(now.numpy(), old - 0.5 * p.grad.numpy(), rtol=1e-6)

    x = vecgrad.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    row = x[1]
    x *= 2
    x[0] += 1  # through the view x[0], then written back
    x /= vecgrad.tensor([1.0, 2.0], device=device)
    np.testing.assert_allclose(x.numpy(), [[3.0, 2.5], [6.0, 4.0]])
    np.testing.assert_allclose(row.numpy(), [6.0, 4.0])  # the view saw every change


def test_augmented_assignment_with_gradients(device):
    w = vecgrad.tensor([1.0, 2.0], device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="-=: a leaf tensor that requires grad cannot"):
        w -= 1.0  # (PyTorch refuses too: the update belongs under no_grad)
    h = vecgrad.zeros(2, device=device)
    h += w * 3  # recorded: h is now a result of w
    h *= w
    assert not h.is_leaf
    h.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [6.0, 12.0])  # d(3w^2)/dw
    counts = vecgrad.tensor([1, 2], device=device)
    with pytest.raises(TypeError, match="cannot write the fractional number 0.5 into"):
        counts += 0.5  # an int tensor stays an int tensor (PyTorch refuses too)
    with pytest.raises(ValueError, match="cannot be written into a tensor of shape"):
        h_copy = h.detach()
        h_copy += vecgrad.zeros(3, 2, device=device)


@pytest.mark.parametrize("layout", ["large", "small", "transposed", "broadcast", "number"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_scaled_in_place_update_rounds_like_two_numpy_passes(device, layout, dtype):
    # add_/sub_ with alpha go through Backend.axpy (blocked on numpy, one kernel on
    # OpenCL); the result must equal numpy's y + alpha * x with alpha rounded to y's dtype.
    if dtype == np.float64 and not get_backend(device).supports_float64:
        pytest.skip("no float64 on this device")
    rng = np.random.default_rng(7)
    shape = {"large": (700, 701), "small": (3, 5)}.get(layout, (40, 30))  # large: > 1 MiB
    y_host = (rng.standard_normal(shape) * 100).astype(dtype)
    x_host = {"transposed": (rng.standard_normal(shape[::-1]) * 100).astype(dtype).T,
              "broadcast": (rng.standard_normal(shape[1]) * 100).astype(dtype),
              "number": np.asarray(3, dtype=dtype)}.get(
        layout, (rng.standard_normal(shape) * 100).astype(dtype))
    alpha = 3 if dtype == np.int64 else 0.1
    for method, sign in (("add_", 1), ("sub_", -1)):
        y = vecgrad.tensor(y_host, device=device)
        other = 3 if layout == "number" else vecgrad.tensor(np.ascontiguousarray(x_host),
                                                            device=device)
        if layout == "transposed":
            other = vecgrad.tensor(x_host.T.copy(), device=device).T
        getattr(y, method)(other, alpha=alpha)
        with np.errstate(all="ignore"):
            want = y_host + dtype(sign * alpha) * x_host if sign > 0 else \
                y_host - dtype(alpha) * x_host
        np.testing.assert_array_equal(y.numpy(), want.astype(dtype), err_msg=method)


def test_requires_grad_rules(device):
    with pytest.raises(TypeError, match="only float32/float64 tensors can require"):
        vecgrad.tensor([1, 2], device=device, requires_grad=True)
    x = vecgrad.tensor([1.0], device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (x * 2).requires_grad = False


def test_device_strings_are_validated():
    assert parse_device(" CPU ") == "cpu"
    assert parse_device("opencl:0:1") == "opencl:0:1"
    for bad in ["gpu", "cuda:0", "opencl:0", "opencl:a:b", ""]:
        with pytest.raises(DeviceError, match="expected 'cpu', 'opencl'"):
            parse_device(bad)
    with pytest.raises(DeviceError, match="device must be a string"):
        parse_device(0)
    with pytest.raises(DeviceError, match="unknown device 'tpu'"):
        vecgrad.zeros(2, device="tpu")
    assert available_devices()[0] == "cpu"
    assert get_backend("cpu") is get_backend("cpu")


def test_default_device_is_read_at_each_call(monkeypatch):
    monkeypatch.setenv("VECGRAD_DEVICE", "cpu")
    assert vecgrad.zeros(1).device == "cpu"
    monkeypatch.setenv("VECGRAD_DEVICE", "floppy")
    with pytest.raises(DeviceError, match="floppy"):
        vecgrad.zeros(1)


def test_mixing_devices_is_an_error_naming_both(device):
    if device == "cpu":
        other = next((d for d in available_devices() if d != "cpu"), None)
        if other is None:
            pytest.skip("only the cpu device exists here")
    else:
        other = "cpu"
    a = vecgrad.ones(2, device=device)
    b = vecgrad.ones(2, device=other)
    with pytest.raises(ValueError, match=r"add: tensors are on different devices \(.+ and .+\)"):
        a + b
    with pytest.raises(ValueError, match="matmul: tensors are on different devices"):
        a @ b


@pytest.mark.parametrize("data, error, message", [
    ([[1.0, 2.0], [3.0]], ValueError, "rectangular"),
    (["a", "b"], TypeError, "dtype <U1"),
    ({"a": 1}, TypeError, "numbers"),
])
def test_bad_data_is_named(device, data, error, message):
    with pytest.raises(error, match=message):
        vecgrad.tensor(data, device=device)


def test_bad_dtypes_are_named(device):
    with pytest.raises(TypeError, match="unsupported dtype complex128"):
        vecgrad.zeros(2, dtype=np.complex128, device=device)
    with pytest.raises(TypeError, match="exp: input must be float32 or float64, got int64"):
        vecgrad.tensor([1, 2], device=device).exp()
    with pytest.raises(TypeError, match="randn: dtype must be float32 or float64"):
        vecgrad.randn(2, dtype=vecgrad.int64, device=device)


def test_truth_value_and_hashing(device):
    t = vecgrad.tensor([1.0, 2.0], device=device)
    with pytest.raises(ValueError, match="ambiguous"):
        bool(t == t)
    assert {t: 1}[t] == 1  # usable as a dict key (optimizers keep per-tensor state)
    assert bool(vecgrad.tensor(1.0, device=device) == 1.0)


def test_scaled_in_place_updates_from_many_threads_do_not_share_a_scratch_block():
    # numpy's axpy scales through a reused 1 MiB block; each thread must get its own.
    import threading

    failures = []

    def work(seed):
        rng = np.random.default_rng(seed)
        dtype = np.float32 if seed % 2 else np.float64
        for _ in range(5):
            y_host = rng.standard_normal(400_000).astype(dtype)  # > 1 MiB: the blocked path
            x_host = rng.standard_normal(400_000).astype(dtype)
            alpha = float(rng.standard_normal())
            y = vecgrad.tensor(y_host)
            y.add_(vecgrad.tensor(x_host), alpha=alpha)
            if not np.array_equal(y.numpy(), y_host + x_host * dtype(alpha)):
                failures.append(seed)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_numpy_asarray_gives_the_values(device):
    # numpy.asarray(t) made an object array of 0-d tensors (one device read per element
    # on OpenCL); now it is t.numpy(), as for a PyTorch tensor.
    t = vecgrad.tensor([[1.5, -2.0, 3.0]], device=device)
    values = np.asarray(t)
    assert values.dtype == np.float32 and values.shape == (1, 3)
    np.testing.assert_array_equal(values, [[1.5, -2.0, 3.0]])
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert np.array([t[0, 0], t[0, 2]]).tolist() == [1.5, 3.0]
    assert vecgrad.tensor([t[0, 0], t[0, 1]]).tolist() == [1.5, -2.0]
    with pytest.raises(ValueError, match="without a copy"):
        np.array(t, copy=False)
    assert isinstance(np.ones(3) + t[0], vecgrad.Tensor)  # operators still defer to ours


def test_fill_and_zero_errors_name_themselves(device):
    # they said copy_ (the method they were written with)
    view = vecgrad.zeros(1, 4, device=device).expand(3, 4)
    with pytest.raises(RuntimeError, match=r"^zero_: .*broadcast view"):
        view.zero_()
    with pytest.raises(RuntimeError, match=r"^fill_: .*broadcast view"):
        view.fill_(2.0)
    with pytest.raises(TypeError, match=r"^fill_: expected a Tensor or a number"):
        vecgrad.zeros(2, device=device).fill_("x")
    ints = vecgrad.zeros(2, dtype="int64", device=device)
    assert ints.fill_(2.7).tolist() == [2, 2]  # casts toward zero, as copy_ and PyTorch


def test_iterating_a_zero_dimensional_tensor_says_iteration(device):
    # list(x) of a 0-d tensor said "len() of a 0-dimensional tensor"
    with pytest.raises(TypeError, match="iteration over a 0-dimensional tensor"):
        list(vecgrad.tensor(1.0, device=device))
    assert [v.item() for v in vecgrad.tensor([[1, 2], [3, 4]], device=device)[1]] == [3, 4]


def test_equality_with_none_or_other_objects_is_false_not_an_error(device):
    # PyTorch (and Python's default) answer by identity; these raised
    # "eq: expected a Tensor or a number, got NoneType"
    t = vecgrad.tensor([1.0, 2.0], device=device)
    assert (t == None) is False and (t != None) is True  # noqa: E711
    assert (None == t) is False and (t == "a") is False and (t != object()) is True  # noqa: E711
    assert t not in [None, "x"] and t in [None, t]
    assert (t == [1.0, 0.0]).tolist() == [True, False]  # lists still compare elementwise
    with pytest.raises(TypeError):
        t < None  # noqa: B015 - ordering has no identity fallback


def test_leaf_tensors_and_parameters_pickle(device):
    # pickling reached the backend: "cannot pickle '_thread._local' object"
    import copy
    import pickle

    from vecgrad.nn import Linear, Parameter

    x = vecgrad.tensor([[1.0, 2.0]], device=device, requires_grad=True)
    y = pickle.loads(pickle.dumps(x))
    assert y.tolist() == x.tolist() and y.device == x.device and y.requires_grad and y.is_leaf
    labels = pickle.loads(pickle.dumps(vecgrad.tensor([3, 1], device=device)))
    assert labels.dtype == vecgrad.int64 and labels.tolist() == [3, 1]
    p = pickle.loads(pickle.dumps(Parameter(x)))
    assert type(p) is Parameter and p.requires_grad
    layer = pickle.loads(pickle.dumps(Linear(2, 3).to(device)))
    assert layer(x).shape == (1, 3)
    with pytest.raises(RuntimeError, match="pickle: only leaf tensors can be pickled"):
        pickle.dumps(x * 2)
    alias = copy.copy(x * 2)  # a shallow copy still shares memory and graph
    assert alias.grad_fn == "Mul"
