/* batchnorm.cu - batch norm of the CUDA backend (the CPU's batchnorm.c), deterministic.
 * Wide layers (many channels, small planes): one block per channel, two passes in double.
 * Narrow layers over large planes (YOLOv5's first layers at 640 px: 32-64 channels of 16 x 320 x 320
 * values each, so one block per channel would leave most of the GPU idle): each channel's N*HW
 * values are split into `splits` ranges, one block each (a fixed count from the sizes, never from
 * the GPU, so the summation order and the bits are the same everywhere), giving double partial sums
 * of x and x^2 (forward) or of dy and dy (x - mean) (backward); one thread per channel adds its
 * partials in order and writes the statistics and per-channel coefficients; an elementwise pass
 * applies them. */
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

/* ---------------- split path: several blocks per channel ---------------- */

#define BN_TARGET_BLOCKS 1024  /* enough blocks for any GPU of this generation (132 SMs x 8) */
#define BN_MIN_CHUNK 8192      /* values per block at least: below that one block per channel is as good */

/* ranges per channel: 1 keeps the one-block-per-channel kernels */
static int bn_splits(const jp_bn_desc *d) {
    const int64_t cnt = (int64_t)d->n * d->hw;
    int64_t s = (BN_TARGET_BLOCKS + d->c - 1) / d->c, by_size = cnt / BN_MIN_CHUNK;
    if (s > by_size) s = by_size;
    return s < 1 ? 1 : (int)s;
}

/* block (c = blockIdx.x, r = blockIdx.y) sums its range of channel c's values, taken as (n, i) runs:
 * part[(c * splits + r) * 2] = sum a, [.. + 1] = sum a^2 (b == NULL) or sum a (b - mean[c]) */
__global__ void __launch_bounds__(256) k_bn_partial(jp_bn_desc d, double *part, const float *a, const float *b, const float *mean) {
    __shared__ double red[32];
    const int64_t c = blockIdx.x, r = blockIdx.y, splits = gridDim.y, HW = d.hw, cnt = (int64_t)d.n * HW;
    const int64_t chunk = (cnt + splits - 1) / splits, j0 = r * chunk, j1 = j0 + chunk < cnt ? j0 + chunk : cnt;
    const double m = b ? (double)mean[c] : 0.0;
    double s1 = 0.0, s2 = 0.0;
    for (int64_t n = j0 / HW; j0 < j1 && n <= (j1 - 1) / HW; n++) {
        const int64_t lo = j0 - n * HW > 0 ? j0 - n * HW : 0, hi = j1 - n * HW < HW ? j1 - n * HW : HW;
        const float *pa = a + (n * d.c + c) * HW, *pb = b ? b + (n * d.c + c) * HW : nullptr;
        for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
            const double v = pa[i];
            s1 += v;
            s2 += pb ? v * ((double)pb[i] - m) : v * v;
        }
    }
    s1 = block_sum(s1, red);
    s2 = block_sum(s2, red);
    if (threadIdx.x == 0) {
        part[(c * splits + r) * 2] = s1;
        part[(c * splits + r) * 2 + 1] = s2;
    }
}

/* one thread per channel: statistics, running averages and y = coef[2c] x + coef[2c+1] */
__global__ void k_bn_finalize_fwd(jp_bn_desc d, int splits, const double *part, float *coef, float *save_mean, float *save_invstd, float *rmean,
                                  float *rvar, const float *gamma, const float *beta) {
    const int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= d.c) return;
    const int64_t cnt = (int64_t)d.n * d.hw;
    double s1 = 0.0, s2 = 0.0;
    for (int r = 0; r < splits; r++) { s1 += part[(c * splits + r) * 2]; s2 += part[(c * splits + r) * 2 + 1]; }
    const double mean = s1 / (double)cnt, sq0 = s2 - s1 * mean, sq = sq0 > 0 ? sq0 : 0.0;
    const double var = sq / (double)cnt, invstd = 1.0 / sqrt(var + (double)d.eps);
    save_mean[c] = (float)mean;
    save_invstd[c] = (float)invstd;
    const double unbiased = cnt > 1 ? sq / (double)(cnt - 1) : var;
    rmean[c] = (float)((1.0 - d.momentum) * rmean[c] + d.momentum * mean);
    rvar[c] = (float)((1.0 - d.momentum) * rvar[c] + d.momentum * unbiased);
    coef[2 * c] = (float)(gamma[c] * invstd);
    coef[2 * c + 1] = (float)(beta[c] - gamma[c] * invstd * mean);
}

/* row (n, c) = blockIdx.x, its plane shared by gridDim.y blocks:
 * out = coef[3c] a + coef[3c+1] (b - mean[c]) + coef[3c+2] (b, mean NULL: out = coef[2c] a + coef[2c+1]) */
__global__ void k_bn_apply(jp_bn_desc d, float *out, const float *a, const float *b, const float *mean, const float *coef) {
    const int64_t row = blockIdx.x, c = row % d.c, HW = d.hw;
    const float *pa = a + row * HW;
    float *q = out + row * HW;
    if (b) {
        const float *pb = b + row * HW;
        const float k0 = coef[3 * c], k1 = coef[3 * c + 1], k2 = coef[3 * c + 2], m = mean[c];
        for (int64_t i = (int64_t)blockIdx.y * blockDim.x + threadIdx.x; i < HW; i += (int64_t)blockDim.x * gridDim.y)
            q[i] = k0 * pa[i] + k1 * (pb[i] - m) + k2;
    } else {
        const float k0 = coef[2 * c], k1 = coef[2 * c + 1];
        for (int64_t i = (int64_t)blockIdx.y * blockDim.x + threadIdx.x; i < HW; i += (int64_t)blockDim.x * gridDim.y)
            q[i] = k0 * pa[i] + k1;
    }
}

static dim3 bn_apply_grid(const jp_bn_desc *d) {
    int64_t y = ((int64_t)d->hw + 1023) / 1024;  /* about 4 values per thread */
    if (y > 64) y = 64;
    return dim3((unsigned)((int64_t)d->n * d->c), (unsigned)(y < 1 ? 1 : y));
}

/* one thread per channel: dbeta, dgamma and dx = k0 dy + k1 (x - mean) + k2 */
__global__ void k_bn_finalize_bwd(jp_bn_desc d, int splits, const double *part, float *coef, float *dgamma, float *dbeta, const float *gamma,
                                  const float *save_invstd) {
    const int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= d.c) return;
    const int64_t cnt = (int64_t)d.n * d.hw;
    double sdy = 0.0, sdyx = 0.0;
    for (int r = 0; r < splits; r++) { sdy += part[(c * splits + r) * 2]; sdyx += part[(c * splits + r) * 2 + 1]; }
    const double invstd = save_invstd[c], k = gamma[c] * invstd / (double)cnt, mxh = sdyx * invstd;
    dbeta[c] = (float)sdy;
    dgamma[c] = (float)mxh;
    /* k (cnt dy - sdy - xhat mxh), xhat = (x - mean) invstd */
    coef[3 * c] = (float)(k * (double)cnt);
    coef[3 * c + 1] = (float)(-k * mxh * invstd);
    coef[3 * c + 2] = (float)(-k * sdy);
}

CU_OP(batchnorm_fwd_train)(jp_ctx ctx, const jp_bn_desc *d, float *y, float *save_mean, float *save_invstd, float *running_mean,
                           float *running_var, const float *x, const float *gamma, const float *beta) {
    static const char *fn = "jp_batchnorm_fwd_train";
    Ctx *c = impl(ctx);
    const int splits = bn_splits(d);
    if (splits == 1) {
        JP_LAUNCH(k_bn_train, dim3((unsigned)d->c), dim3(256), c->stream, *d, y, save_mean, save_invstd, running_mean, running_var, x, gamma, beta);
        LAUNCHED(fn);
    }
    Scratch part(c, sizeof(double) * 2 * (size_t)d->c * splits), coef(c, sizeof(float) * 2 * (size_t)d->c);
    if (!part.p || !coef.p) return jp_fail(JP_ERR_NO_MEMORY, fn, "no device memory for %d x %d partial sums", d->c, splits);
    JP_LAUNCH(k_bn_partial, dim3((unsigned)d->c, (unsigned)splits), dim3(256), c->stream, *d, part.as<double>(), x, (const float *)nullptr,
              (const float *)nullptr);
    JP_LAUNCH(k_bn_finalize_fwd, dim3((unsigned)((d->c + 127) / 128)), dim3(128), c->stream, *d, splits, part.as<double>(), coef.as<float>(),
              save_mean, save_invstd, running_mean, running_var, gamma, beta);
    JP_LAUNCH(k_bn_apply, bn_apply_grid(d), dim3(256), c->stream, *d, y, x, (const float *)nullptr, (const float *)nullptr, coef.as<float>());
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
    const int splits = bn_splits(d);
    if (splits == 1) {
        JP_LAUNCH(k_bn_bwd, dim3((unsigned)d->c), dim3(256), c->stream, *d, dx, dgamma, dbeta, dy, x, gamma, save_mean, save_invstd);
        LAUNCHED(fn);
    }
    Scratch part(c, sizeof(double) * 2 * (size_t)d->c * splits), coef(c, sizeof(float) * 3 * (size_t)d->c);
    if (!part.p || !coef.p) return jp_fail(JP_ERR_NO_MEMORY, fn, "no device memory for %d x %d partial sums", d->c, splits);
    JP_LAUNCH(k_bn_partial, dim3((unsigned)d->c, (unsigned)splits), dim3(256), c->stream, *d, part.as<double>(), dy, x, save_mean);
    JP_LAUNCH(k_bn_finalize_bwd, dim3((unsigned)((d->c + 127) / 128)), dim3(128), c->stream, *d, splits, part.as<double>(), coef.as<float>(),
              dgamma, dbeta, gamma, save_invstd);
    JP_LAUNCH(k_bn_apply, bn_apply_grid(d), dim3(256), c->stream, *d, dx, dy, x, save_mean, coef.as<float>());
    LAUNCHED(fn);
}
