/* SGEMM for the CPU backend: BLIS-style blocking (pack B panel KCxNC, pack A block MCxKC, register-
 * blocked micro-kernel MRxNR), OpenMP over the jr loop, runtime ISA dispatch.
 *
 * Version log (bench: scripts/bench.sh cpu, rows "sgemm"; checker: SgemmTest against the reference):
 *  v1 naive triple loop (kept as the reference in the Java tests, not here).
 *  v2 packing + 4x8 scalar micro-kernel (JP_ISA_SCALAR; the compiler may use SSE2).
 *  v3 AVX2/FMA 6x16 micro-kernel: 12 ymm accumulators, 2 B loads, 1 broadcast per row.
 *  v4 AVX-512 12x32 micro-kernel: 24 zmm accumulators, embedded-broadcast FMAs.
 *  v5 (a fix) the AVX-512 kernels' write-back unrolled: it looped over a variable mr, so GCC kept the 24
 *     accumulators of ukr_avx512_ind's partial-tile path on the stack and stored them after every FMA
 *     step; that path (the last column strip of every convolution) ran 3x slower than a full strip and
 *     made the thread holding it the straggler of every two-thread conv (with conv2d.c v12, 2 cores,
 *     batch 1: a 3x3 64 -> 64 conv at 20x20 297 -> 231 us, 128 -> 128 at 10x10 464 -> 284 us;
 *     YOLOv5n training at 160 px 90-97 -> 96-107 img/s in two runs, same bits).
 *  v6 ukr_avx512_ind computes a row strip's last rows in steps of 4 (ROWS 4, 8 or 12), not always 12:
 *     64 channels are 64 rows, not 72 (a 3x3 64 -> 64 conv at 40x40, batch 16: 6.23 -> 5.74 ms).
 *  v7 the same for the packed SGEMM's ukr_avx512 and the row-pointer ukr_avx512_pa (training's GEMMs:
 *     16 output channels are 16 rows, not 24), same bits (a 2-epoch YOLOv5n training checkpoint is
 *     byte-identical). One thread, C benchmark against the library's objects, before -> after:
 *     16 x 6400 x 144 326 -> 262 us, 16 x 144 x 6400 (a backward-filter shape) 478 -> 421 us,
 *     64 x 400 x 576 210 -> 194 us; YOLOv5n training at 160 px unchanged within noise (those GEMMs
 *     are a small share of it: the 3x3 convs take the indirect GEMM).
 * Edge tiles are packed with zero padding, so the micro-kernel always runs full MRxNR and only the
 * write-back is partial. */
#include "cpu.h"
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- micro-kernels: C[0..mr)[0..nr) += alpha * Ap(MRxkc) * Bp(kcxNR) ---- */
typedef void (*ukr_fn)(int kc, const float *ap, const float *bp, float *c, int ldc, float alpha, int mr, int nr);

static void ukr_scalar(int kc, const float *ap, const float *bp, float *c, int ldc, float alpha, int mr, int nr) {
    float acc[4][8] = {{0}};
    for (int p = 0; p < kc; p++, ap += 4, bp += 8)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 8; j++) acc[i][j] += ap[i] * bp[j];
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) c[(size_t)i * ldc + j] += alpha * acc[i][j];
}

__attribute__((target("avx2,fma")))
static void ukr_avx2(int kc, const float *ap, const float *bp, float *c, int ldc, float alpha, int mr, int nr) {
    __m256 acc[6][2];
    for (int i = 0; i < mr; i++) _mm_prefetch((const char *)(c + (size_t)i * ldc), _MM_HINT_T0);
#pragma GCC unroll 6
    for (int i = 0; i < 6; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int p = 0; p < kc; p++, ap += 6, bp += 16) {
        __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);
#pragma GCC unroll 6
        for (int i = 0; i < 6; i++) {
            __m256 a = _mm256_broadcast_ss(ap + i);
            acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
        }
    }
    /* every acc access uses a constant index (loops of 6, unrolled), so the accumulators stay in
     * registers: a write-back loop over a variable mr made GCC keep them on the stack and store all
     * 12 after every FMA pair (0.36x OpenBLAS on Zen 3) */
    __m256 va = _mm256_set1_ps(alpha);
    if (mr == 6 && nr == 16) {
#pragma GCC unroll 6
        for (int i = 0; i < 6; i++) {
            float *ci = c + (size_t)i * ldc;
            _mm256_storeu_ps(ci, _mm256_fmadd_ps(acc[i][0], va, _mm256_loadu_ps(ci)));
            _mm256_storeu_ps(ci + 8, _mm256_fmadd_ps(acc[i][1], va, _mm256_loadu_ps(ci + 8)));
        }
    } else {
        float tmp[6][16] __attribute__((aligned(32)));
#pragma GCC unroll 6
        for (int i = 0; i < 6; i++) { _mm256_store_ps(tmp[i], acc[i][0]); _mm256_store_ps(tmp[i] + 8, acc[i][1]); }
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < nr; j++) c[(size_t)i * ldc + j] += alpha * tmp[i][j];
    }
}

/* ROWS (4, 8 or 12, a constant where it is inlined) rows of the 12-row packed A strip: a strip's last
 * rows are computed in steps of 4, not always 12 (16 output channels are one strip of 12 and one of 4:
 * 16 rows computed, not 24). Each output's FMAs run in the same order whatever ROWS is. */
__attribute__((target("avx512f"), always_inline))
static inline void sgemm512_rows(const int ROWS, int kc, const float *ap, const float *bp, float *c, int ldc, float alpha, int mr, int nr) {
    __m512 acc[12][2];
    /* the C tile is usually cold: start its loads now so they overlap the FMA loop */
    for (int i = 0; i < mr; i++) {
        _mm_prefetch((const char *)(c + (size_t)i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (size_t)i * ldc + 16), _MM_HINT_T0);
    }
#pragma GCC unroll 12
    for (int i = 0; i < ROWS; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int p = 0; p < kc; p++, ap += 12, bp += 32) {
        __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
#pragma GCC unroll 12
        for (int i = 0; i < ROWS; i++) {
            __m512 a = _mm512_set1_ps(ap[i]);
            acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
        }
    }
    __m512 va = _mm512_set1_ps(alpha);
    __mmask16 m0 = nr >= 16 ? 0xFFFF : (__mmask16)((1u << nr) - 1);
    __mmask16 m1 = nr >= 32 ? 0xFFFF : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
    /* unrolled, so every acc index is a constant: with a loop over a variable mr GCC kept the 24
     * accumulators on the stack and stored them after every FMA step (the partial-tile path of
     * ukr_avx512_ind ran 3x slower: the last column strip of every convolution) */
#pragma GCC unroll 12
    for (int i = 0; i < ROWS; i++) {
        if (i >= mr) break;
        float *ci = c + (size_t)i * ldc;
        _mm512_mask_storeu_ps(ci, m0, _mm512_fmadd_ps(acc[i][0], va, _mm512_maskz_loadu_ps(m0, ci)));
        _mm512_mask_storeu_ps(ci + 16, m1, _mm512_fmadd_ps(acc[i][1], va, _mm512_maskz_loadu_ps(m1, ci + 16)));
    }
}

__attribute__((target("avx512f")))
static void ukr_avx512(int kc, const float *ap, const float *bp, float *c, int ldc, float alpha, int mr, int nr) {
    if (mr <= 4) sgemm512_rows(4, kc, ap, bp, c, ldc, alpha, mr, nr);
    else if (mr <= 8) sgemm512_rows(8, kc, ap, bp, c, ldc, alpha, mr, nr);
    else sgemm512_rows(12, kc, ap, bp, c, ldc, alpha, mr, nr);
}

typedef struct { int mr, nr, mc, kc, nc; ukr_fn ukr; } gemm_cfg;

/* JPRUNE_SGEMM_BLOCKING=mc,kc,nc overrides the cache blocking (read once at load; for tuning). */
static int g_block[3];
__attribute__((constructor)) static void blocking_init(void) {
    const char *s = getenv("JPRUNE_SGEMM_BLOCKING");
    if (s && sscanf(s, "%d,%d,%d", &g_block[0], &g_block[1], &g_block[2]) != 3) g_block[0] = 0;
}

static gemm_cfg select_cfg(void) {
    gemm_cfg g;
    switch (jp_g_isa) {
    case JP_ISA_AVX512: g = (gemm_cfg){12, 32, 192, 256, 4096, ukr_avx512}; break;
    case JP_ISA_AVX2: g = (gemm_cfg){6, 16, 96, 256, 4096, ukr_avx2}; break;
    default: g = (gemm_cfg){4, 8, 64, 256, 2048, ukr_scalar};
    }
    if (g_block[0] > 0 && g_block[1] > 0 && g_block[2] > 0) {
        g.mc = (g_block[0] + g.mr - 1) / g.mr * g.mr;
        g.kc = g_block[1];
        g.nc = (g_block[2] + g.nr - 1) / g.nr * g.nr;
    }
    return g;
}

/* A(i,p) of op(A) */
static void pack_a(const gemm_cfg *g, int mc, int kc, const float *a, int lda, int trans, int i0, int p0, float *ap, int strip) {
    const int MR = g->mr;
    int is = strip * MR, mr = mc - is < MR ? mc - is : MR;
    float *dst = ap + (size_t)strip * MR * kc;
    if (!trans) {
        for (int ii = 0; ii < mr; ii++) {
            const float *src = a + (size_t)(i0 + is + ii) * lda + p0;
            for (int p = 0; p < kc; p++) dst[p * MR + ii] = src[p];
        }
        for (int ii = mr; ii < MR; ii++)
            for (int p = 0; p < kc; p++) dst[p * MR + ii] = 0.f;
    } else {
        for (int p = 0; p < kc; p++) {
            const float *src = a + (size_t)(p0 + p) * lda + i0 + is;
            float *d = dst + p * MR;
            int ii = 0;
            for (; ii < mr; ii++) d[ii] = src[ii];
            for (; ii < MR; ii++) d[ii] = 0.f;
        }
    }
}

/* B(p,j) of op(B) */
static void pack_b(const gemm_cfg *g, int nc, int kc, const float *b, int ldb, int trans, int p0, int j0, float *bp, int strip) {
    const int NR = g->nr;
    int js = strip * NR, nr = nc - js < NR ? nc - js : NR;
    float *dst = bp + (size_t)strip * NR * kc;
    if (!trans) {
        for (int p = 0; p < kc; p++) {
            const float *src = b + (size_t)(p0 + p) * ldb + j0 + js;
            float *d = dst + p * NR;
            int jj = 0;
            for (; jj < nr; jj++) d[jj] = src[jj];
            for (; jj < NR; jj++) d[jj] = 0.f;
        }
    } else {
        for (int jj = 0; jj < nr; jj++) {
            const float *src = b + (size_t)(j0 + js + jj) * ldb + p0;
            for (int p = 0; p < kc; p++) dst[p * NR + jj] = src[p];
        }
        for (int jj = nr; jj < NR; jj++)
            for (int p = 0; p < kc; p++) dst[p * NR + jj] = 0.f;
    }
}

int jp_sgemm_core(int threads, int ta, int tb, int m, int n, int k, float alpha,
                   const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    if (m <= 0 || n <= 0) return 0;
    if (threads < 1) threads = 1;
    if (beta != 1.f) {
#pragma omp parallel for num_threads(threads) if (threads > 1 && (long)m * n > 65536) schedule(static)
        for (int i = 0; i < m; i++) {
            float *ci = c + (size_t)i * ldc;
            if (beta == 0.f) memset(ci, 0, (size_t)n * sizeof(float));
            else for (int j = 0; j < n; j++) ci[j] *= beta;
        }
    }
    if (k <= 0 || alpha == 0.f) return 0;
    const gemm_cfg g = select_cfg();
    int ncmax = n < g.nc ? n : g.nc, mcmax = m < g.mc ? m : g.mc, kcmax = k < g.kc ? k : g.kc;
    size_t bsize = (size_t)((ncmax + g.nr - 1) / g.nr) * g.nr * kcmax;
    size_t asize = (size_t)((mcmax + g.mr - 1) / g.mr) * g.mr * kcmax;
    float *bp = jp_scratch(0, bsize), *ap = jp_scratch(1, asize);
    if (!bp || !ap) return -1;
    /* small problems: one thread is cheaper than waking the pool */
    if ((double)m * n * k < 2e5) threads = 1;
    const int64_t t0 = jp_now_ns();
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
    JP_TEAM_ARRIVE(t0);
    for (int jc = 0; jc < n; jc += g.nc) {
        int nc = n - jc < g.nc ? n - jc : g.nc, nstrips = (nc + g.nr - 1) / g.nr;
        for (int pc = 0; pc < k; pc += g.kc) {
            int kc = k - pc < g.kc ? k - pc : g.kc;
#pragma omp for schedule(static)
            for (int s = 0; s < nstrips; s++) pack_b(&g, nc, kc, b, ldb, tb, pc, jc, bp, s);
            for (int ic = 0; ic < m; ic += g.mc) {
                int mc = m - ic < g.mc ? m - ic : g.mc, mstrips = (mc + g.mr - 1) / g.mr;
#pragma omp for schedule(static)
                for (int s = 0; s < mstrips; s++) pack_a(&g, mc, kc, a, lda, ta, ic, pc, ap, s);
#pragma omp for schedule(static)
                for (int js = 0; js < nstrips; js++) {
                    int nr = nc - js * g.nr < g.nr ? nc - js * g.nr : g.nr;
                    for (int is = 0; is < mstrips; is++) {
                        int mr = mc - is * g.mr < g.mr ? mc - is * g.mr : g.mr;
                        g.ukr(kc, ap + (size_t)is * g.mr * kc, bp + (size_t)js * g.nr * kc,
                              c + (size_t)(ic + is * g.mr) * ldc + jc + js * g.nr, ldc, alpha, mr, nr);
                    }
                }
            }
        }
    }
    }
    return 0;
}

CPU_OP(sgemm)(jp_ctx ctx, const jp_gemm_desc *d, float *c, const float *a, const float *b) {
    static const char *fn = "jp_sgemm";
    if (d->m == 0 || d->n == 0) return JP_OK;
    if (jp_sgemm_core(jp_team(ctx), d->trans_a, d->trans_b, d->m, d->n, d->k, d->alpha, a, d->lda, b, d->ldb, d->beta, c, d->ldc))
        return jp_fail(JP_ERR_NO_MEMORY, fn, "no memory for packing buffers");
    return JP_OK;
}

/* ---- indirect GEMM: B rows through a pointer table, never packed (see cpu.h) ---- */

/* ROWS (4, 8 or 12, a constant where it is inlined) rows of the 12-row packed A strip: a tile's last row
 * strip computes only the rows it has, in steps of 4 (64 output channels are 5 strips of 12 and one of
 * 4: 64 rows computed, not 72). Each output's FMAs run in the same order whatever ROWS is. */
__attribute__((target("avx512f"), always_inline))
static inline void ind512_rows(const int ROWS, int kc, const float *ap, const float *const *brow, int j0, float *c, int ldc, int mr, int nr) {
    __m512 acc[12][2];
    for (int i = 0; i < mr; i++) {
        _mm_prefetch((const char *)(c + (size_t)i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (size_t)i * ldc + 16), _MM_HINT_T0);
    }
#pragma GCC unroll 12
    for (int i = 0; i < ROWS; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    const __mmask16 m0 = nr >= 16 ? 0xFFFF : (__mmask16)((1u << nr) - 1);
    const __mmask16 m1 = nr >= 32 ? 0xFFFF : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
    if (nr == 32) {
        for (int p = 0; p < kc; p++, ap += 12) {
            const float *b = brow[p] + j0;
            __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 12
            for (int i = 0; i < ROWS; i++) {
                __m512 a = _mm512_set1_ps(ap[i]);
                acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
                acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
            }
        }
    } else {
        for (int p = 0; p < kc; p++, ap += 12) {
            const float *b = brow[p] + j0;
            __m512 b0 = _mm512_maskz_loadu_ps(m0, b), b1 = _mm512_maskz_loadu_ps(m1, b + 16);
#pragma GCC unroll 12
            for (int i = 0; i < ROWS; i++) {
                __m512 a = _mm512_set1_ps(ap[i]);
                acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
                acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
            }
        }
    }
#pragma GCC unroll 12
    for (int i = 0; i < ROWS; i++) { /* unrolled: constant acc indices (see ukr_avx512) */
        if (i >= mr) break;
        float *ci = c + (size_t)i * ldc;
        _mm512_mask_storeu_ps(ci, m0, _mm512_add_ps(acc[i][0], _mm512_maskz_loadu_ps(m0, ci)));
        _mm512_mask_storeu_ps(ci + 16, m1, _mm512_add_ps(acc[i][1], _mm512_maskz_loadu_ps(m1, ci + 16)));
    }
}

__attribute__((target("avx512f")))
static void ukr_avx512_ind(int kc, const float *ap, const float *const *brow, int j0, float *c, int ldc, int mr, int nr) {
    if (mr <= 4) ind512_rows(4, kc, ap, brow, j0, c, ldc, mr, nr);
    else if (mr <= 8) ind512_rows(8, kc, ap, brow, j0, c, ldc, mr, nr);
    else ind512_rows(12, kc, ap, brow, j0, c, ldc, mr, nr);
}

/* maskload/maskstore masks of a 16-wide strip with nr valid columns: lanes 0..7 and 8..15 */
__attribute__((target("avx2,fma"), always_inline))
static inline void avx2_masks(int nr, __m256i *m0, __m256i *m1) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    *m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr), lane);
    *m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr - 8), lane);
}

/* C tile += acc (6 x 16, the first mr rows and nr columns). Constant indices only (see ukr_avx2). */
__attribute__((target("avx2,fma"), always_inline))
static inline void avx2_writeback(__m256 acc[6][2], float *c, int ldc, int mr, int nr, __m256i m0, __m256i m1) {
    if (mr == 6 && nr == 16) {
#pragma GCC unroll 6
        for (int i = 0; i < 6; i++) {
            float *ci = c + (size_t)i * ldc;
            _mm256_storeu_ps(ci, _mm256_add_ps(acc[i][0], _mm256_loadu_ps(ci)));
            _mm256_storeu_ps(ci + 8, _mm256_add_ps(acc[i][1], _mm256_loadu_ps(ci + 8)));
        }
        return;
    }
#pragma GCC unroll 6
    for (int i = 0; i < 6; i++) {
        if (i >= mr) break;
        float *ci = c + (size_t)i * ldc;
        _mm256_maskstore_ps(ci, m0, _mm256_add_ps(acc[i][0], _mm256_maskload_ps(ci, m0)));
        _mm256_maskstore_ps(ci + 8, m1, _mm256_add_ps(acc[i][1], _mm256_maskload_ps(ci + 8, m1)));
    }
}

/* AVX2 version of ukr_avx512_ind: 6 x 16 tile, 12 ymm accumulators; partial strips use maskload
 * (lanes past nr read nothing, so a strip may end exactly at the end of B's rows). */
__attribute__((target("avx2,fma")))
static void ukr_avx2_ind(int kc, const float *ap, const float *const *brow, int j0, float *c, int ldc, int mr, int nr) {
    __m256 acc[6][2];
    for (int i = 0; i < mr; i++) _mm_prefetch((const char *)(c + (size_t)i * ldc), _MM_HINT_T0);
#pragma GCC unroll 6
    for (int i = 0; i < 6; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    __m256i m0, m1;
    avx2_masks(nr, &m0, &m1);
    if (nr == 16) {
        for (int p = 0; p < kc; p++, ap += 6) {
            const float *b = brow[p] + j0;
            __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
            for (int i = 0; i < 6; i++) {
                __m256 a = _mm256_broadcast_ss(ap + i);
                acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
                acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
            }
        }
    } else {
        for (int p = 0; p < kc; p++, ap += 6) {
            const float *b = brow[p] + j0;
            __m256 b0 = _mm256_maskload_ps(b, m0), b1 = _mm256_maskload_ps(b + 8, m1);
#pragma GCC unroll 6
            for (int i = 0; i < 6; i++) {
                __m256 a = _mm256_broadcast_ss(ap + i);
                acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
                acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
            }
        }
    }
    avx2_writeback(acc, c, ldc, mr, nr, m0, m1);
}

/* KC 128: a B strip (kc rows x NR floats) stays in L1 while every A strip of the block passes.
 * Packed layout: for each kc block (at offset mstrips*MR*pc), mstrips strips of kc x MR. The tile is
 * 12 x 32 on AVX-512 and 6 x 16 on AVX2 (jp_igemm_supported() says whether either is active). */
#define IGEMM_KC 128

int jp_igemm_supported(void) { return jp_g_isa >= JP_ISA_AVX2; }
static int igemm_mr(void) { return jp_g_isa == JP_ISA_AVX512 ? 12 : 6; }
static int igemm_nr(void) { return jp_g_isa == JP_ISA_AVX512 ? 32 : 16; }

size_t jp_igemm_packed_size(int m, int kdim) {
    const int mr = igemm_mr();
    return (size_t)((m + mr - 1) / mr) * mr * (kdim > 0 ? kdim : 1);
}

void jp_igemm_pack_a_strips(int m, int kdim, const float *a, int lda, float *packed, int s0, int s1) {
    const int MR = igemm_mr();
    const gemm_cfg g = {MR, igemm_nr(), 0, IGEMM_KC, 0, NULL};
    const int mstrips = (m + MR - 1) / MR;
    if (s1 > mstrips) s1 = mstrips;
    for (int pc = 0; pc < kdim; pc += g.kc) {
        const int kc = kdim - pc < g.kc ? kdim - pc : g.kc;
        for (int s = s0; s < s1; s++) pack_a(&g, m, kc, a, lda, 0, 0, pc, packed + (size_t)mstrips * MR * pc, s);
    }
}

void jp_igemm_pack_a(int m, int kdim, const float *a, int lda, float *packed) { jp_igemm_pack_a_strips(m, kdim, a, lda, packed, 0, INT32_MAX); }

void jp_igemm_tile_shape(int *mr, int *nr) {
    *mr = igemm_mr();
    *nr = igemm_nr();
}

/* Tiles [t0, t1) of the MR x NR tile grid, tile t = js * mstrips + is (the tiles of one column strip in
 * a row, so consecutive tiles share their B rows); each K block (IGEMM_KC) runs over the whole range
 * before the next, so the range's packed A block stays in the L1/L2 caches. Every C element gets its K
 * blocks in order, whatever the range: results do not depend on how the tiles are split. */
void jp_igemm_tiles(int m, int n, int kdim, const float *packed_a, const float *const *brow, float *c, int ldc, int64_t t0, int64_t t1) {
    if (m <= 0 || n <= 0 || kdim <= 0 || t0 >= t1) return;
    const int MR = igemm_mr(), NR = igemm_nr(), avx512 = jp_g_isa == JP_ISA_AVX512, mstrips = (m + MR - 1) / MR;
    for (int pc = 0; pc < kdim; pc += IGEMM_KC) {
        const int kc = kdim - pc < IGEMM_KC ? kdim - pc : IGEMM_KC;
        const float *ap = packed_a + (size_t)mstrips * MR * pc;
        for (int64_t t = t0; t < t1; t++) {
            const int js = (int)(t / mstrips), is = (int)(t % mstrips);
            const int nr = n - js * NR < NR ? n - js * NR : NR, mr = m - is * MR < MR ? m - is * MR : MR;
            float *ct = c + (size_t)is * MR * ldc + (size_t)js * NR;
            if (avx512) ukr_avx512_ind(kc, ap + (size_t)is * MR * kc, brow + pc, js * NR, ct, ldc, mr, nr);
            else ukr_avx2_ind(kc, ap + (size_t)is * MR * kc, brow + pc, js * NR, ct, ldc, mr, nr);
        }
    }
}

/* AVX2 version of ukr_avx512_pa: 6 rows of A through pointers, B packed 16 wide. */
__attribute__((target("avx2,fma")))
static void ukr_avx2_pa(int kc, const float *const *a, const float *bp, float *c, int ldc, int mr, int nr) {
    __m256 acc[6][2];
    const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5];
#pragma GCC unroll 6
    for (int i = 0; i < 6; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int p = 0; p < kc; p++, bp += 16) {
        __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);
#define PA_ROW2(i, ai) { __m256 av = _mm256_broadcast_ss(ai + p); acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]); acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]); }
        PA_ROW2(0, a0) PA_ROW2(1, a1) PA_ROW2(2, a2) PA_ROW2(3, a3) PA_ROW2(4, a4) PA_ROW2(5, a5)
#undef PA_ROW2
    }
    __m256i m0, m1;
    avx2_masks(nr, &m0, &m1);
    avx2_writeback(acc, c, ldc, mr, nr, m0, m1);
}

/* ROWS (4, 8 or 12) rows of A through pointers, as sgemm512_rows */
__attribute__((target("avx512f"), always_inline))
static inline void pa512_rows(const int ROWS, int kc, const float *const *a, const float *bp, float *c, int ldc, int mr, int nr) {
    __m512 acc[12][2];
    const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5], *a6 = a[6], *a7 = a[7], *a8 = a[8],
                *a9 = a[9], *a10 = a[10], *a11 = a[11];
#pragma GCC unroll 12
    for (int i = 0; i < ROWS; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int p = 0; p < kc; p++, bp += 32) {
        __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
#define PA_ROW(i, ai) if (i < ROWS) { __m512 av = _mm512_set1_ps(ai[p]); acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]); acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]); }
        PA_ROW(0, a0) PA_ROW(1, a1) PA_ROW(2, a2) PA_ROW(3, a3) PA_ROW(4, a4) PA_ROW(5, a5)
        PA_ROW(6, a6) PA_ROW(7, a7) PA_ROW(8, a8) PA_ROW(9, a9) PA_ROW(10, a10) PA_ROW(11, a11)
#undef PA_ROW
    }
    const __mmask16 m0 = nr >= 16 ? 0xFFFF : (__mmask16)((1u << nr) - 1);
    const __mmask16 m1 = nr >= 32 ? 0xFFFF : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
#pragma GCC unroll 12
    for (int i = 0; i < ROWS; i++) { /* unrolled: constant acc indices (see ukr_avx512) */
        if (i >= mr) break;
        float *ci = c + (size_t)i * ldc;
        _mm512_mask_storeu_ps(ci, m0, _mm512_add_ps(acc[i][0], _mm512_maskz_loadu_ps(m0, ci)));
        _mm512_mask_storeu_ps(ci + 16, m1, _mm512_add_ps(acc[i][1], _mm512_maskz_loadu_ps(m1, ci + 16)));
    }
}

__attribute__((target("avx512f")))
static void ukr_avx512_pa(int kc, const float *const *a, const float *bp, float *c, int ldc, int mr, int nr) {
    if (mr <= 4) pa512_rows(4, kc, a, bp, c, ldc, mr, nr);
    else if (mr <= 8) pa512_rows(8, kc, a, bp, c, ldc, mr, nr);
    else pa512_rows(12, kc, a, bp, c, ldc, mr, nr);
}

int jp_igemm_a(int threads, int m, int n, int kdim, const float *const *arow, const float *b, int ldb, int trans_b, float *c, int ldc) {
    static const float zeros[256] __attribute__((aligned(64)));
    if (m <= 0 || n <= 0 || kdim <= 0) return 0;
    const int MR = igemm_mr(), NR = igemm_nr(), avx512 = jp_g_isa == JP_ISA_AVX512;
    const gemm_cfg g = {MR, NR, 0, 256, 0, NULL};
    const int mstrips = (m + MR - 1) / MR, nstrips = (n + NR - 1) / NR;
    float *bp = jp_scratch(0, (size_t)nstrips * NR * g.kc);
    if (!bp) return -1;
    if (threads < 1) threads = 1;
    if ((double)m * n * kdim < 2e5) threads = 1;
    for (int pc = 0; pc < kdim; pc += g.kc) {
        const int kc = kdim - pc < g.kc ? kdim - pc : g.kc;
        for (int s = 0; s < nstrips; s++) pack_b(&g, n, kc, b, ldb, trans_b, pc, 0, bp, s);
        const int64_t t0 = jp_now_ns();
#pragma omp parallel num_threads(threads) if (threads > 1)
        {
        JP_TEAM_ARRIVE(t0);
#pragma omp for schedule(static)
        for (int is = 0; is < mstrips; is++) {
            const int mr = m - is * MR < MR ? m - is * MR : MR;
            const float *a[12];
            for (int i = 0; i < MR; i++) a[i] = i < mr ? arow[is * MR + i] + pc : zeros;
            for (int js = 0; js < nstrips; js++) {
                const int nr = n - js * NR < NR ? n - js * NR : NR;
                if (avx512) ukr_avx512_pa(kc, a, bp + (size_t)js * NR * kc, c + (size_t)is * MR * ldc + js * NR, ldc, mr, nr);
                else ukr_avx2_pa(kc, a, bp + (size_t)js * NR * kc, c + (size_t)is * MR * ldc + js * NR, ldc, mr, nr);
            }
        }
        }
    }
    return 0;
}
