/* Optimizer steps for the CPU backend; masks keep pruned entries (and their state) at zero. */
#include "cpu.h"
#include <math.h>

CPU_OP(sgd_step)(jp_ctx ctx, const jp_sgd_desc *d, float *param, float *buf, const float *grad, const float *mask, int64_t n) {
    const float lr = d->lr, mu = d->momentum, wd = d->weight_decay;
    const int nesterov = d->nesterov;
    JP_PARFOR(jp_team(ctx), n, n, i, {
        if (mask && mask[i] == 0.f) { param[i] = 0.f; if (buf) buf[i] = 0.f; continue; }
        float g = grad[i] + wd * param[i];
        if (mu != 0.f) {
            float b = mu * buf[i] + g;
            buf[i] = b;
            g = nesterov ? g + mu * b : b;
        }
        param[i] -= lr * g;
    });
    return JP_OK;
}

CPU_OP(adamw_step)(jp_ctx ctx, const jp_adamw_desc *d, float *param, float *m, float *v, const float *grad, const float *mask, int64_t n) {
    const float lr = d->lr, b1 = d->beta1, b2 = d->beta2, eps = d->eps, wd = d->weight_decay;
    const float c1 = 1.f - powf(b1, (float)d->step), c2 = 1.f - powf(b2, (float)d->step);
    JP_PARFOR(jp_team(ctx), n, n, i, {
        if (mask && mask[i] == 0.f) { param[i] = 0.f; m[i] = 0.f; v[i] = 0.f; continue; }
        float g = grad[i], p = param[i] * (1.f - lr * wd);
        float mi = b1 * m[i] + (1.f - b1) * g, vi = b2 * v[i] + (1.f - b2) * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] = p - lr * (mi / c1) / (sqrtf(vi / c2) + eps);
    });
    return JP_OK;
}
