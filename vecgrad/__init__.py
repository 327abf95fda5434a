"""vecgrad: a tensor autograd engine on numpy (CPU) or OpenCL, with PyTorch's names.

    import vecgrad
    x = vecgrad.randn(3, 4, requires_grad=True)
    (x.relu() ** 2).sum().backward()
    x.grad

`nn`, `optim`, `data`, `Trainer`, `save` and `load` are imported on first use.
"""

from __future__ import annotations

import importlib

import numpy as np

# tensor first: the op modules below import Tensor from it.
from vecgrad.tensor import Tensor  # isort: skip
from vecgrad.autograd import (enable_grad, inference_mode, is_grad_enabled, no_grad,
                              set_grad_enabled)
from vecgrad.backends import available_devices, get_backend
from vecgrad.ops import graph_backend  # noqa: F401 - gives autograd its recorded walk
from vecgrad.ops.conv import conv2d
from vecgrad.ops.creation import (
    arange,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    random_generator,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from vecgrad.ops.einsum import einsum
from vecgrad.ops.elementwise import (
    abs,
    allclose,
    ceil,
    clip,
    cos,
    equal,
    erf,
    exp,
    exp2,
    expm1,
    floor,
    floor_divide,
    isclose,
    lerp,
    log,
    log1p,
    log2,
    log10,
    maximum,
    minimum,
    neg,
    reciprocal,
    remainder,
    round,
    rsqrt,
    sign,
    sin,
    sqrt,
    square,
    tan,
    trunc,
    where,
)
from vecgrad.ops.matmul import bmm, dot, matmul, mm, outer
from vecgrad.ops.movement import (
    argsort,
    cat,
    chunk,
    movedim,
    narrow,
    repeat,
    roll,
    sort,
    split,
    stack,
    swapaxes,
    tile,
    topk,
    tril,
    triu,
    unbind,
    unflatten,
)
from vecgrad.ops.namespace import (
    amax,
    amin,
    argmax,
    argmin,
    clone,
    flatten,
    flip,
    gather,
    isfinite,
    isinf,
    isnan,
    max,
    mean,
    min,
    numel,
    permute,
    prod,
    relu,
    reshape,
    sigmoid,
    squeeze,
    std,
    sum,
    t,
    tanh,
    transpose,
    unsqueeze,
    var,
)
from vecgrad.ops.reduce import all, any, cosine_similarity, cumsum, logsumexp, norm
from vecgrad.ops.softmax import log_softmax, softmax

clamp = clip
concat = cat
negative = neg
swapdims = swapaxes
moveaxis = movedim

from vecgrad import _moved  # isort: skip

_moved.install()  # old module paths (vecgrad.trainer, vecgrad.ui, ...) keep importing

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int64 = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)
# PyTorch's other names for them (dtype=torch.long, ...). Not in __all__: a star import
# must not shadow Python's float and bool.
long = int64
double = float64
float = float32  # (nothing below in this module calls Python's float or bool)
bool = bool_


def is_tensor(obj) -> bool:
    """True for a vecgrad Tensor (PyTorch's torch.is_tensor)."""
    return isinstance(obj, Tensor)


# Public names that live in modules other helpers own; imported when first touched
# (PEP 562), so `import vecgrad` stays light and never depends on them being present.
_LAZY = {
    "nn": ("vecgrad.nn", None),
    "optim": ("vecgrad.optim", None),
    "func": ("vecgrad.func", None),
    "data": ("vecgrad.data", None),
    "checkpoint": ("vecgrad.checkpoint", None),
    "bench": ("vecgrad.bench", None),
    "check": ("vecgrad.cli.check", None),
    "save": ("vecgrad.checkpoint", "save"),
    "load": ("vecgrad.checkpoint", "load"),
    "Trainer": ("vecgrad.train.trainer", "Trainer"),
}


def __getattr__(name):
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'vecgrad' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    return module if attribute is None else getattr(module, attribute)


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Tensor", "tensor", "zeros", "ones", "full", "arange", "eye", "rand", "randn",
    "zeros_like", "ones_like", "from_numpy", "manual_seed", "random_generator",
    "no_grad", "enable_grad", "is_grad_enabled", "get_backend", "available_devices",
    "float32", "float64", "int64", "bool_", "cat", "stack", "where", "clip", "matmul",
    "conv2d", "nn", "optim", "func", "data", "save", "load", "Trainer",
    # PyTorch-style module-level functions (vecgrad.exp(x), vecgrad.sum(x, dim=1), ...)
    "abs", "ceil", "cos", "erf", "exp", "exp2", "expm1", "floor", "floor_divide", "remainder",
    "lerp", "log", "log1p",
    "log2", "log10", "maximum", "minimum", "neg", "negative", "reciprocal", "round",
    "rsqrt", "sign", "sin", "sqrt", "square", "tan", "trunc", "clamp", "sigmoid", "tanh",
    "relu", "isnan", "isinf", "isfinite", "sum", "mean", "prod", "cumsum", "max", "min",
    "amax", "amin", "var", "std", "norm", "logsumexp", "argmax", "argmin", "all", "any",
    "softmax", "log_softmax", "cosine_similarity", "einsum", "mm", "bmm", "dot", "outer",
    "argsort", "chunk", "concat", "flip", "gather", "movedim", "moveaxis", "narrow",
    "permute", "repeat", "reshape", "roll", "sort", "split", "squeeze", "swapaxes",
    "swapdims", "t", "tile", "topk", "transpose", "tril", "triu", "unbind", "unflatten",
    "unsqueeze", "flatten", "clone", "numel",
    "randint", "randperm", "linspace", "isclose", "allclose", "equal",
    "full_like", "rand_like", "randn_like", "set_grad_enabled", "is_tensor", "long", "double", "empty", "inference_mode",
]
