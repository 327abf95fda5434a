// Batched matrix multiply C[b] = op(A[b]) @ op(B[b]) for any M, N, K.
//
// Two levels of blocking:
// - a work-group computes a TM x TN tile of C; it walks K in steps of TK, staging the
//   TM x TK slice of A and the TK x TN slice of B in local memory (on a CPU device this
//   is the "packing" step of a BLAS: the slices become small contiguous blocks that stay
//   in L1/L2);
// - each work-item keeps a WM x WN block of C in registers (WM rows of NV = WN / VW
//   vectors of VW lanes) and updates it with outer products: per k it loads WM scalars
//   of A and NV vectors of B, then does WM * NV vector multiply-adds.
// Edges (M, N, K not multiples of the tile) are handled when loading (zeros outside)
// and when storing (guarded writes), so the inner loop has no branches.
//
// A and B are read through strides, so transposed operands (the backward pass) and
// permuted views need no copy: A[m, k] = A[a_off + m * a_sm + k * a_sk].
// Compile-time defines (chosen per device type by the host): T, TM, TN, TK, WM, WN,
// VW (vector width, default WN), PAD_A (extra local columns against GPU bank conflicts).
// On CPU devices every tile set the host may pick is built in one program
// (opencl_linalg.tile_variants), the kernel named matmul_v<i> for set i.

#ifndef PAD_A
#define PAD_A 0
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
// Each work-item's WN columns are NV vectors of VW lanes (VW defaults to WN).
#ifndef VW
#define VW WN
#endif
#define NV (WN / VW)
#define VT CAT(T, VW)
#define VLOAD CAT(vload, VW)
#define VSTORE CAT(vstore, VW)

// A plain multiply-add: OpenCL C contracts it to an FMA where the device has one
// (fma() on 16-wide vectors crashes PoCL 3.0's LLVM 14 instruction selection).
#define MADV(a, b, c) ((a) * (b) + (c))

#define LX (TN / WN)
#define LY (TM / WM)
#define NTHREADS (LX * LY)

__kernel __attribute__((reqd_work_group_size(LX, LY, 1)))
void VARIANT(matmul)(const int M, const int N, const int K,
            __global const T* restrict A, const int a_off, const int a_sm, const int a_sk,
            const int a_sb,
            __global const T* restrict B, const int b_off, const int b_sk, const int b_sn,
            const int b_sb,
            __global T* restrict C, const int c_off, const int c_sm, const int c_sb,
            __global const T* bias, const int bias_off, const int bias_s, const int has_bias)
{
    __local T As[TK][TM + PAD_A];
    __local T Bs[TK][TN];

    const int lx = get_local_id(0);
    const int ly = get_local_id(1);
    const int tid = ly * LX + lx;
    const int m0 = get_group_id(1) * TM;
    const int n0 = get_group_id(0) * TN;
    const int batch = get_global_id(2);
    A += a_off + batch * a_sb;
    B += b_off + batch * b_sb;
    C += c_off + batch * c_sb;

    VT acc[WM][NV];
    for (int i = 0; i < WM; ++i)
        for (int v = 0; v < NV; ++v) acc[i][v] = (VT)(0);

    for (int k0 = 0; k0 < K; k0 += TK) {
        barrier(CLK_LOCAL_MEM_FENCE);
        // Stage the A slice; the fastest-moving index follows A's unit stride so that
        // neighbouring work-items read neighbouring addresses.
        if (a_sk == 1) {
            for (int t = tid; t < TM * TK; t += NTHREADS) {
                const int m = t / TK, k = t % TK;
                const int gm = m0 + m, gk = k0 + k;
                As[k][m] = (gm < M && gk < K) ? A[gm * a_sm + gk] : (T)(0);
            }
        } else {
            for (int t = tid; t < TM * TK; t += NTHREADS) {
                const int k = t / TM, m = t % TM;
                const int gm = m0 + m, gk = k0 + k;
                As[k][m] = (gm < M && gk < K) ? A[gm * a_sm + gk * a_sk] : (T)(0);
            }
        }
        if (b_sn == 1) {
            for (int t = tid; t < TK * TN; t += NTHREADS) {
                const int k = t / TN, n = t % TN;
                const int gk = k0 + k, gn = n0 + n;
                Bs[k][n] = (gk < K && gn < N) ? B[gk * b_sk + gn] : (T)(0);
            }
        } else {
            for (int t = tid; t < TK * TN; t += NTHREADS) {
                const int n = t / TK, k = t % TK;
                const int gk = k0 + k, gn = n0 + n;
                Bs[k][n] = (gk < K && gn < N) ? B[gk * b_sk + gn * b_sn] : (T)(0);
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        // Register-blocked outer products over the staged slices.
        for (int k = 0; k < TK; ++k) {
            VT b[NV];
            for (int v = 0; v < NV; ++v) b[v] = VLOAD(0, &Bs[k][lx * WN + v * VW]);
            for (int i = 0; i < WM; ++i) {
                const T a = As[k][ly * WM + i];
                for (int v = 0; v < NV; ++v) acc[i][v] = MADV(a, b[v], acc[i][v]);
            }
        }
    }

    // The epilogue: bias[col] (when has_bias) joins each column as it is stored, so a
    // linear layer needs no second pass over its output.
    VT bv[NV];
    for (int v = 0; v < NV; ++v) {
        T tmp[VW];
        const int col = n0 + lx * WN + v * VW;
        for (int j = 0; j < VW; ++j)
            tmp[j] = (has_bias && col + j < N) ? bias[bias_off + (col + j) * bias_s] : (T)(0);
        bv[v] = VLOAD(0, tmp);
    }
    for (int i = 0; i < WM; ++i) {
        const int row = m0 + ly * WM + i;
        if (row >= M) break;
        __global T* crow = C + row * c_sm;
        for (int v = 0; v < NV; ++v) {
            const int col = n0 + lx * WN + v * VW;
            const VT value = has_bias ? acc[i][v] + bv[v] : acc[i][v];
            if (col + VW <= N) {
                VSTORE(value, 0, crow + col);
            } else {
                T tmp[VW];
                VSTORE(value, 0, tmp);
                for (int j = 0; j < VW && col + j < N; ++j) crow[col + j] = tmp[j];
            }
        }
    }
}
