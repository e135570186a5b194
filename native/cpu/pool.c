/* Max pooling, nearest upsampling and channel copy (concat/split) for the CPU backend. */
#include "cpu.h"
#include <float.h>
#include <string.h>


CPU_OP(maxpool2d_fwd)(jp_ctx ctx, const jp_pool2d_desc *d, float *y, int32_t *argmax, const float *x) {
    static const char *fn = "jp_maxpool2d_fwd";
    int ho = 0, wo = 0;
    jp_status st = jp_check_pool(fn, d, &ho, &wo);
    if (st) return st;
    JP_CHECK(y && argmax && x, fn, "y, argmax or x is NULL");
    const int H = d->h, W = d->w;
#pragma omp parallel for collapse(2) num_threads(jp_team(ctx)) if (jp_team(ctx) > 1) schedule(static)
    for (int n = 0; n < d->n; n++)
        for (int c = 0; c < d->c; c++) {
            const float *xp = x + ((size_t)n * d->c + c) * H * W;
            float *yp = y + ((size_t)n * d->c + c) * ho * wo;
            int32_t *ap = argmax + ((size_t)n * d->c + c) * ho * wo;
            for (int oh = 0; oh < ho; oh++)
                for (int ow = 0; ow < wo; ow++) {
                    float best = -FLT_MAX;
                    int32_t bi = -1;
                    for (int i = 0; i < d->kernel; i++) {
                        int ih = oh * d->stride - d->pad + i;
                        if (ih < 0 || ih >= H) continue;
                        for (int j = 0; j < d->kernel; j++) {
                            int iw = ow * d->stride - d->pad + j;
                            if (iw < 0 || iw >= W) continue;
                            float v = xp[ih * W + iw];
                            if (bi < 0 || v > best) { best = v; bi = ih * W + iw; }
                        }
                    }
                    yp[oh * wo + ow] = best;
                    ap[oh * wo + ow] = bi;
                }
        }
    return JP_OK;
}

CPU_OP(maxpool2d_bwd)(jp_ctx ctx, const jp_pool2d_desc *d, float *dx, const float *dy, const int32_t *argmax) {
    static const char *fn = "jp_maxpool2d_bwd";
    int ho = 0, wo = 0;
    jp_status st = jp_check_pool(fn, d, &ho, &wo);
    if (st) return st;
    JP_CHECK(dx && dy && argmax, fn, "dx, dy or argmax is NULL");
    const size_t HW = (size_t)d->h * d->w, P = (size_t)ho * wo;
#pragma omp parallel for collapse(2) num_threads(jp_team(ctx)) if (jp_team(ctx) > 1) schedule(static)
    for (int n = 0; n < d->n; n++)
        for (int c = 0; c < d->c; c++) {
            float *xp = dx + ((size_t)n * d->c + c) * HW;
            const float *gp = dy + ((size_t)n * d->c + c) * P;
            const int32_t *ap = argmax + ((size_t)n * d->c + c) * P;
            memset(xp, 0, HW * sizeof(float));
            for (size_t p = 0; p < P; p++)
                if (ap[p] >= 0 && (size_t)ap[p] < HW) xp[ap[p]] += gp[p];
        }
    return JP_OK;
}


CPU_OP(upsample_nearest_fwd)(jp_ctx ctx, float *y, const float *x, int32_t n, int32_t c, int32_t h, int32_t w, int32_t scale) {
    static const char *fn = "jp_upsample_nearest_fwd";
    jp_status st = jp_check_upsample(fn, n, c, h, w, scale);
    if (st) return st;
    JP_CHECK(y && x, fn, "y or x is NULL");
    const int64_t planes = (int64_t)n * c, W2 = (int64_t)w * scale, H2 = (int64_t)h * scale;
#pragma omp parallel for num_threads(jp_team(ctx)) if (jp_team(ctx) > 1) schedule(static)
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = x + p * h * w;
        float *yp = y + p * H2 * W2;
        for (int64_t oh = 0; oh < H2; oh++) {
            const float *xr = xp + (oh / scale) * w;
            float *yr = yp + oh * W2;
            for (int64_t ow = 0; ow < W2; ow++) yr[ow] = xr[ow / scale];
        }
    }
    return JP_OK;
}

CPU_OP(upsample_nearest_bwd)(jp_ctx ctx, float *dx, const float *dy, int32_t n, int32_t c, int32_t h, int32_t w, int32_t scale) {
    static const char *fn = "jp_upsample_nearest_bwd";
    jp_status st = jp_check_upsample(fn, n, c, h, w, scale);
    if (st) return st;
    JP_CHECK(dx && dy, fn, "dx or dy is NULL");
    const int64_t planes = (int64_t)n * c, W2 = (int64_t)w * scale, H2 = (int64_t)h * scale;
#pragma omp parallel for num_threads(jp_team(ctx)) if (jp_team(ctx) > 1) schedule(static)
    for (int64_t p = 0; p < planes; p++) {
        float *xp = dx + p * h * w;
        const float *yp = dy + p * H2 * W2;
        memset(xp, 0, (size_t)h * w * sizeof(float));
        for (int64_t oh = 0; oh < H2; oh++) {
            float *xr = xp + (oh / scale) * w;
            const float *yr = yp + oh * W2;
            for (int64_t ow = 0; ow < W2; ow++) xr[ow / scale] += yr[ow];
        }
    }
    return JP_OK;
}

CPU_OP(channel_copy)(jp_ctx ctx, float *dst, int64_t dst_channels, int64_t dst_off, const float *src, int64_t src_channels,
                     int64_t src_off, int64_t count, int64_t outer, int64_t inner) {
    static const char *fn = "jp_channel_copy";
    JP_CHECK(outer >= 0 && inner >= 0 && count >= 0, fn, "negative size outer=%lld inner=%lld count=%lld",
             (long long)outer, (long long)inner, (long long)count);
    JP_CHECK(dst_off >= 0 && dst_off + count <= dst_channels && src_off >= 0 && src_off + count <= src_channels, fn,
             "channel range out of bounds: dst [%lld, %lld) of %lld, src [%lld, %lld) of %lld", (long long)dst_off,
             (long long)(dst_off + count), (long long)dst_channels, (long long)src_off, (long long)(src_off + count), (long long)src_channels);
    JP_CHECK((dst && src) || outer * count * inner == 0, fn, "dst or src is NULL");
#pragma omp parallel for num_threads(jp_team(ctx)) if (jp_team(ctx) > 1 && outer * count * inner > 65536) schedule(static)
    for (int64_t o = 0; o < outer; o++)
        memcpy(dst + (o * dst_channels + dst_off) * inner, src + (o * src_channels + src_off) * inner, (size_t)(count * inner) * sizeof(float));
    return JP_OK;
}
