// Elementwise kernels over arbitrary shapes and strides (broadcasting = stride 0).
// Every kernel takes the flat size n, ndim, the output shape, then (pointer, strides,
// offset) per operand; one work-item per output element. ELEMENT_OFFSETS (common.cl)
// maps the work-item to its element's offsets (off0, off1, ...) for the layout variant
// the host built (contiguous 1-d, 2-d, or general).

#define STRIDED_ARGS(name) const int8 name##_s, const int name##_o
#define HEAD const int n, const int ndim, const int8 shape

// ---------------------------------------------------------------- memory / casts
__kernel void fill(HEAD, __global T* out, STRIDED_ARGS(out), const T value)
{
    ELEMENT_OFFSETS(out_s, out_s, out_s, out_s)
    out[out_o + off0] = value;
}

__kernel void copy(HEAD, __global T* out, STRIDED_ARGS(out),
                   __global const T* x, STRIDED_ARGS(x))
{
    ELEMENT_OFFSETS(out_s, x_s, x_s, x_s)
    out[out_o + off0] = x[x_o + off1];
}

// numpy 'unsafe' casting: float -> int truncates toward zero, anything -> bool is x != 0.
#define CAST_KERNEL(suffix, DST, EXPR)                                              \
__kernel void cast_to_##suffix(HEAD, __global DST* out, STRIDED_ARGS(out),          \
                               __global const T* x, STRIDED_ARGS(x))                \
{                                                                                   \
    ELEMENT_OFFSETS(out_s, x_s, x_s, x_s)                                           \
    const T v = x[x_o + off1];                                                      \
    out[out_o + off0] = EXPR;                                                       \
}
CAST_KERNEL(float32, float, (float)v)
CAST_KERNEL(int64, long, (long)v)
CAST_KERNEL(bool, uchar, (uchar)(v != (T)0))
#if HAVE_FP64
CAST_KERNEL(float64, double, (double)v)
#endif

// ------------------------------------------------------------------------- unary
#define UNARY_KERNEL(name, EXPR)                                                    \
__kernel void unary_##name(HEAD, __global T* out, STRIDED_ARGS(out),                \
                           __global const T* x, STRIDED_ARGS(x))                    \
{                                                                                   \
    ELEMENT_OFFSETS(out_s, x_s, x_s, x_s)                                           \
    const T v = x[x_o + off1];                                                      \
    out[out_o + off0] = EXPR;                                                       \
}

#if !T_IS_BOOL
UNARY_KERNEL(neg, -v)
// abs(-0.0) and sign(-0.0) are +0.0 as in numpy and PyTorch (else 1 / abs(x) is -inf).
#if T_IS_FLOAT
UNARY_KERNEL(abs, fabs(v))
#else
UNARY_KERNEL(abs, (v < (T)0 ? -v : v))
#endif
// sign(nan) = nan and sign(0) = 0 as in numpy (OpenCL's sign() maps nan to 0).
UNARY_KERNEL(sign, (v > (T)0 ? (T)1 : (v < (T)0 ? (T)(-1) : (v == (T)0 ? (T)0 : v))))
#endif
#if T_IS_FLOAT
UNARY_KERNEL(exp, exp(v))
UNARY_KERNEL(log, log(v))
UNARY_KERNEL(sqrt, sqrt(v))
UNARY_KERNEL(sin, sin(v))
UNARY_KERNEL(cos, cos(v))
UNARY_KERNEL(reciprocal, (T)1 / v)
UNARY_KERNEL(log1p, log1p(v))
UNARY_KERNEL(expm1, expm1(v))
UNARY_KERNEL(erf, erf(v))
UNARY_KERNEL(floor, floor(v))
UNARY_KERNEL(ceil, ceil(v))
UNARY_KERNEL(round, rint(v))  // half to even (the default rounding mode), like numpy
UNARY_KERNEL(trunc, trunc(v))
UNARY_KERNEL(exp2, exp2(v))
UNARY_KERNEL(log2, log2(v))
UNARY_KERNEL(log10, log10(v))
#endif

// ------------------------------------------------------------------------ binary
#define BINARY_KERNEL(name, OUT_T, EXPR)                                            \
__kernel void name(HEAD, __global OUT_T* out, STRIDED_ARGS(out),                   \
                   __global const T* a, STRIDED_ARGS(a),                            \
                   __global const T* b, STRIDED_ARGS(b))                            \
{                                                                                   \
    ELEMENT_OFFSETS(out_s, a_s, b_s, b_s)                                           \
    const T x = a[a_o + off1];                                                      \
    const T y = b[b_o + off2];                                                      \
    out[out_o + off0] = EXPR;                                                       \
}

// maximum/minimum propagate nan like numpy (fmax/fmin would drop it).
#if T_IS_BOOL
BINARY_KERNEL(binary_add, T, x | y)
BINARY_KERNEL(binary_mul, T, x & y)
#else
BINARY_KERNEL(binary_add, T, x + y)
BINARY_KERNEL(binary_sub, T, x - y)
BINARY_KERNEL(binary_mul, T, x * y)
#endif
#if !T_IS_BOOL
// y += alpha * x in place (Backend.axpy): alpha * x is rounded before the add, as
// numpy's two passes round it, so no fused multiply-add here.
__kernel void axpy(HEAD, __global T* y, STRIDED_ARGS(y), __global const T* x,
                   STRIDED_ARGS(x), const T alpha)
{
#pragma OPENCL FP_CONTRACT OFF
    ELEMENT_OFFSETS(y_s, x_s, x_s, x_s)
    const T scaled = alpha * x[x_o + off1];
    y[y_o + off0] = y[y_o + off0] + scaled;
}
#endif

BINARY_KERNEL(binary_maximum, T, ((x > y || IS_NAN(x)) ? x : y))
BINARY_KERNEL(binary_minimum, T, ((x < y || IS_NAN(x)) ? x : y))
#if T_IS_FLOAT
BINARY_KERNEL(binary_div, T, x / y)
BINARY_KERNEL(binary_pow, T, pow(x, y))
#elif !T_IS_BOOL
// OpenCL's pow is float-only; exact integer power by squaring (y >= 0 is checked on the host).
inline T int_pow(T x, T y)
{
    T r = 1;
    while (y > 0) {
        if (y & 1) r *= x;
        x *= x;
        y >>= 1;
    }
    return r;
}
BINARY_KERNEL(binary_pow, T, int_pow(x, y))
#endif

// Floor division and the remainder that goes with it (the sign of the divisor), as
// Python, numpy and PyTorch compute them: from fmod, which is exact, so 1 // 0.1 is 9
// (floor(1 / 0.1) would give 10) and x == (x // y) * y + x % y as closely as rounding allows.
#if T_IS_FLOAT
inline T floor_div(T x, T y)
{
    if (y == (T)0) return x / y;  // inf or nan, as numpy
    const T mod = fmod(x, y);
    T div = (x - mod) / y;
    if (mod != (T)0 && ((y < (T)0) != (mod < (T)0))) div -= (T)1;
    if (div == (T)0) return copysign((T)0, x / y);
    T whole = floor(div);
    if (div - whole > (T)0.5) whole += (T)1;  // div is a whole number up to rounding
    return whole;
}
inline T float_remainder(T x, T y)
{
    const T mod = fmod(x, y);  // keeps -0.0 for -0.0 % y, as PyTorch
    return (mod != (T)0 && ((y < (T)0) != (mod < (T)0))) ? mod + y : mod;
}
BINARY_KERNEL(binary_floor_divide, T, floor_div(x, y))
BINARY_KERNEL(binary_remainder, T, float_remainder(x, y))
#elif !T_IS_BOOL
// A zero divisor is refused on the host (integer division by zero traps on x86).
// LONG_MIN / -1 overflows in C: -1 takes the two's complement wrap numpy gives.
inline T int_floor_div(T x, T y)
{
    if (y == (T)(-1)) return (T)((ulong)0 - (ulong)x);
    const T q = x / y;
    return (q * y != x && ((x < (T)0) != (y < (T)0))) ? q - (T)1 : q;
}
inline T int_remainder(T x, T y)
{
    if (y == (T)(-1)) return (T)0;
    const T r = x % y;
    return (r != (T)0 && ((r < (T)0) != (y < (T)0))) ? r + y : r;
}
BINARY_KERNEL(binary_floor_divide, T, int_floor_div(x, y))
BINARY_KERNEL(binary_remainder, T, int_remainder(x, y))
#endif

BINARY_KERNEL(compare_eq, uchar, (uchar)(x == y))
BINARY_KERNEL(compare_ne, uchar, (uchar)(x != y))
BINARY_KERNEL(compare_lt, uchar, (uchar)(x < y))
BINARY_KERNEL(compare_le, uchar, (uchar)(x <= y))
BINARY_KERNEL(compare_gt, uchar, (uchar)(x > y))
BINARY_KERNEL(compare_ge, uchar, (uchar)(x >= y))

// cond ? a : b; cond is bool (uchar).
__kernel void where_select(HEAD, __global T* out, STRIDED_ARGS(out),
                           __global const uchar* cond, STRIDED_ARGS(cond),
                           __global const T* a, STRIDED_ARGS(a),
                           __global const T* b, STRIDED_ARGS(b))
{
    ELEMENT_OFFSETS(out_s, cond_s, a_s, b_s)
    out[out_o + off0] = cond[cond_o + off1] ? a[a_o + off2] : b[b_o + off3];
}
