"""The activation catalogue as one differentiable op: f and f' come from the backend
under the names of scalargrad.functions.ACTIVATIONS (the shared vocabulary)."""

from __future__ import annotations

import math
import numbers

import numpy as np

from scalargrad.functions import ACTIVATIONS

from vecgrad.autograd import Function
from vecgrad.ops import common, elementwise


class Activation(Function):
    @staticmethod
    def forward(ctx, x, *, name, alpha):
        ctx.save_for_backward(x)
        ctx.attrs = (name, alpha)
        return ctx.backend.activation(name, x, alpha)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        name, alpha = ctx.attrs
        if ctx.grad_owned:  # grad is the walk's own buffer: the result may overwrite it
            return ctx.backend.activation_backward(name, x, grad, alpha, out=grad)
        return ctx.backend.activation_backward(name, x, grad, alpha)  # grad * f'(x)


# The catalogue's activations without a parameter (relu, tanh, sigmoid, ...).
_NO_ALPHA = frozenset(name for name, entry in ACTIVATIONS.items()
                      if entry.default_alpha is None)


def resolve_alpha(name: str, alpha):
    """Validate the name and alpha; None means the catalogue's default parameter."""
    entry = ACTIVATIONS.get(name)
    if entry is None:
        raise ValueError(f"activation: unknown activation {name!r}; known: "
                         f"{', '.join(ACTIVATIONS)}")
    if entry.default_alpha is None:
        if alpha is not None:
            raise ValueError(f"activation: {name} takes no alpha parameter (got {alpha!r})")
        return None
    if alpha is None:
        return entry.default_alpha
    if not isinstance(alpha, numbers.Real) or isinstance(alpha, bool):
        raise TypeError(f"activation: {name}'s alpha must be a number, got {alpha!r}")
    return float(alpha)


def activation(x, name: str, alpha=None):
    """f(x) for the catalogue activation `name` (alpha: its parameter, if it has one)."""
    if alpha is None and name in _NO_ALPHA and isinstance(x, common.Tensor) and \
            x._buf.dtype in common.FLOAT_DTYPES:  # relu(x), tanh(x): checked in one go
        return Activation.apply(x, name=name, alpha=None)
    alpha = resolve_alpha(name, alpha)
    if not common.is_tensor(x):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    common.require_float(name, x)
    return Activation.apply(x, name=name, alpha=alpha)


# ------------------------------------------------------------- higher-order derivatives
# f'(x) of every catalogue activation as a composition of differentiable ops, used only
# when a backward pass is recorded (create_graph=True): the first-order path keeps the
# backend's fused f' (activation_backward). tests/vecgrad/test_higher_order.py checks each
# entry against the catalogue's numeric f' and a few third derivatives against closed
# forms. Unselected `where` branches stay finite (clip, a safe x) so that their zero
# gradient never meets an inf or a nan.
def _full_like(x, value):
    return x._wrap(x._backend.full(x.shape, value, x.dtype), x._backend)


def _mask(x, op, value):
    be = x._backend
    hit = be.compare(op, x._buf, be.full((), value, x.dtype))
    return x._wrap(hit, be)


def _nan_kept(x, df):
    """A piecewise-constant f' (no graph: its own derivative is 0), nan where x is nan,
    as the catalogue's f' and the first-order kernels give (nan in, nan out)."""
    be = x._backend
    is_nan = be.compare("ne", x._buf, x._buf)
    return x._wrap(be.where(is_nan, be.full((), math.nan, x.dtype), df._buf), be)


def _act(x, name):
    return Activation.apply(x, name=name, alpha=None)


def _sigmoid_df(x, alpha):
    s = _act(x, "sigmoid")
    return s * (1.0 - s)


def _tanh_df(x, alpha):
    t = _act(x, "tanh")
    return 1.0 - t * t


def _leaky_relu_df(x, alpha):
    return _nan_kept(x, elementwise.where(_mask(x, "gt", 0), _full_like(x, 1.0),
                                          _full_like(x, alpha)))


def _elu_df(x, alpha):
    # x itself where x <= 0 or nan (clip's gradient is 0 at nan, so f'' at nan was 0;
    # nan in, nan out, as scalargrad's), 0 in the unselected x > 0 branch (exp stays finite)
    right = _mask(x, "gt", 0)
    left = alpha * elementwise.exp(elementwise.where(right, _full_like(x, 0.0), x))
    return elementwise.where(right, _full_like(x, 1.0), left)


def _bent_identity_df(x, alpha):
    # x / (2 hypot(x, 1)) + 1, as the catalogue. x * x overflows past 1.8e19 (float32) or
    # 1.3e154 (float64) and gave 1 there instead of the limits 1.5 / 0.5, so x and 1 are
    # scaled by m = max(|x|, 1) first: x / hypot(x, 1) = (x/m) / sqrt((x/m)^2 + (1/m)^2)
    # for any m > 0, so the recorded derivative through m is 0 and higher orders stay
    # exact. At +-inf the catalogue's limits, as constants (f'' -> 0).
    size = elementwise.abs(x)
    infinite = _mask(size, "eq", math.inf)
    safe = elementwise.where(infinite, _full_like(x, 0.0), x)
    size = elementwise.abs(safe)
    m = elementwise.where(_mask(size, "gt", 1.0), size, _full_like(x, 1.0))
    u, w = safe / m, 1.0 / m
    finite = u / elementwise.sqrt(u * u + w * w) * 0.5 + 1.0
    limits = elementwise.where(_mask(x, "gt", 0.0), _full_like(x, 1.5), _full_like(x, 0.5))
    return elementwise.where(infinite, limits, finite)


def _soft_exponential_df(x, alpha):
    if alpha < 0:
        # nan where 1 - alpha (x + alpha) < 0, as the catalogue: f is -log of a negative
        # number there (nan), and 1 / inner alone gave a finite negative slope
        inner = 1.0 - alpha * (x + alpha)
        outside = _mask(inner, "lt", 0.0)
        return elementwise.where(outside, _full_like(x, math.nan), 1.0 / inner)
    if alpha == 0:
        return _nan_kept(x, _full_like(x, 1.0))
    return elementwise.exp(alpha * x)


def _sinc_df(x, alpha):
    size = elementwise.abs(x)
    # (the series' range: numpy_backend._SINC_SERIES_BELOW, 1 in float32, 1e-2 in float64)
    small = _mask(size, "lt", 1.0 if x.dtype == np.float32 else 1e-2)
    infinite = _mask(size, "eq", math.inf)  # the catalogue's limit 0 (cos(inf) is nan)
    safe = elementwise.where(small | infinite, _full_like(x, 1.0), x)
    # (cos - sin / x) / x: sin / (x * x) overflowed x * x past 1.3e154 (float64), and its
    # recorded derivative then met inf * 0 = nan
    closed = (elementwise.cos(safe) - elementwise.sin(safe) / safe) / safe
    # Taylor series near 0, as in the catalogue, on x only where it is used (elsewhere
    # 0): x^4 overflowed past 1e77 and the unselected branch's derivative became nan
    zero = _full_like(x, 0.0)
    tiny = elementwise.where(small, x, zero)
    x2 = tiny * tiny
    series = tiny * (-1.0 / 3.0 + x2 * (1.0 / 30.0 + x2 * (-1.0 / 840.0 + x2 * (
        1.0 / 45360.0 - x2 / 3991680.0))))
    return elementwise.where(small, series, elementwise.where(infinite, zero, closed))


def _gaussian_df(x, alpha):
    # -2 x exp(-x^2). exp(-x^2) is 0 beyond |x| = 27.3 in float64, so x clipped to
    # [-40, 40] changes no value; unclipped, -2x overflowed at the largest floats (and at
    # inf) and inf * 0 gave nan where the catalogue has the limit 0.
    # (By where, not clip: clip's gradient is 0 at nan, so f'' at nan was 0; nan in, nan
    # out, as scalargrad's.)
    far = _mask(elementwise.abs(x), "gt", 40.0)
    near = elementwise.where(far, elementwise.sign(x) * 40.0, x)
    return near * elementwise.exp(-(near * near)) * -2.0


DERIVATIVES = {
    "identity": lambda x, a: _nan_kept(x, _full_like(x, 1.0)),
    "step": lambda x, a: _nan_kept(x, _full_like(x, 0.0)),
    "sigmoid": _sigmoid_df,
    "tanh": _tanh_df,
    "arctan": lambda x, a: 1.0 / (1.0 + x * x),
    "relu": lambda x, a: _nan_kept(x, common.cast(_mask(x, "gt", 0), x.dtype)),
    "leaky_relu": _leaky_relu_df,
    "elu": _elu_df,
    "softplus": lambda x, a: _act(x, "sigmoid"),
    "bent_identity": _bent_identity_df,
    "soft_exponential": _soft_exponential_df,
    "sin": lambda x, a: elementwise.cos(x),
    "cos": lambda x, a: -elementwise.sin(x),
    "sinc": _sinc_df,
    "gaussian": _gaussian_df,
}


def derivative(name, x, alpha):
    """f'(x) of activation `name` as a recorded Tensor (for create_graph backward)."""
    rule = DERIVATIVES.get(name)
    if rule is None:
        raise NotImplementedError(
            f"create_graph: activation {name!r} has no entry in "
            f"vecgrad.ops.activations.DERIVATIVES (its f' as differentiable ops)")
    if alpha is None:
        alpha = ACTIVATIONS[name].default_alpha
    return rule(x, alpha)


# ---------------------------------------------------- composite activations (PyTorch's)
# Not in the catalogue: the catalogue is the lectures' vocabulary (scalargrad, vecgrad
# and activations.cl together). These are compositions of catalogue activations and
# elementwise ops, so their gradients (and gradients of gradients) come from those ops.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _float(op, x):
    if not common.is_tensor(x):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    common.require_float(op, x)
    return x


def gelu(x, approximate="none"):
    """x * Phi(x) (Phi: the standard normal CDF, through erf); approximate="tanh" gives
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), both as in PyTorch."""
    x = _float("gelu", x)
    if approximate == "none":
        return x * 0.5 * (1.0 + elementwise.erf(x * (1.0 / math.sqrt(2.0))))
    if approximate == "tanh":
        inner = (x + 0.044715 * x * x * x) * math.sqrt(2.0 / math.pi)
        return x * 0.5 * (1.0 + activation(inner, "tanh"))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(x):
    """x * sigmoid(x) (also called swish)."""
    x = _float("silu", x)
    return x * activation(x, "sigmoid")


def mish(x):
    """x * tanh(softplus(x))."""
    x = _float("mish", x)
    return x * activation(activation(x, "softplus"), "tanh")


def selu(x):
    """scale * elu(x, alpha) with the self-normalizing constants of Klambauer et al."""
    x = _float("selu", x)
    return activation(x, "elu", _SELU_ALPHA) * _SELU_SCALE


def softsign(x):
    """x / (1 + |x|)."""
    x = _float("softsign", x)
    return x / (1.0 + elementwise.abs(x))


def logsigmoid(x):
    """log(sigmoid(x)) = -softplus(-x), finite for any finite x."""
    x = _float("logsigmoid", x)
    return -activation(-x, "softplus")


def softplus(x, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta; where beta x > threshold, x itself (PyTorch's rule).
    beta=1 and threshold=20 use the catalogue's softplus, which is exact there too
    (x + log1p(exp(-x)): it differs from x by at most 2e-9 beyond the threshold)."""
    x = _float("softplus", x)
    for name, v in (("beta", beta), ("threshold", threshold)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"softplus: {name} must be a number, got {v!r}")
    if beta == 1 and threshold == 20:
        return activation(x, "softplus")
    if beta == 0:
        raise ValueError("softplus: beta must not be 0")
    z = x * float(beta)
    return elementwise.where(z > threshold, x, activation(z, "softplus") * (1.0 / beta))


def hardtanh(x, min_val=-1.0, max_val=1.0):
    """x clipped to [min_val, max_val]; gradient 1 strictly inside, 0 at and beyond the
    ends (PyTorch's hardtanh; clip's gradient keeps the ends)."""
    x = _float("hardtanh", x)
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} is greater than max_val {max_val}")
    inside = (x > min_val) & (x < max_val)
    return elementwise.where(inside, x, elementwise.clip(x.detach(), min_val, max_val))


def relu6(x):
    """min(max(x, 0), 6) (hardtanh(x, 0, 6))."""
    return hardtanh(x, 0.0, 6.0)


def hardsigmoid(x):
    """relu6(x + 3) / 6."""
    x = _float("hardsigmoid", x)
    return hardtanh(x + 3.0, 0.0, 6.0) * (1.0 / 6.0)


def hardswish(x):
    """x * relu6(x + 3) / 6, with PyTorch's gradient at the ends: 0 up to -3 included,
    1 from 3 included, (2x + 3) / 6 strictly between (the value is continuous, so only
    the gradient at exactly -3 and 3 depends on which side takes them)."""
    x = _float("hardswish", x)
    middle = x * (x + 3.0) * (1.0 / 6.0)
    upper = elementwise.where(x < 3.0, middle, x)
    return elementwise.where(x <= -3.0, 0.0, upper)
