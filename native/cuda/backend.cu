/* backend.cu - the CUDA plugin's entry: context (device, stream, allocator), memory ops, options and
 * the backend table. Both builds (CUDA, cuda-emu) compile this file unchanged. */
#include "common.cuh"

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <new>
#ifndef JP_EMU_BUILD
#include <dlfcn.h>
#endif

/* libjprune's error setter, captured at init: jp_fail in this plugin writes the message that
 * jp_last_error() of libjprune returns */
static jp_status (*g_vfail)(jp_status, const char *, const char *, va_list);

extern "C" jp_status jp_fail(jp_status status, const char *fn, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (g_vfail) g_vfail(status, fn, fmt, ap);
    va_end(ap);
    return status;
}

namespace jpcuda {

jp_status cuda_status(cudaError_t e, const char *fn, const char *what) {
    if (e == cudaSuccess) return JP_OK;
    return jp_fail(e == cudaErrorMemoryAllocation ? JP_ERR_NO_MEMORY : JP_ERR_BACKEND, fn, "%s: %s (CUDA error %d)", what,
                   cudaGetErrorString(e), (int)e);
}

jp_status launched(const char *fn) {
    cudaError_t e = cudaGetLastError();
    return e == cudaSuccess ? JP_OK : cuda_status(e, fn, "kernel launch");
}

size_t Allocator::round(size_t bytes) {
    if (bytes == 0) bytes = 1;
    if (bytes < ((size_t)1 << 20)) return (bytes + 511) & ~(size_t)511;
    size_t p = (size_t)1 << (63 - __builtin_clzll(bytes)), step = p / 8;
    return (bytes + step - 1) / step * step;
}

void *Allocator::alloc(size_t bytes) {
    const size_t sz = round(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find(sz);
    void *p = nullptr;
    if (it != free_.end()) {
        p = it->second;
        free_.erase(it);
    } else {
        if (cudaMalloc(&p, sz) != cudaSuccess) {
            /* out of memory: give the cache back to the driver once and retry */
            cudaGetLastError();
            for (auto &f : free_) { cudaFree(f.second); reserved_ -= (int64_t)f.first; }
            free_.clear();
            if (cudaMalloc(&p, sz) != cudaSuccess) { cudaGetLastError(); return nullptr; }
        }
        reserved_ += (int64_t)sz;
    }
    live_[p] = sz;
    in_use_ += (int64_t)sz;
    return p;
}

void Allocator::free(void *p) {
    if (!p) return;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(p);
    if (it == live_.end()) return;  // not ours: ignored (jp_free checks first)
    free_.emplace(it->second, p);
    in_use_ -= (int64_t)it->second;
    live_.erase(it);
}

void Allocator::empty_cache() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto &f : free_) { cudaFree(f.second); reserved_ -= (int64_t)f.first; }
    free_.clear();
}

}  // namespace jpcuda

using namespace jpcuda;

CU_OP(malloc)(jp_ctx ctx, int64_t bytes, void **out) {
    *out = impl(ctx)->alloc.alloc((size_t)bytes);
    if (!*out) return jp_fail(JP_ERR_NO_MEMORY, "jp_malloc", "cannot allocate %lld bytes of device memory", (long long)bytes);
    return JP_OK;
}

CU_OP(free)(jp_ctx ctx, void *p) {
    impl(ctx)->alloc.free(p);
    return JP_OK;
}

CU_OP(mem_stats)(jp_ctx ctx, int64_t *in_use, int64_t *reserved) {
    *in_use = impl(ctx)->alloc.in_use();
    *reserved = impl(ctx)->alloc.reserved();
    return JP_OK;
}

static jp_status copy(jp_ctx ctx, const char *fn, void *dst, const void *src, int64_t bytes, cudaMemcpyKind kind, bool sync) {
    if (!bytes) return JP_OK;
    Ctx *c = impl(ctx);
    jp_status st = cuda_status(cudaMemcpyAsync(dst, src, (size_t)bytes, kind, c->stream), fn, "cudaMemcpyAsync");
    if (st == JP_OK && sync) st = cuda_status(cudaStreamSynchronize(c->stream), fn, "cudaStreamSynchronize");
    return st;
}

/* host buffers are pageable Java memory: the copy returns when the host side is consumed (h2d) or
 * filled (d2h), so the caller may reuse or read it at once */
CU_OP(copy_h2d)(jp_ctx ctx, void *dst, const void *src, int64_t bytes) {
    return copy(ctx, "jp_copy_h2d", dst, src, bytes, cudaMemcpyHostToDevice, true);
}
CU_OP(copy_d2h)(jp_ctx ctx, void *dst, const void *src, int64_t bytes) {
    return copy(ctx, "jp_copy_d2h", dst, src, bytes, cudaMemcpyDeviceToHost, true);
}
CU_OP(copy_d2d)(jp_ctx ctx, void *dst, const void *src, int64_t bytes) {
    return copy(ctx, "jp_copy_d2d", dst, src, bytes, cudaMemcpyDeviceToDevice, false);
}
/* jp_copy_h2d_async: the bytes go to one of two page-locked slots (taking turns; a slot is refilled
 * once its previous copy has finished, usually long before), then to dst on the copy stream, which
 * first waits for the mark the previous call left on the compute stream; the compute stream waits
 * for the copy. Created on first use. */
static jp_status stage_init(Ctx *c, const char *fn) {
    if (c->copy_stream) return JP_OK;
    jp_status st = cuda_status(cudaStreamCreateWithFlags(&c->copy_stream, cudaStreamNonBlocking), fn, "cudaStreamCreate");
    if (st == JP_OK) st = cuda_status(cudaEventCreateWithFlags(&c->mark, cudaEventDisableTiming), fn, "cudaEventCreate");
    for (int i = 0; i < 2 && st == JP_OK; i++) st = cuda_status(cudaEventCreateWithFlags(&c->stage[i].done, cudaEventDisableTiming), fn, "cudaEventCreate");
    return st;
}

static void stage_destroy(Ctx *c) {
    if (c->copy_stream) cudaStreamSynchronize(c->copy_stream);
    for (auto &s : c->stage) {
        if (s.host) cudaFreeHost(s.host);
        if (s.done) cudaEventDestroy(s.done);
    }
    if (c->mark) cudaEventDestroy(c->mark);
    if (c->copy_stream) cudaStreamDestroy(c->copy_stream);
}

CU_OP(copy_h2d_async)(jp_ctx ctx, void *dst, const void *src, int64_t bytes) {
    static const char *fn = "jp_copy_h2d_async";
    if (!bytes) return JP_OK;
    Ctx *c = impl(ctx);
    std::lock_guard<std::mutex> lock(c->stage_mu);
    jp_status st = stage_init(c, fn);
    if (st) return st;
    Ctx::Stage &slot = c->stage[c->stage_next];
    c->stage_next ^= 1;
    if (slot.used && (st = cuda_status(cudaEventSynchronize(slot.done), fn, "cudaEventSynchronize"))) return st;
    if (slot.bytes < (size_t)bytes) {
        if (slot.host) cudaFreeHost(slot.host);
        slot.host = nullptr;
        slot.bytes = 0;
        if ((st = cuda_status(cudaHostAlloc(&slot.host, (size_t)bytes, cudaHostAllocDefault), fn, "cudaHostAlloc"))) return st;
        slot.bytes = (size_t)bytes;
    }
    std::memcpy(slot.host, src, (size_t)bytes);
    if (c->have_mark && (st = cuda_status(cudaStreamWaitEvent(c->copy_stream, c->mark, 0), fn, "cudaStreamWaitEvent"))) return st;
    if ((st = cuda_status(cudaEventRecord(c->mark, c->stream), fn, "cudaEventRecord"))) return st;
    c->have_mark = true;
    if ((st = cuda_status(cudaMemcpyAsync(dst, slot.host, (size_t)bytes, cudaMemcpyHostToDevice, c->copy_stream), fn, "cudaMemcpyAsync"))) return st;
    if ((st = cuda_status(cudaEventRecord(slot.done, c->copy_stream), fn, "cudaEventRecord"))) return st;
    slot.used = true;
    return cuda_status(cudaStreamWaitEvent(c->stream, slot.done, 0), fn, "cudaStreamWaitEvent");
}

CU_OP(sync)(jp_ctx ctx) { return cuda_status(cudaStreamSynchronize(impl(ctx)->stream), "jp_sync", "cudaStreamSynchronize"); }

extern "C" jp_status jp_cudnn_available(Ctx *c, const char **why);

static jp_status cu_set_option(jp_ctx ctx, const char *key, const char *value) {
    Ctx *c = impl(ctx);
    static const char *fn = "jp_ctx_set_option";
    if (!strcmp(key, "conv")) {
        if (!strcmp(value, "native")) { c->conv_impl = CONV_NATIVE; return JP_OK; }
        if (!strcmp(value, "cudnn")) {
            const char *why = nullptr;
            if (jp_cudnn_available(c, &why) != JP_OK)
                return jp_fail(JP_ERR_UNSUPPORTED, fn, "conv=cudnn: cuDNN is not usable here: %s", why ? why : "unknown reason");
            c->conv_impl = CONV_CUDNN;
            return JP_OK;
        }
        return jp_fail(JP_ERR_UNSUPPORTED, fn, "conv must be native or cudnn (got %s)", value);
    }
    if (!strcmp(key, "tf32")) {
        if (!strcmp(value, "0")) { c->tf32 = 0; return JP_OK; }
        if (!strcmp(value, "1")) {
#ifndef JP_EMU_BUILD  /* cuda-emu models the sm_80 instructions (sm80.cuh) */
            if (c->prop.major < 8)
                return jp_fail(JP_ERR_UNSUPPORTED, fn, "tf32=1 needs compute capability >= 8.0 (this GPU: %d.%d)", c->prop.major, c->prop.minor);
#endif
            c->tf32 = 1;
            return JP_OK;
        }
        return jp_fail(JP_ERR_UNSUPPORTED, fn, "tf32 must be 0 or 1 (got %s)", value);
    }
    if (!strcmp(key, "pipeline")) {
        if (!strcmp(value, "0") || !strcmp(value, "1") || !strcmp(value, "2")) { c->pipeline = value[0] - '0'; return JP_OK; }
        return jp_fail(JP_ERR_UNSUPPORTED, fn, "pipeline must be 0, 1 or 2 (got %s)", value);
    }
    return jp_fail(JP_ERR_UNSUPPORTED, fn, "unknown option %s (the cuda backend takes conv, tf32 and pipeline)", key);
}

extern "C" void jp_cudnn_destroy(Ctx *c);

static void cu_destroy(jp_ctx ctx) {
    Ctx *c = impl(ctx);
    if (!c) return;
    cudaStreamSynchronize(c->stream);
    jp_cudnn_destroy(c);
    stage_destroy(c);
    c->alloc.empty_cache();
    if (c->stream) cudaStreamDestroy(c->stream);
    delete c;
    ctx->impl = nullptr;
}

static jp_backend make_table() {
    jp_backend t;
    std::memset(&t, 0, sizeof t);
#ifdef JP_EMU_BUILD
    t.label = "cuda-emu";
#else
    t.label = "cuda";
#endif
#define JP_OP(name, params, args, check) t.name = cu_##name;
#include "../src/ops.def"
#undef JP_OP
    t.destroy = cu_destroy;
    t.set_option = cu_set_option;
    return t;
}
static const jp_backend g_table = make_table();

extern "C" __attribute__((visibility("default"))) jp_status jp_plugin_init(jp_ctx ctx) {
    g_vfail = ctx->vfail;
    static const char *fn = "jp_ctx_create";
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        cudaGetLastError();
#ifndef JP_EMU_BUILD
        /* cudart words a missing driver as "driver version is insufficient": say which it is */
        void *drv = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!drv) return jp_fail(JP_ERR_UNSUPPORTED, fn, "no NVIDIA driver on this machine (libcuda.so.1 not loadable: %s)", dlerror());
        dlclose(drv);
#endif
        return jp_fail(JP_ERR_UNSUPPORTED, fn, "no usable CUDA driver or GPU: %s (CUDA error %d)", cudaGetErrorString(e), (int)e);
    }
    if (ctx->ordinal >= count) return jp_fail(JP_ERR_UNSUPPORTED, fn, "GPU %d requested but %d present", ctx->ordinal, count);
    Ctx *c = new (std::nothrow) Ctx();
    if (!c) return jp_fail(JP_ERR_NO_MEMORY, fn, "out of host memory");
    c->device = ctx->ordinal;
    jp_status st = cuda_status(cudaSetDevice(c->device), fn, "cudaSetDevice");
    if (st == JP_OK) st = cuda_status(cudaGetDeviceProperties(&c->prop, c->device), fn, "cudaGetDeviceProperties");
    if (st == JP_OK) st = cuda_status(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), fn, "cudaStreamCreate");
    if (st != JP_OK) { delete c; return st; }
    ctx->impl = c;
    ctx->be = &g_table;
    int drv = 0, rt = 0;
    cudaDriverGetVersion(&drv);
    cudaRuntimeGetVersion(&rt);
#ifdef JP_EMU_BUILD
    snprintf(ctx->describe, sizeof ctx->describe, "cuda-emu: the CUDA kernels on the CPU (g++, fiber per CUDA thread; the TF32 kernel's sm_80 instructions modelled); not emulated: cuDNN");
#else
    snprintf(ctx->describe, sizeof ctx->describe, "cuda: %s, sm_%d%d, %d SMs, %.1f GiB, driver %d, runtime %d", c->prop.name,
             c->prop.major, c->prop.minor, c->prop.multiProcessorCount, c->prop.totalGlobalMem / 1073741824.0, drv, rt);
#endif
    return JP_OK;
}
