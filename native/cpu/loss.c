/* The YOLOv5 loss on the CPU backend, one Detect level per call (the math is yololoss.h's, shared
 * with CUDA). The trainer runs these on a device backend; on the CPU it keeps the host loss, which
 * is the same computation (the tests compare the two). Sums run in a fixed order: the result does
 * not depend on the thread count. */
#include "cpu.h"
#include "../src/yololoss.h"
#include <stdlib.h>
#include <string.h>

/* Blocks of DECODE_BLOCK cells: the sigmoid of each output row of the block (vectorised, contiguous),
 * then the block's output rows written in place (DECODE_BLOCK x no floats, in the L1 cache) */
#define DECODE_BLOCK 64

CPU_OP(yolo_decode)(jp_ctx ctx, const jp_yolo_desc *d, float *out, const float *raw, int32_t anchor, float anchor_w, float anchor_h, float stride,
                    int32_t row0, int32_t rows) {
    const int64_t cells = d->cells, no = d->no, nx = d->nx, bpi = (cells + DECODE_BLOCK - 1) / DECODE_BLOCK;
    JP_PARFOR(jp_team(ctx), (int64_t)d->n * bpi, (int64_t)d->n * no * cells, t, {
        const int64_t b = t / bpi, p0 = t % bpi * DECODE_BLOCK, len = cells - p0 < DECODE_BLOCK ? cells - p0 : DECODE_BLOCK;
        const float *src = raw + ((b * d->na + anchor) * no) * cells + p0;
        float *dst = out + (b * rows + row0 + (int64_t)anchor * cells + p0) * no;
        float sg[DECODE_BLOCK];
        for (int64_t c = 0; c < no; c++) {
            jp_sigmoid_rows(sg, src + c * cells, len);
            if (c < 4) {
                for (int64_t j = 0; j < len; j++)
                    dst[j * no + c] = jp_yolo_decoded((int)c, sg[j], (int)((p0 + j) % nx), (int)((p0 + j) / nx), stride, anchor_w, anchor_h);
            } else {
                for (int64_t j = 0; j < len; j++) dst[j * no + c] = sg[j];
            }
        }
    });
    return JP_OK;
}

CPU_OP(yolo_obj_loss)(jp_ctx ctx, const jp_yolo_desc *d, float *loss, float *grad, const float *out) {
    static const char *fn = "jp_yolo_obj_loss";
    const int64_t rows = (int64_t)d->n * d->na, cells = d->cells, no = d->no;
    if (!rows) return JP_OK;
    double *part = malloc((size_t)rows * sizeof(double));
    if (!part) return jp_fail(JP_ERR_NO_MEMORY, fn, "no memory for %lld partial sums", (long long)rows);
    JP_PARFOR(jp_team(ctx), rows, rows * no * cells, r, {
        float *g = grad + r * no * cells;
        const float *x = out + (r * no + 4) * cells;
        memset(g, 0, (size_t)(no * cells) * sizeof(float));
        float *go = g + 4 * cells;
        double s = 0;
        for (int64_t p = 0; p < cells; p++) {
            s += jp_softplus_d(x[p]);
            go[p] = (float)(d->obj_scale * jp_sigmoid_d(x[p]));
        }
        part[r] = s;
    });
    double s = 0;
    for (int64_t r = 0; r < rows; r++) s += part[r];
    free(part);
    loss[1] += (float)(d->obj_scale * s);
    return JP_OK;
}

CPU_OP(yolo_match_loss)(jp_ctx ctx, const jp_yolo_desc *d, float *loss, float *grad, const float *out, const float *match,
                        const int32_t *group_start, const int32_t *group_cell, int32_t n_groups) {
    static const char *fn = "jp_yolo_match_loss";
    (void)ctx;
    if (!n_groups) return JP_OK;
    /* the lists are host memory here: check what the kernels would trust */
    const int64_t rows = (int64_t)d->n * d->na;
    JP_CHECK(group_start[0] == 0, fn, "group_start[0] = %d, not 0", group_start[0]);
    for (int32_t g = 0; g < n_groups; g++) {
        JP_CHECK(group_start[g + 1] > group_start[g], fn, "group_start is not strictly increasing at %d (%d, %d)", g, group_start[g],
                 group_start[g + 1]);
        JP_CHECK(group_cell[2 * g] >= 0 && group_cell[2 * g] < rows, fn, "group_cell[%d] = %d outside [0, %lld) (image * anchors + anchor)",
                 2 * g, group_cell[2 * g], (long long)rows);
        JP_CHECK(group_cell[2 * g + 1] >= 0 && group_cell[2 * g + 1] < d->cells, fn, "group_cell[%d] = %d outside [0, %d) (cell)", 2 * g + 1,
                 group_cell[2 * g + 1], d->cells);
    }
    if (d->cls_scale != 0.f)
        for (int32_t m = 0; m < group_start[n_groups]; m++) {
            float c = match[(int64_t)m * JP_YOLO_MATCH + 6];
            JP_CHECK(c >= 0 && c < d->no - 5 && c == (float)(int)c, fn, "match %d has class %g, not one of 0 .. %d", m, c, d->no - 6);
        }
    double sums[3] = {0, 0, 0};
    for (int32_t g = 0; g < n_groups; g++) {
        int64_t base = (int64_t)group_cell[2 * g] * d->no * d->cells + group_cell[2 * g + 1];
        jp_yolo_group(d, grad, out, match, group_start[g], group_start[g + 1], base, sums);
    }
    for (int q = 0; q < 3; q++) loss[q] += (float)sums[q];
    return JP_OK;
}
