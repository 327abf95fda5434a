"""GraphBackend: the backend that records a backward pass (create_graph=True).

Every op's backward rule is written once, as calls to `ctx.backend.<primitive>(...)`.
On the first-order path ctx.backend is the real backend (numpy, OpenCL) and the values
are raw buffers. For create_graph=True the engine runs the SAME rule with a GraphBackend:
its "buffers" are Tensors, and each primitive applies the differentiable Function that
computes it, so the rule's arithmetic is recorded and can be differentiated again - to
any order, because the Functions it applies have rules of their own that run the same way.

Primitives without a gradient (compare, sign, arg_reduce, full) return constant Tensors.
A few primitives exist only inside backward rules; each has a Function here or is a
composition: index_add (IndexAdd: the transpose of getitem), scatter_add (ScatterAdd),
col2im (Col2Im), activation_backward (grad * the catalogue derivative written with
differentiable ops, activations.DERIVATIVES), cross_entropy_backward (softmax - onehot).
"""

from __future__ import annotations

import numpy as np

from vecgrad import autograd
from vecgrad.backends.base import Backend
from vecgrad.ops import activations, common, conv, elementwise, matmul, movement, reduce, softmax
from vecgrad.tensor import Tensor

_UNARY = {
    "neg": elementwise.Neg, "exp": elementwise.Exp, "log": elementwise.Log,
    "sqrt": elementwise.Sqrt, "abs": elementwise.Abs, "sin": elementwise.Sin,
    "cos": elementwise.Cos, "log1p": elementwise.Log1p, "expm1": elementwise.Expm1,
    "erf": elementwise.Erf, "exp2": elementwise.Exp2,
}
# piecewise constant: recorded as constants (gradient 0)
_UNARY_CONSTANT = ("sign", "floor", "ceil", "round", "trunc")
_BINARY = {
    "add": elementwise.Add, "sub": elementwise.Sub, "mul": elementwise.Mul,
    "div": elementwise.Div, "pow": elementwise.Pow, "remainder": elementwise.Remainder,
    "floor_divide": elementwise.FloorDivide,  # recorded with gradient 0
}
_FLOATS = common.FLOAT_DTYPES


class GraphBackend:
    """The primitive interface over Tensors, recording each primitive as a Function.

    One per real backend (`GraphBackend.of(backend)`); the Tensors it makes live on the
    real backend, so nothing downstream can tell them from user-made Tensors.
    """

    _instances: dict = {}

    def __init__(self, real):
        self.real = real
        self.device = real.device
        self.supports_float64 = real.supports_float64

    @classmethod
    def of(cls, real):
        found = cls._instances.get(id(real))
        if found is None or found.real is not real:
            found = cls._instances[id(real)] = cls(real)
        return found

    def _constant(self, buf):
        return Tensor._wrap(buf, self.real)

    # ------------------------------------------------------------- memory and host
    def from_numpy(self, array):
        return self._constant(self.real.from_numpy(array))

    def to_numpy(self, x):
        return self.real.to_numpy(x._buf)

    def full(self, shape, value, dtype):
        return self._constant(self.real.full(shape, value, dtype))

    def astype(self, x, dtype):
        dtype = np.dtype(dtype)
        if x.dtype == dtype:
            return x
        if x._requires_grad and x.dtype in _FLOATS and dtype in _FLOATS:
            return common.Cast.apply(x, dtype=dtype)
        return self._constant(self.real.astype(x._buf, dtype))

    def copy(self, x):
        return x  # recorded values are never changed in place, so sharing is safe

    def synchronize(self):
        self.real.synchronize()

    # ------------------------------------------------------------------ elementwise
    def unary(self, op, x):
        function = _UNARY.get(op)
        if function is not None:
            return function.apply(x)
        if op == "reciprocal":
            return elementwise.Div.apply(self.full((), 1, x.dtype), x)
        if op in ("log2", "log10"):
            return elementwise.LogBase.apply(x, op=op)
        if op in _UNARY_CONSTANT:  # piecewise constant: no gradient
            return self._constant(self.real.unary(op, x._buf))
        raise ValueError(f"GraphBackend: unknown unary primitive {op!r}")

    def binary(self, op, a, b, out=None):
        # `out` is ignored: a recorded rule never writes into a value it was given.
        function = _BINARY.get(op)
        if function is not None:
            return function.apply(a, b)
        if op in ("maximum", "minimum"):
            pick_a = self.compare("ge" if op == "maximum" else "le", a, b)
            return elementwise.Where.apply(pick_a, a, b)
        raise ValueError(f"GraphBackend: unknown binary primitive {op!r}")

    def compare(self, op, a, b):
        return self._constant(self.real.compare(op, a._buf, b._buf))

    def where(self, cond, a, b):
        return elementwise.Where.apply(cond, a, b)

    def activation(self, name, x, alpha):
        return activations.Activation.apply(x, name=name, alpha=alpha)

    def activation_derivative(self, name, x, alpha):
        return activations.derivative(name, x, alpha)

    def activation_backward(self, name, x, grad, alpha, out=None):
        # (out is a first-order walk's offer: a recorded walk never makes it)
        return elementwise.Mul.apply(grad, activations.derivative(name, x, alpha))

    # ------------------------------------------------------------------- reductions
    def reduce(self, op, x, axes, keepdims):
        axes = tuple(axes)
        if not axes:
            return x
        if op == "sum":
            return reduce.Sum.apply(x, axes=axes, keepdims=keepdims)
        return reduce.MaxMin.apply(x, op=op, axes=axes, keepdims=keepdims)

    def arg_reduce(self, op, x, axis, keepdims):
        return self._constant(self.real.arg_reduce(op, x._buf, axis, keepdims))

    # --------------------------------------------------------------------- movement
    def reshape(self, x, shape):
        shape = tuple(shape)
        return x if x.shape == shape else movement.Reshape.apply(x, shape=shape)

    def permute(self, x, axes):
        axes = tuple(axes)
        return x if axes == tuple(range(len(axes))) else movement.Permute.apply(x, axes=axes)

    def expand(self, x, shape):
        shape = tuple(shape)
        return x if x.shape == shape else movement.Expand.apply(x, shape=shape)

    def getitem(self, x, index):
        return movement.GetItem.apply(x, index=index)

    def index_add(self, shape, index, src):
        return movement.IndexAdd.apply(src, shape=tuple(shape), index=index)

    def gather(self, x, axis, index):
        return movement.Gather.apply(x, index, axis=axis)

    def scatter_add(self, shape, axis, index, src):
        return movement.ScatterAdd.apply(src, index, shape=tuple(shape), axis=axis)

    def cat(self, values, axis):
        return movement.Cat.apply(*values, axis=axis)

    # ------------------------------------------------------------ products and conv
    def matmul(self, a, b, transpose_a=False, transpose_b=False, bias=None):
        out = matmul.MatMul.apply(a, b, transpose_a=transpose_a, transpose_b=transpose_b)
        return out if bias is None else elementwise.add(out, bias)

    def im2col(self, x, kernel_size, stride, padding, dilation):
        return conv.Im2Col.apply(x, kernel_size=kernel_size, stride=stride, padding=padding,
                                 dilation=dilation)

    def col2im(self, cols, input_shape, kernel_size, stride, padding, dilation):
        return conv.Col2Im.apply(cols, input_shape=tuple(input_shape),
                                 kernel_size=kernel_size, stride=stride, padding=padding,
                                 dilation=dilation)

    def conv2d(self, x, weight, bias, stride, padding, dilation, groups, keep=None):
        inputs = (x, weight) if bias is None else (x, weight, bias)
        return conv.Conv2d.apply(*inputs, stride=stride, padding=padding, dilation=dilation,
                                 groups=groups)

    def conv2d_input_grad(self, grad, weight, input_shape, stride, padding, dilation,
                          groups):
        return conv.ConvInputGrad.apply(grad, weight, input_shape=tuple(input_shape),
                                        stride=stride, padding=padding, dilation=dilation,
                                        groups=groups)

    def conv2d_weight_grad(self, x, grad, weight_shape, stride, padding, dilation, groups):
        return conv.ConvWeightGrad.apply(x, grad, weight_shape=tuple(weight_shape),
                                         stride=stride, padding=padding, dilation=dilation,
                                         groups=groups)

    def conv2d_grads(self, x, weight, grad, stride, padding, dilation, groups, needs,
                     keep=None):
        # base.Backend's: the two adjoints recorded one after the other
        return Backend.conv2d_grads(self, x, weight, grad, stride, padding, dilation,
                                    groups, needs)

    def max_pool_tiles(self, x, kernel_size):
        return conv.TiledMaxPool.apply(x, kernel_size=tuple(kernel_size))

    def max_pool_tiles_backward(self, x, out, grad, kernel_size):
        # the generic composition, recorded primitive by primitive (the masks are
        # constants; the result is linear in grad)
        return Backend.max_pool_tiles_backward(self, x, out, grad, kernel_size)

    # ------------------------------------------------------------- softmax, losses
    def softmax(self, x, axis):
        return softmax.Softmax.apply(x, axis=axis)

    def log_softmax(self, x, axis):
        return softmax.LogSoftmax.apply(x, axis=axis)

    def cross_entropy_backward(self, log_probs, labels, grad, scale):
        # (softmax - onehot(labels)) * grad * scale, grad per row (reduction 'none') or one
        real = self.real
        n, classes = log_probs.shape
        columns = real.reshape(real.from_numpy(np.arange(classes, dtype=np.int64)),
                               (1, classes))
        hot = real.compare("eq", columns, real.reshape(labels._buf, (n, 1)))
        onehot = self._constant(real.astype(hot, log_probs.dtype))
        diff = elementwise.Sub.apply(elementwise.Exp.apply(log_probs), onehot)
        weight = elementwise.Mul.apply(grad, self.full((), scale, log_probs.dtype))
        if weight.ndim:
            weight = movement.Reshape.apply(weight, shape=(n, 1))
        return elementwise.Mul.apply(diff, weight)

    # --------------------------------------------- not for backward rules (no meaning)
    def _refuse(self, name):
        raise RuntimeError(f"GraphBackend: {name} is not a primitive a backward rule may use")

    def cross_entropy(self, logits, labels, scale=1.0):
        self._refuse("cross_entropy")

    def assign(self, dst, src):
        self._refuse("assign (in place)")

    def axpy(self, y, x, alpha):
        self._refuse("axpy (in place)")

    def fused_update(self, *args, **kwargs):
        self._refuse("fused_update")

    def fused_updates(self, *args, **kwargs):
        self._refuse("fused_updates")


# autograd sits below ops: hand it what a recorded walk computes with.
autograd.Recorder.backend_of = GraphBackend.of
autograd.Recorder.add = elementwise.Add.apply
autograd.Recorder.cast = common.cast
