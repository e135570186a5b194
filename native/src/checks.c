/* Argument checks, run once by the dispatcher (runtime.c) before any backend sees the call: the
 * fourth column of ops.def names each op's check. They read only the arguments and descriptors,
 * never the buffers, which may live on a device; what needs the data itself (the CPU backend
 * validating index lists and CSR row pointers it reads anyway) stays in that backend. Also compiled
 * into each plugin for the helpers below the per-op checks. */
#include "internal.h"
#include <math.h>

/* ---------------- shared helpers ---------------- */

static jp_status check_conv2d(const char *fn, const jp_conv2d_desc *d) {
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

static jp_status check_act(const char *fn, int32_t kind) {
    JP_CHECK(kind >= JP_ACT_IDENTITY && kind <= JP_ACT_SIGMOID, fn, "unknown activation kind %d", kind);
    return JP_OK;
}

static jp_status check_index_count(const char *fn, const char *what, const int32_t *idx, int32_t n, int32_t limit) {
    JP_CHECK(n >= 0 && n <= limit, fn, "%s: count %d outside [0, %d]", what, n, limit);
    JP_CHECK(n == 0 || idx != NULL, fn, "%s is NULL with count %d", what, n);
    return JP_OK;
}

jp_status jp_check_index_values(const char *fn, const char *what, const int32_t *idx, int32_t n, int32_t limit) {
    for (int32_t i = 0; i < n; i++) {
        JP_CHECK(idx[i] >= 0 && idx[i] < limit, fn, "%s[%d] = %d outside [0, %d)", what, i, idx[i], limit);
        JP_CHECK(i == 0 || idx[i] > idx[i - 1], fn, "%s must be strictly increasing (%s[%d]=%d after %d)", what, what, i, idx[i], idx[i - 1]);
    }
    return JP_OK;
}

static jp_status check_oci(const char *fn, int64_t outer, int64_t channels, int64_t inner) {
    JP_CHECK(outer >= 0 && channels >= 0 && inner >= 0, fn, "negative size outer=%lld channels=%lld inner=%lld",
             (long long)outer, (long long)channels, (long long)inner);
    return JP_OK;
}

static jp_status check_bn(const char *fn, const jp_bn_desc *d) {
    JP_CHECK_PTR(d, fn);
    JP_CHECK(d->n > 0 && d->c > 0 && d->hw > 0, fn, "sizes must be positive (n=%d c=%d hw=%d)", d->n, d->c, d->hw);
    JP_CHECK(d->eps > 0.f, fn, "eps must be > 0 (got %g)", d->eps);
    JP_CHECK(d->momentum >= 0.f && d->momentum <= 1.f, fn, "momentum must be in [0, 1] (got %g)", d->momentum);
    return JP_OK;
}

void jp_pool_out(const jp_pool2d_desc *d, int *ho, int *wo) {
    *ho = (d->h + d->pad + d->pad_end - d->kernel) / d->stride + 1;
    *wo = (d->w + d->pad + d->pad_end - d->kernel) / d->stride + 1;
}

static jp_status check_pool(const char *fn, const jp_pool2d_desc *d) {
    JP_CHECK_PTR(d, fn);
    JP_CHECK(d->n > 0 && d->c > 0 && d->h > 0 && d->w > 0, fn, "sizes must be positive (n=%d c=%d h=%d w=%d)", d->n, d->c, d->h, d->w);
    JP_CHECK(d->kernel > 0 && d->stride > 0 && d->pad >= 0 && d->pad_end >= 0 && d->pad < d->kernel && d->pad_end < d->kernel, fn,
             "bad kernel=%d stride=%d pad=%d pad_end=%d (each pad must be < kernel)", d->kernel, d->stride, d->pad, d->pad_end);
    int ho, wo;
    jp_pool_out(d, &ho, &wo);
    JP_CHECK(ho > 0 && wo > 0, fn, "empty output for %dx%d input, kernel %d", d->h, d->w, d->kernel);
    return JP_OK;
}

static jp_status check_upsample(const char *fn, int32_t n, int32_t c, int32_t h, int32_t w, int32_t scale) {
    JP_CHECK(n > 0 && c > 0 && h > 0 && w > 0 && scale > 0, fn, "sizes must be positive (n=%d c=%d h=%d w=%d scale=%d)", n, c, h, w, scale);
    return JP_OK;
}

#define CHECK_N(fn, n) JP_CHECK((n) >= 0, fn, "n must be >= 0 (got %lld)", (long long)(n))
#define TRY(expr) do { jp_status st_ = (expr); if (st_) return st_; } while (0)

/* ---------------- per-op checks (ops.def, fourth column) ---------------- */

jp_status jp_chk_none(const char *fn, jp_ctx ctx, ...) { (void)fn; (void)ctx; return JP_OK; }

jp_status jp_chk_malloc(const char *fn, jp_ctx ctx, int64_t bytes, void **out_host) {
    (void)ctx;
    JP_CHECK(out_host, fn, "out_host is NULL");
    JP_CHECK(bytes >= 0, fn, "bytes must be >= 0 (got %lld)", (long long)bytes);
    return JP_OK;
}

jp_status jp_chk_copy(const char *fn, jp_ctx ctx, void *dst, const void *src, int64_t bytes) {
    (void)ctx;
    JP_CHECK(bytes >= 0, fn, "bytes must be >= 0 (got %lld)", (long long)bytes);
    JP_CHECK((dst && src) || bytes == 0, fn, "dst or src is NULL");
    return JP_OK;
}

jp_status jp_chk_fill(const char *fn, jp_ctx ctx, float *dst, float value, int64_t n) {
    (void)ctx; (void)value;
    CHECK_N(fn, n);
    JP_CHECK(dst || n == 0, fn, "dst is NULL");
    return JP_OK;
}

jp_status jp_chk_mem_stats(const char *fn, jp_ctx ctx, int64_t *in_use_host, int64_t *reserved_host) {
    (void)ctx;
    JP_CHECK(in_use_host && reserved_host, fn, "in_use_host or reserved_host is NULL");
    return JP_OK;
}

jp_status jp_chk_sgemm(const char *fn, jp_ctx ctx, const jp_gemm_desc *d, float *c, const float *a, const float *b) {
    (void)ctx;
    JP_CHECK_PTR(d, fn);
    JP_CHECK(d->m >= 0 && d->n >= 0 && d->k >= 0, fn, "negative size m=%d n=%d k=%d", d->m, d->n, d->k);
    const int cols_a = d->trans_a ? d->m : d->k, cols_b = d->trans_b ? d->k : d->n;
    JP_CHECK(d->lda >= (cols_a > 1 ? cols_a : 1) && d->ldb >= (cols_b > 1 ? cols_b : 1) && d->ldc >= (d->n > 1 ? d->n : 1), fn,
             "leading dimensions too small (lda=%d ldb=%d ldc=%d for m=%d n=%d k=%d)", d->lda, d->ldb, d->ldc, d->m, d->n, d->k);
    if (d->m == 0 || d->n == 0) return JP_OK;
    JP_CHECK_PTR(c, fn);
    JP_CHECK(d->k == 0 || (a && b), fn, "a or b is NULL");
    return JP_OK;
}

jp_status jp_chk_conv2d_fwd(const char *fn, jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const float *w,
                            const float *bias) {
    (void)ctx; (void)bias;
    TRY(check_conv2d(fn, d));
    JP_CHECK(y && x && w, fn, "y, x or w is NULL");
    return JP_OK;
}

jp_status jp_chk_conv2d_fwd_act(const char *fn, jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const float *w,
                                const float *bias, int32_t act, float alpha) {
    TRY(check_act(fn, act));
    JP_CHECK(act != JP_ACT_LEAKY_RELU || isfinite(alpha), fn, "leaky ReLU slope is not finite");
    return jp_chk_conv2d_fwd(fn, ctx, d, y, x, w, bias);
}

jp_status jp_chk_conv2d_packed_size(const char *fn, jp_ctx ctx, const jp_conv2d_desc *d, int64_t *floats_host) {
    (void)ctx;
    TRY(check_conv2d(fn, d));
    JP_CHECK(floats_host, fn, "floats_host is NULL");
    return JP_OK;
}

jp_status jp_chk_conv2d_pack(const char *fn, jp_ctx ctx, const jp_conv2d_desc *d, float *packed, int64_t floats, const float *w) {
    (void)ctx;
    TRY(check_conv2d(fn, d));
    JP_CHECK(packed && w, fn, "packed or w is NULL");
    JP_CHECK(floats > 0, fn, "floats must be > 0 (got %lld)", (long long)floats);
    return JP_OK;
}

jp_status jp_chk_conv2d_fwd_packed(const char *fn, jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const float *w, const float *packed,
                                   int64_t floats, const float *bias, int32_t act, float alpha) {
    JP_CHECK(packed, fn, "packed is NULL");
    JP_CHECK(floats > 0, fn, "floats must be > 0 (got %lld)", (long long)floats);
    return jp_chk_conv2d_fwd_act(fn, ctx, d, y, x, w, bias, act, alpha);
}

jp_status jp_chk_conv2d_bwd_data(const char *fn, jp_ctx ctx, const jp_conv2d_desc *d, float *dx, const float *dy, const float *w) {
    (void)ctx;
    TRY(check_conv2d(fn, d));
    JP_CHECK(dx && dy && w, fn, "dx, dy or w is NULL");
    return JP_OK;
}

jp_status jp_chk_conv2d_bwd_filter(const char *fn, jp_ctx ctx, const jp_conv2d_desc *d, float *dw, float *db, const float *dy,
                                   const float *x) {
    (void)ctx; (void)db;
    TRY(check_conv2d(fn, d));
    JP_CHECK(dw && dy && x, fn, "dw, dy or x is NULL");
    return JP_OK;
}

static jp_status check_cs(const char *fn, const jp_conv2d_desc *d, const int32_t *in_idx, int32_t n_in, const int32_t *out_idx,
                          int32_t n_out) {
    TRY(check_conv2d(fn, d));
    JP_CHECK(d->groups == 1, fn, "channel-sparse conv needs groups == 1 (got %d)", d->groups);
    TRY(check_index_count(fn, "in_idx", in_idx, n_in, d->c));
    return check_index_count(fn, "out_idx", out_idx, n_out, d->k);
}

jp_status jp_chk_conv2d_cs_fwd(const char *fn, jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const float *w,
                               const float *bias, const int32_t *in_idx, int32_t n_in, const int32_t *out_idx, int32_t n_out) {
    (void)ctx; (void)bias;
    TRY(check_cs(fn, d, in_idx, n_in, out_idx, n_out));
    JP_CHECK(y && x && w, fn, "y, x or w is NULL");
    return JP_OK;
}

jp_status jp_chk_conv2d_cs_bwd_data(const char *fn, jp_ctx ctx, const jp_conv2d_desc *d, float *dx, const float *dy, const float *w,
                                    const int32_t *in_idx, int32_t n_in, const int32_t *out_idx, int32_t n_out) {
    (void)ctx;
    TRY(check_cs(fn, d, in_idx, n_in, out_idx, n_out));
    JP_CHECK(dx && dy && w, fn, "dx, dy or w is NULL");
    return JP_OK;
}

jp_status jp_chk_conv2d_cs_bwd_filter(const char *fn, jp_ctx ctx, const jp_conv2d_desc *d, float *dw, float *db, const float *dy,
                                      const float *x, const int32_t *in_idx, int32_t n_in, const int32_t *out_idx, int32_t n_out) {
    (void)ctx; (void)db;
    TRY(check_cs(fn, d, in_idx, n_in, out_idx, n_out));
    JP_CHECK(dw && dy && x, fn, "dw, dy or x is NULL");
    return JP_OK;
}

static jp_status check_csr_dense(const char *fn, const float *dense, int32_t rows, int32_t cols, float threshold) {
    JP_CHECK(rows >= 0 && cols >= 0, fn, "negative size rows=%d cols=%d", rows, cols);
    JP_CHECK(dense || (int64_t)rows * cols == 0, fn, "dense is NULL");
    JP_CHECK(threshold >= 0.f, fn, "threshold must be >= 0 (got %g)", threshold);
    return JP_OK;
}

jp_status jp_chk_csr_count(const char *fn, jp_ctx ctx, int64_t *nnz_host, const float *dense, int32_t rows, int32_t cols,
                           float threshold) {
    (void)ctx;
    JP_CHECK(nnz_host, fn, "nnz_host is NULL");
    return check_csr_dense(fn, dense, rows, cols, threshold);
}

jp_status jp_chk_csr_from_dense(const char *fn, jp_ctx ctx, int32_t *row_ptr, int32_t *col_idx, float *values, const float *dense,
                                int32_t rows, int32_t cols, float threshold) {
    (void)ctx; (void)col_idx; (void)values; /* NULL is fine while the matrix has no nonzeros: the backend sees them */
    JP_CHECK(row_ptr, fn, "row_ptr is NULL");
    return check_csr_dense(fn, dense, rows, cols, threshold);
}

jp_status jp_chk_conv2d_csr_fwd(const char *fn, jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const int32_t *row_ptr,
                                const int32_t *col_idx, const float *values, const float *bias) {
    (void)ctx; (void)col_idx; (void)values; (void)bias;
    TRY(check_conv2d(fn, d));
    JP_CHECK(y && x && row_ptr, fn, "y, x or row_ptr is NULL");
    return JP_OK;
}

jp_status jp_chk_mask_channels(const char *fn, jp_ctx ctx, float *data, const float *mask, int64_t outer, int64_t channels,
                               int64_t inner) {
    (void)ctx;
    TRY(check_oci(fn, outer, channels, inner));
    JP_CHECK(data && mask, fn, "data or mask is NULL");
    return JP_OK;
}

jp_status jp_chk_channel_norms(const char *fn, jp_ctx ctx, float *out, const float *data, int64_t outer, int64_t channels,
                               int64_t inner, int32_t p) {
    (void)ctx;
    TRY(check_oci(fn, outer, channels, inner));
    JP_CHECK(out && data, fn, "out or data is NULL");
    JP_CHECK(p == 1 || p == 2, fn, "p must be 1 or 2 (got %d)", p);
    return JP_OK;
}

jp_status jp_chk_group_reg_grad(const char *fn, jp_ctx ctx, float *grad, const float *data, const float *scale, float lambda,
                                int64_t outer, int64_t channels, int64_t inner) {
    (void)ctx; (void)lambda;
    TRY(check_oci(fn, outer, channels, inner));
    JP_CHECK(grad && data && scale, fn, "grad, data or scale is NULL");
    return JP_OK;
}

/* gather_channels and scatter_channels */
jp_status jp_chk_channels_idx(const char *fn, jp_ctx ctx, float *dst, const float *src, const int32_t *idx, int32_t n_idx,
                              int64_t outer, int64_t channels, int64_t inner) {
    (void)ctx;
    TRY(check_oci(fn, outer, channels, inner));
    JP_CHECK(channels <= INT32_MAX, fn, "too many channels (%lld)", (long long)channels);
    TRY(check_index_count(fn, "idx", idx, n_idx, (int32_t)channels));
    JP_CHECK((dst && src) || outer * inner * n_idx == 0, fn, "dst or src is NULL");
    return JP_OK;
}

jp_status jp_chk_batchnorm_fwd_train(const char *fn, jp_ctx ctx, const jp_bn_desc *d, float *y, float *save_mean, float *save_invstd,
                                     float *running_mean, float *running_var, const float *x, const float *gamma, const float *beta) {
    (void)ctx;
    TRY(check_bn(fn, d));
    JP_CHECK(y && save_mean && save_invstd && running_mean && running_var && x && gamma && beta, fn, "a required pointer is NULL");
    return JP_OK;
}

jp_status jp_chk_batchnorm_fwd_infer(const char *fn, jp_ctx ctx, const jp_bn_desc *d, float *y, const float *x, const float *gamma,
                                     const float *beta, const float *running_mean, const float *running_var) {
    (void)ctx;
    TRY(check_bn(fn, d));
    JP_CHECK(y && x && gamma && beta && running_mean && running_var, fn, "a required pointer is NULL");
    return JP_OK;
}

jp_status jp_chk_batchnorm_bwd(const char *fn, jp_ctx ctx, const jp_bn_desc *d, float *dx, float *dgamma, float *dbeta, const float *dy,
                               const float *x, const float *gamma, const float *save_mean, const float *save_invstd) {
    (void)ctx;
    TRY(check_bn(fn, d));
    JP_CHECK(dx && dgamma && dbeta && dy && x && gamma && save_mean && save_invstd, fn, "a required pointer is NULL");
    return JP_OK;
}

jp_status jp_chk_act_fwd(const char *fn, jp_ctx ctx, int32_t kind, float alpha, float *y, const float *x, int64_t n) {
    (void)ctx; (void)alpha;
    TRY(check_act(fn, kind));
    CHECK_N(fn, n);
    JP_CHECK((y && x) || n == 0, fn, "y or x is NULL");
    return JP_OK;
}

jp_status jp_chk_act_bwd(const char *fn, jp_ctx ctx, int32_t kind, float alpha, float *dx, const float *dy, const float *x, int64_t n) {
    (void)ctx; (void)alpha;
    TRY(check_act(fn, kind));
    CHECK_N(fn, n);
    JP_CHECK((dx && dy && x) || n == 0, fn, "dx, dy or x is NULL");
    return JP_OK;
}

jp_status jp_chk_maxpool2d_fwd(const char *fn, jp_ctx ctx, const jp_pool2d_desc *d, float *y, int32_t *argmax, const float *x) {
    (void)ctx;
    TRY(check_pool(fn, d));
    JP_CHECK(y && argmax && x, fn, "y, argmax or x is NULL");
    return JP_OK;
}

jp_status jp_chk_maxpool2d_bwd(const char *fn, jp_ctx ctx, const jp_pool2d_desc *d, float *dx, const float *dy, const int32_t *argmax) {
    (void)ctx;
    TRY(check_pool(fn, d));
    JP_CHECK(dx && dy && argmax, fn, "dx, dy or argmax is NULL");
    return JP_OK;
}

jp_status jp_chk_upsample_nearest_fwd(const char *fn, jp_ctx ctx, float *y, const float *x, int32_t n, int32_t c, int32_t h, int32_t w,
                                      int32_t scale) {
    (void)ctx;
    TRY(check_upsample(fn, n, c, h, w, scale));
    JP_CHECK(y && x, fn, "y or x is NULL");
    return JP_OK;
}

jp_status jp_chk_upsample_nearest_bwd(const char *fn, jp_ctx ctx, float *dx, const float *dy, int32_t n, int32_t c, int32_t h,
                                      int32_t w, int32_t scale) {
    (void)ctx;
    TRY(check_upsample(fn, n, c, h, w, scale));
    JP_CHECK(dx && dy, fn, "dx or dy is NULL");
    return JP_OK;
}

jp_status jp_chk_channel_copy(const char *fn, jp_ctx ctx, float *dst, int64_t dst_channels, int64_t dst_off, const float *src,
                              int64_t src_channels, int64_t src_off, int64_t count, int64_t outer, int64_t inner) {
    (void)ctx;
    JP_CHECK(outer >= 0 && inner >= 0 && count >= 0, fn, "negative size outer=%lld inner=%lld count=%lld", (long long)outer,
             (long long)inner, (long long)count);
    JP_CHECK(dst_off >= 0 && dst_off + count <= dst_channels && src_off >= 0 && src_off + count <= src_channels, fn,
             "channel range out of bounds: dst [%lld, %lld) of %lld, src [%lld, %lld) of %lld", (long long)dst_off,
             (long long)(dst_off + count), (long long)dst_channels, (long long)src_off, (long long)(src_off + count), (long long)src_channels);
    JP_CHECK((dst && src) || outer * count * inner == 0, fn, "dst or src is NULL");
    return JP_OK;
}

/* add, mul */
jp_status jp_chk_binary(const char *fn, jp_ctx ctx, float *y, const float *a, const float *b, int64_t n) {
    (void)ctx;
    CHECK_N(fn, n);
    JP_CHECK((y && a && b) || n == 0, fn, "y, a or b is NULL");
    return JP_OK;
}

/* scale, axpy */
jp_status jp_chk_scaled(const char *fn, jp_ctx ctx, float *y, const float *x, float alpha, int64_t n) {
    (void)ctx; (void)alpha;
    CHECK_N(fn, n);
    JP_CHECK((y && x) || n == 0, fn, "y or x is NULL");
    return JP_OK;
}

jp_status jp_chk_reduce(const char *fn, jp_ctx ctx, int32_t kind, float *out, const float *x, int64_t n) {
    (void)ctx;
    JP_CHECK(kind >= JP_REDUCE_SUM && kind <= JP_REDUCE_ABSMAX, fn, "unknown reduction kind %d", kind);
    CHECK_N(fn, n);
    JP_CHECK(out && (x || n == 0), fn, "out or x is NULL");
    return JP_OK;
}

jp_status jp_chk_sum_channels(const char *fn, jp_ctx ctx, float *out, const float *x, int64_t outer, int64_t channels, int64_t inner) {
    (void)ctx;
    TRY(check_oci(fn, outer, channels, inner));
    JP_CHECK((out && x) || channels == 0, fn, "out or x is NULL");
    return JP_OK;
}

jp_status jp_chk_sgd_step(const char *fn, jp_ctx ctx, const jp_sgd_desc *d, float *param, float *momentum_buf, const float *grad,
                          const float *mask, int64_t n) {
    (void)ctx; (void)mask;
    JP_CHECK_PTR(d, fn);
    CHECK_N(fn, n);
    JP_CHECK(d->lr >= 0.f && d->momentum >= 0.f && d->weight_decay >= 0.f, fn, "lr=%g momentum=%g weight_decay=%g must be >= 0",
             d->lr, d->momentum, d->weight_decay);
    JP_CHECK((param && grad && (momentum_buf || d->momentum == 0.f)) || n == 0, fn, "param, grad or momentum_buf is NULL");
    return JP_OK;
}

jp_status jp_chk_adamw_step(const char *fn, jp_ctx ctx, const jp_adamw_desc *d, float *param, float *m, float *v, const float *grad,
                            const float *mask, int64_t n) {
    (void)ctx; (void)mask;
    JP_CHECK_PTR(d, fn);
    CHECK_N(fn, n);
    JP_CHECK(d->step >= 1, fn, "step must be >= 1 (got %d)", d->step);
    JP_CHECK(d->beta1 >= 0.f && d->beta1 < 1.f && d->beta2 >= 0.f && d->beta2 < 1.f && d->eps > 0.f, fn,
             "bad betas (%g, %g) or eps %g", d->beta1, d->beta2, d->eps);
    JP_CHECK((param && m && v && grad) || n == 0, fn, "param, m, v or grad is NULL");
    return JP_OK;
}

static jp_status check_yolo(const char *fn, const jp_yolo_desc *d) {
    JP_CHECK_PTR(d, fn);
    JP_CHECK(d->n >= 0 && d->na >= 1 && d->no >= 5 && d->cells >= 1 && d->nx >= 1 && d->cells % d->nx == 0, fn,
             "bad level: n=%d na=%d no=%d cells=%d nx=%d (need n >= 0, na >= 1, no >= 5, cells a multiple of nx)", d->n, d->na, d->no,
             d->cells, d->nx);
    /* in double: four int32 factors can overflow int64; exact far beyond the 2^31 limit compared here */
    JP_CHECK((double)d->n * d->na * d->no * d->cells <= (double)INT32_MAX, fn, "level too large: %d x %d x %d x %d values (at most 2^31 - 1)",
             d->n, d->na, d->no, d->cells);
    JP_CHECK(isfinite(d->box_scale) && isfinite(d->obj_scale) && isfinite(d->cls_scale) && isfinite(d->cls_pos) && isfinite(d->cls_neg), fn,
             "a scale or class target is not finite");
    return JP_OK;
}

jp_status jp_chk_yolo_decode(const char *fn, jp_ctx ctx, const jp_yolo_desc *d, float *out, const float *raw, int32_t anchor, float anchor_w,
                             float anchor_h, float stride, int32_t row0, int32_t rows) {
    (void)ctx;
    TRY(check_yolo(fn, d));
    JP_CHECK(anchor >= 0 && anchor < d->na, fn, "anchor %d is not in [0, %d)", anchor, d->na);
    JP_CHECK(isfinite(anchor_w) && isfinite(anchor_h) && isfinite(stride) && stride > 0.f, fn, "anchor %g x %g or stride %g is not finite (stride > 0)",
             (double)anchor_w, (double)anchor_h, (double)stride);
    JP_CHECK(row0 >= 0 && (int64_t)row0 + (int64_t)d->na * d->cells <= rows, fn, "the level's %lld rows from row %d do not fit in %d rows per image",
             (long long)d->na * d->cells, row0, rows);
    JP_CHECK((double)d->n * rows * d->no <= (double)INT32_MAX, fn, "output too large: %d x %d x %d values (at most 2^31 - 1)", d->n, rows, d->no);
    JP_CHECK((out && raw) || d->n == 0, fn, "out or raw is NULL");
    return JP_OK;
}

jp_status jp_chk_yolo_obj_loss(const char *fn, jp_ctx ctx, const jp_yolo_desc *d, float *loss, float *grad, const float *out) {
    (void)ctx;
    TRY(check_yolo(fn, d));
    JP_CHECK((loss && grad && out) || d->n == 0, fn, "loss, grad or out is NULL");
    return JP_OK;
}

jp_status jp_chk_yolo_match_loss(const char *fn, jp_ctx ctx, const jp_yolo_desc *d, float *loss, float *grad, const float *out,
                                 const float *match, const int32_t *group_start, const int32_t *group_cell, int32_t n_groups) {
    (void)ctx;
    TRY(check_yolo(fn, d));
    JP_CHECK(n_groups >= 0, fn, "n_groups must be >= 0 (got %d)", n_groups);
    JP_CHECK((loss && grad && out && match && group_start && group_cell) || n_groups == 0, fn,
             "loss, grad, out, match, group_start or group_cell is NULL");
    return JP_OK;
}
