/* conv2d for the CPU backend: dense fwd / bwd-data / bwd-filter as im2col + SGEMM (1x1 stride-1
 * convolutions skip im2col), channel-sparse conv on the listed channels only, and weight-sparse
 * (CSR) conv computed directly from the nonzeros.
 *
 * Version log (bench rows "conv2d", "conv2d_cs", "conv2d_csr"):
 *  v1 direct 7-loop conv (the Java reference, ReferenceKernels.conv2dFwd).
 *  v2 im2col + jp_sgemm_core per image and group; threads inside the GEMM and im2col.
 *  v3 channel-sparse: im2col over the active input channels only and the gathered weight block,
 *     so the GEMM shrinks to n_out x (n_in*R*S); work scales with kept_in * kept_out.
 *  v4 CSR: per (image, output channel) the output plane stays in L1/L2 while each nonzero adds a
 *     shifted input row (an axpy), no im2col; inner axpy compiled per ISA. Kept for stride > 1.
 *  v5 CSR, stride 1: "shifted plane". With the input zero-padded to Hp x Wp, output (oh, ow) of tap
 *     (r, s) reads xp[(oh + r*dh) * Wp + ow + s*dw], so computing the output on an Ho x Wp grid
 *     (Wp - Wo extra columns, dropped at the end) makes each nonzero ONE contiguous axpy over the
 *     whole plane instead of Ho short ones: 2-7x faster than v4 on 20x20..80x80 planes.
 *  v6 stride 1, groups 1, AVX-512 (AVX2 since v7): indirect convolution, for dense and channel-sparse forward and for
 *     backward-data (a stride-1 conv of dy with the rotated, transposed weights). The same padded-
 *     plane view makes im2col row (c, r, s) a pointer into the padded input, so the GEMM reads B
 *     through a row-pointer table (jp_igemm) and neither im2col nor B packing happens: only
 *     the small weight matrix is packed. This is what lets the work shrink with the kept channels
 *     (v3 spent most of its time moving im2col data, which shrank only with the input channels).
 *  v7 the indirect GEMMs on AVX2 too (6x16 tiles, maskload for partial strips): on an AVX2-only
 *     EPYC, training yolov5n went from im2col to this path.
 *  v8 stride 2 on the indirect path too (forward and backward-filter): the padded input is split into
 *     2x2 phase planes (one pass over it, no 9x im2col copy), in which every tap is a stride-1 shift.
 *     Backward-data of a strided conv stays on im2col + col2im.
 *  v9 images in parallel: a training batch is split into one range of images per thread, and each
 *     thread runs its images' GEMMs single-threaded (see BATCH_RANGES); backward-filter sums per range
 *     and adds the ranges in order. Batches smaller than the thread count keep the threads inside the GEMM.
 *  v10 1x1 convs on planes up to 20x20: the images of a range side by side in one GEMM (pointwise_small).
 *  v11 inference epilogue (jp_conv2d_fwd_act): the activation runs over each image's output rows right
 *     after its GEMM, on the thread that wrote them, instead of as a separate pass over the whole batch
 *     once it has left the caches (an epilogue struct, jp_conv_epi, carries bias and activation).
 *     Measured (bench serve section, YOLOv5n/s 320/640, 2 cores): 0.91-1.03x of conv + act_fwd, so the
 *     Detector does not fuse on the CPU: SiLU costs its arithmetic (exp, divide), not the memory pass.
 *  v12 one image on the whole team (batch 1): one parallel region per conv (indirect_image) instead of
 *     five (planes, bias fill, a GEMM with a barrier per K block, copy-out, activation); the threads pad
 *     their share of the channels and pack their share of the weights, meet once, and carry their own
 *     range of GEMM tiles from the bias fill to the epilogue (jp_igemm_tiles). Same sums, same bits.
 *  v13 inference with weights packed once (jp_conv2d_pack / jp_conv2d_fwd_packed, the Detector's folded
 *     convs): no packing per call, and then the indirect GEMM also takes the 1x1 convs the packed SGEMM
 *     had (k >= 192; batched images above 10x10). Training's paths and bits are unchanged. */
#include "cpu.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define JP_MAX_RANGES 256 /* most threads a batch is split over (per-range partial sums) */
#define NOMEM(fn) jp_fail(JP_ERR_NO_MEMORY, fn, "out of memory for scratch buffers")

static inline int floordiv(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
static inline int ceildiv(int a, int b) { return -floordiv(-a, b); }

/* [lo, hi): the v in [0, n) with stride*v + off inside [0, len) */
static inline void valid_range(int off, int stride, int len, int n, int *lo, int *hi) {
    *lo = ceildiv(-off, stride);
    *hi = floordiv(len - 1 - off, stride) + 1;
    if (*lo < 0) *lo = 0;
    if (*hi > n) *hi = n;
    if (*hi < *lo) *hi = *lo;
}

/* output columns [lo, hi) whose input column ow*sw - pw + s*dw lies inside [0, W) */
static inline void valid_cols(const jp_conv2d_desc *d, int s, int wo, int *lo, int *hi) {
    valid_range(s * d->dil_w - d->pad_w, d->stride_w, d->w, wo, lo, hi);
}

void jp_im2col(const jp_conv2d_desc *d, const float *x, const int32_t *idx, int n_ch, float *col, int threads) {
    const int R = d->r, S = d->s, H = d->h, W = d->w, ho = jp_conv_out_h(d), wo = jp_conv_out_w(d);
    const size_t P = (size_t)ho * wo;
#pragma omp parallel for collapse(2) num_threads(threads) if (threads > 1 && (size_t)n_ch * R * S * P > 32768) schedule(static)
    for (int j = 0; j < n_ch; j++)
        for (int rs = 0; rs < R * S; rs++) {
            int r = rs / S, s = rs % S, lo, hi;
            const float *xc = x + (size_t)(idx ? idx[j] : j) * H * W;
            float *dst = col + ((size_t)j * R * S + rs) * P;
            valid_cols(d, s, wo, &lo, &hi);
            int off = s * d->dil_w - d->pad_w;
            for (int oh = 0; oh < ho; oh++) {
                float *drow = dst + (size_t)oh * wo;
                int ih = oh * d->stride_h - d->pad_h + r * d->dil_h;
                if (ih < 0 || ih >= H) { memset(drow, 0, (size_t)wo * sizeof(float)); continue; }
                const float *xrow = xc + (size_t)ih * W + off;
                for (int ow = 0; ow < lo; ow++) drow[ow] = 0.f;
                if (d->stride_w == 1) memcpy(drow + lo, xrow + lo, (size_t)(hi - lo) * sizeof(float));
                else for (int ow = lo; ow < hi; ow++) drow[ow] = xrow[(size_t)ow * d->stride_w];
                for (int ow = hi; ow < wo; ow++) drow[ow] = 0.f;
            }
        }
}

/* dx[idx[j]] += col2im(col); each channel j is written by one thread only */
void jp_col2im(const jp_conv2d_desc *d, const float *col, const int32_t *idx, int n_ch, float *dx, int threads) {
    const int R = d->r, S = d->s, H = d->h, W = d->w, ho = jp_conv_out_h(d), wo = jp_conv_out_w(d);
    const size_t P = (size_t)ho * wo;
#pragma omp parallel for num_threads(threads) if (threads > 1 && (size_t)n_ch * R * S * P > 32768) schedule(static)
    for (int j = 0; j < n_ch; j++) {
        float *xc = dx + (size_t)(idx ? idx[j] : j) * H * W;
        for (int rs = 0; rs < R * S; rs++) {
            int r = rs / S, s = rs % S, lo, hi;
            const float *src = col + ((size_t)j * R * S + rs) * P;
            valid_cols(d, s, wo, &lo, &hi);
            int off = s * d->dil_w - d->pad_w;
            for (int oh = 0; oh < ho; oh++) {
                int ih = oh * d->stride_h - d->pad_h + r * d->dil_h;
                if (ih < 0 || ih >= H) continue;
                float *xrow = xc + (size_t)ih * W + off;
                const float *srow = src + (size_t)oh * wo;
                if (d->stride_w == 1) for (int ow = lo; ow < hi; ow++) xrow[ow] += srow[ow];
                else for (int ow = lo; ow < hi; ow++) xrow[(size_t)ow * d->stride_w] += srow[ow];
            }
        }
    }
}

/* dst[i] = src plane idx[i] (or i) of H x W, zero-padded by ph rows and pw columns to (H+2ph) x (W+2pw) */
static void pad_planes(int nt, float *dst, const float *src, const int32_t *idx, int n, int H, int W, int ph, int pw) {
    const int Wp = W + 2 * pw;
    const size_t plane = (size_t)(H + 2 * ph) * Wp;
    JP_PARFOR(nt, n, (int64_t)n * (int64_t)plane, i, {
        float *d = dst + i * plane;
        const float *s = src + (size_t)(idx ? idx[i] : i) * H * W;
        memset(d, 0, (size_t)ph * Wp * sizeof(float));
        for (int h = 0; h < H; h++) {
            float *row = d + (size_t)(h + ph) * Wp;
            memset(row, 0, (size_t)pw * sizeof(float));
            memcpy(row + pw, s + (size_t)h * W, (size_t)W * sizeof(float));
            memset(row + pw + W, 0, (size_t)pw * sizeof(float));
        }
        memset(d + (size_t)(H + ph) * Wp, 0, (size_t)ph * Wp * sizeof(float));
    });
}

/* row[v] = srow[sw*v + off] where that lies in [0, W), else 0, for v < Wq; the copy without a bounds
 * test per element (and with sw = 2 a constant stride the compiler vectorises) */
JP_CLONES static void phase_row(float *restrict row, const float *restrict srow, int Wq, int W, int sw, int off) {
    int lo, hi;
    valid_range(off, sw, W, Wq, &lo, &hi);
    for (int v = 0; v < lo; v++) row[v] = 0.f;
    if (sw == 2) for (int v = lo; v < hi; v++) row[v] = srow[2 * v + off];
    else for (int v = lo; v < hi; v++) row[v] = srow[sw * v + off];
    for (int v = hi; v < Wq; v++) row[v] = 0.f;
}

/* Strided convolutions read the padded input xpad (Hp x Wp) at (sh*oh + r*dh, sw*ow + s*dw). Split
 * into sh x sw phase planes, Q_ab[u][v] = xpad[sh*u + a][sw*v + b] (each Hq x Wq, zero outside), that
 * read is Q_{(r*dh)%sh, (s*dw)%sw}[oh + (r*dh)/sh][ow + (s*dw)/sw]: a stride-1 access, so the
 * shifted-plane row pointers of the stride-1 path work unchanged (v8). dst planes are ordered
 * [channel][a][b]; for sh = sw = 1 this is pad_planes. */
static void phase_planes(int nt, float *dst, const float *src, const int32_t *idx, int n, int H, int W, int ph, int pw,
                         int sh, int sw, int Hq, int Wq) {
    if (sh == 1 && sw == 1) {
        pad_planes(nt, dst, src, idx, n, H, W, ph, pw);
        return;
    }
    const size_t plane = (size_t)Hq * Wq;
    const int64_t planes = (int64_t)n * sh * sw;
    JP_PARFOR(nt, planes, planes * (int64_t)plane, q, {
        const int i = (int)(q / (sh * sw)), a = (int)(q / sw % sh), b = (int)(q % sw);
        const float *s = src + (size_t)(idx ? idx[i] : i) * H * W;
        float *d = dst + (size_t)q * plane;
        for (int u = 0; u < Hq; u++) {
            float *row = d + (size_t)u * Wq;
            const int h = sh * u + a - ph;
            if (h < 0 || h >= H) { memset(row, 0, (size_t)Wq * sizeof(float)); continue; }
            phase_row(row, s + (size_t)h * W, Wq, W, sw, b - pw);
        }
    });
}

/* row pointers of the implicit im2col matrix: row (i, r, s) = phase plane of input i shifted by the tap */
static void tap_rows(const float **brow, const float *xp, int n_in, int R, int S, int dh, int dw, int sh, int sw, int Wq, size_t plane) {
    for (int i = 0; i < n_in; i++)
        for (int r = 0; r < R; r++)
            for (int s = 0; s < S; s++) {
                const int vr = r * dh, vs = s * dw;
                brow[(i * R + r) * S + s] = xp + ((size_t)(i * sh + vr % sh) * sw + vs % sw) * plane + (size_t)(vr / sh) * Wq + vs / sw;
            }
}

static void zero_unlisted(float *y, int channels, const int32_t *idx, int n_idx, size_t plane);

/* ---------------- v6/v8: indirect convolution (stride 1; stride 2 through phase planes) ---------------- */

/* m: rows of the GEMM (output channels computed). A 1x1 conv with many of them reuses each packed B
 * panel often enough that the packed GEMM wins (measured: 256->256 @20x20, 1.33 vs 1.9 ms). */
static int use_indirect_m(const jp_conv2d_desc *d, int m) {
    int pointwise = d->r == 1 && d->s == 1 && d->pad_h == 0 && d->pad_w == 0;
    const int s1 = d->stride_h == 1 && d->stride_w == 1, s2 = d->stride_h <= 2 && d->stride_w <= 2;
    return jp_igemm_supported() && s2 && d->groups == 1 && !(pointwise && (m >= 192 || !s1));
}
#define use_indirect(d) use_indirect_m(d, (d)->k)

/* With the weights packed once (jp_conv2d_fwd_packed) the indirect GEMM packs nothing per call, and the
 * cut above goes: it beats the packed SGEMM for 1x1 convs of every width (2x2 cores, batch 1: 1.2-2.3x
 * at 10x10..40x40 with 256-1024 channels; batch 16: 1.2-1.5x at 20x20; images side by side still win
 * at 10x10, 1.1x). Training keeps the cut (and its bits). */
#define PACKED_PW_SMALL_PLANE 100
static int use_indirect_packed(const jp_conv2d_desc *d) { return use_indirect_m(d, 0); }

/* ---------------- v9: images in parallel ----------------
 * With a batch of at least one image per thread (and an even enough split), each thread takes a
 * contiguous range of images and runs their GEMMs single-threaded: no fork/join per image and per
 * GEMM, each thread's planes stay in its own L2, and small planes no longer split unevenly (a 5x5
 * output is 35 columns = 3 strips of 16, which two threads inside one GEMM shared 2:1). Smaller
 * batches (inference, batch 1) keep the threads inside each image's GEMM. */
static int batch_threads(int nt, int N) {
    if (nt > JP_MAX_RANGES) nt = JP_MAX_RANGES; /* so every range has a slot in part[] below */
    return nt > 1 && N >= nt && (N % nt == 0 || N >= 4 * nt) ? nt : 1;
}

/* Runs body with images [n0, n1) and `it` threads for the work inside an image: the whole batch with
 * nt threads inside, or (batch_threads > 1) one range of images per iteration with it = 1; `t` is the
 * range's index (0..ranges-1). The partition comes from the team size the caller asked for (want =
 * jp_team_want) and N only, never from the adaptive limit, so per-range partial sums and therefore
 * results do not depend on how many threads actually run (a busy machine that lowers the limit
 * mid-training must not change the weights); nt threads (fewer, when the limit is lower) take the
 * ranges in static order. Ranges <= JP_MAX_RANGES, since batch_threads caps the partition. */
#define BATCH_RANGES(want, nt, N, ranges, t, n0, n1, it, ...)                                         \
    do {                                                                                           \
        const int jp_br_ = batch_threads((want), (N));                                            \
        const int jp_bt_ = (nt) < jp_br_ ? (nt) : jp_br_;                                          \
        if (jp_br_ > 1) {                                                                          \
            const int64_t jp_t0_ = jp_now_ns();                                                    \
            _Pragma("omp parallel num_threads(jp_bt_) if (jp_bt_ > 1)")                            \
            {                                                                                      \
                JP_TEAM_ARRIVE(jp_t0_);                                                            \
                _Pragma("omp for schedule(static)")                                                \
                for (int t = 0; t < jp_br_; t++) {                                                 \
                    const int ranges = jp_br_, it = 1;                                             \
                    const int n0 = (int)((int64_t)(N) * t / ranges), n1 = (int)((int64_t)(N) * (t + 1) / ranges); \
                    (void)ranges; (void)it;                                                        \
                    __VA_ARGS__                                                                    \
                }                                                                                  \
            }                                                                                      \
        } else {                                                                                   \
            const int t = 0, ranges = 1, n0 = 0, n1 = (N), it = (nt);                              \
            (void)t; (void)ranges; (void)it;                                                       \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    } while (0)

/* Per-range partial sums of a batch: `ranges` blocks of `size` floats in the calling thread's scratch
 * slot 3 (the workers never touch that slot), so a thread that runs two ranges keeps both. */
static float *range_parts(int ranges, size_t size) { return ranges > 1 ? jp_scratch(3, (size_t)ranges * size + 1) : NULL; }

#define SET_FAIL(f) __atomic_store_n(&(f), 1, __ATOMIC_RELAXED)

/* What a forward conv does to its output after the GEMM: add the bias (nullable), then the activation
 * (JP_ACT_*; identity for training and the backward passes). */
typedef struct jp_conv_epi {
    const float *bias;
    int32_t act;
    float alpha;
} jp_conv_epi;

static const jp_conv_epi NO_EPI = {NULL, JP_ACT_IDENTITY, 0.f};

/* What conv_indirect computes besides the geometry: which channels it reads and writes, the weights
 * gathered for those lists, and the epilogue. */
typedef struct {
    const int32_t *in_idx;  /* input channels read; NULL: 0..n_in-1 */
    int n_in;
    const int32_t *out_idx; /* output channels written; NULL: 0..n_out-1 (the unlisted ones are zeroed) */
    int n_out;
    const float *wsel;      /* [n_out][n_in][r][s] */
    const jp_conv_epi *ep;
    const float *packed;    /* wsel already packed for jp_igemm (jp_conv2d_pack); NULL: pack it per call */
} jp_conv_plan;

/* The forward convolution that backward-data is: dy (k channels of the output size) convolved with
 * the rotated weights, padding dil*(r-1)-pad, stride 1 (callers take this path for stride 1 only). */
static jp_conv2d_desc bwd_data_as_fwd(const jp_conv2d_desc *d) {
    jp_conv2d_desc f = *d;
    f.c = d->k;
    f.k = d->c;
    f.h = jp_conv_out_h(d);
    f.w = jp_conv_out_w(d);
    f.pad_h = d->dil_h * (d->r - 1) - d->pad_h;
    f.pad_w = d->dil_w * (d->s - 1) - d->pad_w;
    f.stride_h = f.stride_w = 1;
    f.groups = 1;
    return f;
}

/* The GEMM columns [*q0, *q1) that the tiles [ta, tb) (tile t = js * mstrips + is) hold in row strip
 * `is`: its column strips js with ta <= js * mstrips + is < tb, NR columns each, the last cut at ext.
 * 0 when the range has no tile in that row strip. */
static int strip_cols(int64_t ta, int64_t tb, int is, int mstrips, int NR, size_t ext, size_t *q0, size_t *q1) {
    const int64_t js0 = ta - is <= 0 ? 0 : (ta - is + mstrips - 1) / mstrips, js1 = tb - is <= 0 ? 0 : (tb - is + mstrips - 1) / mstrips;
    if (js1 <= js0) return 0;
    *q0 = (size_t)js0 * NR;
    *q1 = (size_t)js1 * NR < ext ? (size_t)js1 * NR : ext;
    return 1;
}

/* One image of conv_indirect on `it` threads, in one parallel region with at most one barrier: the
 * threads pad their share of the input channels into the phase planes (xp; direct: brow points into xn
 * itself), wait for each other once, then each takes a contiguous range of the GEMM's tiles and carries
 * it from the bias fill through the GEMM to the epilogue (extra columns dropped, the activation), so no
 * thread waits for another after the planes. With `pack`, the threads also pack the weights into apk
 * (their share of its row strips) before the barrier. (It was five regions: planes, bias fill, a GEMM with a
 * barrier per K block, copy-out; at batch 1 on 2 cores a 3x3 64 -> 64 conv at 20x20 ran no faster on
 * two threads than on one.) The sums are those of one thread: each output gets bias + its K blocks in
 * order, whatever the split. */
static void indirect_image(int it, const jp_conv2d_desc *d, const jp_conv_plan *p, int pack, float *apk, const float **brow, float *xp,
                           float *yext, const float *xn, float *yn, int Hq, int Wq, int Ho, int Wo, int direct, int in_place) {
    const int H = d->h, W = d->w, ph = d->pad_h, pw = d->pad_w, sh = d->stride_h, sw = d->stride_w, yc = d->k;
    const int n_in = p->n_in, n_out = p->n_out, kdim = n_in * d->r * d->s;
    const int32_t *in_idx = p->in_idx, *out_idx = p->out_idx;
    const jp_conv_epi *ep = p->ep;
    const size_t plane = (size_t)Hq * Wq, ext = (size_t)Ho * Wq, P = (size_t)Ho * Wo, cin = (size_t)H * W;
    int MR, NR;
    jp_igemm_tile_shape(&MR, &NR);
    const int mstrips = (n_out + MR - 1) / MR;
    const int64_t tiles = (int64_t)mstrips * (int64_t)((ext + NR - 1) / NR);
    float *acc = in_place ? yn : yext;
    if (direct)
        for (int i = 0; i < n_in; i++) brow[i] = xn + (size_t)(in_idx ? in_idx[i] : i) * cin;
    if ((double)n_out * (double)ext * kdim < 2e5) it = 1; /* one thread is cheaper than waking the team */
    if (tiles < it) it = (int)tiles;
    const int64_t t0 = jp_now_ns();
#pragma omp parallel num_threads(it) if (it > 1)
    {
        JP_TEAM_ARRIVE(t0);
        const int nth = omp_get_num_threads(), id = omp_get_thread_num();
        if (!direct) {
            const int c0 = (int)((int64_t)n_in * id / nth), c1 = (int)((int64_t)n_in * (id + 1) / nth);
            if (c1 > c0)
                phase_planes(1, xp + (size_t)c0 * sh * sw * plane, in_idx ? xn : xn + (size_t)c0 * cin, in_idx ? in_idx + c0 : NULL, c1 - c0,
                             H, W, ph, pw, sh, sw, Hq, Wq);
        }
        if (pack) jp_igemm_pack_a_strips(n_out, kdim, p->wsel, kdim, apk, (int)((int64_t)mstrips * id / nth), (int)((int64_t)mstrips * (id + 1) / nth));
        if (out_idx && id == nth - 1) zero_unlisted(yn, yc, out_idx, n_out, P);
        if ((!direct || pack) && nth > 1) {
#pragma omp barrier
        }
        /* this thread's tiles: in row strip `is`, the column strips [js0, js1), so in each GEMM row one
         * contiguous range of columns, filled with the bias before and carried through the epilogue after */
        const int64_t ta = tiles * id / nth, tb = tiles * (id + 1) / nth;
        for (int is = 0; is < mstrips; is++) {
            size_t q0, q1;
            if (!strip_cols(ta, tb, is, mstrips, NR, ext, &q0, &q1)) continue;
            for (int j = is * MR, j1 = (is + 1) * MR < n_out ? (is + 1) * MR : n_out; j < j1; j++) {
                const float b = ep->bias ? ep->bias[out_idx ? out_idx[j] : j] : 0.f;
                float *row = acc + j * ext;
                for (size_t q = q0; q < q1; q++) row[q] = b;
            }
        }
        jp_igemm_tiles(n_out, (int)ext, kdim, apk, brow, acc, (int)ext, ta, tb);
        for (int is = 0; is < mstrips; is++) {
            size_t q0, q1;
            if (!strip_cols(ta, tb, is, mstrips, NR, ext, &q0, &q1)) continue;
            for (int j = is * MR, j1 = (is + 1) * MR < n_out ? (is + 1) * MR : n_out; j < j1; j++) {
                if (in_place) {
                    if (ep->act != JP_ACT_IDENTITY) jp_act_rows(ep->act, ep->alpha, yn + j * ext + q0, (int64_t)(q1 - q0));
                    continue;
                }
                const float *src = acc + j * ext;
                float *dst = yn + (size_t)(out_idx ? out_idx[j] : j) * P;
                for (size_t q = q0; q < q1;) { /* row by row of the Ho x Wq grid, the extra columns dropped */
                    const size_t oh = q / Wq, ow = q - oh * Wq, end = (oh + 1) * Wq < q1 ? (oh + 1) * Wq : q1;
                    if (ow < (size_t)Wo) {
                        const size_t len = (end < oh * Wq + Wo ? end : oh * Wq + Wo) - q;
                        memcpy(dst + oh * Wo + ow, src + q, len * sizeof(float));
                    }
                    q = end;
                }
                if (ep->act != JP_ACT_IDENTITY) { /* the rows just written: whole output rows but the range's ends */
                    const size_t oh0 = q0 / Wq, oh1 = (q1 + Wq - 1) / Wq;
                    const size_t a = oh0 * Wo + (q0 - oh0 * Wq < (size_t)Wo ? q0 - oh0 * Wq : (size_t)Wo);
                    const size_t last = q1 - (oh1 - 1) * Wq, e = (oh1 - 1) * Wo + (last < (size_t)Wo ? last : (size_t)Wo);
                    if (e > a) jp_act_rows(ep->act, ep->alpha, dst + a, (int64_t)(e - a));
                }
            }
        }
    }
}

/* y[n][out(j)] = act(bias[out(j)] + sum_{i,r,s} wsel[j][i][r][s] * x[n][in(i)][sh*oh + r*dh - ph][sw*ow + s*dw - pw]) (ep),
 * for the geometry of d (groups 1) and the channels of p. The GEMM runs over an Ho x Wq grid (Wq >=
 * Wo: the phase planes' width), whose extra columns are dropped. */
static jp_status conv_indirect(jp_ctx ctx, const char *fn, const jp_conv2d_desc *d, const jp_conv_plan *p, const float *x, float *y) {
    const int N = d->n, xc = d->c, H = d->h, W = d->w, yc = d->k, R = d->r, S = d->s, ph = d->pad_h, pw = d->pad_w;
    const int dh = d->dil_h, dw = d->dil_w, sh = d->stride_h, sw = d->stride_w;
    const int32_t *out_idx = p->out_idx;
    const int n_in = p->n_in, n_out = p->n_out;
    const float *wsel = p->wsel;
    const int Hp = H + 2 * ph, Wp = W + 2 * pw, Hq = (Hp + sh - 1) / sh, Wq = (Wp + sw - 1) / sw;
    const int Ho = (Hp - dh * (R - 1) - 1) / sh + 1, Wo = (Wp - dw * (S - 1) - 1) / sw + 1, RS = R * S, nt = jp_team(ctx);
    const size_t plane = (size_t)Hq * Wq, ext = (size_t)Ho * Wq, tail = (size_t)(S - 1) * dw + 32, P = (size_t)Ho * Wo;
    const int kdim = n_in * RS, direct = R == 1 && S == 1 && ph == 0 && pw == 0 && sh == 1 && sw == 1; /* 1x1: rows of x itself */
    /* without extra columns or an output list, the GEMM writes y itself */
    const int in_place = Wo == Wq && !out_idx;
    /* packed weights: given (jp_conv2d_fwd_packed), or packed here with images in parallel, or by the team
     * inside the first image's region */
    float *apk = p->packed ? (float *)p->packed : jp_scratch(1, jp_igemm_packed_size(n_out, kdim)); /* scratch shared; the workers use slots 2, 4, 6 */
    if (!apk) return NOMEM(fn);
    const int prepack = p->packed || batch_threads(jp_team_want(ctx), N) > 1; /* as BATCH_RANGES decides (not `ranges`: the macro's own) */
    if (prepack && !p->packed) jp_igemm_pack_a(n_out, kdim, wsel, kdim, apk);
    int fail = 0;
    BATCH_RANGES(jp_team_want(ctx), nt, N, ranges, t, n0, n1, it, {
        float *xp = direct ? NULL : jp_scratch(4, (size_t)n_in * sh * sw * plane + tail);
        float *yext = in_place ? NULL : jp_scratch(2, (size_t)n_out * ext + 1);
        const float **brow = (const float **)jp_scratch(6, (size_t)kdim * 2 + 2);
        if ((!direct && !xp) || (!in_place && !yext) || !brow) {
            SET_FAIL(fail);
        } else {
            if (!direct) {
                memset(xp + (size_t)n_in * sh * sw * plane, 0, tail * sizeof(float));
                tap_rows(brow, xp, n_in, R, S, dh, dw, sh, sw, Wq, plane);
            }
            for (int n = n0; n < n1; n++)
                indirect_image(it, d, p, !prepack && n == n0, apk, brow, xp, yext, x + (size_t)n * xc * H * W, y + (size_t)n * yc * P, Hq, Wq, Ho, Wo,
                               direct, in_place);
        }
    });
    return fail ? NOMEM(fn) : JP_OK;
}

/* dst[e] = sum over ranges r (in order) of part[r][e]: the per-thread partial gradients of a batch */
static void sum_parts(int nt, float *dst, float *const *part, int ranges, size_t n) {
    const int64_t chunks = (int64_t)((n + 4095) / 4096);
    JP_PARFOR(nt, chunks, (int64_t)n * ranges, c, {
        const size_t lo = (size_t)c * 4096, hi = lo + 4096 < n ? lo + 4096 : n;
        for (size_t e = lo; e < hi; e++) {
            float acc = part[0][e];
            for (int r = 1; r < ranges; r++) acc += part[r][e];
            dst[e] = acc;
        }
    });
}

/* Backward-filter: dW^T[(i,r,s)][j] = sum_n sum_p tap_rows(i,r,s)[p] * dy_ext_n[out(j)][p] over the
 * Ho x Wq grid (dy_ext is zero on the extra columns), i.e. col x dY^T with the rows of col read through
 * the same shifted phase-plane pointers as the forward pass. dw is [K][C][R][S]: its listed block is
 * overwritten, the rest zeroed (when lists are given). With images in parallel each range sums into
 * its own dW^T, added up in range order at the end. */
static jp_status conv_bwd_filter_indirect(jp_ctx ctx, const char *fn, const jp_conv2d_desc *d, float *dw, const float *dy,
                                          const float *x, const int32_t *in_idx, int n_in, const int32_t *out_idx, int n_out) {
    const int H = d->h, W = d->w, R = d->r, S = d->s, ph = d->pad_h, pw = d->pad_w, dh = d->dil_h, dwl = d->dil_w, RS = R * S;
    const int sh = d->stride_h, sw = d->stride_w, Hq = (H + 2 * ph + sh - 1) / sh, Wq = (W + 2 * pw + sw - 1) / sw;
    const int Ho = jp_conv_out_h(d), Wo = jp_conv_out_w(d), nt = jp_team(ctx);
    const size_t plane = (size_t)Hq * Wq, ext = (size_t)Ho * Wq, tail = (size_t)(S - 1) * dwl + 32, P = (size_t)Ho * Wo;
    const int m = n_in * RS, want = jp_team_want(ctx), nr = batch_threads(want, d->n);
    float *part[JP_MAX_RANGES] = {0};
    /* the ranges' dW^T blocks (one range: a block of its own, since dw's layout differs) */
    float *parts = jp_scratch(3, (size_t)nr * m * n_out + 1);
    if (!parts) return NOMEM(fn);
    int fail = 0, nparts = 1;
    BATCH_RANGES(want, nt, d->n, ranges, t, n0, n1, it, {
        float *xp = jp_scratch(4, (size_t)n_in * sh * sw * plane + tail), *dyx = jp_scratch(2, (size_t)n_out * ext + 1);
        float *dwt = parts + (size_t)t * m * n_out;
        const float **brow = (const float **)jp_scratch(6, (size_t)m * 2 + 2);
        if (t == 0) nparts = ranges;
        part[t] = dwt;
        if (!xp || !dyx || !dwt || !brow) {
            SET_FAIL(fail);
        } else {
            memset(xp + (size_t)n_in * sh * sw * plane, 0, tail * sizeof(float));
            memset(dwt, 0, (size_t)m * n_out * sizeof(float));
            tap_rows(brow, xp, n_in, R, S, dh, dwl, sh, sw, Wq, plane);
            for (int n = n0; n < n1; n++) {
                const float *xn = x + (size_t)n * d->c * H * W, *dyn = dy + (size_t)n * d->k * P;
                phase_planes(it, xp, xn, in_idx, n_in, H, W, ph, pw, sh, sw, Hq, Wq);
                JP_PARFOR(it, n_out, (int64_t)n_out * (int64_t)ext, j, {
                    float *dst = dyx + j * ext;
                    const float *src = dyn + (size_t)(out_idx ? out_idx[j] : j) * P;
                    for (int oh = 0; oh < Ho; oh++) {
                        memcpy(dst + (size_t)oh * Wq, src + (size_t)oh * Wo, (size_t)Wo * sizeof(float));
                        memset(dst + (size_t)oh * Wq + Wo, 0, (size_t)(Wq - Wo) * sizeof(float));
                    }
                });
                if (jp_igemm_a(it, m, n_out, (int)ext, brow, dyx, (int)ext, 1, dwt, n_out)) { SET_FAIL(fail); break; }
            }
        }
    });
    if (fail) return NOMEM(fn);
    float *dwt = part[0];
    if (nparts > 1) sum_parts(nt, dwt, part, nparts, (size_t)m * n_out);
    if (out_idx || in_idx) memset(dw, 0, (size_t)d->k * d->c * RS * sizeof(float));
    for (int j = 0; j < n_out; j++)
        for (int i = 0; i < n_in; i++) {
            float *dst = dw + ((size_t)(out_idx ? out_idx[j] : j) * d->c + (in_idx ? in_idx[i] : i)) * RS;
            for (int rs = 0; rs < RS; rs++) dst[rs] = dwt[(size_t)(i * RS + rs) * n_out + j];
        }
    return JP_OK;
}

/* wr[i][j][R-1-r][S-1-s] = w[out(j)][in(i)][r][s]: the weights of backward-data as a forward conv */
static void rotate_weights(const jp_conv2d_desc *d, float *wr, const float *w, const int32_t *in_idx, int n_in,
                           const int32_t *out_idx, int n_out) {
    const int R = d->r, S = d->s, RS = R * S;
    for (int i = 0; i < n_in; i++)
        for (int j = 0; j < n_out; j++) {
            const float *src = w + ((size_t)(out_idx ? out_idx[j] : j) * d->c + (in_idx ? in_idx[i] : i)) * RS;
            float *dst = wr + ((size_t)i * n_out + j) * RS;
            for (int rs = 0; rs < RS; rs++) dst[RS - 1 - rs] = src[rs];
        }
}

/* backward-data is a stride-1 conv of dy padded by dil*(k-1) - pad, which must not be negative */
static int bwd_data_indirect(const jp_conv2d_desc *d, int m) {
    return use_indirect_m(d, m) && d->stride_h == 1 && d->stride_w == 1 && d->dil_h * (d->r - 1) >= d->pad_h
           && d->dil_w * (d->s - 1) >= d->pad_w;
}

static int is_pointwise(const jp_conv2d_desc *d) {
    return d->r == 1 && d->s == 1 && d->stride_h == 1 && d->stride_w == 1 && d->pad_h == 0 && d->pad_w == 0;
}

static void add_bias(float *y, const float *bias, const int32_t *out_idx, int n_out, size_t P) {
    for (int j = 0; j < n_out; j++) {
        float b = bias[out_idx ? out_idx[j] : j], *yr = y + (size_t)j * P;
        for (size_t p = 0; p < P; p++) yr[p] += b;
    }
}

/* the epilogue over n_out rows of P outputs (bias indexed from ep->bias + boff) */
static void apply_epi(float *y, const jp_conv_epi *ep, size_t boff, int n_out, size_t P) {
    if (ep->bias) add_bias(y, ep->bias + boff, NULL, n_out, P);
    if (ep->act != JP_ACT_IDENTITY) jp_act_rows(ep->act, ep->alpha, y, (int64_t)n_out * (int64_t)P);
}

/* ---------------- v10: pointwise convs on small planes, one GEMM per range of images ----------------
 * A 1x1 conv on a 5x5 or 10x10 plane is, per image, a GEMM with 25 or 100 columns: too few to fill the
 * 16-wide tiles (25 = 16 + 9) or to pay for the packing, and backward-filter gets a depth of 25. The
 * images of a range are gathered side by side, [C][n*P] (a copy of 1/K of the GEMM's work), and
 * multiplied at once; planes above PW_SMALL_PLANE are wide enough per image. */
#define PW_SMALL_PLANE 400
#define PW_BATCH_COLS 4096

/* with one image there is nothing to put side by side: batch-1 inference keeps the per-image paths */
static int pointwise_batched(const jp_conv2d_desc *d) {
    return is_pointwise(d) && d->groups == 1 && d->n > 1 && (size_t)d->h * d->w <= PW_SMALL_PLANE;
}

/* dst[c][i*P + p] = src[i][c][p] for i < nb: the channels of nb images side by side */
static void gather_images(float *dst, const float *src, int nb, int C, size_t P) {
    for (int c = 0; c < C; c++)
        for (int i = 0; i < nb; i++) memcpy(dst + ((size_t)c * nb + i) * P, src + ((size_t)i * C + c) * P, P * sizeof(float));
}

/* dst[i][c][p] = act(src[c][i*P + p] + bias[c]) (ep) */
static void scatter_images(float *dst, const float *src, int nb, int C, size_t P, const jp_conv_epi *ep) {
    for (int c = 0; c < C; c++)
        for (int i = 0; i < nb; i++) {
            float *o = dst + ((size_t)i * C + c) * P;
            const float *q = src + ((size_t)c * nb + i) * P;
            if (!ep->bias) memcpy(o, q, P * sizeof(float));
            else for (size_t p = 0; p < P; p++) o[p] = q[p] + ep->bias[c];
            if (ep->act != JP_ACT_IDENTITY) jp_act_rows(ep->act, ep->alpha, o, (int64_t)P);
        }
}

/* dir 0: y = act(W x + b) (ep); dir 1: dx = W^T dy; dir 2: dw = dy x^T summed over the batch (per range,
 * then the ranges in order). `a` is x (0, 2) or dy (1); `out` is y, dx or dw. */
static jp_status pointwise_small(jp_ctx ctx, const char *fn, const jp_conv2d_desc *d, int dir, float *out, const float *a,
                                 const float *b, const jp_conv_epi *ep) {
    const int C = d->c, K = d->k, nt = jp_team(ctx), N = d->n;
    const size_t P = (size_t)d->h * d->w;
    const int chunk = P == 0 || P >= PW_BATCH_COLS ? 1 : (int)(PW_BATCH_COLS / P);
    const int in_ch = dir == 1 ? K : C, out_ch = dir == 0 ? K : C;
    float *part[JP_MAX_RANGES] = {0};
    const int want = jp_team_want(ctx), nr = batch_threads(want, N);
    float *parts = dir == 2 ? range_parts(nr, (size_t)K * C) : NULL;
    if (dir == 2 && nr > 1 && !parts) return NOMEM(fn);
    int fail = 0, nparts = 1;
    BATCH_RANGES(want, nt, N, ranges, t, n0, n1, it, {
        float *as = jp_scratch(2, (size_t)in_ch * chunk * P + 1);
        float *os = jp_scratch(4, (size_t)(dir == 2 ? K : out_ch) * chunk * P + 1);
        float *acc = dir != 2 ? NULL : ranges == 1 ? out : parts + (size_t)t * K * C;
        if (t == 0) nparts = ranges;
        part[t] = acc;
        if (!as || !os || (dir == 2 && !acc)) {
            SET_FAIL(fail);
        } else {
            if (dir == 2 && n0 == n1) memset(acc, 0, (size_t)K * C * sizeof(float));
            for (int n = n0; n < n1; n += chunk) {
                const int nb = n1 - n < chunk ? n1 - n : chunk, cols = (int)(nb * P);
                int err;
                gather_images(as, a + (size_t)n * in_ch * P, nb, in_ch, P);
                if (dir == 0) {
                    err = jp_sgemm_core(it, 0, 0, K, cols, C, 1.f, b, C, as, cols, 0.f, os, cols);
                } else if (dir == 1) {
                    err = jp_sgemm_core(it, 1, 0, C, cols, K, 1.f, b, C, as, cols, 0.f, os, cols);
                } else { /* b is dy: dW[k][c] += sum_cols dy[k][col] * x[c][col] */
                    gather_images(os, b + (size_t)n * K * P, nb, K, P);
                    err = jp_sgemm_core(it, 0, 1, K, C, cols, 1.f, os, cols, as, cols, n == n0 ? 0.f : 1.f, acc, C);
                }
                if (err) { SET_FAIL(fail); break; }
                if (dir != 2) scatter_images(out + (size_t)n * out_ch * P, os, nb, out_ch, P, dir == 0 ? ep : &NO_EPI);
            }
        }
    });
    if (fail) return NOMEM(fn);
    if (dir == 2 && nparts > 1) sum_parts(nt, out, part, nparts, (size_t)K * C);
    return JP_OK;
}

/* packed: w packed for jp_igemm (jp_conv2d_pack), used where the indirect path runs; NULL: packed per call */
static jp_status conv_fwd(jp_ctx ctx, const char *fn, const jp_conv2d_desc *d, float *y, const float *x, const float *w, const jp_conv_epi *ep,
                          const float *packed) {
    if (pointwise_batched(d) && (!packed || (size_t)d->h * d->w <= PACKED_PW_SMALL_PLANE)) return pointwise_small(ctx, fn, d, 0, y, x, w, ep);
    if (packed ? use_indirect_packed(d) : use_indirect(d))
        return conv_indirect(ctx, fn, d, &(jp_conv_plan){NULL, d->c, NULL, d->k, w, ep, packed}, x, y);
    const int G = d->groups, cpg = d->c / G, kpg = d->k / G, RS = d->r * d->s, nt = jp_team(ctx);
    const size_t P = (size_t)jp_conv_out_h(d) * jp_conv_out_w(d), HW = (size_t)d->h * d->w;
    const int pw = is_pointwise(d);
    int fail = 0;
    BATCH_RANGES(jp_team_want(ctx), nt, d->n, ranges, t, n0, n1, it, {
        float *col = pw ? NULL : jp_scratch(2, (size_t)cpg * RS * P);
        if (!pw && !col) SET_FAIL(fail);
        for (int n = n0; n < n1 && (pw || col); n++)
            for (int g = 0; g < G; g++) {
                const float *xg = x + ((size_t)n * d->c + (size_t)g * cpg) * HW;
                float *yg = y + ((size_t)n * d->k + (size_t)g * kpg) * P;
                if (!pw) jp_im2col(d, xg, NULL, cpg, col, it);
                if (jp_sgemm_core(it, 0, 0, kpg, (int)P, cpg * RS, 1.f, w + (size_t)g * kpg * cpg * RS, cpg * RS,
                                  pw ? xg : col, (int)P, 0.f, yg, (int)P)) { SET_FAIL(fail); n = n1; break; }
                apply_epi(yg, ep, (size_t)g * kpg, kpg, P);
            }
    });
    return fail ? NOMEM(fn) : JP_OK;
}

CPU_OP(conv2d_fwd)(jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const float *w, const float *bias) {
    const jp_conv_epi ep = {bias, JP_ACT_IDENTITY, 0.f};
    return conv_fwd(ctx, "jp_conv2d_fwd", d, y, x, w, &ep, NULL);
}

CPU_OP(conv2d_fwd_act)(jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const float *w, const float *bias, int32_t act, float alpha) {
    const jp_conv_epi ep = {bias, act, alpha};
    return conv_fwd(ctx, "jp_conv2d_fwd_act", d, y, x, w, &ep, NULL);
}

/* ---------------- v13: weights packed once (inference) ----------------
 * The packed form is jp_igemm's packing of the [k][c*r*s] weights behind a header that names it (magic,
 * ISA, k, c*r*s), so a buffer packed for another conv or ISA is refused rather than misread. At batch 1
 * the packing was 7% of a YOLOv5s forward pass (perf, 320 px): the indirect GEMM packs its weights on
 * every call, and a Detector's weights never change. */
#define PACK_HEADER 16 /* floats: keeps the packed block 64-byte aligned */
#define PACK_MAGIC 0x4B50504A /* "JPPK" */

static int64_t packed_floats(const jp_conv2d_desc *d) {
    if (!jp_igemm_supported() || d->groups != 1) return 0;
    return PACK_HEADER + (int64_t)jp_igemm_packed_size(d->k, d->c * d->r * d->s);
}

CPU_OP(conv2d_packed_size)(jp_ctx ctx, const jp_conv2d_desc *d, int64_t *floats_host) {
    (void)ctx;
    *floats_host = packed_floats(d);
    return JP_OK;
}

CPU_OP(conv2d_pack)(jp_ctx ctx, const jp_conv2d_desc *d, float *packed, int64_t floats, const float *w) {
    static const char *fn = "jp_conv2d_pack";
    (void)ctx;
    const int64_t need = packed_floats(d);
    JP_CHECK(need > 0, fn, "this backend has no packed form for this convolution (groups %d)", d->groups);
    JP_CHECK(floats == need, fn, "packed holds %lld floats, the packed form takes %lld (jp_conv2d_packed_size)", (long long)floats, (long long)need);
    const int32_t head[4] = {PACK_MAGIC, jp_g_isa, d->k, d->c * d->r * d->s};
    memset(packed, 0, PACK_HEADER * sizeof(float));
    memcpy(packed, head, sizeof head);
    jp_igemm_pack_a(d->k, head[3], w, head[3], packed + PACK_HEADER);
    return JP_OK;
}

CPU_OP(conv2d_fwd_packed)(jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const float *w, const float *packed, int64_t floats,
                          const float *bias, int32_t act, float alpha) {
    static const char *fn = "jp_conv2d_fwd_packed";
    const int64_t need = packed_floats(d);
    int32_t head[4] = {0};
    if (need > 0 && floats == need) memcpy(head, packed, sizeof head); /* never read past a buffer that is too short */
    JP_CHECK(need > 0 && floats == need && head[0] == PACK_MAGIC && head[1] == jp_g_isa && head[2] == d->k && head[3] == d->c * d->r * d->s, fn,
             "packed (%lld floats) is not this convolution's packed form (k %d, c*r*s %d, %lld floats; jp_conv2d_pack)", (long long)floats, d->k,
             d->c * d->r * d->s, (long long)need);
    const jp_conv_epi ep = {bias, act, alpha};
    return conv_fwd(ctx, fn, d, y, x, w, &ep, packed + PACK_HEADER);
}

CPU_OP(conv2d_bwd_data)(jp_ctx ctx, const jp_conv2d_desc *d, float *dx, const float *dy, const float *w) {
    static const char *fn = "jp_conv2d_bwd_data";
    if (pointwise_batched(d)) return pointwise_small(ctx, fn, d, 1, dx, dy, w, &NO_EPI);
    if (bwd_data_indirect(d, d->c)) {
        float *wr = jp_scratch(3, (size_t)d->k * d->c * d->r * d->s);
        if (!wr) return NOMEM(fn);
        rotate_weights(d, wr, w, NULL, d->c, NULL, d->k);
        const jp_conv2d_desc f = bwd_data_as_fwd(d);
        return conv_indirect(ctx, fn, &f, &(jp_conv_plan){NULL, d->k, NULL, d->c, wr, &NO_EPI, NULL}, dy, dx);
    }
    const int G = d->groups, cpg = d->c / G, kpg = d->k / G, RS = d->r * d->s, nt = jp_team(ctx);
    const size_t P = (size_t)jp_conv_out_h(d) * jp_conv_out_w(d), HW = (size_t)d->h * d->w;
    const int pw = is_pointwise(d);
    int fail = 0;
    BATCH_RANGES(jp_team_want(ctx), nt, d->n, ranges, t, n0, n1, it, {
        float *col = pw ? NULL : jp_scratch(2, (size_t)cpg * RS * P);
        if (!pw && !col) SET_FAIL(fail);
        for (int n = n0; n < n1 && (pw || col); n++) {
            if (!pw) memset(dx + (size_t)n * d->c * HW, 0, (size_t)d->c * HW * sizeof(float));
            for (int g = 0; g < G; g++) {
                float *dxg = dx + ((size_t)n * d->c + (size_t)g * cpg) * HW;
                const float *dyg = dy + ((size_t)n * d->k + (size_t)g * kpg) * P;
                if (jp_sgemm_core(it, 1, 0, cpg * RS, (int)P, kpg, 1.f, w + (size_t)g * kpg * cpg * RS, cpg * RS,
                                  dyg, (int)P, 0.f, pw ? dxg : col, (int)P)) { SET_FAIL(fail); n = n1; break; }
                if (!pw) jp_col2im(d, col, NULL, cpg, dxg, it);
            }
        }
    });
    return fail ? NOMEM(fn) : JP_OK;
}

CPU_OP(sum_channels)(jp_ctx ctx, float *out, const float *x, int64_t outer, int64_t channels, int64_t inner);

CPU_OP(conv2d_bwd_filter)(jp_ctx ctx, const jp_conv2d_desc *d, float *dw, float *db, const float *dy, const float *x) {
    static const char *fn = "jp_conv2d_bwd_filter";
    jp_status st;
    if (pointwise_batched(d)) {
        st = pointwise_small(ctx, fn, d, 2, dw, x, dy, &NO_EPI);
        if (st || !db) return st;
        return cpu_sum_channels(ctx, db, dy, d->n, d->k, (int64_t)d->h * d->w);
    }
    if (use_indirect(d) && !is_pointwise(d)) { /* pointwise has no im2col to save: plain GEMM below */
        st = conv_bwd_filter_indirect(ctx, fn, d, dw, dy, x, NULL, d->c, NULL, d->k);
        if (st || !db) return st;
        return cpu_sum_channels(ctx, db, dy, d->n, d->k, (int64_t)jp_conv_out_h(d) * jp_conv_out_w(d));
    }
    const int G = d->groups, cpg = d->c / G, kpg = d->k / G, RS = d->r * d->s, nt = jp_team(ctx);
    const size_t P = (size_t)jp_conv_out_h(d) * jp_conv_out_w(d), HW = (size_t)d->h * d->w, wsize = (size_t)d->k * cpg * RS;
    const int pw = is_pointwise(d);
    float *part[JP_MAX_RANGES] = {0};
    const int want = jp_team_want(ctx), nr = batch_threads(want, d->n);
    float *parts = range_parts(nr, wsize);
    if (nr > 1 && !parts) return NOMEM(fn);
    int fail = 0, nparts = 1;
    BATCH_RANGES(want, nt, d->n, ranges, t, n0, n1, it, {
        float *col = pw ? NULL : jp_scratch(2, (size_t)cpg * RS * P);
        float *acc = ranges == 1 ? dw : parts + (size_t)t * wsize; /* one range writes dw itself */
        if (t == 0) nparts = ranges;
        part[t] = acc;
        if ((!pw && !col) || !acc) SET_FAIL(fail);
        else if (n0 == n1) memset(acc, 0, wsize * sizeof(float));
        else
            for (int n = n0; n < n1; n++)
                for (int g = 0; g < G; g++) {
                    const float *xg = x + ((size_t)n * d->c + (size_t)g * cpg) * HW;
                    const float *dyg = dy + ((size_t)n * d->k + (size_t)g * kpg) * P;
                    if (!pw) jp_im2col(d, xg, NULL, cpg, col, it);
                    if (jp_sgemm_core(it, 0, 1, kpg, cpg * RS, (int)P, 1.f, dyg, (int)P, pw ? xg : col, (int)P,
                                      n == n0 ? 0.f : 1.f, acc + (size_t)g * kpg * cpg * RS, cpg * RS)) { SET_FAIL(fail); n = n1; break; }
                }
    });
    if (fail) return NOMEM(fn);
    if (nparts > 1) sum_parts(nt, dw, part, nparts, wsize);
    if (db) return cpu_sum_channels(ctx, db, dy, d->n, d->k, (int64_t)P);
    return JP_OK;
}

/* ---------------- channel-sparse conv ---------------- */

/* the dispatcher checked the descriptor, the counts and the pointers; the index values are read here */
static jp_status check_cs(const char *fn, const jp_conv2d_desc *d, const int32_t *in_idx, int32_t n_in,
                          const int32_t *out_idx, int32_t n_out) {
    jp_status st = jp_check_index_values(fn, "in_idx", in_idx, n_in, d->c);
    return st ? st : jp_check_index_values(fn, "out_idx", out_idx, n_out, d->k);
}

/* ws[j][i][rs] = w[out_idx[j]][in_idx[i]][rs] */
static void gather_weights(const jp_conv2d_desc *d, float *ws, const float *w, const int32_t *in_idx, int n_in,
                           const int32_t *out_idx, int n_out) {
    const int RS = d->r * d->s;
    for (int j = 0; j < n_out; j++)
        for (int i = 0; i < n_in; i++)
            memcpy(ws + ((size_t)j * n_in + i) * RS, w + ((size_t)out_idx[j] * d->c + in_idx[i]) * RS, (size_t)RS * sizeof(float));
}

/* zero the planes of y (channels total) that are not listed */
static void zero_unlisted(float *y, int channels, const int32_t *idx, int n_idx, size_t plane) {
    int j = 0;
    for (int c = 0; c < channels; c++) {
        if (j < n_idx && idx[j] == c) { j++; continue; }
        memset(y + (size_t)c * plane, 0, plane * sizeof(float));
    }
}

CPU_OP(conv2d_cs_fwd)(jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const float *w, const float *bias,
                      const int32_t *in_idx, int32_t n_in, const int32_t *out_idx, int32_t n_out) {
    static const char *fn = "jp_conv2d_cs_fwd";
    jp_status st = check_cs(fn, d, in_idx, n_in, out_idx, n_out);
    if (st) return st;
    const int RS = d->r * d->s, nt = jp_team(ctx);
    const size_t P = (size_t)jp_conv_out_h(d) * jp_conv_out_w(d), HW = (size_t)d->h * d->w;
    if (use_indirect_m(d, n_out)) {
        float *wsel = jp_scratch(3, (size_t)n_out * n_in * RS + 1);
        if (!wsel) return NOMEM(fn);
        gather_weights(d, wsel, w, in_idx, n_in, out_idx, n_out);
        return conv_indirect(ctx, fn, d, &(jp_conv_plan){in_idx, n_in, out_idx, n_out, wsel, &(jp_conv_epi){bias, JP_ACT_IDENTITY, 0.f}, NULL}, x, y);
    }
    float *col = jp_scratch(2, (size_t)n_in * RS * P), *ws = jp_scratch(3, (size_t)n_out * n_in * RS),
          *ys = jp_scratch(4, (size_t)n_out * P);
    if (!col || !ws || !ys) return NOMEM(fn);
    gather_weights(d, ws, w, in_idx, n_in, out_idx, n_out);
    for (int n = 0; n < d->n; n++) {
        float *yn = y + (size_t)n * d->k * P;
        zero_unlisted(yn, d->k, out_idx, n_out, P);
        if (n_out == 0) continue;
        jp_im2col(d, x + (size_t)n * d->c * HW, in_idx, n_in, col, nt);
        if (jp_sgemm_core(nt, 0, 0, n_out, (int)P, n_in * RS, 1.f, ws, n_in * RS, col, (int)P, 0.f, ys, (int)P))
            return NOMEM(fn);
        for (int j = 0; j < n_out; j++) memcpy(yn + (size_t)out_idx[j] * P, ys + (size_t)j * P, P * sizeof(float));
        if (bias) for (int j = 0; j < n_out; j++) add_bias(yn + (size_t)out_idx[j] * P, bias + out_idx[j], NULL, 1, P);
    }
    return JP_OK;
}

CPU_OP(conv2d_cs_bwd_data)(jp_ctx ctx, const jp_conv2d_desc *d, float *dx, const float *dy, const float *w,
                           const int32_t *in_idx, int32_t n_in, const int32_t *out_idx, int32_t n_out) {
    static const char *fn = "jp_conv2d_cs_bwd_data";
    jp_status st = check_cs(fn, d, in_idx, n_in, out_idx, n_out);
    if (st) return st;
    const int RS = d->r * d->s, nt = jp_team(ctx);
    const size_t P = (size_t)jp_conv_out_h(d) * jp_conv_out_w(d), HW = (size_t)d->h * d->w;
    if (bwd_data_indirect(d, n_in)) {
        float *wr = jp_scratch(3, (size_t)n_out * n_in * RS + 1);
        if (!wr) return NOMEM(fn);
        rotate_weights(d, wr, w, in_idx, n_in, out_idx, n_out);
        const jp_conv2d_desc f = bwd_data_as_fwd(d);
        return conv_indirect(ctx, fn, &f, &(jp_conv_plan){out_idx, n_out, in_idx, n_in, wr, &NO_EPI, NULL}, dy, dx);
    }
    float *col = jp_scratch(2, (size_t)n_in * RS * P), *ws = jp_scratch(3, (size_t)n_out * n_in * RS),
          *dys = jp_scratch(4, (size_t)n_out * P);
    if (!col || !ws || !dys) return NOMEM(fn);
    gather_weights(d, ws, w, in_idx, n_in, out_idx, n_out);
    memset(dx, 0, (size_t)d->n * d->c * HW * sizeof(float));
    if (n_in == 0 || n_out == 0) return JP_OK;
    for (int n = 0; n < d->n; n++) {
        const float *dyn = dy + (size_t)n * d->k * P;
        for (int j = 0; j < n_out; j++) memcpy(dys + (size_t)j * P, dyn + (size_t)out_idx[j] * P, P * sizeof(float));
        if (jp_sgemm_core(nt, 1, 0, n_in * RS, (int)P, n_out, 1.f, ws, n_in * RS, dys, (int)P, 0.f, col, (int)P))
            return NOMEM(fn);
        jp_col2im(d, col, in_idx, n_in, dx + (size_t)n * d->c * HW, nt);
    }
    return JP_OK;
}

/* db[out_idx[j]] = sum of dy over images and pixels; unlisted entries 0 */
static void cs_bias_grad(const jp_conv2d_desc *d, float *db, const float *dy, const int32_t *out_idx, int n_out, size_t P) {
    memset(db, 0, (size_t)d->k * sizeof(float));
    for (int j = 0; j < n_out; j++) {
        double acc = 0;
        for (int n = 0; n < d->n; n++) acc += jp_sum_f(dy + ((size_t)n * d->k + out_idx[j]) * P, (int64_t)P);
        db[out_idx[j]] = (float)acc;
    }
}

CPU_OP(conv2d_cs_bwd_filter)(jp_ctx ctx, const jp_conv2d_desc *d, float *dw, float *db, const float *dy, const float *x,
                             const int32_t *in_idx, int32_t n_in, const int32_t *out_idx, int32_t n_out) {
    static const char *fn = "jp_conv2d_cs_bwd_filter";
    jp_status st = check_cs(fn, d, in_idx, n_in, out_idx, n_out);
    if (st) return st;
    const int RS = d->r * d->s, nt = jp_team(ctx);
    const size_t P = (size_t)jp_conv_out_h(d) * jp_conv_out_w(d), HW = (size_t)d->h * d->w;
    if (db) cs_bias_grad(d, db, dy, out_idx, n_out, P);
    if (use_indirect_m(d, n_out) && !is_pointwise(d)) {
        if (n_in > 0 && n_out > 0) return conv_bwd_filter_indirect(ctx, fn, d, dw, dy, x, in_idx, n_in, out_idx, n_out);
        memset(dw, 0, (size_t)d->k * d->c * RS * sizeof(float));
        return JP_OK;
    }
    float *col = jp_scratch(2, (size_t)n_in * RS * P), *dws = jp_scratch(3, (size_t)n_out * n_in * RS),
          *dys = jp_scratch(4, (size_t)n_out * P);
    if (!col || !dws || !dys) return NOMEM(fn);
    memset(dw, 0, (size_t)d->k * d->c * RS * sizeof(float));
    if (n_out == 0) return JP_OK;
    for (int n = 0; n < d->n; n++) {
        const float *dyn = dy + (size_t)n * d->k * P;
        for (int j = 0; j < n_out; j++) memcpy(dys + (size_t)j * P, dyn + (size_t)out_idx[j] * P, P * sizeof(float));
        if (n_in == 0) continue;
        jp_im2col(d, x + (size_t)n * d->c * HW, in_idx, n_in, col, nt);
        if (jp_sgemm_core(nt, 0, 1, n_out, n_in * RS, (int)P, 1.f, dys, (int)P, col, (int)P, n == 0 ? 0.f : 1.f, dws, n_in * RS))
            return NOMEM(fn);
    }
    for (int j = 0; j < n_out && n_in > 0; j++)
        for (int i = 0; i < n_in; i++)
            memcpy(dw + ((size_t)out_idx[j] * d->c + in_idx[i]) * RS, dws + ((size_t)j * n_in + i) * RS, (size_t)RS * sizeof(float));
    return JP_OK;
}

/* ---------------- weight-sparse (CSR) conv ---------------- */

CPU_OP(csr_count)(jp_ctx ctx, int64_t *nnz, const float *dense, int32_t rows, int32_t cols, float threshold) {
    int64_t total = 0;
    const size_t n = (size_t)rows * cols;
    const int team = jp_team(ctx);
#pragma omp parallel for reduction(+ : total) num_threads(team) if (team > 1 && n > 65536)
    for (size_t i = 0; i < n; i++) total += dense[i] > threshold || dense[i] < -threshold;
    *nnz = total;
    return JP_OK;
}

CPU_OP(csr_from_dense)(jp_ctx ctx, int32_t *row_ptr, int32_t *col_idx, float *values, const float *dense,
                       int32_t rows, int32_t cols, float threshold) {
    static const char *fn = "jp_csr_from_dense";
    (void)ctx;
    int64_t nz = 0;
    row_ptr[0] = 0;
    for (int r = 0; r < rows; r++) {
        const float *src = dense + (size_t)r * cols;
        for (int c = 0; c < cols; c++)
            if (src[c] > threshold || src[c] < -threshold) {
                JP_CHECK(col_idx && values, fn, "col_idx or values is NULL but the matrix has nonzeros");
                col_idx[nz] = c;
                values[nz] = src[c];
                nz++;
            }
        JP_CHECK(nz <= INT32_MAX, fn, "more than 2^31-1 nonzeros");
        row_ptr[r + 1] = (int32_t)nz;
    }
    return JP_OK;
}

/* y[ow] += v * x[ow * stride] for ow in [lo, hi); one body, compiled for each ISA */
#define AXPY_ROW_BODY                                                                  \
    if (stride == 1) for (int ow = lo; ow < hi; ow++) y[ow] += v * x[ow];              \
    else for (int ow = lo; ow < hi; ow++) y[ow] += v * x[(size_t)ow * stride];
static void axpy_row_scalar(float *restrict y, const float *restrict x, float v, int lo, int hi, int stride) { AXPY_ROW_BODY }
__attribute__((target("avx2,fma"))) static void axpy_row_avx2(float *restrict y, const float *restrict x, float v, int lo, int hi, int stride) { AXPY_ROW_BODY }
__attribute__((target("avx512f"))) static void axpy_row_avx512(float *restrict y, const float *restrict x, float v, int lo, int hi, int stride) { AXPY_ROW_BODY }

typedef void (*axpy_row_fn)(float *restrict, const float *restrict, float, int, int, int);

static jp_status csr_shifted_plane(jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const int32_t *row_ptr,
                                   const int32_t *col_idx, const float *values, const float *bias, axpy_row_fn axpy_row) {
    static const char *fn = "jp_conv2d_csr_fwd";
    const int K = d->k, cpg = d->c / d->groups, kpg = K / d->groups, RS = d->r * d->s;
    const int ho = jp_conv_out_h(d), wo = jp_conv_out_w(d), H = d->h, W = d->w;
    const int Hp = H + 2 * d->pad_h, Wp = W + 2 * d->pad_w;
    const size_t plane = (size_t)Hp * Wp, ext = (size_t)ho * Wp;
    const int copy = !(d->r == 1 && d->s == 1 && d->pad_h == 0 && d->pad_w == 0);
    /* the padded input of every image, plus a tail: extra columns may read past the last plane */
    float *xp = copy ? jp_scratch(4, (size_t)d->n * d->c * plane + Wp + (size_t)d->s * d->dil_w) : (float *)x;
    if (!xp) return jp_fail(JP_ERR_NO_MEMORY, fn, "out of memory for the padded input");
    if (copy) {
        pad_planes(jp_team(ctx), xp, x, NULL, d->n * d->c, H, W, d->pad_h, d->pad_w);
        memset(xp + (size_t)d->n * d->c * plane, 0, ((size_t)Wp + (size_t)d->s * d->dil_w) * sizeof(float));
    }
    int failed = 0;
    const int team = jp_team(ctx);
#pragma omp parallel num_threads(team) if (team > 1)
    {
        float *acc = jp_scratch(5, ext);
        if (!acc) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for collapse(2) schedule(dynamic, 1)
        for (int n = 0; n < d->n; n++)
            for (int k = 0; k < K; k++) {
                if (!acc) continue;
                const float b = bias ? bias[k] : 0.f;
                for (size_t p = 0; p < ext; p++) acc[p] = b;
                const float *xn = xp + ((size_t)n * d->c + (size_t)(k / kpg) * cpg) * plane;
                for (int32_t j = row_ptr[k]; j < row_ptr[k + 1]; j++) {
                    int cl = col_idx[j] / RS, rs = col_idx[j] % RS, r = rs / d->s, s = rs % d->s;
                    axpy_row(acc, xn + (size_t)cl * plane + (size_t)r * d->dil_h * Wp + (size_t)s * d->dil_w, values[j], 0, (int)ext, 1);
                }
                float *yo = y + ((size_t)n * K + k) * ho * wo;
                for (int oh = 0; oh < ho; oh++) memcpy(yo + (size_t)oh * wo, acc + (size_t)oh * Wp, (size_t)wo * sizeof(float));
            }
    }
    return failed ? jp_fail(JP_ERR_NO_MEMORY, fn, "out of memory for per-thread accumulators") : JP_OK;
}

CPU_OP(conv2d_csr_fwd)(jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const int32_t *row_ptr,
                       const int32_t *col_idx, const float *values, const float *bias) {
    static const char *fn = "jp_conv2d_csr_fwd";
    const int K = d->k, cpg = d->c / d->groups, kpg = K / d->groups, RS = d->r * d->s, cols = cpg * RS;
    const int ho = jp_conv_out_h(d), wo = jp_conv_out_w(d), H = d->h, W = d->w;
    const size_t P = (size_t)ho * wo, HW = (size_t)H * W;
    JP_CHECK(row_ptr[0] == 0, fn, "row_ptr[0] = %d, expected 0", row_ptr[0]);
    for (int k = 0; k < K; k++) JP_CHECK(row_ptr[k + 1] >= row_ptr[k], fn, "row_ptr decreases at row %d", k);
    const int32_t nnz = row_ptr[K];
    JP_CHECK(nnz == 0 || (col_idx && values), fn, "col_idx or values is NULL with %d nonzeros", nnz);
    for (int32_t j = 0; j < nnz; j++) JP_CHECK(col_idx[j] >= 0 && col_idx[j] < cols, fn, "col_idx[%d] = %d outside [0, %d)", j, col_idx[j], cols);
    axpy_row_fn axpy_row = jp_g_isa == JP_ISA_AVX512 ? axpy_row_avx512 : jp_g_isa == JP_ISA_AVX2 ? axpy_row_avx2 : axpy_row_scalar;
    if (d->stride_h == 1 && d->stride_w == 1) return csr_shifted_plane(ctx, d, y, x, row_ptr, col_idx, values, bias, axpy_row);
    const int team = jp_team(ctx);
#pragma omp parallel for collapse(2) schedule(dynamic, 1) num_threads(team) if (team > 1)
    for (int n = 0; n < d->n; n++)
        for (int k = 0; k < K; k++) {
            float *yo = y + ((size_t)n * K + k) * P;
            float b = bias ? bias[k] : 0.f;
            for (size_t p = 0; p < P; p++) yo[p] = b;
            const int g = k / kpg;
            for (int32_t j = row_ptr[k]; j < row_ptr[k + 1]; j++) {
                int cl = col_idx[j] / RS, rs = col_idx[j] % RS, r = rs / d->s, s = rs % d->s, lo, hi;
                const float v = values[j];
                const float *xc = x + ((size_t)n * d->c + (size_t)g * cpg + cl) * HW;
                valid_cols(d, s, wo, &lo, &hi);
                const int off = s * d->dil_w - d->pad_w;
                for (int oh = 0; oh < ho; oh++) {
                    int ih = oh * d->stride_h - d->pad_h + r * d->dil_h;
                    if (ih < 0 || ih >= H) continue;
                    axpy_row(yo + (size_t)oh * wo, xc + (size_t)ih * W + off, v, lo, hi, d->stride_w);
                }
            }
        }
    return JP_OK;
}
