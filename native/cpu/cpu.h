/* Internal to the CPU backend: threading, scratch memory, the SGEMM core and ISA dispatch. */
#ifndef JPRUNE_CPU_H
#define JPRUNE_CPU_H

#include "../src/internal.h"
#include <omp.h>
#include <stddef.h>
#include <stdint.h>

extern int jp_g_isa; /* active ISA (JP_ISA_*) */

/* Threads (team.c): cores in this process's affinity mask; the team size for a region of an op on
 * ctx (context setting, per-OS-thread override, adaptive limit); a monotonic clock; and the report of
 * a worker that started late. Regions that fork read jp_team(ctx) once and mark their start:
 *     const int64_t t0 = jp_now_ns();
 *     #pragma omp parallel num_threads(nt) if (nt > 1)
 *     { JP_TEAM_ARRIVE(t0); ... }                                                              */
int jp_cpu_cores(void);
int jp_team(const struct jp_ctx_s *ctx);
/* the team size asked for (per-thread override or the context's), before the adaptive limit: what
 * partitions that decide the order of sums use, so results do not depend on the limit */
int jp_team_want(const struct jp_ctx_s *ctx);
int64_t jp_now_ns(void);
void jp_team_late(int64_t delay_ns);
#define JP_LATE_NS 1000000 /* a worker this late (1 ms) was off its core: a time slice, not a wake-up */
#define JP_TEAM_ARRIVE(t0)                                                                        \
    do {                                                                                          \
        const int64_t jp_d_ = jp_now_ns() - (t0);                                                 \
        if (omp_get_thread_num() != 0 && jp_d_ > JP_LATE_NS) jp_team_late(jp_d_);                 \
    } while (0)

/* Per-OS-thread scratch: slot 0..JP_SCRATCH_SLOTS-1, grown on demand, 64-byte aligned, kept for the
 * thread's life (OpenMP pools reuse threads, so each grows once to its largest request). */
#define JP_SCRATCH_SLOTS 8
float *jp_scratch(int slot, size_t floats);

/* C = alpha*op(A)*op(B) + beta*C with `threads` workers (1 = caller's thread only); -1 when the
 * packing buffers cannot be allocated. */
int jp_sgemm_core(int threads, int trans_a, int trans_b, int m, int n, int k, float alpha,
                   const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* Indirect GEMM (AVX-512 12x32 or AVX2 6x16 tiles, by the active ISA; jp_igemm_supported() is 0 on
 * scalar): C[i][j] += sum_p A[i][p] * brow[p][j] for i < m, j < n; B row p is the n contiguous floats
 * at brow[p] and is never packed. A (row-major, leading dimension lda) is packed once by
 * jp_igemm_pack_a into jp_igemm_packed_size(m, kdim) floats and reused for every image (the packing
 * depends on the ISA: pack and multiply under the same one). jp_igemm_tiles multiplies the tiles
 * [t0, t1) of its MR x NR tile grid (jp_igemm_tile_shape; tile t = js * mstrips + is, column strip js,
 * row strip is) on the calling thread: the convolutions (conv2d.c) split the tiles among the threads of
 * a parallel region of their own. The results do not depend on the split. */
int jp_igemm_supported(void);
size_t jp_igemm_packed_size(int m, int kdim);
void jp_igemm_pack_a(int m, int kdim, const float *a, int lda, float *packed);
/* the row strips [s0, s1) of that packing (MR rows each, jp_igemm_tile_shape), for callers that split it */
void jp_igemm_pack_a_strips(int m, int kdim, const float *a, int lda, float *packed, int s0, int s1);
void jp_igemm_tile_shape(int *mr, int *nr);
void jp_igemm_tiles(int m, int n, int kdim, const float *packed_a, const float *const *brow, float *c, int ldc, int64_t t0, int64_t t1);

/* C[i][j] += sum_p arow[i][p] * B(p, j) for i < m, j < n, p < kdim: A rows through pointers, B
 * row-major (or transposed, trans_b) and packed. Used by stride-1 backward-filter. */
int jp_igemm_a(int threads, int m, int n, int kdim, const float *const *arow, const float *b, int ldb, int trans_b, float *c, int ldc);

/* conv internals shared by dense and channel-sparse conv */
/* y[i] = act(y[i]) for i < n, on the calling thread (a conv's epilogue over rows it just wrote, at
 * inference only: SiLU takes a faster AVX-512 form than act_fwd's, within 2e-7 relative);
 * kind JP_ACT_* (checked by the caller), alpha: leaky ReLU's slope */
void jp_act_rows(int32_t kind, float alpha, float *y, int64_t n);
/* y[i] = sigmoid(x[i]) for i < n, vectorised (the polynomial exp of the SiLU loops); y != x */
void jp_sigmoid_rows(float *y, const float *x, int64_t n);
void jp_im2col(const jp_conv2d_desc *d, const float *x_img, const int32_t *ch_idx, int n_ch, float *col, int threads);
void jp_col2im(const jp_conv2d_desc *d, const float *col, const int32_t *ch_idx, int n_ch, float *dx_img, int threads);

#define CPU_OP(name) jp_status cpu_##name

/* for (int64_t i = 0; i < n; i++) body -- on `nt` threads only when `work` (elements touched) is
 * large: small calls never enter OpenMP at all, since even an if(0) parallel region costs ~0.3 us
 * in libgomp, which would dominate the downcall of a tiny op (BN parameters, biases). */
#define JP_PARFOR(nt, n, work, i, ...)                                             \
    do {                                                                           \
        const int jp_nt_ = (nt);                                                   \
        const int64_t jp_n_ = (n);                                                 \
        if (jp_nt_ > 1 && (work) > 65536) {                                        \
            const int64_t jp_t0_ = jp_now_ns();                                    \
            _Pragma("omp parallel num_threads(jp_nt_)")                            \
            {                                                                      \
                JP_TEAM_ARRIVE(jp_t0_);                                            \
                _Pragma("omp for schedule(static)")                                \
                for (int64_t i = 0; i < jp_n_; i++) { __VA_ARGS__ }                \
            }                                                                      \
        } else {                                                                   \
            for (int64_t i = 0; i < jp_n_; i++) { __VA_ARGS__ }                    \
        }                                                                          \
    } while (0)

/* Loops compiled once per ISA level and picked at load time. The x86-64-v3 level is AVX2 *with* FMA
 * (and F16C, BMI): a plain "avx2" clone has no FMA, and the SiLU loops ran 2.4x slower without it. */
#define JP_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define JP_CLONES_NTM __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), optimize("no-trapping-math")))

/* Sums with 16 independent partial accumulators, so the compiler vectorises them without
 * -ffast-math; compiled for the CPU's best ISA through target_clones (memory-bound helpers). */
float jp_sum_f(const float *x, int64_t n);
float jp_sumsq_f(const float *x, int64_t n);
float jp_sumabs_f(const float *x, int64_t n);
#endif
