/* Channel-mask kernels on data viewed as [outer][channels][inner]: masking, per-channel norms,
 * group-regularization gradients and channel gather/scatter (compaction). Memory-bound loops: the
 * measure is GB/s against memcpy (bench rows "mask"). */
#include "cpu.h"
#include <math.h>
#include <string.h>

#define PAR(nt, work) num_threads(nt) if ((nt) > 1 && (work) > 65536)

static jp_status check_oci(const char *fn, int64_t outer, int64_t channels, int64_t inner) {
    JP_CHECK(outer >= 0 && channels >= 0 && inner >= 0, fn, "negative size outer=%lld channels=%lld inner=%lld",
             (long long)outer, (long long)channels, (long long)inner);
    return JP_OK;
}

CPU_OP(mask_channels)(jp_ctx ctx, float *data, const float *mask, int64_t outer, int64_t channels, int64_t inner) {
    static const char *fn = "jp_mask_channels";
    jp_status st = check_oci(fn, outer, channels, inner);
    if (st) return st;
    JP_CHECK(data && mask, fn, "data or mask is NULL");
#pragma omp parallel for collapse(2) PAR(ctx->threads, outer * channels * inner) schedule(static)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < channels; c++) {
            float m = mask[c], *p = data + (o * channels + c) * inner;
            if (m == 0.f) memset(p, 0, (size_t)inner * sizeof(float));
            else if (m != 1.f) for (int64_t i = 0; i < inner; i++) p[i] *= m;
        }
    return JP_OK;
}

CPU_OP(channel_norms)(jp_ctx ctx, float *out, const float *data, int64_t outer, int64_t channels, int64_t inner, int32_t p) {
    static const char *fn = "jp_channel_norms";
    jp_status st = check_oci(fn, outer, channels, inner);
    if (st) return st;
    JP_CHECK(out && data, fn, "out or data is NULL");
    JP_CHECK(p == 1 || p == 2, fn, "p must be 1 or 2 (got %d)", p);
#pragma omp parallel for PAR(ctx->threads, outer * channels * inner) schedule(static)
    for (int64_t c = 0; c < channels; c++) {
        double acc = 0;
        for (int64_t o = 0; o < outer; o++) {
            const float *q = data + (o * channels + c) * inner;
            float part = 0.f;
            if (p == 1) for (int64_t i = 0; i < inner; i++) part += fabsf(q[i]);
            else for (int64_t i = 0; i < inner; i++) part += q[i] * q[i];
            acc += part;
        }
        out[c] = (float)(p == 1 ? acc : sqrt(acc));
    }
    return JP_OK;
}

CPU_OP(group_reg_grad)(jp_ctx ctx, float *grad, const float *data, const float *scale, float lambda,
                       int64_t outer, int64_t channels, int64_t inner) {
    static const char *fn = "jp_group_reg_grad";
    jp_status st = check_oci(fn, outer, channels, inner);
    if (st) return st;
    JP_CHECK(grad && data && scale, fn, "grad, data or scale is NULL");
#pragma omp parallel for collapse(2) PAR(ctx->threads, outer * channels * inner) schedule(static)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < channels; c++) {
            const float f = lambda * scale[c];
            float *g = grad + (o * channels + c) * inner;
            const float *w = data + (o * channels + c) * inner;
            for (int64_t i = 0; i < inner; i++) g[i] += f * w[i];
        }
    return JP_OK;
}

static jp_status check_idx(const char *fn, const int32_t *idx, int32_t n_idx, int64_t channels) {
    JP_CHECK(n_idx >= 0, fn, "n_idx must be >= 0 (got %d)", n_idx);
    JP_CHECK(n_idx == 0 || idx, fn, "idx is NULL with n_idx %d", n_idx);
    for (int32_t j = 0; j < n_idx; j++)
        JP_CHECK(idx[j] >= 0 && idx[j] < channels, fn, "idx[%d] = %d outside [0, %lld)", j, idx[j], (long long)channels);
    return JP_OK;
}

CPU_OP(gather_channels)(jp_ctx ctx, float *dst, const float *src, const int32_t *idx, int32_t n_idx,
                        int64_t outer, int64_t channels, int64_t inner) {
    static const char *fn = "jp_gather_channels";
    jp_status st = check_oci(fn, outer, channels, inner);
    if (st || (st = check_idx(fn, idx, n_idx, channels))) return st;
    JP_CHECK((dst && src) || outer * inner * n_idx == 0, fn, "dst or src is NULL");
#pragma omp parallel for collapse(2) PAR(ctx->threads, outer * n_idx * inner) schedule(static)
    for (int64_t o = 0; o < outer; o++)
        for (int32_t j = 0; j < n_idx; j++)
            memcpy(dst + (o * n_idx + j) * inner, src + (o * channels + idx[j]) * inner, (size_t)inner * sizeof(float));
    return JP_OK;
}

CPU_OP(scatter_channels)(jp_ctx ctx, float *dst, const float *src, const int32_t *idx, int32_t n_idx,
                         int64_t outer, int64_t channels, int64_t inner) {
    static const char *fn = "jp_scatter_channels";
    jp_status st = check_oci(fn, outer, channels, inner);
    if (st || (st = check_idx(fn, idx, n_idx, channels))) return st;
    JP_CHECK((dst && src) || outer * inner * n_idx == 0, fn, "dst or src is NULL");
#pragma omp parallel for collapse(2) PAR(ctx->threads, outer * n_idx * inner) schedule(static)
    for (int64_t o = 0; o < outer; o++)
        for (int32_t j = 0; j < n_idx; j++)
            memcpy(dst + (o * channels + idx[j]) * inner, src + (o * n_idx + j) * inner, (size_t)inner * sizeof(float));
    return JP_OK;
}
