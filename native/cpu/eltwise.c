/* Elementwise ops, activations and reductions for the CPU backend. */
#include "cpu.h"
#include "../src/pointwise.h"
#include <immintrin.h>
#include <math.h>
#include <string.h>


#define SUM_BODY(expr)                                                   \
    float acc[16] = {0};                                                 \
    int64_t i = 0;                                                       \
    for (; i + 16 <= n; i += 16)                                         \
        for (int j = 0; j < 16; j++) { float v = x[i + j]; acc[j] += (expr); } \
    float s = 0.f;                                                       \
    for (int j = 0; j < 16; j++) s += acc[j];                            \
    for (; i < n; i++) { float v = x[i]; s += (expr); }                  \
    return s;
JP_CLONES float jp_sum_f(const float *x, int64_t n) { SUM_BODY(v) }
JP_CLONES float jp_sumsq_f(const float *x, int64_t n) { SUM_BODY(v * v) }
JP_CLONES float jp_sumabs_f(const float *x, int64_t n) { SUM_BODY(fabsf(v)) }

CPU_OP(fill)(jp_ctx ctx, float *dst, float value, int64_t n) {
JP_PARFOR(jp_team(ctx), n, n, i, dst[i] = value;);
    return JP_OK;
}

CPU_OP(add)(jp_ctx ctx, float *y, const float *a, const float *b, int64_t n) {
JP_PARFOR(jp_team(ctx), n, n, i, y[i] = a[i] + b[i];);
    return JP_OK;
}

CPU_OP(mul)(jp_ctx ctx, float *y, const float *a, const float *b, int64_t n) {
JP_PARFOR(jp_team(ctx), n, n, i, y[i] = a[i] * b[i];);
    return JP_OK;
}

CPU_OP(scale)(jp_ctx ctx, float *y, const float *x, float alpha, int64_t n) {
JP_PARFOR(jp_team(ctx), n, n, i, y[i] = alpha * x[i];);
    return JP_OK;
}

CPU_OP(axpy)(jp_ctx ctx, float *y, const float *x, float alpha, int64_t n) {
JP_PARFOR(jp_team(ctx), n, n, i, y[i] += alpha * x[i];);
    return JP_OK;
}

/* exp(x) without libm calls, so loops over it vectorise (Cephes expf: x = k ln2 + r, |r| <= ln2/2,
 * degree-7 polynomial for e^r, 2^k through the exponent bits); relative error ~1e-7 on [-87, 88]. */
__attribute__((optimize("no-trapping-math"))) static inline float exp_poly(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    /* round to nearest by the 1.5 * 2^23 trick (floorf is a libm call on baseline x86-64 and blocks vectorisation) */
    float k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - k * 0.693359375f + k * 2.12194440e-4f;
    float z = r * r;
    float p = ((((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r + 1.6666665459e-1f) * r
                + 5.0000001201e-1f) * z) + r + 1.0f;
    int32_t bits = ((int32_t)k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* SiLU forward/backward over a contiguous block, compiled per ISA (the act loops were 15% of a
 * yolov5n training step with a scalar expf call per element) */
/* no-trapping-math: lets the clamps become blends on AVX2 (IEEE results are unchanged) */
JP_CLONES_NTM
static void silu_fwd_block(float *restrict y, const float *restrict x, int64_t n) {
    /* x * (1 / (1 + e)) rather than x / (1 + e): GCC if-converts the latter around exp_poly's clamps
     * into a second division per vector, and the loop ran at half the speed of silu_bwd_block */
    for (int64_t i = 0; i < n; i++) {
        const float sg = 1.f / (1.f + exp_poly(-x[i]));
        y[i] = x[i] * sg;
    }
}

/* the same in place (the conv epilogue's; silu_fwd_block's restrict forbids y == x) */
JP_CLONES_NTM
static void silu_inplace_block(float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float sg = 1.f / (1.f + exp_poly(-y[i]));
        y[i] = y[i] * sg;
    }
}

JP_CLONES_NTM
static void silu_bwd_block(float *restrict dx, const float *restrict dy, const float *restrict x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float sg = 1.f / (1.f + exp_poly(-x[i]));
        dx[i] = dy[i] * sg * (1.f + x[i] * (1.f - sg));
    }
}

/* the sigmoid (Detect's decode, SE gates): the same polynomial exp as SiLU */
JP_CLONES_NTM
static void sigmoid_fwd_block(float *restrict y, const float *restrict x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = 1.f / (1.f + exp_poly(-x[i]));
}

JP_CLONES_NTM
static void sigmoid_inplace_block(float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = 1.f / (1.f + exp_poly(-y[i]));
}

JP_CLONES_NTM
static void sigmoid_bwd_block(float *restrict dx, const float *restrict dy, const float *restrict x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float sg = 1.f / (1.f + exp_poly(-x[i]));
        dx[i] = dy[i] * sg * (1.f - sg);
    }
}

#define SILU_BLOCK 4096

void jp_sigmoid_rows(float *y, const float *x, int64_t n) { sigmoid_fwd_block(y, x, n); }

/* SiLU for the inference epilogue on AVX-512: the same Cephes polynomial, 2^k by vscalefps and 1 / (1 + e)
 * by vrcp14ps and one Newton step instead of a divide: 0.23 ns per value against 0.60 for
 * silu_inplace_block (one core, in L1), within 2e-7 relative of x / (1 + exp(-x)) (max over [-20, 20]).
 * Only the conv epilogue (inference: jp_conv2d_fwd_act / _packed) uses it, so training's activations,
 * and with them every trained weight, keep the bits of silu_fwd_block. */
__attribute__((target("avx512f"))) static inline __m512 silu16(__m512 x) {
    const __m512 nx = _mm512_max_ps(_mm512_min_ps(_mm512_sub_ps(_mm512_setzero_ps(), x), _mm512_set1_ps(88.f)), _mm512_set1_ps(-87.f));
    const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(nx, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), nx);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.f)));
    const __m512 d = _mm512_add_ps(_mm512_scalef_ps(p, k), _mm512_set1_ps(1.f));
    __m512 q = _mm512_rcp14_ps(d);
    q = _mm512_mul_ps(q, _mm512_fnmadd_ps(d, q, _mm512_set1_ps(2.f)));
    return _mm512_mul_ps(x, q);
}

__attribute__((target("avx512f"))) static void silu_inplace_avx512(float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, silu16(_mm512_loadu_ps(y + i)));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, silu16(_mm512_maskz_loadu_ps(m, y + i)));
    }
}

void jp_act_rows(int32_t kind, float alpha, float *y, int64_t n) {
    switch (kind) {
    case JP_ACT_SILU:
        if (jp_g_isa == JP_ISA_AVX512) silu_inplace_avx512(y, n);
        else silu_inplace_block(y, n);
        break;
    case JP_ACT_SIGMOID: sigmoid_inplace_block(y, n); break;
    case JP_ACT_IDENTITY: break;
    default: for (int64_t i = 0; i < n; i++) y[i] = jp_act_value(kind, alpha, y[i]); break;
    }
}

CPU_OP(act_fwd)(jp_ctx ctx, int32_t kind, float alpha, float *y, const float *x, int64_t n) {
    if (kind == JP_ACT_SILU || kind == JP_ACT_SIGMOID) {
        const int64_t nb = (n + SILU_BLOCK - 1) / SILU_BLOCK;
        JP_PARFOR(jp_team(ctx), nb, n, b, {
            const int64_t o = b * SILU_BLOCK, len = n - o < SILU_BLOCK ? n - o : SILU_BLOCK;
            if (kind == JP_ACT_SILU) silu_fwd_block(y + o, x + o, len);
            else if (y == x) sigmoid_inplace_block(y + o, len);
            else sigmoid_fwd_block(y + o, x + o, len);
        });
        return JP_OK;
    }
    JP_PARFOR(jp_team(ctx), n, n, i, y[i] = jp_act_value(kind, alpha, x[i]););
    return JP_OK;
}

CPU_OP(act_bwd)(jp_ctx ctx, int32_t kind, float alpha, float *dx, const float *dy, const float *x, int64_t n) {
    if (kind == JP_ACT_SILU || kind == JP_ACT_SIGMOID) {
        const int64_t nb = (n + SILU_BLOCK - 1) / SILU_BLOCK;
        JP_PARFOR(jp_team(ctx), nb, n, b, {
            const int64_t o = b * SILU_BLOCK, len = n - o < SILU_BLOCK ? n - o : SILU_BLOCK;
            if (kind == JP_ACT_SILU) silu_bwd_block(dx + o, dy + o, x + o, len);
            else sigmoid_bwd_block(dx + o, dy + o, x + o, len);
        });
        return JP_OK;
    }
    JP_PARFOR(jp_team(ctx), n, n, i, dx[i] = jp_act_grad(kind, alpha, x[i], dy[i]););
    return JP_OK;
}

CPU_OP(reduce)(jp_ctx ctx, int32_t kind, float *out, const float *x, int64_t n) {
    double acc = 0;
    if (kind == JP_REDUCE_ABSMAX) {
        float m = 0.f;
        const int team = jp_team(ctx);
#pragma omp parallel for reduction(max : m) num_threads(team) if (team > 1 && n > 65536) schedule(static)
        for (int64_t i = 0; i < n; i++) { float a = fabsf(x[i]); m = a > m ? a : m; }
        acc = m;
    } else {
        /* float partial sums in blocks of 4096, double across blocks, the blocks in 64 fixed groups added
         * in order: the result does not depend on how many threads ran (an OpenMP reduction's would) */
        const int sq = kind == JP_REDUCE_SUMSQ, groups = 64;
        const int64_t blocks = (n + 4095) / 4096;
        double part[64] = {0};
        const int nt = jp_team(ctx);
#pragma omp parallel for num_threads(nt) if (nt > 1 && n > 65536) schedule(static)
        for (int g = 0; g < groups; g++)
            for (int64_t bidx = blocks * g / groups; bidx < blocks * (g + 1) / groups; bidx++) {
                int64_t lo = bidx * 4096, len = lo + 4096 < n ? 4096 : n - lo;
                part[g] += sq ? jp_sumsq_f(x + lo, len) : jp_sum_f(x + lo, len);
            }
        for (int g = 0; g < groups; g++) acc += part[g];
    }
    *out = (float)acc;
    return JP_OK;
}

CPU_OP(sum_channels)(jp_ctx ctx, float *out, const float *x, int64_t outer, int64_t channels, int64_t inner) {
    JP_PARFOR(jp_team(ctx), channels, outer * channels * inner, c, {
        double acc = 0;
        for (int64_t o = 0; o < outer; o++) acc += jp_sum_f(x + (o * channels + c) * inner, inner);
        out[c] = (float)acc;
    });
    return JP_OK;
}
