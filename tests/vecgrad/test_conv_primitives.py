"""The three convolution primitives (conv2d, conv2d_input_grad, conv2d_weight_grad) on
every backend, against a reference written here from the definition (a sum over kernel
offsets with einsum: no im2col, no col2im), against each other through the adjoint
identities, and against PyTorch when it is installed. The numpy backend's cache-blocked
version is run with its blocks cut small (pieces of rows, many chunks) and shared among
threads, so every way of cutting the output is checked. Nothing here is timed.
"""

import itertools

import numpy as np
import pytest

import vecgrad
import vecgrad.nn.functional as F
from vecgrad.backends import numpy_conv
from vecgrad.backends.base import Backend
from vecgrad.backends.numpy_backend import NumpyBackend

from vg_helpers import need_float64

RNG = np.random.default_rng(12)

# (x shape, weight shape, stride, padding, dilation, groups): odd sizes, non-square
# kernels and strides, dilation, groups, a 1-D (height 1) case, a batch of one, windows
# that leave the last rows/columns out, and LeNet's / the bench's shapes.
CASES = [
    ((2, 3, 7, 9), (4, 3, 3, 2), (1, 1), (0, 0), (1, 1), 1),
    ((3, 4, 11, 10), (6, 2, 3, 3), (2, 1), (1, 2), (2, 1), 2),
    ((1, 6, 5, 5), (6, 1, 3, 3), (1, 2), (1, 1), (1, 1), 6),
    ((2, 3, 8, 7), (5, 3, 2, 4), (3, 2), (2, 0), (1, 2), 1),
    ((4, 5, 1, 13), (7, 5, 1, 5), (1, 1), (0, 2), (1, 1), 1),
    ((5, 1, 28, 28), (6, 1, 5, 5), (1, 1), (2, 2), (1, 1), 1),
    ((6, 6, 14, 14), (16, 6, 5, 5), (1, 1), (0, 0), (1, 1), 1),
    ((3, 2, 6, 6), (4, 2, 6, 6), (1, 1), (0, 0), (1, 1), 1),  # one output position
    # images 4 KiB apart (float32; 8 KiB in float64), more than 8 of them and not a
    # multiple of 8: padded_frame's eight-at-a-time copy, with and without padding
    ((10, 4, 16, 16), (3, 4, 3, 3), (1, 1), (0, 0), (1, 1), 1),
    ((11, 2, 16, 32), (4, 2, 3, 3), (2, 1), (1, 1), (1, 2), 1),
    # shared patch rows with groups, a row stride of 2 under a 4-row kernel (two classes
    # of input rows) and dilated columns; and a row stride of 3 (three classes)
    ((2, 4, 9, 8), (6, 2, 4, 3), (2, 1), (1, 0), (1, 2), 2),
    ((2, 2, 11, 6), (3, 2, 4, 2), (3, 1), (1, 1), (1, 1), 1),
]


def _windows(xp, kh, kw, oh, ow, stride, dilation):
    """xp's (N, C, OH, OW) slice under kernel offset (i, j), for every (i, j)."""
    (sh, sw), (dh, dw) = stride, dilation
    for i in range(kh):
        for j in range(kw):
            yield i, j, (slice(None), slice(None),
                         slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),
                         slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))


def reference(x, w, g, stride, padding, dilation, groups):
    """(y, dL/dx, dL/dw) for L = <y, g>, from the definition of the cross-correlation."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    (ph, pw), og = padding, o // groups
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh = (h + 2 * ph - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * pw - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    y = np.zeros((n, groups, og, oh, ow))
    dxp = np.zeros((n, groups, cg) + xp.shape[2:])
    dw = np.zeros((groups, og, cg, kh, kw))
    gg = g.reshape(n, groups, og, oh, ow)
    wg = w.reshape(groups, og, cg, kh, kw)
    for i, j, index in _windows(xp, kh, kw, oh, ow, stride, dilation):
        patch = xp[index].reshape(n, groups, cg, oh, ow)
        y += np.einsum("ngchw,goc->ngohw", patch, wg[..., i, j])
        dw[..., i, j] += np.einsum("ngohw,ngchw->goc", gg, patch)
        dxp[(slice(None), slice(None)) + index[1:]] += np.einsum(
            "ngohw,goc->ngchw", gg, wg[..., i, j])
    dx = dxp.reshape(n, c, *xp.shape[2:])[:, :, ph:ph + h, pw:pw + wd]
    return y.reshape(n, o, oh, ow), dx, dw.reshape(w.shape)


def _backends(device):
    """(label, backend) pairs to check on this device."""
    if device != "cpu":
        return [(device, vecgrad.get_backend(device))]
    whole = NumpyBackend("cpu")
    whole._conv = numpy_conv.ConvRunner(threads=1)
    threaded = NumpyBackend("cpu")
    threaded._conv = numpy_conv.ConvRunner(threads=3)
    return [("numpy", whole), ("numpy threads", threaded)]


def _run_all(be, x, w, b, g, case):
    _, _, stride, padding, dilation, groups = case
    y = be.conv2d(be.from_numpy(x), be.from_numpy(w), be.from_numpy(b), stride, padding,
                  dilation, groups)
    dx = be.conv2d_input_grad(be.from_numpy(g), be.from_numpy(w), x.shape, stride, padding,
                              dilation, groups)
    dw = be.conv2d_weight_grad(be.from_numpy(x), be.from_numpy(g), w.shape, stride,
                               padding, dilation, groups)
    return [be.to_numpy(v) for v in (y, dx, dw)]


def _data(case, dtype):
    xs, ws, stride, padding, dilation, groups = case
    x = RNG.standard_normal(xs).astype(dtype)
    w = RNG.standard_normal(ws).astype(dtype)
    b = RNG.standard_normal(ws[0]).astype(dtype)
    oh = (xs[2] + 2 * padding[0] - dilation[0] * (ws[2] - 1) - 1) // stride[0] + 1
    ow = (xs[3] + 2 * padding[1] - dilation[1] * (ws[3] - 1) - 1) // stride[1] + 1
    g = RNG.standard_normal((xs[0], ws[0], oh, ow)).astype(dtype)
    return x, w, b, g


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}w{c[1]}g{c[5]}" for c in CASES])
def test_primitives_match_the_definition(device, case, dtype, monkeypatch):
    if dtype == np.float64:
        need_float64(device)
    x, w, b, g = _data(case, dtype)
    want_y, want_dx, want_dw = reference(x.astype(np.float64), w.astype(np.float64),
                                         g.astype(np.float64), *case[2:])
    want_y = want_y + b.astype(np.float64)[None, :, None, None]
    tol = 1e-11 if dtype == np.float64 else 2e-4
    # numpy: whole rows per chunk, and (700 bytes) pieces of rows, many chunks
    chunk_sizes = (1 << 22, 700) if device == "cpu" else (None,)
    for (label, be), chunk_bytes in [(b_, c) for b_ in _backends(device) for c in chunk_sizes]:
        if chunk_bytes is not None:
            monkeypatch.setattr(numpy_conv, "CHUNK_BYTES", chunk_bytes)
            label = f"{label}, {chunk_bytes}-byte chunks"
        got = _run_all(be, x, w, b, g, case)
        for name, have, want in zip(("conv2d", "input grad", "weight grad"), got,
                                    (want_y, want_dx, want_dw)):
            assert have.dtype == dtype, (label, name)
            assert have.shape == want.shape, (label, name)
            scale = max(1.0, float(np.abs(want).max()))
            np.testing.assert_allclose(have, want, rtol=tol, atol=tol * scale,
                                       err_msg=f"{label} {name}")


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}g{c[5]}" for c in CASES])
def test_both_gradients_at_once(device, case, monkeypatch):
    """conv2d_grads (both adjoints, side by side on the numpy backend's threads, and the
    bias gradient summed with the weight gradient) gives what the two primitives give
    one at a time: the same bits on numpy (each side runs the one-thread chunks; one
    gradient alone runs that runner's split, which is compared with the primitive on the
    same runner), the bias gradient grad summed over (N, OH, OW), and None for a
    gradient not asked for."""
    for chunk_bytes in ((1 << 22, 700) if device == "cpu" else (None,)):
        if chunk_bytes is not None:  # 700 bytes: many chunks per thread
            monkeypatch.setattr(numpy_conv, "CHUNK_BYTES", chunk_bytes)
        _check_both_gradients(device, case)


def _check_both_gradients(device, case):
    dtype = np.float64 if device == "cpu" else np.float32
    x, w, _, g = _data(case, dtype)
    args = case[2:]
    if device == "cpu":
        one = NumpyBackend("cpu")
        one._conv = numpy_conv.ConvRunner(threads=1)
        pairs = [(one, numpy_conv.ConvRunner(threads=2)),
                 (one, numpy_conv.ConvRunner(threads=3))]
    else:
        be = vecgrad.get_backend(device)
        pairs = [(be, None)]
    for reference_backend, runner in pairs:
        be = reference_backend
        xb, wb, gb = (be.from_numpy(a) for a in (x, w, g))
        want = (be.to_numpy(be.conv2d_input_grad(gb, wb, x.shape, *args)),
                be.to_numpy(be.conv2d_weight_grad(xb, gb, w.shape, *args)))
        if runner is not None:
            be = NumpyBackend("cpu")
            be._conv = runner
        alone = (be.conv2d_input_grad(gb, wb, x.shape, *args),
                 be.conv2d_weight_grad(xb, gb, w.shape, *args))
        bias = g.sum(axis=(0, 2, 3))
        for needs in itertools.product((True, False), repeat=3):
            for asked_for in (needs, needs[:2]):  # with a bias and without one
                got = be.conv2d_grads(xb, wb, gb, *args, asked_for)
                assert len(got) == len(asked_for)
                expected = want if all(asked_for[:2]) else [be.to_numpy(a) for a in alone]
                for have, wanted, asked in zip(got[:2], expected, asked_for):
                    if not asked:
                        assert have is None
                    elif device == "cpu":
                        np.testing.assert_array_equal(have, wanted)
                    else:
                        np.testing.assert_allclose(be.to_numpy(have), wanted, rtol=1e-5,
                                                   atol=1e-5 * max(1.0, np.abs(wanted).max()))
                if len(asked_for) == 3 and asked_for[2]:
                    have = be.to_numpy(got[2])
                    assert have.shape == bias.shape and have.dtype == dtype
                    np.testing.assert_allclose(have, bias, rtol=1e-5,
                                               atol=1e-5 * max(1.0, np.abs(bias).max()))
                elif len(asked_for) == 3:
                    assert got[2] is None


@pytest.mark.parametrize("case", CASES[:5], ids=[f"{c[0]}g{c[5]}" for c in CASES[:5]])
def test_the_three_are_adjoint(device, case):
    """<conv2d(x, w), g> = <x, input_grad(g, w)> = <w, weight_grad(x, g)> (float64)."""
    need_float64(device)
    x, w, _, g = _data(case, np.float64)
    be = vecgrad.get_backend(device)
    stride, padding, dilation, groups = case[2:]
    y = be.to_numpy(be.conv2d(be.from_numpy(x), be.from_numpy(w), None, stride, padding,
                              dilation, groups))
    dx = be.to_numpy(be.conv2d_input_grad(be.from_numpy(g), be.from_numpy(w), x.shape,
                                          stride, padding, dilation, groups))
    dw = be.to_numpy(be.conv2d_weight_grad(be.from_numpy(x), be.from_numpy(g), w.shape,
                                           stride, padding, dilation, groups))
    value = float(np.vdot(y, g))
    assert np.isclose(np.vdot(x, dx), value, rtol=1e-12)
    assert np.isclose(np.vdot(w, dw), value, rtol=1e-12)


def test_numpy_backend_agrees_with_the_generic_composition():
    """The cache-blocked numpy versions against base.Backend's im2col + matmul + col2im
    composition (what OpenCL runs), on the numpy backend's own buffers."""
    be = NumpyBackend("cpu")
    be._conv = numpy_conv.ConvRunner(threads=2)
    for case in CASES:
        x, w, b, g = _data(case, np.float64)
        args = case[2:]
        pairs = [
            (be.conv2d(x, w, b, *args), Backend.conv2d(be, x, w, b, *args)),
            (be.conv2d_input_grad(g, w, x.shape, *args),
             Backend.conv2d_input_grad(be, g, w, x.shape, *args)),
            (be.conv2d_weight_grad(x, g, w.shape, *args),
             Backend.conv2d_weight_grad(be, x, g, w.shape, *args)),
        ]
        for have, want in pairs:
            np.testing.assert_allclose(have, want, rtol=1e-12, atol=1e-12)


def test_random_geometries_agree_with_the_composition():
    """Random strides, paddings, dilations, groups and sizes (float64, seeded): the numpy
    primitives and conv2d_grads, on one thread, three, and 200-byte chunks, against
    base.Backend's im2col + matmul + col2im, so every path (shared patch rows of every
    residue class, columns, row pieces) meets a reference it does not share code with."""
    rng = np.random.default_rng(7)
    be = NumpyBackend("cpu")
    checked = 0
    while checked < 60:
        groups, cg, og = int(rng.choice([1, 1, 2, 3])), int(rng.integers(1, 3)), \
            int(rng.integers(1, 3))
        kh, kw = int(rng.integers(1, 6)), int(rng.integers(1, 5))
        stride = (int(rng.integers(1, 5)), int(rng.integers(1, 3)))
        dilation = (int(rng.choice([1, 1, 1, 2])), int(rng.choice([1, 2])))
        padding = (int(rng.integers(0, 4)), int(rng.integers(0, 3)))
        n, h, w = int(rng.integers(1, 5)), int(rng.integers(1, 12)), int(rng.integers(1, 12))
        oh, ow = numpy_conv.output_hw((h, w), (kh, kw), stride, padding, dilation)
        if oh < 1 or ow < 1:
            continue
        checked += 1
        x = rng.standard_normal((n, groups * cg, h, w))
        wt = rng.standard_normal((groups * og, cg, kh, kw))
        g = rng.standard_normal((n, groups * og, oh, ow))
        b = rng.standard_normal(groups * og)
        args = (stride, padding, dilation, groups)
        want = (Backend.conv2d(be, x, wt, b, *args),
                Backend.conv2d_input_grad(be, g, wt, x.shape, *args),
                Backend.conv2d_weight_grad(be, x, g, wt.shape, *args), g.sum(axis=(0, 2, 3)))
        for threads, chunk_bytes in ((1, 1 << 22), (3, 1 << 22), (2, 200)):
            old, numpy_conv.CHUNK_BYTES = numpy_conv.CHUNK_BYTES, chunk_bytes
            try:
                be._conv = numpy_conv.ConvRunner(threads=threads)
                have = (be.conv2d(x, wt, b, *args),
                        be.conv2d_input_grad(g, wt, x.shape, *args),
                        be.conv2d_weight_grad(x, g, wt.shape, *args))
                both = be.conv2d_grads(x, wt, g, *args, (True, True, True))
            finally:
                numpy_conv.CHUNK_BYTES = old
            for got, expected in zip(have + tuple(both), want[:3] + want[1:]):
                np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10,
                                           err_msg=f"{x.shape} {wt.shape} {args} "
                                                   f"{threads} threads {chunk_bytes}")


@pytest.mark.parametrize("case", [CASES[1], CASES[0], CASES[10]],
                         ids=["columns", "shared rows", "shared rows, groups"])
def test_layouts_and_empty_batch(case):
    """Inputs in any memory order (the channels-last views convolutions return, a
    gradient laid out batch-last as a convolution's own output is, one transposed) and
    a batch of none, with and without shared patch rows."""
    be = NumpyBackend("cpu")
    be._conv = numpy_conv.ConvRunner(threads=2)
    x, w, b, g = _data(case, np.float64)
    args = case[2:]
    want = [be.conv2d(x, w, b, *args), be.conv2d_input_grad(g, w, x.shape, *args),
            be.conv2d_weight_grad(x, g, w.shape, *args),
            *be.conv2d_grads(x, w, g, *args, (True, True, True))]
    x_cl = np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    for g_odd in (np.asfortranarray(g),
                  np.ascontiguousarray(g.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)):
        have = [be.conv2d(x_cl, w, b, *args), be.conv2d_input_grad(g_odd, w, x.shape, *args),
                be.conv2d_weight_grad(x_cl, g_odd, w.shape, *args),
                *be.conv2d_grads(x_cl, w, g_odd, *args, (True, True, True))]
        for a, c in zip(have, want):
            np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)
    empty = np.zeros((0,) + x.shape[1:])
    y = be.conv2d(empty, w, b, *args)
    assert y.shape == (0,) + want[0].shape[1:]
    assert be.conv2d_input_grad(np.zeros(y.shape), w, empty.shape, *args).shape == empty.shape
    dw = be.conv2d_weight_grad(empty, np.zeros(y.shape), w.shape, *args)
    assert dw.shape == w.shape and not dw.any()


@pytest.mark.parametrize("shape, padding", [((10, 4, 16, 16), (0, 0)),
                                            ((11, 2, 16, 32), (1, 2)),
                                            ((5, 3, 7, 9), (2, 0)), ((9, 1, 32, 32), (0, 0))])
def test_padded_frame(shape, padding):
    """padded_frame is np.pad's zero padding, batch last, whatever x's memory order (the
    eight-images-at-a-time copy for image strides that are multiples of 4 KiB)."""
    x = RNG.standard_normal(shape).astype(np.float32)
    (ph, pw) = padding
    want = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))).transpose(1, 2, 3, 0)
    batch_last = np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    for source in (x, batch_last, x[:, :, :, ::-1][:, :, :, ::-1]):
        got = numpy_conv.padded_frame(source, padding)
        assert got.flags.c_contiguous
        np.testing.assert_array_equal(got, want)
    if padding == (0, 0):  # already batch-last: a view, no copy
        assert np.shares_memory(numpy_conv.padded_frame(batch_last, padding), batch_last)


def test_convolutions_keep_blas_on_one_thread_and_take_the_policys_threads(monkeypatch):
    """A convolution never asks BLAS for more than the policy gives a product just over
    OpenBLAS's own threshold (one thread when auto: one convolution thread with two BLAS
    threads was the slowest setting), on one thread or several; on a quiet machine a
    large one splits its chunks and runs its two gradients side by side, with the
    results of one thread (the same bits for the side-by-side gradients)."""
    from vecgrad.backends import blas_threads

    seen = []
    monkeypatch.setattr(blas_threads, "fit", lambda macs, side=None: seen.append(macs))

    class Quiet:  # the auto policy on an idle 2-core machine
        policy = "auto"
        conv_chosen = {}  # what the convolutions report they ran on

        def wanted(self, macs, side=None):
            return 2

    monkeypatch.setattr(blas_threads, "policy", lambda: Quiet())
    case = CASES[1]
    x, w, b, g = _data(case, np.float64)
    args = case[2:]
    one = numpy_conv.ConvRunner(threads=1)
    want = [one.conv2d(x, w, b, *args), *one.conv2d_grads(x, w, g, *args, (True, True, True))]
    for large in (False, True):  # below the thread thresholds, then above them
        if large:
            monkeypatch.setattr(numpy_conv, "THREAD_MACS", 0)
            monkeypatch.setattr(numpy_conv, "SIDE_BY_SIDE_MACS", 0)
        seen.clear()
        Quiet.conv_chosen.clear()
        runner = numpy_conv.ConvRunner()
        ran = []
        run = runner._run
        monkeypatch.setattr(runner, "_run", lambda parts: ran.append(len(parts)) or run(parts))
        have = [runner.conv2d(x, w, b, *args),
                *runner.conv2d_grads(x, w, g, *args, (True, True, True))]
        assert seen and set(seen) == {blas_threads.LIBRARY_SINGLE_MACS + 1}
        # forward, then the gradients: one after the other, or side by side (two
        # parts, each a one-thread run of its own)
        assert ran == ([2, 2, 1, 1] if large else [1, 1, 1])
        # the forward's split is reported (the gradients side by side fix their own)
        assert Quiet.conv_chosen == ({2: 1} if large else {1: 3})
        for got, expected in zip(have, want):
            if large:
                np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
            else:
                np.testing.assert_array_equal(got, expected)
        if large:  # side by side: each gradient is the one-thread computation's bits
            np.testing.assert_array_equal(have[1], want[1])
            np.testing.assert_array_equal(have[2], want[2])


def test_chunks_cover_every_position_once():
    for oh, ow, threads, chunk_bytes in ((28, 28, 2, 1 << 22), (1, 40, 2, 1 << 22),
                                         (7, 5, 3, 100), (10, 10, 1, 1 << 30), (3, 1, 4, 1)):
        geo = numpy_conv._Geometry((2, 1, oh, ow), (1, 1, 1, 1), (1, 1), (0, 0), (1, 1), 1, 4)
        old, numpy_conv.CHUNK_BYTES = numpy_conv.CHUNK_BYTES, chunk_bytes
        try:
            geo.cut(threads)
        finally:
            numpy_conv.CHUNK_BYTES = old
        seen = np.zeros((oh, ow), dtype=int)
        for r0, r1, c0, c1 in geo.chunks:
            assert r1 - r0 == 1 or (c0, c1) == (0, ow)  # a 2-D slice of (O, OH*OW*N)
            seen[r0:r1, c0:c1] += 1
        assert (seen == 1).all()
        assert len(geo.chunks) >= min(threads, oh * ow)


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}w{c[1]}s{c[2]}d{c[4]}" for c in CASES])
def test_shared_patch_rows_where_windows_overlap_in_height(case):
    """Patch rows are shared exactly when neighbouring output rows read overlapping input
    rows (no dilation in height, a row stride under the kernel's height); then output
    row y's patch matrix is a view of KH consecutive gathered rows: rows y and y + 1
    share memory, and the gathered patches are those of the input rows only."""
    x, w, _, _ = _data(case, np.float32)
    geo = numpy_conv._Geometry(x.shape, w.shape, *case[2:], x.dtype.itemsize)
    (th, _), (dh, _) = case[2], case[4]
    assert geo.shared_rows == (dh == 1 and th < w.shape[2])
    frame = numpy_conv.padded_frame(x, case[3])
    scratch = geo.scratch(x.dtype, geo.cgkk)
    patches = geo.gathered(geo.windows(frame), geo.chunks[0], scratch)
    assert patches.shape[:3] == ((case[5], geo.oh, geo.cgkk) if geo.shared_rows
                                 else (case[5], 1, geo.cgkk))
    if geo.shared_rows and geo.oh > 1:
        assert np.shares_memory(patches[:, 0], patches[:, 1])
        used = geo.patch_rows(geo.chunks[0])[1] * x.shape[1] * w.shape[3] * geo.ow * geo.n
        assert used < case[5] * geo.cgkk * geo.oh * geo.ow * geo.n  # the patch matrix


def test_input_gradient_bands_cover_every_row_once():
    """The input gradient with shared rows cuts the padded input rows into bands (pieces
    of one row when a row's sums exceed CHUNK_BYTES), each row and column once."""
    for shape, weight, threads, chunk_bytes in (
            ((32, 3, 32, 32), (16, 3, 5, 5), 2, 1 << 22),
            ((2, 4, 9, 8), (6, 2, 4, 3), 3, 1 << 22),
            ((2, 3, 10, 40), (2, 3, 3, 3), 1, 64)):
        geo = numpy_conv._Geometry(shape, weight, (1, 1), (1, 0), (1, 1), 1, 4)
        old, numpy_conv.CHUNK_BYTES = numpy_conv.CHUNK_BYTES, chunk_bytes
        try:
            geo.cut_bands(threads)
        finally:
            numpy_conv.CHUNK_BYTES = old
        bands = geo.chunks
        seen = np.zeros((shape[2] + 2, geo.ow), dtype=int)
        for first, last, c0, c1 in bands:
            assert last - first == 1 or (c0, c1) == (0, geo.ow)
            seen[first:last, c0:c1] += 1
        assert (seen == 1).all()
        assert len(bands) >= min(threads, shape[2] + 2)


def test_a_failing_worker_raises_here():
    """An error on a worker thread reaches the caller (after every worker is done)."""
    runner = numpy_conv.ConvRunner(threads=2)

    def boom():
        raise ValueError("worker failed")

    with pytest.raises(ValueError, match="worker failed"):
        runner._run([lambda: 1, boom])
    assert runner._run([lambda: 1, lambda: 2]) == [1, 2]


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_threads_work_in_a_forked_child():
    """A child forked after the workers started gets workers of its own (the parent's
    threads do not exist there: reusing their pool would wait forever)."""
    import os

    runner = numpy_conv.ConvRunner(threads=2)
    assert runner._run([lambda: 1, lambda: 2]) == [1, 2]
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if the threaded run finishes
        try:
            os._exit(0 if runner._run([lambda: 3, lambda: 4]) == [3, 4] else 1)
        except BaseException:
            os._exit(1)
    deadline = __import__("time").monotonic() + 30
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if __import__("time").monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child's threaded run did not finish")
        __import__("time").sleep(0.01)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv_layers_match_torch(device, dtype):
    """F.conv2d / F.conv1d forward and all gradients against PyTorch (when installed)."""
    torch = pytest.importorskip("torch")
    if dtype == "float64":
        need_float64(device)
    tol = 1e-10 if dtype == "float64" else 2e-4
    for xs, ws, stride, padding, dilation, groups in CASES[:5]:
        x = RNG.standard_normal(xs).astype(dtype)
        w = RNG.standard_normal(ws).astype(dtype)
        b = RNG.standard_normal(ws[0]).astype(dtype)
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        ty = torch.nn.functional.conv2d(tx, tw, tb, stride, padding, dilation, groups)
        g = RNG.standard_normal(tuple(ty.shape)).astype(dtype)
        ty.backward(torch.tensor(g))
        vx, vw, vb = (vecgrad.tensor(a, device=device, requires_grad=True) for a in (x, w, b))
        vy = F.conv2d(vx, vw, vb, stride, padding, dilation, groups)
        vy.backward(vecgrad.tensor(g, device=device))
        for have, want in ((vy, ty), (vx.grad, tx.grad), (vw.grad, tw.grad),
                           (vb.grad, tb.grad)):
            want = want.detach().numpy()
            np.testing.assert_allclose(have.numpy(), want, rtol=tol,
                                       atol=tol * max(1.0, float(np.abs(want).max())))
    # conv1d with 'same' padding and an even kernel (the extra element goes after)
    x = RNG.standard_normal((3, 4, 10)).astype(dtype)
    w = RNG.standard_normal((5, 4, 4)).astype(dtype)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ty = torch.nn.functional.conv1d(tx, tw, padding="same")
    ty.sum().backward()
    vx = vecgrad.tensor(x, device=device, requires_grad=True)
    vw = vecgrad.tensor(w, device=device, requires_grad=True)
    vy = F.conv1d(vx, vw, padding="same")
    vy.sum().backward()
    for have, want in ((vy, ty), (vx.grad, tx.grad), (vw.grad, tw.grad)):
        np.testing.assert_allclose(have.numpy(), want.detach().numpy(), rtol=tol, atol=tol * 10)


# ------------------------------------------- patch columns kept from forward to backward
@pytest.mark.parametrize("threads, chunk_bytes", [(1, 1 << 30), (2, 1 << 30), (3, 1 << 30),
                                                  (2, 64)])
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}w{c[1]}g{c[5]}" for c in CASES])
def test_kept_columns_give_the_same_bits_and_are_let_go(monkeypatch, case, threads,
                                                        chunk_bytes):
    """conv2d leaves its patch columns for the weight gradient only when each thread
    gathered one chunk; used or not, the gradients are those of a run without them (the
    same bits where the weight gradient is cut into the same chunks: with the input
    gradient beside it on its own thread it is one chunk when recomputed, so the sums
    are grouped differently), and the backward takes them out of the dict."""
    monkeypatch.setattr(numpy_conv, "CHUNK_BYTES", chunk_bytes)
    x, w, b, g = _data(case, np.float32)
    args = case[2:]
    runner = numpy_conv.ConvRunner(threads=threads)
    for needs in ((True, True, True), (False, True, True), (False, True)):
        plain = [runner.conv2d(x, w, b, *args), *runner.conv2d_grads(x, w, g, *args, needs)]
        keep = {}
        out = runner.conv2d(x, w, b, *args, keep)
        geo = numpy_conv._Geometry(x.shape, w.shape, *args, x.dtype.itemsize)
        geo.cut(threads)
        one_chunk_each = len(geo.chunks) == min(threads, len(geo.chunks))
        assert (numpy_conv.KEPT in keep) == one_chunk_each
        got = runner.conv2d_grads(x, w, g, *args, needs, keep)
        assert keep == {}
        np.testing.assert_array_equal(out, plain[0])
        for have, want, asked in zip(got, plain[1:], needs):
            if not asked:
                continue
            if needs[0] and threads > 1:
                np.testing.assert_allclose(have, want, rtol=1e-5,
                                           atol=1e-5 * np.abs(want).max())
            else:
                np.testing.assert_array_equal(have, want)


def test_kept_columns_of_another_convolution_are_not_used():
    """The dict travels with its own forward (conv.Conv2d's context); should columns of a
    convolution of other shapes reach a weight gradient, the key refuses them."""
    x, w, b, g = _data(CASES[0], np.float64)
    x2, w2, b2, g2 = _data(CASES[3], np.float64)
    runner = numpy_conv.ConvRunner(threads=1)
    keep = {}
    runner.conv2d(x, w, b, *CASES[0][2:], keep)
    assert numpy_conv.KEPT in keep
    got = runner.conv2d_weight_grad(x2, g2, w2.shape, *CASES[3][2:], keep=keep)
    np.testing.assert_array_equal(got, runner.conv2d_weight_grad(x2, g2, w2.shape,
                                                                 *CASES[3][2:]))
    assert keep == {}


def test_autograd_keeps_columns_only_for_a_weight_gradient_and_lets_them_go(monkeypatch):
    import vecgrad
    import vecgrad.nn.functional as F

    seen = []
    conv2d = numpy_conv.ConvRunner.conv2d

    def spy(self, *a):
        seen.append(a[-1] if len(a) == 8 else None)
        return conv2d(self, *a)

    monkeypatch.setattr(numpy_conv.ConvRunner, "conv2d", spy)
    x, w, b, g = _data(CASES[5], np.float64)
    tx, tw, tb = vecgrad.tensor(x), vecgrad.tensor(w, requires_grad=True), vecgrad.tensor(b)
    with vecgrad.no_grad():
        F.conv2d(tx, tw, tb)
    F.conv2d(tx, vecgrad.tensor(w), tb)  # nothing needs a weight gradient
    assert seen == [None, None]
    y = F.conv2d(tx, tw, tb, padding=2)
    assert seen[-1] is not None and numpy_conv.KEPT in seen[-1]
    y.backward(vecgrad.tensor(g), retain_graph=True)
    assert seen[-1] == {}  # let go by the backward
    first = tw.grad.numpy().copy()
    tw.grad = None
    y.backward(vecgrad.tensor(g))  # a retained graph's second backward gathers again
    np.testing.assert_array_equal(tw.grad.numpy(), first)
