/*
 * sm80.cuh - the sm_80 warp-level operations of the TF32 tensor-core kernel (conv2d.cu v6), written
 * once for both builds: nvcc emits the PTX instructions, cuda-emu runs an exact model of each, so the
 * op suite checks the kernel's fragment layout, its rounding and its copy pipeline without a GPU.
 *
 *   to_tf32(x)        cvt.rna.tf32.f32: round to 10 mantissa bits, to nearest, ties away from zero
 *   mma_tf32(d, a, b) mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32, d += A (16x8) * B (8x8)
 *                     over the warp's fragments (PTX ISA, "matrix fragments for mma.m16n8k8"): with
 *                     g = lane / 4 and t = lane % 4, a = A[g][t], A[g+8][t], A[g][t+4], A[g+8][t+4];
 *                     b = B[t][g], B[t+4][g]; d = D[g][2t], D[g][2t+1], D[g+8][2t], D[g+8][2t+1].
 *                     The emulation gathers the warp's fragments, multiplies the TF32 values (exact in
 *                     FP32) and adds them in k order in FP32; the tensor cores' internal order may
 *                     differ by rounding.
 *   cp_async(dst, src, bytes)  cp.async (4 or 16 bytes, global -> shared); src nullptr reads zeros
 *   cp_async_commit()          cp.async.commit_group
 *   cp_async_wait<N>()         cp.async.wait_group N: all but the N most recent groups have landed
 *                     Emulated faithfully: a copy lands in shared memory only when a wait_group
 *                     retires its group, so a kernel that reads a stage before waiting for it, or
 *                     reuses a stage still in flight, reads stale data and fails the tests every time;
 *                     a thread that exits with copies never waited for fails its launch.
 * Every lane of the warp must call mma_tf32 together (it is a warp-wide exchange in emulation).
 */
#ifndef JPRUNE_CUDA_SM80_CUH
#define JPRUNE_CUDA_SM80_CUH

#include <cstdint>
#include <cstring>

namespace jpcuda {

/* 16 zero bytes for the copies of padding and out-of-range elements */
__device__ __align__(16) const float kZeros4[4] = {0.f, 0.f, 0.f, 0.f};

#ifdef JP_EMU_BUILD

inline uint32_t to_tf32(float x) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) == 0x7f800000u) return (u & 0x007fffffu) ? 0x7fffffffu : u;  // NaN (canonical), +-inf
    return (u + 0x1000u) & 0xffffe000u;  // half an ulp of the 10-bit mantissa added to the magnitude, then truncated
}

inline void mma_tf32(float d[4], const uint32_t a[4], const uint32_t b[2]) {
    uint32_t A[4][32], B[2][32];
    for (int pair = 0; pair < 3; pair++) {
        const uint32_t lo = pair < 2 ? a[2 * pair] : b[0], hi = pair < 2 ? a[2 * pair + 1] : b[1];
        const uint64_t *all = jpemu::warp_exchange(lo | (uint64_t)hi << 32);
        for (int l = 0; l < 32; l++) {
            uint32_t *dlo = pair < 2 ? A[2 * pair] : B[0], *dhi = pair < 2 ? A[2 * pair + 1] : B[1];
            dlo[l] = (uint32_t)all[l];
            dhi[l] = (uint32_t)(all[l] >> 32);
        }
    }
    auto f = [](uint32_t u) { float v; std::memcpy(&v, &u, 4); return v; };
    const int lane = (int)jpemu::lane_id(), g = lane / 4, t = lane % 4;
    for (int r = 0; r < 4; r++) {
        const int row = g + 8 * (r / 2), col = 2 * t + r % 2;
        float s = d[r];
        for (int k = 0; k < 8; k++) {
            const float av = f(A[(row >= 8 ? 1 : 0) + (k >= 4 ? 2 : 0)][(row % 8) * 4 + k % 4]);
            const float bv = f(B[k >= 4 ? 1 : 0][col * 4 + k % 4]);
            s += av * bv;  // the product of two TF32 values is exact in FP32
        }
        d[r] = s;
    }
}

inline void cp_async(float *dst, const float *src, int bytes) { jpemu::async_copy(dst, src ? src : kZeros4, (unsigned)bytes); }
inline void cp_async_commit() { jpemu::async_commit(); }
template <int N> inline void cp_async_wait() { jpemu::async_wait(N); }

#else

__device__ __forceinline__ uint32_t to_tf32(float x) {
    uint32_t r = 0;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
#endif
    return r;
}

__device__ __forceinline__ void mma_tf32(float d[4], const uint32_t a[4], const uint32_t b[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

/* 16-byte copies bypass L1 (.cg: operands are read once per block); 4-byte ones may only use .ca */
__device__ __forceinline__ void cp_async(float *dst, const float *src, int bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    const unsigned s = (unsigned)__cvta_generic_to_shared(dst);
    if (!src) src = kZeros4;
    if (bytes == 16) asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(s), "l"(src) : "memory");
    else asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"(s), "l"(src) : "memory");
#endif
}
__device__ __forceinline__ void cp_async_commit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;" ::: "memory");
#endif
}
template <int N> __device__ __forceinline__ void cp_async_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
#endif
}

#endif

}  // namespace jpcuda

#endif
