/* Argument checks every backend shares (compiled into libjprune and into each plugin). */
#include "internal.h"
#include <math.h>

jp_status jp_check_conv2d(const char *fn, const jp_conv2d_desc *d) {
    JP_CHECK_PTR(d, fn);
    JP_CHECK(d->n > 0 && d->c > 0 && d->h > 0 && d->w > 0 && d->k > 0 && d->r > 0 && d->s > 0, fn,
             "sizes must be positive (n=%d c=%d h=%d w=%d k=%d r=%d s=%d)", d->n, d->c, d->h, d->w, d->k, d->r, d->s);
    JP_CHECK(d->stride_h > 0 && d->stride_w > 0 && d->dil_h > 0 && d->dil_w > 0, fn,
             "stride and dilation must be positive (stride %dx%d, dilation %dx%d)", d->stride_h, d->stride_w, d->dil_h, d->dil_w);
    JP_CHECK(d->pad_h >= 0 && d->pad_w >= 0, fn, "padding must be >= 0 (%d, %d)", d->pad_h, d->pad_w);
    JP_CHECK(d->groups > 0 && d->c % d->groups == 0 && d->k % d->groups == 0, fn,
             "groups=%d must divide c=%d and k=%d", d->groups, d->c, d->k);
    JP_CHECK(jp_conv_out_h(d) > 0 && jp_conv_out_w(d) > 0, fn, "empty output (%dx%d) for input %dx%d kernel %dx%d",
             jp_conv_out_h(d), jp_conv_out_w(d), d->h, d->w, d->r, d->s);
    return JP_OK;
}

jp_status jp_check_act(const char *fn, int32_t kind) {
    JP_CHECK(kind >= JP_ACT_IDENTITY && kind <= JP_ACT_SILU, fn, "unknown activation kind %d", kind);
    return JP_OK;
}

jp_status jp_check_conv_act(const char *fn, int32_t act, float alpha) {
    jp_status st = jp_check_act(fn, act);
    if (st) return st;
    JP_CHECK(act != JP_ACT_LEAKY_RELU || isfinite(alpha), fn, "leaky ReLU slope is not finite");
    return JP_OK;
}

jp_status jp_check_index_list(const char *fn, const char *what, const int32_t *idx, int32_t n, int32_t limit) {
    JP_CHECK(n >= 0 && n <= limit, fn, "%s: count %d outside [0, %d]", what, n, limit);
    JP_CHECK(n == 0 || idx != NULL, fn, "%s is NULL with count %d", what, n);
    for (int32_t i = 0; i < n; i++) {
        JP_CHECK(idx[i] >= 0 && idx[i] < limit, fn, "%s[%d] = %d outside [0, %d)", what, i, idx[i], limit);
        JP_CHECK(i == 0 || idx[i] > idx[i - 1], fn, "%s must be strictly increasing (%s[%d]=%d after %d)", what, what, i, idx[i], idx[i - 1]);
    }
    return JP_OK;
}

jp_status jp_check_oci(const char *fn, int64_t outer, int64_t channels, int64_t inner) {
    JP_CHECK(outer >= 0 && channels >= 0 && inner >= 0, fn, "negative size outer=%lld channels=%lld inner=%lld",
             (long long)outer, (long long)channels, (long long)inner);
    return JP_OK;
}

jp_status jp_check_bn(const char *fn, const jp_bn_desc *d) {
    JP_CHECK_PTR(d, fn);
    JP_CHECK(d->n > 0 && d->c > 0 && d->hw > 0, fn, "sizes must be positive (n=%d c=%d hw=%d)", d->n, d->c, d->hw);
    JP_CHECK(d->eps > 0.f, fn, "eps must be > 0 (got %g)", d->eps);
    JP_CHECK(d->momentum >= 0.f && d->momentum <= 1.f, fn, "momentum must be in [0, 1] (got %g)", d->momentum);
    return JP_OK;
}

jp_status jp_check_pool(const char *fn, const jp_pool2d_desc *d, int *ho, int *wo) {
    JP_CHECK_PTR(d, fn);
    JP_CHECK(d->n > 0 && d->c > 0 && d->h > 0 && d->w > 0, fn, "sizes must be positive (n=%d c=%d h=%d w=%d)", d->n, d->c, d->h, d->w);
    JP_CHECK(d->kernel > 0 && d->stride > 0 && d->pad >= 0 && d->pad_end >= 0 && d->pad < d->kernel && d->pad_end < d->kernel, fn,
             "bad kernel=%d stride=%d pad=%d pad_end=%d (each pad must be < kernel)", d->kernel, d->stride, d->pad, d->pad_end);
    *ho = (d->h + d->pad + d->pad_end - d->kernel) / d->stride + 1;
    *wo = (d->w + d->pad + d->pad_end - d->kernel) / d->stride + 1;
    JP_CHECK(*ho > 0 && *wo > 0, fn, "empty output for %dx%d input, kernel %d", d->h, d->w, d->kernel);
    return JP_OK;
}

jp_status jp_check_upsample(const char *fn, int32_t n, int32_t c, int32_t h, int32_t w, int32_t scale) {
    JP_CHECK(n > 0 && c > 0 && h > 0 && w > 0 && scale > 0, fn, "sizes must be positive (n=%d c=%d h=%d w=%d scale=%d)", n, c, h, w, scale);
    return JP_OK;
}
