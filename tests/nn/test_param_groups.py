"""Optimizer parameter groups: per-group hyperparameters, add_param_group, schedules
per group, state_dict round trips (also through checkpoint files), torch when installed."""

import numpy as np
import pytest

import vecgrad
from vecgrad import optim

from .helpers import give_grad, param

RNG = np.random.default_rng(5)
GRADS = [RNG.standard_normal((2, 3)) for _ in range(4)]


def _run(opt, tensors, steps=3):
    for k in range(steps):
        opt.zero_grad()
        for i, t in enumerate(tensors):
            give_grad(t, GRADS[(k + i) % 4])
        opt.step()


@pytest.mark.parametrize("cls, defaults, overrides", [
    (optim.SGD, {"lr": 0.1}, {"lr": 0.5, "momentum": 0.9, "weight_decay": 0.1}),
    (optim.Adam, {"lr": 0.01}, {"lr": 0.1, "betas": (0.5, 0.9), "eps_inside_sqrt": False}),
    (optim.RMSProp, {}, {"beta": 0.5, "lr": 0.05}),
    (optim.AdaGrad, {"weight_decay": 0.2}, {"lr": 0.3}),
])
def test_each_group_steps_like_its_own_optimizer(device, cls, defaults, overrides):
    a, b = param(GRADS[0], device), param(GRADS[1], device)
    grouped = cls([{"params": [a]}, {"params": [b], **overrides}], **defaults)
    a2, b2 = param(GRADS[0], device), param(GRADS[1], device)
    alone_a, alone_b = cls([a2], **defaults), cls([b2], **{**defaults, **overrides})
    _run(grouped, [a, b])
    for k in range(3):  # the same gradients, one optimizer per tensor
        for opt, t, i in ((alone_a, a2, 0), (alone_b, b2, 1)):
            opt.zero_grad()
            give_grad(t, GRADS[(k + i) % 4])
            opt.step()
    np.testing.assert_array_equal(a.numpy(), a2.numpy())
    np.testing.assert_array_equal(b.numpy(), b2.numpy())
    assert grouped.param_groups[1]["lr"] == overrides["lr"]
    assert grouped.param_groups[0]["lr"] == alone_a.lr


def test_add_param_group_attributes_and_errors():
    a, b, c = (param(np.zeros(3), "cpu") for _ in range(3))
    opt = optim.SGD([a], lr=0.1, momentum=0.5)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert opt.param_groups[1]["momentum"] == 0.5 and opt.params == [a, b]
    opt.lr = 0.2  # an attribute sets every group (the first is what it reads)
    assert [g["lr"] for g in opt.param_groups] == [0.2, 0.2] and opt.lr == 0.2
    with pytest.raises(ValueError, match="parameter 0 of parameter group 2 appears more than once"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match=r"unknown hyperparameter\(s\) \['betas'\]"):
        opt.add_param_group({"params": [c], "betas": (0.9, 0.99)})
    with pytest.raises(ValueError, match="momentum must be in"):
        opt.add_param_group({"params": [c], "momentum": 2.0})
    with pytest.raises(ValueError, match="group 2 has an empty parameter list"):
        opt.add_param_group({"params": []})
    with pytest.raises(TypeError, match="not a mix"):
        optim.Adam([a, {"params": [b]}])
    with pytest.raises(TypeError, match="must be a dict with a 'params' entry"):
        opt.add_param_group([c])
    assert len(opt.param_groups) == 2 and len(opt.state) == 2


def test_schedule_acts_on_every_group():
    a, b = param(np.zeros(2), "cpu"), param(np.zeros(2), "cpu")
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    schedule = optim.StepDecay(opt, step_size=2, gamma=0.5)
    for _ in range(4):
        schedule.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.025, 0.25])
    other_opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 7.0}], lr=3.0)
    other = optim.StepDecay(other_opt, step_size=2, gamma=0.5)
    other.load_state_dict(schedule.state_dict())
    assert [g["lr"] for g in other_opt.param_groups] == pytest.approx([0.025, 0.25])
    one_group = optim.StepDecay(optim.SGD([a], lr=1.0), step_size=2)
    with pytest.raises(ValueError, match="another number of parameter groups"):
        one_group.load_state_dict(schedule.state_dict())


def test_state_dict_round_trip_through_a_checkpoint(device, tmp_path):
    a, b = param(GRADS[0], device), param(GRADS[1], device)
    opt = optim.Adam([{"params": [a], "lr": 0.05}, {"params": [b], "betas": (0.8, 0.9)}])
    _run(opt, [a, b], steps=2)
    saved = opt.state_dict()
    assert [g["params"] for g in saved["param_groups"]] == [[0], [1]]
    vecgrad.save({"a": a, "b": b, "opt": saved}, tmp_path / "ck.npz")
    loaded = vecgrad.load(tmp_path / "ck.npz")
    a2, b2 = param(loaded["a"].numpy(), device), param(loaded["b"].numpy(), device)
    restored = optim.Adam([{"params": [a2]}, {"params": [b2]}], lr=0.5)
    restored.load_state_dict(loaded["opt"])
    assert restored.param_groups[0]["lr"] == 0.05 and restored.param_groups[1]["betas"] == (0.8, 0.9)
    _run(opt, [a, b], steps=2)
    _run(restored, [a2, b2], steps=2)
    np.testing.assert_array_equal(a2.numpy(), a.numpy())
    np.testing.assert_array_equal(b2.numpy(), b.numpy())
    flat = optim.Adam([a2, b2])
    with pytest.raises(ValueError, match="2 parameter groups, this optimizer 1"):
        flat.load_state_dict(saved)


def test_single_group_state_of_earlier_versions_loads():
    a = param(GRADS[0], "cpu")
    opt = optim.SGD([a], lr=0.3, momentum=0.9)
    _run(opt, [a], steps=1)
    state = opt.state_dict()
    legacy = {"optimizer": "SGD", "hyper": {k: v for k, v in state["param_groups"][0].items()
                                            if k != "params"}, "state": state["state"]}
    other = optim.SGD([param(GRADS[0], "cpu")], lr=0.01)
    other.load_state_dict(legacy)
    assert other.lr == 0.3 and other.momentum == 0.9 and other.state[0]["step"] == 1


def test_adam_groups_match_torch():
    torch = pytest.importorskip("torch")
    values = [RNG.standard_normal((2, 3)), RNG.standard_normal(4)]
    ours = [param(v, "cpu") for v in values]
    theirs = [torch.tensor(v, requires_grad=True) for v in values]
    opt = optim.Adam([{"params": [ours[0]], "lr": 0.1}, {"params": [ours[1]],
                      "weight_decay": 0.1}], lr=0.01, eps_inside_sqrt=False)
    topt = torch.optim.Adam([{"params": [theirs[0]], "lr": 0.1},
                             {"params": [theirs[1]], "weight_decay": 0.1}], lr=0.01)
    for k in range(3):
        grads = [RNG.standard_normal(v.shape) for v in values]
        opt.zero_grad()
        topt.zero_grad()
        for o, t, g in zip(ours, theirs, grads):
            give_grad(o, g)
            t.grad = torch.from_numpy(g)
        opt.step()
        topt.step()
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_sgd_lr_may_come_from_every_group_only():
    # optim.SGD([{"params": a, "lr": 0.1}, {"params": b, "lr": 0.01}]) is PyTorch code;
    # it was "missing 1 required positional argument: 'lr'".
    a, b = param([1.0], "cpu"), param([2.0], "cpu")
    opt = optim.SGD([{"params": [a], "lr": 0.1}, {"params": [b], "lr": 0.01, "momentum": 0.5}])
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    give_grad(a, [1.0])
    give_grad(b, [1.0])
    opt.step()
    np.testing.assert_allclose([a.numpy()[0], b.numpy()[0]], [0.9, 1.99])
    with pytest.raises(TypeError, match="SGD: lr is required: give lr=... or an 'lr' in every "
                                        "parameter group"):
        optim.SGD([{"params": [a], "lr": 0.1}, {"params": [b]}])
    with pytest.raises(TypeError, match="SGD: lr is required"):
        optim.SGD([a])
    with pytest.raises(TypeError, match="SGD: lr is required"):
        opt.add_param_group({"params": [param([3.0], "cpu")]})
