"""The differential test: one table of ops, each run on every backend and checked against
things we did not write.

Every row is one call written ONCE for both libraries: `fn(L, *inputs, **consts)` where
L is the `vecgrad` module or the `torch` module (the names it uses exist in both). For
every row and device:

- forward and every input's gradient (of sum(out * w), w random, so every Jacobian entry
  counts) against central differences in float64: element by element on cpu; on OpenCL
  along a random direction, and element by element against the cpu results;
- the same call on non-contiguous (transposed) views of the inputs gives the same;
- float32 agrees with float64 (loosely);
- when torch is installed: forward and gradients against torch in float64 (skipped
  cleanly without torch);
- the Hessian-vector product recorded by create_graph=True against central differences
  of the gradient (no op here has a second-derivative rule of its own).

A new op is checked the day it is added: test_every_public_op_has_a_row fails until the
op has a row here (or is listed in NOT_DIFFERENTIABLE_HERE with the reason).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import vecgrad
import vecgrad.nn.functional as F
from vg_helpers import need_float64, numerical_grads

HAVE_TORCH = importlib.util.find_spec("torch") is not None


# ------------------------------------------------------------------------------ inputs
def _normal(rng, shape):
    return rng.standard_normal(shape)


def _positive(rng, shape):
    return rng.uniform(0.3, 2.5, shape)


def _unit(rng, shape):  # probabilities away from 0 and 1
    return rng.uniform(0.05, 0.95, shape)


def _small(rng, shape):  # |x| < 1: tan, log1p near 0
    return rng.uniform(-0.9, 0.9, shape)


def _with_zero(rng, shape):  # prod's gradient at an exact zero
    x = rng.standard_normal(shape)
    x.reshape(-1)[1] = 0.0
    return x


def _constant_rows(rng, shape):  # std at zero variance
    x = rng.standard_normal(shape)
    x[0] = 1.5
    return x


def _distribution(rng, shape):  # rows that sum to 1 (kl_div, soft targets)
    e = rng.uniform(0.2, 1.0, shape)
    return e / e.sum(axis=-1, keepdims=True)


KINDS = {"n": _normal, "p": _positive, "u": _unit, "s": _small, "z": _with_zero,
         "c": _constant_rows, "d": _distribution}


class Case:
    """One row: name (the public name it covers), fn(L, *inputs, **consts), input specs
    (shape, or (shape, kind)), integer/bool/float constants, and options."""

    def __init__(self, name, fn, inputs, consts=None, *, fd=True, torch=True, rtol=1e-5,
                 atol=1e-6, f32=True, views=True, hvp=True, label=None):
        self.name, self.fn, self.consts = name, fn, consts or {}
        self.inputs = [spec if isinstance(spec, tuple) and len(spec) == 2 and
                       isinstance(spec[1], str) else (spec, "n") for spec in inputs]
        self.fd, self.torch, self.rtol, self.atol = fd, torch, rtol, atol
        self.f32, self.views, self.hvp = f32, views, hvp
        self.id = label or name

    def arrays(self, seed=0):
        rng = np.random.default_rng(seed)
        return [KINDS[kind](rng, shape) for shape, kind in self.inputs]


def _idx(*values):
    return np.array(values, dtype=np.int64)


CASES = [
    # ------------------------------------------------------------------ elementwise
    Case("neg", lambda L, x: x.neg(), [(3, 4)]),
    Case("negative", lambda L, x: L.negative(x) + x.negative(), [(3,)]),
    Case("square", lambda L, x: x.square(), [(3, 4)]),
    Case("rsqrt", lambda L, x: x.rsqrt(), [((3, 4), "p")]),
    Case("reciprocal", lambda L, x: x.reciprocal(), [((3, 4), "p")]),
    Case("log1p", lambda L, x: x.log1p(), [((3, 4), "s")]),
    Case("expm1", lambda L, x: x.expm1(), [(3, 4)]),
    Case("exp2", lambda L, x: x.exp2(), [(3, 4)]),
    Case("log2", lambda L, x: x.log2(), [((3, 4), "p")]),
    Case("log10", lambda L, x: L.log10(x) + x.log10(), [((4,), "p")]),
    Case("tan", lambda L, x: x.tan(), [((3, 4), "s")]),
    Case("erf", lambda L, x: x.erf(), [(3, 4)]),
    Case("floor", lambda L, x: (x * 3).floor() + x, [(3, 4)]),
    Case("ceil", lambda L, x: L.ceil(x * 3) * x + (x * 2).ceil(), [(3, 4)]),
    Case("round", lambda L, x: (x * 3).round() * x, [(3, 4)]),
    Case("round", lambda L, x: (x * 3).round(decimals=1) * x, [(3, 4)], label="round-dec"),
    Case("trunc", lambda L, x: L.trunc(x * 3) + x * (x * 2).trunc(), [(3, 4)]),
    Case("sign", lambda L, x: x.sign() * x, [(3, 4)]),
    Case("maximum", lambda L, a, b: a.maximum(b), [(3, 4), (4,)]),
    # a // b has gradient 0 here where PyTorch refuses to differentiate it: no torch check
    Case("floor_divide", lambda L, a, b: L.floor_divide(a * 3, b) * a + a.floor_divide(b) * b
         + (a // 0.7) * b, [(3, 4), ((4,), "p")], torch=False),
    Case("remainder", lambda L, a, b: L.remainder(a, b) * a + a.remainder(b) + (a % 0.7) * b,
         [(3, 4), ((4,), "p")]),
    Case("minimum", lambda L, a, b: L.minimum(a, b) + b.minimum(a * 2), [(3, 1), (4,)]),
    Case("lerp", lambda L, a, b: a.lerp(b, 0.3), [(3, 4), (3, 4)]),
    Case("lerp", lambda L, a, b, w: L.lerp(a, b, w), [(3, 4), (4,), ((3, 4), "u")],
         label="lerp-tensor-weight"),
    Case("clamp", lambda L, x: x.clamp(min=0.5, max=-0.5) + x, [(3, 4)],
         label="clamp-min-above-max"),
    Case("isnan", lambda L, x: L.where(L.isnan(x) | L.isinf(x) | ~L.isfinite(x), 0.0, x),
         [(3, 4)]),
    Case("exp", lambda L, x: L.exp(x) + L.log(L.abs(x)) + L.sqrt(L.abs(x)) + L.sin(x)
         + L.cos(x) + L.square(x) + L.rsqrt(L.abs(x)), [(3, 4)], label="module-unary"),
    Case("sigmoid", lambda L, x: L.sigmoid(x) + L.tanh(x) + L.relu(x), [(3, 4)]),
    # ------------------------------------------------------------------- reductions
    Case("sum", lambda L, x: L.sum(x, dim=1, keepdim=True), [(3, 4)]),
    Case("sum", lambda L, x: x.sum(dim=(0, 2), dtype=L.float64), [(2, 3, 2)],
         label="sum-dtype"),
    Case("mean", lambda L, x: L.mean(x, dim=-1), [(3, 4)]),
    Case("prod", lambda L, x: x.prod(), [(2, 3)]),
    Case("prod", lambda L, x: x.prod(dim=1, keepdim=True), [((3, 5), "z")], label="prod-zero"),
    Case("prod", lambda L, x: L.prod(x, 0), [(7, 2)], label="prod-odd"),
    Case("cumsum", lambda L, x: x.cumsum(dim=1), [(3, 5)]),
    Case("cumsum", lambda L, x: L.cumsum(x, dim=0), [(6, 2)], label="cumsum-dim0"),
    Case("logsumexp", lambda L, x: x.logsumexp(dim=1), [(3, 4)]),
    Case("logsumexp", lambda L, x: L.logsumexp(x * 200, dim=(0, 1), keepdim=True),
         [(3, 4)], label="logsumexp-big"),
    Case("amax", lambda L, x: x.amax(dim=1), [(3, 4)]),
    Case("amin", lambda L, x: L.amin(x, dim=(0, 1)), [(3, 4)]),
    Case("max", lambda L, x: x.max(dim=1).values + x.max(1, keepdim=True)[0].sum(), [(3, 4)],
         label="max-dim"),
    Case("max", lambda L, x, y: L.max(x) + L.max(x, y).sum(), [(3, 4), (3, 4)],
         label="max-forms"),
    Case("min", lambda L, x: L.min(x, dim=0).values, [(3, 4)]),
    Case("argmax", lambda L, x: x * x.argmax(dim=1, keepdim=True) + L.argmin(x, 0), [(3, 4)]),
    Case("norm", lambda L, x: x.norm(), [(3, 4)]),
    Case("norm", lambda L, x: L.norm(x, p=1, dim=1), [(3, 4)], label="norm-p1"),
    Case("norm", lambda L, x: x.norm(p=3, dim=1, keepdim=True), [(3, 4)], label="norm-p3"),
    Case("norm", lambda L, x: x.norm(p=float("inf"), dim=0), [(3, 4)], label="norm-inf"),
    Case("norm", lambda L, x: (x * 0).norm(dim=1) + x.sum(1), [(3, 4)], label="norm-at-zero"),
    Case("var", lambda L, x: x.var(dim=1, correction=1), [(3, 4)]),
    Case("var", lambda L, x: L.var(x, 0, unbiased=False), [(3, 4)], label="var-unbiased"),
    Case("std", lambda L, x: x.std(dim=1, correction=0, keepdim=True), [(3, 4)]),
    # (no Hessian check: std is not differentiable twice where the spread is 0)
    Case("std", lambda L, x: x.std(dim=1, correction=1), [((3, 4), "c")], hvp=False,
         label="std-zero-variance"),
    Case("all", lambda L, x: L.where(x.all(dim=1, keepdim=True) | (x > 0).any(1, True),
                                     x, -x), [(3, 4)]),
    Case("any", lambda L, x: L.where(L.any(x > 1) & L.all(x > -9), x, x * 2), [(3, 4)]),
    # --------------------------------------------------------------------- movement
    Case("flip", lambda L, x: x.flip(0, 1)[0], [(3, 4)]),
    Case("flip", lambda L, x: L.flip(x, (-1,)), [(2, 3, 2)], label="flip-last"),
    Case("roll", lambda L, x: x.roll(1, 1), [(3, 4)]),
    Case("roll", lambda L, x: L.roll(x, (-1, 5), (0, 1)), [(3, 4)], label="roll-multi"),
    Case("roll", lambda L, x: x.roll(2), [(3, 4)], label="roll-flat"),
    Case("repeat", lambda L, x: x.repeat(2, 1, 3), [(3, 2)]),
    Case("tile", lambda L, x: x.tile((2,)), [(3, 2)]),
    Case("tile", lambda L, x: L.tile(x, (2, 1, 2)), [(3, 2)], label="tile-more"),
    Case("chunk", lambda L, x: x.chunk(3, dim=1), [(2, 7)]),
    Case("split", lambda L, x: x.split(2, dim=0), [(5, 3)]),
    Case("split", lambda L, x: L.split(x, [1, 3], dim=1), [(2, 4)], label="split-sizes"),
    Case("unbind", lambda L, x: x.unbind(1), [(3, 4)]),
    Case("tril", lambda L, x: x.tril(), [(4, 3)]),
    Case("triu", lambda L, x: L.triu(x, diagonal=1) + x.triu(), [(2, 3, 4)]),
    Case("tril", lambda L, x: x.tril(-1), [(3, 4)], label="tril-below"),
    Case("t", lambda L, x: x.t() + L.t(x), [(3, 4)]),
    Case("mT", lambda L, x: x.mT, [(2, 3, 4)]),
    Case("swapaxes", lambda L, x: x.swapaxes(0, 2) + L.swapdims(x, 2, 0) + x.swapdims(0, 2),
         [(2, 3, 2)]),
    Case("movedim", lambda L, x: x.movedim(0, -1) + x.moveaxis(0, 2), [(2, 3, 4)]),
    Case("movedim", lambda L, x: L.movedim(x, (0, 1), (2, 0)), [(2, 3, 4)],
         label="movedim-pairs"),
    Case("narrow", lambda L, x: x.narrow(1, 1, 2), [(3, 4)]),
    Case("unflatten", lambda L, x: x.unflatten(1, (2, 3)), [(2, 6)]),
    Case("sort", lambda L, x: x.sort(dim=1), [(3, 4)]),
    Case("sort", lambda L, x: L.sort(x, 0, descending=True), [(4, 3)], label="sort-desc"),
    Case("argsort", lambda L, x: x * x.argsort(dim=1), [(3, 4)]),
    Case("topk", lambda L, x: x.topk(2, dim=1), [(3, 4)]),
    Case("topk", lambda L, x: L.topk(x, 2, dim=0, largest=False), [(3, 4)],
         label="topk-smallest"),
    Case("clone", lambda L, x: x.clone() * 2, [(3, 4)]),
    Case("contiguous", lambda L, x: x.t().contiguous(), [(3, 4)]),
    Case("type_as", lambda L, x, y: x.type_as(y) * y, [(3, 4), (3, 4)]),
    Case("gather", lambda L, x, i: x.gather(1, i), [(3, 4)], {"i": _idx([0, 3], [2, 2])},
         label="gather-smaller-index"),
    Case("squeeze", lambda L, x: x.squeeze(0) + x.squeeze(1).sum(), [(3, 1)],
         label="squeeze-non-1"),
    Case("view_as", lambda L, x, y: x.view_as(y) + x.reshape_as(y) + y[:1].expand_as(y),
         [(3, 4), (4, 3)]),
    # ------------------------------------------------------------------------ matmul
    Case("outer", lambda L, a, b: a.outer(b) + L.outer(a, b), [(3,), (4,)]),
    Case("dot", lambda L, a, b: a.dot(b), [(4,), (4,)]),
    Case("mm", lambda L, a, b: a.mm(b) + L.mm(a, b), [(3, 4), (4, 2)]),
    Case("bmm", lambda L, a, b: L.bmm(a, b) + a.bmm(b), [(2, 3, 4), (2, 4, 2)]),
    Case("einsum", lambda L, a, b: L.einsum("bij,bjk->bik", a, b), [(2, 3, 4), (2, 4, 2)]),
    Case("einsum", lambda L, a: L.einsum("ii->i", a), [(3, 3)], label="einsum-diagonal"),
    Case("einsum", lambda L, a, b: L.einsum("i,j->ij", a, b), [(3,), (2,)],
         label="einsum-outer"),
    Case("einsum", lambda L, a, b, c: L.einsum("ij,jk,kl->il", a, b, c),
         [(2, 3), (3, 4), (4, 2)], label="einsum-chain"),
    Case("einsum", lambda L, a: L.einsum("...ij->...ji", a), [(2, 3, 4)],
         label="einsum-ellipsis"),
    Case("einsum", lambda L, a, b: L.einsum("ij,ij->", a, b), [(3, 4), (3, 4)],
         label="einsum-full"),
    Case("einsum", lambda L, a, b: L.einsum("bn,anm,bm->ba", a, b, a), [(2, 3), (4, 3, 3)],
         label="einsum-bilinear"),
    # ------------------------------------------------------------------- functional
    Case("gelu", lambda L, x: L.nn.functional.gelu(x * 3), [(3, 4)]),
    Case("gelu", lambda L, x: L.nn.functional.gelu(x * 3, approximate="tanh"), [(3, 4)],
         label="gelu-tanh"),
    Case("silu", lambda L, x: L.nn.functional.silu(x * 3), [(3, 4)]),
    Case("selu", lambda L, x: L.nn.functional.selu(x * 3), [(3, 4)]),
    Case("softsign", lambda L, x: L.nn.functional.softsign(x * 3), [(3, 4)]),
    Case("hardtanh", lambda L, x: L.nn.functional.hardtanh(x * 2, -1.5, 0.5), [(3, 4)]),
    Case("relu6", lambda L, x: L.nn.functional.relu6(x * 5), [(3, 4)]),
    Case("mish", lambda L, x: L.nn.functional.mish(x * 3), [(3, 4)]),
    Case("logsigmoid", lambda L, x: L.nn.functional.logsigmoid(x * 3), [(3, 4)]),
    Case("hardswish", lambda L, x: L.nn.functional.hardswish(x * 4), [(3, 4)]),
    Case("hardsigmoid", lambda L, x: L.nn.functional.hardsigmoid(x * 4), [(3, 4)]),
    Case("softplus", lambda L, x: L.nn.functional.softplus(x * 4, beta=2.0, threshold=3.0),
         [(3, 4)]),
    Case("softmin", lambda L, x: L.nn.functional.softmin(x, dim=0), [(3, 4)]),
    Case("glu", lambda L, x: L.nn.functional.glu(x, dim=1), [(3, 4)]),
    Case("normalize", lambda L, x: L.nn.functional.normalize(x, dim=1), [(3, 4)]),
    Case("normalize", lambda L, x: L.nn.functional.normalize(x, p=1.0, dim=0), [(3, 4)],
         label="normalize-p1"),
    Case("cosine_similarity", lambda L, a, b: L.nn.functional.cosine_similarity(a, b, dim=1),
         [(3, 4), (1, 4)]),
    Case("one_hot", lambda L, x, i: x * L.nn.functional.one_hot(i, 4), [(3, 4)],
         {"i": _idx(0, 3, 1)}),
    Case("l1_loss", lambda L, a, b: L.nn.functional.l1_loss(a, b), [(3, 4), (3, 4)]),
    Case("smooth_l1_loss", lambda L, a, b: L.nn.functional.smooth_l1_loss(
        a, b, reduction="sum", beta=0.7), [(3, 4), (3, 4)]),
    Case("huber_loss", lambda L, a, b: L.nn.functional.huber_loss(
        a, b, reduction="none", delta=0.6), [(3, 4), (3, 4)]),
    Case("kl_div", lambda L, a, b: L.nn.functional.kl_div(
        a.log_softmax(dim=1), b, reduction="batchmean"), [(3, 4), ((3, 4), "d")]),
    Case("kl_div", lambda L, a, b: L.nn.functional.kl_div(
        a, b, reduction="sum", log_target=True), [(3, 4), (3, 4)], label="kl_div-log-target"),
    Case("scaled_dot_product_attention",
         lambda L, q, k, v: L.nn.functional.scaled_dot_product_attention(q, k, v),
         [(2, 3, 4), (2, 5, 4), (2, 5, 2)]),
    Case("scaled_dot_product_attention",
         lambda L, q, k, v: L.nn.functional.scaled_dot_product_attention(
             q, k, v, is_causal=True, scale=0.7), [(3, 4), (3, 4), (3, 2)], label="sdpa-causal"),
    Case("scaled_dot_product_attention",
         lambda L, q, k, v, m: L.nn.functional.scaled_dot_product_attention(
             q, k, v, attn_mask=m), [(2, 3, 4), (2, 3, 4), (2, 3, 2)],
         {"m": np.array([[True, False, True], [True, True, False], [False, False, True]])},
         label="sdpa-mask"),
    Case("cross_entropy", lambda L, x, y: L.nn.functional.cross_entropy(x, y),
         [(4, 3)], {"y": _idx(0, 2, 1, 2)}),
    Case("cross_entropy", lambda L, x, y, w: L.nn.functional.cross_entropy(
        x, y, weight=w, ignore_index=1, label_smoothing=0.2), [(5, 3)],
         {"y": _idx(0, 2, 1, 2, 0), "w": np.array([0.5, 2.0, 1.5])}, label="ce-all-options"),
    Case("cross_entropy", lambda L, x, y: L.nn.functional.cross_entropy(
        x, y, reduction="none"), [(2, 3, 2, 2)], {"y": _idx([[0, 2], [1, 1]], [[2, 0], [0, 1]])},
         label="ce-nchw"),
    Case("cross_entropy", lambda L, x, y, w: L.nn.functional.cross_entropy(
        x, y, weight=w, label_smoothing=0.1), [(3, 4), ((3, 4), "d")],
         {"w": np.array([1.0, 0.5, 2.0, 1.0])}, label="ce-probabilities"),
    Case("nll_loss", lambda L, x, y, w: L.nn.functional.nll_loss(
        x.log_softmax(1), y, weight=w, ignore_index=-1), [(4, 3)],
         {"y": _idx(0, -1, 2, 2), "w": np.array([1.0, 3.0, 0.5])}),
    Case("binary_cross_entropy_with_logits",
         lambda L, x, y, pw: L.nn.functional.binary_cross_entropy_with_logits(
             x * 3, y, pos_weight=pw), [(3, 4), ((3, 4), "u")],
         {"pw": np.array([0.5, 1.0, 2.0, 3.0])}),
    Case("binary_cross_entropy", lambda L, p, y: L.nn.functional.binary_cross_entropy(
        p, y, reduction="sum"), [((3, 4), "u"), ((3, 4), "u")]),
    # PyTorch's gradient at p exactly 0 or 1 is not a derivative: torch only, no FD
    # (the target's gradient there differs on purpose: see test_bce_target_gradient...)
    Case("binary_cross_entropy", lambda L, p, y: L.nn.functional.binary_cross_entropy(
        L.clamp(p * 3 - 1, 0.0, 1.0), y, reduction="none"), [((2, 4), "u")],
         {"y": np.array([[0.0, 1.0, 0.3, 1.0], [1.0, 0.0, 0.0, 0.5]])},
         fd=False, f32=False, rtol=1e-9, label="bce-at-0-and-1"),
    Case("mse_loss", lambda L, a, b: L.nn.functional.mse_loss(a, b), [(3, 4), (3, 4)]),
    # ------------------------------------ convolution, pooling, padding, resizing (layers)
    Case("conv1d", lambda L, x, w, b: L.nn.functional.conv1d(x, w, b, stride=2, padding=1),
         [(2, 3, 7), (4, 3, 3), (4,)]),
    Case("conv1d", lambda L, x, w: L.nn.functional.conv1d(x, w, groups=2, dilation=2),
         [(2, 4, 9), (4, 2, 3)], label="conv1d-groups"),
    Case("conv2d", lambda L, x, w: L.nn.functional.conv2d(x, w, padding="same", groups=2),
         [(1, 4, 5, 5), (4, 2, 3, 3)], label="conv2d-same-groups"),
    Case("conv2d", lambda L, x, w: L.nn.functional.conv2d(x, w, padding="same"),
         [(1, 2, 4, 5), (3, 2, 2, 4)], label="conv2d-same-even"),
    Case("conv_transpose2d", lambda L, x, w, b: L.nn.functional.conv_transpose2d(
        x, w, b, stride=2, padding=1, output_padding=1), [(1, 2, 3, 3), (2, 3, 3, 3), (3,)]),
    Case("conv_transpose2d", lambda L, x, w: L.nn.functional.conv_transpose2d(
        x, w, groups=2, dilation=2), [(1, 4, 3, 3), (4, 1, 2, 2)], label="conv_t2d-groups"),
    Case("conv_transpose1d", lambda L, x, w: L.nn.functional.conv_transpose1d(x, w, stride=2),
         [(1, 2, 4), (2, 3, 3)]),
    Case("max_pool1d", lambda L, x: L.nn.functional.max_pool1d(
        x, 3, stride=2, dilation=2, ceil_mode=True), [(2, 3, 10)]),
    Case("max_pool2d", lambda L, x: L.nn.functional.max_pool2d(
        x, 2, stride=2, padding=1, ceil_mode=True), [(1, 2, 6, 5)], label="max_pool2d-ceil"),
    Case("max_pool2d", lambda L, x: L.nn.functional.max_pool2d(x, 2, dilation=2),
         [(1, 2, 6, 5)], label="max_pool2d-dilation"),
    Case("avg_pool1d", lambda L, x: L.nn.functional.avg_pool1d(
        x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), [(2, 3, 8)]),
    Case("avg_pool2d", lambda L, x: L.nn.functional.avg_pool2d(
        x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), [(1, 2, 6, 5)],
         label="avg_pool2d-options"),
    Case("avg_pool2d", lambda L, x: L.nn.functional.avg_pool2d(x, 2, divisor_override=3),
         [(1, 2, 4, 4)], label="avg_pool2d-divisor"),
    Case("adaptive_avg_pool1d", lambda L, x: L.nn.functional.adaptive_avg_pool1d(x, 3),
         [(2, 3, 7)]),
    Case("adaptive_avg_pool2d", lambda L, x: L.nn.functional.adaptive_avg_pool2d(x, (3, 2)),
         [(1, 2, 7, 5)]),
    Case("pad", lambda L, x: L.nn.functional.pad(x, (1, 2), value=0.5), [(2, 3)]),
    Case("pad", lambda L, x: L.nn.functional.pad(x, (1, 2, 2, 1), mode="reflect"),
         [(1, 2, 3, 4)], label="pad-reflect"),
    Case("pad", lambda L, x: L.nn.functional.pad(x, (1, 2, 2, 1), mode="replicate"),
         [(1, 2, 3, 4)], label="pad-replicate"),
    Case("pad", lambda L, x: L.nn.functional.pad(x, (1, 2, 2, 1), mode="circular"),
         [(1, 2, 3, 4)], label="pad-circular"),
    Case("interpolate", lambda L, x: L.nn.functional.interpolate(x, size=(5, 7)),
         [(1, 2, 3, 4)]),
    Case("interpolate", lambda L, x: L.nn.functional.interpolate(
        x, scale_factor=2, mode="bilinear"), [(1, 2, 3, 4)], label="interpolate-bilinear"),
    Case("interpolate", lambda L, x: L.nn.functional.interpolate(
        x, size=(5, 6), mode="bilinear", align_corners=True), [(1, 2, 3, 4)],
         label="interpolate-bilinear-corners"),
    # --------------------------------------------------- normalization and embedding
    Case("batch_norm", lambda L, x, w, b: L.nn.functional.batch_norm(
        x, None, None, w, b, training=True, eps=1e-3), [(4, 3, 2), (3,), (3,)]),
    Case("batch_norm", lambda L, x, rm, rv: L.nn.functional.batch_norm(x, rm, rv),
         [(2, 3, 2, 2)], {"rm": np.array([0.5, -1.0, 0.0]), "rv": np.array([1.5, 0.2, 3.0])},
         label="batch_norm-eval"),
    Case("layer_norm", lambda L, x, w, b: L.nn.functional.layer_norm(x, (3, 4), w, b),
         [(2, 3, 4), (3, 4), (3, 4)]),
    Case("embedding", lambda L, w, i: L.nn.functional.embedding(i, w),
         [(5, 3)], {"i": _idx([0, 1, 4], [4, 4, 1])}),
    # the padding row's gradient is 0 by definition, not by differences: torch only
    Case("embedding", lambda L, w, i: L.nn.functional.embedding(i, w, padding_idx=1),
         [(5, 3)], {"i": _idx([0, 1, 4], [4, 4, 1])}, fd=False, label="embedding-padding"),
    # empty tensors: shapes and (empty) gradients
    Case("sum", lambda L, x: x.sum(dim=1) + x.prod(1) + x.cumsum(1).sum(1) + x.norm(dim=1),
         [(3, 0)], views=False, label="empty-reductions"),
    Case("mean", lambda L, x: x.mean(dim=1), [(2, 0)], views=False, label="empty-mean"),
    Case("flip", lambda L, x: x.flip(0).roll(1, 0).repeat(2, 1).tril(), [(0, 3)],
         views=False, label="empty-movement"),
    # (exp: the -inf it gives, weighted by both signs, would sum to nan)
    Case("logsumexp", lambda L, x: x.logsumexp(dim=0).exp(), [(0, 3)], views=False,
         label="empty-logsumexp"),
]


def _set_rows(L, x, v):
    y = x * 1  # a non-leaf: writing into it is recorded (PyTorch does it in place)
    y[0] = 2.0
    y[1:, :2] = v
    return y


# masked_fill and item assignment (the rnn helper's): rows as soon as they exist.
if hasattr(vecgrad.Tensor, "masked_fill"):
    CASES.append(Case("masked_fill", lambda L, x, m: x.masked_fill(m, 0.5) * x, [(3, 4)],
                      {"m": np.array([[True, False, False, True]] * 3)}))
if hasattr(vecgrad.Tensor, "__setitem__"):
    CASES.append(Case("setitem", _set_rows, [(3, 4), (2, 2)]))

# Public names that take no part here, and why (everything else in vecgrad.__all__ and
# F.__all__ must have a row).
NOT_DIFFERENTIABLE_HERE = {
    # creation, devices, modules, dtypes, grad mode, io: no op to differentiate
    "Tensor", "tensor", "zeros", "ones", "full", "arange", "eye", "rand", "randn",
    "zeros_like", "ones_like", "from_numpy", "manual_seed", "random_generator", "no_grad",
    "enable_grad", "is_grad_enabled", "get_backend", "available_devices", "float32",
    "float64", "int64", "bool_", "nn", "optim", "func", "data", "save", "load", "Trainer",
    "numel", "randint", "randperm", "linspace", "full_like", "rand_like", "randn_like",
    "set_grad_enabled", "is_tensor", "long", "double", "float", "bool", "empty", "inference_mode",
    # comparisons giving bools (test_torch_everyday.py checks them against torch)
    "isclose", "allclose", "equal",
    # random: checked by statistics in test_softmax_losses (dropout)
    "dropout",
    # the catalogue activations and the older ops: walked by their own suites
    # (test_activations, test_elementwise, test_reduce_movement, test_matmul_conv, ...)
    "activation", "identity", "step", "sigmoid", "tanh", "arctan", "relu", "leaky_relu",
    "elu", "bent_identity", "soft_exponential", "sin", "cos", "sinc", "gaussian",
    "softmax", "log_softmax", "linear", "conv2d", "max_pool2d", "avg_pool2d", "cat",
    "concat", "stack", "where", "clip", "matmul", "abs", "exp", "log", "sqrt",
    "l1_penalty", "l2_penalty", "transpose", "permute", "reshape", "flatten", "unsqueeze",
    "argmin", "isinf", "isfinite", "swapdims", "moveaxis", "amin",
}


def _public_names():
    names = set(vecgrad.__all__) | set(F.__all__)
    return {n for n in names if not n.startswith("_")}


def test_every_public_op_has_a_row():
    covered = {case.name for case in CASES}
    missing = sorted(_public_names() - covered - NOT_DIFFERENTIABLE_HERE)
    assert not missing, (f"add a row to tests/vecgrad/test_differential.py for: "
                         f"{', '.join(missing)} (or list it in NOT_DIFFERENTIABLE_HERE with "
                         f"the reason)")


# Tensor attributes that are not ops (state, I/O, devices, in-place updates), and ops
# whose own suites check them (the catalogue activations, the older ops).
TENSOR_NOT_HERE = {
    "backward", "data", "detach", "device", "dtype", "grad", "grad_fn", "is_leaf", "item",
    "numpy", "tolist", "numel", "ndim", "shape", "size", "dim", "requires_grad",
    "requires_grad_", "retain_grad", "to", "cpu", "float", "double", "long",
    "is_contiguous", "add_", "sub_", "mul_", "div_", "copy_", "fill_", "zero_",
    "activation", "identity", "step", "sigmoid", "tanh", "arctan", "relu", "leaky_relu",
    "elu", "softplus", "bent_identity", "soft_exponential", "sin", "cos", "sinc",
    "gaussian", "softmax", "log_softmax", "add", "sub", "mul", "div", "pow", "matmul",
    "abs", "exp", "log", "sqrt", "clip", "reshape", "view", "flatten", "transpose",
    "permute", "unsqueeze", "expand", "gather", "T", "mean", "sum", "var", "argmin",
    "isclose", "allclose", "equal", "eq", "ne", "lt", "le", "gt", "ge", "bool",
    "new_zeros", "new_ones", "new_empty", "new_full", "new_tensor",  # creation
    # (bools, no gradient: test_torch_everyday.py)
}


def test_every_tensor_method_is_called_by_some_row(monkeypatch):
    """Every public Tensor method or property, called through some row (recorded by
    wrapping them all), or listed in TENSOR_NOT_HERE: a new method gets a row too."""
    called = set()
    for name, attribute in list(vars(vecgrad.Tensor).items()):
        if name.startswith("_"):
            continue
        if isinstance(attribute, property):
            def getter(self, _name=name, _get=attribute.fget):
                called.add(_name)
                return _get(self)
            monkeypatch.setattr(vecgrad.Tensor, name, property(getter, attribute.fset))
        elif callable(attribute):
            def method(*args, _name=name, _call=attribute, **kwargs):
                called.add(_name)
                return _call(*args, **kwargs)
            monkeypatch.setattr(vecgrad.Tensor, name, method)
    for case in CASES:
        _run_vecgrad(case, case.arrays(), "cpu", grads=False)
    public = {n for n in vars(vecgrad.Tensor) if not n.startswith("_")}
    missing = sorted(public - called - TENSOR_NOT_HERE)
    assert not missing, (f"no row of tests/vecgrad/test_differential.py calls Tensor."
                         f"{', Tensor.'.join(missing)}; add one (or list it in "
                         f"TENSOR_NOT_HERE with the reason)")


# ------------------------------------------------------------------------- running
def _outputs(result):
    """A result (tensor, tuple, namedtuple, list) as a flat list of tensors."""
    if isinstance(result, (tuple, list)):
        flat = []
        for r in result:
            flat += _outputs(r)
        return flat
    return [result]


def _is_float(array):
    return array.dtype.kind == "f"


def _run_vecgrad(case, arrays, device, dtype=np.float64, permuted=False, grads=True):
    """(output arrays, gradient arrays) of case.fn on vecgrad."""
    leaves, inputs = [], []
    for a in arrays:
        a = a.astype(dtype)
        if permuted and a.ndim >= 2:
            axes = tuple(reversed(range(a.ndim)))
            leaf = vecgrad.tensor(np.ascontiguousarray(a.transpose(axes)), device=device,
                                  requires_grad=grads)
            inputs.append(leaf.permute(*axes))
        else:
            leaf = vecgrad.tensor(a, device=device, requires_grad=grads)
            inputs.append(leaf)
        leaves.append(leaf)
    consts = {k: vecgrad.tensor(v.astype(dtype) if _is_float(v) else v, device=device)
              for k, v in case.consts.items()}
    outs = _outputs(case.fn(vecgrad, *inputs, **consts))
    values = [o.numpy() for o in outs]
    if not grads:
        return values, None
    total = None
    for i, o in enumerate(outs):
        if o.requires_grad:
            w = vecgrad.tensor(_weights(o.shape, i).astype(o.dtype), device=device)
            term = (o * w).sum()
            total = term if total is None else total + term
    if total is not None:
        total.backward()
    grads_out = []
    for leaf in leaves:
        g = np.zeros(leaf.shape, leaf.dtype) if leaf.grad is None else leaf.grad.numpy()
        if permuted and g.ndim >= 2:
            g = g.transpose(tuple(reversed(range(g.ndim))))
        grads_out.append(g)
    return values, grads_out


def _weights(shape, i):
    return np.random.default_rng(100 + i).standard_normal(shape)


def _projected(case, device):
    """x -> sum_i sum(out_i * w_i) on vecgrad in float64, for finite differences."""
    def scalar(*arrays):
        with vecgrad.no_grad():
            values, _ = _run_vecgrad(case, arrays, device, grads=False)
        return float(sum(np.sum(v * _weights(v.shape, i)) for i, v in enumerate(values)
                         if _is_float(v)))
    return scalar


def _close(got, want, rtol, atol, what):
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape, f"{what} {i}: shape {g.shape}, expected {w.shape}"
        if _is_float(w) or _is_float(g):
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"{what} {i}")
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"{what} {i}")


_CPU_RESULTS = {}


def _cpu_results(case):
    key = case.id
    if key not in _CPU_RESULTS:
        _CPU_RESULTS[key] = _run_vecgrad(case, case.arrays(), "cpu")
    return _CPU_RESULTS[key]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_against_finite_differences_and_backends(case, device):
    need_float64(device)
    arrays = case.arrays()
    values, grads = _run_vecgrad(case, arrays, device)
    if device == "cpu":
        if case.fd:
            numeric = numerical_grads(_projected(case, device), [a.copy() for a in arrays])
            _close(grads, numeric, case.rtol * 10, case.atol * 10, "gradient (central "
                   "differences) of input")
    else:
        cpu_values, cpu_grads = _cpu_results(case)
        _close(values, cpu_values, 1e-9, 1e-11, "output (vs cpu)")
        _close(grads, cpu_grads, 1e-9, 1e-11, "gradient (vs cpu) of input")
        if case.fd and any(a.size for a in arrays):  # the device's own directional
            # derivative along a random direction
            rng = np.random.default_rng(7)
            direction = [rng.standard_normal(a.shape) for a in arrays]
            f = _projected(case, device)
            eps = 1e-6
            up = f(*[a + eps * d for a, d in zip(arrays, direction)])
            down = f(*[a - eps * d for a, d in zip(arrays, direction)])
            predicted = sum(float(np.sum(g * d)) for g, d in zip(grads, direction))
            assert (up - down) / (2 * eps) == pytest.approx(predicted, rel=1e-5, abs=1e-6)
    if case.views:
        view_values, view_grads = _run_vecgrad(case, arrays, device, permuted=True)
        _close(view_values, values, 1e-12, 1e-12, "output on transposed views")
        _close(view_grads, grads, 1e-12, 1e-12, "gradient on transposed views of input")
    if case.f32:
        f32_values, f32_grads = _run_vecgrad(case, arrays, device, dtype=np.float32)
        _close(f32_values, values, 2e-4, 2e-5, "float32 output")
        _close(f32_grads, grads, 2e-3, 2e-4, "float32 gradient of input")


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed (pip install torch)")
@pytest.mark.parametrize("case", [c for c in CASES if c.torch], ids=[c.id for c in CASES
                                                                     if c.torch])
def test_against_torch(case):
    import torch

    arrays = case.arrays()
    leaves = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    consts = {k: torch.tensor(v) for k, v in case.consts.items()}
    outs = _outputs(case.fn(torch, *leaves, **consts))
    want_values = [o.detach().numpy() for o in outs]
    total = None
    for i, o in enumerate(outs):
        if o.requires_grad:
            term = (o * torch.tensor(_weights(tuple(o.shape), i))).sum()
            total = term if total is None else total + term
    if total is not None:
        total.backward()
    want_grads = [np.zeros(a.shape) if t.grad is None else t.grad.numpy()
                  for a, t in zip(arrays, leaves)]
    values, grads = _cpu_results(case)
    _close(values, want_values, max(case.rtol, 1e-9), 1e-10, "output (vs torch)")
    _close(grads, want_grads, max(case.rtol, 1e-9), 1e-10, "gradient (vs torch) of input")


# ------------------------------------------------ derivatives of derivatives (hiorder)
def _hvp_recorded(case, arrays, vs, device):
    """H v through create_graph=True: the gradient is itself recorded, then differentiated."""
    from vecgrad.autograd import grad

    leaves = [vecgrad.tensor(a, device=device, requires_grad=True) for a in arrays]
    consts = {k: vecgrad.tensor(v, device=device) for k, v in case.consts.items()}
    outs = _outputs(case.fn(vecgrad, *leaves, **consts))
    total = sum((o * vecgrad.tensor(_weights(o.shape, i), device=device)).sum()
                for i, o in enumerate(outs) if o.requires_grad)
    gs = grad(total, leaves, create_graph=True, allow_unused=True)
    dot = sum((g * vecgrad.tensor(v, device=device)).sum()
              for g, v in zip(gs, vs) if g is not None and g.requires_grad)
    if not common_is_tensor(dot) or not dot.requires_grad:
        return [np.zeros(a.shape) for a in arrays]  # a linear op: its Hessian is 0
    hs = grad(dot, leaves, allow_unused=True)
    return [np.zeros(a.shape) if h is None else h.numpy() for a, h in zip(arrays, hs)]


def common_is_tensor(value):
    return isinstance(value, vecgrad.Tensor)


HVP_CASES = [c for c in CASES if c.fd and c.hvp and not c.id.startswith("empty")]


@pytest.mark.parametrize("case", HVP_CASES, ids=[c.id for c in HVP_CASES])
def test_second_derivatives_of_every_row(case, device):
    """Every row's Hessian-vector product, recorded with create_graph=True, against
    central differences of its first-order gradient: composites get second derivatives
    from the ops they are made of, so each row must pass with no rule of its own."""
    need_float64(device)
    arrays = case.arrays()
    rng = np.random.default_rng(11)
    vs = [rng.standard_normal(a.shape) for a in arrays]
    got = _hvp_recorded(case, arrays, vs, device)
    eps = 1e-5
    _, up = _run_vecgrad(case, [a + eps * v for a, v in zip(arrays, vs)], device)
    _, down = _run_vecgrad(case, [a - eps * v for a, v in zip(arrays, vs)], device)
    want = [(u - d) / (2 * eps) for u, d in zip(up, down)]
    _close(got, want, 1e-5, 1e-6, "Hessian-vector product of input")
