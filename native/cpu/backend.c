/* The CPU backend: the ISA it runs (detected once, lowered by JPRUNE_ISA or jp_cpu_set_isa), the
 * per-thread scratch every kernel borrows, and the table: host memory, 64-byte aligned; every op of
 * ops.def. (Thread counts and the adaptive team limit: team.c.) */
#include "cpu.h"
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define JP_OP(name, params, args, check) jp_status cpu_##name params;
#include "../src/ops.def"
#undef JP_OP

/* ---- ISA ---- */
int jp_g_isa = JP_ISA_SCALAR;
static int g_isa_supported = JP_ISA_SCALAR;

static int parse_isa(const char *s) {
    if (!s) return -1;
    if (!strcmp(s, "scalar")) return JP_ISA_SCALAR;
    if (!strcmp(s, "avx2")) return JP_ISA_AVX2;
    if (!strcmp(s, "avx512")) return JP_ISA_AVX512;
    return -1;
}

__attribute__((constructor)) static void isa_init(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) g_isa_supported = JP_ISA_AVX512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) g_isa_supported = JP_ISA_AVX2;
    jp_g_isa = g_isa_supported;
    /* JPRUNE_ISA lowers the ISA for the whole process: the switchable slow path */
    int want = parse_isa(getenv("JPRUNE_ISA"));
    if (want >= 0 && want < jp_g_isa) jp_g_isa = want;
}

JP_API int32_t jp_cpu_isa_supported(void) { return g_isa_supported; }
JP_API int32_t jp_cpu_isa(void) { return jp_g_isa; }
JP_API jp_status jp_cpu_set_isa(int32_t isa) {
    JP_CHECK(isa >= JP_ISA_SCALAR && isa <= g_isa_supported, "jp_cpu_set_isa",
             "isa %d not supported here (best is %d)", isa, g_isa_supported);
    jp_g_isa = isa;
    return JP_OK;
}

/* ---- per-thread scratch, freed by a pthread key destructor when the thread exits ---- */
typedef struct { float *p[JP_SCRATCH_SLOTS]; size_t cap[JP_SCRATCH_SLOTS]; } scratch_t;
static pthread_key_t g_scratch_key;
static pthread_once_t g_scratch_once = PTHREAD_ONCE_INIT;
static void scratch_free(void *v) {
    scratch_t *s = v;
    for (int i = 0; i < JP_SCRATCH_SLOTS; i++) free(s->p[i]);
    free(s);
}
static void scratch_key_init(void) { pthread_key_create(&g_scratch_key, scratch_free); }

float *jp_scratch(int slot, size_t floats) {
    pthread_once(&g_scratch_once, scratch_key_init);
    scratch_t *s = pthread_getspecific(g_scratch_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s) return NULL;
        pthread_setspecific(g_scratch_key, s);
    }
    if (floats == 0) floats = 1;
    if (floats > s->cap[slot]) {
        free(s->p[slot]);
        size_t cap = floats + floats / 4 + 64;
        size_t bytes = (cap * sizeof(float) + 63) & ~(size_t)63;
        s->p[slot] = aligned_alloc(64, bytes);
        s->cap[slot] = s->p[slot] ? cap : 0;
    }
    return s->p[slot];
}


static _Atomic int64_t g_in_use;

CPU_OP(malloc)(jp_ctx ctx, int64_t bytes, void **out) {
    (void)ctx;
    size_t sz = ((size_t)(bytes > 0 ? bytes : 1) + 63) & ~(size_t)63;
    *out = aligned_alloc(64, sz);
    if (!*out) return jp_fail(JP_ERR_NO_MEMORY, "jp_malloc", "cannot allocate %lld bytes", (long long)bytes);
    atomic_fetch_add(&g_in_use, (int64_t)malloc_usable_size(*out));
    return JP_OK;
}
CPU_OP(free)(jp_ctx ctx, void *p) {
    (void)ctx;
    if (p) atomic_fetch_sub(&g_in_use, (int64_t)malloc_usable_size(p));
    free(p);
    return JP_OK;
}
/* host memory from jp_malloc, process-wide (every CPU context shares the heap) */
CPU_OP(mem_stats)(jp_ctx ctx, int64_t *in_use, int64_t *reserved) {
    (void)ctx;
    *in_use = *reserved = atomic_load(&g_in_use);
    return JP_OK;
}

static jp_status cpu_set_option(jp_ctx ctx, const char *key, const char *value) {
    (void)ctx;
    if ((!strcmp(key, "conv") && !strcmp(value, "native")) || (!strcmp(key, "tf32") && !strcmp(value, "0"))) return JP_OK;
    return jp_fail(JP_ERR_UNSUPPORTED, "jp_ctx_set_option", "the cpu backend has no option %s=%s (it takes conv=native, tf32=0)", key, value);
}

/* Large copies of non-overlapping buffers run in 1 MiB chunks on the context's threads: one core
 * cannot saturate memory bandwidth on its own. Overlapping ranges take memmove. */
static jp_status copy(jp_ctx ctx, const char *fn, void *dst, const void *src, int64_t bytes) {
    if (!bytes || dst == src) return JP_OK;
    char *d = dst;
    const char *s = src;
    int overlap = d < s + bytes && s < d + bytes;
    const int team = jp_team(ctx);
    if (overlap || team < 2 || bytes < (4 << 20)) {
        memmove(d, s, (size_t)bytes);
        return JP_OK;
    }
    const int64_t chunk = 1 << 20, chunks = (bytes + chunk - 1) / chunk;
    JP_PARFOR(team, chunks, bytes, c, {
        int64_t off = c * chunk, len = off + chunk < bytes ? chunk : bytes - off;
        memcpy(d + off, s + off, (size_t)len);
    });
    return JP_OK;
}
CPU_OP(copy_h2d)(jp_ctx ctx, void *dst, const void *src, int64_t bytes) { return copy(ctx, "jp_copy_h2d", dst, src, bytes); }
CPU_OP(copy_d2h)(jp_ctx ctx, void *dst, const void *src, int64_t bytes) { return copy(ctx, "jp_copy_d2h", dst, src, bytes); }
CPU_OP(copy_d2d)(jp_ctx ctx, void *dst, const void *src, int64_t bytes) { return copy(ctx, "jp_copy_d2d", dst, src, bytes); }
/* host memory is the device's here: nothing to overlap */
CPU_OP(copy_h2d_async)(jp_ctx ctx, void *dst, const void *src, int64_t bytes) { return copy(ctx, "jp_copy_h2d_async", dst, src, bytes); }
CPU_OP(sync)(jp_ctx ctx) { (void)ctx; return JP_OK; }

static const jp_backend g_cpu = {
    .label = "cpu",
#define JP_OP(name, params, args, check) .name = cpu_##name,
#include "../src/ops.def"
#undef JP_OP
    .destroy = NULL,
    .set_option = cpu_set_option,
};

jp_status jp_cpu_backend_init(jp_ctx ctx) {
    static const char *isa[] = {"scalar", "avx2", "avx512"};
    ctx->be = &g_cpu;
    ctx->threads = jp_cpu_cores();
    snprintf(ctx->describe, sizeof ctx->describe, "cpu: isa=%s (best %s), threads=%d, cores=%d", isa[jp_g_isa],
             isa[jp_cpu_isa_supported()], ctx->threads, jp_cpu_cores());
    return JP_OK;
}
