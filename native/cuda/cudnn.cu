/* cudnn.cu - cuDNN as the baseline for dense convolution ("kernel 0" of the GPU benchmarks),
 * selected per context with jp_ctx_set_option(ctx, "conv", "cudnn").
 *
 * cuDNN is never needed to build or link: libcudnn.so.9 is dlopen'ed on first use (JPRUNE_CUDNN may
 * name the file; otherwise the loader's search path, which on the GPU machine gpu-suite.sh points
 * at the Python install's nvidia/cudnn/lib). No cuDNN header is available here, so the few
 * documented cuDNN 9 entry points and enum values used are declared below. FP32 runs with
 * CUDNN_FMA_MATH (no silent TF32), TF32 with CUDNN_TENSOR_OP_MATH, following the context's tf32
 * option. Algorithms come from cuDNN's heuristics (the _v7 queries), cached per shape. */
#include "common.cuh"

#include <cstdlib>
#include <cstring>
#include <map>
#include <tuple>

using namespace jpcuda;

#ifdef JP_EMU_BUILD

extern "C" jp_status jp_cudnn_available(Ctx *, const char **why) {
    *why = "the cuda-emu backend has no cuDNN (it runs the CUDA kernels on the CPU)";
    return JP_ERR_UNSUPPORTED;
}
extern "C" void jp_cudnn_destroy(Ctx *) {}
extern "C" jp_status jp_cudnn_conv_fwd(Ctx *, const jp_conv2d_desc *, float *, const float *, const float *, const float *) {
    return jp_fail(JP_ERR_UNSUPPORTED, "jp_conv2d_fwd", "cuDNN is not available in cuda-emu");
}
extern "C" jp_status jp_cudnn_conv_bwd_data(Ctx *, const jp_conv2d_desc *, float *, const float *, const float *) {
    return jp_fail(JP_ERR_UNSUPPORTED, "jp_conv2d_bwd_data", "cuDNN is not available in cuda-emu");
}
extern "C" jp_status jp_cudnn_conv_bwd_filter(Ctx *, const jp_conv2d_desc *, float *, const float *, const float *) {
    return jp_fail(JP_ERR_UNSUPPORTED, "jp_conv2d_bwd_filter", "cuDNN is not available in cuda-emu");
}

#else

#include <dlfcn.h>

namespace {

/* ---- the cuDNN 9 API subset (documented signatures and enum values) ---- */
typedef int cudnnStatus_t;
typedef void *cudnnHandle_t;
typedef void *cudnnTensorDescriptor_t;
typedef void *cudnnFilterDescriptor_t;
typedef void *cudnnConvolutionDescriptor_t;
enum { CUDNN_STATUS_SUCCESS = 0 };
enum { CUDNN_TENSOR_NCHW = 0 };
enum { CUDNN_DATA_FLOAT = 0 };
enum { CUDNN_CROSS_CORRELATION = 1 };
enum { CUDNN_DEFAULT_MATH = 0, CUDNN_TENSOR_OP_MATH = 1, CUDNN_FMA_MATH = 3 };
struct AlgoPerf {  // cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t share this layout
    int algo;
    cudnnStatus_t status;
    float time;
    size_t memory;
    int determinism;
    int mathType;
    int reserved[3];
};

struct Api {
    void *lib = nullptr;
    const char *(*GetErrorString)(cudnnStatus_t);
    cudnnStatus_t (*Create)(cudnnHandle_t *);
    cudnnStatus_t (*Destroy)(cudnnHandle_t);
    cudnnStatus_t (*SetStream)(cudnnHandle_t, cudaStream_t);
    cudnnStatus_t (*CreateTensorDescriptor)(cudnnTensorDescriptor_t *);
    cudnnStatus_t (*SetTensor4dDescriptor)(cudnnTensorDescriptor_t, int, int, int, int, int, int);
    cudnnStatus_t (*DestroyTensorDescriptor)(cudnnTensorDescriptor_t);
    cudnnStatus_t (*CreateFilterDescriptor)(cudnnFilterDescriptor_t *);
    cudnnStatus_t (*SetFilter4dDescriptor)(cudnnFilterDescriptor_t, int, int, int, int, int, int);
    cudnnStatus_t (*DestroyFilterDescriptor)(cudnnFilterDescriptor_t);
    cudnnStatus_t (*CreateConvolutionDescriptor)(cudnnConvolutionDescriptor_t *);
    cudnnStatus_t (*SetConvolution2dDescriptor)(cudnnConvolutionDescriptor_t, int, int, int, int, int, int, int, int);
    cudnnStatus_t (*SetConvolutionGroupCount)(cudnnConvolutionDescriptor_t, int);
    cudnnStatus_t (*SetConvolutionMathType)(cudnnConvolutionDescriptor_t, int);
    cudnnStatus_t (*DestroyConvolutionDescriptor)(cudnnConvolutionDescriptor_t);
    cudnnStatus_t (*GetFwdAlgo)(cudnnHandle_t, cudnnTensorDescriptor_t, cudnnFilterDescriptor_t, cudnnConvolutionDescriptor_t,
                                cudnnTensorDescriptor_t, int, int *, AlgoPerf *);
    cudnnStatus_t (*GetFwdWs)(cudnnHandle_t, cudnnTensorDescriptor_t, cudnnFilterDescriptor_t, cudnnConvolutionDescriptor_t,
                              cudnnTensorDescriptor_t, int, size_t *);
    cudnnStatus_t (*Fwd)(cudnnHandle_t, const void *, cudnnTensorDescriptor_t, const void *, cudnnFilterDescriptor_t, const void *,
                         cudnnConvolutionDescriptor_t, int, void *, size_t, const void *, cudnnTensorDescriptor_t, void *);
    cudnnStatus_t (*GetBwdDataAlgo)(cudnnHandle_t, cudnnFilterDescriptor_t, cudnnTensorDescriptor_t, cudnnConvolutionDescriptor_t,
                                    cudnnTensorDescriptor_t, int, int *, AlgoPerf *);
    cudnnStatus_t (*GetBwdDataWs)(cudnnHandle_t, cudnnFilterDescriptor_t, cudnnTensorDescriptor_t, cudnnConvolutionDescriptor_t,
                                  cudnnTensorDescriptor_t, int, size_t *);
    cudnnStatus_t (*BwdData)(cudnnHandle_t, const void *, cudnnFilterDescriptor_t, const void *, cudnnTensorDescriptor_t, const void *,
                             cudnnConvolutionDescriptor_t, int, void *, size_t, const void *, cudnnTensorDescriptor_t, void *);
    cudnnStatus_t (*GetBwdFilterAlgo)(cudnnHandle_t, cudnnTensorDescriptor_t, cudnnTensorDescriptor_t, cudnnConvolutionDescriptor_t,
                                      cudnnFilterDescriptor_t, int, int *, AlgoPerf *);
    cudnnStatus_t (*GetBwdFilterWs)(cudnnHandle_t, cudnnTensorDescriptor_t, cudnnTensorDescriptor_t, cudnnConvolutionDescriptor_t,
                                    cudnnFilterDescriptor_t, int, size_t *);
    cudnnStatus_t (*BwdFilter)(cudnnHandle_t, const void *, cudnnTensorDescriptor_t, const void *, cudnnTensorDescriptor_t, const void *,
                               cudnnConvolutionDescriptor_t, int, void *, size_t, const void *, cudnnFilterDescriptor_t, void *);
};

std::mutex g_load_mu;
Api g_api;
int g_loaded = 0;  // 0 not tried, 1 ok, -1 failed
char g_why[512];

template <class F> bool sym(F &f, const char *name) {
    f = reinterpret_cast<F>(dlsym(g_api.lib, name));
    if (!f) snprintf(g_why, sizeof g_why, "%s lacks %s", "libcudnn", name);
    return f != nullptr;
}

bool load() {
    std::lock_guard<std::mutex> lock(g_load_mu);
    if (g_loaded) return g_loaded > 0;
    const char *path = getenv("JPRUNE_CUDNN");
    if (!path || !*path) path = "libcudnn.so.9";
    g_api.lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!g_api.lib) {
        snprintf(g_why, sizeof g_why, "dlopen(%s) failed: %s (set JPRUNE_CUDNN or LD_LIBRARY_PATH)", path, dlerror());
        g_loaded = -1;
        return false;
    }
    bool ok = sym(g_api.GetErrorString, "cudnnGetErrorString") && sym(g_api.Create, "cudnnCreate") && sym(g_api.Destroy, "cudnnDestroy") &&
              sym(g_api.SetStream, "cudnnSetStream") && sym(g_api.CreateTensorDescriptor, "cudnnCreateTensorDescriptor") &&
              sym(g_api.SetTensor4dDescriptor, "cudnnSetTensor4dDescriptor") &&
              sym(g_api.DestroyTensorDescriptor, "cudnnDestroyTensorDescriptor") &&
              sym(g_api.CreateFilterDescriptor, "cudnnCreateFilterDescriptor") &&
              sym(g_api.SetFilter4dDescriptor, "cudnnSetFilter4dDescriptor") &&
              sym(g_api.DestroyFilterDescriptor, "cudnnDestroyFilterDescriptor") &&
              sym(g_api.CreateConvolutionDescriptor, "cudnnCreateConvolutionDescriptor") &&
              sym(g_api.SetConvolution2dDescriptor, "cudnnSetConvolution2dDescriptor") &&
              sym(g_api.SetConvolutionGroupCount, "cudnnSetConvolutionGroupCount") &&
              sym(g_api.SetConvolutionMathType, "cudnnSetConvolutionMathType") &&
              sym(g_api.DestroyConvolutionDescriptor, "cudnnDestroyConvolutionDescriptor") &&
              sym(g_api.GetFwdAlgo, "cudnnGetConvolutionForwardAlgorithm_v7") &&
              sym(g_api.GetFwdWs, "cudnnGetConvolutionForwardWorkspaceSize") && sym(g_api.Fwd, "cudnnConvolutionForward") &&
              sym(g_api.GetBwdDataAlgo, "cudnnGetConvolutionBackwardDataAlgorithm_v7") &&
              sym(g_api.GetBwdDataWs, "cudnnGetConvolutionBackwardDataWorkspaceSize") &&
              sym(g_api.BwdData, "cudnnConvolutionBackwardData") &&
              sym(g_api.GetBwdFilterAlgo, "cudnnGetConvolutionBackwardFilterAlgorithm_v7") &&
              sym(g_api.GetBwdFilterWs, "cudnnGetConvolutionBackwardFilterWorkspaceSize") &&
              sym(g_api.BwdFilter, "cudnnConvolutionBackwardFilter");
    g_loaded = ok ? 1 : -1;
    return ok;
}

jp_status fail(const char *fn, const char *what, cudnnStatus_t s) {
    return jp_fail(JP_ERR_BACKEND, fn, "cuDNN %s failed: %s (status %d)", what, g_api.GetErrorString ? g_api.GetErrorString(s) : "?", s);
}

/* descriptors for one call, destroyed with it */
struct Descs {
    cudnnTensorDescriptor_t x = nullptr, y = nullptr;
    cudnnFilterDescriptor_t w = nullptr;
    cudnnConvolutionDescriptor_t conv = nullptr;
    ~Descs() {
        if (x) g_api.DestroyTensorDescriptor(x);
        if (y) g_api.DestroyTensorDescriptor(y);
        if (w) g_api.DestroyFilterDescriptor(w);
        if (conv) g_api.DestroyConvolutionDescriptor(conv);
    }
};

#define CK(call, what) do { cudnnStatus_t s_ = (call); if (s_ != CUDNN_STATUS_SUCCESS) return fail(fn, what, s_); } while (0)

jp_status setup(Ctx *c, const char *fn, const jp_conv2d_desc *d, Descs &ds) {
    if (!load()) return jp_fail(JP_ERR_UNSUPPORTED, fn, "cuDNN unavailable: %s", g_why);
    {
        std::lock_guard<std::mutex> lock(c->cudnn_mu);
        if (!c->cudnn) {
            cudnnHandle_t h = nullptr;
            CK(g_api.Create(&h), "cudnnCreate");
            CK(g_api.SetStream(h, c->stream), "cudnnSetStream");
            c->cudnn = h;
        }
    }
    const int P = jp_conv_out_h(d), Q = jp_conv_out_w(d);
    CK(g_api.CreateTensorDescriptor(&ds.x), "cudnnCreateTensorDescriptor");
    CK(g_api.CreateTensorDescriptor(&ds.y), "cudnnCreateTensorDescriptor");
    CK(g_api.CreateFilterDescriptor(&ds.w), "cudnnCreateFilterDescriptor");
    CK(g_api.CreateConvolutionDescriptor(&ds.conv), "cudnnCreateConvolutionDescriptor");
    CK(g_api.SetTensor4dDescriptor(ds.x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, d->n, d->c, d->h, d->w), "cudnnSetTensor4dDescriptor(x)");
    CK(g_api.SetTensor4dDescriptor(ds.y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, d->n, d->k, P, Q), "cudnnSetTensor4dDescriptor(y)");
    CK(g_api.SetFilter4dDescriptor(ds.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, d->k, d->c / d->groups, d->r, d->s), "cudnnSetFilter4dDescriptor");
    CK(g_api.SetConvolution2dDescriptor(ds.conv, d->pad_h, d->pad_w, d->stride_h, d->stride_w, d->dil_h, d->dil_w, CUDNN_CROSS_CORRELATION,
                                        CUDNN_DATA_FLOAT), "cudnnSetConvolution2dDescriptor");
    CK(g_api.SetConvolutionGroupCount(ds.conv, d->groups), "cudnnSetConvolutionGroupCount");
    CK(g_api.SetConvolutionMathType(ds.conv, c->tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH), "cudnnSetConvolutionMathType");
    return JP_OK;
}

/* heuristic algorithm per (op, shape, math), cached process-wide */
typedef std::tuple<int, int, int, int, int, int, int, int, int, int, int, int, int, int, int, int> Key;
std::mutex g_algo_mu;
std::map<Key, std::pair<int, size_t>> g_algos;

Key key(int op, int tf32, const jp_conv2d_desc *d) {
    return Key(op, tf32, d->n, d->c, d->h, d->w, d->k, d->r, d->s, d->stride_h, d->stride_w, d->pad_h, d->pad_w, d->dil_h, d->dil_w, d->groups);
}

template <class Query, class WsQuery>
jp_status pick(const char *fn, int op, Ctx *c, const jp_conv2d_desc *d, Query query, WsQuery ws_query, int *algo, size_t *ws) {
    Key k = key(op, c->tf32, d);
    {
        std::lock_guard<std::mutex> lock(g_algo_mu);
        auto it = g_algos.find(k);
        if (it != g_algos.end()) { *algo = it->second.first; *ws = it->second.second; return JP_OK; }
    }
    AlgoPerf perf[16];
    int n = 0;
    CK(query(16, &n, perf), "algorithm query");
    int chosen = -1;
    for (int i = 0; i < n && chosen < 0; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS) chosen = perf[i].algo;
    if (chosen < 0) return jp_fail(JP_ERR_UNSUPPORTED, fn, "cuDNN offers no algorithm for this convolution");
    size_t bytes = 0;
    CK(ws_query(chosen, &bytes), "workspace query");
    std::lock_guard<std::mutex> lock(g_algo_mu);
    g_algos[k] = std::make_pair(chosen, bytes);
    *algo = chosen;
    *ws = bytes;
    return JP_OK;
}

__global__ void k_add_bias(float *y, const float *bias, int K, int64_t PQ, int64_t n) {
    JP_GRID_STRIDE(i, n) y[i] += bias[(i / PQ) % K];
}

}  // namespace

extern "C" jp_status jp_cudnn_available(Ctx *c, const char **why) {
    (void)c;
    if (load()) return JP_OK;
    *why = g_why;
    return JP_ERR_UNSUPPORTED;
}

extern "C" void jp_cudnn_destroy(Ctx *c) {
    if (c->cudnn && g_loaded > 0) g_api.Destroy(c->cudnn);
    c->cudnn = nullptr;
}

namespace {
/* one cuDNN convolution call: descriptors, the cached algorithm and its workspace, then `exec`
 * (query(h, ds, req, n, perf), ws_query(h, ds, algo, bytes), exec(h, ds, algo, workspace, bytes)) */
template <class Query, class WsQuery, class Exec>
jp_status run_conv(Ctx *c, const char *fn, int op, const jp_conv2d_desc *d, Query query, WsQuery ws_query, Exec exec, const char *what) {
    Descs ds;
    jp_status st = setup(c, fn, d, ds);
    if (st) return st;
    cudnnHandle_t h = c->cudnn;
    int algo = 0;
    size_t ws = 0;
    st = pick(fn, op, c, d, [&](int req, int *n, AlgoPerf *p) { return query(h, ds, req, n, p); },
              [&](int a, size_t *b) { return ws_query(h, ds, a, b); }, &algo, &ws);
    if (st) return st;
    Scratch work(c, ws ? ws : 1);
    if (!work.p) return jp_fail(JP_ERR_NO_MEMORY, fn, "no device memory for a %zu-byte cuDNN workspace", ws);
    CK(exec(h, ds, algo, work.p, ws), what);
    return JP_OK;
}
const float kOne = 1.f, kZero = 0.f;
}  // namespace

extern "C" jp_status jp_cudnn_conv_fwd(Ctx *c, const jp_conv2d_desc *d, float *y, const float *x, const float *w, const float *bias) {
    static const char *fn = "jp_conv2d_fwd";
    jp_status st = run_conv(c, fn, 0, d,
        [](cudnnHandle_t h, Descs &ds, int req, int *n, AlgoPerf *p) { return g_api.GetFwdAlgo(h, ds.x, ds.w, ds.conv, ds.y, req, n, p); },
        [](cudnnHandle_t h, Descs &ds, int a, size_t *b) { return g_api.GetFwdWs(h, ds.x, ds.w, ds.conv, ds.y, a, b); },
        [&](cudnnHandle_t h, Descs &ds, int a, void *ws, size_t bytes) {
            return g_api.Fwd(h, &kOne, ds.x, x, ds.w, w, ds.conv, a, ws, bytes, &kZero, ds.y, y);
        }, "cudnnConvolutionForward");
    if (st || !bias) return st;
    const int64_t PQ = (int64_t)jp_conv_out_h(d) * jp_conv_out_w(d), n = (int64_t)d->n * d->k * PQ;
    JP_LAUNCH(k_add_bias, grid1d(c, n), dim3(256), c->stream, y, bias, d->k, PQ, n);
    return launched(fn);
}

extern "C" jp_status jp_cudnn_conv_bwd_data(Ctx *c, const jp_conv2d_desc *d, float *dx, const float *dy, const float *w) {
    return run_conv(c, "jp_conv2d_bwd_data", 1, d,
        [](cudnnHandle_t h, Descs &ds, int req, int *n, AlgoPerf *p) { return g_api.GetBwdDataAlgo(h, ds.w, ds.y, ds.conv, ds.x, req, n, p); },
        [](cudnnHandle_t h, Descs &ds, int a, size_t *b) { return g_api.GetBwdDataWs(h, ds.w, ds.y, ds.conv, ds.x, a, b); },
        [&](cudnnHandle_t h, Descs &ds, int a, void *ws, size_t bytes) {
            return g_api.BwdData(h, &kOne, ds.w, w, ds.y, dy, ds.conv, a, ws, bytes, &kZero, ds.x, dx);
        }, "cudnnConvolutionBackwardData");
}

extern "C" jp_status jp_cudnn_conv_bwd_filter(Ctx *c, const jp_conv2d_desc *d, float *dw, const float *dy, const float *x) {
    return run_conv(c, "jp_conv2d_bwd_filter", 2, d,
        [](cudnnHandle_t h, Descs &ds, int req, int *n, AlgoPerf *p) { return g_api.GetBwdFilterAlgo(h, ds.x, ds.y, ds.conv, ds.w, req, n, p); },
        [](cudnnHandle_t h, Descs &ds, int a, size_t *b) { return g_api.GetBwdFilterWs(h, ds.x, ds.y, ds.conv, ds.w, a, b); },
        [&](cudnnHandle_t h, Descs &ds, int a, void *ws, size_t bytes) {
            return g_api.BwdFilter(h, &kOne, ds.x, x, ds.y, dy, ds.conv, a, ws, bytes, &kZero, ds.w, dw);
        }, "cudnnConvolutionBackwardFilter");
}

#endif
