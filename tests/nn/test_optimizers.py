"""vecgrad.optim against hand computations of the lecture 004 formulas and closed forms."""

import numpy as np
import pytest

import vecgrad
from vecgrad import optim

from .helpers import device_name, give_grad, param

THETA0 = np.array([[0.5, -1.5, 2.0], [0.25, 3.0, -0.75]])
# A few gradients of different sizes and signs, including one far below sqrt(eps).
GRADS = [
    np.array([[0.1, -2.0, 0.5], [1e-5, 3.0, -0.25]]),
    np.array([[0.3, 1.0, -0.5], [2e-5, -1.0, 0.75]]),
    np.array([[-0.2, 0.5, 0.05], [-1e-5, 2.0, 1.5]]),
    np.array([[0.0, -0.1, 0.4], [3e-5, 0.5, -2.0]]),
]


def run(optimizer_cls, device, grads=GRADS, **options):
    """Parameter values after each step of `optimizer_cls` fed the given gradients."""
    theta = param(THETA0, device)
    opt = optimizer_cls([theta], **options)
    history = []
    for grad in grads:
        opt.zero_grad()
        give_grad(theta, grad)
        opt.step()
        history.append(theta.numpy().copy())
    return history


def test_sgd_is_theta_minus_lr_g(device):
    history = run(optim.SGD, device, lr=0.1)
    theta = THETA0.copy()
    for grad, got in zip(GRADS, history):
        theta = theta - 0.1 * grad
        np.testing.assert_allclose(got, theta, rtol=0, atol=1e-15)


def test_momentum_follows_lecture(device):
    history = run(optim.SGD, device, lr=0.1, momentum=0.9)
    theta, v = THETA0.copy(), np.zeros_like(THETA0)
    for grad, got in zip(GRADS, history):
        v = 0.9 * v - 0.1 * grad
        theta = theta + v
        np.testing.assert_allclose(got, theta, rtol=1e-14, atol=1e-15)


def test_adagrad_follows_lecture(device):
    history = run(optim.AdaGrad, device, lr=0.5)
    theta, r = THETA0.copy(), np.zeros_like(THETA0)
    for grad, got in zip(GRADS, history):
        r = r + grad**2
        theta = theta - 0.5 / np.sqrt(r + 1e-8) * grad
        np.testing.assert_allclose(got, theta, rtol=1e-14, atol=1e-15)


def test_rmsprop_follows_lecture(device):
    history = run(optim.RMSProp, device, lr=0.01, beta=0.8)
    theta, r = THETA0.copy(), np.zeros_like(THETA0)
    for grad, got in zip(GRADS, history):
        r = 0.8 * r + 0.2 * grad**2
        theta = theta - 0.01 / np.sqrt(r + 1e-8) * grad
        np.testing.assert_allclose(got, theta, rtol=1e-14, atol=1e-15)


def _adam_by_hand(alpha=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
    """Lecture 004, first form: bias-corrected ŝ and r̂."""
    theta, s, r = THETA0.copy(), np.zeros_like(THETA0), np.zeros_like(THETA0)
    history = []
    for t, grad in enumerate(GRADS, start=1):
        s = beta1 * s + (1 - beta1) * grad
        r = beta2 * r + (1 - beta2) * grad**2
        s_hat = s / (1 - beta1**t)
        r_hat = r / (1 - beta2**t)
        theta = theta - alpha / np.sqrt(r_hat + eps) * s_hat
        history.append(theta)
    return history


def _adam_alpha_t_form(alpha=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
    """Lecture 004, second form: α_t = α √(1 − β2ᵗ) / (1 − β1ᵗ) applied to s and r.

    ε moves with the rescaling: √(r̂ + ε) = √(r + ε (1 − β2ᵗ)) / √(1 − β2ᵗ).
    """
    theta, s, r = THETA0.copy(), np.zeros_like(THETA0), np.zeros_like(THETA0)
    history = []
    for t, grad in enumerate(GRADS, start=1):
        s = beta1 * s + (1 - beta1) * grad
        r = beta2 * r + (1 - beta2) * grad**2
        alpha_t = alpha * np.sqrt(1 - beta2**t) / (1 - beta1**t)
        theta = theta - alpha_t / np.sqrt(r + eps * (1 - beta2**t)) * s
        history.append(theta)
    return history


def test_adam_defaults_are_the_lecture_defaults():
    theta = param(THETA0, "cpu")
    adam = optim.Adam([theta])
    assert (adam.lr, adam.betas, adam.eps) == (0.001, (0.9, 0.999), 1e-8)


def test_adam_matches_both_lecture_forms(device):
    history = run(optim.Adam, device)
    by_hand, alpha_t_form = _adam_by_hand(), _adam_alpha_t_form()
    for got, expected, other in zip(history, by_hand, alpha_t_form):
        np.testing.assert_allclose(expected, other, rtol=1e-14, atol=1e-16)
        np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-16)
    # The first step moves every coordinate by about α·sign(g) unless |g| is near √ε.
    first_move = history[0] - THETA0
    big = np.abs(GRADS[0]) > 1e-2
    np.testing.assert_allclose(first_move[big], -0.001 * np.sign(GRADS[0][big]), rtol=1e-5)


def test_adam_without_eps_the_two_forms_are_identical(device):
    history = run(optim.Adam, device, lr=0.01, betas=(0.8, 0.99), eps=0.0)
    by_hand = _adam_by_hand(0.01, 0.8, 0.99, 0.0)
    alpha_t_form = _adam_alpha_t_form(0.01, 0.8, 0.99, 0.0)
    for got, expected, other in zip(history, by_hand, alpha_t_form):
        np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-16)
        np.testing.assert_allclose(got, other, rtol=1e-14, atol=1e-16)


def test_eps_outside_sqrt_is_pytorch_placement(device):
    history = run(optim.Adam, device, eps=1e-3, eps_inside_sqrt=False)
    theta, s, r = THETA0.copy(), np.zeros_like(THETA0), np.zeros_like(THETA0)
    for t, (grad, got) in enumerate(zip(GRADS, history), start=1):
        s = 0.9 * s + 0.1 * grad
        r = 0.999 * r + 0.001 * grad**2
        theta = theta - 0.001 * (s / (1 - 0.9**t)) / (np.sqrt(r / (1 - 0.999**t)) + 1e-3)
        np.testing.assert_allclose(got, theta, rtol=1e-14, atol=1e-16)
    inside = run(optim.Adam, device, eps=1e-3)
    assert not np.allclose(inside[-1], history[-1], rtol=1e-9, atol=0)


@pytest.mark.parametrize("a", [0.5, 2.0, 7.0])
def test_momentum_on_quadratic_matches_closed_form(device, a):
    """f(θ) = a θ²/2: heavy ball is linear, (θ, v)_k = M^k (θ_0, 0)."""
    lr, beta, steps = 0.1, 0.9, 25
    theta = param([1.0, -2.0], device)
    opt = optim.SGD([theta], lr=lr, momentum=beta)
    transition = np.array([[1 - lr * a, beta], [-lr * a, beta]])
    for k in range(1, steps + 1):
        opt.zero_grad()
        (theta * theta * (a / 2)).sum().backward()
        opt.step()
        theta_k = np.linalg.matrix_power(transition, k) @ np.array([[1.0, -2.0], [0.0, 0.0]])
        np.testing.assert_allclose(theta.numpy(), theta_k[0], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("a", [0.5, 2.0, 7.0])
def test_nesterov_on_quadratic_matches_lecture_algorithm(device, a):
    """The lecture's Nesterov (gradient at θ + βv) in closed form; the optimizer holds θ + βv."""
    lr, beta, steps = 0.1, 0.9, 25
    theta = param([1.0, -2.0], device)
    opt = optim.SGD([theta], lr=lr, momentum=beta, nesterov=True)
    # θ' = θ + v',  v' = βv − α a (θ + βv)
    transition = np.array([[1 - lr * a, beta - lr * a * beta], [-lr * a, beta - lr * a * beta]])
    for k in range(1, steps + 1):
        opt.zero_grad()
        (theta * theta * (a / 2)).sum().backward()
        opt.step()
        theta_k, v_k = np.linalg.matrix_power(transition, k) @ np.array([[1.0, -2.0], [0.0, 0.0]])
        np.testing.assert_allclose(theta.numpy(), theta_k + beta * v_k, rtol=1e-12, atol=1e-14)


def test_plain_gradient_descent_on_quadratic_is_geometric(device):
    theta = param([3.0], device)
    opt = optim.SGD([theta], lr=0.1)
    for _ in range(30):
        opt.zero_grad()
        (theta * theta * 2.0).sum().backward()  # f = 2θ², f' = 4θ
        opt.step()
    np.testing.assert_allclose(theta.numpy(), 3.0 * (1 - 0.4) ** 30, rtol=1e-12)


@pytest.mark.parametrize("cls, options", [
    (optim.SGD, {"lr": 0.1, "momentum": 0.5}),
    (optim.Adam, {"lr": 0.01}),
    (optim.RMSProp, {"lr": 0.01}),
    (optim.AdaGrad, {"lr": 0.1}),
])
def test_weight_decay_equals_l2_term_in_the_loss(device, cls, options):
    lam = 0.3
    decayed = param(THETA0, device)
    penalised = param(THETA0, device)
    opt_decay = cls([decayed], weight_decay=lam, **options)
    opt_loss = cls([penalised], **options)
    targets = vecgrad.tensor(np.ones_like(THETA0), device=device, dtype=np.float64)
    for _ in range(4):
        for opt, theta, extra in ((opt_decay, decayed, 0.0), (opt_loss, penalised, lam / 2)):
            opt.zero_grad()
            loss = ((theta - targets) ** 2).sum() + (theta * theta).sum() * extra
            loss.backward()
            opt.step()
    np.testing.assert_allclose(decayed.numpy(), penalised.numpy(), rtol=1e-12, atol=1e-14)


def test_sgd_weight_decay_by_hand(device):
    history = run(optim.SGD, device, grads=GRADS[:1], lr=0.1, weight_decay=0.01)
    np.testing.assert_allclose(history[0], THETA0 - 0.1 * (GRADS[0] + 0.01 * THETA0), rtol=1e-14)


def test_parameters_without_grad_are_skipped(device):
    a, b = param([1.0, 2.0], device), param([3.0], device)
    opt = optim.Adam([a, b], lr=0.1)
    give_grad(a, [1.0, -1.0])
    opt.step()
    np.testing.assert_array_equal(b.numpy(), [3.0])
    assert opt.state[1]["step"] == 0 and opt.state[0]["step"] == 1
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_updates_keep_device_dtype_and_identity(device):
    theta = vecgrad.tensor(THETA0, dtype=vecgrad.float32, requires_grad=True, device=device)
    opt = optim.Adam([theta], lr=0.1)
    give_grad(theta, GRADS[0])
    opt.step()
    assert theta.device == device_name(device) and theta.dtype == np.float32 and theta.is_leaf
    assert opt.state[0]["s"].device == device_name(device) and opt.state[0]["s"].dtype == np.float32
    assert theta.requires_grad and opt.params[0] is theta


@pytest.mark.parametrize("cls, options", [
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    (optim.AdaGrad, {"lr": 0.1}),
    (optim.RMSProp, {"lr": 0.01, "beta": 0.95}),
    (optim.Adam, {"lr": 0.01, "betas": (0.8, 0.99), "eps_inside_sqrt": False}),
])
def test_state_dict_round_trip_continues_identically(device, cls, options, tmp_path):
    theta = param(THETA0, device)
    opt = cls([theta], **options)
    for grad in GRADS[:2]:
        opt.zero_grad()
        give_grad(theta, grad)
        opt.step()
    vecgrad.checkpoint.save({"theta": theta, "opt": opt.state_dict()}, tmp_path / "ck.npz")
    saved = vecgrad.checkpoint.load(tmp_path / "ck.npz")
    clone = param(saved["theta"].numpy(), device)
    # a fresh optimizer with other hyperparameters: load_state_dict restores them too
    restored = cls([clone], lr=0.5)
    restored.load_state_dict(saved["opt"])
    assert restored._hyper() == opt._hyper()
    for grad in GRADS[2:]:
        for o, t in ((opt, theta), (restored, clone)):
            o.zero_grad()
            give_grad(t, grad)
            o.step()
        np.testing.assert_array_equal(clone.numpy(), theta.numpy())
    assert restored.state[0]["step"] == opt.state[0]["step"] == 4


def test_load_state_dict_names_every_problem(device):
    theta = param(THETA0, device)
    opt = optim.Adam([theta])
    give_grad(theta, GRADS[0])
    opt.step()
    good = opt.state_dict()

    other = optim.Adam([param(np.zeros((3, 2)), device)])
    with pytest.raises(ValueError, match=r"parameter 0: 's' has shape \(2, 3\), the parameter \(3, 2\)"):
        other.load_state_dict(good)
    single = optim.Adam([param(np.zeros((2, 3)), device, dtype=np.float32)])
    with pytest.raises(ValueError, match=r"'s' has dtype float64, the parameter float32.*'r' has dtype"):
        single.load_state_dict(good)
    two = optim.Adam([param(np.zeros((2, 3)), device), param([1.0], device)])
    with pytest.raises(ValueError, match="state for 1 parameters, but this optimizer has 2"):
        two.load_state_dict(good)
    with pytest.raises(ValueError, match="belongs to a 'Adam' optimizer, not 'SGD'"):
        optim.SGD([theta], lr=0.1).load_state_dict(good)
    bad = {**good, "state": {"0": {**good["state"]["0"], "velocity": good["state"]["0"]["s"]}}}
    with pytest.raises(ValueError, match="unexpected state entry 'velocity'"):
        opt.load_state_dict(bad)
    group = good["param_groups"][0]
    with pytest.raises(ValueError, match=r"bad hyperparameters in parameter group 0.*eps"):
        opt.load_state_dict({**good, "param_groups": [{**group, "eps": -1.0}]})
    with pytest.raises(ValueError, match=r"missing hyperparameters \['betas'\]"):
        hyper = {k: v for k, v in group.items() if k != "betas"}
        opt.load_state_dict({**good, "param_groups": [hyper]})
    with pytest.raises(ValueError, match="the state has 2 parameter groups, this optimizer 1"):
        opt.load_state_dict({**good, "param_groups": [group, group]})


@pytest.mark.parametrize("make, message", [
    (lambda p: optim.SGD([p], lr=-0.1), r"SGD: lr must be in \[0.0, inf\)"),
    (lambda p: optim.SGD([p], lr=float("nan")), "lr must be a finite number"),
    (lambda p: optim.SGD([p], lr=0.1, momentum=1.0), r"momentum must be in \[0.0, 1.0\)"),
    (lambda p: optim.SGD([p], lr=0.1, nesterov=True), "nesterov=True needs a momentum > 0"),
    (lambda p: optim.Adam([p], betas=(0.9, 1.0)), r"betas\[1\] must be in"),
    (lambda p: optim.Adam([p], betas=0.9), "betas must be a pair"),
    (lambda p: optim.Adam([p, p]), "parameter 1 appears more than once"),
    (lambda p: optim.Adam([]), "empty parameter list"),
    (lambda p: optim.Adam([p * 2]), "parameter 0 .* must be a leaf tensor, not the result"),
    (lambda p: optim.RMSProp([p], weight_decay=-1), "weight_decay must be in"),
])
def test_bad_hyperparameters_are_named(device, make, message):
    with pytest.raises(ValueError, match=message):
        make(param([1.0, 2.0], device))


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), lambda ps: optim.Adam(ps, lr=0.1),
    lambda ps: optim.AdaGrad(ps), lambda ps: optim.RMSProp(ps),
])
def test_frozen_parameters_are_accepted_and_left_alone(device, make):
    # PyTorch's habit: optimizer(model.parameters()) with some weights frozen
    # (requires_grad=False, e.g. Embedding.from_pretrained) must work; frozen ones stay.
    frozen, trained = param([1.0, 2.0], device), param([3.0], device)
    frozen.requires_grad = False
    opt = make([frozen, trained])
    give_grad(trained, [1.0])
    opt.step()
    np.testing.assert_array_equal(frozen.numpy(), [1.0, 2.0])
    assert trained.numpy()[0] != 3.0
    frozen.requires_grad = True  # unfreezing later: the optimizer now updates it
    give_grad(frozen, [1.0, 1.0])
    opt.step()
    assert (frozen.numpy() != [1.0, 2.0]).all()


def test_newton_refuses_frozen_parameters():
    frozen = vecgrad.tensor([1.0])
    with pytest.raises(ValueError, match="Newton: parameter 0 .* does not require grad"):
        optim.Newton([frozen])


def test_non_tensor_parameter_is_a_type_error():
    with pytest.raises(TypeError, match="parameter 0 is a ndarray, not a vecgrad Tensor"):
        optim.SGD([np.zeros(3)], lr=0.1)


@pytest.mark.parametrize("wrap", [lambda ps: set(ps), lambda ps: [{"params": frozenset(ps)}]])
def test_a_set_of_parameters_is_refused(wrap):
    # A set's order changes between runs and the state is saved by position, so a
    # checkpoint's moments could land on another parameter of the same shape
    params = [param(THETA0, "cpu"), param(THETA0, "cpu")]
    with pytest.raises(TypeError, match="ordered collection .* not a set"):
        optim.Adam(wrap(params))
    opt = optim.Adam(params)
    with pytest.raises(TypeError, match="not a set"):
        opt.add_param_group({"params": {param(THETA0, "cpu")}})


def test_lr_is_settable_and_used(device):
    theta = param([1.0], device)
    opt = optim.SGD([theta], lr=0.1)
    opt.lr = 0.5
    give_grad(theta, [2.0])
    opt.step()
    np.testing.assert_allclose(theta.numpy(), [0.0], atol=1e-15)
    with pytest.raises(ValueError, match="lr must be"):
        opt.lr = -1


def test_closure_is_evaluated_before_the_update(device):
    theta = param([2.0], device)
    opt = optim.SGD([theta], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (theta * theta).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 4.0
    np.testing.assert_allclose(theta.numpy(), [1.0])


# ----------------------------------------------------------------- PyTorch cross-check
@pytest.mark.parametrize("ours, theirs", [
    (lambda p: optim.SGD(p, lr=0.1), lambda t, p: t.optim.SGD(p, lr=0.1)),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
     lambda t, p: t.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01)),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
     lambda t, p: t.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True)),
    (lambda p: optim.AdaGrad(p, lr=0.1, eps=1e-10, eps_inside_sqrt=False),
     lambda t, p: t.optim.Adagrad(p, lr=0.1, eps=1e-10)),
    (lambda p: optim.RMSProp(p, lr=0.01, beta=0.99, eps=1e-8, eps_inside_sqrt=False),
     lambda t, p: t.optim.RMSprop(p, lr=0.01, alpha=0.99, eps=1e-8)),
    (lambda p: optim.Adam(p, lr=0.01, weight_decay=0.1, eps_inside_sqrt=False),
     lambda t, p: t.optim.Adam(p, lr=0.01, weight_decay=0.1)),
])
def test_matches_torch_optim(ours, theirs):
    torch = pytest.importorskip("torch")
    theta = param(THETA0, "cpu")
    reference = torch.tensor(THETA0, dtype=torch.float64, requires_grad=True)
    opt, ref_opt = ours([theta]), theirs(torch, [reference])
    for grad in GRADS:
        opt.zero_grad()
        give_grad(theta, grad)
        opt.step()
        ref_opt.zero_grad()
        reference.grad = torch.tensor(grad, dtype=torch.float64)
        ref_opt.step()
        np.testing.assert_allclose(theta.numpy(), reference.detach().numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_after_an_lr_change_scales_only_new_gradients(device, nesterov):
    # The README's documented difference from PyTorch: v <- beta v - lr g keeps the
    # velocity in parameter units, so halving lr halves only the new gradient's share
    # (PyTorch would halve the whole step). Checked against the lecture's formulas.
    theta = param(THETA0, device)
    opt = optim.SGD([theta], lr=0.1, momentum=0.9, nesterov=nesterov)
    want, velocity = THETA0.copy(), np.zeros_like(THETA0)
    for k, grad in enumerate(GRADS):
        lr = 0.1 * 0.5 ** k
        opt.lr = lr
        give_grad(theta, grad)
        opt.step()
        velocity = 0.9 * velocity - lr * grad
        want = want + (0.9 * velocity - lr * grad if nesterov else velocity)
        np.testing.assert_allclose(theta.numpy(), want, rtol=1e-12, atol=1e-15)


def test_state_follows_a_parameter_that_changed_dtype(device):
    from vecgrad import nn

    layer = nn.Linear(3, 2, device=device)
    opt = optim.Adam(layer.parameters(), lr=0.1)
    x = vecgrad.ones((1, 3), device=device)
    layer(x).sum().backward()
    opt.step()
    layer.to(vecgrad.float64)
    opt.zero_grad()
    layer(x.double()).sum().backward()
    opt.step()
    assert opt.state[0]["s"].dtype == np.float64 and opt.state[0]["step"] == 2
    assert np.float32(0.5) == optim.SGD(layer.parameters(), lr=np.float32(0.5)).lr


@pytest.mark.parametrize("cls, options", [
    (optim.Adam, {"lr": 0.1}), (optim.SGD, {"lr": 0.1, "momentum": 0.9}),
    (optim.RMSProp, {}), (optim.AdaGrad, {}),
])
def test_state_dict_after_the_model_changed_dtype_loads_back(device, cls, options):
    # model.double() between two steps, then a checkpoint: the state held float32
    # tensors for float64 parameters, so even opt.load_state_dict(opt.state_dict())
    # failed with "'s' has dtype float32, the parameter float64"
    from vecgrad import nn

    layer = nn.Linear(3, 2, device=device)
    opt = cls(layer.parameters(), **options)
    layer(vecgrad.ones((1, 3), device=device)).sum().backward()
    opt.step()
    layer.double()
    state = opt.state_dict()
    opt.load_state_dict(state)
    other = nn.Linear(3, 2, device=device).double()
    twin = cls(other.parameters(), **options)
    twin.load_state_dict(state)
    for saved in twin.state:
        assert all(v.dtype == np.float64 for v in saved.values()
                   if isinstance(v, vecgrad.Tensor))


@pytest.mark.parametrize("cls, options", [
    (optim.SGD, dict(lr=0.1)),
    (optim.SGD, dict(lr=0.1, momentum=0.9)),
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (optim.SGD, dict(lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.1)),
    (optim.AdaGrad, dict(lr=0.1)),
    (optim.RMSProp, dict(lr=0.1)),
    (optim.Adam, dict(lr=0.1)),
], ids=["sgd", "momentum", "nesterov", "nesterov-decay", "adagrad", "rmsprop", "adam"])
@pytest.mark.parametrize("alias", ["detach", "transpose"])
def test_a_gradient_that_aliases_its_parameter_is_read_before_the_update(device, cls,
                                                                          options, alias):
    # p.grad = p.detach() (the gradient of 0.5 * ||p||^2). Nesterov's Tensor code wrote
    # θ += βv before reading g for θ -= αg, so it read the half-updated parameter as g
    # (and OpenCL's fused kernel declines overlapping buffers, so both devices did).
    start = np.array([[0.5, -1.5, 2.0], [0.25, 3.0, -0.75], [1.0, -2.0, 0.125]])
    aliased, copied = param(start, device), param(start, device)
    opt_aliased, opt_copied = cls([aliased], **options), cls([copied], **options)
    for _ in range(3):
        aliased.grad = aliased.detach() if alias == "detach" else aliased.detach().T
        values = aliased.numpy() if alias == "detach" else aliased.numpy().T
        copied.grad = vecgrad.tensor(values, device=device)  # the same values, own memory
        opt_aliased.step()
        opt_copied.step()
        np.testing.assert_array_equal(aliased.numpy(), copied.numpy())
    assert not np.array_equal(aliased.numpy(), start)


@pytest.mark.parametrize("cls, options", [
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    (optim.Adam, {}),
], ids=["nesterov-decay", "adam"])
def test_an_empty_parameter_beside_others_steps_on_every_device(device, cls, options):
    # On cpu the Tensor code's in-place updates refused empty tensors (numpy gives them
    # zero strides, taken for a broadcast view), while OpenCL's fused kernel ran.
    empty, full = param(np.zeros((0, 3)), device), param([1.0, 2.0], device)
    opt = cls([empty, full], **options)
    reference = cls([param([1.0, 2.0], device)], **options)
    for _ in range(2):
        for p in (empty, full, reference.params[0]):
            p.grad = vecgrad.ones(p.shape, dtype=p.dtype, device=device)
        opt.step()
        reference.step()
    assert empty.shape == (0, 3) and opt.state[0]["step"] == 2
    np.testing.assert_array_equal(full.numpy(), reference.params[0].numpy())


OVERLAPPING = {  # parameters that view one storage (leaves made from detached views)
    "strided then contiguous": lambda b: [b[::2], b[:4]],
    "three": lambda b: [b[:4], b[::3], b[3:]],
}


@pytest.mark.parametrize("layout", sorted(OVERLAPPING))
def test_overlapping_parameters_are_updated_in_order_by_hand(device, layout):
    # θ_i ← θ_i − α (g_i + λ θ_i), one parameter after the other: the second reads the
    # first's result where they overlap. OpenCL updated a contiguous parameter with the
    # others of its run before a strided one listed ahead of it.
    base = vecgrad.tensor(np.arange(1.0, 9.0), dtype=vecgrad.float64, device=device)
    params = OVERLAPPING[layout](base.detach())
    for p in params:
        p.requires_grad = True
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(p.shape) for p in params]
    for p, g in zip(params, grads):
        give_grad(p, g)
    optim.SGD(params, lr=0.1, weight_decay=0.5).step()
    want = np.arange(1.0, 9.0)
    for view, g in zip(OVERLAPPING[layout](want), grads):
        view -= 0.1 * (g + 0.5 * view)
    np.testing.assert_allclose(base.numpy(), want, rtol=0, atol=1e-15)


@pytest.mark.parametrize("layout", sorted(OVERLAPPING))
@pytest.mark.parametrize("ours, theirs", [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"lr": 0.1}),
    ("RMSProp", {"lr": 0.1, "alpha": 0.9}),
    ("AdaGrad", {"lr": 0.1, "eps": 1e-8}),
])
def test_overlapping_parameters_with_weight_decay_match_torch_loop(device, layout, ours,
                                                                   theirs):
    torch = pytest.importorskip("torch")
    options = {k if k != "alpha" else "beta": v for k, v in theirs.items()}
    if ours != "SGD":
        options["eps_inside_sqrt"] = False
    base = vecgrad.tensor(np.arange(1.0, 9.0), dtype=vecgrad.float64, device=device)
    params = OVERLAPPING[layout](base.detach())
    tbase = torch.arange(1.0, 9.0, dtype=torch.float64)
    tparams = OVERLAPPING[layout](tbase.detach())
    for p, tp in zip(params, tparams):
        p.requires_grad = True
        tp.requires_grad_(True)
    opt = getattr(optim, ours)(params, weight_decay=0.5, **options)
    topt = getattr(torch.optim, {"RMSProp": "RMSprop", "AdaGrad": "Adagrad"}.get(ours, ours))(
        tparams, weight_decay=0.5, foreach=False, **theirs)
    rng = np.random.default_rng(1)
    for _ in range(5):
        for p, tp in zip(params, tparams):
            g = rng.standard_normal(p.shape)
            give_grad(p, g)
            tp.grad = torch.tensor(g)
        opt.step()
        topt.step()
    np.testing.assert_allclose(base.numpy(), tbase.numpy(), rtol=1e-12, atol=1e-12)


def test_the_defaults_that_differ_from_pytorch_are_the_three_the_readme_names():
    """README, optimizers: PyTorch's Adagrad has eps=1e-10, its RMSprop lr=0.01 and
    alpha=0.99 (our RMSProp: lr=0.001, beta=0.9); every other shared default agrees."""
    import inspect

    torch = pytest.importorskip("torch")

    def defaults(cls, rename=None):
        return {(rename or {}).get(k, k): p.default
                for k, p in inspect.signature(cls).parameters.items()
                if p.default is not inspect.Parameter.empty}

    pairs = {"AdaGrad": (optim.AdaGrad, torch.optim.Adagrad, None),
             "RMSProp": (optim.RMSProp, torch.optim.RMSprop, {"alpha": "beta"}),
             "Adam": (optim.Adam, torch.optim.Adam, None)}
    differ = set()
    for name, (ours, theirs, rename) in pairs.items():
        a, b = defaults(ours), defaults(theirs, rename)
        differ |= {(name, key) for key in a.keys() & b.keys() if a[key] != b[key]}
    assert differ == {("AdaGrad", "eps"), ("RMSProp", "lr"), ("RMSProp", "beta")}


# ------------------------------------------------------------ AdamW (PyTorch's name)
@pytest.mark.parametrize("options", [{}, {"weight_decay": 0.3, "lr": 0.05},
                                     {"weight_decay": 0.0, "betas": (0.8, 0.9)}])
def test_adamw_matches_torch(device, options):
    torch = pytest.importorskip("torch")
    ours = run(optim.AdamW, device, eps_inside_sqrt=False, **options)
    theta = torch.tensor(THETA0, requires_grad=True)
    opt = torch.optim.AdamW([theta], **options)
    for grad, got in zip(GRADS, ours):
        theta.grad = torch.tensor(grad)
        opt.step()
        np.testing.assert_allclose(got, theta.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_adamw_decay_is_decoupled_and_the_closure_sees_the_parameters_first(device):
    seen = []
    theta = param(THETA0, device)
    opt = optim.AdamW([theta], lr=0.1, weight_decay=0.5)
    assert opt.param_groups[0]["weight_decay"] == 0.5

    def closure():
        seen.append(theta.numpy().copy())
        opt.zero_grad()
        give_grad(theta, np.zeros_like(THETA0))
        return 1.0

    assert opt.step(closure) == 1.0
    np.testing.assert_array_equal(seen[0], THETA0)
    # a zero gradient: Adam's part moves nothing, the decay shrinks by 1 - 0.1 * 0.5
    np.testing.assert_allclose(theta.numpy(), THETA0 * 0.95, rtol=1e-15)
    assert opt.param_groups[0]["weight_decay"] == 0.5          # restored after the step
    frozen = param(THETA0, device)                               # no grad: not decayed
    optim.AdamW([frozen], lr=0.1).step()
    np.testing.assert_array_equal(frozen.numpy(), THETA0)
    assert optim.AdamW([param(THETA0, device)]).param_groups[0]["weight_decay"] == 0.01
