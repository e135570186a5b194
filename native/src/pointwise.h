/* Pointwise math shared by the backends: one definition of each activation and its derivative, and
 * of each optimizer's element update, for the CPU's loops and epilogues and for the CUDA kernels (nvcc
 * and cuda-emu compile it for the device). The CPU's vectorised SiLU loops (eltwise.c) use a polynomial exp instead of expf; their
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
    case JP_ACT_SIGMOID: return 1.f / (1.f + expf(-v));
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
    case JP_ACT_SIGMOID: {
        const float sg = 1.f / (1.f + expf(-v));
        return g * sg * (1.f - sg);
    }
    default: return g;
    }
}

/* One SGD element update (momentum_buf may be NULL when momentum is 0); a masked element (mask 0)
 * and its momentum are set to 0, so pruned weights stay pruned. */
JP_POINTWISE void jp_sgd_update(const jp_sgd_desc *d, int64_t i, float *param, float *momentum_buf, const float *grad,
                                const float *mask) {
    if (mask && mask[i] == 0.f) {
        param[i] = 0.f;
        if (momentum_buf) momentum_buf[i] = 0.f;
        return;
    }
    float g = grad[i] + d->weight_decay * param[i];
    if (d->momentum != 0.f) {
        const float b = d->momentum * momentum_buf[i] + g;
        momentum_buf[i] = b;
        g = d->nesterov ? g + d->momentum * b : b;
    }
    param[i] -= d->lr * g;
}

/* AdamW's bias correction 1 - beta^step, in float (the host computes it once per step) */
JP_POINTWISE float jp_adamw_correction(float beta, int32_t step) { return 1.f - powf(beta, (float)step); }

/* One AdamW element update (decoupled weight decay); c1, c2: the bias corrections of beta1, beta2.
 * A masked element and its moments are set to 0. */
JP_POINTWISE void jp_adamw_update(const jp_adamw_desc *d, float c1, float c2, int64_t i, float *param, float *m, float *v,
                                  const float *grad, const float *mask) {
    if (mask && mask[i] == 0.f) {
        param[i] = 0.f;
        m[i] = 0.f;
        v[i] = 0.f;
        return;
    }
    const float g = grad[i], p = param[i] * (1.f - d->lr * d->weight_decay);
    const float mi = d->beta1 * m[i] + (1.f - d->beta1) * g, vi = d->beta2 * v[i] + (1.f - d->beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = p - d->lr * (mi / c1) / (sqrtf(vi / c2) + d->eps);
}

#endif
