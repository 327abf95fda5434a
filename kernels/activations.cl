// Forward f(x) and derivative f'(x) (at the input x) of every activation in
// scalargrad.functions.ACTIVATIONS, under the same names and the same conventions:
// step'(x) = 0, relu'(0) = 0, leaky_relu'(0) = alpha, elu'(0) = alpha, sinc(0) = 1,
// sinc'(0) = 0, nan in gives nan out, and large |x| gives the limit or inf.
// Kernels: act_<name> and dact_<name>(n, ndim, shape, out, out_s, out_o, x, x_s, x_o,
// alpha); alpha is ignored by activations without a parameter. Float types only.
// bact_<name>(..., x, x_s, x_o, g, g_s, g_o, alpha) is the fused backward
// out = d_<name>(x) * g: the same value as dact_<name> followed by binary_mul.

// Float types only: for other element types this file defines no kernel (it is
// built in one program with other files, opencl_runtime.BUNDLED_FAMILIES).
#if T_IS_FLOAT

#define ONE ((T)1)
#define ZERO ((T)0)
#define NAN_T ((T)NAN)

inline T f_identity(T x, T a) { return x; }
inline T d_identity(T x, T a) { return IS_NAN(x) ? x : ONE; }

inline T f_step(T x, T a) { return IS_NAN(x) ? x : (x >= ZERO ? ONE : ZERO); }
inline T d_step(T x, T a) { return IS_NAN(x) ? x : ZERO; }

// Two branches so that exp never sees a large positive argument.
inline T f_sigmoid(T x, T a)
{
    if (x >= ZERO) return ONE / (ONE + exp(-x));
    const T e = exp(x);
    return e / (ONE + e);  // nan stays nan
}
inline T d_sigmoid(T x, T a) { const T s = f_sigmoid(x, a); return s * (ONE - s); }

// PoCL's tanh saturates at 1 - ulp; past |x| = 20 tanh is exactly +-1 in float32 and float64.
inline T f_tanh(T x, T a) { return fabs(x) > (T)20 ? copysign(ONE, x) : tanh(x); }
inline T d_tanh(T x, T a) { const T t = f_tanh(x, a); return ONE - t * t; }

inline T f_arctan(T x, T a) { return atan(x); }
inline T d_arctan(T x, T a) { return ONE / (ONE + x * x); }  // x*x = inf gives the limit 0

inline T f_relu(T x, T a) { return (x > ZERO || IS_NAN(x)) ? x : ZERO; }
inline T d_relu(T x, T a) { return IS_NAN(x) ? x : (x > ZERO ? ONE : ZERO); }

inline T f_leaky_relu(T x, T a) { return x > ZERO ? x : a * x; }
inline T d_leaky_relu(T x, T a) { return IS_NAN(x) ? x : (x > ZERO ? ONE : a); }

inline T f_elu(T x, T a) { return x > ZERO ? x : a * expm1(x); }
inline T d_elu(T x, T a) { return x > ZERO ? ONE : a * exp(x); }

// log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large |x|.
inline T f_softplus(T x, T a) { return x > ZERO ? x + log1p(exp(-x)) : log1p(exp(x)); }
inline T d_softplus(T x, T a) { return f_sigmoid(x, a); }

// hypot(x, 1) = sqrt(x^2 + 1) without overflowing x^2, and
// hypot(x, 1) - 1 as x^2 / (hypot + 1): no cancellation near 0; +-inf: the limits.
inline T f_bent_identity(T x, T a)
{
    return IS_INF(x) ? x : x * (x / (hypot(x, ONE) + ONE)) / (T)2 + x;
}
inline T d_bent_identity(T x, T a)
{
    if (IS_INF(x)) return x > ZERO ? (T)1.5 : (T)0.5;
    return x / hypot(x, ONE) / (T)2 + ONE;  // 2 * hypot would overflow near the max
}

// Lecture 002: a logarithm for alpha < 0, the identity at 0, an exponential above.
inline T f_soft_exponential(T x, T a)
{
    if (a < ZERO) return -log(ONE - a * (x + a)) / a;  // log(0) = -inf, log(<0) = nan
    if (a == ZERO) return x;
    return expm1(a * x) / a + a;  // exp - 1 would cancel for small a * x
}
inline T d_soft_exponential(T x, T a)
{
    if (a < ZERO) {
        const T inner = ONE - a * (x + a);
        if (inner > ZERO) return ONE / inner;
        return inner == ZERO ? (T)INFINITY : NAN_T;
    }
    if (a == ZERO) return IS_NAN(x) ? x : ONE;
    return exp(a * x);
}

inline T f_sin(T x, T a) { return sin(x); }  // sin(inf) = nan
inline T d_sin(T x, T a) { return cos(x); }

inline T f_cos(T x, T a) { return cos(x); }
inline T d_cos(T x, T a) { return -sin(x); }

inline T f_sinc(T x, T a)
{
    if (x == ZERO) return ONE;
    if (IS_INF(x)) return ZERO;  // |sin x| <= 1, so sin(x)/x -> 0
    return sin(x) / x;
}
// Near 0 the closed form cancels (relative error about eps / x^2): the Taylor series to
// x^9 there, below 1 in float and 1e-2 in double (numpy_backend._SINC_SERIES_BELOW).
inline T d_sinc(T x, T a)
{
    if (IS_INF(x)) return ZERO;
    if (fabs(x) < (sizeof(T) == 4 ? (T)1 : (T)1e-2)) {
        const T x2 = x * x;
        return x * ((T)(-1.0 / 3.0) + x2 * ((T)(1.0 / 30.0) + x2 * ((T)(-1.0 / 840.0)
                    + x2 * ((T)(1.0 / 45360.0) - x2 / (T)3991680))));
    }
    return cos(x) / x - sin(x) / (x * x);
}

inline T f_gaussian(T x, T a) { return exp(-x * x); }
/* huge |x|: exp underflows to 0 while -2x overflows; the limit is 0, not nan */
inline T d_gaussian(T x, T a) {
    T r = (T)(-2) * x * exp(-x * x);
    return (IS_NAN(r) && !IS_NAN(x)) ? ZERO : r;
}

#define ACTIVATION_KERNELS(name)                                                    \
__kernel void act_##name(const int n, const int ndim, const int8 shape,             \
                         __global T* out, const int8 out_s, const int out_o,        \
                         __global const T* x, const int8 x_s, const int x_o,        \
                         const T alpha)                                             \
{                                                                                   \
    ELEMENT_OFFSETS(out_s, x_s, x_s, x_s)                                           \
    out[out_o + off0] = f_##name(x[x_o + off1], alpha);                             \
}                                                                                   \
__kernel void dact_##name(const int n, const int ndim, const int8 shape,            \
                          __global T* out, const int8 out_s, const int out_o,       \
                          __global const T* x, const int8 x_s, const int x_o,       \
                          const T alpha)                                            \
{                                                                                   \
    ELEMENT_OFFSETS(out_s, x_s, x_s, x_s)                                           \
    out[out_o + off0] = d_##name(x[x_o + off1], alpha);                             \
}                                                                                   \
__kernel void bact_##name(const int n, const int ndim, const int8 shape,            \
                          __global T* out, const int8 out_s, const int out_o,       \
                          __global const T* x, const int8 x_s, const int x_o,       \
                          __global const T* g, const int8 g_s, const int g_o,       \
                          const T alpha)                                            \
{                                                                                   \
    ELEMENT_OFFSETS(out_s, x_s, g_s, g_s)                                           \
    out[out_o + off0] = d_##name(x[x_o + off1], alpha) * g[g_o + off2];             \
}

ACTIVATION_KERNELS(identity)
ACTIVATION_KERNELS(step)
ACTIVATION_KERNELS(sigmoid)
ACTIVATION_KERNELS(tanh)
ACTIVATION_KERNELS(arctan)
ACTIVATION_KERNELS(relu)
ACTIVATION_KERNELS(leaky_relu)
ACTIVATION_KERNELS(elu)
ACTIVATION_KERNELS(softplus)
ACTIVATION_KERNELS(bent_identity)
ACTIVATION_KERNELS(soft_exponential)
ACTIVATION_KERNELS(sin)
ACTIVATION_KERNELS(cos)
ACTIVATION_KERNELS(sinc)
ACTIVATION_KERNELS(gaussian)

#endif  // T_IS_FLOAT
