// Prepended to every kernel file before it is built.
// The host defines T (element type: float, double, long or uchar for bool), T_IS_FLOAT,
// T_IS_BOOL and HAVE_FP64 (the device has cl_khr_fp64).
#if HAVE_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

// Shapes and strides travel as int8 vectors (up to 8 dimensions, counted in elements),
// so every kernel reads strided views (permuted, expanded, sliced) without a copy.

// Element offsets of the flat (row-major) position i in up to three strided operands.
inline int3 strided_offsets(int i, const int ndim, const int8 shape, const int8 s0,
                            const int8 s1, const int8 s2)
{
    int sh[8], a[8], b[8], c[8];
    vstore8(shape, 0, sh);
    vstore8(s0, 0, a);
    vstore8(s1, 0, b);
    vstore8(s2, 0, c);
    int3 off = (int3)(0, 0, 0);
    for (int d = ndim - 1; d >= 0; --d) {
        const int q = i % sh[d];
        i /= sh[d];
        off.x += q * a[d];
        off.y += q * b[d];
        off.z += q * c[d];
    }
    return off;
}

inline int strided_offset(int i, const int ndim, const int8 shape, const int8 s0)
{
    int sh[8], a[8];
    vstore8(shape, 0, sh);
    vstore8(s0, 0, a);
    int off = 0;
    for (int d = ndim - 1; d >= 0; --d) {
        off += (i % sh[d]) * a[d];
        i /= sh[d];
    }
    return off;
}

#if T_IS_FLOAT
#define IS_NAN(x) isnan(x)
#else
#define IS_NAN(x) 0
#endif
