/* Internal to the CPU backend: threading, scratch memory, the SGEMM core and ISA dispatch. */
#ifndef JPRUNE_CPU_H
#define JPRUNE_CPU_H

#include "../src/internal.h"
#include <stddef.h>
#include <stdint.h>

extern int jp_g_isa; /* active ISA (JP_ISA_*) */

int jp_cpu_cores(void);

/* Per-OS-thread scratch: slot 0..JP_SCRATCH_SLOTS-1, grown on demand, 64-byte aligned, kept for the
 * thread's life (OpenMP pools reuse threads, so each grows once to its largest request). */
#define JP_SCRATCH_SLOTS 6
float *jp_scratch(int slot, size_t floats);

/* C = alpha*op(A)*op(B) + beta*C with `threads` workers (1 = caller's thread only); -1 when the
 * packing buffers cannot be allocated. */
int jp_sgemm_core(int threads, int trans_a, int trans_b, int m, int n, int k, float alpha,
                   const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* conv internals shared by dense and channel-sparse conv */
void jp_im2col(const jp_conv2d_desc *d, const float *x_img, const int32_t *ch_idx, int n_ch, float *col, int threads);
void jp_col2im(const jp_conv2d_desc *d, const float *col, const int32_t *ch_idx, int n_ch, float *dx_img, int threads);

#define CPU_OP(name) jp_status cpu_##name
#endif
