package org.jprune.engine.internal;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.jprune.bindings.jprune_h.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.jprune.bindings.jp_bn_desc;
import org.jprune.bindings.jp_conv2d_desc;
import org.jprune.bindings.jp_gemm_desc;
import org.jprune.bindings.jp_pool2d_desc;
import org.jprune.bindings.jp_adamw_desc;
import org.jprune.bindings.jp_sgd_desc;
import org.jprune.bindings.jp_yolo_desc;
import org.jprune.engine.NativeException;
import org.jprune.engine.ops.BnDesc;
import org.jprune.engine.ops.Conv2dDesc;
import org.jprune.engine.ops.DetectionLoss;
import org.jprune.engine.ops.GemmDesc;
import org.jprune.engine.ops.PoolDesc;

/** Kernels of one native context (CPU, CUDA or CUDA emulation) through the generated bindings. */
public final class NativeKernels implements Kernels {
    /* Descriptor structs are small and written right before each call: one per thread, owned by an
     * automatic arena, so a call never allocates and concurrent callers never share one. */
    private static final ThreadLocal<MemorySegment> DESC = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(128, 8));

    private final MemorySegment ctx;
    private final boolean hostMemory;
    private final String describe;

    public NativeKernels(int device, int ordinal) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            check(jp_ctx_create(device, ordinal, out), "jp_ctx_create");
            ctx = out.get(ADDRESS, 0);
        }
        hostMemory = device == JP_DEVICE_CPU();
        describe = cstring(jp_ctx_describe(ctx));
    }

    static String cstring(MemorySegment s) {
        return s.equals(MemorySegment.NULL) ? "" : s.reinterpret(4096).getString(0);
    }

    public static void check(int status, String fn) {
        if (status != 0) throw new NativeException(fn, status, cstring(jp_last_error()));
    }

    private static MemorySegment p(Buf b) { return b == null ? MemorySegment.NULL : MemorySegment.ofAddress(b.address); }

    @Override public String describe() { return describe; }

    @Override public void close() { check(jp_ctx_destroy(ctx), "jp_ctx_destroy"); }

    /** The raw context, for the benchmarks and the op-coverage test. */
    public MemorySegment context() { return ctx; }

    @Override
    public java.util.List<String> missingOps() {
        java.util.List<String> out = new java.util.ArrayList<>();
        for (int i = 0, n = jp_op_count(); i < n; i++) if (jp_ctx_implements(ctx, i) == 0) out.add(cstring(jp_op_name(i)));
        return out;
    }

    @Override public Buf allocFloats(long n) { return alloc(n * 4); }
    @Override public Buf allocInts(long n) { return alloc(n * 4); }

    private Buf alloc(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            check(jp_malloc(ctx, bytes, out), "jp_malloc");
            return Buf.nativeBuf(out.get(ADDRESS, 0).address(), bytes);
        }
    }

    @Override public void free(Buf b) { check(jp_free(ctx, p(b)), "jp_free"); }

    @Override public void upload(Buf dst, float[] src, int off, int n) {
        if (hostMemory) {
            MemorySegment.copy(src, off, MemorySegment.ofAddress(dst.address).reinterpret(dst.bytes), JAVA_FLOAT, 0, n);
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment stage = a.allocate(JAVA_FLOAT, n);
            MemorySegment.copy(src, off, stage, JAVA_FLOAT, 0, n);
            check(jp_copy_h2d(ctx, p(dst), stage, 4L * n), "jp_copy_h2d");
        }
    }

    @Override public void uploadAsync(Buf dst, float[] src, int off, int n) {
        if (hostMemory) {
            upload(dst, src, off, n);
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment stage = a.allocate(JAVA_FLOAT, n);
            MemorySegment.copy(src, off, stage, JAVA_FLOAT, 0, n);
            check(jp_copy_h2d_async(ctx, p(dst), stage, 4L * n), "jp_copy_h2d_async");  // staged again natively before it returns
        }
    }

    @Override public void download(Buf src, float[] dst, int off, int n) {
        if (hostMemory) {
            MemorySegment.copy(MemorySegment.ofAddress(src.address).reinterpret(src.bytes), JAVA_FLOAT, 0, dst, off, n);
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment stage = a.allocate(JAVA_FLOAT, n);
            check(jp_copy_d2h(ctx, stage, p(src), 4L * n), "jp_copy_d2h");
            MemorySegment.copy(stage, JAVA_FLOAT, 0, dst, off, n);
        }
    }

    @Override public void uploadInts(Buf dst, int[] src, int n) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment stage = a.allocate(JAVA_INT, Math.max(1, n));
            MemorySegment.copy(src, 0, stage, JAVA_INT, 0, n);
            check(jp_copy_h2d(ctx, p(dst), stage, 4L * n), "jp_copy_h2d");
        }
    }

    @Override public void downloadInts(Buf src, int[] dst, int n) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment stage = a.allocate(JAVA_INT, Math.max(1, n));
            check(jp_copy_d2h(ctx, stage, p(src), 4L * n), "jp_copy_d2h");
            MemorySegment.copy(stage, JAVA_INT, 0, dst, 0, n);
        }
    }

    @Override public void copy(Buf dst, Buf src, long n) { check(jp_copy_d2d(ctx, p(dst), p(src), 4 * n), "jp_copy_d2d"); }
    @Override public void fill(Buf dst, float value, long n) { check(jp_fill(ctx, p(dst), value, n), "jp_fill"); }
    @Override public void setThreads(int threads) { check(jp_ctx_set_threads(ctx, threads), "jp_ctx_set_threads"); }
    @Override public void sync() { check(jp_sync(ctx), "jp_sync"); }

    @Override public void setOption(String key, String value) {
        try (Arena a = Arena.ofConfined()) {
            int st = jp_ctx_set_option(ctx, a.allocateFrom(key), a.allocateFrom(value));
            if (st != 0) throw new IllegalArgumentException(new NativeException("jp_ctx_set_option", st, cstring(jp_last_error())).getMessage());
        }
    }

    @Override public long[] memStats() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment used = a.allocate(JAVA_LONG), reserved = a.allocate(JAVA_LONG);
            check(jp_mem_stats(ctx, used, reserved), "jp_mem_stats");
            return new long[] {used.get(JAVA_LONG, 0), reserved.get(JAVA_LONG, 0)};
        }
    }

    private static MemorySegment conv(Conv2dDesc d) {
        MemorySegment s = DESC.get();
        jp_conv2d_desc.n(s, d.n()); jp_conv2d_desc.c(s, d.c()); jp_conv2d_desc.h(s, d.h()); jp_conv2d_desc.w(s, d.w());
        jp_conv2d_desc.k(s, d.k()); jp_conv2d_desc.r(s, d.r()); jp_conv2d_desc.s(s, d.s());
        jp_conv2d_desc.stride_h(s, d.strideH()); jp_conv2d_desc.stride_w(s, d.strideW());
        jp_conv2d_desc.pad_h(s, d.padH()); jp_conv2d_desc.pad_w(s, d.padW());
        jp_conv2d_desc.dil_h(s, d.dilH()); jp_conv2d_desc.dil_w(s, d.dilW()); jp_conv2d_desc.groups(s, d.groups());
        return s;
    }

    private static MemorySegment bn(BnDesc d) {
        MemorySegment s = DESC.get();
        jp_bn_desc.n(s, d.n()); jp_bn_desc.c(s, d.c()); jp_bn_desc.hw(s, d.hw());
        jp_bn_desc.eps(s, d.eps()); jp_bn_desc.momentum(s, d.momentum());
        return s;
    }

    private static MemorySegment pool(PoolDesc d) {
        MemorySegment s = DESC.get();
        jp_pool2d_desc.n(s, d.n()); jp_pool2d_desc.c(s, d.c()); jp_pool2d_desc.h(s, d.h()); jp_pool2d_desc.w(s, d.w());
        jp_pool2d_desc.kernel(s, d.kernel()); jp_pool2d_desc.stride(s, d.stride()); jp_pool2d_desc.pad(s, d.pad()); jp_pool2d_desc.pad_end(s, d.padEnd());
        return s;
    }

    @Override public void sgemm(GemmDesc d, Buf c, Buf a, Buf b) {
        MemorySegment s = DESC.get();
        jp_gemm_desc.m(s, d.m()); jp_gemm_desc.n(s, d.n()); jp_gemm_desc.k(s, d.k());
        jp_gemm_desc.trans_a(s, d.transA() ? 1 : 0); jp_gemm_desc.trans_b(s, d.transB() ? 1 : 0);
        jp_gemm_desc.lda(s, d.lda()); jp_gemm_desc.ldb(s, d.ldb()); jp_gemm_desc.ldc(s, d.ldc());
        jp_gemm_desc.alpha(s, d.alpha()); jp_gemm_desc.beta(s, d.beta());
        check(jp_sgemm(ctx, s, p(c), p(a), p(b)), "jp_sgemm");
    }

    @Override public void conv2dFwd(Conv2dDesc d, Buf y, Buf x, Buf w, Buf bias) {
        check(jp_conv2d_fwd(ctx, conv(d), p(y), p(x), p(w), p(bias)), "jp_conv2d_fwd");
    }
    @Override public void conv2dFwdAct(Conv2dDesc d, Buf y, Buf x, Buf w, Buf bias, int act, float alpha) {
        check(jp_conv2d_fwd_act(ctx, conv(d), p(y), p(x), p(w), p(bias), act, alpha), "jp_conv2d_fwd_act");
    }
    @Override public long conv2dPackedSize(Conv2dDesc d) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_LONG);
            check(jp_conv2d_packed_size(ctx, conv(d), out), "jp_conv2d_packed_size");
            return out.get(JAVA_LONG, 0);
        }
    }
    @Override public void conv2dPack(Conv2dDesc d, Buf packed, long floats, Buf w) {
        check(jp_conv2d_pack(ctx, conv(d), p(packed), floats, p(w)), "jp_conv2d_pack");
    }
    @Override public void conv2dFwdPacked(Conv2dDesc d, Buf y, Buf x, Buf w, Buf packed, long floats, Buf bias, int act, float alpha) {
        check(jp_conv2d_fwd_packed(ctx, conv(d), p(y), p(x), p(w), p(packed), floats, p(bias), act, alpha), "jp_conv2d_fwd_packed");
    }
    @Override public void conv2dBwdData(Conv2dDesc d, Buf dx, Buf dy, Buf w) {
        check(jp_conv2d_bwd_data(ctx, conv(d), p(dx), p(dy), p(w)), "jp_conv2d_bwd_data");
    }
    @Override public void conv2dBwdFilter(Conv2dDesc d, Buf dw, Buf db, Buf dy, Buf x) {
        check(jp_conv2d_bwd_filter(ctx, conv(d), p(dw), p(db), p(dy), p(x)), "jp_conv2d_bwd_filter");
    }
    @Override public void conv2dCsFwd(Conv2dDesc d, Buf y, Buf x, Buf w, Buf bias, Buf inIdx, int nIn, Buf outIdx, int nOut) {
        check(jp_conv2d_cs_fwd(ctx, conv(d), p(y), p(x), p(w), p(bias), p(inIdx), nIn, p(outIdx), nOut), "jp_conv2d_cs_fwd");
    }
    @Override public void conv2dCsBwdData(Conv2dDesc d, Buf dx, Buf dy, Buf w, Buf inIdx, int nIn, Buf outIdx, int nOut) {
        check(jp_conv2d_cs_bwd_data(ctx, conv(d), p(dx), p(dy), p(w), p(inIdx), nIn, p(outIdx), nOut), "jp_conv2d_cs_bwd_data");
    }
    @Override public void conv2dCsBwdFilter(Conv2dDesc d, Buf dw, Buf db, Buf dy, Buf x, Buf inIdx, int nIn, Buf outIdx, int nOut) {
        check(jp_conv2d_cs_bwd_filter(ctx, conv(d), p(dw), p(db), p(dy), p(x), p(inIdx), nIn, p(outIdx), nOut), "jp_conv2d_cs_bwd_filter");
    }
    @Override public long csrCount(Buf dense, int rows, int cols, float threshold) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_LONG);
            check(jp_csr_count(ctx, out, p(dense), rows, cols, threshold), "jp_csr_count");
            return out.get(JAVA_LONG, 0);
        }
    }
    @Override public void csrFromDense(Buf rowPtr, Buf colIdx, Buf values, Buf dense, int rows, int cols, float threshold) {
        check(jp_csr_from_dense(ctx, p(rowPtr), p(colIdx), p(values), p(dense), rows, cols, threshold), "jp_csr_from_dense");
    }
    @Override public void conv2dCsrFwd(Conv2dDesc d, Buf y, Buf x, Buf rowPtr, Buf colIdx, Buf values, Buf bias) {
        check(jp_conv2d_csr_fwd(ctx, conv(d), p(y), p(x), p(rowPtr), p(colIdx), p(values), p(bias)), "jp_conv2d_csr_fwd");
    }

    @Override public void maskChannels(Buf data, Buf mask, long outer, long channels, long inner) {
        check(jp_mask_channels(ctx, p(data), p(mask), outer, channels, inner), "jp_mask_channels");
    }
    @Override public void channelNorms(Buf out, Buf data, long outer, long channels, long inner, int pp) {
        check(jp_channel_norms(ctx, p(out), p(data), outer, channels, inner, pp), "jp_channel_norms");
    }
    @Override public void groupRegGrad(Buf grad, Buf data, Buf scale, float lambda, long outer, long channels, long inner) {
        check(jp_group_reg_grad(ctx, p(grad), p(data), p(scale), lambda, outer, channels, inner), "jp_group_reg_grad");
    }
    @Override public void gatherChannels(Buf dst, Buf src, Buf idx, int nIdx, long outer, long channels, long inner) {
        check(jp_gather_channels(ctx, p(dst), p(src), p(idx), nIdx, outer, channels, inner), "jp_gather_channels");
    }
    @Override public void scatterChannels(Buf dst, Buf src, Buf idx, int nIdx, long outer, long channels, long inner) {
        check(jp_scatter_channels(ctx, p(dst), p(src), p(idx), nIdx, outer, channels, inner), "jp_scatter_channels");
    }

    @Override public void batchnormFwdTrain(BnDesc d, Buf y, Buf saveMean, Buf saveInvstd, Buf runMean, Buf runVar, Buf x, Buf gamma, Buf beta) {
        check(jp_batchnorm_fwd_train(ctx, bn(d), p(y), p(saveMean), p(saveInvstd), p(runMean), p(runVar), p(x), p(gamma), p(beta)),
                "jp_batchnorm_fwd_train");
    }
    @Override public void batchnormFwdInfer(BnDesc d, Buf y, Buf x, Buf gamma, Buf beta, Buf runMean, Buf runVar) {
        check(jp_batchnorm_fwd_infer(ctx, bn(d), p(y), p(x), p(gamma), p(beta), p(runMean), p(runVar)), "jp_batchnorm_fwd_infer");
    }
    @Override public void batchnormBwd(BnDesc d, Buf dx, Buf dgamma, Buf dbeta, Buf dy, Buf x, Buf gamma, Buf saveMean, Buf saveInvstd) {
        check(jp_batchnorm_bwd(ctx, bn(d), p(dx), p(dgamma), p(dbeta), p(dy), p(x), p(gamma), p(saveMean), p(saveInvstd)), "jp_batchnorm_bwd");
    }

    @Override public void actFwd(int kind, float alpha, Buf y, Buf x, long n) { check(jp_act_fwd(ctx, kind, alpha, p(y), p(x), n), "jp_act_fwd"); }
    @Override public void actBwd(int kind, float alpha, Buf dx, Buf dy, Buf x, long n) {
        check(jp_act_bwd(ctx, kind, alpha, p(dx), p(dy), p(x), n), "jp_act_bwd");
    }
    @Override public void maxpoolFwd(PoolDesc d, Buf y, Buf argmax, Buf x) { check(jp_maxpool2d_fwd(ctx, pool(d), p(y), p(argmax), p(x)), "jp_maxpool2d_fwd"); }
    @Override public void maxpoolBwd(PoolDesc d, Buf dx, Buf dy, Buf argmax) { check(jp_maxpool2d_bwd(ctx, pool(d), p(dx), p(dy), p(argmax)), "jp_maxpool2d_bwd"); }
    @Override public void upsampleFwd(Buf y, Buf x, int n, int c, int h, int w, int scale) {
        check(jp_upsample_nearest_fwd(ctx, p(y), p(x), n, c, h, w, scale), "jp_upsample_nearest_fwd");
    }
    @Override public void upsampleBwd(Buf dx, Buf dy, int n, int c, int h, int w, int scale) {
        check(jp_upsample_nearest_bwd(ctx, p(dx), p(dy), n, c, h, w, scale), "jp_upsample_nearest_bwd");
    }
    @Override public void channelCopy(Buf dst, long dstChannels, long dstOff, Buf src, long srcChannels, long srcOff, long count, long outer, long inner) {
        check(jp_channel_copy(ctx, p(dst), dstChannels, dstOff, p(src), srcChannels, srcOff, count, outer, inner), "jp_channel_copy");
    }

    @Override public void add(Buf y, Buf a, Buf b, long n) { check(jp_add(ctx, p(y), p(a), p(b), n), "jp_add"); }
    @Override public void mul(Buf y, Buf a, Buf b, long n) { check(jp_mul(ctx, p(y), p(a), p(b), n), "jp_mul"); }
    @Override public void scale(Buf y, Buf x, float alpha, long n) { check(jp_scale(ctx, p(y), p(x), alpha, n), "jp_scale"); }
    @Override public void axpy(Buf y, Buf x, float alpha, long n) { check(jp_axpy(ctx, p(y), p(x), alpha, n), "jp_axpy"); }
    @Override public void reduce(int kind, Buf out, Buf x, long n) { check(jp_reduce(ctx, kind, p(out), p(x), n), "jp_reduce"); }
    @Override public void sumChannels(Buf out, Buf x, long outer, long channels, long inner) {
        check(jp_sum_channels(ctx, p(out), p(x), outer, channels, inner), "jp_sum_channels");
    }

    @Override public void sgdStep(float lr, float momentum, float weightDecay, boolean nesterov, Buf param, Buf buf, Buf grad, Buf mask, long n) {
        MemorySegment s = DESC.get();
        jp_sgd_desc.lr(s, lr); jp_sgd_desc.momentum(s, momentum); jp_sgd_desc.weight_decay(s, weightDecay);
        jp_sgd_desc.nesterov(s, nesterov ? 1 : 0);
        check(jp_sgd_step(ctx, s, p(param), p(buf), p(grad), p(mask), n), "jp_sgd_step");
    }
    @Override public void adamwStep(float lr, float beta1, float beta2, float eps, float weightDecay, int step, Buf param, Buf m, Buf v, Buf grad, Buf mask, long n) {
        MemorySegment s = DESC.get();
        jp_adamw_desc.lr(s, lr); jp_adamw_desc.beta1(s, beta1); jp_adamw_desc.beta2(s, beta2); jp_adamw_desc.eps(s, eps);
        jp_adamw_desc.weight_decay(s, weightDecay); jp_adamw_desc.step(s, step);
        check(jp_adamw_step(ctx, s, p(param), p(m), p(v), p(grad), p(mask), n), "jp_adamw_step");
    }

    private static MemorySegment yolo(DetectionLoss.Level d) {
        MemorySegment s = DESC.get();
        jp_yolo_desc.n(s, d.n()); jp_yolo_desc.na(s, d.anchors()); jp_yolo_desc.no(s, d.outputs());
        jp_yolo_desc.cells(s, d.cells()); jp_yolo_desc.nx(s, d.nx());
        jp_yolo_desc.box_scale(s, d.boxScale()); jp_yolo_desc.obj_scale(s, d.objScale()); jp_yolo_desc.cls_scale(s, d.clsScale());
        jp_yolo_desc.cls_pos(s, d.clsPos()); jp_yolo_desc.cls_neg(s, d.clsNeg());
        return s;
    }
    @Override public void yoloDecode(DetectionLoss.Level d, Buf out, Buf raw, int anchor, float anchorW, float anchorH, float stride, int row0, int rows) {
        check(jp_yolo_decode(ctx, yolo(d), p(out), p(raw), anchor, anchorW, anchorH, stride, row0, rows), "jp_yolo_decode");
    }
    @Override public void yoloObjLoss(DetectionLoss.Level d, Buf loss, Buf grad, Buf out) {
        check(jp_yolo_obj_loss(ctx, yolo(d), p(loss), p(grad), p(out)), "jp_yolo_obj_loss");
    }
    @Override public void yoloMatchLoss(DetectionLoss.Level d, Buf loss, Buf grad, Buf out, Buf match, Buf groupStart, Buf groupCell, int groups) {
        check(jp_yolo_match_loss(ctx, yolo(d), p(loss), p(grad), p(out), p(match), p(groupStart), p(groupCell), groups), "jp_yolo_match_loss");
    }
}
