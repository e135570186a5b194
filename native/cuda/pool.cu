/* pool.cu - max pooling, nearest upsampling and channel copy of the CUDA backend (the CPU's pool.c). */
#include "common.cuh"

#include <cfloat>

using namespace jpcuda;

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
