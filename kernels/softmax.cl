// Row-wise stable softmax and log_softmax of a contiguous (rows, L) array: one
// work-group per row (local size a power of two chosen by the host), tree reductions
// in local memory for the row max and the sum of exp(x - max).

// Float types only: for other element types this file defines no kernel (it is
// built in one program with other files, opencl_runtime.BUNDLED_FAMILIES).
#if T_IS_FLOAT

// Max over the work-group's partial maxima; a nan wins, like numpy's max.
inline void tree_max(__local T* s, const int lid, const int ls)
{
    for (int width = ls / 2; width > 0; width /= 2) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < width && !(s[lid] > s[lid + width] || IS_NAN(s[lid]))) s[lid] = s[lid + width];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
}

inline void tree_sum(__local T* s, const int lid, const int ls)
{
    for (int width = ls / 2; width > 0; width /= 2) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < width) s[lid] += s[lid + width];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
}

// Leaves max in m and sum(exp(x - m)) in z; nan anywhere in the row makes both nan.
#define ROW_STATS                                                                   \
    const int row = get_group_id(0), lid = get_local_id(0), ls = get_local_size(0); \
    __global const T* p = x + x_o + row * L;                                        \
    __global T* q = out + row * L;                                                  \
    T m = -INFINITY;                                                                \
    int has_nan = 0;                                                                \
    for (int j = lid; j < L; j += ls) { m = fmax(m, p[j]); has_nan |= IS_NAN(p[j]); }\
    scratch[lid] = has_nan ? (T)NAN : m;                                            \
    tree_max(scratch, lid, ls);                                                     \
    m = scratch[0];                                                                 \
    barrier(CLK_LOCAL_MEM_FENCE);                                                   \
    T acc = (T)0;                                                                   \
    for (int j = lid; j < L; j += ls) acc += exp(p[j] - m);                         \
    scratch[lid] = acc;                                                             \
    tree_sum(scratch, lid, ls);                                                     \
    const T z = scratch[0];

__kernel void softmax_rows(const int L, __global T* out, __global const T* x,
                           const int x_o, __local T* scratch)
{
    ROW_STATS
    const T inv = (T)1 / z;
    for (int j = lid; j < L; j += ls) q[j] = exp(p[j] - m) * inv;
}

__kernel void log_softmax_rows(const int L, __global T* out, __global const T* x,
                               const int x_o, __local T* scratch)
{
    ROW_STATS
    const T lz = log(z);
    for (int j = lid; j < L; j += ls) q[j] = (p[j] - m) - lz;
}

// Softmax cross-entropy of a contiguous (rows, L) array of logits in one pass: out gets
// the row of log_softmax (kept for the backward pass) and losses[row] the negative
// log-probability of the row's label times `scale` (1/rows for a mean: the losses' sum
// is then the mean, with no pass to scale it). labels (int64, element stride l_s,
// offset l_o) were checked on the host to lie in [0, L).
__kernel void cross_entropy_rows(const int L, __global T* out, __global const T* x,
                                 const int x_o, __global T* losses,
                                 __global const long* labels, const int l_s,
                                 const int l_o, const T scale, __local T* scratch)
{
    ROW_STATS
    const T lz = log(z);
    for (int j = lid; j < L; j += ls) q[j] = (p[j] - m) - lz;
    if (lid == 0) losses[row] = -((p[(int)labels[l_o + row * l_s]] - m) - lz) * scale;
}

// The gradient of those losses with respect to the logits, one work-item per element of
// the (rows, L) result: (exp(log_probs) - onehot(label)) * grad[row] * scale.
// log_probs is contiguous; grad is (rows,) with element stride g_s, or () with g_s = 0.
__kernel void cross_entropy_backward_rows(const int n, const int L, __global T* out,
                                          __global const T* log_probs, const int lp_o,
                                          __global const long* labels, const int l_s,
                                          const int l_o, __global const T* grad,
                                          const int g_s, const int g_o, const T scale)
{
    const int i = get_global_id(0);
    if (i >= n) return;
    const int row = i / L, col = i - row * L;
    const T hot = labels[l_o + row * l_s] == (long)col ? (T)1 : (T)0;
    out[i] = (exp(log_probs[lp_o + i]) - hot) * (grad[g_o + row * g_s] * scale);
}

#endif  // T_IS_FLOAT
