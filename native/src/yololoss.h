/* The YOLOv5 loss's per-element math (jp_yolo_obj_loss, jp_yolo_match_loss), shared by the CPU loops
 * and the CUDA kernels (nvcc and cuda-emu compile it for the device), in double like the host loss it
 * replaces (yolo/.../loss/YoloLoss.java, checked against PyTorch): one definition of CIoU and its
 * gradient, of the BCE terms, and of a group of matches. */
#ifndef JPRUNE_YOLOLOSS_H
#define JPRUNE_YOLOLOSS_H

#include "pointwise.h"

#define JP_YOLO_EPS 1e-7

JP_POINTWISE double jp_sigmoid_d(double x) { return 1.0 / (1.0 + exp(-x)); }

/* Detect's decode of output c of an anchor at cell (gx, gy), given s = its sigmoid (jp_yolo_decode) */
JP_POINTWISE float jp_yolo_decoded(int c, float s, int gx, int gy, float stride, float aw, float ah) {
    switch (c) {
    case 0: return (s * 2.f - 0.5f + (float)gx) * stride;
    case 1: return (s * 2.f - 0.5f + (float)gy) * stride;
    case 2: return (s * 2.f) * (s * 2.f) * aw;
    case 3: return (s * 2.f) * (s * 2.f) * ah;
    default: return s;
    }
}

/* log(1 + exp(x)) without overflow */
JP_POINTWISE double jp_softplus_d(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

/* 1 if a < b, 0.5 at a tie, else 0: the share of min(a, b)'s gradient that goes to a (torch.min/max
 * split it evenly at ties) */
JP_POINTWISE double jp_less_d(double a, double b) { return a < b ? 1.0 : a == b ? 0.5 : 0.0; }

/* CIoU of box (x, y, w, h) against (tx, ty, tw, th) as YOLOv5's bbox_iou(CIoU=True); writes
 * d CIoU / d (x, y, w, h) into grad with alpha held constant */
JP_POINTWISE double jp_ciou(double x, double y, double w, double h, double tx, double ty, double tw, double th, double *grad) {
    const double EPS = JP_YOLO_EPS, PI = 3.14159265358979323846;
    double b1x1 = x - w / 2, b1x2 = x + w / 2, b1y1 = y - h / 2, b1y2 = y + h / 2;
    double b2x1 = tx - tw / 2, b2x2 = tx + tw / 2, b2y1 = ty - th / 2, b2y2 = ty + th / 2;
    double w1 = w, h1 = h > EPS ? h : EPS, w2 = tw, h2 = th > EPS ? th : EPS;
    double iwRaw = fmin(b1x2, b2x2) - fmax(b1x1, b2x1), ihRaw = fmin(b1y2, b2y2) - fmax(b1y1, b2y1);
    double iw = iwRaw > 0 ? iwRaw : 0, ih = ihRaw > 0 ? ihRaw : 0;
    double inter = iw * ih, uni = w1 * h1 + w2 * h2 - inter + EPS, iou = inter / uni;
    double cw = fmax(b1x2, b2x2) - fmin(b1x1, b2x1), ch = fmax(b1y2, b2y2) - fmin(b1y1, b2y1);
    double c2 = cw * cw + ch * ch + EPS;
    double ddx = b2x1 + b2x2 - b1x1 - b1x2, ddy = b2y1 + b2y2 - b1y1 - b1y2;
    double rho2 = (ddx * ddx + ddy * ddy) / 4;
    double k = 4 / (PI * PI), delta = atan(w2 / h2) - atan(w1 / h1), v = k * delta * delta;
    double alpha = v / (v - iou + (1 + EPS));
    double ciou = iou - (rho2 / c2 + v * alpha);
    double diwdx = 0, diwdw = 0, dihdy = 0, dihdh = 0;
    if (iwRaw > 0) {
        double r = jp_less_d(b1x2, b2x2), l = jp_less_d(b2x1, b1x1);
        diwdx = r - l;
        diwdw = 0.5 * r + 0.5 * l;
    }
    if (ihRaw > 0) {
        double b = jp_less_d(b1y2, b2y2), t = jp_less_d(b2y1, b1y1);
        dihdy = b - t;
        dihdh = 0.5 * b + 0.5 * t;
    }
    double dInter[4] = {ih * diwdx, iw * dihdy, ih * diwdw, iw * dihdh};
    double dUnion[4] = {-dInter[0], -dInter[1], h1 - dInter[2], (h > EPS ? w1 : 0) - dInter[3]};
    double rx = jp_less_d(b2x2, b1x2), lx = jp_less_d(b1x1, b2x1), by = jp_less_d(b2y2, b1y2), ty2 = jp_less_d(b1y1, b2y1);
    double dcw[4] = {rx - lx, 0, 0.5 * rx + 0.5 * lx, 0};
    double dch[4] = {0, by - ty2, 0, 0.5 * by + 0.5 * ty2};
    double drho2[4] = {-2 * (tx - x), -2 * (ty - y), 0, 0};
    double dd = w1 * w1 + h1 * h1;
    double dv[4] = {0, 0, -2 * k * delta * h1 / dd, h > EPS ? 2 * k * delta * w1 / dd : 0};
    for (int q = 0; q < 4; q++) {
        double diou = (dInter[q] * uni - inter * dUnion[q]) / (uni * uni);
        double dc2 = 2 * cw * dcw[q] + 2 * ch * dch[q];
        double dpen = (drho2[q] * c2 - rho2 * dc2) / (c2 * c2);
        grad[q] = diou - dpen - alpha * dv[q];
    }
    return ciou;
}

/* One group of matches at one (image, anchor, cell): base is the flat index of its x output, the
 * channels cells apart. Adds the gradients into grad and the scaled loss terms into sums[0..2]. */
JP_POINTWISE void jp_yolo_group(const jp_yolo_desc *d, float *grad, const float *out, const float *match, int32_t m0, int32_t m1,
                                int64_t base, double *sums) {
    const int64_t cs = d->cells;
    const int nc = d->no - 5;
    double ciou = 0;
    for (int32_t m = m0; m < m1; m++) {
        const float *t = match + (int64_t)m * JP_YOLO_MATCH;
        double sx = jp_sigmoid_d(out[base]), sy = jp_sigmoid_d(out[base + cs]);
        double sw = jp_sigmoid_d(out[base + 2 * cs]), sh = jp_sigmoid_d(out[base + 3 * cs]);
        double aw = t[4], ah = t[5];
        double dc[4];
        ciou = jp_ciou(2 * sx - 0.5, 2 * sy - 0.5, 4 * sw * sw * aw, 4 * sh * sh * ah, t[0], t[1], t[2], t[3], dc);
        sums[0] += d->box_scale * (1 - ciou);
        double kb = -(double)d->box_scale;
        grad[base] += (float)(kb * dc[0] * 2 * sx * (1 - sx));
        grad[base + cs] += (float)(kb * dc[1] * 2 * sy * (1 - sy));
        grad[base + 2 * cs] += (float)(kb * dc[2] * 8 * sw * sw * (1 - sw) * aw);
        grad[base + 3 * cs] += (float)(kb * dc[3] * 8 * sh * sh * (1 - sh) * ah);
        if (d->cls_scale != 0.f) {
            const int cls = (int)t[6];
            for (int c = 0; c < nc; c++) {
                const int64_t i = base + (5 + c) * cs;
                double x = out[i], y = c == cls ? d->cls_pos : d->cls_neg;
                sums[2] += d->cls_scale * (y * jp_softplus_d(-x) + (1 - y) * jp_softplus_d(x));
                grad[i] += (float)(d->cls_scale * (jp_sigmoid_d(x) - y));
            }
        }
    }
    /* the last match of the group writes the objectness target (indexing assignment: last wins);
     * BCE(x, t) - BCE(x, 0) = -t x, and the gradient moves by -t */
    double tobj = ciou > 0 ? ciou : 0, xo = out[base + 4 * cs];
    sums[1] += d->obj_scale * (-tobj * xo);
    grad[base + 4 * cs] += (float)(-(double)d->obj_scale * tobj);
}

#endif
