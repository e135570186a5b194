/* Batch norm over [n][c][hw], statistics per channel; double accumulation for the sums. */
#include "cpu.h"
#include <math.h>

/* Per-channel sums over a run of floats with 8 independent double accumulators, combined in a fixed
 * order: deterministic, double-accurate, and free of the one-add-per-4-cycles dependency chain a single
 * accumulator makes (that chain was 2/3 of batch norm's time in a yolov5n training step). */
#define BN_LANES 8

JP_CLONES
static void bn_sum(const float *restrict p, int64_t n, double mean, double acc[restrict 2 * BN_LANES]) {
    /* acc[0..7] += p - mean, acc[8..15] += (p - mean)^2 */
    int64_t i = 0;
    for (; i + BN_LANES <= n; i += BN_LANES)
        for (int j = 0; j < BN_LANES; j++) {
            double t = (double)p[i + j] - mean;
            acc[j] += t;
            acc[BN_LANES + j] += t * t;
        }
    for (; i < n; i++) {
        double t = (double)p[i] - mean;
        acc[0] += t;
        acc[BN_LANES] += t * t;
    }
}

JP_CLONES
static void bn_sum_dy(const float *restrict g, const float *restrict p, int64_t n, double mean, double acc[restrict 2 * BN_LANES]) {
    /* acc[0..7] += dy, acc[8..15] += dy * (x - mean) */
    int64_t i = 0;
    for (; i + BN_LANES <= n; i += BN_LANES)
        for (int j = 0; j < BN_LANES; j++) {
            acc[j] += g[i + j];
            acc[BN_LANES + j] += (double)g[i + j] * ((double)p[i + j] - mean);
        }
    for (; i < n; i++) {
        acc[0] += g[i];
        acc[BN_LANES] += (double)g[i] * ((double)p[i] - mean);
    }
}

static double lanes_total(const double *acc) {
    double s = 0;
    for (int j = 0; j < BN_LANES; j++) s += acc[j];
    return s;
}

JP_CLONES
static void bn_affine(float *restrict q, const float *restrict p, int64_t n, float a, float b) {
    for (int64_t i = 0; i < n; i++) q[i] = a * p[i] + b;
}

JP_CLONES
static void bn_dx(float *restrict q, const float *restrict g, const float *restrict p, int64_t n, double k, double cnt, double mdy,
                  double mean, double invstd, double mxh) {
    for (int64_t i = 0; i < n; i++) {
        double xhat = ((double)p[i] - mean) * invstd;
        q[i] = (float)(k * (cnt * (double)g[i] - mdy - xhat * mxh));
    }
}


CPU_OP(batchnorm_fwd_train)(jp_ctx ctx, const jp_bn_desc *d, float *y, float *save_mean, float *save_invstd,
                            float *running_mean, float *running_var, const float *x, const float *gamma, const float *beta) {
    const int64_t N = d->n, C = d->c, HW = d->hw, cnt = N * HW;
    const int team = jp_team(ctx);
#pragma omp parallel for num_threads(team) if (team > 1) schedule(static)
    for (int64_t c = 0; c < C; c++) {
        /* one pass of shifted sums: s = sum(x - K), ss = sum((x - K)^2) with K one of the channel's own
         * values, so mean - K is of the order of the spread and the double sums do not cancel */
        double acc[2 * BN_LANES] = {0};
        const double K = x[c * HW];
        for (int64_t n = 0; n < N; n++) bn_sum(x + (n * C + c) * HW, HW, K, acc);
        const double ds = lanes_total(acc) / cnt, mean = K + ds;
        double ss = lanes_total(acc + BN_LANES) - ds * ds * cnt;
        ss = ss > 0 ? ss : 0;
        double var = ss / cnt, invstd = 1.0 / sqrt(var + d->eps);
        save_mean[c] = (float)mean;
        save_invstd[c] = (float)invstd;
        double unbiased = cnt > 1 ? ss / (cnt - 1) : var;
        running_mean[c] = (float)((1.0 - d->momentum) * running_mean[c] + d->momentum * mean);
        running_var[c] = (float)((1.0 - d->momentum) * running_var[c] + d->momentum * unbiased);
        const float a = (float)(gamma[c] * invstd), b = (float)(beta[c] - gamma[c] * invstd * mean);
        for (int64_t n = 0; n < N; n++) bn_affine(y + (n * C + c) * HW, x + (n * C + c) * HW, HW, a, b);
    }
    return JP_OK;
}

CPU_OP(batchnorm_fwd_infer)(jp_ctx ctx, const jp_bn_desc *d, float *y, const float *x, const float *gamma,
                            const float *beta, const float *running_mean, const float *running_var) {
    const int64_t N = d->n, C = d->c, HW = d->hw;
    const int team = jp_team(ctx);
#pragma omp parallel for collapse(2) num_threads(team) if (team > 1 && N * C * HW > 65536) schedule(static)
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
    const int64_t N = d->n, C = d->c, HW = d->hw, cnt = N * HW;
    const int team = jp_team(ctx);
#pragma omp parallel for num_threads(team) if (team > 1) schedule(static)
    for (int64_t c = 0; c < C; c++) {
        const double mean = save_mean[c], invstd = save_invstd[c];
        double acc[2 * BN_LANES] = {0};
        for (int64_t n = 0; n < N; n++) bn_sum_dy(dy + (n * C + c) * HW, x + (n * C + c) * HW, HW, mean, acc);
        const double sdy = lanes_total(acc), sdyx = lanes_total(acc + BN_LANES);
        dbeta[c] = (float)sdy;
        dgamma[c] = (float)(sdyx * invstd);
        /* dx = gamma*invstd/cnt * (cnt*dy - sum(dy) - xhat * sum(dy*xhat)) */
        const double k = gamma[c] * invstd / cnt, mdy = sdy, mxh = sdyx * invstd;
        for (int64_t n = 0; n < N; n++)
            bn_dx(dx + (n * C + c) * HW, dy + (n * C + c) * HW, x + (n * C + c) * HW, HW, k, (double)cnt, mdy, mean, invstd, mxh);
    }
    return JP_OK;
}
