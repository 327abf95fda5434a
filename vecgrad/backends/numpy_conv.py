"""The numpy backend's three convolution primitives: patches + GEMM a block at a time.

A convolution is a matrix product with the patch matrix (im2col). Each primitive walks
the output positions in blocks ("chunks": whole output rows, or pieces of one row), copies
the chunk's patches out of a strided view of the input (one copy per chunk, no loop over
pixels) into a scratch buffer, and multiplies.

Shared patch rows (no dilation in height, a row stride under the kernel's height: nearly
every convolution with KH > 1). Output rows y and y + 1 then read overlapping input rows,
so the patches are gathered once per INPUT row, its (Cg, KW) windows, and output row y's
(K, OW*N) patch matrix is a view of KH consecutive patch rows (K ordered (KH, Cg, KW)):
the gathered patches are about KH times smaller than the patch matrix. Then

- conv2d:             out[:, y] = W @ patches(y) (+ bias), one product per output row;
- conv2d_weight_grad: dW += grad[:, y] @ patches(y).T, summed over the rows;
- conv2d_input_grad:  the same trick on the gradient: input row r's patch-row gradient
                      is one product of the stacked filters with M consecutive gradient
                      rows (see _input_grad_shared), then KW strided adds into dX.

Otherwise (dilated rows, strides of the kernel's height or more, 1-D convolutions) a
chunk's patch columns are gathered whole and each primitive is one product per chunk;
the input gradient is dcols = W.T @ grad[:, chunk] and KH*KW strided adds into dX
(col2im of the chunk; no scatter, no np.add.at).

Layout (as im2col/col2im in numpy_backend): images are kept channels-first and
batch-innermost in memory, (C, H, W, N), seen as NCHW; a chunk of output positions is
then a block of whole rows (or part of one row) times the batch, so every copy moves runs
of N or W*N contiguous floats and the output chunk is a plain 2-D slice of (O, OH*OW*N):
no transposed copy of the output. A gradient that arrives NCHW in memory (from the user,
not from a layer above) is copied into this order once.

Threads: numpy's copies, ufuncs and BLAS calls release the GIL, so the chunks are shared
out among as many threads as the BLAS policy (blas_threads) would give one product of
the whole convolution's size: the free cores on a quiet machine, one on a busy one or
for a small product. BLAS is held to one thread throughout (each product is chunk-sized,
and OpenBLAS's own second thread measured slower here even when the convolution runs on
one: its worker spins on the other core while this one gathers and scatters; see
_threads). Each thread accumulates into its own dW / dX and the parts are summed.
Chunks exist for the threads and to bound the scratch memory; cutting them to the L2
cache's size was tried and measured slower (see CHUNK_BYTES).

Measured on the bench's conv2d (32 x 3 x 32 x 32, 16 filters 5x5, float32, two threads,
`vecgrad bench --workloads conv2d,conv2d_nodx`, 2026-12-03 18:13-18:24 UTC): forward and
backward with dX 4.0-4.6 ms against 6.3-6.8 ms with the whole patch matrix, PyTorch
3.9-4.9 ms in the same runs.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from vecgrad.backends import blas_threads

# Key of the patch columns conv2d leaves in its `keep` dict for the weight gradient. They
# are kept only when every thread gathered exactly one chunk: its scratch then holds all
# of that chunk's columns, so keeping them costs the forward nothing and holds at most
# (threads x CHUNK_BYTES) until the backward lets them go. The weight gradient then
# skips its copy of x and its gather: conv2d bench without dX, two threads, 0.35 ms of
# a 2.8-3.3 ms step (timeline of one process, 2026-12-03 16:30 UTC). Keeping the whole
# patch matrix whatever the chunks (a fresh buffer per chunk) measured no gain (forward
# +0.47 ms, weight gradient -0.36 ms, 13:40 UTC).
KEPT = "columns"
# The most patch-matrix bytes of one chunk (each thread's scratch holds one chunk).
# Smaller, cache-sized chunks measured slower here: the products lose more to their
# per-call packing and the col2im adds to their count than they gain from the cache
# (bench conv2d step, one thread, load ~3.5: 256 KiB chunks 12.3 ms, 1 MiB 7.8 ms,
# 4 MiB 6.3 ms; the old whole-patch-matrix path 8.0 ms).
CHUNK_BYTES = 4 * 1024 * 1024
# Fewer multiply-adds than this in the whole convolution: one thread. Measured on the
# 2-vCPU machine, quiet (vecgrad bench --quick, auto vs VECGRAD_BLAS_THREADS=1, two runs
# each, 2026-12-03 12:52 UTC): LeNet-5 (convolutions of 7.5M and 15M multiply-adds) took
# 11.3-12.1 ms a step split over two threads and 10.1-10.6 on one, the 1-D CNN (12.5M)
# 9.1-9.6 against 6.6-8.7, while the 30M conv2d workload gained from two (6.8-7.2 ms
# against 8.2-9.7). Below ~16M the split's hand-offs and shared caches cost more than
# the second core gives.
THREAD_MACS = 1 << 24
# Fewer multiply-adds than this in a convolution: its two gradients run one after the
# other, not side by side (see conv2d_grads). Side by side, the 1-D CNN's layers (12.5M)
# and LeNet-5's second (15M) took a third more CPU for no measurable gain in the whole
# step (SCHED_FIFO runs, policy told the machine was quiet, 13:55 UTC: 1-D CNN 6.07-6.63
# ms a step before, 6.07-6.37 after; LeNet-5 7.5-10.3 against 7.2-11.5), though one such
# layer's gradients alone went from 1.48-1.52 to 1.02-1.17 ms.
SIDE_BY_SIDE_MACS = THREAD_MACS
# Images this far apart in memory (a multiple of 4 KiB) share L1 cache sets, so a plain
# transposed copy of x, which reads one float of each image in turn, keeps evicting its
# own lines: x (32, 3, 32, 32) took 0.21 ms that way and 0.08 ms copied eight images at
# a time (one thread's CPU time, 2026-12-03 13:27 UTC, load 2.7); unaliased strides, say
# (32, 16, 28, 28) or (64, 6, 14, 14), were fastest in one copy.
_ALIASED_STRIDE = 4096
_IMAGES_AT_A_TIME = 8


def output_hw(in_hw, kernel_size, stride, padding, dilation):
    """(OH, OW) of a sliding window (PyTorch's formula for conv2d)."""
    return tuple((in_hw[i] + 2 * padding[i] - dilation[i] * (kernel_size[i] - 1) - 1)
                 // stride[i] + 1 for i in range(2))


def padded_frame(x, padding):
    """x (N, C, H, W) as a contiguous (C, H + 2*PH, W + 2*PW, N) array with zero padding:
    one copy (none when x is already such a view and needs no padding)."""
    n, c, h, w = x.shape
    ph, pw = padding
    if ph == 0 and pw == 0:
        if x.transpose(1, 2, 3, 0).flags.c_contiguous:
            return x.transpose(1, 2, 3, 0)
        frame = np.empty((c, h, w, n), dtype=x.dtype)
    else:
        frame = np.zeros((c, h + 2 * ph, w + 2 * pw, n), dtype=x.dtype)
    target = frame[:, ph:ph + h, pw:pw + w, :]
    if n > _IMAGES_AT_A_TIME and x.strides[0] % _ALIASED_STRIDE == 0:
        for first in range(0, n, _IMAGES_AT_A_TIME):
            last = min(first + _IMAGES_AT_A_TIME, n)
            np.copyto(target[..., first:last], x[first:last].transpose(1, 2, 3, 0))
    else:
        np.copyto(target, x.transpose(1, 2, 3, 0))
    return frame


class _Geometry:
    """Sizes of one convolution, the chunks its output positions are cut into, and the
    patch layout its products read.

    Patch rows. With no dilation in height and a stride below the kernel's height,
    neighbouring output rows read overlapping input rows. The patches are then gathered
    once per INPUT row, (C, KW) windows of it, and output row y's patch matrix is KH
    consecutive patch rows: a strided view, no copy. The K axis is ordered (KH, Cg, KW)
    so that this view is a plain matrix for BLAS. Each output row is then one product of
    the filters with its (K, OW*N) view (a batched matmul over the chunk's rows). For
    the bench's conv2d (3 -> 16 channels, 5x5, 32 x 32 images, float32) the patches are
    1.7 MB instead of the 7.5 MB patch matrix, and one thread's forward took 1.44 ms
    instead of 1.87 (thread CPU time, the two versions alternating in one process,
    2026-12-03 18:31 UTC). Otherwise (dilated rows, strides of the kernel's height or
    more, one-row kernels) a chunk gathers its whole patch matrix and is one product.
    """

    def __init__(self, input_shape, weight_shape, stride, padding, dilation, groups,
                 itemsize):
        self.n, self.c, self.h, self.w = input_shape
        self.o, self.cg, self.kh, self.kw = weight_shape
        self.groups = groups
        self.og = self.o // groups
        self.cgkk = self.cg * self.kh * self.kw
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.oh, self.ow = output_hw((self.h, self.w), (self.kh, self.kw), stride, padding,
                                     dilation)
        self.macs = self.o * self.cgkk * self.oh * self.ow * self.n
        self.shared_rows = dilation[0] == 1 and stride[0] < self.kh
        self._position_bytes = max(1, self.c * self.kh * self.kw * self.n * itemsize)
        self.chunks = [(0, self.oh, 0, self.ow)]

    def key(self, dtype):
        """What must match for one convolution's patch columns to serve another."""
        return ((self.n, self.c, self.h, self.w), (self.o, self.cg, self.kh, self.kw),
                self.stride, self.padding, self.dilation, self.groups, np.dtype(dtype))

    def cut(self, threads):
        """Cut the output positions into at least `threads` chunks of at most CHUNK_BYTES
        of patch matrix each (as far as one position allows): whole rows when a chunk
        holds a row, else pieces of one row."""
        total = self.oh * self.ow
        count = max(threads, -(-total * self._position_bytes // CHUNK_BYTES))
        positions = max(1, -(-total // count))
        if positions >= self.ow:
            rows = positions // self.ow
            self.chunks = [(r, min(r + rows, self.oh), 0, self.ow)
                           for r in range(0, self.oh, rows)]
        else:
            self.chunks = [(r, r + 1, c, min(c + positions, self.ow))
                           for r in range(self.oh) for c in range(0, self.ow, positions)]

    # ------------------------------------------------------------ weights in K order
    def filters(self, weight):
        """weight (O, Cg, KH, KW) as (G, 1, O/G, K) with K ordered (KH, Cg, KW)."""
        w = weight.reshape(self.groups, self.og, self.cg, self.kh, self.kw)
        w = w.transpose(0, 1, 3, 2, 4).reshape(self.groups, self.og, self.cgkk)
        return w[:, None]

    def weight_of(self, matrix, weight_shape):
        """A (G, O/G, K) matrix in K order back as weight_shape."""
        w = matrix.reshape(self.groups, self.og, self.kh, self.cg, self.kw)
        return np.ascontiguousarray(w.transpose(0, 1, 3, 2, 4)).reshape(weight_shape)

    # ------------------------------------------------------------- chunks' patches
    def windows(self, frame):
        """Every window of the padded frame (C-contiguous, as padded_frame gives it) as a
        read-only view: (G, input rows, Cg, KW, OW, N) with shared patch rows, else
        (G, KH, Cg, KW, OH, OW, N). Made with the ndarray constructor over the frame's
        buffer: as_strided took 14 us a call, a tenth of a small convolution's Python."""
        sc, sh, sw, sn = frame.strides
        (th, tw), (dh, dw) = self.stride, self.dilation
        g, cg, kw = self.groups, self.cg, self.kw
        if self.shared_rows:
            shape = (g, frame.shape[1], cg, kw, self.ow, self.n)
            strides = (cg * sc, sh, sc, sw * dw, sw * tw, sn)
        else:
            shape = (g, self.kh, cg, kw, self.oh, self.ow, self.n)
            strides = (cg * sc, sh * dh, sc, sw * dw, sh * th, sw * tw, sn)
        view = np.ndarray(shape, dtype=frame.dtype, buffer=frame, strides=strides)
        view.flags.writeable = False
        return view

    def batches(self, chunk):
        """(B, Q): a chunk's products are B matrix products of Q columns each: one per
        output row with shared patch rows, else one for the whole chunk."""
        r0, r1, c0, c1 = chunk
        if self.shared_rows:
            return r1 - r0, (c1 - c0) * self.n
        return 1, (r1 - r0) * (c1 - c0) * self.n

    def patch_rows(self, chunk):
        """(first, count) of the input rows a chunk's shared patch rows cover."""
        r0, r1 = chunk[:2]
        return r0 * self.stride[0], (r1 - r0 - 1) * self.stride[0] + self.kh

    def gathered(self, windows, chunk, scratch):
        """The chunk's patches copied into scratch, returned as its (G, B, K, Q) patch
        matrices (with shared patch rows a strided view over them)."""
        r0, r1, c0, c1 = chunk
        g, k, n, width = self.groups, self.cgkk, self.n, c1 - c0
        if self.shared_rows:
            first, count = self.patch_rows(chunk)
            row = self.cg * self.kw * width * n
            patches = scratch[:g * count * row]
            np.copyto(patches.reshape(g, count, self.cg, self.kw, width, n),
                      windows[:, first:first + count, :, :, c0:c1, :])
            size = patches.itemsize
            return np.ndarray((g, r1 - r0, k, width * n), dtype=patches.dtype,
                              buffer=patches,
                              strides=(count * row * size, self.stride[0] * row * size,
                                       width * n * size, size))
        positions = (r1 - r0) * width * n
        cols = scratch[:g * k * positions]
        np.copyto(cols.reshape(g, self.kh, self.cg, self.kw, r1 - r0, width, n),
                  windows[..., r0:r1, c0:c1, :])
        return cols.reshape(g, 1, k, positions)

    def block(self, array5, chunk):
        """A (G, O/G, OH, OW, N) array's chunk as (G, B, O/G, Q) (see batches): a view
        when the array is laid out (G, O/G, OH, OW, N) in memory, else None."""
        r0, r1, c0, c1 = chunk
        part = array5[:, :, r0:r1, c0:c1, :]
        b, q = self.batches(chunk)
        # The positions merged into Q must be one run of memory: N innermost, then the
        # chunk's columns, then (merged only without shared rows) its rows.
        size = part.itemsize
        rows, width, n = part.shape[2:]
        step_r, step_w, step_n = part.strides[2:]
        if part.size and ((n > 1 and step_n != size) or (width > 1 and step_w != n * size)
                          or (b == 1 and rows > 1 and step_r != width * n * size)):
            return None
        return part.reshape(part.shape[:2] + (b, q)).transpose(0, 2, 1, 3)

    def copied_block(self, array5, chunk, scratch):
        """The chunk's (G, B, O/G, Q) block: the view when there is one, else a copy into
        scratch (a gradient that arrives NCHW in memory)."""
        view = self.block(array5, chunk)
        if view is not None:
            return view
        r0, r1, c0, c1 = chunk
        b, q = self.batches(chunk)
        g, og = self.groups, self.og
        copy = scratch[:g * b * og * q].reshape(g, b, og, q)
        part = array5[:, :, r0:r1, c0:c1, :]
        if self.shared_rows:  # (G, og, B rows, W, N) -> (G, B, og, W, N)
            np.copyto(copy.reshape(g, b, og, c1 - c0, self.n), part.transpose(0, 2, 1, 3, 4))
        else:
            np.copyto(copy.reshape(g, 1, og, r1 - r0, c1 - c0, self.n), part[:, None])
        return copy

    # ---------------------------------------------- the gradient's rows, for shared rows
    def _row_taps(self):
        """M: the most kernel rows that meet one input row (ceil(KH / TH))."""
        return -(-self.kh // self.stride[0])

    def grad_rows(self, grad):
        """grad (N, O, OH, OW) copied as (G, lead + rows, O/G, OW*N), the output rows
        between M - 1 zero rows in front and zero rows behind, so that any M consecutive
        rows are one (M*O/G, OW*N) matrix (see the input gradient with shared rows).
        The weight gradient reads its rows from the same copy."""
        g, og, n, lead = self.groups, self.og, self.n, self._row_taps() - 1
        frame_rows = self.h + 2 * self.padding[0]
        rows = lead + max(self.oh, -(-frame_rows // self.stride[0]))
        out = np.empty((g, rows, og, self.ow * n), dtype=grad.dtype)
        out[:, :lead] = 0
        out[:, lead + self.oh:] = 0
        np.copyto(out[:, lead:lead + self.oh].reshape(g, self.oh, og, self.ow, n),
                  self.grad5(grad).transpose(0, 2, 1, 3, 4))
        return out

    def grad5(self, grad):
        """grad (N, O, OH, OW) as the (G, O/G, OH, OW, N) view the blocks are cut from
        (splitting O into groups never copies)."""
        return grad.transpose(1, 2, 3, 0).reshape(self.groups, self.og, self.oh, self.ow,
                                                  self.n)

    def frame_columns(self, c0, width, j):
        """The padded input columns that kernel column j of output columns c0 ..
        c0 + width - 1 adds into (col2im along the width)."""
        tw = self.stride[1]
        left = c0 * tw + j * self.dilation[1]
        return slice(left, left + (width - 1) * tw + 1, tw)

    def rows_block(self, rows, chunk):
        """The chunk's (G, B, O/G, Q) block of grad_rows' copy (shared rows only)."""
        r0, r1, c0, c1 = chunk
        lead = self._row_taps() - 1
        return rows[:, lead + r0:lead + r1, :, c0 * self.n:c1 * self.n]

    def cut_bands(self, threads):
        """Cut the input gradient with shared rows into at least `threads` chunks of
        (first, last) padded input rows and (c0, c1) output columns, at most CHUNK_BYTES
        of per-row sums each (pieces of one row when a row holds more)."""
        rows = self.h + 2 * self.padding[0]
        row_bytes = max(1, self._position_bytes // self.kh * self.ow)  # C*KW*OW*N floats
        if row_bytes <= CHUNK_BYTES:
            count = max(threads, -(-rows * row_bytes // CHUNK_BYTES))
            per = max(1, -(-rows // count))
            self.chunks = [(r, min(r + per, rows), 0, self.ow) for r in range(0, rows, per)]
            return
        width = max(1, -(-self.ow // -(-row_bytes // CHUNK_BYTES)))
        self.chunks = [(r, r + 1, c, min(c + width, self.ow))
                       for r in range(rows) for c in range(0, self.ow, width)]

    def scratch(self, dtype, rows):
        """A flat buffer for the largest chunk of a (G, rows, positions*N) block."""
        longest = max((r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in self.chunks)
        return np.empty(self.groups * rows * longest * self.n, dtype=dtype)


class ConvRunner:
    """The three primitives, with the worker threads they share (one per backend)."""

    def __init__(self, threads: int | None = None):
        self.threads = threads  # a fixed thread count (tests), else the policy's
        self._pool = None
        self._pool_size = 0
        self._pool_pid = None

    # ------------------------------------------------------------------ threads
    def _wanted(self, macs, threshold):
        """Threads for work of `macs` multiply-adds: the fixed count, else the BLAS
        policy's answer for a product that size (the free cores when auto and at least
        `threshold`; 1 otherwise)."""
        if self.threads is not None:
            return self.threads
        policy = blas_threads.policy()
        wanted = policy.wanted(macs) if macs >= threshold else None
        return wanted if wanted is not None and policy.policy == "auto" else 1

    def _threads(self, geometry, threads, cut):
        """How many threads share this convolution (see the module docstring); cuts its
        chunks with `cut(threads)` (geometry.cut or cut_bands; None keeps the chunks that
        kept patches fixed) and sets BLAS for them. `threads`: a count the caller fixed
        (each side of conv2d_grads), which asks the policy nothing and leaves BLAS as it
        is."""
        if threads is not None:
            if cut is not None:
                cut(threads)
            return max(1, min(threads, len(geometry.chunks)))
        threads = self._wanted(geometry.macs, THREAD_MACS)
        if cut is not None:
            cut(threads)
        threads = max(1, min(threads, len(geometry.chunks)))
        counts = blas_threads.policy().conv_chosen
        counts[threads] = counts.get(threads, 0) + 1
        # BLAS on one thread (the policy's answer for a product just over OpenBLAS's own
        # threshold; VECGRAD_BLAS_THREADS=N still gets N), also when the convolution
        # runs on one thread. One conv thread with two BLAS threads was the slowest
        # setting on the 2-vCPU machine (each engine alone in its process, the other
        # processes held off with SCHED_FIFO, BLAS policy told the machine was quiet,
        # 2026-12-03 13:46 UTC): step ms with BLAS sized per product / held to one:
        # 1-D CNN 6.05-6.11 / 5.91-6.01, conv1d 6.35-6.47 / 6.17-6.31, LeNet-5 7.43-8.01
        # / 7.58-7.63, with twice the CPU time (12-16 ms a step against 6-8: the
        # OpenBLAS worker spinning between products).
        blas_threads.fit(blas_threads.LIBRARY_SINGLE_MACS + 1)
        return threads

    def _run(self, parts):
        """Call each zero-argument function, the first here and the rest on workers."""
        if len(parts) == 1:
            return [parts[0]()]
        if self._pool is not None and self._pool_pid != os.getpid():
            self._pool = None  # a forked child: the parent's worker threads are not here
        if self._pool is None or self._pool_size < len(parts) - 1:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
            self._pool_pid = os.getpid()
            self._pool_size = max(len(parts) - 1, (os.cpu_count() or 2) - 1)
            self._pool = ThreadPoolExecutor(self._pool_size,
                                            thread_name_prefix="vecgrad-conv")
        futures = [self._pool.submit(part) for part in parts[1:]]
        try:
            first = parts[0]()
        finally:  # wait for the workers even when this part failed
            rest = [future.result() for future in futures]
        return [first] + rest

    def _over_chunks(self, geometry, part, threads, cut):
        """part(chunks) for each thread's run of the geometry's chunks, cut by `cut` (see
        _threads); results in order."""
        threads = self._threads(geometry, threads, cut)
        return self._run([lambda run=run: part(run)
                          for run in self._split(geometry.chunks, threads)])

    @staticmethod
    def _summed(arrays):
        """The threads' partial sums added into the first."""
        total = arrays[0]
        for other in arrays[1:]:
            np.add(total, other, out=total)
        return total

    @staticmethod
    def _split(chunks, threads):
        """The chunks in `threads` contiguous runs of nearly equal length."""
        bounds = [round(len(chunks) * i / threads) for i in range(threads + 1)]
        return [chunks[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    # --------------------------------------------------------------- primitives
    def conv2d(self, x, weight, bias, stride, padding, dilation, groups, keep=None):
        """conv2d; `keep`: a dict (conv.Conv2d's, when the weight gradient will be
        asked for) that receives the patches when each thread gathered exactly one
        chunk, so conv2d_weight_grad can use them instead of copying x and gathering
        again (see KEPT)."""
        geo = _Geometry(x.shape, weight.shape, stride, padding, dilation, groups,
                        x.dtype.itemsize)
        windows = geo.windows(padded_frame(x, padding))
        filters = geo.filters(weight)
        shift = None if bias is None else bias.reshape(groups, 1, geo.og, 1)
        out = np.empty((geo.o, geo.oh, geo.ow, geo.n), dtype=x.dtype)
        out5 = out.reshape(groups, geo.og, geo.oh, geo.ow, geo.n)

        def part(chunks):
            scratch = geo.scratch(x.dtype, geo.cgkk)
            patches = None
            for chunk in chunks:
                patches = geo.gathered(windows, chunk, scratch)
                target = geo.block(out5, chunk)  # (out is laid out so: always a view)
                np.matmul(filters, patches, out=target)
                if shift is not None:
                    np.add(target, shift, out=target)
            return patches  # the last chunk's (all of them when it had one chunk)

        kept = self._over_chunks(geo, part, None, geo.cut)
        if keep is not None and len(kept) == len(geo.chunks):
            keep[KEPT] = (geo.key(x.dtype), geo.chunks, kept)
        return out.transpose(3, 0, 1, 2)  # NCHW view of (O, OH, OW, N), as col2im returns

    def conv2d_grads(self, x, weight, grad, stride, padding, dilation, groups, needs,
                     keep=None):
        """The gradients of conv2d(x, weight[, bias]) at grad, one per entry of needs =
        (input, weight[, bias]), None where it does not ask. The bias gradient (grad
        summed over N, OH, OW) is summed from the gradient blocks the weight gradient's
        products read anyway, on their threads (a serial 0.09-0.13 ms pass over grad on
        the conv2d bench, otherwise). With input and weight both asked for and the cores
        to spare, the two run side by side, one thread each, instead of one after the
        other split over the threads: each on its own core beats both halved, one split
        and its hand-off fewer (conv2d bench shapes: 2.62 ms against 3.13 split and 4.07
        on one thread; a 1-D CNN layer 0.78 against 1.22 split and 1.11 on one; SCHED_FIFO
        runs, 2026-12-03 13:50 UTC; with shared patch rows, the whole conv2d bench step
        5.2-5.7 ms side by side, 6.5-8.5 one after the other split, 6.8-7.3 on one thread,
        separate processes, about 18:16 UTC). Side by side, each side copies what it
        needs of a gradient that arrives NCHW; one after the other, the rows are copied
        once for both."""
        args = (stride, padding, dilation, groups)
        input_needed, weight_needed = needs[0], needs[1]
        bias_needed = len(needs) > 2 and bool(needs[2])

        def weight_side(threads=None, rows=None):  # (dw or None, db or None)
            if weight_needed:
                got = self.conv2d_weight_grad(x, grad, weight.shape, *args, threads=threads,
                                              bias=bias_needed, keep=keep, rows=rows)
                return got if bias_needed else (got, None)
            return None, np.add.reduce(grad, axis=(0, 2, 3)) if bias_needed else None

        dx = rows = None
        if input_needed and weight_needed:
            geo = _Geometry(x.shape, weight.shape, stride, padding, dilation, groups,
                            x.dtype.itemsize)
            if self._wanted(2 * geo.macs, 2 * SIDE_BY_SIDE_MACS) > 1:
                blas_threads.fit(blas_threads.LIBRARY_SINGLE_MACS + 1)  # one BLAS thread
                dx, (dw, db) = self._run([
                    lambda: self.conv2d_input_grad(grad, weight, x.shape, *args, threads=1),
                    lambda: weight_side(threads=1)])
                return (dx, dw, db)[:len(needs)]
            if geo.shared_rows:  # both read the gradient's rows from one copy
                rows = geo.grad_rows(grad)
        if input_needed:
            dx = self.conv2d_input_grad(grad, weight, x.shape, *args, rows=rows)
        dw, db = weight_side(rows=rows)
        return (dx, dw, db)[:len(needs)]

    def conv2d_weight_grad(self, x, grad, weight_shape, stride, padding, dilation, groups,
                           threads=None, bias=False, keep=None, rows=None):
        """dL/dweight; with bias=True, (dL/dweight, dL/dbias), the bias gradient summed
        from the same gradient blocks the products read. `keep`: the dict conv2d filled;
        its patches are used (and let go) when they are this convolution's. `rows`:
        grad_rows' copy of grad when the caller made one (shared patch rows only)."""
        geo = _Geometry(x.shape, weight_shape, stride, padding, dilation, groups,
                        x.dtype.itemsize)
        kept = keep.pop(KEPT, None) if keep else None
        if not geo.shared_rows:
            rows = None  # (grad_rows' layout serves shared patch rows only)
        patches = windows = None  # chunk -> its kept patches; else the windows to gather
        if kept is not None and kept[0] == geo.key(x.dtype):
            geo.chunks = kept[1]
            patches = dict(zip(kept[1], kept[2]))
        else:
            windows = geo.windows(padded_frame(x, padding))
        grad5 = geo.grad5(grad)

        def part(chunks):
            scratch = geo.scratch(x.dtype, geo.cgkk) if patches is None else None
            rows_scratch = geo.scratch(x.dtype, geo.og) if rows is None else None
            total = shift = None
            for chunk in chunks:
                cols = (geo.gathered(windows, chunk, scratch) if patches is None
                        else patches[chunk])
                block = (geo.copied_block(grad5, chunk, rows_scratch) if rows is None
                         else geo.rows_block(rows, chunk))  # (G, B, O/G, Q)
                # one (O/G, K) product per batch entry (output row), summed
                products = np.matmul(block, cols.transpose(0, 1, 3, 2))
                product = np.add.reduce(products, axis=1)
                if total is None:
                    total = product
                else:
                    np.add(total, product, out=total)
                if bias:
                    sums = np.add.reduce(block, axis=(1, 3))
                    shift = sums if shift is None else np.add(shift, sums, out=shift)
            return total, shift

        parts = self._over_chunks(geo, part, threads, geo.cut if patches is None else None)
        dw = geo.weight_of(self._summed([total for total, _ in parts]), weight_shape)
        if not bias:
            return dw
        return dw, self._summed([shift for _, shift in parts]).reshape(geo.o)

    def conv2d_input_grad(self, grad, weight, input_shape, stride, padding, dilation,
                          groups, threads=None, rows=None):
        """dL/dx; `rows`: grad_rows' copy of grad when the caller made one (shared
        patch rows only)."""
        geo = _Geometry(input_shape, weight.shape, stride, padding, dilation, groups,
                        grad.dtype.itemsize)
        if geo.shared_rows:
            frame = self._input_grad_shared(geo, grad, weight, threads, rows)
        else:
            frame = self._input_grad_cols(geo, grad, weight, threads)
        h, w = input_shape[2:]
        ph, pw = padding
        # An (N, C, H, W) view of the (C, H, W, N) sums, like col2im's.
        return frame[:, ph:ph + h, pw:pw + w, :].transpose(3, 0, 1, 2)

    def _frame_parts(self, geo, dtype, part, threads, cut):
        """part(chunks, frame5) for each thread's run of geo's chunks (cut by `cut`), each
        thread into a zeroed (C, H + 2*PH, W + 2*PW, N) frame of its own; the frames
        summed."""
        shape = (geo.c, geo.h + 2 * geo.padding[0], geo.w + 2 * geo.padding[1], geo.n)

        def run(chunks):
            frame = np.zeros(shape, dtype=dtype)
            part(chunks, frame.reshape(geo.groups, geo.cg, *shape[1:]))
            return frame

        return self._summed(self._over_chunks(geo, run, threads, cut))

    def _input_grad_shared(self, geo, grad, weight, threads, rows):
        """The input gradient with shared patch rows, one input row at a time and no
        patch matrix. Input row r's patch-row gradient (its (Cg*KW, OW*N) sums) is
        sum over ky of W_ky^T @ grad row (r - ky) / TH, over the ky that make that an
        output row: ky = rho, rho + TH, ... for rho = r mod TH. With the gradient's rows
        laid out consecutively (grad_rows), those M output rows are one (M*O/G, OW*N)
        matrix, so each input row is ONE product with the filters of its class stacked,
        (Cg*KW, M*O/G): a batched matmul per class over the band's rows, then KW strided
        adds into the frame. The column way writes the whole (K, OH*OW*N) column
        gradient and adds it back KH*KW times: on the conv2d bench 7.5 MB and 25 adds,
        bound by memory traffic (3.76 ms of one thread's CPU time against 2.90 this way,
        the two alternating in one process, 2026-12-03 18:31 UTC)."""
        g, og, cg, kh, kw, n = geo.groups, geo.og, geo.cg, geo.kh, geo.kw, geo.n
        th = geo.stride[0]
        kr, lead = cg * kw, geo._row_taps() - 1
        # The products' rows padded to a multiple of 8 with zero filters: OpenBLAS's
        # small-M kernels ran 15 rows at 33 GFLOP/s and 16 at 44 (float32, one thread,
        # (M x 80) @ (80 x 896), 2026-12-03 18:10 UTC); the extra rows are not read.
        kp = -(-kr // 8) * 8
        if rows is None:
            rows = geo.grad_rows(grad)
        row_step, o_step = rows.strides[1], rows.strides[2]
        # W_ky^T as (G, KH, Cg*KW, O/G); per class rho the taps ky = rho + m*TH stacked
        # in the order of the output rows they meet (the last tap meets the first row).
        wt = weight.reshape(g, og, cg, kh, kw).transpose(0, 3, 2, 4, 1).reshape(g, kh, kr, og)
        classes = []
        for rho in range(th):
            taps = list(range(rho, kh, th))[::-1]
            stacked = np.zeros((g, kp, len(taps), og), dtype=grad.dtype)
            stacked[:, :kr] = wt[:, taps].transpose(0, 2, 1, 3)
            classes.append((rho, len(taps), stacked.reshape(g, 1, kp, len(taps) * og)))

        def part(chunks, frame5):
            scratch = geo.scratch(grad.dtype, kp)  # (the bands are cut by now)
            for first, last, c0, c1 in chunks:
                width = c1 - c0
                q = width * n
                sums = scratch[:g * (last - first) * kp * q].reshape(g, last - first, kp, q)
                for rho, taps, stacked in classes:
                    start = first + (rho - first) % th  # the band's first row of class rho
                    count = len(range(start, last, th))
                    if count == 0:
                        continue
                    t = (start - rho) // th  # its index among the rows of class rho
                    # rows t - taps + 1 .. t of grad (lead zero rows in front: >= 0)
                    grad_view = np.ndarray(
                        (g, count, taps * og, q), dtype=rows.dtype, buffer=rows,
                        offset=(t - taps + 1 + lead) * row_step + c0 * n * rows.itemsize,
                        strides=(rows.strides[0], row_step, o_step, rows.itemsize))
                    np.matmul(stacked, grad_view, out=sums[:, start - first::th])
                # col2im along the width: patch column kx of input row r goes to the
                # frame's columns kx*DW, kx*DW + TW, ...
                patches = sums[:, :, :kr].reshape(g, last - first, cg, kw, width, n).transpose(
                    0, 2, 1, 3, 4, 5)
                for j in range(kw):
                    target = frame5[:, :, first:last, geo.frame_columns(c0, width, j), :]
                    np.add(target, patches[:, :, :, j], out=target)

        return self._frame_parts(geo, grad.dtype, part, threads, geo.cut_bands)

    def _input_grad_cols(self, geo, grad, weight, threads):
        """The input gradient by columns (dilated rows, strides of the kernel's height or
        more, one-row kernels): each chunk's column gradient W^T @ grad, then one
        strided add per kernel offset into the frame (col2im, no scatter)."""
        g, og, cg, kh, kw, n = geo.groups, geo.og, geo.cg, geo.kh, geo.kw, geo.n
        th, dh = geo.stride[0], geo.dilation[0]
        grad5 = geo.grad5(grad)
        filters_t = geo.filters(weight).transpose(0, 1, 3, 2)  # (G, 1, K, O/G)

        def part(chunks, frame5):
            scratch = geo.scratch(grad.dtype, geo.cgkk)
            rows_scratch = geo.scratch(grad.dtype, og)
            for chunk in chunks:
                r0, r1, c0, c1 = chunk
                width = c1 - c0
                block = geo.copied_block(grad5, chunk, rows_scratch)  # (G, 1, O/G, Q)
                positions = (r1 - r0) * width * n
                cols = scratch[:g * geo.cgkk * positions].reshape(g, 1, geo.cgkk, positions)
                np.matmul(filters_t, block, out=cols)
                patches = cols.reshape(g, kh, cg, kw, r1 - r0, width, n)
                for i in range(kh):
                    top = r0 * th + i * dh
                    rows_at = slice(top, top + (r1 - r0 - 1) * th + 1, th)
                    for j in range(kw):
                        target = frame5[:, :, rows_at, geo.frame_columns(c0, width, j), :]
                        np.add(target, patches[:, i, :, j], out=target)

        return self._frame_parts(geo, grad.dtype, part, threads, geo.cut)
