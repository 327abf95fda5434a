"""Optimizers (lecture 004) and learning-rate schedules (lecture 000).

Every update is written as the lecture writes it, with g the gradient of the loss:

- SGD:       θ ← θ − α g
- momentum:  v ← β v − α g;  θ ← θ + v
- Nesterov:  the lecture evaluates g at the look-ahead point θ + β v. The parameter held
             here IS that look-ahead point, which turns the update into
             v ← β v − α g;  θ ← θ + β v − α g  (one gradient evaluation per step)
- AdaGrad:   r ← r + g²;                 θ ← θ − α g / √(r + ε)
- RMSProp:   r ← β r + (1 − β) g²;       θ ← θ − α g / √(r + ε)
- Adam:      s ← β1 s + (1 − β1) g;  r ← β2 r + (1 − β2) g²;  ŝ = s / (1 − β1ᵗ);
             r̂ = r / (1 − β2ᵗ);  θ ← θ − α ŝ / √(r̂ + ε)

The lecture puts ε inside the square root; PyTorch adds it outside (√r + ε). The adaptive
optimizers follow the lecture by default and take ``eps_inside_sqrt=False`` for PyTorch's
placement. ``weight_decay`` λ adds λθ to g before the update (the gradient of
(λ/2)‖θ‖², lecture 000's L2 regularizer).

Updates happen in place on the parameter's own device, under ``no_grad``, with the
Tensor in-place methods, so parameters and optimizer state never leave an OpenCL device.
"""

from __future__ import annotations

import math
import numbers
import sys
import types
from abc import ABC, abstractmethod
from typing import Any, Callable, Iterable

import numpy as np

import vecgrad
from vecgrad.autograd import may_share_storage
from vecgrad.nn.module import _zero_grads
from vecgrad.viz.reprs import OptimizerDisplay  # rich and Jupyter displays, repr


def _check_number(owner: str, name: str, value: Any, low: float, high: float | None = None,
                  high_open: bool = False) -> float:
    """`value` as a float in [low, high] (or [low, high)); a clear error otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be a finite number, got {value!r}")
    too_high = high is not None and (value >= high if high_open else value > high)
    if value < low or too_high:
        bracket = ")" if high_open else "]"
        upper = "inf)" if high is None else f"{high}{bracket}"
        raise ValueError(f"{owner}: {name} must be in [{low}, {upper}, got {value!r}")
    return float(value)


class Optimizer(OptimizerDisplay, ABC):
    """Base class: parameter groups, their hyperparameters and per-parameter state.

    ``params`` is an iterable of tensors, or of dicts (parameter groups) such as
    ``[{"params": model.body.parameters()}, {"params": model.head.parameters(), "lr": 0.1}]``:
    a group's own entries override the constructor's values for its parameters (PyTorch's
    ``param_groups``). ``opt.lr`` (and every other hyperparameter attribute) reads the
    first group and, when assigned, sets it in every group.

    Subclasses list their hyperparameters in the constructor's ``defaults``, validate
    them in ``_validate`` and implement ``_update``.
    """

    _state_names: tuple[str, ...] = ()

    def __init__(self, params: Iterable, defaults: dict[str, Any]):
        owner = type(self).__name__
        defaults = dict(defaults)
        # lr=None (SGD's default): every parameter group must then give its own 'lr'.
        no_lr = defaults.get("lr") is None
        checked = self._validate({**defaults, "lr": 0.0} if no_lr else defaults)
        object.__setattr__(self, "defaults", {**checked, "lr": None} if no_lr else checked)
        self.param_groups: list[dict[str, Any]] = []
        self.params: list = []  # every parameter, group after group (state follows it)
        # One dict per parameter: its step count and its state tensors (on its device).
        self.state: list[dict[str, Any]] = []
        _refuse_set(owner, params)
        given = [params] if isinstance(params, vecgrad.Tensor) else list(params)
        if not given:
            raise ValueError(f"{owner}: got an empty parameter list")
        dicts = [isinstance(g, dict) for g in given]
        if any(dicts) and not all(dicts):
            raise TypeError(f"{owner}: give either tensors or parameter groups (dicts with "
                            f"'params'), not a mix")
        for group in given if all(dicts) else [{"params": given}]:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group {"params": tensors, hyperparameter: value, ...}; values it does not
        give come from the constructor's. Its parameters get fresh state."""
        owner = type(self).__name__
        number = len(self.param_groups)
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{owner}: a parameter group must be a dict with a 'params' "
                            f"entry, got {type(group).__name__}")
        unknown = sorted(set(group) - set(self.defaults) - {"params"})
        if unknown:
            raise ValueError(f"{owner}: parameter group {number} has unknown "
                             f"hyperparameter(s) {unknown}; this optimizer takes "
                             f"{sorted(self.defaults)}")
        params = group["params"]
        _refuse_set(owner, params)
        params = [params] if isinstance(params, vecgrad.Tensor) else list(params)
        if not params:
            raise ValueError(f"{owner}: parameter group {number} has an empty parameter list")
        settings = self._validate({**self.defaults,
                                   **{k: v for k, v in group.items() if k != "params"}})
        seen = {id(p) for p in self.params}
        where = f" of parameter group {number}" if number else ""
        for index, param in enumerate(params):
            if not isinstance(param, vecgrad.Tensor):
                raise TypeError(f"{owner}: parameter {index}{where} is a "
                                f"{type(param).__name__}, not a vecgrad Tensor")
            # A frozen leaf (requires_grad=False) is accepted, as in PyTorch: it has no
            # gradient, so step() leaves it alone until it is unfrozen.
            if not param.is_leaf:
                raise ValueError(f"{owner}: parameter {index}{where} (shape {param.shape}) "
                                 f"must be a leaf tensor, not the result of an operation")
            if id(param) in seen:
                raise ValueError(f"{owner}: parameter {index}{where} appears more than once")
            seen.add(id(param))
        self.param_groups.append({"params": params, **settings})
        self.params.extend(params)
        self.state.extend({"step": 0} for _ in params)

    def _validate(self, hyper: dict[str, Any]) -> dict[str, Any]:
        """The hyperparameters checked (a clear error otherwise); subclasses add theirs."""
        owner = type(self).__name__
        if hyper["lr"] is None:
            raise TypeError(f"{owner}: lr is required: give lr=... or an 'lr' in every "
                            f"parameter group")
        hyper["lr"] = _check_number(owner, "lr", hyper["lr"], 0.0)
        hyper["weight_decay"] = _check_number(owner, "weight_decay", hyper["weight_decay"], 0.0)
        return hyper

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: hyperparameters read the first group.
        defaults = self.__dict__.get("defaults")
        groups = self.__dict__.get("param_groups")
        if defaults is not None and name in defaults and groups:
            return groups[0][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        defaults = self.__dict__.get("defaults")
        if defaults is not None and name in defaults and "param_groups" in self.__dict__:
            checked = [self._validate({**{k: v for k, v in g.items() if k != "params"},
                                       name: value}) for g in self.param_groups]
            for group, hyper in zip(self.param_groups, checked):
                group[name] = hyper[name]
            return
        object.__setattr__(self, name, value)

    def _hyper(self, group: dict[str, Any] | None = None) -> dict[str, Any]:
        """A group's hyperparameters (the first group's by default), as saved."""
        group = self.param_groups[0] if group is None else group
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in group.items() if k != "params"}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of all parameters: ``.grad`` becomes None, or with
        set_to_none=False existing gradients are filled with zeros (as in PyTorch)."""
        _zero_grads(self.params, set_to_none)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return closure() if given.

        The closure, when given, recomputes the loss (and its gradients) before the update.
        Parameters are updated one after another in their order, each reading the values
        the earlier updates left (PyTorch's per-parameter loop, its default on the CPU):
        parameters that view one storage see each other's updates in that order, weight
        decay included, on every device.
        """
        loss = None
        if closure is not None:
            with vecgrad.enable_grad():
                loss = closure()
        with vecgrad.no_grad():
            index = -1
            for group in self.param_groups:
                ready = []  # this group's (param, grad, state), all checked first
                for param in group["params"]:
                    index += 1
                    if param.grad is None:
                        continue
                    grad = param.grad
                    if grad.shape != param.shape or grad.device != param.device:
                        raise ValueError(
                            f"{type(self).__name__}: parameter {index} has shape "
                            f"{param.shape} on {param.device} but its grad has shape "
                            f"{grad.shape} on {grad.device}")
                    state = self.state[index]
                    state["step"] += 1
                    ready.append((param, _unaliased(grad, param, state), state))
                done = self._fused_steps(ready, group)
                for (param, grad, state), fused in zip(ready, done):
                    if fused or self._fused_step(param, grad, state, group):
                        continue
                    if group["weight_decay"]:
                        grad = grad + param * group["weight_decay"]
                    self._update(param, grad, state, group)
        return loss

    def _fused_steps(self, ready, group: dict[str, Any]) -> list[bool]:
        """Hand runs of parameters with the same fused rule and hyperparameters (the
        same step count, as usual) to the backend in one call: on OpenCL that is one
        launch for up to 8 parameters. Returns, per entry, whether it was updated."""
        done = [False] * len(ready)
        runs: dict[tuple, list[int]] = {}
        # A parameter sharing its storage with another one is left to the loop in step():
        # batched, it could be updated before a parameter listed ahead of it.
        shared = _sharing_storage([param._buf for param, _, _ in ready])
        for position, (param, grad, state) in enumerate(ready):
            if position in shared:
                continue
            fused = self._fused_rule(state, group)
            if fused is None or grad.dtype != param.dtype:
                continue
            rule, names, hyper = fused
            key = (id(param._backend), rule, names, tuple(sorted(hyper.items())))
            runs.setdefault(key, []).append(position)
        for (_, rule, names, hyper), positions in runs.items():
            if len(positions) < 2:
                continue  # one parameter: _fused_step does the same
            entries = [ready[p] for p in positions]
            states = [[self._buffer(state, name, param) for name in names]
                      for param, _, state in entries]
            backend = entries[0][0]._backend
            hyper = {"lr": group["lr"], "weight_decay": group["weight_decay"], **dict(hyper)}
            results = backend.fused_updates(rule, [param._buf for param, _, _ in entries],
                                            [grad._buf for _, grad, _ in entries],
                                            [[b._buf for b in buffers] for buffers in states],
                                            hyper)
            for position, (param, _, _), buffers, result in zip(positions, entries, states,
                                                                results):
                if result:  # in-place changes: tensors saved for a backward pass notice
                    for tensor in (param, *buffers):
                        tensor._bump()
                    done[position] = True
        return done

    def _fused_step(self, param, grad, state: dict[str, Any], group: dict[str, Any]) -> bool:
        """Hand the whole update to the backend's fused kernel when it has one.

        The Tensor code in ``_update`` stays the reference: the OpenCL kernels in
        kernels/optim.cl are tested against it. Returns False to run that code.
        """
        fused = self._fused_rule(state, group)
        if fused is None or grad.dtype != param.dtype:
            return False
        rule, names, hyper = fused
        buffers = [self._buffer(state, name, param) for name in names]
        hyper = {"lr": group["lr"], "weight_decay": group["weight_decay"], **hyper}
        done = param._backend.fused_update(rule, param._buf, grad._buf,
                                           [b._buf for b in buffers], hyper)
        if done:  # in-place changes: tensors saved for a backward pass must notice
            for tensor in (param, *buffers):
                tensor._bump()
        return done

    def _fused_rule(self, state: dict[str, Any], group: dict[str, Any]
                    ) -> tuple[str, tuple[str, ...], dict] | None:
        """(rule name, state buffer names, hyperparameters) for Backend.fused_update,
        or None for an optimizer whose update has no fused kernel."""
        return None

    @abstractmethod
    def _update(self, param, grad, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Apply one update to `param` in place, given its (weight-decayed) gradient."""

    def _buffer(self, state: dict[str, Any], name: str, param):
        """State tensor `name` for `param`, created as zeros on the parameter's device.

        If the parameter moved (Module.to) since, the state follows it.
        """
        buffer = state.get(name)
        if buffer is None:
            buffer = state[name] = vecgrad.zeros_like(param)
        elif buffer.device != param.device or buffer.dtype != param.dtype:
            buffer = state[name] = buffer.to(param.device).to(param.dtype)
        return buffer

    # ----------------------------------------------------------------- state dicts
    def state_dict(self) -> dict[str, Any]:
        """The parameter groups (hyperparameters and the indices of their parameters)
        and the per-parameter state (tensors), keyed by parameter index.

        The result can be saved with ``vecgrad.save`` and restored with ``load_state_dict``
        on an optimizer built over parameters of the same shapes, in the same groups.
        """
        per_param = {}
        for index, (param, state) in enumerate(zip(self.params, self.state)):
            for name, value in list(state.items()):
                if isinstance(value, vecgrad.Tensor):
                    # a parameter moved or cast (Module.to) since its last step: its state
                    # follows now, as at the next step (else this state would not load
                    # back: float32 moments for a float64 parameter)
                    self._buffer(state, name, param)
            per_param[str(index)] = {
                name: value.detach() if isinstance(value, vecgrad.Tensor) else value
                for name, value in state.items()
            }
        groups, start = [], 0
        for group in self.param_groups:
            count = len(group["params"])
            groups.append({**self._hyper(group), "params": list(range(start, start + count))})
            start += count
        return {"optimizer": type(self).__name__, "param_groups": groups, "state": per_param}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned, validating it fully first.

        Raises ValueError naming every problem (wrong optimizer type, parameter or group
        count, unknown or missing entries, shape or dtype mismatches). State tensors are
        copied to each parameter's device. A state from before parameter groups (one
        'hyper' dict) loads as one group.
        """
        owner = type(self).__name__
        if isinstance(state_dict, dict) and set(state_dict) == {"optimizer", "hyper", "state"}:
            hyper = state_dict["hyper"]  # the single-group format of earlier checkpoints
            groups = [{**hyper, "params": list(range(len(self.params)))}] \
                if isinstance(hyper, dict) else hyper
            state_dict = {"optimizer": state_dict["optimizer"], "param_groups": groups,
                          "state": state_dict["state"]}
        problems = _state_dict_problems(self, state_dict)
        if problems:
            raise ValueError(f"{owner}.load_state_dict: " + "; ".join(problems))
        checked = []
        for number, group in enumerate(state_dict["param_groups"]):
            hyper = {k: v for k, v in group.items() if k != "params"}
            try:
                checked.append(self._validate(hyper))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{owner}.load_state_dict: bad hyperparameters in parameter "
                                 f"group {number}: {exc}") from None
        for group, hyper in zip(self.param_groups, checked):
            group.update(hyper)
        new_state = []
        for index, param in enumerate(self.params):
            saved = state_dict["state"][str(index)]
            state: dict[str, Any] = {"step": int(saved["step"])}
            for name, value in saved.items():
                if name != "step":
                    state[name] = _to_param_device(value, param)
            new_state.append(state)
        self.state = new_state


def _refuse_set(owner: str, params) -> None:
    """Parameters come in an ordered collection: the state is saved by position, and a
    set's order changes between runs (a checkpoint's moments would go to other
    parameters of the same shape). PyTorch refuses a set in a parameter group too."""
    if isinstance(params, (set, frozenset)):
        raise TypeError(f"{owner}: parameters must be given in an ordered collection (a "
                        f"list, model.parameters()), not a set: its order changes between "
                        f"runs, and the optimizer's state is saved by position")


def _unaliased(grad, param, state: dict[str, Any]):
    """`grad`, or a copy of it when it shares memory with the parameter or its state.

    Every update reads g after writing θ or a state buffer (Nesterov: θ += βv, then
    θ -= αg), so a gradient that is a view of either (p.grad = p.detach()) must be read
    once, before the update, as a copy.
    """
    targets = [param] + [v for v in state.values() if isinstance(v, vecgrad.Tensor)]
    if any(may_share_storage(grad._buf, t._buf) for t in targets):
        return vecgrad.Tensor._wrap(grad._backend.copy(grad._buf), grad._backend)
    return grad


def _sharing_storage(buffers) -> set[int]:
    """The positions of the buffers that share an allocation with another one (numpy
    arrays with one base, OpenCL views of one buffer): they may overlap."""
    positions: dict[int, list[int]] = {}
    for position, buf in enumerate(buffers):
        if isinstance(buf, np.ndarray):
            while isinstance(buf.base, np.ndarray):
                buf = buf.base
            owner = buf if buf.base is None else buf.base
        else:
            owner = getattr(buf, "data", buf)
        positions.setdefault(id(owner), []).append(position)
    return {p for group in positions.values() if len(group) > 1 for p in group}


def _to_param_device(value, param):
    """A fresh tensor on `param`'s device holding `value` (a Tensor or numpy array)."""
    if isinstance(value, vecgrad.Tensor):
        copy = vecgrad.zeros_like(param)
        copy.copy_(value.detach().to(param.device))
        return copy
    return vecgrad.tensor(value, dtype=param.dtype, device=param.device)


def _state_dict_problems(optimizer: Optimizer, state_dict: Any) -> list[str]:
    """Everything wrong with `state_dict` for `optimizer` (empty when it fits)."""
    owner = type(optimizer).__name__
    keys = {"optimizer", "param_groups", "state"}
    if not isinstance(state_dict, dict) or set(state_dict) != keys:
        return ["expected a dict with keys 'optimizer', 'param_groups', 'state' (from "
                "state_dict())"]
    if state_dict["optimizer"] != owner:
        return [f"the state belongs to a {state_dict['optimizer']!r} optimizer, not {owner!r}"]
    problems = []
    groups = state_dict["param_groups"]
    if not isinstance(groups, (list, tuple)) or not all(isinstance(g, dict) for g in groups):
        return ["'param_groups' must be a list of dicts"]
    if len(groups) != len(optimizer.param_groups):
        return [f"the state has {len(groups)} parameter groups, this optimizer "
                f"{len(optimizer.param_groups)}"]
    expected_hyper = set(optimizer.defaults)
    start = 0
    for number, (group, own) in enumerate(zip(groups, optimizer.param_groups)):
        hyper = set(group) - {"params"}
        missing = sorted(expected_hyper - hyper)
        unexpected = sorted(hyper - expected_hyper)
        where = f"parameter group {number}: " if len(groups) > 1 else ""
        if missing:
            problems.append(f"{where}missing hyperparameters {missing}")
        if unexpected:
            problems.append(f"{where}unexpected hyperparameters {unexpected}")
        count = len(own["params"])
        indices = list(group.get("params", ()))
        if indices != list(range(start, start + count)):
            problems.append(f"parameter group {number} holds parameters {indices} in the "
                            f"state, {list(range(start, start + count))} here")
        start += count
    states = state_dict["state"]
    if not isinstance(states, dict):
        return problems + ["'state' must be a dict"]
    expected_keys = [str(i) for i in range(len(optimizer.params))]
    if sorted(states) != sorted(expected_keys):
        problems.append(
            f"state for {len(states)} parameters, but this optimizer has "
            f"{len(optimizer.params)}"
        )
        return problems
    for key, param in zip(expected_keys, optimizer.params):
        saved = states[key]
        if not isinstance(saved, dict) or not isinstance(saved.get("step"), int) \
                or isinstance(saved["step"], bool):
            problems.append(f"parameter {key}: state must be a dict with an int 'step'")
            continue
        if not 0 <= saved["step"] <= 2**62:  # a negative step divides by zero in Adam
            problems.append(f"parameter {key}: 'step' must be in 0..2**62, got {saved['step']}")
            continue
        for name, value in saved.items():
            if name == "step":
                continue
            if name not in optimizer._state_names:
                problems.append(f"parameter {key}: unexpected state entry {name!r}")
                continue
            if not isinstance(value, (vecgrad.Tensor, np.ndarray)):
                kind = type(value).__name__
                problems.append(f"parameter {key}: {name!r} is a {kind}, not a tensor")
                continue
            shape, dtype = tuple(value.shape), value.dtype
            if shape != param.shape:
                problems.append(
                    f"parameter {key}: {name!r} has shape {shape}, the parameter {param.shape}"
                )
            if dtype != param.dtype:
                problems.append(
                    f"parameter {key}: {name!r} has dtype {dtype}, the parameter {param.dtype}"
                )
    return problems


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay.

    ``momentum`` is the lecture's β; the velocity v is kept in parameter units
    (v ← βv − αg), so changing ``lr`` affects only new gradients.
    """

    _state_names = ("velocity",)

    def __init__(self, params: Iterable, lr: float | None = None, momentum: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay,
                                  "momentum": momentum, "nesterov": nesterov})

    def _validate(self, hyper):
        hyper = super()._validate(hyper)
        hyper["momentum"] = _check_number("SGD", "momentum", hyper["momentum"], 0.0, 1.0,
                                          high_open=True)
        hyper["nesterov"] = bool(hyper["nesterov"])
        if hyper["nesterov"] and hyper["momentum"] == 0.0:
            raise ValueError("SGD: nesterov=True needs a momentum > 0")
        return hyper

    def _fused_rule(self, state, group):
        if group["momentum"] == 0.0:
            return "sgd", (), {}
        return "momentum", ("velocity",), {"momentum": group["momentum"],
                                           "nesterov": group["nesterov"]}

    def _update(self, param, grad, state, group):
        lr, momentum = group["lr"], group["momentum"]
        if momentum == 0.0:
            param.sub_(grad, alpha=lr)
            return
        velocity = self._buffer(state, "velocity", param)
        velocity.mul_(momentum)
        velocity.sub_(grad, alpha=lr)
        if group["nesterov"]:
            param.add_(velocity, alpha=momentum)
            param.sub_(grad, alpha=lr)
        else:
            param.add_(velocity)


class _Adaptive(Optimizer):
    """Shared ε handling of AdaGrad, RMSProp and Adam."""

    def _validate(self, hyper):
        hyper = super()._validate(hyper)
        hyper["eps"] = _check_number(type(self).__name__, "eps", hyper["eps"], 0.0)
        hyper["eps_inside_sqrt"] = bool(hyper["eps_inside_sqrt"])
        return hyper

    @staticmethod
    def _eps_hyper(group) -> dict[str, Any]:
        return {"eps": group["eps"], "eps_inside_sqrt": group["eps_inside_sqrt"]}

    @staticmethod
    def _denominator(r, group, scale: float = 1.0):
        """√(scale·r + ε) (the lecture), or √(scale·r) + ε with eps_inside_sqrt=False."""
        scaled = r * scale if scale != 1.0 else r
        if group["eps_inside_sqrt"]:
            return (scaled + group["eps"]).sqrt()
        return scaled.sqrt() + group["eps"]


class AdaGrad(_Adaptive):
    """AdaGrad (lecture 004): r ← r + g²; θ ← θ − α g / √(r + ε)."""

    _state_names = ("sum_sq",)

    def __init__(self, params: Iterable, lr: float = 0.01, eps: float = 1e-8,
                 weight_decay: float = 0.0, eps_inside_sqrt: bool = True):
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay, "eps": eps,
                                  "eps_inside_sqrt": eps_inside_sqrt})

    def _fused_rule(self, state, group):
        return "adagrad", ("sum_sq",), self._eps_hyper(group)

    def _update(self, param, grad, state, group):
        sum_sq = self._buffer(state, "sum_sq", param)
        sum_sq.add_(grad * grad)
        param.sub_(grad / self._denominator(sum_sq, group), alpha=group["lr"])


class RMSProp(_Adaptive):
    """RMSProp (lecture 004): r ← βr + (1 − β)g²; θ ← θ − α g / √(r + ε)."""

    _state_names = ("mean_sq",)

    def __init__(self, params: Iterable, lr: float = 0.001, beta: float = 0.9,
                 eps: float = 1e-8, weight_decay: float = 0.0, eps_inside_sqrt: bool = True):
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay, "eps": eps,
                                  "eps_inside_sqrt": eps_inside_sqrt, "beta": beta})

    def _validate(self, hyper):
        hyper = super()._validate(hyper)
        hyper["beta"] = _check_number("RMSProp", "beta", hyper["beta"], 0.0, 1.0,
                                      high_open=True)
        return hyper

    def _fused_rule(self, state, group):
        return "rmsprop", ("mean_sq",), {"beta": group["beta"], **self._eps_hyper(group)}

    def _update(self, param, grad, state, group):
        beta = group["beta"]
        mean_sq = self._buffer(state, "mean_sq", param)
        mean_sq.mul_(beta)
        mean_sq.add_(grad * grad, alpha=1.0 - beta)
        param.sub_(grad / self._denominator(mean_sq, group), alpha=group["lr"])


class Adam(_Adaptive):
    """Adam with bias correction, exactly as lecture 004 writes it.

    s and r are the first and second moment estimates; with t the step count,
    θ ← θ − α ŝ / √(r̂ + ε) where ŝ = s/(1 − β1ᵗ) and r̂ = r/(1 − β2ᵗ).
    """

    _state_names = ("s", "r")

    def __init__(self, params: Iterable, lr: float = 0.001, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, eps_inside_sqrt: bool = True):
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay, "eps": eps,
                                  "eps_inside_sqrt": eps_inside_sqrt, "betas": betas})

    def _validate(self, hyper):
        hyper = super()._validate(hyper)
        betas = hyper["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}")
        hyper["betas"] = tuple(
            _check_number("Adam", f"betas[{i}]", b, 0.0, 1.0, high_open=True)
            for i, b in enumerate(betas)
        )
        return hyper

    def _fused_rule(self, state, group):
        beta1, beta2 = group["betas"]
        t = state["step"]
        return "adam", ("s", "r"), {"beta1": beta1, "beta2": beta2, "bias1": 1.0 - beta1**t,
                                    "bias2": 1.0 - beta2**t, **self._eps_hyper(group)}

    def _update(self, param, grad, state, group):
        beta1, beta2 = group["betas"]
        s = self._buffer(state, "s", param)
        r = self._buffer(state, "r", param)
        s.mul_(beta1)
        s.add_(grad, alpha=1.0 - beta1)
        r.mul_(beta2)
        r.add_(grad * grad, alpha=1.0 - beta2)
        t = state["step"]
        # ŝ / √(r̂ + ε) = s / (1 − β1ᵗ) / √(r / (1 − β2ᵗ) + ε): no ŝ copy needed.
        bias1 = 1.0 - beta1**t
        bias2 = 1.0 - beta2**t
        param.sub_(s / self._denominator(r, group, 1.0 / bias2), alpha=group["lr"] / bias1)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter; PyTorch's AdamW): each step
    first shrinks θ ← θ (1 − α λ), then takes Adam's step on the plain gradient. λ is
    ``weight_decay`` (0.01 by default, as PyTorch's); ε sits inside the square root as in
    Adam unless ``eps_inside_sqrt=False``."""

    def __init__(self, params: Iterable, lr: float = 0.001, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01, eps_inside_sqrt: bool = True):
        super().__init__(params, lr, betas, eps, weight_decay, eps_inside_sqrt)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Shrink every parameter that has a gradient, then Adam's step (the closure, when
        given, runs first, at the parameters before the shrink)."""
        loss = None
        if closure is not None:
            with vecgrad.enable_grad():
                loss = closure()
        decays = [group["weight_decay"] for group in self.param_groups]
        with vecgrad.no_grad():
            for group, decay in zip(self.param_groups, decays):
                if decay:
                    for param in group["params"]:
                        if param.grad is not None:
                            param.mul_(1.0 - group["lr"] * decay)
        try:  # Adam's step without its coupled decay (λθ added to the gradient)
            for group in self.param_groups:
                group["weight_decay"] = 0.0
            super().step()
        finally:
            for group, decay in zip(self.param_groups, decays):
                group["weight_decay"] = decay
        return loss


# ------------------------------------------------------------------------ schedules
class _Schedule(ABC):
    """Sets each parameter group's lr from the epoch count; call :meth:`step` once per
    epoch. Every group follows the same curve from its own starting rate."""

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: expected a vecgrad optimizer, "
                f"got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.epoch = 0

    @property
    def base_lr(self) -> float:
        """The first group's starting rate."""
        return self.base_lrs[0]

    @abstractmethod
    def lr_at(self, epoch: int, base_lr: float | None = None) -> float:
        """The learning rate for epoch `epoch` (0 = before the first step), starting
        from base_lr (the first group's by default)."""

    def _apply(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.base_lrs):  # add_param_group after the schedule
            self.base_lrs += [g["lr"] for g in groups[len(self.base_lrs):]]
        checked = [_check_number(type(self).__name__, "lr", self.lr_at(self.epoch, base), 0.0)
                   for base in self.base_lrs]
        for group, lr in zip(groups, checked):
            group["lr"] = lr

    def step(self) -> float:
        """Advance one epoch and set every group's learning rate; return the first's."""
        self.epoch += 1
        self._apply()
        return self.optimizer.lr

    def get_last_lr(self) -> list[float]:
        """Every parameter group's learning rate now (PyTorch's name)."""
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """The epoch count and the base learning rates (for checkpoints)."""
        return {"schedule": type(self).__name__, "epoch": self.epoch, "base_lr": self.base_lr,
                "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output and set the groups' lr to match."""
        name = type(self).__name__
        if not isinstance(state, dict) or state.get("schedule") != name:
            raise ValueError(f"{name}.load_state_dict: not a {name} state: {state!r}")
        epoch = state.get("epoch")
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"{name}.load_state_dict: epoch must be an int >= 0, got {epoch!r}")
        bases = state.get("base_lrs", [state.get("base_lr")])  # (one rate: older states)
        if not isinstance(bases, (list, tuple)) or \
                len(bases) != len(self.optimizer.param_groups):
            raise ValueError(f"{name}.load_state_dict: {bases!r} gives base rates for "
                             f"another number of parameter groups than the optimizer's "
                             f"{len(self.optimizer.param_groups)}")
        self.base_lrs = [_check_number(name, "base_lr", b, 0.0) for b in bases]
        self.epoch = epoch
        self._apply()


class StepDecay(_Schedule):
    """α_k = α_0 · γ^⌊k / step_size⌋: multiply the rate by γ every `step_size` epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer)
        if isinstance(step_size, (bool, np.bool_)) or \
                not isinstance(step_size, numbers.Integral) or step_size < 1:
            raise ValueError(f"StepDecay: step_size must be an int >= 1, got {step_size!r}")
        self.step_size = int(step_size)
        self.gamma = _check_number("StepDecay", "gamma", gamma, 0.0, 1.0)

    def lr_at(self, epoch: int, base_lr: float | None = None) -> float:
        base = self.base_lr if base_lr is None else base_lr
        return base * self.gamma ** (epoch // self.step_size)


class InverseTimeDecay(_Schedule):
    """α_k = α_0 / (1 + decay · k): the 1/t schedule.

    It satisfies lecture 000's conditions for SGD to converge: Σ α_k = ∞ (harmonic
    series) and Σ α_k² < ∞. (Step decay with γ < 1 does not: its Σ α_k is finite.)
    """

    def __init__(self, optimizer: Optimizer, decay: float = 1.0):
        super().__init__(optimizer)
        self.decay = _check_number("InverseTimeDecay", "decay", decay, 0.0)
        if self.decay == 0.0:
            raise ValueError("InverseTimeDecay: decay must be > 0 (0 means a constant rate)")

    def lr_at(self, epoch: int, base_lr: float | None = None) -> float:
        base = self.base_lr if base_lr is None else base_lr
        return base / (1.0 + self.decay * epoch)


StepLR = StepDecay  # PyTorch's name (torch.optim.lr_scheduler.StepLR): the same rule


class ExponentialLR(_Schedule):
    """α_k = α_0 · γ^k: multiply the rate by γ every epoch (PyTorch's ExponentialLR)."""

    def __init__(self, optimizer: Optimizer, gamma: float):
        super().__init__(optimizer)
        self.gamma = _check_number("ExponentialLR", "gamma", gamma, 0.0, 1.0)

    def lr_at(self, epoch: int, base_lr: float | None = None) -> float:
        base = self.base_lr if base_lr is None else base_lr
        return base * self.gamma ** epoch


class CosineAnnealingLR(_Schedule):
    """α_k = η_min + (α_0 − η_min)(1 + cos(π k / T_max)) / 2: half a cosine from α_0 down to
    eta_min over T_max epochs (PyTorch's CosineAnnealingLR, its closed form; past T_max
    the cosine climbs again, as PyTorch's does)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):
        super().__init__(optimizer)
        if isinstance(T_max, (bool, np.bool_)) or not isinstance(T_max, numbers.Integral) \
                or T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be an int >= 1, got {T_max!r}")
        self.T_max = int(T_max)
        self.eta_min = _check_number("CosineAnnealingLR", "eta_min", eta_min, 0.0)

    def lr_at(self, epoch: int, base_lr: float | None = None) -> float:
        base = self.base_lr if base_lr is None else base_lr
        return self.eta_min + (base - self.eta_min) * \
            (1.0 + math.cos(math.pi * epoch / self.T_max)) / 2.0


class ReduceLROnPlateau:
    """PyTorch's ReduceLROnPlateau: `step(metric)` once per epoch with a validation
    number; after more than `patience` epochs without an improvement by `threshold`
    (relative, or absolute with threshold_mode="abs"), every group's rate is multiplied
    by `factor` (not below `min_lr`), then `cooldown` epochs pass before counting again.
    mode="max" for a metric that should grow (accuracy). Same rules and defaults as
    PyTorch's; it is driven by your loop (the Trainer's `scheduler=` takes the epoch-count
    schedules above)."""

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float = 0.0, eps: float = 1e-8):
        name = "ReduceLROnPlateau"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name}: expected a vecgrad optimizer, got "
                            f"{type(optimizer).__name__}")
        if mode not in ("min", "max") or threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{name}: mode must be 'min' or 'max' and threshold_mode 'rel' "
                             f"or 'abs', got {mode!r} and {threshold_mode!r}")
        for what, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"{name}: {what} must be an int >= 0, got {value!r}")
        self.factor = _check_number(name, "factor", factor, 0.0, 1.0, high_open=True)
        if self.factor == 0.0:
            raise ValueError(f"{name}: factor must be > 0 (and < 1)")
        self.optimizer = optimizer
        self.mode, self.threshold_mode = mode, threshold_mode
        self.patience, self.cooldown = int(patience), int(cooldown)
        self.threshold = _check_number(name, "threshold", threshold, 0.0)
        self.min_lr = _check_number(name, "min_lr", min_lr, 0.0)
        self.eps = _check_number(name, "eps", eps, 0.0)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0

    def _is_better(self, value: float) -> bool:
        if self.mode == "min":
            bound = self.best * (1.0 - self.threshold) if self.threshold_mode == "rel" \
                else self.best - self.threshold
            return value < bound
        bound = self.best * (1.0 + self.threshold) if self.threshold_mode == "rel" \
            else self.best + self.threshold
        return value > bound

    def step(self, metrics) -> None:
        """Count one epoch with its metric (a number or a one-element Tensor)."""
        value = float(metrics.item() if hasattr(metrics, "item") else metrics)
        self.last_epoch += 1
        if self._is_better(value):
            self.best, self.num_bad_epochs = value, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group in self.optimizer.param_groups:
                new = max(group["lr"] * self.factor, self.min_lr)
                if group["lr"] - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0

    def get_last_lr(self) -> list[float]:
        """Every parameter group's learning rate now."""
        return [group["lr"] for group in self.optimizer.param_groups]

    _STATE = ("best", "num_bad_epochs", "cooldown_counter", "last_epoch")

    def state_dict(self) -> dict[str, Any]:
        """The counters (for checkpoints); the rates live in the optimizer's state."""
        return {"schedule": "ReduceLROnPlateau", **{k: getattr(self, k) for k in self._STATE}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output."""
        if not isinstance(state, dict) or state.get("schedule") != "ReduceLROnPlateau" or \
                any(k not in state for k in self._STATE):
            raise ValueError(f"ReduceLROnPlateau.load_state_dict: not a ReduceLROnPlateau "
                             f"state: {state!r}")
        self.best = float(state["best"])
        for key in self._STATE[1:]:
            setattr(self, key, int(state[key]))


class Newton(Optimizer):
    """Newton's method for small models: θ ← θ − α (H + λI)⁻¹ g (lecture 001: curvature).

    H is the Hessian of the loss at θ (all parameters as one vector), λ = ``damping``
    (+ ``weight_decay``, whose term adds λθ to g and λ to H's diagonal). The step needs
    second derivatives, so ``step(closure)`` takes a closure that recomputes the loss
    (no backward call needed inside; it is run under enable_grad):

        opt = vecgrad.optim.Newton(model.parameters())
        for _ in range(10):
            opt.step(lambda: F.mse_loss(model(x), y))

    method "cg" (Hessian-free): the Newton system is solved by conjugate gradients, each
    iteration one Hessian-vector product (the gradient is recorded once with
    create_graph=True and differentiated again); H is never formed. CG stops at
    ``cg_iters`` iterations, at relative residual ``cg_tol``, or on a direction of
    non-positive curvature (then the step so far, or -g at the first iteration, is taken:
    a descent direction). method "exact": H is built column by column (n Hessian-vector
    products) and solved on the host; for n up to a few thousand.
    line_search=True backtracks (Armijo): the step length starts at lr and halves until
    the loss falls by at least 1e-4 of what the slope promises; far from a minimum pure
    Newton can overshoot and oscillate (lesson 16 shows it), near one the full step is
    taken and convergence is quadratic. ``last_step_size`` tells which length was used.
    Not used by default anywhere; every step costs several gradients (vecgrad bench hvp).
    """

    def __init__(self, params: Iterable, lr: float = 1.0, damping: float = 0.0,
                 method: str = "cg", cg_iters: int = 50, cg_tol: float = 1e-10,
                 weight_decay: float = 0.0, line_search: bool = False):
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay, "damping": damping,
                                  "method": method, "cg_iters": cg_iters, "cg_tol": cg_tol,
                                  "line_search": line_search})
        self.last_step_size = None
        self.last_cg_iterations = 0  # how many HVPs the last "cg" step used

    def _validate(self, hyper):
        hyper = super()._validate(hyper)
        owner = type(self).__name__
        hyper["damping"] = _check_number(owner, "damping", hyper["damping"], 0.0)
        if hyper["method"] not in ("cg", "exact"):
            raise ValueError(f"{owner}: method must be 'cg' or 'exact', got "
                             f"{hyper['method']!r}")
        cg_iters = hyper["cg_iters"]
        if isinstance(cg_iters, bool) or not isinstance(cg_iters, numbers.Integral) \
                or cg_iters < 1:
            raise ValueError(f"{owner}: cg_iters must be an int >= 1, got {cg_iters!r}")
        hyper["cg_iters"] = int(cg_iters)
        hyper["cg_tol"] = _check_number(owner, "cg_tol", hyper["cg_tol"], 0.0)
        hyper["line_search"] = bool(hyper["line_search"])
        return hyper

    def add_param_group(self, group):
        # One Newton system over every parameter: per-group settings would not mean much.
        if self.param_groups:
            raise ValueError("Newton: all parameters form one Newton system; give them as "
                             "one parameter group")
        super().add_param_group(group)
        # The Hessian is taken with respect to every parameter, so each must need grad.
        for index, param in enumerate(self.params):
            if not param.requires_grad:
                raise ValueError(f"Newton: parameter {index} (shape {param.shape}) does not "
                                 f"require grad; leave frozen parameters out of the system")

    def _update(self, param, grad, state, group=None):  # step() does the joint update
        raise RuntimeError("Newton updates all parameters jointly; call step(closure)")

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One Newton step; closure() recomputes the loss. Returns that loss."""
        from vecgrad.autograd import grad as autograd_grad

        owner = type(self).__name__
        if closure is None:
            raise ValueError(f"{owner}.step needs a closure that recomputes the loss, e.g. "
                             f"opt.step(lambda: loss_fn(model(x), y))")
        with vecgrad.enable_grad():
            loss = closure()
            if not isinstance(loss, vecgrad.Tensor) or loss.numel() != 1:
                got = loss.shape if isinstance(loss, vecgrad.Tensor) else type(loss).__name__
                raise ValueError(f"{owner}: the closure must return a one-element loss "
                                 f"Tensor, got {got}")
            grads = autograd_grad(loss, self.params, create_graph=True, allow_unused=True)
            grads = [vecgrad.zeros_like(p) if g is None else g
                     for g, p in zip(grads, self.params)]
            shift = self.damping + self.weight_decay

            def hvp(vectors):
                total = None
                with vecgrad.enable_grad():  # (CG calls this inside no_grad)
                    for g, v in zip(grads, vectors):
                        if g.requires_grad:
                            term = (g * v).sum()
                            total = term if total is None else total + term
                if total is None:  # the loss is linear in the parameters
                    hs = [vecgrad.zeros_like(p) for p in self.params]
                else:
                    hs = autograd_grad(total, self.params, retain_graph=True,
                                       allow_unused=True)
                    hs = [vecgrad.zeros_like(p) if h is None else h
                          for h, p in zip(hs, self.params)]
                with vecgrad.no_grad():
                    return [h + v * shift if shift else h for h, v in zip(hs, vectors)]

            with vecgrad.no_grad():
                rhs = [-(g.detach() + p * self.weight_decay) if self.weight_decay
                       else -g.detach() for g, p in zip(grads, self.params)]
            if self.method == "cg":
                direction = self._conjugate_gradients(hvp, rhs)
            else:
                direction = self._exact(hvp, rhs)
        step = self._step_size(closure, loss, rhs, direction) if self.line_search else self.lr
        self.last_step_size = step
        with vecgrad.no_grad():
            for index, (param, d, g) in enumerate(zip(self.params, direction, grads)):
                param.add_(d, alpha=step)
                param.grad = g.detach()
                self.state[index]["step"] += 1
        return loss.detach()

    def _objective(self, closure) -> float:
        """The loss the step minimises: closure() plus weight_decay/2 |theta|^2."""
        with vecgrad.no_grad():
            value = float(closure().item())
            if self.weight_decay:
                value += 0.5 * self.weight_decay * sum(float((p * p).sum().item())
                                                        for p in self.params)
        return value

    def _step_size(self, closure, loss, rhs, direction) -> float:
        """Backtracking (Armijo) along the direction; parameters are restored after."""
        start = float(loss.item())
        if self.weight_decay:
            start += 0.5 * self.weight_decay * sum(float((p * p).sum().item())
                                                    for p in self.params)
        # rhs = -g, so the slope along d is -<rhs, d>
        slope = -sum(float((r * d).sum().item()) for r, d in zip(rhs, direction))
        saved = [p.detach() * 1.0 for p in self.params]
        step = self.lr
        try:
            for _ in range(40):
                with vecgrad.no_grad():
                    for p, s, d in zip(self.params, saved, direction):
                        p.copy_(s + d * step)
                value = self._objective(closure)
                if value <= start + 1e-4 * step * slope:
                    break
                step *= 0.5
        finally:
            with vecgrad.no_grad():
                for p, s in zip(self.params, saved):
                    p.copy_(s)
        return step

    def _conjugate_gradients(self, hvp, rhs):
        def dot(xs, ys):
            return sum(float((x * y).sum().item()) for x, y in zip(xs, ys))

        with vecgrad.no_grad():
            x = [vecgrad.zeros_like(b) for b in rhs]
            r = [b.detach() for b in rhs]
            p = list(r)
            rs = dot(r, r)
            target = self.cg_tol * math.sqrt(rs)
            self.last_cg_iterations = 0
            for iteration in range(self.cg_iters):
                if math.sqrt(rs) <= target or rs == 0.0:
                    break
                hp = hvp(p)
                self.last_cg_iterations += 1
                curvature = dot(p, hp)
                if curvature <= 0.0:  # not positive definite along p: stop here
                    return x if iteration else r
                alpha = rs / curvature
                x = [xi + pi * alpha for xi, pi in zip(x, p)]
                r = [ri - hi * alpha for ri, hi in zip(r, hp)]
                new = dot(r, r)
                p = [ri + pi * (new / rs) for ri, pi in zip(r, p)]
                rs = new
            return x

    def _exact(self, hvp, rhs):
        sizes = [b.numel() for b in rhs]
        n = sum(sizes)
        columns = []
        with vecgrad.no_grad():
            for k in range(n):
                basis, start = [], 0
                for b, size in zip(rhs, sizes):
                    host = np.zeros(size, dtype=b.dtype)
                    if start <= k < start + size:
                        host[k - start] = 1
                    basis.append(vecgrad.tensor(host.reshape(b.shape), device=b.device))
                    start += size
                columns.append(np.concatenate([h.numpy().reshape(-1) for h in hvp(basis)]))
        hessian = np.stack(columns, axis=1)
        b = np.concatenate([v.numpy().reshape(-1) for v in rhs])
        try:
            solution = np.linalg.solve(hessian, b)
        except np.linalg.LinAlgError:  # singular: the least-squares (pseudo-inverse) step
            solution = np.linalg.lstsq(hessian, b, rcond=None)[0]
        out, start = [], 0
        for v, size in zip(rhs, sizes):
            piece = solution[start:start + size].reshape(v.shape).astype(v.dtype)
            out.append(vecgrad.tensor(piece, device=v.device))
            start += size
        return out


# `torch.optim.lr_scheduler.StepLR(...)` and `from vecgrad.optim.lr_scheduler import StepLR`
# work as in PyTorch: the schedules under PyTorch's module name (not a file of its own).
lr_scheduler = types.ModuleType(__name__ + ".lr_scheduler",
                                "The learning-rate schedules of vecgrad.optim under "
                                "PyTorch's module name.")
for _schedule in (StepLR, ExponentialLR, CosineAnnealingLR, StepDecay, InverseTimeDecay,
                  ReduceLROnPlateau):
    setattr(lr_scheduler, _schedule.__name__, _schedule)
lr_scheduler.StepLR = StepLR
sys.modules[lr_scheduler.__name__] = lr_scheduler
del _schedule
