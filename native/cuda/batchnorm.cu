/* batchnorm.cu - batch norm of the CUDA backend (the CPU's batchnorm.c): one block per channel, two
 * passes in double, deterministic. */
#include "common.cuh"

using namespace jpcuda;

/* ---------------- batch norm: one block per channel, two passes in double ---------------- */


__global__ void __launch_bounds__(256) k_bn_train(jp_bn_desc d, float *y, float *save_mean, float *save_invstd, float *rmean, float *rvar,
                                                  const float *x, const float *gamma, const float *beta) {
    __shared__ double red[32];
    const int64_t c = blockIdx.x, C = d.c, HW = d.hw, N = d.n, cnt = N * HW;
    double s = 0.0;
    for (int64_t n = 0; n < N; n++) {
        const float *p = x + (n * C + c) * HW;
        float part = 0.f;
        for (int64_t i = threadIdx.x; i < HW; i += blockDim.x) part += p[i];
        s += part;
    }
    const double mean = block_sum(s, red) / (double)cnt;
    double ss = 0.0;
    for (int64_t n = 0; n < N; n++) {
        const float *p = x + (n * C + c) * HW;
        for (int64_t i = threadIdx.x; i < HW; i += blockDim.x) { double t = p[i] - mean; ss += t * t; }
    }
    const double sq = block_sum(ss, red);
    const double var = sq / (double)cnt, invstd = 1.0 / sqrt(var + (double)d.eps);
    if (threadIdx.x == 0) {
        save_mean[c] = (float)mean;
        save_invstd[c] = (float)invstd;
        double unbiased = cnt > 1 ? sq / (double)(cnt - 1) : var;
        rmean[c] = (float)((1.0 - d.momentum) * rmean[c] + d.momentum * mean);
        rvar[c] = (float)((1.0 - d.momentum) * rvar[c] + d.momentum * unbiased);
    }
    const float a = (float)(gamma[c] * invstd), b = (float)(beta[c] - gamma[c] * invstd * mean);
    for (int64_t n = 0; n < N; n++) {
        const float *p = x + (n * C + c) * HW;
        float *q = y + (n * C + c) * HW;
        for (int64_t i = threadIdx.x; i < HW; i += blockDim.x) q[i] = a * p[i] + b;
    }
}

CU_OP(batchnorm_fwd_train)(jp_ctx ctx, const jp_bn_desc *d, float *y, float *save_mean, float *save_invstd, float *running_mean,
                           float *running_var, const float *x, const float *gamma, const float *beta) {
    static const char *fn = "jp_batchnorm_fwd_train";
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_bn_train, dim3((unsigned)d->c), dim3(256), c->stream, *d, y, save_mean, save_invstd, running_mean, running_var, x, gamma, beta);
    LAUNCHED(fn);
}

__global__ void k_bn_infer(jp_bn_desc d, float *y, const float *x, const float *gamma, const float *beta, const float *rmean, const float *rvar, int64_t n) {
    JP_GRID_STRIDE(i, n) {
        int64_t c = (i / d.hw) % d.c;
        float invstd = 1.f / sqrtf(rvar[c] + d.eps), a = gamma[c] * invstd, b = beta[c] - a * rmean[c];
        y[i] = a * x[i] + b;
    }
}

CU_OP(batchnorm_fwd_infer)(jp_ctx ctx, const jp_bn_desc *d, float *y, const float *x, const float *gamma, const float *beta,
                           const float *running_mean, const float *running_var) {
    static const char *fn = "jp_batchnorm_fwd_infer";
    const int64_t n = (int64_t)d->n * d->c * d->hw;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_bn_infer, grid1d(c, n), dim3(256), c->stream, *d, y, x, gamma, beta, running_mean, running_var, n);
    LAUNCHED(fn);
}

__global__ void __launch_bounds__(256) k_bn_bwd(jp_bn_desc d, float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                                                const float *gamma, const float *save_mean, const float *save_invstd) {
    __shared__ double red[32];
    const int64_t c = blockIdx.x, C = d.c, HW = d.hw, N = d.n, cnt = N * HW;
    const double mean = save_mean[c], invstd = save_invstd[c];
    double sdy = 0.0, sdyx = 0.0;
    for (int64_t n = 0; n < N; n++) {
        const float *g = dy + (n * C + c) * HW, *p = x + (n * C + c) * HW;
        for (int64_t i = threadIdx.x; i < HW; i += blockDim.x) { sdy += g[i]; sdyx += g[i] * (p[i] - mean); }
    }
    sdy = block_sum(sdy, red);
    sdyx = block_sum(sdyx, red);
    if (threadIdx.x == 0) {
        dbeta[c] = (float)sdy;
        dgamma[c] = (float)(sdyx * invstd);
    }
    const double k = gamma[c] * invstd / (double)cnt, mxh = sdyx * invstd;
    for (int64_t n = 0; n < N; n++) {
        const float *g = dy + (n * C + c) * HW, *p = x + (n * C + c) * HW;
        float *q = dx + (n * C + c) * HW;
        for (int64_t i = threadIdx.x; i < HW; i += blockDim.x) {
            double xhat = (p[i] - mean) * invstd;
            q[i] = (float)(k * ((double)cnt * g[i] - sdy - xhat * mxh));
        }
    }
}

CU_OP(batchnorm_bwd)(jp_ctx ctx, const jp_bn_desc *d, float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                     const float *gamma, const float *save_mean, const float *save_invstd) {
    static const char *fn = "jp_batchnorm_bwd";
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_bn_bwd, dim3((unsigned)d->c), dim3(256), c->stream, *d, dx, dgamma, dbeta, dy, x, gamma, save_mean, save_invstd);
    LAUNCHED(fn);
}
