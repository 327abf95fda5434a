"""Stateless neural-network functions (import as F), PyTorch's names and argument order.

Every function validates its inputs and composes differentiable ops from vecgrad.ops;
none has a backward of its own beyond those ops.
"""

from __future__ import annotations

from vecgrad.ops import activations, matmul
from vecgrad.ops import softmax as _softmax
from vecgrad.ops.activations import (
    gelu,
    hardsigmoid,
    hardswish,
    hardtanh,
    logsigmoid,
    mish,
    relu6,
    selu,
    silu,
    softplus,
    softsign,
)
from vecgrad.ops.attention import scaled_dot_product_attention
from vecgrad.ops.conv import (
    avg_pool1d,
    avg_pool2d,
    conv1d,
    conv2d,
    conv_transpose1d,
    conv_transpose2d,
    max_pool1d,
    max_pool2d,
)
from vecgrad.ops.creation import one_hot
from vecgrad.ops.elementwise import dropout
from vecgrad.ops.embedding import embedding
from vecgrad.ops.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    l1_penalty,
    l2_penalty,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from vecgrad.ops.normalization import batch_norm, layer_norm
from vecgrad.ops.reduce import cosine_similarity, normalize
from vecgrad.ops.softmax import glu, softmin
from vecgrad.ops.spatial import adaptive_avg_pool1d, adaptive_avg_pool2d, interpolate, pad

__all__ = [
    "linear", "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "max_pool1d",
    "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "pad", "interpolate", "batch_norm", "layer_norm", "embedding", "dropout", "mse_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss",
    "l1_penalty", "l2_penalty", "softmax", "log_softmax", "activation",
    "identity", "step", "sigmoid", "tanh", "arctan", "relu", "leaky_relu", "elu", "softplus",
    "bent_identity", "soft_exponential", "sin", "cos", "sinc", "gaussian",
    # PyTorch's functional names beyond the catalogue (composites, vecgrad/ops/)
    "gelu", "silu", "selu", "softsign", "hardtanh", "relu6", "mish", "logsigmoid",
    "hardswish", "hardsigmoid", "softmin", "glu", "normalize", "cosine_similarity",
    "one_hot", "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div",
    "scaled_dot_product_attention",
]


def linear(x, weight, bias=None):
    """x @ weight.T + bias, with weight of shape (out_features, in_features)."""
    return matmul.linear(x, weight, bias)


def softmax(x, axis=-1, *, dim=None):
    """exp(x) / sum(exp(x)) along axis (stable)."""
    return _softmax.softmax(x, axis, dim=dim)


def log_softmax(x, axis=-1, *, dim=None):
    """log(softmax(x)) along axis (stable)."""
    return _softmax.log_softmax(x, axis, dim=dim)


def activation(x, name, alpha=None):
    """The catalogue activation `name` applied to x (alpha: its parameter, if any)."""
    return activations.activation(x, name, alpha)


# One function per catalogue name (scalargrad.functions.ACTIVATIONS).
def identity(x):
    """f(x) = x."""
    return activations.activation(x, "identity")


def step(x):
    """1 for x >= 0 else 0 (gradient 0)."""
    return activations.activation(x, "step")


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return activations.activation(x, "sigmoid")


def tanh(x):
    """tanh(x)."""
    return activations.activation(x, "tanh")


def arctan(x):
    """arctan(x)."""
    return activations.activation(x, "arctan")


def relu(x):
    """max(0, x) (gradient 0 at 0)."""
    return activations.activation(x, "relu")


def leaky_relu(x, alpha=None, *, negative_slope=None):
    """x for x > 0 else alpha * x (alpha defaults to 0.01; PyTorch calls it negative_slope)."""
    if alpha is not None and negative_slope is not None and alpha != negative_slope:
        raise TypeError(f"leaky_relu: give alpha or negative_slope, not both (got alpha={alpha}, "
                        f"negative_slope={negative_slope})")
    return activations.activation(x, "leaky_relu", negative_slope if alpha is None else alpha)


def elu(x, alpha=None):
    """x for x > 0 else alpha * (exp(x) - 1) (alpha defaults to 1)."""
    return activations.activation(x, "elu", alpha)


def bent_identity(x):
    """(sqrt(x^2 + 1) - 1) / 2 + x."""
    return activations.activation(x, "bent_identity")


def soft_exponential(x, alpha=None):
    """Lecture 002's soft exponential (alpha defaults to 0.5)."""
    return activations.activation(x, "soft_exponential", alpha)


def sin(x):
    """sin(x)."""
    return activations.activation(x, "sin")


def cos(x):
    """cos(x)."""
    return activations.activation(x, "cos")


def sinc(x):
    """sin(x) / x with sinc(0) = 1."""
    return activations.activation(x, "sinc")


def gaussian(x):
    """exp(-x^2)."""
    return activations.activation(x, "gaussian")
