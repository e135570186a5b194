/*
 * emu.h - CUDA emulation for g++: the CUDA backend's .cu files compiled as C++20 on the CPU
 * (libjprune_cudaemu.so, JP_DEVICE_CUDA_EMU), so CI runs every kernel line without a GPU.
 *
 * Model. A launch runs its blocks one after another on the calling OS thread. Inside a block, every
 * CUDA thread is a fiber with its own stack (a register/stack-pointer switch on x86-64, ucontext
 * elsewhere); the scheduler runs them round-robin and a
 * fiber only yields at a barrier: __syncthreads() (all live threads of the block) or a warp
 * operation (all live lanes of its warp: shuffles, votes, __syncwarp). Why fibers and not one OS
 * thread per CUDA thread: the result is deterministic and a missing __syncthreads fails the tests
 * every time (a fiber that reads shared memory before the writers ran sees stale data), where
 * real threads would fail only by chance; and a barrier costs a fiber switch (~0.3 us) instead of
 * 256 futex wake-ups, which makes the whole op suite runnable in CI.
 *
 * __shared__ is `static`: one copy per kernel, reused by each block in turn, which is block-shared
 * memory exactly because blocks run one at a time. Launches are serialised by one process-wide
 * lock (contexts on several Java threads stay correct). Atomics are plain read-modify-writes (one
 * OS thread runs them all). Device memory is host memory; streams are ordered trivially.
 *
 * The sm_80 operations of the TF32 kernel (mma.sync, cp.async, the TF32 rounding) are modelled in
 * sm80.cuh on top of the warp exchange and the async-copy queues below. Not emulated: other inline
 * PTX (none is used) and cuDNN.
 */
#ifndef JPRUNE_CUDA_EMU_H
#define JPRUNE_CUDA_EMU_H

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <type_traits>

#define JP_EMU 1

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __restrict__ __restrict
#define __align__(n) __attribute__((aligned(n)))

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
typedef dim3 uint3;

namespace jpemu {
extern thread_local uint3 threadIdx_, blockIdx_;
extern thread_local dim3 blockDim_, gridDim_;
/* runs body once per CUDA thread of every block of the grid; returns 0, or -1 with a message
 * (deadlock at a barrier, bad launch configuration) in jpemu::last_error() */
int launch(dim3 grid, dim3 block, const std::function<void()> &body);
const char *last_error();
void syncthreads();
void syncwarp();
/* a warp exchange: every live lane of the warp deposits v; returns the lanes' deposits */
const uint64_t *warp_exchange(uint64_t v);
unsigned lane_id();
/* cp.async (sm80.cuh): the copy is queued on the calling CUDA thread and lands when async_wait
 * retires its group (commit closes a group; wait(n) lands all but the n most recent ones) */
void async_copy(void *dst, const void *src, unsigned bytes);
void async_commit();
void async_wait(unsigned pending);
}  // namespace jpemu

#define threadIdx (jpemu::threadIdx_)
#define blockIdx (jpemu::blockIdx_)
#define blockDim (jpemu::blockDim_)
#define gridDim (jpemu::gridDim_)
static const int warpSize = 32;

inline void __syncthreads() { jpemu::syncthreads(); }
inline void __syncwarp(unsigned = 0xffffffffu) { jpemu::syncwarp(); }

template <class T> inline uint64_t jpemu_bits(T v) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffle of a type wider than 64 bits");
    uint64_t b = 0;
    std::memcpy(&b, &v, sizeof v);
    return b;
}
template <class T> inline T jpemu_from(uint64_t b) {
    T v;
    std::memcpy(&v, &b, sizeof v);
    return v;
}
/* out-of-range source lanes return the caller's own value, as on the GPU */
template <class T> inline T __shfl_sync(unsigned, T v, int src, int width = 32) {
    unsigned lane = jpemu::lane_id(), base = lane - lane % (unsigned)width;
    const uint64_t *all = jpemu::warp_exchange(jpemu_bits(v));
    return jpemu_from<T>(all[base + ((unsigned)src % (unsigned)width)]);
}
template <class T> inline T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32) {
    unsigned lane = jpemu::lane_id(), inw = lane % (unsigned)width;
    const uint64_t *all = jpemu::warp_exchange(jpemu_bits(v));
    return inw + delta < (unsigned)width ? jpemu_from<T>(all[lane + delta]) : v;
}
template <class T> inline T __shfl_up_sync(unsigned, T v, unsigned delta, int width = 32) {
    unsigned lane = jpemu::lane_id(), inw = lane % (unsigned)width;
    const uint64_t *all = jpemu::warp_exchange(jpemu_bits(v));
    return inw >= delta ? jpemu_from<T>(all[lane - delta]) : v;
}
template <class T> inline T __shfl_xor_sync(unsigned, T v, int mask, int width = 32) {
    unsigned lane = jpemu::lane_id(), base = lane - lane % (unsigned)width;
    const uint64_t *all = jpemu::warp_exchange(jpemu_bits(v));
    unsigned src = lane ^ (unsigned)mask;
    return src >= base && src < base + (unsigned)width ? jpemu_from<T>(all[src]) : v;
}
/* lanes that did not reach the vote (exited, or past the block's end) count as 0 */
inline unsigned __ballot_sync(unsigned mask, int pred) {
    const uint64_t *all = jpemu::warp_exchange(pred ? 1u : 0u);
    unsigned r = 0;
    for (unsigned l = 0; l < 32; l++) r |= (all[l] == 1u ? 1u : 0u) << l;
    return r & mask;
}
inline int __any_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) != 0; }
inline int __all_sync(unsigned mask, int pred) {
    unsigned lane = jpemu::lane_id(), active = __ballot_sync(0xffffffffu, 1);
    (void)lane;
    return (__ballot_sync(mask, pred) & active & mask) == (active & mask);
}

template <class T> inline T atomicAdd(T *p, T v) { T old = *p; *p = old + v; return old; }
template <class T> inline T atomicMax(T *p, T v) { T old = *p; if (v > old) *p = v; return old; }
template <class T> inline T atomicMin(T *p, T v) { T old = *p; if (v < old) *p = v; return old; }
template <class T> inline T atomicExch(T *p, T v) { T old = *p; *p = v; return old; }
template <class T> inline T atomicCAS(T *p, T cmp, T v) { T old = *p; if (old == cmp) *p = v; return old; }
inline void __threadfence() {}
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }

inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
inline float __ldg(const float *p) { return *p; }
inline int __ldg(const int *p) { return *p; }
inline float __expf(float x) { return expf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }

/* ---- the runtime API subset the backend uses ---- */
typedef int cudaError_t;
typedef void *cudaStream_t;
typedef void *cudaEvent_t;
enum { cudaSuccess = 0, cudaErrorMemoryAllocation = 2, cudaErrorInvalidValue = 1, cudaErrorLaunchFailure = 719 };
enum cudaMemcpyKind { cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3 };
struct cudaDeviceProp {
    char name[256];
    int multiProcessorCount;
    int major, minor;
    size_t totalGlobalMem;
    size_t sharedMemPerBlock;
};
cudaError_t cudaGetLastError();
const char *cudaGetErrorString(cudaError_t e);
cudaError_t cudaGetDeviceCount(int *n);
cudaError_t cudaSetDevice(int d);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int d);
cudaError_t cudaMalloc(void **p, size_t bytes);
cudaError_t cudaFree(void *p);
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s);
cudaError_t cudaMemsetAsync(void *dst, int value, size_t bytes, cudaStream_t s);
cudaError_t cudaDriverGetVersion(int *v);
cudaError_t cudaRuntimeGetVersion(int *v);
#define cudaStreamNonBlocking 1u
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags);
cudaError_t cudaHostAlloc(void **p, size_t bytes, unsigned flags);
cudaError_t cudaFreeHost(void *p);
#define cudaEventDisableTiming 2u
#define cudaHostAllocDefault 0u

/* kernel<<<grid, block, 0, stream>>>(args...) */
#define JP_LAUNCH(kernel, grid, block, stream, ...)                                            \
    do {                                                                                       \
        (void)(stream);                                                                        \
        if (jpemu::launch((grid), (block), [&]() { kernel(__VA_ARGS__); }) != 0) jpemu_set_launch_error(); \
    } while (0)
void jpemu_set_launch_error();

#endif
