/* Optimizer steps for the CPU backend: the element updates are pointwise.h's (shared with CUDA);
 * masks keep pruned entries (and their state) at zero. */
#include "cpu.h"
#include "../src/pointwise.h"

CPU_OP(sgd_step)(jp_ctx ctx, const jp_sgd_desc *d, float *param, float *buf, const float *grad, const float *mask, int64_t n) {
    const jp_sgd_desc dd = *d; /* a local copy: the updates cannot alias it, so its fields stay in registers */
    JP_PARFOR(jp_team(ctx), n, n, i, jp_sgd_update(&dd, i, param, buf, grad, mask););
    return JP_OK;
}

CPU_OP(adamw_step)(jp_ctx ctx, const jp_adamw_desc *d, float *param, float *m, float *v, const float *grad, const float *mask, int64_t n) {
    const jp_adamw_desc dd = *d;
    const float c1 = jp_adamw_correction(dd.beta1, dd.step), c2 = jp_adamw_correction(dd.beta2, dd.step);
    JP_PARFOR(jp_team(ctx), n, n, i, jp_adamw_update(&dd, c1, c2, i, param, m, v, grad, mask););
    return JP_OK;
}
