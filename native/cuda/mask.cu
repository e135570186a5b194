/* mask.cu - channel-mask kernels of the CUDA backend on data viewed as [outer][channels][inner] (the
 * CPU's mask.c): masking, per-channel norms and sums (one block per channel, a fixed tree in double),
 * group-regularization gradients, channel gather/scatter. */
#include "common.cuh"

using namespace jpcuda;

/* ---------------- channel-mask kernels ([outer][channels][inner]) ---------------- */


/* index lists live on the device: their contents were validated by the caller (the Java
 * ChannelIndex checks range and order before upload); kernels still skip out-of-range entries */
__global__ void k_mask(float *data, const float *mask, int64_t channels, int64_t inner, int64_t n) {
    JP_GRID_STRIDE(i, n) {
        float m = mask[(i / inner) % channels];
        if (m != 1.f) data[i] = m == 0.f ? 0.f : data[i] * m;
    }
}

CU_OP(mask_channels)(jp_ctx ctx, float *data, const float *mask, int64_t outer, int64_t channels, int64_t inner) {
    static const char *fn = "jp_mask_channels";
    const int64_t n = outer * channels * inner;
    if (!n) return JP_OK;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_mask, grid1d(c, n), dim3(256), c->stream, data, mask, channels, inner, n);
    LAUNCHED(fn);
}

/* one block per channel: p = 1 sum of |x|, p = 2 sqrt(sum x^2), 0 plain sum (sum_channels) */
__global__ void k_channel_reduce(float *out, const float *x, int64_t outer, int64_t channels, int64_t inner, int p) {
    __shared__ double red[32];
    const int64_t ch = blockIdx.x;
    double acc = 0.0;
    for (int64_t o = 0; o < outer; o++) {
        const float *q = x + (o * channels + ch) * inner;
        float part = 0.f;
        for (int64_t i = threadIdx.x; i < inner; i += blockDim.x) {
            float v = q[i];
            part += p == 1 ? fabsf(v) : p == 2 ? v * v : v;
        }
        acc += part;
    }
    double s = block_sum(acc, red);
    if (threadIdx.x == 0) out[ch] = (float)(p == 2 ? sqrt(s) : s);
}

static jp_status channel_reduce(jp_ctx ctx, const char *fn, float *out, const float *x, int64_t outer, int64_t channels, int64_t inner, int p) {
    if (!channels) return JP_OK;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_channel_reduce, dim3((unsigned)channels), dim3(256), c->stream, out, x, outer, channels, inner, p);
    LAUNCHED(fn);
}

CU_OP(channel_norms)(jp_ctx ctx, float *out, const float *data, int64_t outer, int64_t channels, int64_t inner, int32_t p) {
    static const char *fn = "jp_channel_norms";
    return channel_reduce(ctx, fn, out, data, outer, channels, inner, p);
}

CU_OP(sum_channels)(jp_ctx ctx, float *out, const float *x, int64_t outer, int64_t channels, int64_t inner) {
    static const char *fn = "jp_sum_channels";
    return channel_reduce(ctx, fn, out, x, outer, channels, inner, 0);
}

__global__ void k_group_reg(float *grad, const float *data, const float *scale, float lambda, int64_t channels, int64_t inner, int64_t n) {
    JP_GRID_STRIDE(i, n) grad[i] += lambda * scale[(i / inner) % channels] * data[i];
}

CU_OP(group_reg_grad)(jp_ctx ctx, float *grad, const float *data, const float *scale, float lambda, int64_t outer, int64_t channels, int64_t inner) {
    static const char *fn = "jp_group_reg_grad";
    const int64_t n = outer * channels * inner;
    if (!n) return JP_OK;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_group_reg, grid1d(c, n), dim3(256), c->stream, grad, data, scale, lambda, channels, inner, n);
    LAUNCHED(fn);
}

/* gather: dst[o][j][i] = src[o][idx[j]][i]; scatter: the reverse */
__global__ void k_gather(float *dst, const float *src, const int32_t *idx, int32_t n_idx, int64_t channels, int64_t inner, int64_t n, int scatter) {
    JP_GRID_STRIDE(t, n) {
        int64_t i = t % inner, oj = t / inner, j = oj % n_idx, o = oj / n_idx;
        int32_t ch = idx[j];
        if (ch < 0 || ch >= channels) continue;
        int64_t s = (o * channels + ch) * inner + i;
        if (scatter) dst[s] = src[t];
        else dst[t] = src[s];
    }
}

static jp_status gather_scatter(jp_ctx ctx, const char *fn, float *dst, const float *src, const int32_t *idx, int32_t n_idx,
                                int64_t outer, int64_t channels, int64_t inner, int scatter) {
    const int64_t n = outer * n_idx * inner;
    if (!n) return JP_OK;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_gather, grid1d(c, n), dim3(256), c->stream, dst, src, idx, n_idx, channels, inner, n, scatter);
    LAUNCHED(fn);
}

CU_OP(gather_channels)(jp_ctx ctx, float *dst, const float *src, const int32_t *idx, int32_t n_idx, int64_t outer, int64_t channels, int64_t inner) {
    return gather_scatter(ctx, "jp_gather_channels", dst, src, idx, n_idx, outer, channels, inner, 0);
}
CU_OP(scatter_channels)(jp_ctx ctx, float *dst, const float *src, const int32_t *idx, int32_t n_idx, int64_t outer, int64_t channels, int64_t inner) {
    return gather_scatter(ctx, "jp_scatter_channels", dst, src, idx, n_idx, outer, channels, inner, 1);
}
