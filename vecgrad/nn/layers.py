"""Layers: thin Modules over ``vecgrad.nn.functional`` that own their Parameters."""

from __future__ import annotations

import math
import numbers
from collections import OrderedDict
from typing import Any

import vecgrad
from scalargrad.functions import ACTIVATIONS  # the shared catalogue of activation names
from vecgrad.nn import functional as F
from vecgrad.nn import init
from vecgrad.nn.module import Module, Parameter


def _positive_int(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return value


def _pair(owner: str, name: str, value: Any, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints, each >= minimum, as a pair."""
    pair = (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
    if (not isinstance(pair, (tuple, list)) or len(pair) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum
                       for v in pair)):
        raise ValueError(
            f"{owner}: {name} must be an int >= {minimum} or a pair of them, got {value!r}"
        )
    return tuple(pair)


def _new_weight(shape: tuple[int, ...], fan_in: int, dtype, device) -> Parameter:
    """U(−1/√fan_in, 1/√fan_in): small uniform noise scaled by the fan-in (as PyTorch)."""
    param = Parameter(vecgrad.zeros(shape, dtype=dtype, device=device))
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    init.uniform_(param, -bound, bound)
    return param


class Linear(Module):
    """y = x Wᵀ + b with W of shape (out_features, in_features), as in PyTorch."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype=None, device: str | None = None):
        super().__init__()
        self.in_features = _positive_int("Linear", "in_features", in_features)
        self.out_features = _positive_int("Linear", "out_features", out_features)
        self.weight = _new_weight((out_features, in_features), in_features, dtype, device)
        if bias:
            self.bias = _new_weight((out_features,), in_features, dtype, device)
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        if not isinstance(x, vecgrad.Tensor) or x.ndim < 1 or x.shape[-1] != self.in_features:
            shape = getattr(x, "shape", type(x).__name__)
            raise ValueError(f"Linear: expected input (..., {self.in_features}), got {shape}")
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Conv2d(Module):
    """2-D convolution over NCHW input; weight of shape (out, in, kh, kw)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, bias: bool = True, dtype=None, device: str | None = None):
        super().__init__()
        self.in_channels = _positive_int("Conv2d", "in_channels", in_channels)
        self.out_channels = _positive_int("Conv2d", "out_channels", out_channels)
        self.kernel_size = _pair("Conv2d", "kernel_size", kernel_size, 1)
        self.stride = _pair("Conv2d", "stride", stride, 1)
        self.padding = _pair("Conv2d", "padding", padding, 0)
        self.dilation = _pair("Conv2d", "dilation", dilation, 1)
        fan_in = in_channels * self.kernel_size[0] * self.kernel_size[1]
        shape = (out_channels, in_channels, *self.kernel_size)
        self.weight = _new_weight(shape, fan_in, dtype, device)
        if bias:
            self.bias = _new_weight((out_channels,), fan_in, dtype, device)
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        if not isinstance(x, vecgrad.Tensor) or x.ndim != 4 or x.shape[1] != self.in_channels:
            shape = getattr(x, "shape", type(x).__name__)
            raise ValueError(
                f"Conv2d: expected input (N, {self.in_channels}, H, W), got {shape}"
            )
        return F.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding,
                        dilation=self.dilation)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"bias={self.bias is not None}")


class _Pool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        owner = type(self).__name__
        self.kernel_size = _pair(owner, "kernel_size", kernel_size, 1)
        self.stride = self.kernel_size if stride is None else _pair(owner, "stride", stride, 1)
        self.padding = _pair(owner, "padding", padding, 0)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Max over kernel windows of NCHW input (stride defaults to the kernel size)."""

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, stride=self.stride, padding=self.padding)


class AvgPool2d(_Pool2d):
    """Mean over kernel windows of NCHW input (stride defaults to the kernel size)."""

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, stride=self.stride, padding=self.padding)


class Flatten(Module):
    """Merge dimensions start_dim..end_dim into one (default: all but the batch axis)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x):
        ndim = x.ndim
        start = self.start_dim + ndim if self.start_dim < 0 else self.start_dim
        end = self.end_dim + ndim if self.end_dim < 0 else self.end_dim
        if not 0 <= start <= end < ndim:
            raise ValueError(
                f"Flatten: dims {self.start_dim}..{self.end_dim} do not fit input shape {x.shape}"
            )
        merged = math.prod(x.shape[start:end + 1])
        return x.reshape(x.shape[:start] + (merged,) + x.shape[end + 1:])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Zero each element with probability p while training; identity in eval mode.

    Kept elements are scaled by 1/(1 − p) during training (inverted dropout), which is
    the same as lecture 000's "scale at test time" up to where the factor is applied.
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p!r}")
        self.p = float(p)

    def forward(self, x):
        return F.dropout(x, self.p, training=self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Sequential(Module):
    """Apply modules in order: Sequential(Linear(2, 8), ReLU(), Linear(8, 1)).

    Also accepts one OrderedDict of name -> module.
    """

    def __init__(self, *modules: Module):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            items = list(modules[0].items())
        else:
            items = [(str(i), m) for i, m in enumerate(modules)]
        for name, module in items:
            if not isinstance(module, Module):
                raise TypeError(
                    f"Sequential: item {name} is a {type(module).__name__}, not a Module"
                )
            self.add_module(name, module)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def append(self, module: Module) -> Sequential:
        """Add `module` at the end."""
        self.add_module(str(len(self._modules)), module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index: int) -> Module:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*modules[index])
        return modules[index]


class Activation(Module):
    """One activation of the shared catalogue by name: Activation("leaky_relu", alpha=0.1)."""

    def __init__(self, name: str, alpha: float | None = None):
        super().__init__()
        if name not in ACTIVATIONS:
            raise ValueError(
                f"Activation: unknown activation {name!r}; known: {sorted(ACTIVATIONS)}"
            )
        entry = ACTIVATIONS[name]
        if alpha is not None and entry.default_alpha is None:
            raise ValueError(f"Activation: {name} takes no alpha parameter, got alpha={alpha!r}")
        if alpha is not None and (isinstance(alpha, bool) or not isinstance(alpha, numbers.Real)
                                  or not math.isfinite(alpha)):
            raise ValueError(f"Activation: {name}'s alpha must be a finite number, got {alpha!r}")
        self.name = name
        self.alpha = entry.default_alpha if alpha is None else float(alpha)

    def forward(self, x):
        return F.activation(x, self.name, self.alpha)

    def extra_repr(self) -> str:
        parts = [] if isinstance(self, _NamedActivation) else [repr(self.name)]
        if self.alpha is not None:
            parts.append(f"alpha={self.alpha}")
        return ", ".join(parts)


class _NamedActivation(Activation):
    """An Activation whose name is fixed by the subclass (repr shows the class name)."""

    activation_name = ""

    def __init__(self, alpha: float | None = None):
        super().__init__(self.activation_name, alpha)


class Identity(_NamedActivation):
    """f(x) = x."""

    activation_name = "identity"


class Step(_NamedActivation):
    """Binary step: 1 for x >= 0 else 0 (derivative 0)."""

    activation_name = "step"


class Sigmoid(_NamedActivation):
    """Logistic sigmoid 1 / (1 + e^−x)."""

    activation_name = "sigmoid"


class Tanh(_NamedActivation):
    """Hyperbolic tangent."""

    activation_name = "tanh"


class Arctan(_NamedActivation):
    """arctan(x)."""

    activation_name = "arctan"


class ReLU(_NamedActivation):
    """max(0, x)."""

    activation_name = "relu"


class LeakyReLU(_NamedActivation):
    """x for x >= 0 else alpha·x (alpha = 0.01)."""

    activation_name = "leaky_relu"


class ELU(_NamedActivation):
    """x for x > 0 else alpha·(e^x − 1) (alpha = 1)."""

    activation_name = "elu"


class Softplus(_NamedActivation):
    """log(1 + e^x)."""

    activation_name = "softplus"


class BentIdentity(_NamedActivation):
    """(√(x² + 1) − 1)/2 + x."""

    activation_name = "bent_identity"


class SoftExponential(_NamedActivation):
    """Lecture 002's soft exponential with parameter alpha (0.5)."""

    activation_name = "soft_exponential"


class Sin(_NamedActivation):
    """sin(x)."""

    activation_name = "sin"


class Cos(_NamedActivation):
    """cos(x)."""

    activation_name = "cos"


class Sinc(_NamedActivation):
    """sin(x)/x with sinc(0) = 1."""

    activation_name = "sinc"


class Gaussian(_NamedActivation):
    """e^(−x²)."""

    activation_name = "gaussian"


#: catalogue name -> layer class, one per entry of scalargrad.functions.ACTIVATIONS
ACTIVATION_LAYERS = {
    cls.activation_name: cls
    for cls in (Identity, Step, Sigmoid, Tanh, Arctan, ReLU, LeakyReLU, ELU, Softplus,
                BentIdentity, SoftExponential, Sin, Cos, Sinc, Gaussian)
}


class _AlongAxis(Module):
    """A function of the functional API applied along one axis."""

    function = None  # set by each subclass

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        return type(self).function(x, axis=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class Softmax(_AlongAxis):
    """softmax along `axis` (stable: the max is subtracted first)."""

    function = staticmethod(F.softmax)


class LogSoftmax(_AlongAxis):
    """log(softmax) along `axis`, computed stably."""

    function = staticmethod(F.log_softmax)
