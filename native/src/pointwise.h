/* Pointwise math shared by the backends: one definition of each activation and its derivative, for
 * the CPU's scalar loops and epilogues and for the CUDA kernels (nvcc and cuda-emu compile it for the
 * device). The CPU's vectorised SiLU loops (eltwise.c) use a polynomial exp instead of expf; their
 * results agree with these to ~1e-7 relative. */
#ifndef JPRUNE_POINTWISE_H
#define JPRUNE_POINTWISE_H

#include "../include/jprune.h"
#include <math.h>

#if defined(__CUDACC__) || defined(JP_EMU)
#define JP_POINTWISE __host__ __device__ static inline
#else
#define JP_POINTWISE static inline
#endif

/* act(v) for JP_ACT_* kind (an unknown kind is the identity; callers check kinds); alpha: leaky ReLU's slope */
JP_POINTWISE float jp_act_value(int kind, float alpha, float v) {
    switch (kind) {
    case JP_ACT_RELU: return v > 0.f ? v : 0.f;
    case JP_ACT_LEAKY_RELU: return v > 0.f ? v : alpha * v;
    case JP_ACT_SILU: return v / (1.f + expf(-v));
    default: return v;
    }
}

/* d act(v) / dv times g */
JP_POINTWISE float jp_act_grad(int kind, float alpha, float v, float g) {
    switch (kind) {
    case JP_ACT_RELU: return v > 0.f ? g : 0.f;
    case JP_ACT_LEAKY_RELU: return v > 0.f ? g : alpha * g;
    case JP_ACT_SILU: {
        const float sg = 1.f / (1.f + expf(-v));
        return g * sg * (1.f + v * (1.f - sg));
    }
    default: return g;
    }
}

#endif
