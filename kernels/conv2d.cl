// Convolution as im2col + GEMM (the GEMM is matmul.cl). im2col lays the patches of a
// contiguous NCHW input out as (N, C*KH*KW, OH*OW), rows ordered (c, ki, kj) with kj
// fastest and columns (oh, ow) with ow fastest; padding reads as 0. col2im is its
// adjoint, written as a gather over input pixels so that no atomics are needed.

#define CONV_ARGS const int N, const int C, const int H, const int W,                \
                  const int KH, const int KW, const int SH, const int SW,            \
                  const int PH, const int PW, const int DH, const int DW,           \
                  const int OH, const int OW

__kernel void im2col(CONV_ARGS, __global T* cols, __global const T* x, const int x_o)
{
    const int g = get_global_id(0);
    if (g >= N * C * KH * KW * OH * OW) return;
    const int ow = g % OW;
    int r = g / OW;
    const int oh = r % OH; r /= OH;
    const int kj = r % KW; r /= KW;
    const int ki = r % KH; r /= KH;
    const int c = r % C;
    const int n = r / C;
    const int h = oh * SH - PH + ki * DH;
    const int w = ow * SW - PW + kj * DW;
    cols[g] = (h >= 0 && h < H && w >= 0 && w < W)
                  ? x[x_o + ((n * C + c) * H + h) * W + w] : (T)0;
}

__kernel void col2im(CONV_ARGS, __global T* x, __global const T* cols, const int c_o)
{
    const int g = get_global_id(0);
    if (g >= N * C * H * W) return;
    const int w = g % W;
    int r = g / W;
    const int h = r % H; r /= H;
    const int c = r % C;
    const int n = r / C;
    T acc = (T)0;
    for (int ki = 0; ki < KH; ++ki) {
        const int th = h + PH - ki * DH;
        if (th < 0 || th % SH != 0) continue;
        const int oh = th / SH;
        if (oh >= OH) continue;
        for (int kj = 0; kj < KW; ++kj) {
            const int tw = w + PW - kj * DW;
            if (tw < 0 || tw % SW != 0) continue;
            const int ow = tw / SW;
            if (ow >= OW) continue;
            const int row = (c * KH + ki) * KW + kj;
            acc += cols[c_o + ((n * C * KH * KW + row) * OH + oh) * OW + ow];
        }
    }
    x[g] = acc;
}

// Max-pooling over whole KH x KW tiles (stride = kernel, no padding, dilation 1): the
// pooling of LeNet and most CNNs, Backend.max_pool_tiles and max_pool_tiles_backward in
// one launch each (the generic rule in base.py takes ~3 launches forward and ~27
// backward for 2 x 2 tiles). x is contiguous NCHW, OH = H / KH and OW = W / KW; rows and
// columns past the last whole tile are not pooled (their gradient is 0).
// The backward repeats the generic rule's arithmetic element by element, so results
// are the same bits: walking the tile in row-major order, each position takes
// part = remaining * hit and leaves remaining - part; the last takes what remains
// (an inf or nan gradient then spreads nan over its tile, as there).
#pragma OPENCL FP_CONTRACT OFF

__kernel void max_pool_tiles(const int N, const int C, const int H, const int W,
                             const int KH, const int KW, const int OH, const int OW,
                             __global T* out, __global const T* x, const int x_o)
{
    const int g = get_global_id(0);
    if (g >= N * C * OH * OW) return;
    const int ox = g % OW, oy = (g / OW) % OH, plane = g / (OW * OH);
    __global const T* p = x + x_o + plane * H * W + oy * KH * W + ox * KW;
    T m = p[0];
    for (int t = 1; t < KH * KW; ++t) {
        const T v = p[(t / KW) * W + t % KW];
        // numpy.maximum taken in order: a nan wins and stays
        if (!IS_NAN(m) && (IS_NAN(v) || v > m)) m = v;
    }
    out[g] = m;
}

__kernel void max_pool_tiles_backward(const int N, const int C, const int H, const int W,
                                      const int KH, const int KW, const int OH,
                                      const int OW, __global T* dx,
                                      __global const T* x, const int x_o,
                                      __global const T* out, const int out_o,
                                      __global const T* grad, const int grad_o)
{
    const int g = get_global_id(0);
    if (g >= N * C * H * W) return;
    const int col = g % W, row = (g / W) % H, plane = g / (W * H);
    const int oy = row / KH, ox = col / KW;
    if (oy >= OH || ox >= OW) {
        dx[g] = (T)0;
        return;
    }
    const int o = plane * OH * OW + oy * OW + ox;
    const T m = out[out_o + o];
    const int mine = (row - oy * KH) * KW + (col - ox * KW);
    __global const T* p = x + x_o + plane * H * W + oy * KH * W + ox * KW;
    T remaining = grad[grad_o + o];
    for (int t = 0; t < KH * KW - 1; ++t) {
        const T v = p[(t / KW) * W + t % KW];
        const int hit = IS_NAN(m) ? IS_NAN(v) : (v == m);  // where the max is nan: the first nan
        const T part = remaining * (T)hit;
        if (t == mine) {
            dx[g] = part;
            return;
        }
        remaining = remaining - part;
    }
    dx[g] = remaining;
}
