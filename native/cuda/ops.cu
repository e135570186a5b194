/* ops.cu - the memory-bound ops of the CUDA backend: fill, elementwise, activations, channel-mask
 * kernels, batch norm, pooling, upsampling, channel copy, reductions and optimizer steps.
 *
 * Reductions are deterministic everywhere (fixed trees, no float atomics): the same inputs give the
 * same bits on every run, which training resume and the cross-backend tests rely on. Per-channel
 * reductions run one block per channel; whole-tensor reductions run a fixed grid of partial sums and
 * then one block over the partials. */
#include "common.cuh"

#include <cfloat>

using namespace jpcuda;

#define LAUNCHED(fn) return launched(fn)

/* ---------------- fill and elementwise ---------------- */

__global__ void k_fill(float *y, float v, int64_t n) { JP_GRID_STRIDE(i, n) y[i] = v; }
__global__ void k_add(float *y, const float *a, const float *b, int64_t n) { JP_GRID_STRIDE(i, n) y[i] = a[i] + b[i]; }
__global__ void k_mul(float *y, const float *a, const float *b, int64_t n) { JP_GRID_STRIDE(i, n) y[i] = a[i] * b[i]; }
__global__ void k_scale(float *y, const float *x, float alpha, int64_t n) { JP_GRID_STRIDE(i, n) y[i] = alpha * x[i]; }
__global__ void k_axpy(float *y, const float *x, float alpha, int64_t n) { JP_GRID_STRIDE(i, n) y[i] += alpha * x[i]; }

CU_OP(fill)(jp_ctx ctx, float *dst, float value, int64_t n) {
    if (!n) return JP_OK;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_fill, grid1d(c, n), dim3(256), c->stream, dst, value, n);
    LAUNCHED("jp_fill");
}
CU_OP(add)(jp_ctx ctx, float *y, const float *a, const float *b, int64_t n) {
    if (!n) return JP_OK;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_add, grid1d(c, n), dim3(256), c->stream, y, a, b, n);
    LAUNCHED("jp_add");
}
CU_OP(mul)(jp_ctx ctx, float *y, const float *a, const float *b, int64_t n) {
    if (!n) return JP_OK;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_mul, grid1d(c, n), dim3(256), c->stream, y, a, b, n);
    LAUNCHED("jp_mul");
}
CU_OP(scale)(jp_ctx ctx, float *y, const float *x, float alpha, int64_t n) {
    if (!n) return JP_OK;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_scale, grid1d(c, n), dim3(256), c->stream, y, x, alpha, n);
    LAUNCHED("jp_scale");
}
CU_OP(axpy)(jp_ctx ctx, float *y, const float *x, float alpha, int64_t n) {
    if (!n) return JP_OK;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_axpy, grid1d(c, n), dim3(256), c->stream, y, x, alpha, n);
    LAUNCHED("jp_axpy");
}

/* ---------------- activations ---------------- */

__global__ void k_act_fwd(int kind, float alpha, float *y, const float *x, int64_t n) {
    JP_GRID_STRIDE(i, n) y[i] = jp_act_value(kind, alpha, x[i]);
}
__global__ void k_act_bwd(int kind, float alpha, float *dx, const float *dy, const float *x, int64_t n) {
    JP_GRID_STRIDE(i, n) dx[i] = jp_act_grad(kind, alpha, x[i], dy[i]);
}

CU_OP(act_fwd)(jp_ctx ctx, int32_t kind, float alpha, float *y, const float *x, int64_t n) {
    static const char *fn = "jp_act_fwd";
    if (!n) return JP_OK;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_act_fwd, grid1d(c, n), dim3(256), c->stream, kind, alpha, y, x, n);
    LAUNCHED(fn);
}
CU_OP(act_bwd)(jp_ctx ctx, int32_t kind, float alpha, float *dx, const float *dy, const float *x, int64_t n) {
    static const char *fn = "jp_act_bwd";
    if (!n) return JP_OK;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_act_bwd, grid1d(c, n), dim3(256), c->stream, kind, alpha, dx, dy, x, n);
    LAUNCHED(fn);
}

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

/* ---------------- batch norm: one block per channel, two passes in double ---------------- */


__global__ void __launch_bounds__(256) k_bn_train(jp_bn_desc d, float *y, float *save_mean, float *save_invstd, float *rmean, float *rvar,
                                                  const float *x, const float *gamma, const float *beta) {
    __shared__ double red[32];
    const int64_t c = blockIdx.x, C = d.c, HW = d.hw, N = d.n, cnt = N * HW;
    double s = 0.0;
    for (int64_t n = 0; n < N; n++) {
        const float *p = x + (n * C + c) * HW;
        float part = 0.f;
        for (int64_t i = threadIdx.x; i < HW; i += blockDim.x) part += p[i];
        s += part;
    }
    const double mean = block_sum(s, red) / (double)cnt;
    double ss = 0.0;
    for (int64_t n = 0; n < N; n++) {
        const float *p = x + (n * C + c) * HW;
        for (int64_t i = threadIdx.x; i < HW; i += blockDim.x) { double t = p[i] - mean; ss += t * t; }
    }
    const double sq = block_sum(ss, red);
    const double var = sq / (double)cnt, invstd = 1.0 / sqrt(var + (double)d.eps);
    if (threadIdx.x == 0) {
        save_mean[c] = (float)mean;
        save_invstd[c] = (float)invstd;
        double unbiased = cnt > 1 ? sq / (double)(cnt - 1) : var;
        rmean[c] = (float)((1.0 - d.momentum) * rmean[c] + d.momentum * mean);
        rvar[c] = (float)((1.0 - d.momentum) * rvar[c] + d.momentum * unbiased);
    }
    const float a = (float)(gamma[c] * invstd), b = (float)(beta[c] - gamma[c] * invstd * mean);
    for (int64_t n = 0; n < N; n++) {
        const float *p = x + (n * C + c) * HW;
        float *q = y + (n * C + c) * HW;
        for (int64_t i = threadIdx.x; i < HW; i += blockDim.x) q[i] = a * p[i] + b;
    }
}

CU_OP(batchnorm_fwd_train)(jp_ctx ctx, const jp_bn_desc *d, float *y, float *save_mean, float *save_invstd, float *running_mean,
                           float *running_var, const float *x, const float *gamma, const float *beta) {
    static const char *fn = "jp_batchnorm_fwd_train";
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_bn_train, dim3((unsigned)d->c), dim3(256), c->stream, *d, y, save_mean, save_invstd, running_mean, running_var, x, gamma, beta);
    LAUNCHED(fn);
}

__global__ void k_bn_infer(jp_bn_desc d, float *y, const float *x, const float *gamma, const float *beta, const float *rmean, const float *rvar, int64_t n) {
    JP_GRID_STRIDE(i, n) {
        int64_t c = (i / d.hw) % d.c;
        float invstd = 1.f / sqrtf(rvar[c] + d.eps), a = gamma[c] * invstd, b = beta[c] - a * rmean[c];
        y[i] = a * x[i] + b;
    }
}

CU_OP(batchnorm_fwd_infer)(jp_ctx ctx, const jp_bn_desc *d, float *y, const float *x, const float *gamma, const float *beta,
                           const float *running_mean, const float *running_var) {
    static const char *fn = "jp_batchnorm_fwd_infer";
    const int64_t n = (int64_t)d->n * d->c * d->hw;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_bn_infer, grid1d(c, n), dim3(256), c->stream, *d, y, x, gamma, beta, running_mean, running_var, n);
    LAUNCHED(fn);
}

__global__ void __launch_bounds__(256) k_bn_bwd(jp_bn_desc d, float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                                                const float *gamma, const float *save_mean, const float *save_invstd) {
    __shared__ double red[32];
    const int64_t c = blockIdx.x, C = d.c, HW = d.hw, N = d.n, cnt = N * HW;
    const double mean = save_mean[c], invstd = save_invstd[c];
    double sdy = 0.0, sdyx = 0.0;
    for (int64_t n = 0; n < N; n++) {
        const float *g = dy + (n * C + c) * HW, *p = x + (n * C + c) * HW;
        for (int64_t i = threadIdx.x; i < HW; i += blockDim.x) { sdy += g[i]; sdyx += g[i] * (p[i] - mean); }
    }
    sdy = block_sum(sdy, red);
    sdyx = block_sum(sdyx, red);
    if (threadIdx.x == 0) {
        dbeta[c] = (float)sdy;
        dgamma[c] = (float)(sdyx * invstd);
    }
    const double k = gamma[c] * invstd / (double)cnt, mxh = sdyx * invstd;
    for (int64_t n = 0; n < N; n++) {
        const float *g = dy + (n * C + c) * HW, *p = x + (n * C + c) * HW;
        float *q = dx + (n * C + c) * HW;
        for (int64_t i = threadIdx.x; i < HW; i += blockDim.x) {
            double xhat = (p[i] - mean) * invstd;
            q[i] = (float)(k * ((double)cnt * g[i] - sdy - xhat * mxh));
        }
    }
}

CU_OP(batchnorm_bwd)(jp_ctx ctx, const jp_bn_desc *d, float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                     const float *gamma, const float *save_mean, const float *save_invstd) {
    static const char *fn = "jp_batchnorm_bwd";
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_bn_bwd, dim3((unsigned)d->c), dim3(256), c->stream, *d, dx, dgamma, dbeta, dy, x, gamma, save_mean, save_invstd);
    LAUNCHED(fn);
}

/* ---------------- pooling, upsampling, channel copy ---------------- */


/* ties keep the first maximum in window order, as the CPU backend does */
__global__ void k_maxpool_fwd(jp_pool2d_desc d, int ho, int wo, float *y, int32_t *argmax, const float *x, int64_t n) {
    JP_GRID_STRIDE(t, n) {
        const int ow = (int)(t % wo), oh = (int)((t / wo) % ho);
        const int64_t plane = t / ((int64_t)wo * ho);
        const float *xp = x + plane * d.h * d.w;
        float best = -FLT_MAX;
        int32_t bi = -1;
        for (int i = 0; i < d.kernel; i++) {
            int ih = oh * d.stride - d.pad + i;
            if (ih < 0 || ih >= d.h) continue;
            for (int j = 0; j < d.kernel; j++) {
                int iw = ow * d.stride - d.pad + j;
                if (iw < 0 || iw >= d.w) continue;
                float v = xp[ih * d.w + iw];
                if (bi < 0 || v > best) { best = v; bi = ih * d.w + iw; }
            }
        }
        y[t] = best;
        argmax[t] = bi;
    }
}

/* the gradient gathered per input element from the windows that contain it (no atomics: windows
 * overlap when stride < kernel, and a fixed summation order keeps the result deterministic) */
__global__ void k_maxpool_bwd(jp_pool2d_desc d, int ho, int wo, float *dx, const float *dy, const int32_t *argmax, int64_t n) {
    JP_GRID_STRIDE(t, n) {
        const int iw = (int)(t % d.w), ih = (int)((t / d.w) % d.h);
        const int64_t plane = t / ((int64_t)d.w * d.h);
        const int32_t me = ih * d.w + iw;
        /* outputs whose window covers ih: oh*stride - pad <= ih <= oh*stride - pad + kernel - 1 */
        int oh0 = ih + d.pad - d.kernel + 1, ow0 = iw + d.pad - d.kernel + 1;
        oh0 = oh0 <= 0 ? 0 : (oh0 + d.stride - 1) / d.stride;
        ow0 = ow0 <= 0 ? 0 : (ow0 + d.stride - 1) / d.stride;
        int oh1 = (ih + d.pad) / d.stride, ow1 = (iw + d.pad) / d.stride;
        if (oh1 >= ho) oh1 = ho - 1;
        if (ow1 >= wo) ow1 = wo - 1;
        float acc = 0.f;
        const float *g = dy + plane * ho * wo;
        const int32_t *a = argmax + plane * ho * wo;
        for (int oh = oh0; oh <= oh1; oh++)
            for (int ow = ow0; ow <= ow1; ow++)
                if (a[oh * wo + ow] == me) acc += g[oh * wo + ow];
        dx[t] = acc;
    }
}

CU_OP(maxpool2d_fwd)(jp_ctx ctx, const jp_pool2d_desc *d, float *y, int32_t *argmax, const float *x) {
    static const char *fn = "jp_maxpool2d_fwd";
    int ho, wo;
    jp_pool_out(d, &ho, &wo);
    const int64_t n = (int64_t)d->n * d->c * ho * wo;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_maxpool_fwd, grid1d(c, n), dim3(256), c->stream, *d, ho, wo, y, argmax, x, n);
    LAUNCHED(fn);
}

CU_OP(maxpool2d_bwd)(jp_ctx ctx, const jp_pool2d_desc *d, float *dx, const float *dy, const int32_t *argmax) {
    static const char *fn = "jp_maxpool2d_bwd";
    int ho, wo;
    jp_pool_out(d, &ho, &wo);
    const int64_t n = (int64_t)d->n * d->c * d->h * d->w;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_maxpool_bwd, grid1d(c, n), dim3(256), c->stream, *d, ho, wo, dx, dy, argmax, n);
    LAUNCHED(fn);
}

__global__ void k_upsample_fwd(float *y, const float *x, int h, int w, int scale, int64_t n) {
    const int64_t W2 = (int64_t)w * scale, H2 = (int64_t)h * scale;
    JP_GRID_STRIDE(t, n) {
        int64_t ow = t % W2, oh = (t / W2) % H2, p = t / (W2 * H2);
        y[t] = x[(p * h + oh / scale) * w + ow / scale];
    }
}
__global__ void k_upsample_bwd(float *dx, const float *dy, int h, int w, int scale, int64_t n) {
    const int64_t W2 = (int64_t)w * scale, H2 = (int64_t)h * scale;
    JP_GRID_STRIDE(t, n) {
        int64_t iw = t % w, ih = (t / w) % h, p = t / ((int64_t)w * h);
        const float *g = dy + p * H2 * W2;
        float acc = 0.f;
        for (int a = 0; a < scale; a++)
            for (int b = 0; b < scale; b++) acc += g[(ih * scale + a) * W2 + iw * scale + b];
        dx[t] = acc;
    }
}


CU_OP(upsample_nearest_fwd)(jp_ctx ctx, float *y, const float *x, int32_t n, int32_t ch, int32_t h, int32_t w, int32_t scale) {
    static const char *fn = "jp_upsample_nearest_fwd";
    const int64_t total = (int64_t)n * ch * h * w * scale * scale;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_upsample_fwd, grid1d(c, total), dim3(256), c->stream, y, x, h, w, scale, total);
    LAUNCHED(fn);
}
CU_OP(upsample_nearest_bwd)(jp_ctx ctx, float *dx, const float *dy, int32_t n, int32_t ch, int32_t h, int32_t w, int32_t scale) {
    static const char *fn = "jp_upsample_nearest_bwd";
    const int64_t total = (int64_t)n * ch * h * w;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_upsample_bwd, grid1d(c, total), dim3(256), c->stream, dx, dy, h, w, scale, total);
    LAUNCHED(fn);
}

__global__ void k_channel_copy(float *dst, int64_t dst_channels, int64_t dst_off, const float *src, int64_t src_channels, int64_t src_off,
                               int64_t count, int64_t inner, int64_t n) {
    const int64_t row = count * inner;
    JP_GRID_STRIDE(t, n) {
        int64_t o = t / row, r = t % row;
        dst[(o * dst_channels + dst_off) * inner + r] = src[(o * src_channels + src_off) * inner + r];
    }
}

CU_OP(channel_copy)(jp_ctx ctx, float *dst, int64_t dst_channels, int64_t dst_off, const float *src, int64_t src_channels, int64_t src_off,
                    int64_t count, int64_t outer, int64_t inner) {
    static const char *fn = "jp_channel_copy";
    const int64_t n = outer * count * inner;
    if (!n) return JP_OK;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_channel_copy, grid1d(c, n), dim3(256), c->stream, dst, dst_channels, dst_off, src, src_channels, src_off, count, inner, n);
    LAUNCHED(fn);
}

/* ---------------- whole-tensor reductions ---------------- */

#define REDUCE_BLOCKS 120

__global__ void k_reduce_partial(int kind, double *partial, const float *x, int64_t n) {
    __shared__ double red[32];
    double acc = 0.0;
    float part = 0.f;
    int count = 0;
    JP_GRID_STRIDE(i, n) {
        float v = x[i];
        if (kind == JP_REDUCE_ABSMAX) part = fmaxf(part, fabsf(v));
        else part += kind == JP_REDUCE_SUMSQ ? v * v : v;
        if (++count == 256 && kind != JP_REDUCE_ABSMAX) { acc += part; part = 0.f; count = 0; }
    }
    if (kind == JP_REDUCE_ABSMAX) {
        /* max is exact in any order: a shuffle tree, then the warps' maxima */
        float m = part;
        for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_down_sync(0xffffffffu, m, o));
        __shared__ float wmax[32];
        if (threadIdx.x % 32 == 0) wmax[threadIdx.x / 32] = m;
        __syncthreads();
        if (threadIdx.x == 0) {
            float r = 0.f;
            for (unsigned w = 0; w < blockDim.x / 32; w++) r = fmaxf(r, wmax[w]);
            partial[blockIdx.x] = r;
        }
        return;
    }
    acc += part;
    double s = block_sum(acc, red);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

__global__ void k_reduce_final(int kind, float *out, const double *partial, int blocks) {
    if (threadIdx.x != 0) return;
    double acc = 0.0;
    for (int b = 0; b < blocks; b++) acc = kind == JP_REDUCE_ABSMAX ? (partial[b] > acc ? partial[b] : acc) : acc + partial[b];
    *out = (float)acc;
}

CU_OP(reduce)(jp_ctx ctx, int32_t kind, float *out, const float *x, int64_t n) {
    static const char *fn = "jp_reduce";
    Ctx *c = impl(ctx);
    /* a fixed block count (not the GPU's size) keeps the summation order, and so the bits, the same on every GPU */
    int blocks = (int)((n + 255) / 256);
    if (blocks > REDUCE_BLOCKS) blocks = REDUCE_BLOCKS;
    if (blocks < 1) blocks = 1;
    Scratch partial(c, sizeof(double) * REDUCE_BLOCKS);
    if (!partial.p) return jp_fail(JP_ERR_NO_MEMORY, fn, "no device memory for %d partial sums", blocks);
    JP_LAUNCH(k_reduce_partial, dim3((unsigned)blocks), dim3(256), c->stream, kind, partial.as<double>(), x, n);
    JP_LAUNCH(k_reduce_final, dim3(1), dim3(32), c->stream, kind, out, partial.as<double>(), blocks);
    LAUNCHED(fn);
}

/* ---------------- optimizers (formulas as the CPU backend's) ---------------- */

__global__ void k_sgd(jp_sgd_desc d, float *param, float *buf, const float *grad, const float *mask, int64_t n) {
    JP_GRID_STRIDE(i, n) jp_sgd_update(&d, i, param, buf, grad, mask);
}

CU_OP(sgd_step)(jp_ctx ctx, const jp_sgd_desc *d, float *param, float *buf, const float *grad, const float *mask, int64_t n) {
    static const char *fn = "jp_sgd_step";
    if (!n) return JP_OK;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_sgd, grid1d(c, n), dim3(256), c->stream, *d, param, buf, grad, mask, n);
    LAUNCHED(fn);
}

__global__ void k_adamw(jp_adamw_desc d, float c1, float c2, float *param, float *m, float *v, const float *grad, const float *mask, int64_t n) {
    JP_GRID_STRIDE(i, n) jp_adamw_update(&d, c1, c2, i, param, m, v, grad, mask);
}

CU_OP(adamw_step)(jp_ctx ctx, const jp_adamw_desc *d, float *param, float *m, float *v, const float *grad, const float *mask, int64_t n) {
    static const char *fn = "jp_adamw_step";
    if (!n) return JP_OK;
    /* bias corrections on the host in float, as the CPU backend computes them */
    const float c1 = jp_adamw_correction(d->beta1, d->step), c2 = jp_adamw_correction(d->beta2, d->step);
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_adamw, grid1d(c, n), dim3(256), c->stream, *d, c1, c2, param, m, v, grad, mask, n);
    LAUNCHED(fn);
}
