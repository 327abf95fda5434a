// Prepended to every kernel file before it is built.
// The host defines T (element type: float, double, long or uchar for bool), T_IS_FLOAT,
// T_IS_BOOL and HAVE_FP64 (the device has cl_khr_fp64).
#if HAVE_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

// A file the host builds in several variants in one program (opencl_runtime,
// Runtime.variants_program: matmul.cl's tile sizes) declares its kernels VARIANT(name):
// the host defines VARIANT_SUFFIX as _v0, _v1, ... before each copy. Built alone, the
// name is unchanged.
#define VARIANT_CAT_(a, b) a##b
#define VARIANT_CAT(a, b) VARIANT_CAT_(a, b)
#ifndef VARIANT_SUFFIX
#define VARIANT_SUFFIX
#endif
#define VARIANT(name) VARIANT_CAT(name, VARIANT_SUFFIX)

// Shapes and strides travel as int8 vectors (up to 8 dimensions, counted in elements),
// so every kernel reads strided views (permuted, expanded, sliced) without a copy.
//
// Layout variants. The host (opencl_backend.py, _elementwise) first merges the axes
// that every operand walks contiguously and drops size-1 axes (opencl_array.py,
// collapse_dims), then picks the program built with STRIDED_NDIM =
//   1: one axis left: all operands contiguous with the output, or scalars broadcast
//      (stride 0): offset = i * stride, no division. The overwhelmingly common case.
//   2: two axes, rows of >= 32 elements: a row or column broadcast over a matrix (bias
//      add (N, C) + (C,)), a transpose, a strided slice. Launched as a 2-d range
//      (global id 0 = column, 1 = row): offset = row * stride0 + col * stride1.
//   0: anything else (up to 8 axes): a loop over the axes, a division and a remainder
//      per axis.
// PoCL widens its loop over work-items into SIMD code only when the offsets are plain
// scalar arithmetic: the former single loop over private arrays (and int3 offsets)
// made every contiguous elementwise kernel 5-10x slower than this (measured).
#ifndef STRIDED_NDIM
#define STRIDED_NDIM 0
#endif

// Case k of the general case's axis loop: the size and strides of axis k.
#define AXIS_CASE_(k, sa, sb, sc, sd)                                               \
    case k: size_ = shape.s##k; a_ = sa.s##k; b_ = sb.s##k; c_ = sc.s##k;          \
            d_ = sd.s##k; break;

// The prologue of every elementwise kernel: declares `const int off0 .. off3`, the
// element offsets of this work-item's element in up to four strided operands (int8
// stride arguments sa .. sd; repeat one for fewer operands, the compiler drops the
// copies), and returns from work-items past the end. It reads the kernel arguments
// `n` (elements), `ndim` and `shape` that the HEAD of elementwise.cl declares.
#if STRIDED_NDIM == 1
#define ELEMENT_OFFSETS(sa, sb, sc, sd)                                             \
    const int i_ = get_global_id(0);                                                \
    if (i_ >= n) return;                                                            \
    const int off0 = i_ * sa.s0, off1 = i_ * sb.s0;                                 \
    const int off2 = i_ * sc.s0, off3 = i_ * sd.s0;
#elif STRIDED_NDIM == 2
#define ELEMENT_OFFSETS(sa, sb, sc, sd)                                             \
    const int col_ = get_global_id(0), row_ = get_global_id(1);                     \
    if (col_ >= shape.s1 || row_ >= shape.s0) return;                               \
    const int off0 = row_ * sa.s0 + col_ * sa.s1, off1 = row_ * sb.s0 + col_ * sb.s1; \
    const int off2 = row_ * sc.s0 + col_ * sc.s1, off3 = row_ * sd.s0 + col_ * sd.s1;
#else
#define ELEMENT_OFFSETS(sa, sb, sc, sd)                                             \
    const int i_ = get_global_id(0);                                                \
    if (i_ >= n) return;                                                            \
    int off0 = 0, off1 = 0, off2 = 0, off3 = 0;                                     \
    for (int axis_ = ndim - 1, rest_ = i_; axis_ >= 0; --axis_) {                   \
        int size_ = 1, a_ = 0, b_ = 0, c_ = 0, d_ = 0;                              \
        switch (axis_) {                                                            \
            AXIS_CASE_(0, sa, sb, sc, sd) AXIS_CASE_(1, sa, sb, sc, sd)             \
            AXIS_CASE_(2, sa, sb, sc, sd) AXIS_CASE_(3, sa, sb, sc, sd)             \
            AXIS_CASE_(4, sa, sb, sc, sd) AXIS_CASE_(5, sa, sb, sc, sd)             \
            AXIS_CASE_(6, sa, sb, sc, sd) AXIS_CASE_(7, sa, sb, sc, sd)             \
        }                                                                           \
        const int q_ = rest_ % size_;                                               \
        rest_ /= size_;                                                             \
        off0 += q_ * a_;                                                            \
        off1 += q_ * b_;                                                            \
        off2 += q_ * c_;                                                            \
        off3 += q_ * d_;                                                            \
    }
#endif

// x != x holds exactly for nan (no -cl-finite-math-only here). PoCL's isnan() is a
// library call its vectorizer cannot widen: relu with isnan() ran 4x slower, measured.
#if T_IS_FLOAT
#define IS_NAN(x) ((x) != (x))
#define IS_INF(x) (fabs(x) == (T)INFINITY)
#else
#define IS_NAN(x) 0
#endif
