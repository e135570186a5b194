/* Internal to libjprune and its backend plugins: the context, the backend table, error helpers and
 * the argument checks every backend shares. Not part of the ABI. */
#ifndef JPRUNE_INTERNAL_H
#define JPRUNE_INTERNAL_H

#include "../include/jprune.h"
#include <stdarg.h>
#include <stddef.h>

#define JP_CTX_MAGIC 0x6a70637843545831ULL

typedef struct jp_backend {
    const char *label;
#define JP_OP(name, params, args, check) jp_status (*name) params;
#include "ops.def"
#undef JP_OP
    void (*destroy)(jp_ctx ctx);
    /* nullable: backend settings by name (jp_ctx_set_option) */
    jp_status (*set_option)(jp_ctx ctx, const char *key, const char *value);
} jp_backend;

struct jp_ctx_s {
    unsigned long long magic;
    int32_t device;
    int32_t ordinal;
    int32_t threads;          /* CPU worker threads; >= 1 */
    const jp_backend *be;
    void *impl;               /* backend-private state */
    char describe[256];
    /* the runtime's error setter: plugins route their jp_fail through it, so jp_last_error() of
     * libjprune reports their messages */
    jp_status (*vfail)(jp_status status, const char *fn, const char *fmt, va_list ap);
};

/* Sets the calling thread's error message ("fn: message") and returns status. */
jp_status jp_fail(jp_status status, const char *fn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define JP_CHECK(cond, fn, ...) do { if (!(cond)) return jp_fail(JP_ERR_INVALID, fn, __VA_ARGS__); } while (0)
#define JP_CHECK_PTR(p, fn) JP_CHECK((p) != NULL, fn, "%s is NULL", #p)

/* Argument checks (checks.c). The dispatcher runs each op's check, named in ops.def, before the
 * backend: (the op's name, then the op's own arguments). */
/* an index list's values, for a backend that reads it on the host: in [0, limit), strictly increasing */
jp_status jp_check_index_values(const char *fn, const char *what, const int32_t *idx_host, int32_t n, int32_t limit);
/* the pooled output size of a checked descriptor */
void jp_pool_out(const jp_pool2d_desc *d, int *ho, int *wo);
jp_status jp_chk_none(const char *fn, jp_ctx ctx, ...);
jp_status jp_chk_malloc(const char *fn, jp_ctx ctx, int64_t bytes, void **out_host);
jp_status jp_chk_copy(const char *fn, jp_ctx ctx, void *dst, const void *src, int64_t bytes);
jp_status jp_chk_fill(const char *fn, jp_ctx ctx, float *dst, float value, int64_t n);
jp_status jp_chk_mem_stats(const char *fn, jp_ctx ctx, int64_t *in_use_host, int64_t *reserved_host);
jp_status jp_chk_sgemm(const char *fn, jp_ctx ctx, const jp_gemm_desc *d, float *c, const float *a, const float *b);
jp_status jp_chk_conv2d_fwd(const char *fn, jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const float *w, const float *bias);
jp_status jp_chk_conv2d_packed_size(const char *fn, jp_ctx ctx, const jp_conv2d_desc *d, int64_t *floats_host);
jp_status jp_chk_conv2d_pack(const char *fn, jp_ctx ctx, const jp_conv2d_desc *d, float *packed, int64_t floats, const float *w);
jp_status jp_chk_conv2d_fwd_packed(const char *fn, jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const float *w, const float *packed,
                                   int64_t floats, const float *bias, int32_t act, float alpha);
jp_status jp_chk_conv2d_fwd_act(const char *fn, jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const float *w, const float *bias, int32_t act, float alpha);
jp_status jp_chk_conv2d_bwd_data(const char *fn, jp_ctx ctx, const jp_conv2d_desc *d, float *dx, const float *dy, const float *w);
jp_status jp_chk_conv2d_bwd_filter(const char *fn, jp_ctx ctx, const jp_conv2d_desc *d, float *dw, float *db, const float *dy, const float *x);
jp_status jp_chk_conv2d_cs_fwd(const char *fn, jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const float *w, const float *bias, const int32_t *in_idx, int32_t n_in, const int32_t *out_idx, int32_t n_out);
jp_status jp_chk_conv2d_cs_bwd_data(const char *fn, jp_ctx ctx, const jp_conv2d_desc *d, float *dx, const float *dy, const float *w, const int32_t *in_idx, int32_t n_in, const int32_t *out_idx, int32_t n_out);
jp_status jp_chk_conv2d_cs_bwd_filter(const char *fn, jp_ctx ctx, const jp_conv2d_desc *d, float *dw, float *db, const float *dy, const float *x, const int32_t *in_idx, int32_t n_in, const int32_t *out_idx, int32_t n_out);
jp_status jp_chk_csr_count(const char *fn, jp_ctx ctx, int64_t *nnz_host, const float *dense, int32_t rows, int32_t cols, float threshold);
jp_status jp_chk_csr_from_dense(const char *fn, jp_ctx ctx, int32_t *row_ptr, int32_t *col_idx, float *values, const float *dense, int32_t rows, int32_t cols, float threshold);
jp_status jp_chk_conv2d_csr_fwd(const char *fn, jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const int32_t *row_ptr, const int32_t *col_idx, const float *values, const float *bias);
jp_status jp_chk_mask_channels(const char *fn, jp_ctx ctx, float *data, const float *mask, int64_t outer, int64_t channels, int64_t inner);
jp_status jp_chk_channel_norms(const char *fn, jp_ctx ctx, float *out, const float *data, int64_t outer, int64_t channels, int64_t inner, int32_t p);
jp_status jp_chk_group_reg_grad(const char *fn, jp_ctx ctx, float *grad, const float *data, const float *scale, float lambda, int64_t outer, int64_t channels, int64_t inner);
jp_status jp_chk_channels_idx(const char *fn, jp_ctx ctx, float *dst, const float *src, const int32_t *idx, int32_t n_idx, int64_t outer, int64_t channels, int64_t inner);
jp_status jp_chk_batchnorm_fwd_train(const char *fn, jp_ctx ctx, const jp_bn_desc *d, float *y, float *save_mean, float *save_invstd, float *running_mean, float *running_var, const float *x, const float *gamma, const float *beta);
jp_status jp_chk_batchnorm_fwd_infer(const char *fn, jp_ctx ctx, const jp_bn_desc *d, float *y, const float *x, const float *gamma, const float *beta, const float *running_mean, const float *running_var);
jp_status jp_chk_batchnorm_bwd(const char *fn, jp_ctx ctx, const jp_bn_desc *d, float *dx, float *dgamma, float *dbeta, const float *dy, const float *x, const float *gamma, const float *save_mean, const float *save_invstd);
jp_status jp_chk_act_fwd(const char *fn, jp_ctx ctx, int32_t kind, float alpha, float *y, const float *x, int64_t n);
jp_status jp_chk_act_bwd(const char *fn, jp_ctx ctx, int32_t kind, float alpha, float *dx, const float *dy, const float *x, int64_t n);
jp_status jp_chk_maxpool2d_fwd(const char *fn, jp_ctx ctx, const jp_pool2d_desc *d, float *y, int32_t *argmax, const float *x);
jp_status jp_chk_maxpool2d_bwd(const char *fn, jp_ctx ctx, const jp_pool2d_desc *d, float *dx, const float *dy, const int32_t *argmax);
jp_status jp_chk_upsample_nearest_fwd(const char *fn, jp_ctx ctx, float *y, const float *x, int32_t n, int32_t c, int32_t h, int32_t w, int32_t scale);
jp_status jp_chk_upsample_nearest_bwd(const char *fn, jp_ctx ctx, float *dx, const float *dy, int32_t n, int32_t c, int32_t h, int32_t w, int32_t scale);
jp_status jp_chk_channel_copy(const char *fn, jp_ctx ctx, float *dst, int64_t dst_channels, int64_t dst_off, const float *src, int64_t src_channels, int64_t src_off, int64_t count, int64_t outer, int64_t inner);
jp_status jp_chk_binary(const char *fn, jp_ctx ctx, float *y, const float *a, const float *b, int64_t n);
jp_status jp_chk_scaled(const char *fn, jp_ctx ctx, float *y, const float *x, float alpha, int64_t n);
jp_status jp_chk_reduce(const char *fn, jp_ctx ctx, int32_t kind, float *out, const float *x, int64_t n);
jp_status jp_chk_sum_channels(const char *fn, jp_ctx ctx, float *out, const float *x, int64_t outer, int64_t channels, int64_t inner);
jp_status jp_chk_sgd_step(const char *fn, jp_ctx ctx, const jp_sgd_desc *d, float *param, float *momentum_buf, const float *grad, const float *mask, int64_t n);
jp_status jp_chk_adamw_step(const char *fn, jp_ctx ctx, const jp_adamw_desc *d, float *param, float *m, float *v, const float *grad, const float *mask, int64_t n);
jp_status jp_chk_yolo_decode(const char *fn, jp_ctx ctx, const jp_yolo_desc *d, float *out, const float *raw, int32_t anchor, float anchor_w,
                             float anchor_h, float stride, int32_t row0, int32_t rows);
jp_status jp_chk_yolo_obj_loss(const char *fn, jp_ctx ctx, const jp_yolo_desc *d, float *loss, float *grad, const float *out);
jp_status jp_chk_yolo_match_loss(const char *fn, jp_ctx ctx, const jp_yolo_desc *d, float *loss, float *grad, const float *out, const float *match, const int32_t *group_start, const int32_t *group_cell, int32_t n_groups);
static inline int32_t jp_conv_out_h(const jp_conv2d_desc *d) {
    return (d->h + 2 * d->pad_h - d->dil_h * (d->r - 1) - 1) / d->stride_h + 1;
}
static inline int32_t jp_conv_out_w(const jp_conv2d_desc *d) {
    return (d->w + 2 * d->pad_w - d->dil_w * (d->s - 1) - 1) / d->stride_w + 1;
}

/* CPU backend entry (in libjprune itself) and the plugin entry symbol name */
jp_status jp_cpu_backend_init(jp_ctx ctx);
typedef jp_status (*jp_plugin_init_fn)(jp_ctx ctx);
#define JP_PLUGIN_INIT_SYMBOL "jp_plugin_init"

#endif
