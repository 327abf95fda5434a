"""The primitive interface every vecgrad backend implements.

A backend owns *buffers*: device arrays that expose at least ``.shape`` (a tuple of ints)
and ``.dtype`` (a numpy dtype). The numpy backend's buffers are plain ``np.ndarray``s;
the OpenCL backend's are its own device-array class. Buffers are treated as immutable by
the autograd engine except through ``assign`` and ``binary(..., out=...)``, which the
optimizers use to update parameters in place.

Rules that hold for every method:
- Inputs have already been validated by the Tensor layer (shapes compatible, dtypes
  equal where two operands meet, axes normalised to non-negative ints). A backend does
  not re-validate; it raises only for its own limits (e.g. float64 on a device without it).
- Results are new buffers unless stated otherwise; a backend may return views for
  movement ops (reshape, permute, expand, basic getitem) as long as later primitives
  accept them.
- Semantics are numpy's: broadcasting, integer/float behaviour, nan/inf propagation.
- Backends never implement autograd: derivatives live once, in vecgrad/ops/.

The op names each method accepts are listed in vecgrad/backends/primitives.py.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Sequence

import numpy as np

Buffer = Any  # a backend's device array: has .shape and .dtype
Shape = tuple[int, ...]
# A normalised index for getitem/index_add: a tuple whose entries are slice objects with
# int/None fields, ints, None (new axis), or np.ndarray of int64 / bool (numpy advanced
# indexing, held on the host).
Index = tuple


def _window_output(in_hw, kernel_size, stride, padding, dilation) -> tuple[int, int]:
    """(OH, OW) of a sliding window (the formula PyTorch documents for conv2d)."""
    return tuple((in_hw[i] + 2 * padding[i] - dilation[i] * (kernel_size[i] - 1) - 1)
                 // stride[i] + 1 for i in range(2))


class Backend(ABC):
    """Primitive operations on one device. One instance per device string."""

    #: the device string Tensors report, e.g. "cpu" or "opencl:0:0"
    device: str
    #: whether float64 buffers can be created on this device
    supports_float64: bool

    # ----------------------------------------------------------------- memory / host
    @abstractmethod
    def from_numpy(self, array: np.ndarray) -> Buffer:
        """Copy a host array (any layout, dtype already chosen) to a new buffer."""

    @abstractmethod
    def to_numpy(self, buf: Buffer) -> np.ndarray:
        """Copy a buffer to a new C-contiguous host array (waits for pending work)."""

    @abstractmethod
    def full(self, shape: Shape, value: float, dtype: np.dtype) -> Buffer:
        """A new buffer of `shape` filled with `value`."""

    @abstractmethod
    def astype(self, buf: Buffer, dtype: np.dtype) -> Buffer:
        """Convert element type (numpy casting rules, 'unsafe'); new buffer."""

    @abstractmethod
    def copy(self, buf: Buffer) -> Buffer:
        """A new contiguous buffer with the same contents."""

    @abstractmethod
    def assign(self, dst: Buffer, src: Buffer) -> None:
        """Overwrite `dst` in place with `src` (same shape and dtype)."""

    def synchronize(self) -> None:
        """Wait until all queued work is done (benchmarks call this). Default: no-op."""

    # ------------------------------------------------------------------ elementwise
    @abstractmethod
    def unary(self, op: str, x: Buffer) -> Buffer:
        """Elementwise `op` from UNARY_OPS."""

    @abstractmethod
    def binary(self, op: str, a: Buffer, b: Buffer, out: Buffer | None = None) -> Buffer:
        """Elementwise `op` from BINARY_OPS with broadcasting.

        With `out` (which must already have the broadcast shape and the dtype), the result
        is written into it in place and `out` is returned; `out` may alias `a`.
        """

    @abstractmethod
    def axpy(self, y: Buffer, x: Buffer, alpha: float) -> None:
        """y += alpha * x in place (x broadcasts to y's shape; one dtype).

        The step of every hand-written update (p -= lr * g). Rounds like
        binary("add", y, binary("mul", x, alpha)) but need not build alpha * x in full.
        """

    @abstractmethod
    def compare(self, op: str, a: Buffer, b: Buffer) -> Buffer:
        """Elementwise comparison from COMPARE_OPS with broadcasting; dtype bool."""

    @abstractmethod
    def where(self, cond: Buffer, a: Buffer, b: Buffer) -> Buffer:
        """cond ? a : b, broadcasting all three; cond is bool, a and b share a dtype."""

    @abstractmethod
    def activation(self, name: str, x: Buffer, alpha: float | None) -> Buffer:
        """f(x) for the activation `name` of scalargrad's catalogue.

        `alpha` is the activation's parameter (leaky_relu, elu, soft_exponential) or None.
        """

    @abstractmethod
    def activation_derivative(self, name: str, x: Buffer, alpha: float | None) -> Buffer:
        """f'(x) for the activation `name`, evaluated at the input x (not at f(x))."""

    @abstractmethod
    def activation_backward(self, name: str, x: Buffer, grad: Buffer,
                            alpha: float | None, out: Buffer | None = None) -> Buffer:
        """grad * f'(x) in one pass (x: the forward input; grad: same shape and dtype).

        Equal to binary("mul", activation_derivative(name, x, alpha), grad): the same
        f' and the same nan rule, fused because every activation's backward needs it.
        `out`, when given, is `grad` itself, handed over by a caller that no longer needs
        its values: a backend may write the result there and return it (one buffer and
        one pass over fresh memory less), or ignore it.
        """

    # -------------------------------------------------------------------- reductions
    @abstractmethod
    def reduce(self, op: str, x: Buffer, axes: tuple[int, ...], keepdims: bool) -> Buffer:
        """Reduce over `axes` (sorted, non-negative, non-empty) with op from REDUCE_OPS."""

    @abstractmethod
    def arg_reduce(self, op: str, x: Buffer, axis: int, keepdims: bool) -> Buffer:
        """argmax/argmin along one axis; int64; first occurrence on ties."""

    # ---------------------------------------------------------------------- movement
    @abstractmethod
    def reshape(self, x: Buffer, shape: Shape) -> Buffer:
        """Same elements in row-major order, new shape (sizes already checked)."""

    @abstractmethod
    def permute(self, x: Buffer, axes: tuple[int, ...]) -> Buffer:
        """Reorder axes (numpy.transpose(x, axes))."""

    @abstractmethod
    def expand(self, x: Buffer, shape: Shape) -> Buffer:
        """numpy.broadcast_to(x, shape): may be a read-only view."""

    @abstractmethod
    def getitem(self, x: Buffer, index: Index) -> Buffer:
        """x[index] with numpy semantics (basic and advanced indexing)."""

    @abstractmethod
    def index_add(self, shape: Shape, index: Index, src: Buffer) -> Buffer:
        """The adjoint of getitem: zeros(shape) with src added at x[index].

        Repeated indices accumulate (numpy.add.at semantics).
        """

    @abstractmethod
    def gather(self, x: Buffer, axis: int, index: Buffer) -> Buffer:
        """numpy.take_along_axis(x, index, axis); index is an int64 buffer."""

    @abstractmethod
    def scatter_add(self, shape: Shape, axis: int, index: Buffer, src: Buffer) -> Buffer:
        """The adjoint of gather: zeros(shape) with src added along `axis` at `index`."""

    @abstractmethod
    def cat(self, buffers: Sequence[Buffer], axis: int) -> Buffer:
        """numpy.concatenate(buffers, axis)."""

    # ------------------------------------------------------------------------ linalg
    @abstractmethod
    def matmul(self, a: Buffer, b: Buffer, transpose_a: bool = False,
               transpose_b: bool = False, bias: Buffer | None = None) -> Buffer:
        """op(a) @ op(b) where op transposes the last two axes when asked.

        Both operands have ndim >= 2; leading (batch) axes broadcast as in numpy.matmul.
        `bias`, a 1-D buffer of the product's last-axis length and dtype, is added to
        every row of the product in the same pass (linear layers: no second launch).
        """

    # -------------------------------------------------------------------- convolution
    @abstractmethod
    def im2col(self, x: Buffer, kernel_size: tuple[int, int], stride: tuple[int, int],
               padding: tuple[int, int], dilation: tuple[int, int]) -> Buffer:
        """Patches of an NCHW input as columns: shape (N, C*KH*KW, OH*OW).

        Row order is (c, ki, kj) with kj fastest; column order is (oh, ow) with ow
        fastest; positions in the zero padding read as 0.
        """

    @abstractmethod
    def col2im(self, cols: Buffer, input_shape: Shape, kernel_size: tuple[int, int],
               stride: tuple[int, int], padding: tuple[int, int],
               dilation: tuple[int, int]) -> Buffer:
        """The adjoint of im2col: sums every column entry back into an NCHW buffer."""

    # The three convolution primitives. A convolution is bilinear in (input, weight), so
    # its two gradients are the other two, and each one's gradients are again among the
    # three (vecgrad/ops/conv.py states which is which). The versions here compose
    # im2col, matmul and col2im (what a backend gets without writing its own); the numpy
    # backend overrides them with cache-blocked ones (numpy_conv.py).
    # Shapes: x (N, C, H, W); weight (O, C/groups, KH, KW); output (N, O, OH, OW);
    # stride, padding, dilation are pairs; bias is None or (O,).

    def conv2d(self, x: Buffer, weight: Buffer, bias: Buffer | None,
               stride: tuple[int, int], padding: tuple[int, int],
               dilation: tuple[int, int], groups: int, keep: dict | None = None) -> Buffer:
        """Cross-correlation of x with weight (plus bias): (N, O, OH, OW). `keep`: a dict
        a backend may leave work in for conv2d_grads of the same x (the numpy backend's
        patch columns); this version leaves nothing."""
        n = x.shape[0]
        o, cg, kh, kw = weight.shape
        oh, ow = _window_output(x.shape[2:], (kh, kw), stride, padding, dilation)
        cols = self.im2col(x, (kh, kw), stride, padding, dilation)  # (N, C*KH*KW, OH*OW)
        # The filters meet every image's columns in one batched product, whose result
        # is already NCHW: no transposed copy of the patch matrix or of the output.
        cols = self.reshape(cols, (n, groups, cg * kh * kw, oh * ow))
        filters = self.reshape(weight, (groups, o // groups, cg * kh * kw))
        out = self.reshape(self.matmul(filters, cols), (n, o, oh * ow))
        if bias is not None:
            out = self.binary("add", out, self.reshape(bias, (o, 1)), out=out)
        return self.reshape(out, (n, o, oh, ow))

    def conv2d_input_grad(self, grad: Buffer, weight: Buffer, input_shape: Shape,
                          stride: tuple[int, int], padding: tuple[int, int],
                          dilation: tuple[int, int], groups: int) -> Buffer:
        """The adjoint of conv2d in x (the transposed convolution of grad (N, O, OH, OW)
        with weight): (N, C, H, W) = input_shape."""
        n, o, oh, ow = grad.shape
        _, cg, kh, kw = weight.shape
        rows = self.reshape(grad, (n, groups, o // groups, oh * ow))
        filters = self.reshape(weight, (groups, o // groups, cg * kh * kw))
        cols = self.matmul(filters, rows, transpose_a=True)  # (N, G, Cg*KH*KW, OH*OW)
        cols = self.reshape(cols, (n, groups * cg * kh * kw, oh * ow))
        return self.col2im(cols, tuple(input_shape), (kh, kw), stride, padding, dilation)

    def conv2d_weight_grad(self, x: Buffer, grad: Buffer, weight_shape: Shape,
                           stride: tuple[int, int], padding: tuple[int, int],
                           dilation: tuple[int, int], groups: int) -> Buffer:
        """The adjoint of conv2d in weight (the correlation of x with grad
        (N, O, OH, OW)): weight_shape = (O, C/groups, KH, KW)."""
        n, o, oh, ow = grad.shape
        _, cg, kh, kw = weight_shape
        cols = self.im2col(x, (kh, kw), stride, padding, dilation)
        cols = self.reshape(cols, (n, groups, cg * kh * kw, oh * ow))
        rows = self.reshape(grad, (n, groups, o // groups, oh * ow))
        per_image = self.matmul(rows, cols, transpose_b=True)  # (N, G, O/G, Cg*KH*KW)
        return self.reshape(self.reduce("sum", per_image, (0,), False), tuple(weight_shape))

    def conv2d_grads(self, x: Buffer, weight: Buffer, grad: Buffer,
                     stride: tuple[int, int], padding: tuple[int, int],
                     dilation: tuple[int, int], groups: int,
                     needs: tuple[bool, ...],
                     keep: dict | None = None) -> tuple[Buffer | None, ...]:
        """The gradients of y = conv2d(x, weight[, bias]) at grad (dL/dy), one per entry
        of needs = (input, weight[, bias]), None where it does not ask: the two adjoints
        conv2d_input_grad and conv2d_weight_grad, and grad summed over (N, OH, OW) for
        the bias. Here one after the other; the numpy backend sums the bias gradient
        with the weight gradient and runs the two adjoints side by side on two threads
        (numpy_conv.py). `keep`: the dict given to conv2d for this x, if any."""
        args = (stride, padding, dilation, groups)
        grads = (self.conv2d_input_grad(grad, weight, tuple(x.shape), *args)
                 if needs[0] else None,
                 self.conv2d_weight_grad(x, grad, tuple(weight.shape), *args)
                 if needs[1] else None)
        if len(needs) > 2:
            grads += (self.reduce("sum", grad, (0, 2, 3), False) if needs[2] else None,)
        return grads

    # Max-pool over whole KH x KW tiles (stride = kernel, no padding or dilation). The
    # versions here compose getitem, maximum, compare, where, mul/sub and cat, and work on
    # any backend (GraphBackend included: create_graph records them); the numpy backend
    # overrides the backward with a pass-saving one where no nan is involved.

    def max_pool_tiles(self, x: Buffer, kernel_size: tuple[int, int]) -> Buffer:
        """The maximum of each whole tile of x (N, C, H, W): (N, C, H // KH, W // KW).
        Each tile offset (i, j) is a strided view of x, so this is KH*KW - 1 maxima."""
        views = [self.getitem(x, index) for index in tile_views(x.shape, kernel_size)]
        out = views[0] if len(views) > 1 else self.copy(views[0])
        for view in views[1:]:
            out = self.binary("maximum", out, view)
        return out

    def max_pool_tiles_backward(self, x: Buffer, out: Buffer, grad: Buffer,
                                kernel_size: tuple[int, int]) -> Buffer:
        """The gradient of max_pool_tiles for grad (N, C, OH, OW): each tile's gradient
        goes to its first maximum in row-major order (its first nan when the maximum is
        nan), PyTorch's rule, by comparing the views with `out` in order; the pieces are
        joined with cat, never scattered. Positions outside every tile get 0."""
        kh, kw = kernel_size
        n, c, h, w = x.shape
        oh, ow = h // kh, w // kw
        indices = tile_views(x.shape, (kh, kw))
        nan_out = self.compare("ne", out, out) if np.dtype(x.dtype).kind == "f" else None
        remaining, parts = grad, []
        for index in indices[:-1]:
            view = self.getitem(x, index)
            hit = self.compare("eq", view, out)
            if nan_out is not None:  # where the max is nan, the first nan takes it
                hit = self.where(nan_out, self.compare("ne", view, view), hit)
            # grad * mask, not where(mask, grad, 0): numpy's where branches on every
            # element (10x slower on the random masks of ReLU outputs). As in relu's
            # backward, an inf gradient then leaves nan, not 0, beside its maximum.
            part = self.binary("mul", remaining, self.astype(hit, grad.dtype))
            parts.append(part)
            remaining = self.binary("sub", remaining, part)
        parts.append(remaining)  # what no earlier offset took belongs to the last one
        tiles = _interleave(self, parts, (n, c, oh, ow), (kh, kw))
        if (oh * kh, ow * kw) == (h, w):
            return tiles
        covered = (slice(None), slice(None), slice(0, oh * kh), slice(0, ow * kw))
        return self.index_add(x.shape, covered, tiles)

    # ------------------------------------------------------------------------ softmax
    @abstractmethod
    def softmax(self, x: Buffer, axis: int) -> Buffer:
        """exp(x - max) / sum(exp(x - max)) along `axis` (stable for any finite x)."""

    @abstractmethod
    def log_softmax(self, x: Buffer, axis: int) -> Buffer:
        """(x - max) - log(sum(exp(x - max))) along `axis`."""

    @abstractmethod
    def cross_entropy(self, logits: Buffer, labels: Buffer,
                      scale: float = 1.0) -> tuple[Buffer, Buffer]:
        """Softmax cross-entropy of each row: returns (losses, log_probs).

        logits: (N, C) float; labels: (N,) int64, already checked to lie in [0, C).
        log_probs = log_softmax(logits, axis=1); losses[i] = -log_probs[i, labels[i]]
        * scale (a Python float: 1/N makes the sum of the losses their mean, with no
        separate pass to scale it).
        """

    @abstractmethod
    def cross_entropy_backward(self, log_probs: Buffer, labels: Buffer, grad: Buffer,
                               scale: float) -> Buffer:
        """d(loss)/d(logits) = (exp(log_probs) - onehot(labels)) * grad * scale, (N, C).

        grad: the upstream gradient of the losses, shape (N,) or () (one value for every
        row, as after a sum or mean); scale: a Python float (1/N for a mean).
        """

    # ---------------------------------------------------------------- optimizers
    def fused_update(self, rule: str, param: Buffer, grad: Buffer,
                     state: Sequence[Buffer], hyper: dict) -> bool:
        """Optional: one optimizer step for one parameter, in place, in one pass.

        `rule` names the update (see vecgrad/optim.py for each rule's math and the keys
        of `hyper`); `state` holds the rule's buffers (updated in place). Returns False
        when this backend has no fused version, and the optimizer then runs its own
        Tensor code, which is the reference the fused kernels are tested against.
        """
        return False

    def fused_updates(self, rule: str, params: Sequence[Buffer], grads: Sequence[Buffer],
                      states: Sequence[Sequence[Buffer]], hyper: dict) -> list[bool]:
        """Optional: fused_update for several parameters sharing `hyper`, as few passes
        as the backend can (OpenCL: one launch for up to 8 parameters). Returns, per
        parameter, whether it was updated; the optimizer updates the others itself."""
        return [self.fused_update(rule, p, g, s, hyper) for p, g, s in zip(params, grads, states)]


def tile_views(shape, kernel_size):
    """The basic index of each tile offset (i, j): x[:, :, i::KH, j::KW] cut to whole tiles."""
    kh, kw = kernel_size
    oh, ow = shape[2] // kh, shape[3] // kw
    return [(slice(None), slice(None), slice(i, i + kh * (oh - 1) + 1, kh),
             slice(j, j + kw * (ow - 1) + 1, kw)) for i in range(kh) for j in range(kw)]


def _interleave(be, parts, shape, kernel_size):
    """KH*KW pieces (N, C, OH, OW), one per tile offset, joined into (N, C, OH*KH, OW*KW).

    Backends that keep images channels-last in memory (the numpy backend: conv2d's
    output and col2im's are (C, H, W, N) arrays seen as NCHW) get the pieces joined in
    that order, so every copy moves runs of N floats and the result matches the layout
    of the convolution next to it; the others join them in plain NCHW order.
    """
    n, c, oh, ow = shape
    kh, kw = kernel_size
    if getattr(be, "channels_last_images", False):
        pieces = [be.reshape(be.permute(p, (1, 2, 3, 0)), (c, oh, ow, 1, n)) for p in parts]
        rows = [be.cat(pieces[i * kw:(i + 1) * kw], 3) if kw > 1 else pieces[i * kw]
                for i in range(kh)]
        rows = [be.reshape(row, (c, oh, 1, ow * kw, n)) for row in rows]
        tiles = be.cat(rows, 2) if kh > 1 else rows[0]
        return be.permute(be.reshape(tiles, (c, oh * kh, ow * kw, n)), (3, 0, 1, 2))
    pieces = [be.reshape(p, (n, c, oh, ow, 1)) for p in parts]
    rows = [be.cat(pieces[i * kw:(i + 1) * kw], 4) if kw > 1 else pieces[i * kw]
            for i in range(kh)]
    rows = [be.reshape(row, (n, c, oh, 1, ow * kw)) for row in rows]
    tiles = be.cat(rows, 3) if kh > 1 else rows[0]
    return be.reshape(tiles, (n, c, oh * kh, ow * kw))
