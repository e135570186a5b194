/*
 * jprune.h - the whole public C ABI of libjprune (prefix jp_).
 *
 * Conventions (said once, here):
 *  - Every function returns jp_status (0 = JP_OK) unless it says otherwise; none aborts or prints.
 *    On failure jp_last_error() returns a per-thread message that starts with the function name.
 *  - The first argument is the context; it picks the backend (CPU, CUDA, CUDA emulation).
 *    Argument order: context, descriptor, outputs, const inputs, then sizes/scalars.
 *  - Pointers to float/int32 data are device pointers of the context (host memory for the CPU
 *    backend). Pointers to descriptors, and outputs named *_host, are host memory.
 *  - Tensors are dense, row-major, NCHW. "outer, channels, inner" describes any tensor viewed as
 *    [outer][channels][inner]: a weight [K][C][R][S] is (1, K, C*R*S) for output channels and
 *    (K, C, R*S) for input channels; an activation [N][C][H][W] is (N, C, H*W).
 *  - Gradient rule: every backward OVERWRITES its outputs (no accumulation); callers that need
 *    accumulation add the result themselves. Optimizer steps update their state in place.
 *  - Nullable pointers are marked "nullable"; all others must be valid.
 *
 * This header is written in a restricted C subset so that the Java bindings can be generated from
 * it without jextract (bindings/src/build/Jextract.java documents the subset and rejects anything
 * else): one declaration per line for struct fields, #define NAME <integer>, typedef struct
 * {...} name;, opaque handle typedefs, and prototypes of the form JP_API <type> name(<params>);
 */
#ifndef JPRUNE_H
#define JPRUNE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define JP_API __declspec(dllexport)
#else
#define JP_API __attribute__((visibility("default")))
#endif

#define JP_ABI_VERSION 1

/* status codes */
#define JP_OK 0
#define JP_ERR_INVALID 1
#define JP_ERR_NO_MEMORY 2
#define JP_ERR_UNSUPPORTED 3
#define JP_ERR_BACKEND 4
#define JP_ERR_INTERNAL 5

/* devices */
#define JP_DEVICE_CPU 0
#define JP_DEVICE_CUDA 1
#define JP_DEVICE_CUDA_EMU 2

/* CPU instruction sets (jp_cpu_isa / jp_cpu_set_isa) */
#define JP_ISA_SCALAR 0
#define JP_ISA_AVX2 1
#define JP_ISA_AVX512 2

/* activations */
#define JP_ACT_IDENTITY 0
#define JP_ACT_RELU 1
#define JP_ACT_LEAKY_RELU 2
#define JP_ACT_SILU 3
#define JP_ACT_SIGMOID 4

/* reductions */
#define JP_REDUCE_SUM 0
#define JP_REDUCE_SUMSQ 1
#define JP_REDUCE_ABSMAX 2

typedef int32_t jp_status;

/* An execution context: a device, its backend and its per-context settings. Thread-safe: ops may
 * be issued on one context from several threads at once (the CPU backend keeps scratch memory per
 * OS thread). */
typedef struct jp_ctx_s *jp_ctx;

typedef struct jp_conv2d_desc {
    int32_t n;
    int32_t c;
    int32_t h;
    int32_t w;
    int32_t k;
    int32_t r;
    int32_t s;
    int32_t stride_h;
    int32_t stride_w;
    int32_t pad_h;
    int32_t pad_w;
    int32_t dil_h;
    int32_t dil_w;
    int32_t groups;
} jp_conv2d_desc;

/* C[m][n] = alpha * op(A)[m][k] * op(B)[k][n] + beta * C, row-major, op = transpose if trans_* */
typedef struct jp_gemm_desc {
    int32_t m;
    int32_t n;
    int32_t k;
    int32_t trans_a;
    int32_t trans_b;
    int32_t lda;
    int32_t ldb;
    int32_t ldc;
    float alpha;
    float beta;
} jp_gemm_desc;

typedef struct jp_pool2d_desc {
    int32_t n;
    int32_t c;
    int32_t h;
    int32_t w;
    int32_t kernel;
    int32_t stride;
    int32_t pad;      /* padding before (top/left) */
    int32_t pad_end;  /* padding after (bottom/right): = pad for symmetric pooling; darknet's 2x2 stride-1 maxpool uses 0 / 1 */
} jp_pool2d_desc;

/* x viewed as [n][c][hw]; statistics per channel over n and hw */
typedef struct jp_bn_desc {
    int32_t n;
    int32_t c;
    int32_t hw;
    float eps;
    float momentum;
} jp_bn_desc;

typedef struct jp_sgd_desc {
    float lr;
    float momentum;
    float weight_decay;
    int32_t nesterov;
} jp_sgd_desc;

typedef struct jp_adamw_desc {
    float lr;
    float beta1;
    float beta2;
    float eps;
    float weight_decay;
    int32_t step;
} jp_adamw_desc;

/* One Detect level of the YOLOv5 loss (Ultralytics utils/loss.py ComputeLoss): the raw output and its
 * gradient are [n][na][no][cells] (no = 5 + classes, cells = ny * nx). The scales are the factors the
 * loss puts on each term's sum, so loss = scale * sum and grad = scale * d sum: */
typedef struct jp_yolo_desc {
    int32_t n;          /* images */
    int32_t na;         /* anchors per cell */
    int32_t no;         /* outputs per anchor: x, y, w, h, objectness, classes */
    int32_t cells;      /* ny * nx */
    int32_t nx;         /* grid width (a match's cell is gj * nx + gi) */
    float box_scale;    /* hyp box * batch / matches of the level: per (1 - CIoU) */
    float obj_scale;    /* hyp obj * batch * balance / (n * na * cells): per objectness BCE */
    float cls_scale;    /* hyp cls * batch / (matches * classes): per class BCE; 0 skips classes */
    float cls_pos;      /* class targets after label smoothing: 1 - eps/2 */
    float cls_neg;      /* eps/2 */
} jp_yolo_desc;

/* ---- runtime ---- */
JP_API int32_t jp_abi_version(void);
JP_API const char *jp_last_error(void);
JP_API jp_status jp_ctx_create(int32_t device, int32_t ordinal, jp_ctx *out_host);
JP_API jp_status jp_ctx_destroy(jp_ctx ctx);
/* worker threads the context's ops may use (CPU backends); 0 = all cores */
JP_API jp_status jp_ctx_set_threads(jp_ctx ctx, int32_t threads);
/* worker threads for the ops this OS thread issues from now on, on every CPU context (a request
 * thread that runs its own forward pass beside others: 1); 0 = the context's setting */
JP_API jp_status jp_set_call_threads(int32_t threads);
/* the CPU backend's team sizing (cpu/team.c), first n of: cores in the affinity mask, the adaptive
 * thread limit now, late worker starts seen, limit drops, limit rises, adaptive (1) or fixed (0) */
JP_API jp_status jp_cpu_team_stats(int64_t *out_host, int32_t n);
/* 1: the adaptive thread limit (the default; JPRUNE_ADAPTIVE_THREADS=0 starts with 0), 0: teams of the
 * asked size whatever the machine does; either way the limit restarts at all cores */
JP_API jp_status jp_cpu_set_adaptive(int32_t on);
/* pins the thread limit at 1..cores (adaptive off: as if the machine gave the process that many
 * cores), 0 unpins (adaptive on, from all cores); results never depend on the limit */
JP_API jp_status jp_cpu_pin_limit(int32_t limit);
/* backend settings by name; unknown keys or values fail with JP_ERR_UNSUPPORTED. CUDA backends:
 * "conv" = "native" | "cudnn" (dense conv through cuDNN where libcudnn.so.9 loads), "tf32" = "0" | "1"
 * (tensor-core TF32 for dense and channel-sparse conv and sgemm: both factors of every product rounded
 * to TF32 as cvt.rna.tf32.f32 rounds, FP32 sums), "pipeline" = "0" | "1" | "2" (which FP32 conv kernel:
 * conv2d.cu v4, v5 or v7). The CPU backend takes conv=native and tf32=0 only. */
JP_API jp_status jp_ctx_set_option(jp_ctx ctx, const char *key, const char *value);
JP_API int32_t jp_ctx_device(jp_ctx ctx);
/* a short text naming the backend, its ISA/GPU and build flags */
JP_API const char *jp_ctx_describe(jp_ctx ctx);
/* the best ISA this CPU supports, and the one in use; jp_cpu_set_isa may only lower it */
JP_API int32_t jp_cpu_isa_supported(void);
JP_API int32_t jp_cpu_isa(void);
JP_API jp_status jp_cpu_set_isa(int32_t isa);
/* ops of the backend table, for introspection and the "every op implemented" test */
JP_API int32_t jp_op_count(void);
JP_API const char *jp_op_name(int32_t index);
JP_API int32_t jp_ctx_implements(jp_ctx ctx, int32_t index);
/* a trivial call, to measure the cost of a downcall */
JP_API int32_t jp_noop(int32_t x);

/* ---- memory ---- */
JP_API jp_status jp_malloc(jp_ctx ctx, int64_t bytes, void **out_host);
JP_API jp_status jp_free(jp_ctx ctx, void *ptr);
JP_API jp_status jp_copy_h2d(jp_ctx ctx, void *dst, const void *src_host, int64_t bytes);
JP_API jp_status jp_copy_d2h(jp_ctx ctx, void *dst_host, const void *src, int64_t bytes);
JP_API jp_status jp_copy_d2d(jp_ctx ctx, void *dst, const void *src, int64_t bytes);
/* dst (device) = src (host), asynchronously: the host bytes are staged in page-locked memory before
 * the call returns, and the copy runs on a stream of its own (CUDA), so it overlaps the work already
 * queued. Work queued after this call waits for the copy. The copy itself waits only for the work
 * queued before the previous jp_copy_h2d_async of this context: so dst must not be used by work queued
 * after that point and before this call (the Java InputStager alternates two buffers, each used by the
 * work of one step). The CPU backend copies at once. */
JP_API jp_status jp_copy_h2d_async(jp_ctx ctx, void *dst, const void *src_host, int64_t bytes);
JP_API jp_status jp_fill(jp_ctx ctx, float *dst, float value, int64_t n);
JP_API jp_status jp_sync(jp_ctx ctx);
/* bytes of device memory the context's allocations hold now (in_use) and keep from the device,
 * cached blocks included (reserved); for leak checks */
JP_API jp_status jp_mem_stats(jp_ctx ctx, int64_t *in_use_host, int64_t *reserved_host);

/* ---- dense linear algebra and convolution ---- */
JP_API jp_status jp_sgemm(jp_ctx ctx, const jp_gemm_desc *d, float *c, const float *a, const float *b);
/* y[n][k][ho][wo] = conv(x, w) + bias; w is [k][c/groups][r][s]; bias nullable */
JP_API jp_status jp_conv2d_fwd(jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const float *w, const float *bias);
/* y = act(conv(x, w) + bias), the activation (JP_ACT_*, alpha: leaky ReLU's slope) applied in the
 * convolution's epilogue while the output is in cache: inference's conv + (folded BN +) activation */
JP_API jp_status jp_conv2d_fwd_act(jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const float *w, const float *bias, int32_t act, float alpha);
/* Weights packed once for the forward kernel, for inference with fixed weights (the Detector's folded
 * convolutions): jp_conv2d_packed_size gives the floats the packed form of d's weights takes on ctx (0:
 * the backend has none for d; the form depends on the weights, channels, kernel size and groups of d,
 * not on n, h, w, stride or padding), jp_conv2d_pack writes it, and jp_conv2d_fwd_packed is
 * jp_conv2d_fwd_act with the packing skipped (the CPU then picks its kernel for packed weights, so the
 * result may differ from jp_conv2d_fwd_act's by float rounding; w is read where the kernel takes no
 * packed form: both are given, and the packed form must be that of w). */
JP_API jp_status jp_conv2d_packed_size(jp_ctx ctx, const jp_conv2d_desc *d, int64_t *floats_host);
JP_API jp_status jp_conv2d_pack(jp_ctx ctx, const jp_conv2d_desc *d, float *packed, int64_t floats, const float *w);
JP_API jp_status jp_conv2d_fwd_packed(jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const float *w, const float *packed, int64_t floats, const float *bias, int32_t act, float alpha);
JP_API jp_status jp_conv2d_bwd_data(jp_ctx ctx, const jp_conv2d_desc *d, float *dx, const float *dy, const float *w);
/* dw overwritten; db (nullable) overwritten with the sum of dy over n, ho, wo */
JP_API jp_status jp_conv2d_bwd_filter(jp_ctx ctx, const jp_conv2d_desc *d, float *dw, float *db, const float *dy, const float *x);

/* ---- channel-sparse convolution (groups == 1): only the listed input and output channels take
 * part. Equal to dense conv with w[k][c] zeroed where k or c is not listed and bias zeroed where k
 * is not listed; unlisted output channels of y are 0, unlisted input channels of dx are 0, and dw
 * is 0 outside the listed block. Index lists are device int32 arrays, strictly increasing. ---- */
JP_API jp_status jp_conv2d_cs_fwd(jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const float *w, const float *bias, const int32_t *in_idx, int32_t n_in, const int32_t *out_idx, int32_t n_out);
JP_API jp_status jp_conv2d_cs_bwd_data(jp_ctx ctx, const jp_conv2d_desc *d, float *dx, const float *dy, const float *w, const int32_t *in_idx, int32_t n_in, const int32_t *out_idx, int32_t n_out);
JP_API jp_status jp_conv2d_cs_bwd_filter(jp_ctx ctx, const jp_conv2d_desc *d, float *dw, float *db, const float *dy, const float *x, const int32_t *in_idx, int32_t n_in, const int32_t *out_idx, int32_t n_out);

/* ---- weight-sparse convolution: w as CSR with rows = k, cols = (c/groups)*r*s ---- */
/* number of entries with |value| > threshold */
JP_API jp_status jp_csr_count(jp_ctx ctx, int64_t *nnz_host, const float *dense, int32_t rows, int32_t cols, float threshold);
/* row_ptr has rows+1 entries; col_idx and values have nnz entries (from jp_csr_count) */
JP_API jp_status jp_csr_from_dense(jp_ctx ctx, int32_t *row_ptr, int32_t *col_idx, float *values, const float *dense, int32_t rows, int32_t cols, float threshold);
JP_API jp_status jp_conv2d_csr_fwd(jp_ctx ctx, const jp_conv2d_desc *d, float *y, const float *x, const int32_t *row_ptr, const int32_t *col_idx, const float *values, const float *bias);

/* ---- channel-mask kernels, on data viewed as [outer][channels][inner] ---- */
/* data[o][c][i] *= mask[c] */
JP_API jp_status jp_mask_channels(jp_ctx ctx, float *data, const float *mask, int64_t outer, int64_t channels, int64_t inner);
/* out[c] = sum |data[.][c][.]| (p = 1) or sqrt(sum data^2) (p = 2) */
JP_API jp_status jp_channel_norms(jp_ctx ctx, float *out, const float *data, int64_t outer, int64_t channels, int64_t inner, int32_t p);
/* grad[o][c][i] += lambda * scale[c] * data[o][c][i]  (group regularization / group lasso) */
JP_API jp_status jp_group_reg_grad(jp_ctx ctx, float *grad, const float *data, const float *scale, float lambda, int64_t outer, int64_t channels, int64_t inner);
/* dst[o][j][i] = src[o][idx[j]][i]; dst has n_idx channels, src has channels */
JP_API jp_status jp_gather_channels(jp_ctx ctx, float *dst, const float *src, const int32_t *idx, int32_t n_idx, int64_t outer, int64_t channels, int64_t inner);
/* dst[o][idx[j]][i] = src[o][j][i]; dst has channels, src has n_idx; other channels untouched */
JP_API jp_status jp_scatter_channels(jp_ctx ctx, float *dst, const float *src, const int32_t *idx, int32_t n_idx, int64_t outer, int64_t channels, int64_t inner);

/* ---- batch norm ---- */
/* training: batch statistics; writes save_mean/save_invstd and updates running stats:
 * running = (1 - momentum) * running + momentum * batch (running_var uses the unbiased variance) */
JP_API jp_status jp_batchnorm_fwd_train(jp_ctx ctx, const jp_bn_desc *d, float *y, float *save_mean, float *save_invstd, float *running_mean, float *running_var, const float *x, const float *gamma, const float *beta);
JP_API jp_status jp_batchnorm_fwd_infer(jp_ctx ctx, const jp_bn_desc *d, float *y, const float *x, const float *gamma, const float *beta, const float *running_mean, const float *running_var);
JP_API jp_status jp_batchnorm_bwd(jp_ctx ctx, const jp_bn_desc *d, float *dx, float *dgamma, float *dbeta, const float *dy, const float *x, const float *gamma, const float *save_mean, const float *save_invstd);

/* ---- activations (alpha: LeakyReLU slope) ---- */
JP_API jp_status jp_act_fwd(jp_ctx ctx, int32_t kind, float alpha, float *y, const float *x, int64_t n);
/* dx = dy * act'(x) */
JP_API jp_status jp_act_bwd(jp_ctx ctx, int32_t kind, float alpha, float *dx, const float *dy, const float *x, int64_t n);

/* ---- pooling, upsampling, channel copy ---- */
/* padding counts as -inf; argmax (device int32, same size as y) is the flat h*w index in x */
JP_API jp_status jp_maxpool2d_fwd(jp_ctx ctx, const jp_pool2d_desc *d, float *y, int32_t *argmax, const float *x);
JP_API jp_status jp_maxpool2d_bwd(jp_ctx ctx, const jp_pool2d_desc *d, float *dx, const float *dy, const int32_t *argmax);
/* nearest neighbour, integer scale: y is [n][c][h*scale][w*scale] */
JP_API jp_status jp_upsample_nearest_fwd(jp_ctx ctx, float *y, const float *x, int32_t n, int32_t c, int32_t h, int32_t w, int32_t scale);
JP_API jp_status jp_upsample_nearest_bwd(jp_ctx ctx, float *dx, const float *dy, int32_t n, int32_t c, int32_t h, int32_t w, int32_t scale);
/* dst[o][dst_off + j][i] = src[o][src_off + j][i] for j < count (concat, split and their grads) */
JP_API jp_status jp_channel_copy(jp_ctx ctx, float *dst, int64_t dst_channels, int64_t dst_off, const float *src, int64_t src_channels, int64_t src_off, int64_t count, int64_t outer, int64_t inner);

/* ---- elementwise and reductions ---- */
JP_API jp_status jp_add(jp_ctx ctx, float *y, const float *a, const float *b, int64_t n);
JP_API jp_status jp_mul(jp_ctx ctx, float *y, const float *a, const float *b, int64_t n);
/* y = alpha * x */
JP_API jp_status jp_scale(jp_ctx ctx, float *y, const float *x, float alpha, int64_t n);
/* y += alpha * x */
JP_API jp_status jp_axpy(jp_ctx ctx, float *y, const float *x, float alpha, int64_t n);
/* out (device, 1 float) = reduction of x */
JP_API jp_status jp_reduce(jp_ctx ctx, int32_t kind, float *out, const float *x, int64_t n);
/* out[c] = sum over outer and inner of x[o][c][i] (bias gradients) */
JP_API jp_status jp_sum_channels(jp_ctx ctx, float *out, const float *x, int64_t outer, int64_t channels, int64_t inner);

/* ---- optimizers; mask (nullable, one float per element): where mask == 0 the parameter, its
 * gradient's effect and its state stay 0, so pruned weights never come back ---- */
/* PyTorch semantics: g = grad + wd * p; buf = momentum * buf + g; p -= lr * (nesterov ? g + momentum * buf : buf) */
JP_API jp_status jp_sgd_step(jp_ctx ctx, const jp_sgd_desc *d, float *param, float *momentum_buf, const float *grad, const float *mask, int64_t n);
/* decoupled weight decay; bias correction with d->step (1-based) */
JP_API jp_status jp_adamw_step(jp_ctx ctx, const jp_adamw_desc *d, float *param, float *m, float *v, const float *grad, const float *mask, int64_t n);

/* ---- YOLO detection loss, one Detect level at a time; loss (device, 3 floats) accumulates
 * {box, objectness, class} (the caller zeroes it once per step) ---- */
/* grad overwritten: obj_scale * sigmoid(x) on the objectness outputs, 0 elsewhere; loss[1] +=
 * obj_scale * sum softplus(x) over them: the objectness BCE against target 0 everywhere */
JP_API jp_status jp_yolo_obj_loss(jp_ctx ctx, const jp_yolo_desc *d, float *loss, float *grad, const float *out);
/* The matched predictions, after jp_yolo_obj_loss. Matches come in groups, one group per distinct
 * (image, anchor, cell), in the order the loss assigned them; group g holds matches
 * group_start[g] .. group_start[g+1]-1 (group_start: n_groups + 1 int32, from 0, strictly
 * increasing), at group_cell[2g] = image * na + anchor and group_cell[2g+1] = gj * nx + gi. Each
 * match is JP_YOLO_MATCH floats: target x, y (cell offsets), w, h (grid units), anchor w, h (grid
 * units), class. Per match: the box (2 sigmoid(xy) - 0.5, (2 sigmoid(wh))^2 anchor) against the
 * target by CIoU (alpha held constant, as YOLOv5's no_grad): loss[0] += box_scale * (1 - CIoU); the
 * class BCE against the smoothed one-hot: loss[2] += cls_scale * sum; the group's last match sets
 * the objectness target t = max(CIoU, 0) (detached): loss[1] += obj_scale * (BCE(x, t) - BCE(x, 0)).
 * Gradients add into grad; matches of one group add in their order. */
#define JP_YOLO_MATCH 7
JP_API jp_status jp_yolo_match_loss(jp_ctx ctx, const jp_yolo_desc *d, float *loss, float *grad, const float *out, const float *match, const int32_t *group_start, const int32_t *group_cell, int32_t n_groups);
/* Detect's decode at inference (Ultralytics' Detect.forward, eval mode; its ONNX export's output0) for
 * anchor `anchor` of one level: s = sigmoid(raw) of that anchor's no outputs at every cell p = gy * nx +
 * gx, written as out row (image b) b * rows + row0 + anchor * cells + p of no floats: x = (2 s - 0.5 +
 * gx) * stride, y = (2 s - 0.5 + gy) * stride, w = (2 s)^2 * anchor_w, h = (2 s)^2 * anchor_h (pixels),
 * then objectness and classes = s. d: n, na, no, cells, nx (the loss scales are not read). */
JP_API jp_status jp_yolo_decode(jp_ctx ctx, const jp_yolo_desc *d, float *out, const float *raw, int32_t anchor, float anchor_w, float anchor_h, float stride, int32_t row0, int32_t rows);

#ifdef __cplusplus
}
#endif

#endif
