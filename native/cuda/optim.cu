/* optim.cu - optimizer steps of the CUDA backend (the CPU's optim.c); the element updates are
 * pointwise.h's, shared with the CPU. */
#include "common.cuh"

using namespace jpcuda;

/* ---------------- optimizers (formulas as the CPU backend's) ---------------- */

__global__ void k_sgd(jp_sgd_desc d, float *param, float *buf, const float *grad, const float *mask, int64_t n) {
    JP_GRID_STRIDE(i, n) jp_sgd_update(&d, i, param, buf, grad, mask);
}

CU_OP(sgd_step)(jp_ctx ctx, const jp_sgd_desc *d, float *param, float *buf, const float *grad, const float *mask, int64_t n) {
    static const char *fn = "jp_sgd_step";
    if (!n) return JP_OK;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_sgd, grid1d(c, n), dim3(256), c->stream, *d, param, buf, grad, mask, n);
    LAUNCHED(fn);
}

__global__ void k_adamw(jp_adamw_desc d, float c1, float c2, float *param, float *m, float *v, const float *grad, const float *mask, int64_t n) {
    JP_GRID_STRIDE(i, n) jp_adamw_update(&d, c1, c2, i, param, m, v, grad, mask);
}

CU_OP(adamw_step)(jp_ctx ctx, const jp_adamw_desc *d, float *param, float *m, float *v, const float *grad, const float *mask, int64_t n) {
    static const char *fn = "jp_adamw_step";
    if (!n) return JP_OK;
    /* bias corrections on the host in float, as the CPU backend computes them */
    const float c1 = jp_adamw_correction(d->beta1, d->step), c2 = jp_adamw_correction(d->beta2, d->step);
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_adamw, grid1d(c, n), dim3(256), c->stream, *d, c1, c2, param, m, v, grad, mask, n);
    LAUNCHED(fn);
}
