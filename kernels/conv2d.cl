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
