/*
 * common.cuh - shared by every .cu file of the CUDA backend, in both builds:
 *   nvcc  -> libjprune_cuda.so    (JP_DEVICE_CUDA)
 *   g++   -> libjprune_cudaemu.so (JP_DEVICE_CUDA_EMU; emu.h supplies the CUDA dialect)
 * Kernels are launched only through JP_LAUNCH, so both builds share every kernel line.
 */
#ifndef JPRUNE_CUDA_COMMON_CUH
#define JPRUNE_CUDA_COMMON_CUH

#ifdef JP_EMU_BUILD
#include "emu.h"
#else
#include <cuda_runtime.h>
#define JP_LAUNCH(kernel, grid, block, stream, ...) kernel<<<(grid), (block), 0, (stream)>>>(__VA_ARGS__)
#endif

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <map>
#include <vector>

extern "C" {
#include "../src/internal.h"
#include "../src/pointwise.h"
}

namespace jpcuda {

/* A caching device allocator: freed blocks go to per-size free lists and are reused, so no op and
 * no Java-side allocation calls cudaMalloc on the hot path once a step has run; cudaFree happens
 * only when the context is destroyed or a cudaMalloc fails (then the cache is emptied and the
 * allocation retried). Sizes are rounded to 512 B below 1 MiB and to 1/8 of their power of two above
 * (at most 12.5% waste). Blocks are handed back in stream order: every op of a context runs on the
 * context's one stream, so a block freed after enqueueing a kernel can be reused by the next op. */
class Allocator {
  public:
    void *alloc(size_t bytes);
    void free(void *p);
    void empty_cache();
    int64_t in_use() const { return in_use_; }
    int64_t reserved() const { return reserved_; }

  private:
    static size_t round(size_t bytes);
    std::mutex mu_;
    std::multimap<size_t, void *> free_;
    std::unordered_map<void *, size_t> live_;
    int64_t in_use_ = 0, reserved_ = 0;
};

enum ConvImpl { CONV_NATIVE = 0, CONV_CUDNN = 1 };

struct Ctx {
    int device = 0;
    cudaStream_t stream = nullptr;
    cudaDeviceProp prop{};
    Allocator alloc;
    int conv_impl = CONV_NATIVE;
    int tf32 = 0;
    int pipeline = 0;  /* the FP32 conv kernel: 0 v4, 1 double-buffered shared memory (v5), 2 cp.async ring (v7) */
    void *cudnn = nullptr;  // cudnnHandle_t, created on first use
    std::mutex cudnn_mu;
    /* jp_copy_h2d_async: its stream, two page-locked staging slots taking turns, each with the event
     * of its last copy, and the mark recorded on the compute stream at the previous call */
    struct Stage { void *host = nullptr; size_t bytes = 0; cudaEvent_t done = nullptr; bool used = false; };
    cudaStream_t copy_stream = nullptr;
    Stage stage[2];
    int stage_next = 0;
    cudaEvent_t mark = nullptr;
    bool have_mark = false;
    std::mutex stage_mu;
};

inline Ctx *impl(jp_ctx ctx) { return static_cast<Ctx *>(ctx->impl); }

/* Checks for launch errors after a kernel is enqueued (no synchronisation). */
jp_status launched(const char *fn);
/* Status of a runtime call. */
jp_status cuda_status(cudaError_t e, const char *fn, const char *what);

/* scratch memory for one op: from the context's caching allocator, returned when it goes out of
 * scope (stream order makes the reuse safe) */
struct Scratch {
    Ctx *c;
    void *p = nullptr;
    Scratch(Ctx *c_, size_t bytes) : c(c_) { p = c->alloc.alloc(bytes); }
    ~Scratch() { if (p) c->alloc.free(p); }
    Scratch(const Scratch &) = delete;
    Scratch &operator=(const Scratch &) = delete;
    template <class T> T *as() const { return static_cast<T *>(p); }
};

/* the op returns the status of its launches */
#define LAUNCHED(fn) return launched(fn)

/* 1-D launch geometry for grid-stride kernels: enough blocks to fill the GPU, never more than the
 * work needs; in emulation one block (the loops cover any grid). */
inline dim3 grid1d(const Ctx *c, int64_t n, int threads = 256) {
#ifdef JP_EMU_BUILD
    (void)c; (void)n; (void)threads;
    return dim3(1);
#else
    int64_t want = (n + threads - 1) / threads, cap = (int64_t)c->prop.multiProcessorCount * 8;
    if (want < 1) want = 1;
    return dim3((unsigned)(want < cap ? want : cap));
#endif
}

#define JP_GRID_STRIDE(i, n) \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)blockDim.x * gridDim.x)

/* block-wide sum of one value per thread (float or double; blockDim.x a multiple of 32, <= 1024);
 * every thread gets the result. Deterministic: a fixed tree, no atomics. Contains __syncthreads:
 * call from all threads. */
template <class T>
__device__ __forceinline__ T block_sum(T v, T *shared32) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    __syncthreads();  // shared32 may still be read by a previous call
    if (lane == 0) shared32[warp] = v;
    __syncthreads();
    if (warp == 0) {
        T s = lane < warps ? shared32[lane] : T(0);
        for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
        if (lane == 0) shared32[0] = s;
    }
    __syncthreads();
    return shared32[0];
}

}  // namespace jpcuda

/* every op of the backend, defined across the .cu files */
#define JP_OP(name, params, args, check) extern "C" jp_status cu_##name params;
#include "../src/ops.def"
#undef JP_OP

#define CU_OP(name) extern "C" jp_status cu_##name

#endif
