/* loss.cu - the YOLOv5 loss on the CUDA backend (the CPU's loss.c), one Detect level per call; the
 * math is yololoss.h's, shared with the CPU. Sums are deterministic: fixed block counts, a fixed tree
 * per block and one thread adding the blocks' partials in order; no atomics (a group of matches
 * belongs to one thread, and groups are distinct cells). */
#include "common.cuh"
#include "../src/yololoss.h"

using namespace jpcuda;

#define LOSS_BLOCKS 120

/* grad = obj_scale * sigmoid(x) on the objectness outputs, 0 elsewhere; partial[block] = sum of
 * softplus(x) over the objectness outputs the block visited */
__global__ void k_yolo_obj(jp_yolo_desc d, double *partial, float *grad, const float *out, int64_t total) {
    __shared__ double red[32];
    const int64_t cells = d.cells, no = d.no;
    double acc = 0.0;
    JP_GRID_STRIDE(i, total) {
        const int64_t ch = (i / cells) % no;
        if (ch == 4) {
            const double x = out[i];
            acc += jp_softplus_d(x);
            grad[i] = (float)(d.obj_scale * jp_sigmoid_d(x));
        } else {
            grad[i] = 0.f;
        }
    }
    double s = block_sum(acc, red);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

/* loss[first + q] += scale * sum over blocks of partial[block][q], q < slots, in block order */
__global__ void k_yolo_sum(float *loss, int first, int slots, const double *partial, int blocks, double scale) {
    if (threadIdx.x != 0) return;
    for (int q = 0; q < slots; q++) {
        double acc = 0.0;
        for (int b = 0; b < blocks; b++) acc += partial[b * slots + q];
        loss[first + q] += (float)(scale * acc);
    }
}

/* one thread per output value of the anchor's rows, the value index fastest (coalesced stores) */
__global__ void k_yolo_decode(jp_yolo_desc d, float *out, const float *raw, int32_t anchor, float aw, float ah, float stride, int32_t row0,
                              int32_t rows, int64_t total) {
    const int64_t cells = d.cells, no = d.no;
    JP_GRID_STRIDE(i, total) {
        const int64_t c = i % no, p = i / no % cells, b = i / (no * cells);
        const float x = raw[((b * d.na + anchor) * no + c) * cells + p];
        const float s = 1.f / (1.f + expf(-x));
        out[(b * rows + row0 + (int64_t)anchor * cells + p) * no + c] = jp_yolo_decoded((int)c, s, (int)(p % d.nx), (int)(p / d.nx), stride, aw, ah);
    }
}

CU_OP(yolo_decode)(jp_ctx ctx, const jp_yolo_desc *d, float *out, const float *raw, int32_t anchor, float anchor_w, float anchor_h, float stride,
                   int32_t row0, int32_t rows) {
    static const char *fn = "jp_yolo_decode";
    const int64_t total = (int64_t)d->n * d->cells * d->no;
    if (!total) return JP_OK;
    Ctx *c = impl(ctx);
    JP_LAUNCH(k_yolo_decode, grid1d(c, total), dim3(256), c->stream, *d, out, raw, anchor, anchor_w, anchor_h, stride, row0, rows, total);
    LAUNCHED(fn);
}

CU_OP(yolo_obj_loss)(jp_ctx ctx, const jp_yolo_desc *d, float *loss, float *grad, const float *out) {
    static const char *fn = "jp_yolo_obj_loss";
    const int64_t total = (int64_t)d->n * d->na * d->no * d->cells;
    if (!total) return JP_OK;
    Ctx *c = impl(ctx);
    /* a fixed block count (not the GPU's size) keeps the summation order, and so the bits, the same on every GPU */
    int blocks = (int)((total + 255) / 256);
    if (blocks > LOSS_BLOCKS) blocks = LOSS_BLOCKS;
    Scratch partial(c, sizeof(double) * LOSS_BLOCKS);
    if (!partial.p) return jp_fail(JP_ERR_NO_MEMORY, fn, "no device memory for %d partial sums", blocks);
    JP_LAUNCH(k_yolo_obj, dim3((unsigned)blocks), dim3(256), c->stream, *d, partial.as<double>(), grad, out, total);
    JP_LAUNCH(k_yolo_sum, dim3(1), dim3(32), c->stream, loss, 1, 1, partial.as<double>(), blocks, (double)d->obj_scale);
    LAUNCHED(fn);
}

/* one thread per group (grid-stride); entries outside the level are skipped (the Java MatchList
 * checked them before upload) */
__global__ void k_yolo_match(jp_yolo_desc d, double *partial, float *grad, const float *out, const float *match, const int32_t *group_start,
                             const int32_t *group_cell, int32_t n_groups) {
    __shared__ double red[32];
    double sums[3] = {0.0, 0.0, 0.0};
    const int64_t rows = (int64_t)d.n * d.na;
    JP_GRID_STRIDE(g, n_groups) {
        const int32_t ba = group_cell[2 * g], pos = group_cell[2 * g + 1], m0 = group_start[g], m1 = group_start[g + 1];
        if (ba < 0 || ba >= rows || pos < 0 || pos >= d.cells || m1 <= m0) continue;
        jp_yolo_group(&d, grad, out, match, m0, m1, (int64_t)ba * d.no * d.cells + pos, sums);
    }
    for (int q = 0; q < 3; q++) {
        double s = block_sum(sums[q], red);
        if (threadIdx.x == 0) partial[blockIdx.x * 3 + q] = s;
    }
}

CU_OP(yolo_match_loss)(jp_ctx ctx, const jp_yolo_desc *d, float *loss, float *grad, const float *out, const float *match,
                       const int32_t *group_start, const int32_t *group_cell, int32_t n_groups) {
    static const char *fn = "jp_yolo_match_loss";
    if (!n_groups) return JP_OK;
    Ctx *c = impl(ctx);
    /* a few thousand groups: a fixed, small grid (the sums' order stays the same on every GPU) */
    int blocks = (n_groups + 255) / 256;
    if (blocks > 16) blocks = 16;
    Scratch partial(c, sizeof(double) * 3 * 16);
    if (!partial.p) return jp_fail(JP_ERR_NO_MEMORY, fn, "no device memory for %d partial sums", 3 * blocks);
    JP_LAUNCH(k_yolo_match, dim3((unsigned)blocks), dim3(256), c->stream, *d, partial.as<double>(), grad, out, match, group_start,
              group_cell, n_groups);
    JP_LAUNCH(k_yolo_sum, dim3(1), dim3(32), c->stream, loss, 0, 3, partial.as<double>(), blocks, 1.0);
    LAUNCHED(fn);
}
