package org.jprune.engine.internal;

import org.jprune.engine.ops.BnDesc;
import org.jprune.engine.ops.Conv2dDesc;
import org.jprune.engine.ops.DetectionLoss;
import org.jprune.engine.ops.GemmDesc;
import org.jprune.engine.ops.PoolDesc;

/**
 * One method per op of jprune.h, on raw buffers. Implemented by {@link NativeKernels} (every native
 * backend through the generated bindings) and {@link ReferenceKernels} (plain Java loops in double,
 * the oracle). Callers validate shapes first: these methods trust their sizes. Sizes are in elements.
 * Semantics, including "backward overwrites", are those documented in jprune.h.
 */
public interface Kernels {
    String describe();
    Buf allocFloats(long n);
    Buf allocInts(long n);
    void free(Buf b);
    void upload(Buf dst, float[] src, int off, int n);
    /**
     * upload, asynchronously where the backend can (jp_copy_h2d_async: staged in page-locked memory,
     * copied on a stream of its own; later work waits for it; the copy waits only for the work queued
     * before the previous call). Default: the synchronous upload.
     */
    default void uploadAsync(Buf dst, float[] src, int off, int n) { upload(dst, src, off, n); }
    void download(Buf src, float[] dst, int off, int n);
    void uploadInts(Buf dst, int[] src, int n);
    void downloadInts(Buf src, int[] dst, int n);
    void copy(Buf dst, Buf src, long n);
    void fill(Buf dst, float value, long n);
    void setThreads(int threads);
    /** Waits until every op issued on this context has finished (GPU backends run asynchronously). */
    void sync();
    /** A backend setting by name (jp_ctx_set_option); unknown keys or values throw. */
    void setOption(String key, String value);
    /** {in use, reserved} bytes of backend memory (jp_mem_stats); the reference backend reports zeros. */
    long[] memStats();

    /** The ops of the ABI's table this backend has no entry for (jp_ctx_implements); empty for a complete one. */
    default java.util.List<String> missingOps() { return java.util.List.of(); }

    void sgemm(GemmDesc d, Buf c, Buf a, Buf b);
    void conv2dFwd(Conv2dDesc d, Buf y, Buf x, Buf w, Buf bias);
    /**
     * y = act(conv(x, w) + bias) (jp_conv2d_fwd_act: the activation in the conv's epilogue). The default
     * is the two ops one after the other, which is what a backend without the fused kernel computes.
     */
    default void conv2dFwdAct(Conv2dDesc d, Buf y, Buf x, Buf w, Buf bias, int act, float alpha) {
        conv2dFwd(d, y, x, w, bias);
        actFwd(act, alpha, y, y, d.outputSize());
    }
    /**
     * Floats of the packed form of d's weights (jp_conv2d_packed_size); 0: this backend has none and
     * {@link #conv2dFwdPacked} reads w as it is (the default).
     */
    default long conv2dPackedSize(Conv2dDesc d) { return 0; }
    /** Writes the packed form of w (jp_conv2d_pack); only for a backend whose packed size is > 0. */
    default void conv2dPack(Conv2dDesc d, Buf packed, long floats, Buf w) {
        throw new UnsupportedOperationException("conv2d_pack: this backend has no packed form of a convolution's weights");
    }
    /** {@link #conv2dFwdAct} with w's packed form where the kernel would pack w (jp_conv2d_fwd_packed). */
    default void conv2dFwdPacked(Conv2dDesc d, Buf y, Buf x, Buf w, Buf packed, long floats, Buf bias, int act, float alpha) {
        conv2dFwdAct(d, y, x, w, bias, act, alpha);
    }
    void conv2dBwdData(Conv2dDesc d, Buf dx, Buf dy, Buf w);
    void conv2dBwdFilter(Conv2dDesc d, Buf dw, Buf db, Buf dy, Buf x);
    void conv2dCsFwd(Conv2dDesc d, Buf y, Buf x, Buf w, Buf bias, Buf inIdx, int nIn, Buf outIdx, int nOut);
    void conv2dCsBwdData(Conv2dDesc d, Buf dx, Buf dy, Buf w, Buf inIdx, int nIn, Buf outIdx, int nOut);
    void conv2dCsBwdFilter(Conv2dDesc d, Buf dw, Buf db, Buf dy, Buf x, Buf inIdx, int nIn, Buf outIdx, int nOut);
    long csrCount(Buf dense, int rows, int cols, float threshold);
    void csrFromDense(Buf rowPtr, Buf colIdx, Buf values, Buf dense, int rows, int cols, float threshold);
    void conv2dCsrFwd(Conv2dDesc d, Buf y, Buf x, Buf rowPtr, Buf colIdx, Buf values, Buf bias);

    void maskChannels(Buf data, Buf mask, long outer, long channels, long inner);
    void channelNorms(Buf out, Buf data, long outer, long channels, long inner, int p);
    void groupRegGrad(Buf grad, Buf data, Buf scale, float lambda, long outer, long channels, long inner);
    void gatherChannels(Buf dst, Buf src, Buf idx, int nIdx, long outer, long channels, long inner);
    void scatterChannels(Buf dst, Buf src, Buf idx, int nIdx, long outer, long channels, long inner);

    void batchnormFwdTrain(BnDesc d, Buf y, Buf saveMean, Buf saveInvstd, Buf runMean, Buf runVar, Buf x, Buf gamma, Buf beta);
    void batchnormFwdInfer(BnDesc d, Buf y, Buf x, Buf gamma, Buf beta, Buf runMean, Buf runVar);
    void batchnormBwd(BnDesc d, Buf dx, Buf dgamma, Buf dbeta, Buf dy, Buf x, Buf gamma, Buf saveMean, Buf saveInvstd);

    void actFwd(int kind, float alpha, Buf y, Buf x, long n);
    void actBwd(int kind, float alpha, Buf dx, Buf dy, Buf x, long n);
    void maxpoolFwd(PoolDesc d, Buf y, Buf argmax, Buf x);
    void maxpoolBwd(PoolDesc d, Buf dx, Buf dy, Buf argmax);
    void upsampleFwd(Buf y, Buf x, int n, int c, int h, int w, int scale);
    void upsampleBwd(Buf dx, Buf dy, int n, int c, int h, int w, int scale);
    void channelCopy(Buf dst, long dstChannels, long dstOff, Buf src, long srcChannels, long srcOff, long count, long outer, long inner);

    void add(Buf y, Buf a, Buf b, long n);
    void mul(Buf y, Buf a, Buf b, long n);
    void scale(Buf y, Buf x, float alpha, long n);
    void axpy(Buf y, Buf x, float alpha, long n);
    /** kind: 0 sum, 1 sum of squares, 2 max |x|; the result lands in out[0] */
    void reduce(int kind, Buf out, Buf x, long n);
    void sumChannels(Buf out, Buf x, long outer, long channels, long inner);

    void sgdStep(float lr, float momentum, float weightDecay, boolean nesterov, Buf param, Buf buf, Buf grad, Buf mask, long n);
    void adamwStep(float lr, float beta1, float beta2, float eps, float weightDecay, int step, Buf param, Buf m, Buf v, Buf grad, Buf mask, long n);

    /** jp_yolo_decode: Detect's inference decode of one anchor of a level into rows of out */
    void yoloDecode(DetectionLoss.Level d, Buf out, Buf raw, int anchor, float anchorW, float anchorH, float stride, int row0, int rows);
    /** jp_yolo_obj_loss: grad overwritten, loss[1] += the scaled objectness BCE against 0 */
    void yoloObjLoss(DetectionLoss.Level d, Buf loss, Buf grad, Buf out);
    /** jp_yolo_match_loss: the matched predictions' terms added to loss[0..2] and grad (groupStart, groupCell: int buffers) */
    void yoloMatchLoss(DetectionLoss.Level d, Buf loss, Buf grad, Buf out, Buf match, Buf groupStart, Buf groupCell, int groups);

    default void close() {}
}
