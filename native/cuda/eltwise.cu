/* eltwise.cu - elementwise ops, activations and whole-tensor reductions of the CUDA backend (the CPU's
 * eltwise.c). Reductions are deterministic (fixed trees, no float atomics): a fixed grid of partial
 * sums, then one block over the partials, so the same inputs give the same bits on every run. */
#include "common.cuh"

using namespace jpcuda;

/* ---------------- fill and elementwise ---------------- */

__global__ void k_fill(float *y, float v, int64_t n) { JP_GRID_STRIDE(i, n) y[i] = v; }
__global__ void k_add(float *y, const float *a, const float *b, int64_t n) { JP_GRID_STRIDE(i, n) y[i] = a[i] + b[i]; }
__global__ void k_mul(float *y, const float *a, const float *b, int64_t n) { JP_GRID_STRIDE(i, n) y[i] = a[i] * b[i]; }
__global__ void k_scale(float *y, const float *x, float alpha, int64_t n) { JP_GRID_STRIDE(i, n) y[i] = alpha * x[i]; }
__global__ void k_axpy(float *y, const float *x, float alpha, int64_t n) { JP_GRID_STRIDE(i, n) y[i] += alpha * x[i]; }

CU_OP(fill)(jp_ctx ctx, float *dst, float value, int64_t n) {
    if (!n) return JP_OK;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_fill, grid1d(c, n), dim3(256), c->stream, dst, value, n);
    LAUNCHED("jp_fill");
}
CU_OP(add)(jp_ctx ctx, float *y, const float *a, const float *b, int64_t n) {
    if (!n) return JP_OK;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_add, grid1d(c, n), dim3(256), c->stream, y, a, b, n);
    LAUNCHED("jp_add");
}
CU_OP(mul)(jp_ctx ctx, float *y, const float *a, const float *b, int64_t n) {
    if (!n) return JP_OK;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_mul, grid1d(c, n), dim3(256), c->stream, y, a, b, n);
    LAUNCHED("jp_mul");
}
CU_OP(scale)(jp_ctx ctx, float *y, const float *x, float alpha, int64_t n) {
    if (!n) return JP_OK;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_scale, grid1d(c, n), dim3(256), c->stream, y, x, alpha, n);
    LAUNCHED("jp_scale");
}
CU_OP(axpy)(jp_ctx ctx, float *y, const float *x, float alpha, int64_t n) {
    if (!n) return JP_OK;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_axpy, grid1d(c, n), dim3(256), c->stream, y, x, alpha, n);
    LAUNCHED("jp_axpy");
}

/* ---------------- activations ---------------- */

__global__ void k_act_fwd(int kind, float alpha, float *y, const float *x, int64_t n) {
    JP_GRID_STRIDE(i, n) y[i] = jp_act_value(kind, alpha, x[i]);
}
__global__ void k_act_bwd(int kind, float alpha, float *dx, const float *dy, const float *x, int64_t n) {
    JP_GRID_STRIDE(i, n) dx[i] = jp_act_grad(kind, alpha, x[i], dy[i]);
}

CU_OP(act_fwd)(jp_ctx ctx, int32_t kind, float alpha, float *y, const float *x, int64_t n) {
    static const char *fn = "jp_act_fwd";
    if (!n) return JP_OK;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_act_fwd, grid1d(c, n), dim3(256), c->stream, kind, alpha, y, x, n);
    LAUNCHED(fn);
}
CU_OP(act_bwd)(jp_ctx ctx, int32_t kind, float alpha, float *dx, const float *dy, const float *x, int64_t n) {
    static const char *fn = "jp_act_bwd";
    if (!n) return JP_OK;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_act_bwd, grid1d(c, n), dim3(256), c->stream, kind, alpha, dx, dy, x, n);
    LAUNCHED(fn);
}

/* ---------------- whole-tensor reductions ---------------- */

#define REDUCE_BLOCKS 120

__global__ void k_reduce_partial(int kind, double *partial, const float *x, int64_t n) {
    __shared__ double red[32];
    double acc = 0.0;
    float part = 0.f;
    int count = 0;
    JP_GRID_STRIDE(i, n) {
        float v = x[i];
        if (kind == JP_REDUCE_ABSMAX) part = fmaxf(part, fabsf(v));
        else part += kind == JP_REDUCE_SUMSQ ? v * v : v;
        if (++count == 256 && kind != JP_REDUCE_ABSMAX) { acc += part; part = 0.f; count = 0; }
    }
    if (kind == JP_REDUCE_ABSMAX) {
        /* max is exact in any order: a shuffle tree, then the warps' maxima */
        float m = part;
        for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_down_sync(0xffffffffu, m, o));
        __shared__ float wmax[32];
        if (threadIdx.x % 32 == 0) wmax[threadIdx.x / 32] = m;
        __syncthreads();
        if (threadIdx.x == 0) {
            float r = 0.f;
            for (unsigned w = 0; w < blockDim.x / 32; w++) r = fmaxf(r, wmax[w]);
            partial[blockIdx.x] = r;
        }
        return;
    }
    acc += part;
    double s = block_sum(acc, red);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

__global__ void k_reduce_final(int kind, float *out, const double *partial, int blocks) {
    if (threadIdx.x != 0) return;
    double acc = 0.0;
    for (int b = 0; b < blocks; b++) acc = kind == JP_REDUCE_ABSMAX ? (partial[b] > acc ? partial[b] : acc) : acc + partial[b];
    *out = (float)acc;
}

CU_OP(reduce)(jp_ctx ctx, int32_t kind, float *out, const float *x, int64_t n) {
    static const char *fn = "jp_reduce";
    Ctx *c = impl(ctx);
    /* a fixed block count (not the GPU's size) keeps the summation order, and so the bits, the same on every GPU */
    int blocks = (int)((n + 255) / 256);
    if (blocks > REDUCE_BLOCKS) blocks = REDUCE_BLOCKS;
    if (blocks < 1) blocks = 1;
    Scratch partial(c, sizeof(double) * REDUCE_BLOCKS);
    if (!partial.p) return jp_fail(JP_ERR_NO_MEMORY, fn, "no device memory for %d partial sums", blocks);
    JP_LAUNCH(k_reduce_partial, dim3((unsigned)blocks), dim3(256), c->stream, kind, partial.as<double>(), x, n);
    JP_LAUNCH(k_reduce_final, dim3(1), dim3(32), c->stream, kind, out, partial.as<double>(), blocks);
    LAUNCHED(fn);
}
