"""Learning-rate schedules: step decay and 1/t (lecture 000's step-size conditions)."""

import numpy as np
import pytest

from vecgrad import optim

from .helpers import give_grad, param


def _sgd(lr=0.1):
    return optim.SGD([param([1.0], "cpu")], lr=lr)


def test_step_decay_multiplies_every_step_size_epochs():
    opt = _sgd(0.1)
    schedule = optim.StepDecay(opt, step_size=3, gamma=0.5)
    rates = [schedule.step() for _ in range(9)]
    expected = [0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125]
    np.testing.assert_allclose(rates, expected, rtol=1e-15)
    assert opt.lr == rates[-1]


def test_inverse_time_decay_is_one_over_t():
    opt = _sgd(0.2)
    schedule = optim.InverseTimeDecay(opt, decay=0.5)
    rates = [schedule.step() for _ in range(4)]
    np.testing.assert_allclose(rates, [0.2 / 1.5, 0.2 / 2.0, 0.2 / 2.5, 0.2 / 3.0], rtol=1e-15)


def test_only_inverse_time_meets_the_convergence_conditions():
    """Σ η_k = ∞ and Σ η_k² < ∞: partial sums of 1/t keep growing like log k."""
    inverse = optim.InverseTimeDecay(_sgd(1.0), decay=1.0)
    step = optim.StepDecay(_sgd(1.0), step_size=10, gamma=0.5)
    rates_inv = np.array([inverse.lr_at(k) for k in range(100_000)])
    rates_step = np.array([step.lr_at(k) for k in range(100_000)])
    # Σ_{k<n} 1/(1+k) = H_n ≈ ln n + 0.5772; Σ 1/(1+k)² → π²/6
    np.testing.assert_allclose(rates_inv.sum(), np.log(100_000) + 0.5772156649, rtol=1e-4)
    np.testing.assert_allclose((rates_inv**2).sum(), np.pi**2 / 6, rtol=1e-4)
    np.testing.assert_allclose(rates_step.sum(), 10 * 2.0, rtol=1e-12)  # geometric: bounded


def test_decaying_rate_averages_out_gradient_noise():
    """Noisy SGD on f = θ²/2: a constant rate keeps jittering, 1/t settles at the minimum."""
    rng = np.random.default_rng(1)
    noise = rng.standard_normal(2500)
    finals = {}
    for name in ("constant", "inverse"):
        theta = param([5.0], "cpu")
        opt = optim.SGD([theta], lr=1.0)
        schedule = optim.InverseTimeDecay(opt, decay=1.0) if name == "inverse" else None
        errors = []
        for k, n in enumerate(noise):
            give_grad(theta, theta.numpy() + n)  # unbiased noisy gradient of θ²/2
            opt.step()
            if schedule is not None:
                schedule.step()
            if k >= 1500:
                errors.append(theta.numpy()[0] ** 2)
        finals[name] = np.mean(errors)
    assert finals["inverse"] < 0.01 < finals["constant"]


def test_schedule_state_round_trip():
    opt = _sgd(0.1)
    schedule = optim.StepDecay(opt, step_size=2, gamma=0.1)
    for _ in range(5):
        schedule.step()
    other_opt = _sgd(0.1)
    other = optim.StepDecay(other_opt, step_size=2, gamma=0.1)
    other.load_state_dict(schedule.state_dict())
    assert other.epoch == 5 and other_opt.lr == pytest.approx(opt.lr)
    assert other.step() == schedule.step()
    with pytest.raises(ValueError, match="not a InverseTimeDecay state"):
        optim.InverseTimeDecay(other_opt).load_state_dict(schedule.state_dict())


@pytest.mark.parametrize("make, message", [
    (lambda o: optim.StepDecay(o, step_size=0), "step_size must be an int >= 1"),
    (lambda o: optim.StepDecay(o, step_size=2, gamma=1.5), r"gamma must be in \[0.0, 1.0\]"),
    (lambda o: optim.InverseTimeDecay(o, decay=0.0), "decay must be > 0"),
])
def test_bad_schedule_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make(_sgd())
    with pytest.raises(TypeError, match="expected a vecgrad optimizer"):
        optim.StepDecay("adam", step_size=1)


def test_step_size_may_be_a_numpy_integer():
    # (np.int64(3) was refused as "must be an int >= 1")
    schedule = optim.StepDecay(_sgd(1.0), step_size=np.int64(3), gamma=0.5)
    assert type(schedule.step_size) is int
    assert [schedule.step() for _ in range(4)] == [1.0, 1.0, 0.5, 0.5]
    with pytest.raises(ValueError, match="step_size"):
        optim.StepDecay(_sgd(1.0), step_size=np.True_)


# ------------------------------------------- PyTorch's names: torch.optim.lr_scheduler
@pytest.mark.parametrize("make", [
    lambda o, L: L.StepLR(o, step_size=3, gamma=0.5),
    lambda o, L: L.ExponentialLR(o, gamma=0.9),
    lambda o, L: L.CosineAnnealingLR(o, T_max=7),
    lambda o, L: L.CosineAnnealingLR(o, T_max=5, eta_min=0.01),
], ids=["StepLR", "ExponentialLR", "CosineAnnealingLR", "CosineAnnealingLR-eta_min"])
def test_lr_scheduler_names_follow_torch_for_every_group(make):
    torch = pytest.importorskip("torch")
    from vecgrad.optim import lr_scheduler

    ours = optim.SGD([{"params": [param([1.0], "cpu")]}, {"params": [param([1.0], "cpu")], "lr": 0.1}], lr=0.5)
    theirs = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)]},
                              {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.1}],
                             lr=0.5)
    s, st = make(ours, lr_scheduler), make(theirs, torch.optim.lr_scheduler)
    for _ in range(15):
        ours.step(), theirs.step()
        s.step(), st.step()
        assert s.get_last_lr() == pytest.approx(st.get_last_lr(), rel=1e-12, abs=1e-15)


def test_lr_scheduler_imports_as_a_module_and_step_lr_is_step_decay():
    from vecgrad.optim.lr_scheduler import StepLR

    assert StepLR is optim.StepDecay and optim.lr_scheduler.StepLR is StepLR
    opt = _sgd(1.0)
    schedule = optim.ExponentialLR(opt, gamma=0.5)
    schedule.step(), schedule.step()
    restored = optim.ExponentialLR(_sgd(1.0), gamma=0.5)
    restored.load_state_dict(schedule.state_dict())
    assert restored.get_last_lr() == [0.25]


@pytest.mark.parametrize("make, match", [
    (lambda o: optim.ExponentialLR(o, gamma=1.5), r"gamma must be in \[0.0, 1.0\]"),
    (lambda o: optim.CosineAnnealingLR(o, T_max=0), "T_max must be an int >= 1"),
    (lambda o: optim.CosineAnnealingLR(o, T_max=2.5), "T_max must be an int >= 1"),
    (lambda o: optim.CosineAnnealingLR(o, T_max=3, eta_min=-1), "eta_min"),
])
def test_new_schedules_name_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make(_sgd(1.0))


@pytest.mark.parametrize("options", [{}, {"patience": 2, "factor": 0.5},
                                     {"mode": "max", "patience": 1, "cooldown": 2},
                                     {"patience": 0, "threshold": 0.1, "threshold_mode": "abs",
                                      "min_lr": 0.02}])
def test_reduce_lr_on_plateau_follows_torch(options):
    torch = pytest.importorskip("torch")
    metrics = [1.0, 0.9, 0.95, 0.9, 0.91, 0.89, 0.9, 0.9, 0.9, 0.85, 0.86, 0.87, 0.88, 0.88,
               0.7, 0.71, 0.72, 0.73, 0.74, 0.75, 0.76, 0.77, 0.78, 0.79, 0.8]
    ours = optim.SGD([{"params": [param([1.0], "cpu")]}, {"params": [param([1.0], "cpu")],
                                                          "lr": 0.3}], lr=0.5)
    theirs = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)]},
                              {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.3}],
                             lr=0.5)
    s = optim.lr_scheduler.ReduceLROnPlateau(ours, **options)
    st = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, **options)
    for m in metrics:
        s.step(m), st.step(m)
        assert s.get_last_lr() == pytest.approx([g["lr"] for g in theirs.param_groups],
                                                rel=1e-12)
    restored = optim.ReduceLROnPlateau(optim.SGD([param([1.0], "cpu")], lr=0.1), **options)
    restored.load_state_dict(s.state_dict())
    assert (restored.best, restored.num_bad_epochs) == (s.best, s.num_bad_epochs)


def test_reduce_lr_on_plateau_names_bad_arguments():
    opt = _sgd(1.0)
    for kwargs, match in [({"mode": "up"}, "mode must be"), ({"factor": 1.0}, "factor"),
                          ({"factor": 0.0}, "factor"), ({"patience": -1}, "patience")]:
        with pytest.raises(ValueError, match=match):
            optim.ReduceLROnPlateau(opt, **kwargs)
    with pytest.raises(TypeError, match="expected a vecgrad optimizer"):
        optim.ReduceLROnPlateau("sgd")
