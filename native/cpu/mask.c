/* Channel-mask kernels on data viewed as [outer][channels][inner]: masking, per-channel norms,
 * group-regularization gradients and channel gather/scatter (compaction). Memory-bound loops: the
 * measure is GB/s against memcpy (bench rows "mask"). */
#include "cpu.h"
#include <math.h>
#include <string.h>


CPU_OP(mask_channels)(jp_ctx ctx, float *data, const float *mask, int64_t outer, int64_t channels, int64_t inner) {
    JP_PARFOR(jp_team(ctx), outer * channels, outer * channels * inner, oc, {
        float m = mask[oc % channels], *p = data + oc * inner;
        if (m == 0.f) memset(p, 0, (size_t)inner * sizeof(float));
        else if (m != 1.f) for (int64_t i = 0; i < inner; i++) p[i] *= m;
    });
    return JP_OK;
}

CPU_OP(channel_norms)(jp_ctx ctx, float *out, const float *data, int64_t outer, int64_t channels, int64_t inner, int32_t p) {
    JP_PARFOR(jp_team(ctx), channels, outer * channels * inner, c, {
        double acc = 0;
        for (int64_t o = 0; o < outer; o++) {
            const float *q = data + (o * channels + c) * inner;
            acc += p == 1 ? jp_sumabs_f(q, inner) : jp_sumsq_f(q, inner);
        }
        out[c] = (float)(p == 1 ? acc : sqrt(acc));
    });
    return JP_OK;
}

CPU_OP(group_reg_grad)(jp_ctx ctx, float *grad, const float *data, const float *scale, float lambda,
                       int64_t outer, int64_t channels, int64_t inner) {
    JP_PARFOR(jp_team(ctx), outer * channels, outer * channels * inner, oc, {
        const float f = lambda * scale[oc % channels];
        float *g = grad + oc * inner;
        const float *w = data + oc * inner;
        for (int64_t i = 0; i < inner; i++) g[i] += f * w[i];
    });
    return JP_OK;
}

/* the dispatcher checked the count and the pointers; the values are read here anyway */
static jp_status check_idx(const char *fn, const int32_t *idx, int32_t n_idx, int64_t channels) {
    for (int32_t j = 0; j < n_idx; j++)
        JP_CHECK(idx[j] >= 0 && idx[j] < channels, fn, "idx[%d] = %d outside [0, %lld)", j, idx[j], (long long)channels);
    return JP_OK;
}

CPU_OP(gather_channels)(jp_ctx ctx, float *dst, const float *src, const int32_t *idx, int32_t n_idx,
                        int64_t outer, int64_t channels, int64_t inner) {
    static const char *fn = "jp_gather_channels";
    jp_status st = check_idx(fn, idx, n_idx, channels);
    if (st) return st;
    JP_PARFOR(jp_team(ctx), outer * n_idx, outer * n_idx * inner, oj, {
        int64_t o = oj / n_idx, j = oj % n_idx;
        memcpy(dst + oj * inner, src + (o * channels + idx[j]) * inner, (size_t)inner * sizeof(float));
    });
    return JP_OK;
}

CPU_OP(scatter_channels)(jp_ctx ctx, float *dst, const float *src, const int32_t *idx, int32_t n_idx,
                         int64_t outer, int64_t channels, int64_t inner) {
    static const char *fn = "jp_scatter_channels";
    jp_status st = check_idx(fn, idx, n_idx, channels);
    if (st) return st;
    JP_PARFOR(jp_team(ctx), outer * n_idx, outer * n_idx * inner, oj, {
        int64_t o = oj / n_idx, j = oj % n_idx;
        memcpy(dst + (o * channels + idx[j]) * inner, src + oj * inner, (size_t)inner * sizeof(float));
    });
    return JP_OK;
}
