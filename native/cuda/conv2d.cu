/* conv2d.cu (the CPU's conv2d.c; conv.cu until 2026-12-02) - dense and channel-sparse convolution (forward, backward-data, backward-filter) and
 * sgemm as one implicit-GEMM kernel, plus weight-sparse (CSR) convolution and its conversion.
 *
 * Implicit GEMM. Each convolution is a matrix product whose operands are never materialised: a
 * "problem" struct says how to read element (m, kk) of A and (kk, col) of B straight from the
 * tensors (im2col on the fly, zero padding by bounds checks) and where result (m, col) goes.
 *                rows m               reduction kk            columns col
 *   forward      out channel k        (c, r, s)               (n, p, q)
 *   bwd data     in channel c         (k, r, s) of one phase  (n, h, w) of one phase
 *   bwd filter   out channel k        (n, p, q)               (c, r, s)   (split over kk, then summed)
 * Channel-sparse variants are the same problems with index lists: rows and the channel part of
 * the reduction run over the listed channels only, so the work shrinks with the kept channels.
 *
 * The FP32 kernel tiles 64 x 64 outputs per block of 256 threads, 4 x 4 per thread in registers,
 * and stages 16-deep slices of A and B in shared memory. Each thread decodes its B column once per
 * block (the (n, p, q) or (c, r, s) split), not per element. The TF32 kernel (tf32=1, sm_80+; emulated
 * through sm80.cuh) runs the same tiles on tensor cores (mma.sync m16n8k8) fed by cp.async.
 *
 * Version log (bench: scripts/device/gpu-suite.sh, bench/results/gpu-<gpu>-<date>.md; checker:
 * KernelsTest on cuda-emu and cuda, CudaIT against the CPU backend on every YOLOv5s layer):
 *  v1 one implicit-GEMM kernel for fwd / bwd-data / bwd-filter and sgemm, problems as structs,
 *     64x64 tiles, 4x4 per thread, 16-deep shared-memory slices; channel-sparse as index lists.
 *  v2 bwd-data by output phase (one launch per stride phase, only the taps that reach it); bwd-filter
 *     split over the reduction (n, p, q) with the slices summed.
 *  v3 TF32 through WMMA 16x16x8 (sm_80+), selectable with tf32=1; cuDNN as provider conv=cudnn.
 *     Measured on an H200 (2026-11-29, YOLOv5s layers at 640, batch 16, geometric mean of cuDNN time
 *     / ours): FP32 forward 0.83, forward + backward 0.44; TF32 0.24 / 0.16, slower than our FP32
 *     (issue 15 lists the next steps: double-buffered shared memory, vectorised and async loads).
 *  v4 the forward's store applies an activation (jp_conv2d_fwd_act: inference's conv + folded BN +
 *     SiLU in one kernel, one pass over the output fewer); the forward never splits K, so each output
 *     is stored once. Not yet measured on a GPU (the suite's `infer` section does).
 *  v5 the forward splits K when its output tiles are too few to fill the GPU (slices summed in order,
 *     then bias and activation; as backward-filter already did).
 *     Index decoding by multiply-high (FastDiv: divisors fixed per launch) instead of integer division,
 *     in every problem's loaders (v4 and v5 kernels alike); checked on cuda-emu (every conv case of the op
 *     suite, both kernels), not yet timed on a GPU.
 *     FP32 with double-buffered shared memory and register prefetch (k_igemm_db), selectable with
 *     pipeline=1 beside v4 until a GPU run times both (the suite's conv section has fp32-db rows);
 *     checked on cuda-emu by the op suite. The TF32 kernel keeps single buffering (not emulated, so
 *     a change to it could not be checked here).
 *  v6 TF32 rewritten (k_igemm_async<.., true>, replacing v3's WMMA kernel): mma.sync m16n8k8 on 4 warps of 32 x 32,
 *     operands copied global -> shared by cp.async into a two-stage ring of 32-deep slices (no
 *     register staging, slice i + 1 in flight while slice i is multiplied), 16-byte copies where a
 *     problem's rows are contiguous (vectorise()), shared layouts padded for conflict-free fragment
 *     reads, the epilogue staged through shared memory for row-wise stores. Problems give operand
 *     addresses (a_ptr / b_ptr, nullptr for a zero) instead of values, so one loader serves the
 *     synchronous FP32 kernels and the asynchronous copies. Emulated (sm80.cuh: the fragment layout,
 *     cvt.rna rounding, cp.async groups landing only at their wait), so the op suite checks it on
 *     cuda-emu against the reference's TF32 mode; ptxas: 112-120 registers, no spills, 36 KB shared.
 *     Not yet timed on a GPU (the suite's conv section has the tf32 rows).
 *  v7 FP32 on v6's asynchronous ring and 16-byte copies (k_igemm_async<.., false>, pipeline=2): 128
 *     threads of 8 x 4 outputs, 12 shared reads per 32 FMAs. A third FP32 candidate beside v4 and v5
 *     until a GPU times them (the suite's conv section has fp32-async rows); checked on cuda-emu.
 */
#include "common.cuh"

#include "sm80.cuh"

using namespace jpcuda;

namespace {

constexpr int TM = 64, TN = 64, TK = 16, THREADS = 256, PAD = 4;

/* ---- problems ---- */

/* n / d for 0 <= n < 2^31 by a divisor fixed at launch (n % d is n - (n / d) d): a multiply-high, an add and a
 * shift instead of the ~20-instruction integer division (the on-the-fly im2col divides several times
 * per loaded value). Round-up magic numbers: with s = ceil(log2 d) and m = floor(2^32 (2^s - d) / d) + 1,
 * n / d = (umulhi(n, m) + n) >> s, exact for every n < 2^31 (the sum stays under 2^32). */
struct FastDiv {
    uint32_t d = 1, m = 1, s = 0;
    FastDiv() = default;
    explicit FastDiv(int divisor) {
        d = (uint32_t)(divisor < 1 ? 1 : divisor);
        for (s = 0; s < 32; s++)
            if ((1u << s) >= d) break;
        m = (uint32_t)((((uint64_t)1 << 32) * (((uint64_t)1 << s) - d)) / d + 1);
    }
    __device__ __forceinline__ int div(int n) const { return (int)((__umulhi((uint32_t)n, m) + (uint32_t)n) >> s); }
};

struct ConvGeom {
    int N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw, dh, dw, G, Cg, Kg;
    FastDiv fRS, fS, fPQ, fQ;  /* by R*S, S, P*Q and Q */
};

ConvGeom geom(const jp_conv2d_desc *d) {
    ConvGeom g;
    g.N = d->n; g.C = d->c; g.H = d->h; g.W = d->w; g.K = d->k; g.R = d->r; g.S = d->s;
    g.P = jp_conv_out_h(d); g.Q = jp_conv_out_w(d);
    g.sh = d->stride_h; g.sw = d->stride_w; g.ph = d->pad_h; g.pw = d->pad_w; g.dh = d->dil_h; g.dw = d->dil_w;
    g.G = d->groups; g.Cg = d->c / d->groups; g.Kg = d->k / d->groups;
    g.fRS = FastDiv(g.R * g.S); g.fS = FastDiv(g.S); g.fPQ = FastDiv(g.P * g.Q); g.fQ = FastDiv(g.Q);
    return g;
}

/* y[n][k][p][q] = sum w[k][c][r][s] * x[n][c][p*sh-ph+r*dh][q*sw-pw+s*dw] + bias[k] */
struct FwdProblem {
    ConvGeom g;
    float *y;
    const float *x, *w, *bias;
    const int32_t *in_idx, *out_idx;  // nullable (dense)
    int M, Ncols, Kred;               // per group
    int act;                          // JP_ACT_* applied after the bias (inference epilogue); 0 identity
    float alpha;                      // leaky ReLU's slope
    float *partial;                   // split-K: slice sums [split][G][M][Ncols], bias and act applied when they are added; else nullptr
    int vec_a = 0, vec_b = 0;         // 16-byte copies allowed (vectorise(): the asynchronous kernels only)
    struct Col { int valid, n, h0, w0, pq; };
    __device__ Col col(int, int c) const {
        Col r;
        r.valid = c < Ncols;
        int cc = r.valid ? c : 0;
        r.n = g.fPQ.div(cc);
        const int pq = cc - r.n * g.P * g.Q, p = g.fQ.div(pq);
        r.pq = pq;
        r.h0 = p * g.sh - g.ph;
        r.w0 = (pq - p * g.Q) * g.sw - g.pw;
        return r;
    }
    __device__ int kout(int grp, int m) const { return out_idx ? out_idx[m] : grp * g.Kg + m; }
    __device__ const float *a_ptr(int grp, int m, int kk) const {
        const int k = kout(grp, m);
        if (!in_idx) return w + (int64_t)k * Kred + kk;
        const int rs = g.R * g.S, ci = g.fRS.div(kk), t = kk - ci * rs;
        return w + ((int64_t)k * g.Cg + in_idx[ci]) * rs + t;
    }
    __device__ const float *b_ptr(int grp, int kk, const Col &c) const {
        const int ci = g.fRS.div(kk), t = kk - ci * g.R * g.S, r = g.fS.div(t), s = t - r * g.S;
        const int ch = grp * g.Cg + (in_idx ? in_idx[ci] : ci);
        const int h = c.h0 + r * g.dh, wv = c.w0 + s * g.dw;
        if (h < 0 || h >= g.H || wv < 0 || wv >= g.W) return nullptr;
        return x + (((int64_t)c.n * g.C + ch) * g.H + h) * g.W + wv;
    }
    __device__ void write(int grp, int m, int n, int pq, float v) const {
        const int k = kout(grp, m);
        y[((int64_t)n * g.K + k) * g.P * g.Q + pq] = jp_act_value(act, alpha, v + (bias ? bias[k] : 0.f));
    }
    __device__ void store(int grp, int slice, int m, const Col &c, float v) const {
        if (partial) partial[(((int64_t)slice * g.G + grp) * M + m) * Ncols + (int64_t)c.n * g.P * g.Q + c.pq] = v;
        else write(grp, m, c.n, c.pq, v);
    }
    /* the split-K slices' sum for (grp, m, column col), as store would have written it */
    __device__ void finish(int grp, int m, int col, float v) const {
        const int n = g.fPQ.div(col);
        write(grp, m, n, col - n * g.P * g.Q, v);
    }
};

/* dx[n][c][h][w] = sum over (k, r, s) with h = p*sh - ph + r*dh of w[k][c][r][s] * dy[n][k][p][q].
 * One launch covers one output phase: the input pixels h = hb*hs + fh, w = wb*ws + fw (Hp x Wp of
 * them) and only the taps r = r0 + j*hs (Rp of them), s = s0 + j*ws (Sp) that can reach an output
 * from there. With stride 2 (and dilation 1) that is 4 launches over a quarter of the pixels each and
 * a quarter of the taps on average, instead of every tap for every pixel, 3 in 4 of them landing
 * between outputs. hs = ws = 1 (stride 1, or dilation > 1): one launch over every pixel and tap. */
struct BwdDataProblem {
    ConvGeom g;
    float *dx;
    const float *dy, *w;
    const int32_t *in_idx, *out_idx;
    int M, Ncols, Kred;
    int hs, ws, fh, fw, Hp, Wp, r0, s0, Rp, Sp;
    FastDiv fHpWp, fWp, fRpSp, fSp, fsh, fsw;  /* set with the phase (bwd_data) */
    int vec_a = 0, vec_b = 0;
    struct Col { int valid, n, h, w; };
    __device__ Col col(int, int c) const {
        Col r;
        r.valid = c < Ncols;
        int cc = r.valid ? c : 0;
        r.n = fHpWp.div(cc);
        const int t = cc - r.n * Hp * Wp, th = fWp.div(t);
        r.h = th * hs + fh;
        r.w = (t - th * Wp) * ws + fw;
        return r;
    }
    __device__ int cin(int grp, int m) const { return in_idx ? in_idx[m] : m; }  // within the group
    /* reduction index kk -> (output channel within the list or group, tap r, tap s) */
    __device__ void tap(int kk, int &ko, int &r, int &s) const {
        ko = fRpSp.div(kk);
        const int t = kk - ko * Rp * Sp, tr = fSp.div(t);
        r = r0 + tr * hs;
        s = s0 + (t - tr * Sp) * ws;
    }
    __device__ const float *a_ptr(int grp, int m, int kk) const {
        int ko, r, s;
        tap(kk, ko, r, s);
        const int k = out_idx ? out_idx[ko] : grp * g.Kg + ko;
        return w + (((int64_t)k * g.Cg + cin(grp, m)) * g.R + r) * g.S + s;
    }
    __device__ const float *b_ptr(int grp, int kk, const Col &c) const {
        int ko, r, s;
        tap(kk, ko, r, s);
        const int hh = c.h + g.ph - r * g.dh, ww = c.w + g.pw - s * g.dw;
        if (hh < 0 || ww < 0) return nullptr;
        const int p = fsh.div(hh), q = fsw.div(ww);
        if (p * g.sh != hh || q * g.sw != ww) return nullptr;  // never for a phase's own taps
        if (p >= g.P || q >= g.Q) return nullptr;
        const int k = out_idx ? out_idx[ko] : grp * g.Kg + ko;
        return dy + (((int64_t)c.n * g.K + k) * g.P + p) * g.Q + q;
    }
    __device__ void store(int grp, int, int m, const Col &c, float v) const {
        dx[(((int64_t)c.n * g.C + grp * g.Cg + cin(grp, m)) * g.H + c.h) * g.W + c.w] = v;
    }
};

/* dw[k][c][r][s] = sum over (n, p, q) of dy[n][k][p][q] * x[n][c][p*sh-ph+r*dh][q*sw-pw+s*dw];
 * with split > 1 each slice of the reduction writes partial[slice][grp][m][col], summed later */
struct BwdFilterProblem {
    ConvGeom g;
    float *dw, *partial;
    const float *dy, *x;
    const int32_t *in_idx, *out_idx;
    int M, Ncols, Kred;
    int vec_a = 0, vec_b = 0;
    struct Col { int valid, ch, hoff, woff, col; };
    __device__ Col col(int grp, int c) const {
        Col r;
        r.valid = c < Ncols;
        int cc = r.valid ? c : 0;
        const int ci = g.fRS.div(cc), t = cc - ci * g.R * g.S, tr = g.fS.div(t);
        r.col = cc;
        r.ch = grp * g.Cg + (in_idx ? in_idx[ci] : ci);
        r.hoff = tr * g.dh - g.ph;
        r.woff = (t - tr * g.S) * g.dw - g.pw;
        return r;
    }
    __device__ int kout(int grp, int m) const { return out_idx ? out_idx[m] : grp * g.Kg + m; }
    __device__ const float *a_ptr(int grp, int m, int kk) const {
        const int PQ = g.P * g.Q, n = g.fPQ.div(kk), pq = kk - n * PQ;
        return dy + ((int64_t)n * g.K + kout(grp, m)) * PQ + pq;
    }
    __device__ const float *b_ptr(int, int kk, const Col &c) const {
        const int PQ = g.P * g.Q, n = g.fPQ.div(kk), pq = kk - n * PQ, p = g.fQ.div(pq);
        const int h = p * g.sh + c.hoff, wv = (pq - p * g.Q) * g.sw + c.woff;
        if (h < 0 || h >= g.H || wv < 0 || wv >= g.W) return nullptr;
        return x + (((int64_t)n * g.C + c.ch) * g.H + h) * g.W + wv;
    }
    __device__ void store(int grp, int slice, int m, const Col &c, float v) const {
        if (partial) partial[(((int64_t)slice * g.G + grp) * M + m) * Ncols + c.col] = v;
        else finish(grp, m, c.col, v);
    }
    __device__ void finish(int grp, int m, int col, float v) const {
        const int rs = g.R * g.S, ci = g.fRS.div(col), t = col - ci * rs;
        dw[((int64_t)kout(grp, m) * g.Cg + (in_idx ? in_idx[ci] : ci)) * rs + t] = v;
    }
};

/* C = alpha * op(A) * op(B) + beta * C */
struct GemmProblem {
    const float *A, *B;
    float *Cm;
    int M, Ncols, Kred, lda, ldb, ldc, ta, tb;
    float alpha, beta;
    int vec_a = 0, vec_b = 0;
    struct Col { int valid, n; };
    __device__ Col col(int, int c) const { Col r; r.valid = c < Ncols; r.n = c; return r; }
    __device__ const float *a_ptr(int, int m, int kk) const { return ta ? A + (int64_t)kk * lda + m : A + (int64_t)m * lda + kk; }
    __device__ const float *b_ptr(int, int kk, const Col &c) const { return tb ? B + (int64_t)c.n * ldb + kk : B + (int64_t)kk * ldb + c.n; }
    __device__ void store(int, int, int m, const Col &c, float v) const {
        float *p = Cm + (int64_t)m * ldc + c.n;
        *p = alpha * v + (beta == 0.f ? 0.f : beta * *p);
    }
};

/* ---- the FP32 tiled kernel ---- */

/* an operand element: the problems give its address, or nullptr for a zero (padding, a phase's gap) */
__device__ __forceinline__ float ld(const float *p) { return p ? *p : 0.f; }

/* acc += the 16-deep slice As x Bs for thread (tx, ty): rows ty + 16 i, columns tx + 16 j */
__device__ __forceinline__ void igemm_multiply(const float (*As)[TM + PAD], const float (*Bs)[TN + PAD], int tx, int ty, float acc[4][4]) {
#pragma unroll
    for (int k = 0; k < TK; k++) {
        float av[4], bv[4];
        for (int i = 0; i < 4; i++) av[i] = As[k][ty + 16 * i];
        for (int j = 0; j < 4; j++) bv[j] = Bs[k][tx + 16 * j];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) acc[i][j] += av[i] * bv[j];
    }
}

/* thread (tx, ty) owns rows ty + 16 i and columns tx + 16 j: strided, so shared-memory reads are
 * conflict-free and these stores are coalesced across tx */
template <class Prob>
__device__ __forceinline__ void igemm_store(const Prob &pr, int grp, int slice, int m0, int n0, int tx, int ty, const float acc[4][4]) {
    for (int j = 0; j < 4; j++) {
        const int n = n0 + tx + 16 * j;
        if (n >= pr.Ncols) continue;
        const typename Prob::Col c = pr.col(grp, n);
        for (int i = 0; i < 4; i++) {
            const int m = m0 + ty + 16 * i;
            if (m < pr.M) pr.store(grp, slice, m, c, acc[i][j]);
        }
    }
}

/* grid: x = column tiles, y = row tiles, z = groups * split; the reduction slice [k_begin, k_end)
 * of split s is s * kslice .. */
template <class Prob>
__global__ void __launch_bounds__(THREADS) k_igemm(Prob pr, int groups, int kslice) {
    __shared__ float As[TK][TM + PAD];
    __shared__ float Bs[TK][TN + PAD];
    const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
    const int grp = blockIdx.z % groups, slice = blockIdx.z / groups;
    const int m0 = blockIdx.y * TM, n0 = blockIdx.x * TN;
    const int kbeg = slice * kslice, kend = min(pr.Kred, kbeg + kslice);
    /* A loads: kk = tid % 16, rows tid / 16 + 16 i; B loads: column tid % 64, rows tid / 64 + 4 i */
    const int a_k = tid % TK, a_m = tid / TK, b_n = tid % TN, b_k = tid / TN;
    const typename Prob::Col bcol = pr.col(grp, n0 + b_n);
    float acc[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = 0.f;
    for (int k0 = kbeg; k0 < kend; k0 += TK) {
        for (int i = 0; i < 4; i++) {
            const int m = a_m + 16 * i, kk = k0 + a_k;
            As[a_k][m] = (m0 + m < pr.M && kk < kend) ? ld(pr.a_ptr(grp, m0 + m, kk)) : 0.f;
        }
        for (int i = 0; i < 4; i++) {
            const int kr = b_k + 4 * i, kk = k0 + kr;
            Bs[kr][b_n] = (bcol.valid && kk < kend) ? ld(pr.b_ptr(grp, kk, bcol)) : 0.f;
        }
        __syncthreads();
        igemm_multiply(As, Bs, tx, ty, acc);
        __syncthreads();
    }
    igemm_store(pr, grp, slice, m0, n0, tx, ty, acc);
}

/* ---- v5: the FP32 kernel with its shared-memory slices double-buffered (option pipeline=1) ----
 * The next slice's A and B values are read from global memory into registers before the current
 * slice is multiplied, so their latency hides behind the 16-deep product; they go to the other
 * shared-memory buffer after it, and one barrier per slice (not two) separates the buffers' turns:
 * a buffer is written only after every thread has passed the barrier that ended its last use.
 * Same tiles, loaders and stores as k_igemm; 17 KB of shared memory instead of 8.7. */
template <class Prob>
__device__ __forceinline__ void igemm_fetch(const Prob &pr, int grp, int m0, int k0, int kend, int a_k, int a_m, int b_k,
                                            const typename Prob::Col &bcol, float ra[4], float rb[4]) {
    for (int i = 0; i < 4; i++) {
        const int m = a_m + 16 * i, kk = k0 + a_k;
        ra[i] = (m0 + m < pr.M && kk < kend) ? ld(pr.a_ptr(grp, m0 + m, kk)) : 0.f;
    }
    for (int i = 0; i < 4; i++) {
        const int kk = k0 + b_k + 4 * i;
        rb[i] = (bcol.valid && kk < kend) ? ld(pr.b_ptr(grp, kk, bcol)) : 0.f;
    }
}

template <class Prob>
__global__ void __launch_bounds__(THREADS) k_igemm_db(Prob pr, int groups, int kslice) {
    __shared__ float As[2][TK][TM + PAD];
    __shared__ float Bs[2][TK][TN + PAD];
    const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
    const int grp = blockIdx.z % groups, slice = blockIdx.z / groups;
    const int m0 = blockIdx.y * TM, n0 = blockIdx.x * TN;
    const int kbeg = slice * kslice, kend = min(pr.Kred, kbeg + kslice);
    const int a_k = tid % TK, a_m = tid / TK, b_n = tid % TN, b_k = tid / TN;
    const typename Prob::Col bcol = pr.col(grp, n0 + b_n);
    float acc[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = 0.f;
    float ra[4], rb[4];
    igemm_fetch(pr, grp, m0, kbeg, kend, a_k, a_m, b_k, bcol, ra, rb);
    for (int i = 0; i < 4; i++) {
        As[0][a_k][a_m + 16 * i] = ra[i];
        Bs[0][b_k + 4 * i][b_n] = rb[i];
    }
    __syncthreads();
    int buf = 0;
    for (int k0 = kbeg; k0 < kend; k0 += TK, buf ^= 1) {
        const bool more = k0 + TK < kend;
        if (more) igemm_fetch(pr, grp, m0, k0 + TK, kend, a_k, a_m, b_k, bcol, ra, rb);
        igemm_multiply(As[buf], Bs[buf], tx, ty, acc);
        if (more)
            for (int i = 0; i < 4; i++) {
                As[buf ^ 1][a_k][a_m + 16 * i] = ra[i];
                Bs[buf ^ 1][b_k + 4 * i][b_n] = rb[i];
            }
        __syncthreads();
    }
    igemm_store(pr, grp, slice, m0, n0, tx, ty, acc);
}

/* ---- v6 / v7: the asynchronous kernels: TF32 tensor cores (tf32=1, sm_80+) and FP32 (pipeline=2) ----
 * The same 64 x 64 output tiles, problems and stores as the kernels above, 128 threads. Operands go
 * global -> shared by cp.async (sm_80+; emulated by sm80.cuh), without passing through registers,
 * into a two-stage ring of 32-deep slices: slice i + 1 is in flight while slice i is multiplied, one
 * wait and one barrier per slice. Where a problem's rows are contiguous and 16-byte aligned
 * (vectorise(): the weights of a dense forward, dy in backward-filter, 1x1 stride-1 inputs,
 * untransposed GEMM operands) a thread copies 4 neighbours at once; elsewhere each element is its own
 * 4-byte copy (padding reads zeros). Shared layouts: A as [m][k] with rows of 36 floats, B as [k][n]
 * with rows of 72, so the reads below hit distinct banks (or broadcast) and the 16-byte copies stay
 * aligned. The epilogue stages the tile through shared memory so each warp stores 32 consecutive
 * columns of a row.
 *   TF32 (v6): 4 warps, each a 32 x 32 quarter of the tile as 2 x 4 mma.sync m16n8k8 accumulators;
 *     operands rounded to TF32 (cvt.rna) as fragments are read (8 rows x 4 columns of A, 4 rows x 8
 *     columns of B per instruction), FP32 accumulation.
 *   FP32 (v7): thread (tx, ty) = (tid % 16, tid / 16) owns rows ty + 8 i (8) and columns tx + 16 j
 *     (4): 12 shared-memory reads per 32 FMAs (v4: 8 per 16). */
constexpr int AS_K = 32, AS_THREADS = 128;
constexpr int AS_LDA = AS_K + 4, AS_LDB = TN + 8, AS_LDC = TN + 4;
constexpr int AS_A = TM * AS_LDA, AS_B = AS_K * AS_LDB;  // floats per stage
static_assert(TM * AS_LDC <= 2 * (AS_A + AS_B), "the epilogue's tile fits in the ring");

/* issues the cp.async copies of one slice [k0, k0 + AS_K) of A and B (zeros outside the problem) */
template <class Prob>
__device__ __forceinline__ void as_fetch(const Prob &pr, int grp, int m0, int k0, int kend, float *As, float *Bs,
                                         const typename Prob::Col &bcol, int tid) {
    if (pr.vec_a) {  // rows of 4 neighbours in k: 8 threads per row, 16 rows per pass
        const int kq = 4 * (tid % 8), mr = tid / 8;
        for (int i = 0; i < TM / 16; i++) {
            const int m = mr + 16 * i, kk = k0 + kq;
            cp_async(&As[m * AS_LDA + kq], m0 + m < pr.M && kk < kend ? pr.a_ptr(grp, m0 + m, kk) : nullptr, 16);
        }
    } else {  // one element each: a warp reads 32 consecutive k of one row
        const int kq = tid % 32, mr = tid / 32;
        for (int i = 0; i < TM / 4; i++) {
            const int m = mr + 4 * i, kk = k0 + kq;
            cp_async(&As[m * AS_LDA + kq], m0 + m < pr.M && kk < kend ? pr.a_ptr(grp, m0 + m, kk) : nullptr, 4);
        }
    }
    if (pr.vec_b) {  // 4 neighbouring columns: 16 threads per row, 8 rows per pass
        const int nq = 4 * (tid % 16), kr = tid / 16;
        for (int i = 0; i < AS_K / 8; i++) {
            const int k = kr + 8 * i, kk = k0 + k;
            cp_async(&Bs[k * AS_LDB + nq], bcol.valid && kk < kend ? pr.b_ptr(grp, kk, bcol) : nullptr, 16);
        }
    } else {  // one column per thread (decoded once per block), 2 rows per pass
        const int n = tid % TN, kr = tid / TN;
        for (int i = 0; i < AS_K / 2; i++) {
            const int k = kr + 2 * i, kk = k0 + k;
            cp_async(&Bs[k * AS_LDB + n], bcol.valid && kk < kend ? pr.b_ptr(grp, kk, bcol) : nullptr, 4);
        }
    }
}

/* acc (2 x 4 fragments of 4) += the slice through the tensor cores, for warp quarter (wm, wn) */
__device__ __forceinline__ void tc_multiply(const float *As, const float *Bs, int wm, int wn, int g, int t, float acc[32]) {
#pragma unroll
    for (int k = 0; k < AS_K; k += 8) {
        uint32_t fa[2][4], fb[4][2];
        for (int i = 0; i < 2; i++) {
            const float *a = As + (wm + 16 * i + g) * AS_LDA + k + t;
            fa[i][0] = to_tf32(a[0]);
            fa[i][1] = to_tf32(a[8 * AS_LDA]);
            fa[i][2] = to_tf32(a[4]);
            fa[i][3] = to_tf32(a[8 * AS_LDA + 4]);
        }
        for (int j = 0; j < 4; j++) {
            const float *b = Bs + (k + t) * AS_LDB + wn + 8 * j + g;
            fb[j][0] = to_tf32(b[0]);
            fb[j][1] = to_tf32(b[4 * AS_LDB]);
        }
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 4; j++) mma_tf32(&acc[(i * 4 + j) * 4], fa[i], fb[j]);
    }
}

/* acc (8 rows x 4 columns) += the slice with FMAs, for thread (tx, ty) */
__device__ __forceinline__ void fma_multiply(const float *As, const float *Bs, int tx, int ty, float acc[32]) {
#pragma unroll 8
    for (int k = 0; k < AS_K; k++) {
        float av[8], bv[4];
        for (int i = 0; i < 8; i++) av[i] = As[(ty + 8 * i) * AS_LDA + k];
        for (int j = 0; j < 4; j++) bv[j] = Bs[k * AS_LDB + tx + 16 * j];
        for (int i = 0; i < 8; i++)
            for (int j = 0; j < 4; j++) acc[i * 4 + j] += av[i] * bv[j];
    }
}

template <class Prob, bool TC>
__global__ void __launch_bounds__(AS_THREADS) k_igemm_async(Prob pr, int groups, int kslice) {
    __shared__ __align__(16) float ring[2 * (AS_A + AS_B)];
    const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
    const int g = lane / 4, t = lane % 4, wm = 32 * (warp / 2), wn = 32 * (warp % 2);  // TF32: the warp's quarter
    const int tx = tid % 16, ty = tid / 16;                                             // FP32: the thread's rows and columns
    const int grp = blockIdx.z % groups, slice = blockIdx.z / groups;
    const int m0 = blockIdx.y * TM, n0 = blockIdx.x * TN;
    const int kbeg = slice * kslice, kend = min(pr.Kred, kbeg + kslice);
    const typename Prob::Col bcol = pr.col(grp, n0 + (pr.vec_b ? 4 * (tid % 16) : tid % TN));
    float acc[32];
    for (int i = 0; i < 32; i++) acc[i] = 0.f;
    as_fetch(pr, grp, m0, kbeg, kend, ring, ring + 2 * AS_A, bcol, tid);
    cp_async_commit();
    int buf = 0;
    for (int k0 = kbeg; k0 < kend; k0 += AS_K, buf ^= 1) {
        if (k0 + AS_K < kend) {  // the next slice into the other stage (its last readers passed the barrier below)
            as_fetch(pr, grp, m0, k0 + AS_K, kend, ring + (buf ^ 1) * AS_A, ring + 2 * AS_A + (buf ^ 1) * AS_B, bcol, tid);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();  // every thread's copies of this slice have landed
        const float *As = ring + buf * AS_A, *Bs = ring + 2 * AS_A + buf * AS_B;
        if (TC) tc_multiply(As, Bs, wm, wn, g, t, acc);
        else fma_multiply(As, Bs, tx, ty, acc);
        __syncthreads();  // this stage may be refilled
    }
    cp_async_wait<0>();  // nothing is in flight unless the slice was empty
    __syncthreads();
    float *Cs = ring;
    if (TC) {
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 4; j++)
                for (int r = 0; r < 4; r++) Cs[(wm + 16 * i + g + 8 * (r / 2)) * AS_LDC + wn + 8 * j + 2 * t + r % 2] = acc[(i * 4 + j) * 4 + r];
    } else {
        for (int i = 0; i < 8; i++)
            for (int j = 0; j < 4; j++) Cs[(ty + 8 * i) * AS_LDC + tx + 16 * j] = acc[i * 4 + j];
    }
    __syncthreads();
    for (int j = 0; j < TN / 32; j++) {
        const int n = n0 + lane + 32 * j;
        if (n >= pr.Ncols) continue;
        const typename Prob::Col c = pr.col(grp, n);
        for (int i = 0; i < TM / 4; i++) {
            const int m = m0 + warp + 4 * i;
            if (m < pr.M) pr.store(grp, slice, m, c, Cs[(warp + 4 * i) * AS_LDC + lane + 32 * j]);
        }
    }
}

/* which operands the asynchronous kernels may copy 16 bytes at a time: every aligned group of 4 reduction
 * steps (A) or columns (B) that the kernel asks for must be 4 neighbours in memory, all inside the
 * problem or all outside it, from a 16-byte aligned base. Slices start at multiples of 16. */
inline bool aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }
inline bool plain_1x1(const ConvGeom &g) { return g.R == 1 && g.S == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0; }
void vectorise(FwdProblem &pr) {
    pr.vec_a = !pr.in_idx && pr.Kred % 4 == 0 && aligned16(pr.w);                      // w[k][c r s]
    pr.vec_b = plain_1x1(pr.g) && pr.g.H * pr.g.W % 4 == 0 && aligned16(pr.x);           // x[n][c][h w]
}
void vectorise(BwdDataProblem &pr) {
    pr.vec_a = 0;                                                                        // w read across k
    pr.vec_b = plain_1x1(pr.g) && pr.g.H * pr.g.W % 4 == 0 && aligned16(pr.dy);          // dy[n][k][p q]
}
void vectorise(BwdFilterProblem &pr) {
    pr.vec_a = pr.g.P * pr.g.Q % 4 == 0 && aligned16(pr.dy);                             // dy[n][k][p q], k = n p q
    pr.vec_b = 0;                                                                        // columns are taps
}
void vectorise(GemmProblem &pr) {
    pr.vec_a = !pr.ta && pr.lda % 4 == 0 && pr.Kred % 4 == 0 && aligned16(pr.A);
    pr.vec_b = !pr.tb && pr.ldb % 4 == 0 && pr.Ncols % 4 == 0 && aligned16(pr.B);
}

/* the reduction length per split-K slice (a multiple of TK) and the number of slices it makes */
int slice_len(int kred, int split) {
    if (kred < 1) kred = 1;
    return ((kred + split - 1) / split + TK - 1) / TK * TK;
}
int slices(int kred, int kslice) { return kred < 1 ? 1 : (kred + kslice - 1) / kslice; }

template <class Prob>
jp_status run_igemm(Ctx *c, const char *fn, const Prob &pr, int groups, int kslice) {
    if (pr.M <= 0 || pr.Ncols <= 0) return JP_OK;
    const int split = slices(pr.Kred, kslice);
    dim3 grid((pr.Ncols + TN - 1) / TN, (pr.M + TM - 1) / TM, groups * split);
    if (grid.y > 65535 || grid.z > 65535) return jp_fail(JP_ERR_UNSUPPORTED, fn, "problem too large for one launch (%u x %u row tiles)", grid.y, grid.z);
    if (c->tf32 || c->pipeline == 2) {
        Prob v = pr;
        vectorise(v);
        void (*kernel)(Prob, int, int) = c->tf32 ? k_igemm_async<Prob, true> : k_igemm_async<Prob, false>;
        JP_LAUNCH(kernel, grid, dim3(AS_THREADS), c->stream, v, groups, kslice);
        return launched(fn);
    }
    if (c->pipeline == 1) {
        JP_LAUNCH(k_igemm_db<Prob>, grid, dim3(THREADS), c->stream, pr, groups, kslice);
        return launched(fn);
    }
    JP_LAUNCH(k_igemm<Prob>, grid, dim3(THREADS), c->stream, pr, groups, kslice);
    return launched(fn);
}

/* split-K partials [split][G][M][cols] added in order; the problem writes each sum where its unsplit
 * store would have (forward: y with bias and activation; backward-filter: dw, dense or listed) */
template <class Prob>
__global__ void k_sum_partials(Prob pr, int split, int64_t n) {
    JP_GRID_STRIDE(t, n) {
        const int64_t per = (int64_t)pr.M * pr.Ncols;
        const int grp = (int)(t / per), m = (int)((t % per) / pr.Ncols), col = (int)(t % pr.Ncols);
        float s = 0.f;
        for (int k = 0; k < split; k++) s += pr.partial[(int64_t)k * pr.g.G * per + t];
        pr.finish(grp, m, col, s);
    }
}

/* How many split-K slices a problem of `tiles` output tiles and kred reduction steps gets: enough
 * blocks for two per SM, each slice keeping >= 256 reduction steps, at most `cap`; in emulation one
 * slice per emu_step steps, so the partial-sum path runs there too */
struct SplitK {
    int emu_step, cap;
};
/* forward: small planes (inference at batch 1, the 20 x 20 layers at 640 px) give few output tiles
 * for long reductions (c*r*s up to 4608), so a few blocks would do all the work */
constexpr SplitK FWD_SPLIT = {64, 16};
/* backward-filter: long reductions (n*p*q) over few output tiles need more blocks */
constexpr SplitK FILTER_SPLIT = {512, 64};

int split_count(const Ctx *c, int tiles, int kred, SplitK s) {
#ifdef JP_EMU_BUILD
    (void)c; (void)tiles;
    int split = kred / s.emu_step;
#else
    int target = c->prop.multiProcessorCount * 2;
    int split = tiles >= target ? 1 : (target + tiles - 1) / tiles;
    if (split > kred / 256) split = kred / 256;
#endif
    if (split > s.cap) split = s.cap;
    return split < 1 ? 1 : split;
}

/* run_igemm with the reduction split as split_count says for `how`: one
 * launch when it says 1, else the slices into scratch partials and one pass adding them */
template <class Prob>
jp_status run_split(Ctx *c, const char *fn, Prob pr, SplitK how) {
    const int tiles = ((pr.Ncols + TN - 1) / TN) * ((pr.M + TM - 1) / TM) * pr.g.G;
    const int kslice = slice_len(pr.Kred, split_count(c, tiles, pr.Kred, how)), split = slices(pr.Kred, kslice);
    pr.partial = nullptr;
    if (split == 1) return run_igemm(c, fn, pr, pr.g.G, kslice);
    const int64_t per = (int64_t)pr.g.G * pr.M * pr.Ncols;
    Scratch partial(c, sizeof(float) * (size_t)(per * split));
    if (!partial.p) return jp_fail(JP_ERR_NO_MEMORY, fn, "no device memory for %d split-K partials of %lld floats", split, (long long)per);
    pr.partial = partial.as<float>();
    jp_status st = run_igemm(c, fn, pr, pr.g.G, kslice);
    if (st) return st;
    JP_LAUNCH(k_sum_partials<Prob>, grid1d(c, per), dim3(256), c->stream, pr, split, per);
    return launched(fn);
}

}  // namespace

/* cuDNN entries (cudnn.cu) */
extern "C" jp_status jp_cudnn_conv_fwd(Ctx *c, const jp_conv2d_desc *d, float *y, const float *x, const float *w, const float *bias);
CU_OP(act_fwd)(jp_ctx ctx, int32_t kind, float alpha, float *y, const float *x, int64_t n);
extern "C" jp_status jp_cudnn_conv_bwd_data(Ctx *c, const jp_conv2d_desc *d, float *dx, const float *dy, const float *w);
extern "C" jp_status jp_cudnn_conv_bwd_filter(Ctx *c, const jp_conv2d_desc *d, float *dw, const float *dy, const float *x);

CU_OP(sgemm)(jp_ctx ctx, const jp_gemm_desc *d, float *cm, const float *a, const float *b) {
    static const char *fn = "jp_sgemm";
    GemmProblem pr{a, b, cm, d->m, d->n, d->k, d->lda, d->ldb, d->ldc, d->trans_a, d->trans_b, d->alpha, d->beta};
    return run_igemm(impl(ctx), fn, pr, 1, slice_len(d->k, 1));
}

static jp_status bias_grad(jp_ctx ctx, const char *fn, float *db, const float *dy, const ConvGeom &g) {
    if (!db) return JP_OK;
    jp_status st = cu_sum_channels(ctx, db, dy, g.N, g.K, (int64_t)g.P * g.Q);
    (void)fn;
    return st;
}

/* y = act(conv(x, w) + bias): the activation in the GEMM's store (or, when the reduction is split, in
 * the pass that adds the slices); with cuDNN as the provider, its conv and then the activation kernel */
static jp_status conv_fwd(jp_ctx ctx, const char *fn, const jp_conv2d_desc *d, float *y, const float *x, const float *w, const float *bias,
                          int32_t act, float alpha) {
    Ctx *c = impl(ctx);
    if (c->conv_impl == CONV_CUDNN) {
        jp_status st = jp_cudnn_conv_fwd(c, d, y, x, w, bias);
        if (st || act == JP_ACT_IDENTITY) return st;
        return cu_act_fwd(ctx, act, alpha, y, y, (int64_t)d->n * d->k * jp_conv_out_h(d) * jp_conv_out_w(d));
    }
    ConvGeom g = geom(d);
    FwdProblem pr{g, y, x, w, bias, nullptr, nullptr, g.Kg, g.N * g.P * g.Q, g.Cg * g.R * g.S, act, alpha, nullptr};
    return run_split(c, fn, pr, FWD_SPLIT);
}

CU_OP(conv2d_fwd)(jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const float *w, const float *bias) {
    return conv_fwd(ctx, "jp_conv2d_fwd", d, y, x, w, bias, JP_ACT_IDENTITY, 0.f);
}

CU_OP(conv2d_fwd_act)(jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const float *w, const float *bias, int32_t act, float alpha) {
    return conv_fwd(ctx, "jp_conv2d_fwd_act", d, y, x, w, bias, act, alpha);
}

/* no packed form: the kernels read the weights as they are (jp_conv2d_packed_size reports 0) */
CU_OP(conv2d_packed_size)(jp_ctx ctx, const jp_conv2d_desc *d, int64_t *floats_host) {
    (void)ctx; (void)d;
    *floats_host = 0;
    return JP_OK;
}

CU_OP(conv2d_pack)(jp_ctx ctx, const jp_conv2d_desc *d, float *packed, int64_t floats, const float *w) {
    (void)ctx; (void)d; (void)packed; (void)floats; (void)w;
    return jp_fail(JP_ERR_INVALID, "jp_conv2d_pack", "this backend has no packed form for a convolution (jp_conv2d_packed_size is 0)");
}

CU_OP(conv2d_fwd_packed)(jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const float *w, const float *packed, int64_t floats,
                         const float *bias, int32_t act, float alpha) {
    (void)packed; (void)floats;
    return conv_fwd(ctx, "jp_conv2d_fwd_packed", d, y, x, w, bias, act, alpha);
}

/* backward-data, one launch per output phase (BwdDataProblem): pr has g, the pointers and M set,
 * the rest is filled here; kouts = output channels in the reduction (per group, or listed) */
static jp_status bwd_data(Ctx *c, const char *fn, BwdDataProblem pr, int kouts, int groups) {
    const ConvGeom &g = pr.g;
    const bool phased = (g.sh > 1 || g.sw > 1) && g.dh == 1 && g.dw == 1;
    pr.hs = phased ? g.sh : 1;
    pr.ws = phased ? g.sw : 1;
    for (int fh = 0; fh < pr.hs && fh < g.H; fh++)
        for (int fw = 0; fw < pr.ws && fw < g.W; fw++) {
            pr.fh = fh;
            pr.fw = fw;
            pr.Hp = (g.H - fh + pr.hs - 1) / pr.hs;
            pr.Wp = (g.W - fw + pr.ws - 1) / pr.ws;
            pr.r0 = (fh + g.ph) % pr.hs;  // taps r with r = h + ph (mod stride) reach an output row
            pr.s0 = (fw + g.pw) % pr.ws;
            pr.Rp = pr.r0 < g.R ? (g.R - pr.r0 + pr.hs - 1) / pr.hs : 0;
            pr.Sp = pr.s0 < g.S ? (g.S - pr.s0 + pr.ws - 1) / pr.ws : 0;
            pr.Ncols = g.N * pr.Hp * pr.Wp;
            pr.Kred = kouts * pr.Rp * pr.Sp;  // 0: no tap reaches an output, the phase's pixels get 0
            pr.fHpWp = FastDiv(pr.Hp * pr.Wp); pr.fWp = FastDiv(pr.Wp); pr.fRpSp = FastDiv(pr.Rp * pr.Sp); pr.fSp = FastDiv(pr.Sp);
            pr.fsh = FastDiv(g.sh); pr.fsw = FastDiv(g.sw);
            jp_status st = run_igemm(c, fn, pr, groups, slice_len(pr.Kred, 1));
            if (st) return st;
        }
    return JP_OK;
}

CU_OP(conv2d_bwd_data)(jp_ctx ctx, const jp_conv2d_desc *d, float *dx, const float *dy, const float *w) {
    static const char *fn = "jp_conv2d_bwd_data";
    Ctx *c = impl(ctx);
    if (c->conv_impl == CONV_CUDNN) return jp_cudnn_conv_bwd_data(c, d, dx, dy, w);
    ConvGeom g = geom(d);
    return bwd_data(c, fn, BwdDataProblem{g, dx, dy, w, nullptr, nullptr, g.Cg, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, {}, {}, {}, {}, {}, {}}, g.Kg, g.G);
}

static jp_status filter_grad(Ctx *c, const char *fn, BwdFilterProblem pr) { return run_split(c, fn, pr, FILTER_SPLIT); }

CU_OP(conv2d_bwd_filter)(jp_ctx ctx, const jp_conv2d_desc *d, float *dw, float *db, const float *dy, const float *x) {
    static const char *fn = "jp_conv2d_bwd_filter";
    jp_status st;
    Ctx *c = impl(ctx);
    ConvGeom g = geom(d);
    if (c->conv_impl == CONV_CUDNN) st = jp_cudnn_conv_bwd_filter(c, d, dw, dy, x);
    else st = filter_grad(c, fn, BwdFilterProblem{g, dw, nullptr, dy, x, nullptr, nullptr, g.Kg, g.Cg * g.R * g.S, g.N * g.P * g.Q});
    if (st) return st;
    return bias_grad(ctx, fn, db, dy, g);
}

/* ---------------- channel-sparse convolution ---------------- */

static jp_status zero(Ctx *c, const char *fn, float *p, int64_t n) {
    return cuda_status(cudaMemsetAsync(p, 0, (size_t)n * sizeof(float), c->stream), fn, "cudaMemsetAsync");
}

/* y[.][k] for listed k = bias[k] (when no input is listed the sum is empty) */
__global__ void k_cs_bias(float *y, const float *bias, const int32_t *out_idx, int n_out, int K, int64_t PQ, int64_t n) {
    JP_GRID_STRIDE(t, n) {
        int64_t pq = t % PQ, j = (t / PQ) % n_out, b = t / (PQ * n_out);
        int k = out_idx[j];
        y[(b * K + k) * PQ + pq] = bias[k];
    }
}

CU_OP(conv2d_cs_fwd)(jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const float *w, const float *bias,
                     const int32_t *in_idx, int32_t n_in, const int32_t *out_idx, int32_t n_out) {
    static const char *fn = "jp_conv2d_cs_fwd";
    jp_status st;
    Ctx *c = impl(ctx);
    ConvGeom g = geom(d);
    const int64_t PQ = (int64_t)g.P * g.Q;
    if (n_out < g.K && (st = zero(c, fn, y, (int64_t)g.N * g.K * PQ))) return st;
    if (n_out == 0) return JP_OK;
    if (n_in == 0) {
        if (!bias) return zero(c, fn, y, (int64_t)g.N * g.K * PQ);
        const int64_t n = (int64_t)g.N * n_out * PQ;
        JP_LAUNCH(k_cs_bias, grid1d(c, n), dim3(256), c->stream, y, bias, out_idx, n_out, g.K, PQ, n);
        return launched(fn);
    }
    FwdProblem pr{g, y, x, w, bias, in_idx, out_idx, n_out, g.N * g.P * g.Q, n_in * g.R * g.S, JP_ACT_IDENTITY, 0.f, nullptr};
    return run_igemm(c, fn, pr, 1, slice_len(pr.Kred, 1));
}

CU_OP(conv2d_cs_bwd_data)(jp_ctx ctx, const jp_conv2d_desc *d, float *dx, const float *dy, const float *w, const int32_t *in_idx,
                          int32_t n_in, const int32_t *out_idx, int32_t n_out) {
    static const char *fn = "jp_conv2d_cs_bwd_data";
    jp_status st;
    Ctx *c = impl(ctx);
    ConvGeom g = geom(d);
    if ((n_in < g.C || n_out == 0) && (st = zero(c, fn, dx, (int64_t)g.N * g.C * g.H * g.W))) return st;
    if (n_in == 0 || n_out == 0) return JP_OK;
    return bwd_data(c, fn, BwdDataProblem{g, dx, dy, w, in_idx, out_idx, n_in, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, {}, {}, {}, {}, {}, {}}, n_out, 1);
}

__global__ void k_cs_db(float *db, const float *dy, const int32_t *out_idx, int n_out, int N, int K, int64_t PQ) {
    __shared__ double red[32];
    const int k = out_idx[blockIdx.x];
    double acc = 0.0;
    for (int b = 0; b < N; b++) {
        float part = 0.f;
        for (int64_t i = threadIdx.x; i < PQ; i += blockDim.x) part += dy[((int64_t)b * K + k) * PQ + i];
        acc += part;
    }
    double s = block_sum(acc, red);
    if (threadIdx.x == 0) db[k] = (float)s;
}

CU_OP(conv2d_cs_bwd_filter)(jp_ctx ctx, const jp_conv2d_desc *d, float *dw, float *db, const float *dy, const float *x,
                            const int32_t *in_idx, int32_t n_in, const int32_t *out_idx, int32_t n_out) {
    static const char *fn = "jp_conv2d_cs_bwd_filter";
    jp_status st;
    Ctx *c = impl(ctx);
    ConvGeom g = geom(d);
    if ((n_in < g.C || n_out < g.K) && (st = zero(c, fn, dw, (int64_t)g.K * g.C * g.R * g.S))) return st;
    if (db && n_out < g.K && (st = zero(c, fn, db, g.K))) return st;
    if (n_in > 0 && n_out > 0) {
        st = filter_grad(c, fn, BwdFilterProblem{g, dw, nullptr, dy, x, in_idx, out_idx, n_out, n_in * g.R * g.S, g.N * g.P * g.Q});
        if (st) return st;
    }
    if (db && n_out > 0) {
        JP_LAUNCH(k_cs_db, dim3((unsigned)n_out), dim3(256), c->stream, db, dy, out_idx, n_out, g.N, g.K, (int64_t)g.P * g.Q);
        return launched(fn);
    }
    return JP_OK;
}

/* ---------------- weight-sparse (CSR) convolution ---------------- */

/* per-row counts of |v| > threshold: one block per row */
__global__ void k_csr_row_count(int32_t *counts, const float *dense, int cols, float threshold) {
    __shared__ float red[32];
    const float *row = dense + (int64_t)blockIdx.x * cols;
    float cnt = 0.f;
    for (int i = threadIdx.x; i < cols; i += blockDim.x) cnt += fabsf(row[i]) > threshold ? 1.f : 0.f;
    float s = block_sum(cnt, red);  // exact: counts < 2^24 per row
    if (threadIdx.x == 0) counts[blockIdx.x] = (int32_t)s;
}

/* exclusive scan of the row counts into row_ptr (rows + 1 entries), one thread: rows are output
 * channels (at most a few thousand), far below one launch's overhead */
__global__ void k_csr_scan(int32_t *row_ptr, const int32_t *counts, int rows, int64_t *total) {
    if (threadIdx.x != 0 || blockIdx.x != 0) return;
    int64_t acc = 0;
    for (int r = 0; r < rows; r++) { row_ptr[r] = (int32_t)acc; acc += counts[r]; }
    row_ptr[rows] = (int32_t)acc;
    if (total) *total = acc;
}

/* fills one row per block in column order: chunks of 256 columns, a block-wide prefix count of
 * the kept entries of each chunk */
__global__ void k_csr_fill(int32_t *col_idx, float *values, const int32_t *row_ptr, const float *dense, int cols, float threshold) {
    __shared__ int32_t scan[256];
    const float *row = dense + (int64_t)blockIdx.x * cols;
    int32_t base = row_ptr[blockIdx.x];
    for (int c0 = 0; c0 < cols; c0 += 256) {
        const int c = c0 + threadIdx.x;
        const float v = c < cols ? row[c] : 0.f;
        const int keep = c < cols && fabsf(v) > threshold;
        scan[threadIdx.x] = keep;
        __syncthreads();
        for (int off = 1; off < 256; off <<= 1) {  // Hillis-Steele inclusive scan
            int32_t add = threadIdx.x >= (unsigned)off ? scan[threadIdx.x - off] : 0;
            __syncthreads();
            scan[threadIdx.x] += add;
            __syncthreads();
        }
        if (keep) {
            const int32_t at = base + scan[threadIdx.x] - 1;
            col_idx[at] = c;
            values[at] = v;
        }
        const int32_t chunk_total = scan[255];
        __syncthreads();
        base += chunk_total;
    }
}

CU_OP(csr_count)(jp_ctx ctx, int64_t *nnz, const float *dense, int32_t rows, int32_t cols, float threshold) {
    static const char *fn = "jp_csr_count";
    jp_status st;
    *nnz = 0;
    if (!rows || !cols) return JP_OK;
    Ctx *c = impl(ctx);
    Scratch counts(c, sizeof(int32_t) * (size_t)rows), ptr(c, sizeof(int32_t) * ((size_t)rows + 1)), total(c, sizeof(int64_t));
    if (!counts.p || !ptr.p || !total.p) return jp_fail(JP_ERR_NO_MEMORY, fn, "no device memory for %d row counts", rows);
    JP_LAUNCH(k_csr_row_count, dim3((unsigned)rows), dim3(256), c->stream, counts.as<int32_t>(), dense, cols, threshold);
    JP_LAUNCH(k_csr_scan, dim3(1), dim3(32), c->stream, ptr.as<int32_t>(), counts.as<int32_t>(), rows, total.as<int64_t>());
    if ((st = launched(fn))) return st;
    /* the count is a host output: this op synchronises (it runs once per pruning step, not per batch) */
    st = cuda_status(cudaMemcpyAsync(nnz, total.p, sizeof(int64_t), cudaMemcpyDeviceToHost, c->stream), fn, "cudaMemcpyAsync");
    if (st == JP_OK) st = cuda_status(cudaStreamSynchronize(c->stream), fn, "cudaStreamSynchronize");
    return st;
}

CU_OP(csr_from_dense)(jp_ctx ctx, int32_t *row_ptr, int32_t *col_idx, float *values, const float *dense, int32_t rows, int32_t cols,
                      float threshold) {
    static const char *fn = "jp_csr_from_dense";
    jp_status st;
    Ctx *c = impl(ctx);
    if (!rows) return cuda_status(cudaMemsetAsync(row_ptr, 0, sizeof(int32_t), c->stream), fn, "cudaMemsetAsync");
    Scratch counts(c, sizeof(int32_t) * (size_t)rows);
    if (!counts.p) return jp_fail(JP_ERR_NO_MEMORY, fn, "no device memory for %d row counts", rows);
    if (cols > 0) {
        JP_LAUNCH(k_csr_row_count, dim3((unsigned)rows), dim3(256), c->stream, counts.as<int32_t>(), dense, cols, threshold);
    } else if ((st = cuda_status(cudaMemsetAsync(counts.p, 0, sizeof(int32_t) * (size_t)rows, c->stream), fn, "cudaMemsetAsync"))) {
        return st;
    }
    JP_LAUNCH(k_csr_scan, dim3(1), dim3(32), c->stream, row_ptr, counts.as<int32_t>(), rows, (int64_t *)nullptr);
    if (cols > 0 && col_idx && values)
        JP_LAUNCH(k_csr_fill, dim3((unsigned)rows), dim3(256), c->stream, col_idx, values, row_ptr, dense, cols, threshold);
    /* col_idx/values may be NULL only for an all-zero matrix (the caller sized them from jp_csr_count) */
    return launched(fn);
}

/* one block per (column tile of p*q, output channel k, image n): the row's nonzeros are staged in
 * shared memory in chunks and every thread applies them to its output pixel, so the work is
 * proportional to the nonzeros */
__global__ void __launch_bounds__(256) k_csr_conv(ConvGeom g, float *y, const float *x, const int32_t *row_ptr, const int32_t *col_idx,
                                                  const float *values, const float *bias) {
    __shared__ float sv[256];
    __shared__ int32_t sc[256];
    const int k = blockIdx.y, n = blockIdx.z, pq = blockIdx.x * blockDim.x + threadIdx.x;
    const int PQ = g.P * g.Q, grp = k / g.Kg, rs = g.R * g.S;
    const int h0 = (pq < PQ ? pq / g.Q : 0) * g.sh - g.ph, w0 = (pq < PQ ? pq % g.Q : 0) * g.sw - g.pw;
    const float *xn = x + ((int64_t)n * g.C + (int64_t)grp * g.Cg) * g.H * g.W;
    float acc = bias ? bias[k] : 0.f;
    const int beg = row_ptr[k], end = row_ptr[k + 1];
    for (int j0 = beg; j0 < end; j0 += 256) {
        const int j = j0 + threadIdx.x;
        if (j < end) { sv[threadIdx.x] = values[j]; sc[threadIdx.x] = col_idx[j]; }
        __syncthreads();
        const int cnt = min(256, end - j0);
        for (int t = 0; t < cnt; t++) {
            const int col = sc[t], ci = col / rs, rr = col % rs, r = rr / g.S, s = rr % g.S;
            const int h = h0 + r * g.dh, w = w0 + s * g.dw;
            if (h >= 0 && h < g.H && w >= 0 && w < g.W) acc += sv[t] * xn[((int64_t)ci * g.H + h) * g.W + w];
        }
        __syncthreads();
    }
    if (pq < PQ) y[((int64_t)n * g.K + k) * PQ + pq] = acc;
}

CU_OP(conv2d_csr_fwd)(jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const int32_t *row_ptr, const int32_t *col_idx,
                      const float *values, const float *bias) {
    static const char *fn = "jp_conv2d_csr_fwd";
    /* row_ptr, col_idx and values are device arrays: their structure is the converter's
     * (jp_csr_from_dense) or was validated by the caller; the kernel skips out-of-image taps */
    Ctx *c = impl(ctx);
    ConvGeom g = geom(d);
    JP_CHECK(g.K <= 65535 && g.N <= 65535, fn, "k=%d or n=%d above 65535", g.K, g.N);
    dim3 grid((g.P * g.Q + 255) / 256, g.K, g.N);
    JP_LAUNCH(k_csr_conv, grid, dim3(256), c->stream, g, y, x, row_ptr, col_idx, values, bias);
    return launched(fn);
}
