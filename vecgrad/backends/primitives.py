"""The one list of primitive ops a vecgrad backend must provide.

This is the backend interface's vocabulary, kept beside base.py: every differentiable
op in vecgrad/ops/ is written (forward and backward) in terms of
these primitives only, so a backend that implements them gets the whole autograd engine.
The registry test checks that each name here has a numpy implementation, an OpenCL
kernel, and that the activation names match scalargrad's catalogue.
"""

# backend.unary(op, x): elementwise, same shape and dtype as x.
# log1p/expm1 keep full precision near 0 (log(1 + x) and exp(x) - 1 do not); exp2, log2
# and log10 are exact at powers of their base (log(x) / log(2) gave log2(8) = 2.9999999999999996
# in float64); erf has no composition; floor/ceil/round (half to even)/trunc neither.
UNARY_OPS = ("neg", "exp", "log", "sqrt", "abs", "sign", "sin", "cos", "reciprocal",
             "log1p", "expm1", "erf", "floor", "ceil", "round", "trunc", "exp2", "log2",
             "log10")

# backend.binary(op, a, b, out=None): numpy broadcasting, a and b of the same dtype.
BINARY_OPS = ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "floor_divide",
              "remainder")

# backend.compare(op, a, b): numpy broadcasting, result dtype bool (no gradient).
COMPARE_OPS = ("eq", "ne", "lt", "le", "gt", "ge")

# backend.reduce(op, x, axes, keepdims)
REDUCE_OPS = ("sum", "max", "min")

# backend.arg_reduce(op, x, axis, keepdims): int64 indices, first occurrence wins.
ARG_REDUCE_OPS = ("argmax", "argmin")

# Everything else a backend supplies, by method name (see backends/base.py for the
# exact contract of each one).
OTHER_PRIMITIVES = (
    "from_numpy", "to_numpy", "full", "astype", "copy", "assign", "axpy",
    "where", "activation", "activation_derivative", "activation_backward",
    "reshape", "permute", "expand", "getitem", "index_add", "gather", "scatter_add",
    "cat", "matmul", "im2col", "col2im", "conv2d", "conv2d_input_grad",
    "conv2d_weight_grad", "conv2d_grads", "max_pool_tiles", "max_pool_tiles_backward", "softmax",
    "log_softmax",
    "cross_entropy", "cross_entropy_backward", "fused_update", "fused_updates",
    "synchronize",
)
