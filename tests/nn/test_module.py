"""Module API: registration, names and order, modes, hooks, repr, state dicts, devices."""

import numpy as np
import pytest

import vecgrad
from vecgrad import nn, optim

from .helpers import device_name


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(vecgrad.ones(3))
        self.body = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4, 2))
        self.note = "not a parameter"

    def forward(self, x):
        return self.body(x * self.scale)


def test_parameters_in_registration_order_with_dotted_names():
    block = Block()
    names = [name for name, _ in block.named_parameters()]
    assert names == ["scale", "body.0.weight", "body.0.bias", "body.3.weight", "body.3.bias"]
    assert [p.shape for p in block.parameters()] == [(3,), (4, 3), (4,), (2, 4), (2,)]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in block.parameters())
    assert [name for name, _ in block.named_modules()] == [
        "", "body", "body.0", "body.1", "body.2", "body.3"]
    assert list(block.children()) == [block.body]
    assert block.body[3] is list(block.body)[3] and len(block.body) == 4


def test_shared_parameter_is_listed_once():
    layer = nn.Linear(2, 2)
    model = nn.Sequential(layer, nn.ReLU(), layer)
    assert len(list(model.parameters())) == 2
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias"]


def test_recurse_false_lists_the_module_own_parameters_and_buffers():
    # PyTorch's parameters(recurse=False) (a custom module's own scale, not its
    # layers'): it was a TypeError here
    block = Block()
    block.register_buffer("count", vecgrad.zeros(1))
    assert [n for n, _ in block.named_parameters(recurse=False)] == ["scale"]
    assert list(block.parameters(recurse=False)) == [block.scale]
    assert [n for n, _ in block.named_buffers("m", recurse=False)] == ["m.count"]
    assert list(block.buffers(False)) == [block.count]
    assert len(list(block.parameters())) == len(list(block.parameters(recurse=True))) > 1


def test_a_shared_child_is_listed_once():
    # PyTorch's named_children: each module once, under its first name (it came twice)
    layer, act = nn.Linear(2, 2), nn.ReLU()
    model = nn.Sequential(layer, act, layer)
    assert [n for n, _ in model.named_children()] == ["0", "1"]
    assert list(model.children()) == [layer, act]
    assert len(model) == 3 and list(model) == [layer, act, layer]  # forward runs it twice


def test_state_dict_lists_shared_modules_and_tied_weights_under_every_path():
    # PyTorch's state_dict keys: a layer used twice and a tied weight appear under each
    # name, so the state goes to torch and back with strict loading.
    layer = nn.Linear(2, 2)
    model = nn.Sequential(layer, nn.ReLU(), layer, nn.Linear(2, 2))
    model[3].weight = layer.weight
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias",
                                        "3.weight", "3.bias"]
    state = {k: np.full(v.shape, i, np.float32) for i, (k, v) in
             enumerate(model.state_dict().items()) if k != "3.weight"}
    state["3.weight"] = state["0.weight"]
    assert model.load_state_dict(state).missing_keys == []
    np.testing.assert_array_equal(layer.bias.numpy(), [3.0, 3.0])  # the later key wins
    # a state listing each tensor once (as saved before) still loads strictly
    assert model.load_state_dict({"0.weight": np.ones((2, 2), np.float32),
                                  "0.bias": np.ones(2, np.float32),
                                  "3.bias": np.ones(2, np.float32)}).missing_keys == []
    assert model.load_state_dict({}, strict=False).missing_keys == list(model.state_dict())
    # a module inside itself does not loop
    loop = nn.Sequential(nn.Linear(1, 1))
    loop.add_module("again", loop)
    assert list(loop.state_dict()) == ["0.weight", "0.bias"]


def test_replacing_a_layer_keeps_its_place():
    # model.fc1 = nn.Linear(...) (a new head, a wider layer) must not move fc1 to the
    # end: a Sequential runs its modules in registration order.
    from collections import OrderedDict
    model = nn.Sequential(OrderedDict(fc1=nn.Linear(4, 8), act=nn.ReLU(), fc2=nn.Linear(8, 2)))
    model.fc1 = nn.Linear(4, 8)
    model.fc2.weight = nn.Parameter(vecgrad.zeros((2, 8)))
    assert [n for n, _ in model.named_children()] == ["fc1", "act", "fc2"]
    assert list(model.state_dict()) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert model(vecgrad.ones((1, 4))).shape == (1, 2)


def test_a_slice_of_a_sequential_keeps_the_names():
    # PyTorch's rule: model[1:] holds the modules under their names, so its state_dict
    # keys are the model's ("2.weight", "fc2.bias"); they were renumbered from 0.
    from collections import OrderedDict
    model = nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 3))
    tail = model[1:]
    assert [n for n, _ in tail.named_children()] == ["1", "2"]
    assert list(tail.state_dict()) == ["2.weight", "2.bias"]
    assert tail[-1] is model[2] and len(tail) == 2 and len(model[5:]) == 0
    named = nn.Sequential(OrderedDict(fc1=nn.Linear(4, 8), act=nn.ReLU(), fc2=nn.Linear(8, 2)))
    assert list(named[::2].state_dict()) == ["fc1.weight", "fc1.bias", "fc2.weight",
                                             "fc2.bias"]
    features = named[:-1]
    named.load_state_dict(features.state_dict(), strict=False)
    assert features(vecgrad.ones((1, 4))).shape == (1, 8)


def test_apply_requires_grad_and_zero_grad_as_in_pytorch():
    from vecgrad.nn import init
    inner = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    model = nn.Sequential(inner, nn.Linear(3, 2), inner)
    visited = []
    assert model.apply(visited.append) is model
    # children in order, each before its parent, a shared module once (torch's order)
    assert visited == [inner[0], inner[1], inner, model[1], model]
    model.apply(lambda m: init.zeros_(m.weight) if isinstance(m, nn.Linear) else None)
    assert all((m.weight.numpy() == 0).all() for m in (inner[0], model[1]))
    with pytest.raises(TypeError, match="apply: 3 is not callable"):
        model.apply(3)
    assert inner.requires_grad_(False) is inner
    assert [p.requires_grad for p in model.parameters()] == [False, False, True, True]
    model.requires_grad_()
    assert all(p.requires_grad for p in model.parameters())
    model(vecgrad.ones((1, 2))).sum().backward()
    opt = optim.SGD(model.parameters(), lr=0.1)
    grad = model[1].weight.grad
    model.zero_grad(set_to_none=False)
    assert model[1].weight.grad is not None and (model[1].weight.grad.numpy() == 0).all()
    model(vecgrad.ones((1, 2))).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert (model[1].weight.grad.numpy() == 0).all() and grad.shape == (2, 3)
    opt.zero_grad()
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_repr_of_deep_nesting_and_of_a_module_inside_itself():
    # The repr used to re-indent every child's whole text at each level and keep them
    # all: memory cubic in the depth (a 3000-deep chain was killed for memory), and a
    # module inside itself looped forever.
    model = nn.Linear(1, 1)
    for _ in range(1500):
        model = nn.Sequential(model)
    lines = repr(model).split("\n")
    assert len(lines) == 3001 and lines[1500] == " " * 3000 + (
        "(0): Linear(in_features=1, out_features=1, bias=True)") and lines[-1] == ")"
    loop = nn.Sequential(nn.Linear(1, 1))
    loop.add_module("again", loop)
    assert repr(loop).split("\n")[2] == "  (again): Sequential(...)"


def test_reassigning_attributes_updates_registration():
    block = Block()
    # A plain tensor over a parameter used to unregister it silently: the weight then
    # fell out of parameters() and state_dict. PyTorch refuses it, and so do we.
    with pytest.raises(TypeError, match=r"cannot assign Tensor as parameter 'scale' of Block "
                                        r"\(wrap it: nn.Parameter\(value\)"):
        block.scale = vecgrad.ones(3, requires_grad=True)
    with pytest.raises(TypeError, match="cannot assign str as child module 'body'"):
        block.body = "plain value"
    assert "scale" in dict(block.named_parameters()) and isinstance(block.body, nn.Sequential)
    block.scale = None  # None empties the slot (PyTorch's rule: it stays a parameter slot)
    assert "scale" not in dict(block.named_parameters()) and block.scale is None
    with pytest.raises(TypeError, match="as parameter 'scale'"):
        block.scale = "plain value"
    del block.scale  # del unregisters
    block.scale = "plain value"  # no longer a parameter slot: any value
    assert block.scale == "plain value"
    del block.body
    assert list(block.parameters()) == []


def test_setattr_before_super_init_is_a_clear_error():
    class Forgetful(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match=r"before Forgetful.__init__ called super\(\).__init__\(\)"):
        Forgetful()


def test_train_eval_toggles_dropout_everywhere():
    block = Block()
    x = vecgrad.ones((64, 3))
    assert block.training and all(m.training for m in block.modules())
    block.eval()
    assert not any(m.training for m in block.modules())
    first, second = block(x).numpy(), block(x).numpy()
    np.testing.assert_array_equal(first, second)  # deterministic without dropout
    block.train()
    assert all(m.training for m in block.modules())
    hidden = block.body[:3](x).numpy()
    assert (hidden == 0).any()  # dropout is active again


def test_zero_grad_clears_every_gradient():
    block = Block()
    block(vecgrad.ones((2, 3))).sum().backward()
    assert all(p.grad is not None for p in block.parameters())
    block.zero_grad()
    assert all(p.grad is None for p in block.parameters())


def test_repr_lists_the_tree():
    model = nn.Sequential(nn.Linear(2, 3), nn.LeakyReLU(), nn.Sequential(nn.Dropout(0.1)),
                          nn.Activation("sin"))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): LeakyReLU(alpha=0.01)\n"
        "  (2): Sequential(\n"
        "    (0): Dropout(p=0.1)\n"
        "  )\n"
        "  (3): Activation('sin')\n"
        ")"
    )
    assert repr(nn.Conv2d(1, 2, 3)) == (
        "Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1), padding=(0, 0), dilation=(1, 1), bias=True)"
    )
    assert repr(nn.Parameter(vecgrad.zeros(2))).startswith("Parameter containing:\n")


def test_forward_hooks_see_inputs_and_can_replace_output():
    layer = nn.Linear(2, 2)
    calls = []
    handle = layer.register_forward_hook(lambda m, inputs, out: calls.append((m, inputs, out)))
    x = vecgrad.ones((1, 2))
    out = layer(x)
    assert len(calls) == 1 and calls[0][0] is layer and calls[0][1][0] is x and calls[0][2] is out
    replace = layer.register_forward_hook(lambda m, inputs, out: out * 0)
    np.testing.assert_array_equal(layer(x).numpy(), [[0.0, 0.0]])
    replace.remove()
    handle.remove()
    handle.remove()  # removing twice is harmless
    np.testing.assert_array_equal(layer(x).numpy(), out.numpy())
    assert len(calls) == 2
    with pytest.raises(TypeError, match="not callable"):
        layer.register_forward_hook(3)


def test_state_dict_round_trip_into_a_fresh_model():
    vecgrad.manual_seed(1)
    source = Block()
    vecgrad.manual_seed(2)
    target = Block()
    state = source.state_dict()
    assert list(state) == [name for name, _ in source.named_parameters()]
    result = target.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (name, a), b in zip(source.named_parameters(), target.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    assert target.scale is not source.scale  # copied, not shared


def test_load_state_dict_names_every_mismatch_and_changes_nothing():
    model = Block()
    before = {n: p.numpy().copy() for n, p in model.named_parameters()}
    state = dict(model.state_dict())
    del state["body.3.bias"]
    state["body.9.weight"] = np.zeros(2)
    state["scale"] = np.zeros(4, dtype=np.float32)
    state["body.0.weight"] = np.zeros((4, 3), dtype=np.float64)
    with pytest.raises(nn.StateDictError) as info:
        model.load_state_dict(state)
    message = str(info.value)
    for piece in ("missing keys: body.3.bias", "unexpected keys: body.9.weight",
                  "scale: shape (4,) in the state, (3,) in the model",
                  "body.0.weight: dtype float64 in the state, float32 in the model"):
        assert piece in message
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(p.numpy(), before[name])


def test_load_state_dict_names_a_foreign_tensor_type():
    # A torch.Tensor used to be reported as "got Tensor" next to "expected a Tensor".
    import array
    with pytest.raises(nn.StateDictError, match=r"bias: expected a vecgrad Tensor or numpy "
                                                r"array, got array\.array"):
        nn.Linear(2, 2).load_state_dict({"weight": np.zeros((2, 2), np.float32),
                                         "bias": array.array("f", [0.0, 0.0])})


def test_non_strict_load_reports_what_it_skipped():
    model = Block()
    result = model.load_state_dict({"scale": np.full(3, 2.0, np.float32), "extra": np.zeros(1)},
                                   strict=False)
    assert result.unexpected_keys == ["extra"] and "body.0.weight" in result.missing_keys
    np.testing.assert_array_equal(model.scale.numpy(), [2.0, 2.0, 2.0])
    with pytest.raises(nn.StateDictError, match=r"scale: shape \(2,\)"):
        model.load_state_dict({"scale": np.zeros(2, np.float32)}, strict=False)


def test_to_dtype_keeps_objects_sharing_and_values():
    layer = nn.Linear(2, 2)
    model = nn.Sequential(layer, layer)
    weight = layer.weight
    values = weight.numpy()
    opt = optim.SGD(model.parameters(), lr=0.5)  # built before the cast: must keep working
    model.to(vecgrad.float64)
    assert all(p.dtype == np.float64 and p.requires_grad for p in model.parameters())
    assert model[0].weight is model[1].weight is weight
    np.testing.assert_array_equal(weight.numpy(), values.astype(np.float64))
    model(vecgrad.ones((1, 2), dtype=vecgrad.float64)).sum().backward()
    opt.step()
    assert not np.array_equal(weight.numpy(), values)



def test_double_and_float_cast_like_pytorch():
    # module.double() / .float() (PyTorch's spellings) were AttributeErrors
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2), nn.GRU(2, 3))
    assert model.double() is model
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert model[1].running_var.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64
    out, _ = model[2](vecgrad.ones((4, 1, 2), dtype=vecgrad.float64))
    assert out.dtype == np.float64
    assert model.float() is model
    assert all(p.dtype == np.float32 and p.requires_grad for p in model.parameters())

@pytest.mark.parametrize("dtype", [vecgrad.int64, "int64", vecgrad.bool_])
def test_to_a_non_float_dtype_is_refused_before_anything_changes(dtype):
    # It used to cast the first weight to int64 (and drop its requires_grad) before failing.
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    with pytest.raises(TypeError, match="Module.to: parameters and buffers can only be cast "
                                        "to a float dtype"):
        model.to(dtype)
    assert all(p.dtype == np.float32 and p.requires_grad for p in model.parameters())
    assert model[1].running_mean.dtype == np.float32
    assert model(vecgrad.ones((3, 2))).shape == (3, 2)


def test_deepcopy_of_a_model(device):
    # copy.deepcopy(model) (best-model snapshots, target networks) failed deep inside
    # copy with "cannot pickle '_thread._local' object" (cpu) or 'PooledBuffer' (OpenCL).
    import copy
    layer = nn.Linear(2, 3)
    model = nn.Sequential(layer, nn.BatchNorm1d(3), layer.__class__(3, 2)).to(device)
    model[2].weight = nn.Parameter(vecgrad.ones((2, 3), device=device))
    model.tied = model[2].weight
    model(vecgrad.ones((4, 2), device=device)).sum().backward()
    clone = copy.deepcopy(model)
    for (name, a), (_, b) in zip(model.named_parameters(), clone.named_parameters()):
        assert type(b) is nn.Parameter and b.requires_grad and b.device == a.device, name
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
    assert clone.tied is clone[2].weight and clone.tied is not model.tied
    assert clone[1].num_batches_tracked.dtype == np.int64 and not clone[1].running_mean.requires_grad
    with vecgrad.no_grad():
        clone[0].weight.add_(1.0)  # its own storage
    assert not np.array_equal(clone[0].weight.numpy(), model[0].weight.numpy())
    opt = optim.SGD(clone.parameters(), lr=0.1)
    clone(vecgrad.ones((4, 2), device=device)).sum().backward()
    opt.step()
    with pytest.raises(RuntimeError, match="deepcopy: only leaf tensors can be deep-copied"):
        copy.deepcopy(model[0].weight * 2)


def test_to_device(device):
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU()).to(device)
    assert all(p.device == device_name(device) for p in model.parameters())
    out = model(vecgrad.ones((1, 2), device=device))
    assert out.device == device_name(device)


def test_to_the_same_device_keeps_parameters_linked_to_their_state_dict(device):
    # .to() onto the device and dtype a parameter already has changes nothing: the
    # state_dict tensors still alias it, so an edit through them is seen by graphs.
    model = nn.Linear(2, 1).to(device)
    weight = model.weight
    state = model.state_dict()
    buffer_before = weight._buf
    model.to(device).to(vecgrad.float32)
    assert weight._buf is buffer_before
    out = (model(vecgrad.ones((1, 2), device=device)) * weight.sum()).sum()
    with vecgrad.no_grad():
        state["weight"].add_(1.0)
    np.testing.assert_array_equal(weight.numpy(), state["weight"].numpy())
    with pytest.raises(RuntimeError, match="modified in place"):
        out.backward()


def test_model_and_optimizer_checkpoint_round_trip(tmp_path, device):
    """Train, save model + optimizer, restore into fresh objects, continue identically."""
    from vecgrad.nn import functional as F

    x = vecgrad.tensor(np.random.default_rng(0).standard_normal((8, 3)), dtype=vecgrad.float32,
                       device=device)
    y = vecgrad.tensor([0, 1, 1, 0, 1, 0, 0, 1], dtype=vecgrad.int64, device=device)

    def train(model, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()

    vecgrad.manual_seed(5)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).to(device)
    opt = optim.Adam(model.parameters(), lr=0.01)
    train(model, opt, 3)
    vecgrad.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3},
                 tmp_path / "run.npz")

    vecgrad.manual_seed(99)
    fresh = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).to(device)
    fresh_opt = optim.Adam(fresh.parameters(), lr=0.5)
    checkpoint = vecgrad.load(tmp_path / "run.npz")
    assert checkpoint["epoch"] == 3
    fresh.load_state_dict(checkpoint["model"])
    fresh_opt.load_state_dict(checkpoint["optimizer"])
    train(model, opt, 3)
    train(fresh, fresh_opt, 3)
    for a, b in zip(model.parameters(), fresh.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_module_list_and_module_dict_as_in_pytorch():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
            self.heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 3)})

        def forward(self, x):
            for layer in self.layers:
                x = layer(x).tanh()
            return self.heads["a"](x), self.heads["b"](x)

    net = Net()
    assert list(net.state_dict()) == [  # PyTorch's keys for the same model
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
        "layers.2.weight", "layers.2.bias", "heads.a.weight", "heads.a.bias",
        "heads.b.weight", "heads.b.bias"]
    assert [a.shape for a in net(vecgrad.ones((4, 2)))] == [(4, 1), (4, 3)]
    layers = net.layers
    first, last = layers[0], layers[-1]
    del layers[1]
    assert len(layers) == 2 and [n for n, _ in layers.named_children()] == ["0", "1"]
    assert layers[1] is last and list(layers[:1]) == [first]
    layers.insert(0, nn.ReLU())
    layers.append(nn.Tanh()).extend([nn.Sigmoid()])
    layers[1] = nn.Identity()
    assert [type(m).__name__ for m in layers] == ["ReLU", "Identity", "Linear", "Tanh",
                                                  "Sigmoid"]
    with pytest.raises(IndexError, match="ModuleList: index 5 is out of range for 5 modules"):
        layers[5]
    with pytest.raises(TypeError, match="ModuleList has no forward"):
        layers(vecgrad.ones(2))
    heads = net.heads
    assert heads.keys() == ["a", "b"] and "a" in heads and len(heads) == 2
    heads["c"] = nn.Linear(2, 2)
    assert heads.pop("a") is not None and list(heads) == ["b", "c"]
    with pytest.raises(KeyError, match="ModuleDict has no module 'z'"):
        heads["z"]
    with pytest.raises(KeyError, match="attribute 'training' already exists"):
        heads["training"] = nn.ReLU()
    with pytest.raises(KeyError, match="without '.'"):
        heads["x.y"] = nn.ReLU()
    assert heads.training is True


def test_sequential_item_assignment_deletion_and_insertion():
    # model[-1] = nn.Linear(...) (a new head) was "does not support item assignment".
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 10))
    model[-1] = nn.Linear(8, 2)
    assert model(vecgrad.ones((1, 4))).shape == (1, 2) and list(model.state_dict())[-1] == "2.bias"
    model.insert(1, nn.Dropout(0.1))
    assert [type(m).__name__ for m in model] == ["Linear", "Dropout", "ReLU", "Linear"]
    del model[1]
    assert [n for n, _ in model.named_children()] == ["0", "1", "2"]
    model.extend([nn.Tanh()])
    del model[-2:]
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU"]
    with pytest.raises(IndexError, match="Sequential: index 2 is out of range for 2 modules"):
        model[2] = nn.ReLU()
    with pytest.raises(TypeError, match="must be a Module"):
        model[0] = "layer"


def test_sequential_insert_checks_its_index_as_pytorch():
    # insert(10, m) appended silently and insert(-10, m) put m first (PyTorch: IndexError)
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    for index in (3, -3):
        with pytest.raises(IndexError, match=f"index {index} is out of range for 2"):
            model.insert(index, nn.Tanh())
    with pytest.raises(TypeError, match="index must be an int"):
        model.insert(1.0, nn.Tanh())
    with pytest.raises(TypeError, match="expected a Module"):
        model.insert(0, "layer")
    assert len(model) == 2
    model.insert(2, nn.Tanh()).insert(-3, nn.Identity())
    assert [type(m).__name__ for m in model] == ["Identity", "Linear", "ReLU", "Tanh"]


@pytest.mark.parametrize("name, message, error", [
    ("a.b", "without '.'", KeyError), ("", "non-empty", KeyError), (3, "must be a str", TypeError),
    ("training", "already exists", KeyError), ("forward", "already exists", KeyError),
])
def test_register_parameter_checks_the_name_as_pytorch_does(name, message, error):
    # It took any name: "a.b" made a state_dict key that reads as a sub-module's,
    # "training" replaced the train/eval flag with the Parameter.
    module = nn.Module()
    with pytest.raises(error, match=message):
        module.register_parameter(name, nn.Parameter(vecgrad.ones(1)))
    assert module.training is True and list(module.state_dict()) == []
    module.register_parameter("w", None)  # an empty slot can be filled, and emptied
    module.register_parameter("w", nn.Parameter(vecgrad.ones(2)))
    assert list(module.state_dict()) == ["w"] and module.w.shape == (2,)


def test_state_dict_prefix_and_keep_vars_as_pytorch():
    torch = pytest.importorskip("torch")
    ours, theirs = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3)), \
        torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    assert list(ours.state_dict(prefix="enc.")) == list(theirs.state_dict(prefix="enc."))
    kept = ours.state_dict(keep_vars=True)
    assert kept["0.weight"] is ours[0].weight and kept["0.weight"].requires_grad
    assert kept["1.running_mean"] is ours[1].running_mean
    assert not ours.state_dict()["0.weight"].requires_grad  # detached by default
    with pytest.raises(TypeError, match="prefix"):
        ours.state_dict(prefix=None)


def test_named_modules_and_parameters_remove_duplicate_as_pytorch():
    torch = pytest.importorskip("torch")

    def build(lib):
        shared = lib.Linear(2, 2)
        return lib.Sequential(shared, lib.ReLU(), lib.Sequential(shared, lib.BatchNorm1d(2)))

    ours, theirs = build(nn), build(torch.nn)
    for flag in (True, False):
        assert [n for n, _ in ours.named_modules(remove_duplicate=flag)] == \
            [n for n, _ in theirs.named_modules(remove_duplicate=flag)]
        assert [n for n, _ in ours.named_modules(prefix="m", remove_duplicate=flag)] == \
            [n for n, _ in theirs.named_modules(prefix="m", remove_duplicate=flag)]
        assert [n for n, _ in ours.named_parameters(remove_duplicate=flag)] == \
            [n for n, _ in theirs.named_parameters(remove_duplicate=flag)]
        assert [n for n, _ in ours.named_buffers(remove_duplicate=flag)] == \
            [n for n, _ in theirs.named_buffers(remove_duplicate=flag)]
    memo = set()
    assert [n for n, _ in ours.named_modules(memo)] == ["", "0", "1", "2", "2.1"]
    assert ours[0] in memo and len(memo) == 5
    cycle = nn.Sequential(nn.Linear(1, 1))
    cycle.append(cycle)  # a module inside itself ends the walk, with or without duplicates
    assert [n for n, _ in cycle.named_modules(remove_duplicate=False)] == ["", "0"]


def test_train_calls_an_overriding_submodules_train_as_pytorch():
    torch = pytest.importorskip("torch")

    def build(lib):
        class FrozenNorm(lib.BatchNorm1d):  # the usual "keep BatchNorm in eval" idiom
            def train(self, mode=True):
                super().train(False)
                return self

        return lib.Sequential(lib.Linear(2, 2), lib.Sequential(FrozenNorm(2), lib.Dropout()))

    ours, theirs = build(nn), build(torch.nn)
    for model in (ours, theirs):
        assert model.train() is model
    assert [m.training for m in ours.modules()] == [m.training for m in theirs.modules()] \
        == [True, True, True, False, True]
    for bad in ("no", 0, None):
        with pytest.raises(ValueError, match="bool"):
            ours.train(bad)
        with pytest.raises(ValueError):
            theirs.train(bad)
    assert ours.eval() is ours and not any(m.training for m in ours.modules())


def test_module_to_takes_pytorchs_argument_forms():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    weight, opt = model[0].weight, optim.SGD(model.parameters(), lr=0.1)
    assert model.to("cpu", vecgrad.float64) is model
    assert weight.dtype == np.float64 and model[1].running_mean.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64  # integer buffers stay
    model.to(dtype=vecgrad.float32)
    assert weight.dtype == np.float32 and model[0].weight is weight
    model.to(vecgrad.zeros(1, dtype=vecgrad.float64))  # another tensor's device and dtype
    assert weight.dtype == np.float64
    model.to(device="cpu", dtype="float32")
    assert weight.dtype == np.float32 and weight.device == "cpu"
    model(vecgrad.randn(4, 2)).sum().backward()
    opt.step()  # the optimizer built before still holds the same Parameters
    for bad in [("cpu", "cpu"), (vecgrad.float32, vecgrad.float64),
                (vecgrad.zeros(1), "cpu"), ("cpu", vecgrad.float32, 1)]:
        with pytest.raises(TypeError):
            model.to(*bad)
    with pytest.raises(TypeError, match="float dtype"):
        model.to("cpu", vecgrad.int64)
    assert weight.dtype == np.float32  # nothing changed


# -------------------------------------------------------------- ParameterList (PyTorch's)
def test_parameter_list_registers_like_pytorch(device):
    torch = pytest.importorskip("torch")
    import vecgrad
    from vecgrad import nn

    class Ours(nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = nn.ParameterList([nn.Parameter(vecgrad.ones(2, 3)), vecgrad.zeros(3)])
            self.lin = nn.Linear(3, 1)

        def forward(self, x):
            return self.lin(x @ self.ws[0] + self.ws[-1])

    class Theirs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2, 3)),
                                              torch.zeros(3)])
            self.lin = torch.nn.Linear(3, 1)

    m = Ours().to(device)
    assert list(m.state_dict()) == list(Theirs().state_dict())
    assert all(p.requires_grad and p.device == m.lin.weight.device for p in m.ws)
    m(vecgrad.ones(4, 2, device=device)).sum().backward()
    assert m.ws[1].grad.shape == (3,) and len(m.ws) == 2
    m.ws.append(vecgrad.ones(1))
    m.ws[2] = nn.Parameter(vecgrad.zeros(5))
    assert [p.shape for p in m.ws] == [(2, 3), (3,), (5,)]
    assert [p.shape for p in m.ws[1:]] == [(3,), (5,)]
    assert "ws.2" in m.state_dict()


def test_parameter_list_entries_leave_out_attribute_parameters():
    # len counted a Parameter set as an attribute (2 here) and iteration yielded it
    from vecgrad import nn

    torch = pytest.importorskip("torch")
    ours = nn.ParameterList([vecgrad.ones(1)])
    ours.extra = nn.Parameter(vecgrad.ones(2))
    ours.append(vecgrad.zeros(3))
    theirs = torch.nn.ParameterList([torch.ones(1)])
    theirs.extra = torch.nn.Parameter(torch.ones(2))
    theirs.append(torch.zeros(3))
    assert len(ours) == len(theirs) == 2
    assert [tuple(p.shape) for p in ours] == [tuple(p.shape) for p in theirs] == [(1,), (3,)]
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["0", "extra", "1"]
    assert ours[-1].shape == (3,)


@pytest.mark.parametrize("call, error, match", [
    (lambda nn: nn.ParameterList([1.0]), TypeError, "expected a Parameter or a Tensor, got float"),
    (lambda nn: nn.ParameterList()[0], IndexError, "index 0 is out of range for 0"),
    (lambda nn: nn.ParameterList().extend(nn.Parameter([1.0])), TypeError, "use append"),
    (lambda nn: nn.ParameterList()(1), TypeError, "ParameterList has no forward"),
])
def test_parameter_list_errors(call, error, match):
    from vecgrad import nn

    with pytest.raises(error, match=match):
        call(nn)


def test_repr_lays_out_extra_repr_and_children_as_pytorch():
    torch = pytest.importorskip("torch")

    def build(lib):
        class WithExtra(lib.Module):
            def __init__(self):
                super().__init__()
                self.proj = lib.Linear(2, 3)

            def extra_repr(self):
                return "heads=4"

        class TwoLines(lib.Module):
            def extra_repr(self):
                return "a=1\nb=2"

        return lib.Sequential(WithExtra(), TwoLines(), lib.Sequential(TwoLines()), lib.ReLU())

    assert repr(build(nn)) == repr(build(torch.nn))


@pytest.mark.parametrize("name, error", [(3, TypeError), (None, TypeError), ("", KeyError),
                                         ("a.b", KeyError)])
def test_module_and_buffer_names_raise_pytorchs_errors(name, error):
    torch = pytest.importorskip("torch")
    for register in (lambda m, lib: m.add_module(name, lib.nn.ReLU()),
                     lambda m, lib: m.register_buffer(name, lib.zeros(1)),
                     lambda m, lib: m.register_parameter(name, None)):
        for lib in (vecgrad, torch):
            with pytest.raises(error):
                register(lib.nn.Module(), lib)
    with pytest.raises(TypeError, match="must be a str, got int"):
        nn.ModuleDict()[1] = nn.ReLU()


def test_containers_pop_and_take_numpy_integer_indices_as_pytorch():
    torch = pytest.importorskip("torch")

    def shapes(container):
        return [(key, tuple(p.shape)) for key, p in container.state_dict().items()]

    for lib in (nn, torch.nn):
        layers = lib.ModuleList([lib.Linear(1, n) for n in (1, 2, 3, 4)])
        assert layers.pop(1).out_features == 2
        assert layers[np.int64(1)].out_features == 3 and layers[np.int64(-1)].out_features == 4
        model = lib.Sequential(lib.Linear(1, 2), lib.ReLU(), lib.Linear(2, 3))
        assert isinstance(model.pop(1), lib.ReLU)
        assert model[np.int64(1)].out_features == 3
        model[np.int64(0)] = lib.Linear(1, 5)
        del model[np.int64(0)]
        params = lib.ParameterList([lib.Parameter(vecgrad.ones(2) if lib is nn
                                                  else torch.ones(2))])
        assert tuple(params[np.int64(0)].shape) == (2,)
        if lib is nn:
            ours = (shapes(layers), shapes(model))
        else:
            assert ours == (shapes(layers), shapes(model))
    with pytest.raises(TypeError, match="indices must be ints"):
        nn.ModuleList([nn.ReLU()])[np.bool_(True)]
    with pytest.raises(IndexError, match="out of range for 1 modules"):
        nn.Sequential(nn.ReLU()).pop(np.int64(3))


def test_load_state_dict_errors_are_runtime_errors_as_in_pytorch():
    torch = pytest.importorskip("torch")
    for lib, make in ((nn, vecgrad.zeros), (torch.nn, torch.zeros)):
        model = lib.Linear(2, 3)
        for state in ({"weight": make(3, 2)}, {**model.state_dict(), "weight": make(2, 2)}):
            with pytest.raises(RuntimeError, match="bias|weight"):
                model.load_state_dict(state)
    with pytest.raises(ValueError):  # and still a ValueError, as before
        nn.Linear(2, 3).load_state_dict({})


def test_a_parameter_set_to_none_keeps_its_slot_as_in_pytorch():
    torch = pytest.importorskip("torch")
    for lib, make in ((nn, vecgrad.zeros), (torch.nn, torch.zeros)):
        layer = lib.Linear(2, 3)
        layer.weight = None
        assert layer.weight is None and [n for n, _ in layer.named_parameters()] == ["bias"]
        assert list(layer.state_dict()) == ["bias"]
        with pytest.raises(TypeError, match="parameter 'weight'"):
            layer.weight = make(3, 2)  # still a parameter slot: a plain Tensor is refused
        layer.weight = lib.Parameter(make(3, 2))
        assert list(layer.state_dict()) == ["weight", "bias"]  # back in its place
        no_bias = lib.Linear(2, 3, bias=False)
        assert no_bias.bias is None
        with pytest.raises(TypeError):
            no_bias.bias = make(3)
        no_bias.bias = lib.Parameter(make(3))
        assert list(no_bias.state_dict()) == ["weight", "bias"]
    layer = nn.Linear(2, 3, bias=False).to(vecgrad.float64)  # .to, load, zero_grad skip the slot
    layer.load_state_dict({"weight": np.ones((3, 2))})
    layer.zero_grad()
    assert layer(vecgrad.ones(1, 2, dtype=vecgrad.float64)).tolist() == [[2.0, 2.0, 2.0]]


def test_forward_pre_hook_as_pytorch():
    torch = pytest.importorskip("torch")
    results = []
    for lib, make in ((nn, vecgrad.tensor), (torch.nn, torch.tensor)):
        layer, calls = lib.Linear(2, 1), []
        with (vecgrad.no_grad() if lib is nn else torch.no_grad()):
            layer.weight.copy_(make([[1.0, 10.0]]))
            layer.bias.zero_()
        seen = layer.register_forward_pre_hook(lambda m, args: calls.append(len(args)))
        double = layer.register_forward_pre_hook(lambda m, args: args[0] * 2)  # not a tuple
        out = [layer(make([[1.0, 2.0]])).tolist()]
        double.remove()
        double.remove()  # a second remove does nothing
        out.append(layer(make([[1.0, 2.0]])).tolist())
        seen.remove()
        results.append((out, calls))
    assert results[0] == results[1] == ([[[42.0]], [[21.0]]], [1, 1])
    with pytest.raises(TypeError, match="not callable"):
        nn.ReLU().register_forward_pre_hook(3)


def test_get_submodule_and_get_parameter_as_pytorch():
    torch = pytest.importorskip("torch")
    for lib in (nn, torch.nn):
        model = lib.Sequential(lib.Sequential(lib.Linear(2, 3), lib.ReLU()), lib.Linear(3, 1))
        assert model.get_submodule("") is model
        assert model.get_submodule("0.0") is model[0][0]
        assert model.get_parameter("0.0.bias") is model[0][0].bias
        assert model.get_parameter("1.weight") is model[1].weight
        for bad in ("0.5", "2", "0.0.weight"):
            with pytest.raises(AttributeError):
                model.get_submodule(bad)
        for bad in ("0.0.nope", "0.1.weight", "1.nope.weight"):
            with pytest.raises(AttributeError):
                model.get_parameter(bad)
    with pytest.raises(AttributeError, match=r"Sequential has no sub-module '5'; it has \['0', '1'\]"):
        model_ours = nn.Sequential(nn.Linear(1, 1), nn.ReLU())
        model_ours.get_submodule("5")


def test_dir_lists_registered_names_as_pytorch():
    torch = pytest.importorskip("torch")
    for lib in (nn, torch.nn):
        model = lib.Sequential(lib.BatchNorm1d(2))
        model.add_module("head", lib.Linear(2, 1))
        names = dir(model)
        assert "head" in names and "0" not in names and "forward" in names
        assert {"weight", "bias", "running_mean"} <= set(dir(model[0]))


def test_sequential_add_and_multiply_as_pytorch():
    torch = pytest.importorskip("torch")
    results = []
    for lib in (nn, torch.nn):
        a, b = lib.Sequential(lib.Linear(1, 2), lib.ReLU()), lib.Sequential(lib.Linear(2, 1))
        both = a + b
        twice = 2 * a
        assert both[2] is b[0] and twice[0] is twice[2] is a[0]  # the same objects
        a += b
        b *= 3
        results.append([list(m.state_dict()) for m in (both, twice, a, b)]
                       + [len(list(twice.parameters())), len(a), len(b)])
        with pytest.raises(ValueError):
            a * 0
        with pytest.raises(TypeError):
            a * 1.5
    assert results[0] == results[1]


def test_module_cpu_and_register_module_as_pytorch(device):
    model = nn.Sequential(nn.Linear(2, 1), nn.BatchNorm1d(1)).to(device)
    weight = model[0].weight
    assert model.cpu() is model and model[0].weight is weight
    assert weight.device == "cpu" and model[1].running_var.device == "cpu"
    model.register_module("head", nn.ReLU())
    assert list(model._modules) == ["0", "1", "head"]
    with pytest.raises(KeyError):
        model.register_module("a.b", nn.ReLU())


def test_parameter_dict_registers_like_pytorch(device):
    torch = pytest.importorskip("torch")

    def build(lib, make):
        class Model(lib.Module):
            def __init__(self):
                super().__init__()
                self.scales = lib.ParameterDict({"z": lib.Parameter(make(2)), "a": make(3)})
                self.lin = lib.Linear(2, 1)

        return Model()

    ours, theirs = build(nn, vecgrad.ones).to(device), build(torch.nn, torch.ones)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == \
        ["scales.a", "scales.z", "lin.weight", "lin.bias"]  # (a plain dict: sorted)
    for model, make in ((ours, vecgrad.zeros), (theirs, torch.zeros)):
        scales = model.scales
        assert isinstance(scales["a"], type(model.lin.weight)) and scales["a"].requires_grad
        scales["b"] = make(1)
        scales.update([("c", make(4))])
        assert scales.pop("z").shape == (2,)
        del scales["c"]
        assert list(scales.keys()) == ["a", "b"] and len(scales) == 2 and "a" in scales
        assert "z" not in scales and scales.get("z") is None and list(scales) == ["a", "b"]
        assert [tuple(p.shape) for p in scales.values()] == [(3,), (1,)]
        assert [k for k, _ in scales.items()] == ["a", "b"]
    assert ours.scales["a"].device == ours.lin.weight.device
    (ours.scales["a"].sum() * 2).backward()
    assert ours.scales["a"].grad.tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(KeyError, match="has no parameter 'q'"):
        ours.scales["q"]
    with pytest.raises(TypeError, match="expected a Parameter or a Tensor"):
        ours.scales["q"] = 1.0
    with pytest.raises(TypeError, match="must be a str"):
        ours.scales[3] = vecgrad.ones(1)
    with pytest.raises(TypeError, match="ParameterDict has no forward"):
        ours.scales(1)


def test_load_state_dict_result_prints_as_pytorchs():
    torch = pytest.importorskip("torch")
    for lib in (nn, torch.nn):
        model = lib.Linear(2, 1)
        clean = model.load_state_dict(model.state_dict())
        assert repr(clean) == "<All keys matched successfully>" and clean == ([], [])
        partial = model.load_state_dict({"bias": model.state_dict()["bias"]}, strict=False)
        assert repr(partial).endswith("(missing_keys=['weight'], unexpected_keys=[])")
        assert partial.missing_keys == ["weight"]


def test_module_list_repr_merges_equal_neighbours_as_pytorch():
    torch = pytest.importorskip("torch")

    def build(lib):
        class Block(lib.Module):
            def __init__(self, width):
                super().__init__()
                self.layers = lib.ModuleList([lib.Linear(width, width) for _ in range(3)])
                self.act = lib.ReLU()

        return lib.Sequential(
            lib.ModuleList([Block(4), Block(4), Block(5), lib.ReLU(), lib.ReLU()]),
            lib.ModuleList(), lib.ModuleList([lib.Tanh()]))

    assert repr(build(nn)) == repr(build(torch.nn))
    loop = nn.ModuleList([nn.ReLU()])
    loop.append(nn.Sequential(loop))  # a ModuleList inside itself still ends
    assert "(...)" in repr(loop)  # (finite: the cycle is named, not followed)
    deep = nn.ModuleList([nn.ReLU()])
    for _ in range(300):  # deeper than the merging goes: printed child by child
        deep = nn.ModuleList([deep])
    assert repr(deep).count("ReLU()") == 1
