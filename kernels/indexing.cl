// Gathers and their adjoints. Every adjoint is written as a gather over the *output*
// (each work-item sums what lands on its own element), so no atomics are needed and the
// result does not depend on scheduling: repeated indices accumulate deterministically.

// out[i] = x[offsets[i]]: advanced getitem; the offsets are computed on the host from
// the host-held index with numpy's own indexing rules.
__kernel void take_flat(const int n, __global T* out, __global const int* offsets,
                        __global const T* x)
{
    const int i = get_global_id(0);
    if (i >= n) return;
    out[i] = x[offsets[i]];
}

// index_add: segment s sums src[order[j]] for j in [starts[s], starts[s + 1]) into
// out[targets[s]]; the host sorted the flat targets, so segments are disjoint.
__kernel void segment_sum(const int nseg, __global T* out, __global const int* targets,
                          __global const int* starts, __global const int* order,
                          __global const T* src)
{
    const int s = get_global_id(0);
    if (s >= nseg) return;
    T acc = (T)0;
    for (int j = starts[s]; j < starts[s + 1]; ++j) acc += src[order[j]];
    out[targets[s]] += acc;
}

// numpy.take_along_axis on contiguous x (pre, Lx, post) and index (pre, Li, post).
// Negative indices count from the end; an index outside [-Lx, Lx) reads as nan (0 for
// integers) instead of touching memory it does not own.
__kernel void take_along_axis(const int pre, const int Lx, const int Li, const int post,
                              __global T* out, __global const T* x, const int x_o,
                              __global const long* index, const int i_o)
{
    const int g = get_global_id(0);
    if (g >= pre * Li * post) return;
    const int q = g % post, p = g / (Li * post);
    long t = index[i_o + g];
    if (t < 0) t += Lx;
#if T_IS_FLOAT
    out[g] = (t >= 0 && t < Lx) ? x[x_o + (p * Lx + (int)t) * post + q] : (T)NAN;
#else
    out[g] = (t >= 0 && t < Lx) ? x[x_o + (p * Lx + (int)t) * post + q] : (T)0;
#endif
}

// The adjoint: out (pre, Lo, post) = zeros with src (pre, Li, post) added at index.
__kernel void scatter_add_along_axis(const int pre, const int Lo, const int Li,
                                     const int post, __global T* out,
                                     __global const long* index, const int i_o,
                                     __global const T* src, const int s_o)
{
    const int g = get_global_id(0);
    if (g >= pre * Lo * post) return;
    const int q = g % post, t = (g / post) % Lo, p = g / (Lo * post);
    T acc = (T)0;
    for (int j = 0; j < Li; ++j) {
        const int at = (p * Li + j) * post + q;
        long k = index[i_o + at];
        if (k < 0) k += Lo;
        if (k == t) acc += src[s_o + at];
    }
    out[g] = acc;
}
