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
#define JP_OP(name, params, args) jp_status (*name) params;
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

/* shared argument checks, used by every backend before it touches memory */
jp_status jp_check_conv2d(const char *fn, const jp_conv2d_desc *d);
/* kind is a JP_ACT_* */
jp_status jp_check_act(const char *fn, int32_t kind);
/* a conv epilogue's activation (jp_conv2d_fwd_act): a JP_ACT_* kind, and a finite leaky ReLU slope */
jp_status jp_check_conv_act(const char *fn, int32_t act, float alpha);
jp_status jp_check_index_list(const char *fn, const char *what, const int32_t *idx_host, int32_t n, int32_t limit);
jp_status jp_check_oci(const char *fn, int64_t outer, int64_t channels, int64_t inner);
jp_status jp_check_bn(const char *fn, const jp_bn_desc *d);
/* also returns the pooled output size */
jp_status jp_check_pool(const char *fn, const jp_pool2d_desc *d, int *ho, int *wo);
jp_status jp_check_upsample(const char *fn, int32_t n, int32_t c, int32_t h, int32_t w, int32_t scale);
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
