// Reductions of a contiguous array viewed as (outer, R, inner): the host moves the
// reduced axes next to each other (copying only when strides do not allow it).
// - *_mid: one work-item per output element walks R with stride `inner`;
// - *_rows (inner == 1, few long rows): one work-group per row, then a tree in local memory.
// max/min propagate nan like numpy; argmax/argmin return the first occurrence (the
// first nan if there is one).

#if T_IS_FLOAT
#define RMAX(a, b) (((a) > (b) || IS_NAN(a)) ? (a) : (b))
#define RMIN(a, b) (((a) < (b) || IS_NAN(a)) ? (a) : (b))
// Kahan-compensated accumulation (numpy uses pairwise sums; a plain float32 loop
// would drift on long rows). The compensation is dropped once the sum is not finite,
// so inf + 1 stays inf instead of turning into nan.
#define SUM_STATE T s = (T)0, c = (T)0;
#define SUM_ADD(v) { const T y_ = (v) - c; const T t_ = s + y_; \
                     c = isfinite(t_) ? (t_ - s) - y_ : (T)0; s = t_; }
#else
#define RMAX(a, b) ((a) > (b) ? (a) : (b))
#define RMIN(a, b) ((a) < (b) ? (a) : (b))
#define SUM_STATE T s = (T)0;
#define SUM_ADD(v) { s += (v); }
#endif
#define RSUM(a, b) ((a) + (b))

__kernel void reduce_sum_mid(const int outer, const int R, const int inner,
                             __global T* out, __global const T* x, const int x_o)
{
    const int g = get_global_id(0);
    if (g >= outer * inner) return;
    const int o = g / inner, in = g % inner;
    __global const T* p = x + x_o + o * R * inner + in;
    SUM_STATE
    for (int r = 0; r < R; ++r) SUM_ADD(p[r * inner])
    out[g] = s;
}

// Nonzero bytes of a bool tensor counted into int64 (numpy sums booleans as int64), in
// one launch, with no int64 copy first. Its types do not depend on T: the host takes it
// from the float32 program, which a run builds anyway (building the bool program for
// this one kernel cost a `vecgrad train` 50-100 ms).
__kernel void reduce_count_mid(const int outer, const int R, const int inner,
                               __global long* out, __global const uchar* x, const int x_o)
{
    const int g = get_global_id(0);
    if (g >= outer * inner) return;
    const int o = g / inner, in = g % inner;
    __global const uchar* p = x + x_o + o * R * inner + in;
    long count = 0;
    for (int r = 0; r < R; ++r) count += p[r * inner] != 0;
    out[g] = count;
}

#define REDUCE_MID(name, COMBINE)                                                   \
__kernel void reduce_##name##_mid(const int outer, const int R, const int inner,    \
                                  __global T* out, __global const T* x,             \
                                  const int x_o)                                    \
{                                                                                   \
    const int g = get_global_id(0);                                                 \
    if (g >= outer * inner) return;                                                 \
    const int o = g / inner, in = g % inner;                                        \
    __global const T* p = x + x_o + o * R * inner + in;                             \
    T acc = p[0];                                                                   \
    for (int r = 1; r < R; ++r) acc = COMBINE(acc, p[r * inner]);                   \
    out[g] = acc;                                                                   \
}
REDUCE_MID(max, RMAX)
REDUCE_MID(min, RMIN)

// One work-group per row; local size is a power of two chosen by the host.
__kernel void reduce_sum_rows(const int R, __global T* out, __global const T* x,
                              const int x_o, __local T* scratch)
{
    const int row = get_group_id(0), lid = get_local_id(0), ls = get_local_size(0);
    __global const T* p = x + x_o + row * R;
    SUM_STATE
    for (int r = lid; r < R; r += ls) SUM_ADD(p[r])
    scratch[lid] = s;
    for (int width = ls / 2; width > 0; width /= 2) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < width) scratch[lid] = scratch[lid] + scratch[lid + width];
    }
    if (lid == 0) out[row] = scratch[0];
}

#define REDUCE_ROWS(name, COMBINE)                                                  \
__kernel void reduce_##name##_rows(const int R, __global T* out,                    \
                                   __global const T* x, const int x_o,              \
                                   __local T* scratch)                              \
{                                                                                   \
    const int row = get_group_id(0), lid = get_local_id(0), ls = get_local_size(0); \
    __global const T* p = x + x_o + row * R;                                        \
    T acc = p[0];                                                                   \
    for (int r = lid; r < R; r += ls) acc = COMBINE(acc, p[r]);                     \
    scratch[lid] = acc;                                                             \
    for (int width = ls / 2; width > 0; width /= 2) {                                  \
        barrier(CLK_LOCAL_MEM_FENCE);                                               \
        if (lid < width) scratch[lid] = COMBINE(scratch[lid], scratch[lid + width]);  \
    }                                                                               \
    if (lid == 0) out[row] = scratch[0];                                            \
}
REDUCE_ROWS(max, RMAX)
REDUCE_ROWS(min, RMIN)

// better(v, best): v replaces the current best (strictly better, or the first nan).
#define ARG_REDUCE(name, BETTER)                                                    \
__kernel void argreduce_##name##_mid(const int outer, const int R, const int inner, \
                                     __global long* out, __global const T* x,       \
                                     const int x_o)                                 \
{                                                                                   \
    const int g = get_global_id(0);                                                 \
    if (g >= outer * inner) return;                                                 \
    const int o = g / inner, in = g % inner;                                        \
    __global const T* p = x + x_o + o * R * inner + in;                             \
    T best = p[0];                                                                  \
    long at = 0;                                                                    \
    for (int r = 1; r < R && !IS_NAN(best); ++r) {                                  \
        const T v = p[r * inner];                                                   \
        if (BETTER(v, best)) { best = v; at = r; }                                  \
    }                                                                               \
    out[g] = at;                                                                    \
}
#define GREATER(v, best) ((v) > (best) || IS_NAN(v))
#define LESS(v, best) ((v) < (best) || IS_NAN(v))
ARG_REDUCE(argmax, GREATER)
ARG_REDUCE(argmin, LESS)
