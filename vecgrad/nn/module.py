"""Module and Parameter: the PyTorch-style container for layers and their weights.

A Module registers the Parameters and sub-Modules assigned to its attributes, in
assignment order, and the buffers given to ``register_buffer``: tensors that are state
but not learned (BatchNorm's running statistics), saved in state_dict and moved by
``.to()`` but never handed to an optimizer. Every walk over the module tree here is iterative (explicit stacks), so
arbitrarily deep nesting is fine.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Iterator, NamedTuple

import numpy as np

import vecgrad
from vecgrad.tensor import Tensor, to_arguments
from vecgrad.viz.reprs import ModuleDisplay  # rich and Jupyter displays


class Parameter(Tensor):
    """A Tensor that a Module treats as a learnable weight (requires_grad=True).

    ``Parameter(data)`` takes a Tensor (whose device and dtype are kept) or anything
    ``vecgrad.tensor`` accepts. The parameter owns a fresh copy of the data.
    """

    def __init__(self, data: Any, requires_grad: bool = True):
        source = data if isinstance(data, Tensor) else vecgrad.tensor(data)
        # Adopt a device-side copy (Tensor.__init__ would go through host memory).
        self._adopt(source._backend.copy(source._buf), source._backend)
        self.requires_grad = requires_grad

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class StateDictError(ValueError, RuntimeError):
    """load_state_dict found missing/unexpected keys or shape/dtype mismatches. Also a
    RuntimeError, which is what PyTorch raises there (``except RuntimeError`` in code
    ported from PyTorch catches it)."""


class LoadResult(NamedTuple):
    """What a non-strict load_state_dict skipped."""

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        # PyTorch's text for a clean load (what print(model.load_state_dict(...)) shows)
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (f"{type(self).__name__}(missing_keys={self.missing_keys!r}, "
                f"unexpected_keys={self.unexpected_keys!r})")


class RemovableHandle:
    """Returned by register_forward_hook; ``remove()`` unregisters the hook."""

    def __init__(self, hooks: dict, key: int):
        self._hooks = hooks
        self._key = key

    def remove(self) -> None:
        """Unregister the hook (a second call does nothing)."""
        self._hooks.pop(self._key, None)


class Module(ModuleDisplay):
    """Base class of layers and models. Subclasses call ``super().__init__()`` and define
    ``forward``; assigning a Parameter or a Module to an attribute registers it.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_next_hook_id", 0)
        object.__setattr__(self, "training", True)

    # --------------------------------------------------------------- registration
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before {type(self).__name__}.__init__ called "
                "super().__init__()"
            )
        params, modules = self.__dict__["_parameters"], self.__dict__["_modules"]
        buffers = self.__dict__["_buffers"]
        if name in buffers and not isinstance(value, (Parameter, Module)):
            # Assigning to a buffer replaces its tensor (PyTorch's rule); it stays a buffer.
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign a {type(value).__name__} to buffer {name!r} "
                                "(a Tensor or None is needed)")
            buffers[name] = value
            return
        # Replacing a parameter or module keeps its place (PyTorch's rule): the order
        # is that of state_dict, parameters() and a Sequential's forward.
        if isinstance(value, Parameter):
            modules.pop(name, None)
            self.__dict__.pop(name, None)
            self._drop_buffer(name)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            self.__dict__.pop(name, None)
            self._drop_buffer(name)
            modules[name] = value
        else:
            # PyTorch's rule: a parameter or sub-module slot takes only its kind or None.
            # Silently unregistering it (layer.weight = tensor) would leave the weight
            # out of parameters() and state_dict: never trained, never saved.
            if value is not None and (name in params or name in modules):
                kind = "parameter" if name in params else "child module"
                hint = ("wrap it: nn.Parameter(value)" if name in params
                        else "assign a Module")
                raise TypeError(f"cannot assign {type_name(value)} as {kind} {name!r} of "
                                f"{type(self).__name__} ({hint}, or None, or `del` it first)")
            if value is None and name in params:
                # PyTorch's rule: the slot stays, empty (skipped by parameters() and
                # state_dict), so a later Parameter takes its place again and a plain
                # Tensor is still refused.
                params[name] = None
                return
            params.pop(name, None)
            modules.pop(name, None)
            object.__setattr__(self, name, value)

    def _drop_buffer(self, name: str) -> None:
        self.__dict__["_buffers"].pop(name, None)
        self.__dict__["_non_persistent_buffers"].discard(name)

    def __getattr__(self, name: str) -> Any:
        # Called only when normal lookup fails: look in the registries.
        registries = [self.__dict__.get("_parameters", {}), self.__dict__.get("_buffers", {}),
                      self.__dict__.get("_modules", {})]
        for registry in registries:
            if name in registry:
                return registry[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        """Also the registered parameters, buffers and sub-modules (tab completion of
        ``model.encoder``), as in PyTorch; not the numbered ones ("0": not attributes)."""
        names = set(super().__dir__())
        for registry in ("_parameters", "_buffers", "_modules"):
            names.update(self.__dict__.get(registry, {}))
        return sorted(name for name in names if not name[:1].isdigit())

    def __delattr__(self, name: str) -> None:
        if name in self._buffers:
            self._drop_buffer(name)
            return
        for registry in (self._parameters, self._modules):
            if name in registry:
                del registry[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register `param` under `name`; None leaves an empty slot (a layer without
        bias), skipped by parameters() and state_dict, as in PyTorch."""
        _check_name("register_parameter", name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None")
        empty_slot = name in self.__dict__ and self.__dict__[name] is None
        if name not in self._parameters and not empty_slot and hasattr(self, name):
            # (register_parameter("training", p) would replace the train/eval flag)
            raise KeyError(f"register_parameter: attribute {name!r} already exists")
        if param is None:
            self.__dict__.pop(name, None)
            self._drop_buffer(name)
            self._modules.pop(name, None)
            self._parameters[name] = None
        else:
            setattr(self, name, param)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register `tensor` as a buffer: state that is not a parameter (no gradient, not
        in parameters()), saved in state_dict unless persistent=False, moved by .to().

        The buffer is then an attribute (``self.running_mean``); assigning a new Tensor
        to that attribute replaces the buffer. None registers an empty slot (skipped by
        state_dict).
        """
        _check_name("register_buffer", name)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, got "
                            f"{type(tensor).__name__}")
        if isinstance(tensor, Parameter):
            raise TypeError(f"register_buffer: {name!r} is a Parameter; use "
                            "register_parameter for learned weights")
        if name in self._parameters or name in self._modules or (
                name in self.__dict__ and name not in self._buffers):
            raise KeyError(f"register_buffer: attribute {name!r} already exists")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module) -> None:
        """Register a sub-module under `name` (a non-empty string without '.')."""
        _check_name("add_module", name)
        if not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        if name not in self._modules and hasattr(self, name):
            # (ModuleDict({"training": ...}) would otherwise replace the attribute)
            raise KeyError(f"add_module: attribute {name!r} already exists")
        setattr(self, name, module)

    def register_module(self, name: str, module: Module) -> None:
        """PyTorch's other name for add_module."""
        self.add_module(name, module)

    # ----------------------------------------------------------------- forward
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; every subclass defines it."""
        raise TypeError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # (.get: a model pickled before pre-hooks existed has no such registry)
        for hook in list(self.__dict__.get("_forward_pre_hooks", {}).values()):
            replaced = hook(self, args)
            if replaced is not None:
                args = replaced if isinstance(replaced, tuple) else (replaced,)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            replaced = hook(self, args, output)
            if replaced is not None:
                output = replaced
        return output

    def register_forward_hook(self, hook: Callable[[Module, tuple, Any], Any]) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after every forward.

        A hook that returns something other than None replaces the output. Returns a
        handle whose ``remove()`` unregisters the hook.
        """
        if not callable(hook):
            raise TypeError(f"register_forward_hook: {hook!r} is not callable")
        key = self._next_hook_id
        object.__setattr__(self, "_next_hook_id", key + 1)
        self._forward_hooks[key] = hook
        return RemovableHandle(self._forward_hooks, key)

    def register_forward_pre_hook(self, hook: Callable[[Module, tuple], Any]
                                  ) -> RemovableHandle:
        """Call ``hook(module, inputs)`` before every forward (PyTorch's pre-hook).

        ``inputs`` is the tuple of positional arguments; a hook that returns something
        other than None replaces them (a single value becomes a 1-tuple). Returns a
        handle whose ``remove()`` unregisters the hook.
        """
        if not callable(hook):
            raise TypeError(f"register_forward_pre_hook: {hook!r} is not callable")
        if "_forward_pre_hooks" not in self.__dict__:  # (pickled before pre-hooks existed)
            object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        key = self._next_hook_id
        object.__setattr__(self, "_next_hook_id", key + 1)
        self._forward_pre_hooks[key] = hook
        return RemovableHandle(self._forward_pre_hooks, key)

    # --------------------------------------------------------------- tree walks
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """(name, module) for this module and every descendant, depth first, each once;
        remove_duplicate=False lists a module reached by several paths under each (as
        PyTorch; a module inside itself is not entered again). ``memo`` (PyTorch's
        argument) is a set of modules to skip, and records those yielded."""
        if isinstance(memo, str):  # named_modules("enc"): PyTorch's first argument is memo
            raise TypeError("named_modules: the first argument is memo (a set); pass the "
                            "prefix by keyword: named_modules(prefix=...)")
        seen = set() if memo is None else memo
        on_path: set[int] = set()  # the modules from the root to the current one
        stack: list[tuple[str, Module, bool]] = [(prefix, self, False)]
        while stack:
            name, module, leaving = stack.pop()
            if leaving:
                on_path.discard(id(module))
                continue
            if remove_duplicate:
                if module in seen:
                    continue
                seen.add(module)
            on_path.add(id(module))
            stack.append((name, module, True))
            yield name, module
            children = list(module._modules.items())
            for child_name, child in reversed(children):
                if child is not None and id(child) not in on_path:
                    stack.append((f"{name}.{child_name}" if name else child_name, child,
                                  False))

    def get_submodule(self, target: str) -> Module:
        """The sub-module at a dotted path (``"encoder.0"``, a named_modules name; ""
        is this module), as in PyTorch; an AttributeError naming the missing step."""
        if not isinstance(target, str):
            raise TypeError(f"get_submodule: the target must be a dotted str, got "
                            f"{type_name(target)}")
        module: Module = self
        if target == "":
            return module
        for step in target.split("."):
            child = module._modules.get(step)
            if child is None:
                raise AttributeError(f"get_submodule({target!r}): {type(module).__name__} "
                                     f"has no sub-module {step!r}; it has "
                                     f"{list(module._modules)}")
            module = child
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at a dotted path (``"encoder.0.weight"``, a named_parameters
        name), as in PyTorch; an AttributeError naming what is missing."""
        if not isinstance(target, str):
            raise TypeError(f"get_parameter: the target must be a dotted str, got "
                            f"{type_name(target)}")
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        param = module._parameters.get(name)
        if param is None:
            raise AttributeError(f"get_parameter({target!r}): {type(module).__name__} has no "
                                 f"parameter {name!r}; it has "
                                 f"{[k for k, v in module._parameters.items() if v is not None]}")
        return param

    def modules(self) -> Iterator[Module]:
        """This module and every descendant."""
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) of the direct sub-modules, each once (under its first name, as
        in PyTorch)."""
        seen = set()
        for name, module in self._modules.items():
            if id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        """The direct sub-modules, each once."""
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry: str, prefix: str, recurse: bool,
                       remove_duplicate: bool = True):
        """(dotted name, tensor) of one registry (parameters or buffers) over the tree
        (or this module only, recurse=False), each tensor once (remove_duplicate=False:
        under each of its names), None slots skipped."""
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, tensor in getattr(module, registry).items():
                if tensor is None or (remove_duplicate and id(tensor) in seen):
                    continue
                seen.add(id(tensor))
                yield (f"{module_name}.{name}" if module_name else name), tensor

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True
                         ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) for every parameter in the tree, each once
        (recurse=False: this module's own only, as in PyTorch)."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter in the tree, in registration order (what optimizers take);
        recurse=False: this module's own only."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True
                      ) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, buffer) for every buffer in the tree that is not None, each once
        (recurse=False: this module's own only)."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every buffer in the tree (running statistics and the like); recurse=False:
        this module's own only."""
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def _named_state(self) -> Iterator[tuple[str, Module, str, Tensor, bool]]:
        """What state_dict holds, in PyTorch's order: per module (depth first) its
        parameters, then its persistent buffers. Yields (key, module, attribute name,
        tensor, is_parameter).

        As in PyTorch, a module or parameter reached by several paths (a layer used
        twice, tied weights) is listed under every path, so the keys are torch's; a
        module is not entered again below itself, so a cycle ends.
        """
        on_path: set[int] = set()  # ids of the modules from the root to the current one
        stack: list[tuple[str, Module, bool]] = [("", self, False)]
        while stack:
            module_name, module, leaving = stack.pop()
            if leaving:
                on_path.discard(id(module))
                continue
            on_path.add(id(module))
            stack.append((module_name, module, True))
            prefix = f"{module_name}." if module_name else ""
            for name, param in module._parameters.items():
                if param is not None:  # (an empty slot: a layer without bias)
                    yield prefix + name, module, name, param, True
            for name, buf in module._buffers.items():
                if buf is not None and name not in module._non_persistent_buffers:
                    yield prefix + name, module, name, buf, False
            for child_name, child in reversed(module._modules.items()):
                if id(child) not in on_path:
                    stack.append((prefix + child_name, child, False))

    # ------------------------------------------------------------------ modes
    def train(self, mode: bool = True) -> Module:
        """Set training mode (Dropout active) on this module and all descendants; returns
        self. As in PyTorch, a sub-module whose class overrides ``train`` (a layer kept
        in eval mode, say) gets its own ``train(mode)`` called, which handles its subtree.
        """
        if not isinstance(mode, (bool, np.bool_)):
            raise ValueError(f"train: the training mode must be a bool, got {mode!r}")
        mode = bool(mode)
        object.__setattr__(self, "training", mode)
        seen = {id(self)}
        stack = list(reversed(self._modules.values()))
        while stack:  # (iterative: deep nesting is fine)
            module = stack.pop()
            if module is None or id(module) in seen:
                continue
            seen.add(id(module))
            if type(module).train is not Module.train:
                module.train(mode)
                continue
            object.__setattr__(module, "training", mode)
            stack.extend(reversed(module._modules.values()))
        return self

    def eval(self) -> Module:
        """Set evaluation mode (Dropout off)."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of all parameters: ``.grad`` becomes None, or with
        set_to_none=False existing gradients are filled with zeros (as in PyTorch)."""
        _zero_grads(self.parameters(), set_to_none)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze every parameter in the tree; returns self."""
        for param in self.parameters():
            param.requires_grad = bool(requires_grad)
        return self

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn(module)`` on every descendant and then on this module (children
        before their parent, each module once), e.g. a custom initialisation:
        ``model.apply(lambda m: init.zeros_(m.bias) if isinstance(m, nn.Linear) else None)``.
        Returns self."""
        if not callable(fn):
            raise TypeError(f"apply: {fn!r} is not callable")
        # PyTorch's order (children in order, each before its parent), without recursion
        order, seen = [], set()
        stack: list[tuple[Module, bool]] = [(self, False)]
        while stack:
            module, children_done = stack.pop()
            if children_done:
                order.append(module)
            elif id(module) not in seen:
                seen.add(id(module))
                stack.append((module, True))
                stack.extend((child, False) for child in reversed(module._modules.values()))
        for module in order:
            fn(module)
        return self

    def cpu(self) -> Module:
        """Move every parameter and buffer to "cpu" in place (PyTorch's module.cpu(),
        as ``Tensor.cpu``); returns self."""
        return self.to("cpu")

    def double(self) -> Module:
        """Cast every float parameter and buffer to float64 in place (PyTorch's
        module.double(), the usual step before a gradient check or a Hessian); self."""
        return self.to(np.dtype(np.float64))

    def float(self) -> Module:  # noqa: A003 - PyTorch's name
        """Cast every float parameter and buffer to float32 in place; returns self."""
        return self.to(np.dtype(np.float32))

    def to(self, *args: Any, device: str | None = None, dtype: Any = None) -> Module:
        """Move every parameter and buffer to a device ("cpu", "opencl", ...) and/or cast
        them to a float dtype (``vecgrad.float64``), in place, in PyTorch's forms:
        ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)`` (its device
        and dtype), ``to(device=..., dtype=...)``. The Parameter objects stay the same,
        so an optimizer built earlier keeps working. A dtype cast leaves integer buffers
        (num_batches_tracked) as they are, as PyTorch does. Returns self.
        """
        device, dtype = to_arguments("Module.to", args, device, dtype)
        if dtype is not None and _float_kind(dtype) is False:
            # Checked before anything moves: a parameter cast to int64 half-way through
            # would leave the model broken (PyTorch refuses it up front too).
            raise TypeError(f"Module.to: parameters and buffers can only be cast to a float "
                            f"dtype (float32, float64), got {np.dtype(dtype)}")
        where = {} if device is None else {"device": device}
        target = where if dtype is None else {**where, "dtype": dtype}
        for module in self.modules():
            for name, buf in module._buffers.items():
                if buf is None:
                    continue
                wanted = target if buf.dtype.kind == "f" else where
                if not wanted:
                    continue
                moved = buf.to(**wanted)
                if moved is not buf:
                    module._buffers[name] = moved
        if not target:
            return self
        for param in self.parameters():  # shared parameters come once
            moved = param.detach().to(**target)
            if moved._buf is param._buf:  # already there: keep storage and version counter
                continue
            grad = None if param.grad is None else param.grad.to(**target)
            requires_grad = param.requires_grad
            param._adopt(moved._buf, moved._backend)  # swap the storage, keep the object
            param.requires_grad = requires_grad
            param.grad = grad
        return self

    # ------------------------------------------------------------- state dicts
    def state_dict(self, *, prefix: str = "", keep_vars: bool = False
                   ) -> OrderedDict[str, Tensor]:
        """Dotted name -> tensor (detached, sharing the data) for every parameter and
        every persistent buffer, in PyTorch's order and with PyTorch's keys.

        As in PyTorch, ``prefix`` is put before every key (``prefix="encoder."``) and
        ``keep_vars=True`` gives the Parameters themselves instead of detached tensors.
        """
        if not isinstance(prefix, str):
            raise TypeError(f"state_dict: prefix must be a str, got {type_name(prefix)}")
        return OrderedDict((prefix + key, t if keep_vars else t.detach())
                           for key, _, _, t, _ in self._named_state())

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> LoadResult:
        """Copy values into this module's parameters, on their devices.

        Values may be Tensors or numpy arrays. Parameters and persistent buffers are
        loaded alike. Raises StateDictError naming every missing and unexpected key (when
        `strict`) and every shape or dtype mismatch; nothing is modified unless
        everything fits.
        """
        if not isinstance(state_dict, dict):
            raise TypeError(
                "load_state_dict: expected a dict of name -> tensor, "
                f"got {type(state_dict).__name__}"
            )
        own = OrderedDict((key, t) for key, _, _, t, _ in self._named_state())
        # A tensor listed under several keys (tied weights) is loaded once it is given
        # under one of them: states saved before every path was listed still load.
        given = {id(t) for key, t in own.items() if key in state_dict}
        missing = [name for name, t in own.items()
                   if name not in state_dict and id(t) not in given]
        unexpected = [name for name in state_dict if name not in own]
        problems = []
        if strict and missing:
            problems.append(f"missing keys: {', '.join(missing)}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {', '.join(map(str, unexpected))}")
        for name, param in own.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            if not isinstance(value, (Tensor, np.ndarray)):
                problems.append(f"{name}: expected a vecgrad Tensor or numpy array, got "
                                f"{type_name(value)}")
                continue
            shape, dtype = tuple(value.shape), np.dtype(value.dtype)
            if shape != param.shape:
                problems.append(f"{name}: shape {shape} in the state, {param.shape} in the model")
            if dtype != param.dtype:
                problems.append(f"{name}: dtype {dtype} in the state, {param.dtype} in the model")
        if problems:
            raise StateDictError(
                f"load_state_dict for {type(self).__name__}: " + "; ".join(problems)
            )
        with vecgrad.no_grad():
            for name, param in own.items():
                if name in state_dict:
                    param.copy_(_on_device(state_dict[name], param))
        return LoadResult(missing, unexpected)

    # -------------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (layers override it)."""
        return ""

    def __repr__(self) -> str:
        # Line by line, depth first with an explicit stack: the text grows with the
        # output only, however deep the nesting (no child's text is re-indented per level).
        lines: list[str] = []
        on_path: set[int] = set()  # modules whose closing ")" is still to come
        stack: list[tuple[Module, str, int, bool]] = [(self, "", 0, False)]
        while stack:
            module, label, depth, closing = stack.pop()
            pad = "  " * depth
            if closing:
                on_path.discard(id(module))
                lines.append(pad + ")")
                continue
            name = type(module).__name__
            if id(module) in on_path:  # a module inside itself: name it, do not loop
                lines.append(f"{pad}{label}{name}(...)")
                continue
            runs = _repeated_runs(module)
            if runs is not None:  # a ModuleList: equal neighbours as one line, as PyTorch
                lines.append(f"{pad}{label}{name}(")
                for first, last, text in runs:
                    run = f"({first}): " if first == last else \
                        f"({first}-{last}): {last - first + 1} x "
                    text_lines = text.split("\n")
                    lines.append(f"{pad}  {run}{text_lines[0]}")
                    lines.extend(f"{pad}  {line}" for line in text_lines[1:])
                lines.append(pad + ")")
                continue
            extra = module.extra_repr()
            extra_lines = extra.split("\n") if extra else []
            if not module._modules and len(extra_lines) <= 1:
                lines.append(f"{pad}{label}{name}({extra})")
            else:
                # PyTorch's layout: extra_repr's lines, then the children, each on its
                # own line one level in (not glued to the opening parenthesis).
                lines.append(f"{pad}{label}{name}(")
                lines.extend(f"{pad}  {line}" for line in extra_lines)
                on_path.add(id(module))
                stack.append((module, "", depth, True))
                for child_name, child in reversed(module._modules.items()):
                    stack.append((child, f"({child_name}): ", depth + 1, False))
        return "\n".join(lines)


_COLLAPSING: set[int] = set()  # the ModuleLists whose children repr is rendering now


def _repeated_runs(module: Module) -> list[tuple[int, int, str]] | None:
    """For a ModuleList, (first, last, text) per run of neighbouring children whose
    reprs are equal, as PyTorch prints them ("(0-11): 12 x Block(...)"); None for other
    modules, an empty list, one inside itself, or past 16 nested ModuleLists (those are
    printed child by child, so the repr stays free of deep recursion)."""
    from vecgrad.nn.layers import ModuleList  # (layers imports this module)

    if not isinstance(module, ModuleList) or not module._modules or \
            id(module) in _COLLAPSING or len(_COLLAPSING) >= 16:
        return None
    _COLLAPSING.add(id(module))
    try:
        texts = [repr(child) for child in module._modules.values()]
    finally:
        _COLLAPSING.discard(id(module))
    runs: list[tuple[int, int, str]] = []
    for index, text in enumerate(texts):
        if runs and runs[-1][2] == text:
            runs[-1] = (runs[-1][0], index, text)
        else:
            runs.append((index, index, text))
    return runs


def type_name(value: Any) -> str:
    """A value's type as an error names it: ``list``, ``numpy.ndarray``, ``torch.Tensor``
    (a bare "Tensor" would not say that it is not a vecgrad one)."""
    kind = type(value)
    package = kind.__module__.split(".")[0]
    return kind.__qualname__ if package in ("builtins", "vecgrad") else \
        f"{package}.{kind.__qualname__}"


def check_inplace(owner: str, inplace) -> bool:
    """PyTorch's `inplace=` of activation and dropout layers: accepted (a bool) so that
    `nn.ReLU(inplace=True)` ports as it is; the layer still computes out of place (the
    same values; the input is left as it was, PyTorch overwrites it)."""
    if not isinstance(inplace, (bool, np.bool_)):
        raise TypeError(f"{owner}: inplace must be a bool, got {inplace!r}")
    return bool(inplace)


def require_tensor(owner: str, value: Any, what: str = "input") -> None:
    """A layer's input must be a vecgrad Tensor; a clear TypeError otherwise."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{owner}: {what} must be a vecgrad Tensor, got {type_name(value)} "
                        f"(make one with vecgrad.tensor(...))")


def require_input_like(owner: str, x, param) -> None:
    """A layer's input on its parameters' device and of their dtype: as PyTorch, no
    silent promotion (a float32 layer given float64 input returned float64, computed in
    float64, while its gradients stayed float32; OpenCL's products refuse mixed dtypes)."""
    if x.device != param.device:  # (else the error would name `linear`, not the layer)
        raise ValueError(f"{owner}: input is on {x.device} but the parameters are on "
                         f"{param.device}; move one (x.to({param.device!r}) or "
                         f"module.to({x.device!r}))")
    if x.dtype != param.dtype:
        fix = f"x.to({str(param.dtype)!r})"
        if np.issubdtype(x.dtype, np.floating):
            fix = f"convert one ({fix} or module.to({str(x.dtype)!r}))"
        raise TypeError(f"{owner}: input is {x.dtype} but the parameters are {param.dtype}; "
                        f"{fix}")


def _check_name(owner: str, name: Any) -> None:
    """A parameter, buffer or sub-module name: a str (else a TypeError, as PyTorch),
    non-empty and without '.' (else a KeyError, as PyTorch)."""
    if not isinstance(name, str):
        raise TypeError(f"{owner}: the name must be a str, got {type_name(name)} {name!r}")
    if not name or "." in name:
        raise KeyError(f"{owner}: the name must be a non-empty string without '.', "
                       f"got {name!r}")


def _zero_grads(params, set_to_none: bool) -> None:
    """What Module.zero_grad and Optimizer.zero_grad do to each parameter's gradient."""
    for param in params:
        if set_to_none or param.grad is None:
            param.grad = None
        else:
            with vecgrad.no_grad():
                param.grad = param.grad.detach()
                param.grad.zero_()


def _float_kind(target: Any) -> bool | None:
    """Whether a .to() dtype target is a float dtype (None: not a dtype numpy knows, which
    Tensor.to then names)."""
    try:
        return np.dtype(target).kind == "f"
    except TypeError:
        return None


def _on_device(value, param):
    """`value` (Tensor or array) as a tensor on `param`'s device."""
    if isinstance(value, Tensor):
        return value.detach().to(param.device)
    return vecgrad.tensor(value, dtype=param.dtype, device=param.device)
