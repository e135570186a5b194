/* libjprune runtime: per-thread errors, contexts, the dispatcher and backend plugin loading. */
#define _GNU_SOURCE
#include "internal.h"
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char g_error[1024];

static jp_status jp_vfail(jp_status status, const char *fn, const char *fmt, va_list ap) {
    int n = snprintf(g_error, sizeof g_error, "%s: ", fn);
    vsnprintf(g_error + n, sizeof g_error - (size_t)n, fmt, ap);
    return status;
}

jp_status jp_fail(jp_status status, const char *fn, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    jp_vfail(status, fn, fmt, ap);
    va_end(ap);
    return status;
}

JP_API const char *jp_last_error(void) { return g_error; }
JP_API int32_t jp_abi_version(void) { return JP_ABI_VERSION; }
JP_API int32_t jp_noop(int32_t x) { return x + 1; }

static int ctx_valid(jp_ctx ctx) { return ctx != NULL && ctx->magic == JP_CTX_MAGIC; }

/* Directory holding this library, so plugins are found next to it wherever the jar unpacked it. */
static void own_dir(char *buf, size_t size) {
    Dl_info info;
    buf[0] = 0;
    if (dladdr((void *)&own_dir, &info) && info.dli_fname) {
        snprintf(buf, size, "%s", info.dli_fname);
        char *slash = strrchr(buf, '/');
        if (slash) *slash = 0; else buf[0] = 0;
    }
}

static jp_status load_plugin(jp_ctx ctx, const char *file) {
    char dir[800], path[1024];
    own_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%s", dir[0] ? dir : ".", file);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) return jp_fail(JP_ERR_UNSUPPORTED, "jp_ctx_create", "backend plugin %s could not be loaded: %s", path, dlerror());
    jp_plugin_init_fn init = (jp_plugin_init_fn)dlsym(h, JP_PLUGIN_INIT_SYMBOL);
    if (!init) return jp_fail(JP_ERR_BACKEND, "jp_ctx_create", "%s has no %s", path, JP_PLUGIN_INIT_SYMBOL);
    /* the plugin stays loaded for the life of the process: contexts may come and go */
    return init(ctx);
}

JP_API jp_status jp_ctx_create(int32_t device, int32_t ordinal, jp_ctx *out) {
    JP_CHECK_PTR(out, "jp_ctx_create");
    *out = NULL;
    JP_CHECK(ordinal >= 0, "jp_ctx_create", "ordinal must be >= 0 (got %d)", ordinal);
    jp_ctx ctx = calloc(1, sizeof *ctx);
    if (!ctx) return jp_fail(JP_ERR_NO_MEMORY, "jp_ctx_create", "out of host memory");
    ctx->magic = JP_CTX_MAGIC;
    ctx->device = device;
    ctx->ordinal = ordinal;
    ctx->threads = 1;
    ctx->vfail = jp_vfail;
    jp_status st;
    switch (device) {
    case JP_DEVICE_CPU: st = jp_cpu_backend_init(ctx); break;
    case JP_DEVICE_CUDA: st = load_plugin(ctx, "libjprune_cuda.so"); break;
    case JP_DEVICE_CUDA_EMU: st = load_plugin(ctx, "libjprune_cudaemu.so"); break;
    default: st = jp_fail(JP_ERR_INVALID, "jp_ctx_create", "unknown device %d (JP_DEVICE_CPU=0, CUDA=1, CUDA_EMU=2)", device);
    }
    if (st != JP_OK) { ctx->magic = 0; free(ctx); return st; }
    *out = ctx;
    return JP_OK;
}

JP_API jp_status jp_ctx_destroy(jp_ctx ctx) {
    JP_CHECK(ctx_valid(ctx), "jp_ctx_destroy", "invalid or destroyed context");
    if (ctx->be->destroy) ctx->be->destroy(ctx);
    ctx->magic = 0;
    free(ctx);
    return JP_OK;
}

JP_API jp_status jp_ctx_set_threads(jp_ctx ctx, int32_t threads) {
    JP_CHECK(ctx_valid(ctx), "jp_ctx_set_threads", "invalid or destroyed context");
    JP_CHECK(threads >= 0, "jp_ctx_set_threads", "threads must be >= 0 (got %d)", threads);
    extern int jp_cpu_cores(void);
    ctx->threads = threads == 0 ? jp_cpu_cores() : threads;
    return JP_OK;
}

JP_API jp_status jp_ctx_set_option(jp_ctx ctx, const char *key, const char *value) {
    JP_CHECK(ctx_valid(ctx), "jp_ctx_set_option", "invalid or destroyed context");
    JP_CHECK(key && value, "jp_ctx_set_option", "key or value is NULL");
    if (!ctx->be->set_option)
        return jp_fail(JP_ERR_UNSUPPORTED, "jp_ctx_set_option", "the %s backend has no options (asked %s=%s)", ctx->be->label, key, value);
    return ctx->be->set_option(ctx, key, value);
}

JP_API int32_t jp_ctx_device(jp_ctx ctx) { return ctx_valid(ctx) ? ctx->device : -1; }
JP_API const char *jp_ctx_describe(jp_ctx ctx) { return ctx_valid(ctx) ? ctx->describe : "invalid context"; }

static const char *const g_op_names[] = {
#define JP_OP(name, params, args, check) #name,
#include "ops.def"
#undef JP_OP
};
#define OP_COUNT ((int32_t)(sizeof g_op_names / sizeof g_op_names[0]))

JP_API int32_t jp_op_count(void) { return OP_COUNT; }
JP_API const char *jp_op_name(int32_t i) { return i >= 0 && i < OP_COUNT ? g_op_names[i] : NULL; }

JP_API int32_t jp_ctx_implements(jp_ctx ctx, int32_t i) {
    if (!ctx_valid(ctx) || i < 0 || i >= OP_COUNT) return 0;
    /* the table's function pointers follow `name` in ops.def order */
    typedef jp_status (*any_fn)(void);
    const any_fn *slots = (const any_fn *)((const char *)ctx->be + offsetof(jp_backend, label) + sizeof(const char *));
    return slots[i] != NULL;
}

/* The dispatcher: check the context, run the op's argument check (ops.def's fourth column), then
 * call the backend's entry. */
#define JP_UNPAREN(...) __VA_ARGS__
#define JP_OP(name, params, args, check)                                                        \
    JP_API jp_status jp_##name params {                                                         \
        if (!ctx_valid(ctx)) return jp_fail(JP_ERR_INVALID, "jp_" #name, "invalid or destroyed context"); \
        if (!ctx->be->name) return jp_fail(JP_ERR_UNSUPPORTED, "jp_" #name, "the %s backend has no entry for this op", ctx->be->label); \
        jp_status st_ = check("jp_" #name, JP_UNPAREN args);                                    \
        return st_ ? st_ : ctx->be->name args;                                                  \
    }
#include "ops.def"
#undef JP_OP
