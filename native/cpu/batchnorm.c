/* Batch norm over [n][c][hw], statistics per channel; double accumulation for the sums. */
#include "cpu.h"
#include <math.h>


CPU_OP(batchnorm_fwd_train)(jp_ctx ctx, const jp_bn_desc *d, float *y, float *save_mean, float *save_invstd,
                            float *running_mean, float *running_var, const float *x, const float *gamma, const float *beta) {
    static const char *fn = "jp_batchnorm_fwd_train";
    jp_status st = jp_check_bn(fn, d);
    if (st) return st;
    JP_CHECK(y && save_mean && save_invstd && running_mean && running_var && x && gamma && beta, fn, "a required pointer is NULL");
    const int64_t N = d->n, C = d->c, HW = d->hw, cnt = N * HW;
#pragma omp parallel for num_threads(ctx->threads) if (ctx->threads > 1) schedule(static)
    for (int64_t c = 0; c < C; c++) {
        double s = 0, ss = 0;
        for (int64_t n = 0; n < N; n++) {
            const float *p = x + (n * C + c) * HW;
            for (int64_t i = 0; i < HW; i++) s += p[i];
        }
        double mean = s / cnt;
        for (int64_t n = 0; n < N; n++) {
            const float *p = x + (n * C + c) * HW;
            for (int64_t i = 0; i < HW; i++) { double t = p[i] - mean; ss += t * t; }
        }
        double var = ss / cnt, invstd = 1.0 / sqrt(var + d->eps);
        save_mean[c] = (float)mean;
        save_invstd[c] = (float)invstd;
        double unbiased = cnt > 1 ? ss / (cnt - 1) : var;
        running_mean[c] = (float)((1.0 - d->momentum) * running_mean[c] + d->momentum * mean);
        running_var[c] = (float)((1.0 - d->momentum) * running_var[c] + d->momentum * unbiased);
        const float a = (float)(gamma[c] * invstd), b = (float)(beta[c] - gamma[c] * invstd * mean);
        for (int64_t n = 0; n < N; n++) {
            const float *p = x + (n * C + c) * HW;
            float *q = y + (n * C + c) * HW;
            for (int64_t i = 0; i < HW; i++) q[i] = a * p[i] + b;
        }
    }
    return JP_OK;
}

CPU_OP(batchnorm_fwd_infer)(jp_ctx ctx, const jp_bn_desc *d, float *y, const float *x, const float *gamma,
                            const float *beta, const float *running_mean, const float *running_var) {
    static const char *fn = "jp_batchnorm_fwd_infer";
    jp_status st = jp_check_bn(fn, d);
    if (st) return st;
    JP_CHECK(y && x && gamma && beta && running_mean && running_var, fn, "a required pointer is NULL");
    const int64_t N = d->n, C = d->c, HW = d->hw;
#pragma omp parallel for collapse(2) num_threads(ctx->threads) if (ctx->threads > 1 && N * C * HW > 65536) schedule(static)
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) {
            const float invstd = 1.f / sqrtf(running_var[c] + d->eps);
            const float a = gamma[c] * invstd, b = beta[c] - a * running_mean[c];
            const float *p = x + (n * C + c) * HW;
            float *q = y + (n * C + c) * HW;
            for (int64_t i = 0; i < HW; i++) q[i] = a * p[i] + b;
        }
    return JP_OK;
}

CPU_OP(batchnorm_bwd)(jp_ctx ctx, const jp_bn_desc *d, float *dx, float *dgamma, float *dbeta, const float *dy,
                      const float *x, const float *gamma, const float *save_mean, const float *save_invstd) {
    static const char *fn = "jp_batchnorm_bwd";
    jp_status st = jp_check_bn(fn, d);
    if (st) return st;
    JP_CHECK(dx && dgamma && dbeta && dy && x && gamma && save_mean && save_invstd, fn, "a required pointer is NULL");
    const int64_t N = d->n, C = d->c, HW = d->hw, cnt = N * HW;
#pragma omp parallel for num_threads(ctx->threads) if (ctx->threads > 1) schedule(static)
    for (int64_t c = 0; c < C; c++) {
        const double mean = save_mean[c], invstd = save_invstd[c];
        double sdy = 0, sdyx = 0;
        for (int64_t n = 0; n < N; n++) {
            const float *g = dy + (n * C + c) * HW, *p = x + (n * C + c) * HW;
            for (int64_t i = 0; i < HW; i++) { sdy += g[i]; sdyx += g[i] * (p[i] - mean); }
        }
        dbeta[c] = (float)sdy;
        dgamma[c] = (float)(sdyx * invstd);
        /* dx = gamma*invstd/cnt * (cnt*dy - sum(dy) - xhat * sum(dy*xhat)) */
        const double k = gamma[c] * invstd / cnt, mdy = sdy, mxh = sdyx * invstd;
        for (int64_t n = 0; n < N; n++) {
            const float *g = dy + (n * C + c) * HW, *p = x + (n * C + c) * HW;
            float *q = dx + (n * C + c) * HW;
            for (int64_t i = 0; i < HW; i++) {
                double xhat = (p[i] - mean) * invstd;
                q[i] = (float)(k * (cnt * (double)g[i] - mdy - xhat * mxh));
            }
        }
    }
    return JP_OK;
}
