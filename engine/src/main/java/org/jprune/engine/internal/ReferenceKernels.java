package org.jprune.engine.internal;

import org.jprune.engine.ops.BnDesc;
import org.jprune.engine.ops.Conv2dDesc;
import org.jprune.engine.ops.DetectionLoss;
import org.jprune.engine.ops.GemmDesc;
import org.jprune.engine.ops.PoolDesc;

/**
 * The oracle: every op as the plainest loops over its definition, stored and accumulated in double.
 * Slow on purpose; never optimised. Channel-sparse conv is written as dense conv over masked
 * weights and CSR conv as dense conv over the expanded matrix, i.e. straight from their definitions
 * in jprune.h, so a native kernel that agrees with it agrees with the definition.
 *
 * <p>One option, {@code tf32} = 0 | 1, the definition of the CUDA backend's TF32 mode: the two
 * factors of every product of sgemm and of the implicit-GEMM convolutions (dense and channel-sparse,
 * all three directions) are first rounded to TF32 (10 mantissa bits, to nearest, ties away from zero:
 * PTX's cvt.rna.tf32.f32); bias, the bias gradient and CSR convolution are unaffected.
 */
public final class ReferenceKernels implements Kernels {
    private boolean tf32;

    @Override public String describe() { return "reference: pure Java, double precision"; }
    @Override public Buf allocFloats(long n) { return Buf.doubles(n); }
    @Override public Buf allocInts(long n) { return Buf.ints(n); }
    @Override public void free(Buf b) {}
    @Override public void setThreads(int threads) {}
    @Override public void sync() {}
    @Override public void setOption(String key, String value) {
        if (key.equals("tf32") && (value.equals("0") || value.equals("1"))) {
            tf32 = value.equals("1");
            return;
        }
        throw new IllegalArgumentException("the reference backend takes only tf32 = 0 | 1 (asked " + key + "=" + value + ")");
    }

    /** v rounded to TF32 as cvt.rna.tf32.f32 rounds the float v (NaN and infinities kept). */
    public static double roundTf32(double v) {
        int u = Float.floatToRawIntBits((float) v);
        if ((u & 0x7f800000) == 0x7f800000) return (float) v;
        return Float.intBitsToFloat((u + 0x1000) & 0xffffe000);
    }

    private double op(double v) { return tf32 ? roundTf32(v) : v; }
    @Override public long[] memStats() { return new long[2]; }

    @Override public void upload(Buf dst, float[] src, int off, int n) { for (int i = 0; i < n; i++) dst.data[i] = src[off + i]; }
    @Override public void download(Buf src, float[] dst, int off, int n) { for (int i = 0; i < n; i++) dst[off + i] = (float) src.data[i]; }
    @Override public void uploadInts(Buf dst, int[] src, int n) { System.arraycopy(src, 0, dst.ints, 0, n); }
    @Override public void downloadInts(Buf src, int[] dst, int n) { System.arraycopy(src.ints, 0, dst, 0, n); }
    @Override public void copy(Buf dst, Buf src, long n) {
        if (dst.ints != null) System.arraycopy(src.ints, 0, dst.ints, 0, (int) n);
        else System.arraycopy(src.data, 0, dst.data, 0, (int) n);
    }
    @Override public void fill(Buf dst, float value, long n) { for (int i = 0; i < n; i++) dst.data[i] = value; }

    @Override public void sgemm(GemmDesc d, Buf c, Buf a, Buf b) {
        for (int i = 0; i < d.m(); i++)
            for (int j = 0; j < d.n(); j++) {
                double s = 0;
                for (int p = 0; p < d.k(); p++) {
                    double av = op(d.transA() ? a.data[p * d.lda() + i] : a.data[i * d.lda() + p]);
                    double bv = op(d.transB() ? b.data[j * d.ldb() + p] : b.data[p * d.ldb() + j]);
                    s += av * bv;
                }
                int ci = i * d.ldc() + j;
                c.data[ci] = d.alpha() * s + (d.beta() == 0 ? 0 : d.beta() * c.data[ci]);
            }
    }

    // ---- convolution: one direct definition, used by dense, channel-sparse and CSR ----

    /** w(k, cl, r, s) for group-local input channel cl; bias(k) or 0. */
    private interface Weight { double at(int k, int cl, int r, int s); }

    private static void convDirect(Conv2dDesc d, double[] y, double[] x, Weight w, double[] bias, boolean[] outMask, java.util.function.DoubleUnaryOperator op) {
        int ho = d.outH(), wo = d.outW(), cpg = d.c() / d.groups(), kpg = d.k() / d.groups();
        for (int n = 0; n < d.n(); n++)
            for (int k = 0; k < d.k(); k++)
                for (int oh = 0; oh < ho; oh++)
                    for (int ow = 0; ow < wo; ow++) {
                        double s = 0;
                        if (outMask == null || outMask[k]) {
                            s = bias == null ? 0 : bias[k];
                            int g = k / kpg;
                            for (int cl = 0; cl < cpg; cl++)
                                for (int r = 0; r < d.r(); r++)
                                    for (int q = 0; q < d.s(); q++) {
                                        int ih = oh * d.strideH() - d.padH() + r * d.dilH(), iw = ow * d.strideW() - d.padW() + q * d.dilW();
                                        if (ih < 0 || ih >= d.h() || iw < 0 || iw >= d.w()) continue;
                                        s += op.applyAsDouble(w.at(k, cl, r, q)) * op.applyAsDouble(x[((n * d.c() + g * cpg + cl) * d.h() + ih) * d.w() + iw]);
                                    }
                        }
                        y[((n * d.k() + k) * ho + oh) * wo + ow] = s;
                    }
    }

    private static int widx(Conv2dDesc d, int k, int cl, int r, int s) {
        return ((k * (d.c() / d.groups()) + cl) * d.r() + r) * d.s() + s;
    }

    @Override public void conv2dFwd(Conv2dDesc d, Buf y, Buf x, Buf w, Buf bias) {
        convDirect(d, y.data, x.data, (k, cl, r, s) -> w.data[widx(d, k, cl, r, s)], bias == null ? null : bias.data, null, this::op);
    }

    /** dx[n][c][ih][iw] = sum over outputs that read it, of dy * w; with optional channel masks. */
    private static void convBwdDataDirect(Conv2dDesc d, double[] dx, double[] dy, Weight w, boolean[] inMask, boolean[] outMask, java.util.function.DoubleUnaryOperator op) {
        java.util.Arrays.fill(dx, 0, (int) d.inputSize(), 0);
        int ho = d.outH(), wo = d.outW(), cpg = d.c() / d.groups(), kpg = d.k() / d.groups();
        for (int n = 0; n < d.n(); n++)
            for (int k = 0; k < d.k(); k++) {
                if (outMask != null && !outMask[k]) continue;
                int g = k / kpg;
                for (int oh = 0; oh < ho; oh++)
                    for (int ow = 0; ow < wo; ow++) {
                        double gy = op.applyAsDouble(dy[((n * d.k() + k) * ho + oh) * wo + ow]);
                        for (int cl = 0; cl < cpg; cl++) {
                            if (inMask != null && !inMask[g * cpg + cl]) continue;
                            for (int r = 0; r < d.r(); r++)
                                for (int q = 0; q < d.s(); q++) {
                                    int ih = oh * d.strideH() - d.padH() + r * d.dilH(), iw = ow * d.strideW() - d.padW() + q * d.dilW();
                                    if (ih < 0 || ih >= d.h() || iw < 0 || iw >= d.w()) continue;
                                    dx[((n * d.c() + g * cpg + cl) * d.h() + ih) * d.w() + iw] += gy * op.applyAsDouble(w.at(k, cl, r, q));
                                }
                        }
                    }
            }
    }

    private static void convBwdFilterDirect(Conv2dDesc d, double[] dw, double[] db, double[] dy, double[] x, boolean[] inMask, boolean[] outMask,
                                            java.util.function.DoubleUnaryOperator op) {
        int ho = d.outH(), wo = d.outW(), cpg = d.c() / d.groups(), kpg = d.k() / d.groups();
        for (int k = 0; k < d.k(); k++) {
            int g = k / kpg;
            boolean kOn = outMask == null || outMask[k];
            for (int cl = 0; cl < cpg; cl++)
                for (int r = 0; r < d.r(); r++)
                    for (int q = 0; q < d.s(); q++) {
                        double s = 0;
                        if (kOn && (inMask == null || inMask[g * cpg + cl]))
                            for (int n = 0; n < d.n(); n++)
                                for (int oh = 0; oh < ho; oh++)
                                    for (int ow = 0; ow < wo; ow++) {
                                        int ih = oh * d.strideH() - d.padH() + r * d.dilH(), iw = ow * d.strideW() - d.padW() + q * d.dilW();
                                        if (ih < 0 || ih >= d.h() || iw < 0 || iw >= d.w()) continue;
                                        s += op.applyAsDouble(dy[((n * d.k() + k) * ho + oh) * wo + ow]) * op.applyAsDouble(x[((n * d.c() + g * cpg + cl) * d.h() + ih) * d.w() + iw]);
                                    }
                        dw[widx(d, k, cl, r, q)] = s;
                    }
            if (db != null) {
                double s = 0;
                if (kOn)
                    for (int n = 0; n < d.n(); n++)
                        for (int p = 0; p < ho * wo; p++) s += dy[(n * d.k() + k) * ho * wo + p];
                db[k] = s;
            }
        }
    }

    @Override public void conv2dBwdData(Conv2dDesc d, Buf dx, Buf dy, Buf w) {
        convBwdDataDirect(d, dx.data, dy.data, (k, cl, r, s) -> w.data[widx(d, k, cl, r, s)], null, null, this::op);
    }
    @Override public void conv2dBwdFilter(Conv2dDesc d, Buf dw, Buf db, Buf dy, Buf x) {
        convBwdFilterDirect(d, dw.data, db == null ? null : db.data, dy.data, x.data, null, null, this::op);
    }

    private static boolean[] mask(Buf idx, int n, int size) {
        boolean[] m = new boolean[size];
        for (int i = 0; i < n; i++) m[idx.ints[i]] = true;
        return m;
    }

    @Override public void conv2dCsFwd(Conv2dDesc d, Buf y, Buf x, Buf w, Buf bias, Buf inIdx, int nIn, Buf outIdx, int nOut) {
        boolean[] in = mask(inIdx, nIn, d.c()), out = mask(outIdx, nOut, d.k());
        convDirect(d, y.data, x.data, (k, cl, r, s) -> in[cl] ? w.data[widx(d, k, cl, r, s)] : 0, bias == null ? null : bias.data, out, this::op);
    }
    @Override public void conv2dCsBwdData(Conv2dDesc d, Buf dx, Buf dy, Buf w, Buf inIdx, int nIn, Buf outIdx, int nOut) {
        convBwdDataDirect(d, dx.data, dy.data, (k, cl, r, s) -> w.data[widx(d, k, cl, r, s)], mask(inIdx, nIn, d.c()), mask(outIdx, nOut, d.k()), this::op);
    }
    @Override public void conv2dCsBwdFilter(Conv2dDesc d, Buf dw, Buf db, Buf dy, Buf x, Buf inIdx, int nIn, Buf outIdx, int nOut) {
        convBwdFilterDirect(d, dw.data, db == null ? null : db.data, dy.data, x.data, mask(inIdx, nIn, d.c()), mask(outIdx, nOut, d.k()), this::op);
    }

    @Override public long csrCount(Buf dense, int rows, int cols, float threshold) {
        long n = 0;
        for (int i = 0; i < rows * cols; i++) if (Math.abs((float) dense.data[i]) > threshold) n++;
        return n;
    }
    @Override public void csrFromDense(Buf rowPtr, Buf colIdx, Buf values, Buf dense, int rows, int cols, float threshold) {
        int nz = 0;
        rowPtr.ints[0] = 0;
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                double v = dense.data[r * cols + c];
                if (Math.abs((float) v) > threshold) { colIdx.ints[nz] = c; values.data[nz] = v; nz++; }
            }
            rowPtr.ints[r + 1] = nz;
        }
    }
    @Override public void conv2dCsrFwd(Conv2dDesc d, Buf y, Buf x, Buf rowPtr, Buf colIdx, Buf values, Buf bias) {
        int cols = d.c() / d.groups() * d.r() * d.s();
        double[] dense = new double[d.k() * cols];
        for (int k = 0; k < d.k(); k++)
            for (int j = rowPtr.ints[k]; j < rowPtr.ints[k + 1]; j++) dense[k * cols + colIdx.ints[j]] = values.data[j];
        convDirect(d, y.data, x.data, (k, cl, r, s) -> dense[widx(d, k, cl, r, s)], bias == null ? null : bias.data, null, v -> v);
    }

    // ---- channel masks ----

    @Override public void maskChannels(Buf data, Buf mask, long outer, long channels, long inner) {
        for (long o = 0; o < outer; o++)
            for (long c = 0; c < channels; c++)
                for (long i = 0; i < inner; i++) data.data[(int) ((o * channels + c) * inner + i)] *= mask.data[(int) c];
    }
    @Override public void channelNorms(Buf out, Buf data, long outer, long channels, long inner, int p) {
        for (long c = 0; c < channels; c++) {
            double s = 0;
            for (long o = 0; o < outer; o++)
                for (long i = 0; i < inner; i++) {
                    double v = data.data[(int) ((o * channels + c) * inner + i)];
                    s += p == 1 ? Math.abs(v) : v * v;
                }
            out.data[(int) c] = p == 1 ? s : Math.sqrt(s);
        }
    }
    @Override public void groupRegGrad(Buf grad, Buf data, Buf scale, float lambda, long outer, long channels, long inner) {
        for (long o = 0; o < outer; o++)
            for (long c = 0; c < channels; c++)
                for (long i = 0; i < inner; i++) {
                    int e = (int) ((o * channels + c) * inner + i);
                    grad.data[e] += (double) lambda * scale.data[(int) c] * data.data[e];
                }
    }
    @Override public void gatherChannels(Buf dst, Buf src, Buf idx, int nIdx, long outer, long channels, long inner) {
        for (long o = 0; o < outer; o++)
            for (int j = 0; j < nIdx; j++)
                for (long i = 0; i < inner; i++)
                    dst.data[(int) ((o * nIdx + j) * inner + i)] = src.data[(int) ((o * channels + idx.ints[j]) * inner + i)];
    }
    @Override public void scatterChannels(Buf dst, Buf src, Buf idx, int nIdx, long outer, long channels, long inner) {
        for (long o = 0; o < outer; o++)
            for (int j = 0; j < nIdx; j++)
                for (long i = 0; i < inner; i++)
                    dst.data[(int) ((o * channels + idx.ints[j]) * inner + i)] = src.data[(int) ((o * nIdx + j) * inner + i)];
    }

    // ---- batch norm ----

    @Override public void batchnormFwdTrain(BnDesc d, Buf y, Buf saveMean, Buf saveInvstd, Buf runMean, Buf runVar, Buf x, Buf gamma, Buf beta) {
        int cnt = d.n() * d.hw();
        for (int c = 0; c < d.c(); c++) {
            double mean = 0, var = 0;
            for (int n = 0; n < d.n(); n++) for (int i = 0; i < d.hw(); i++) mean += x.data[(n * d.c() + c) * d.hw() + i];
            mean /= cnt;
            for (int n = 0; n < d.n(); n++) for (int i = 0; i < d.hw(); i++) { double t = x.data[(n * d.c() + c) * d.hw() + i] - mean; var += t * t; }
            double unbiased = cnt > 1 ? var / (cnt - 1) : var / cnt;
            var /= cnt;
            double invstd = 1 / Math.sqrt(var + d.eps());
            saveMean.data[c] = mean;
            saveInvstd.data[c] = invstd;
            runMean.data[c] = (1 - d.momentum()) * runMean.data[c] + d.momentum() * mean;
            runVar.data[c] = (1 - d.momentum()) * runVar.data[c] + d.momentum() * unbiased;
            for (int n = 0; n < d.n(); n++)
                for (int i = 0; i < d.hw(); i++) {
                    int e = (n * d.c() + c) * d.hw() + i;
                    y.data[e] = gamma.data[c] * (x.data[e] - mean) * invstd + beta.data[c];
                }
        }
    }
    @Override public void batchnormFwdInfer(BnDesc d, Buf y, Buf x, Buf gamma, Buf beta, Buf runMean, Buf runVar) {
        for (int n = 0; n < d.n(); n++)
            for (int c = 0; c < d.c(); c++)
                for (int i = 0; i < d.hw(); i++) {
                    int e = (n * d.c() + c) * d.hw() + i;
                    y.data[e] = gamma.data[c] * (x.data[e] - runMean.data[c]) / Math.sqrt(runVar.data[c] + d.eps()) + beta.data[c];
                }
    }
    @Override public void batchnormBwd(BnDesc d, Buf dx, Buf dgamma, Buf dbeta, Buf dy, Buf x, Buf gamma, Buf saveMean, Buf saveInvstd) {
        int cnt = d.n() * d.hw();
        for (int c = 0; c < d.c(); c++) {
            double mean = saveMean.data[c], invstd = saveInvstd.data[c], sdy = 0, sdyxh = 0;
            for (int n = 0; n < d.n(); n++)
                for (int i = 0; i < d.hw(); i++) {
                    int e = (n * d.c() + c) * d.hw() + i;
                    sdy += dy.data[e];
                    sdyxh += dy.data[e] * (x.data[e] - mean) * invstd;
                }
            dbeta.data[c] = sdy;
            dgamma.data[c] = sdyxh;
            for (int n = 0; n < d.n(); n++)
                for (int i = 0; i < d.hw(); i++) {
                    int e = (n * d.c() + c) * d.hw() + i;
                    double xh = (x.data[e] - mean) * invstd;
                    dx.data[e] = gamma.data[c] * invstd * (dy.data[e] - sdy / cnt - xh * sdyxh / cnt);
                }
        }
    }

    // ---- activations, pooling, resampling, copies ----

    private static double act(int kind, double alpha, double v) {
        return switch (kind) {
            case 1 -> Math.max(v, 0);
            case 2 -> v > 0 ? v : alpha * v;
            case 3 -> v / (1 + Math.exp(-v));
            case 4 -> 1 / (1 + Math.exp(-v));
            default -> v;
        };
    }
    private static double actGrad(int kind, double alpha, double v) {
        return switch (kind) {
            case 1 -> v > 0 ? 1 : 0;
            case 2 -> v > 0 ? 1 : alpha;
            case 3 -> { double s = 1 / (1 + Math.exp(-v)); yield s * (1 + v * (1 - s)); }
            case 4 -> { double s = 1 / (1 + Math.exp(-v)); yield s * (1 - s); }
            default -> 1;
        };
    }
    @Override public void actFwd(int kind, float alpha, Buf y, Buf x, long n) { for (int i = 0; i < n; i++) y.data[i] = act(kind, alpha, x.data[i]); }
    @Override public void actBwd(int kind, float alpha, Buf dx, Buf dy, Buf x, long n) {
        for (int i = 0; i < n; i++) dx.data[i] = dy.data[i] * actGrad(kind, alpha, x.data[i]);
    }

    @Override public void maxpoolFwd(PoolDesc d, Buf y, Buf argmax, Buf x) {
        int ho = d.outH(), wo = d.outW();
        for (int p = 0; p < d.n() * d.c(); p++)
            for (int oh = 0; oh < ho; oh++)
                for (int ow = 0; ow < wo; ow++) {
                    double best = Double.NEGATIVE_INFINITY;
                    int bi = -1;
                    for (int i = 0; i < d.kernel(); i++)
                        for (int j = 0; j < d.kernel(); j++) {
                            int ih = oh * d.stride() - d.pad() + i, iw = ow * d.stride() - d.pad() + j;
                            if (ih < 0 || ih >= d.h() || iw < 0 || iw >= d.w()) continue;
                            double v = x.data[p * d.h() * d.w() + ih * d.w() + iw];
                            if (bi < 0 || v > best) { best = v; bi = ih * d.w() + iw; }
                        }
                    y.data[(p * ho + oh) * wo + ow] = best;
                    argmax.ints[(p * ho + oh) * wo + ow] = bi;
                }
    }
    @Override public void maxpoolBwd(PoolDesc d, Buf dx, Buf dy, Buf argmax) {
        int hw = d.h() * d.w(), p2 = d.outH() * d.outW();
        java.util.Arrays.fill(dx.data, 0, d.n() * d.c() * hw, 0);
        for (int p = 0; p < d.n() * d.c(); p++)
            for (int o = 0; o < p2; o++) dx.data[p * hw + argmax.ints[p * p2 + o]] += dy.data[p * p2 + o];
    }
    @Override public void upsampleFwd(Buf y, Buf x, int n, int c, int h, int w, int scale) {
        int h2 = h * scale, w2 = w * scale;
        for (int p = 0; p < n * c; p++)
            for (int i = 0; i < h2; i++)
                for (int j = 0; j < w2; j++) y.data[(p * h2 + i) * w2 + j] = x.data[(p * h + i / scale) * w + j / scale];
    }
    @Override public void upsampleBwd(Buf dx, Buf dy, int n, int c, int h, int w, int scale) {
        int h2 = h * scale, w2 = w * scale;
        java.util.Arrays.fill(dx.data, 0, n * c * h * w, 0);
        for (int p = 0; p < n * c; p++)
            for (int i = 0; i < h2; i++)
                for (int j = 0; j < w2; j++) dx.data[(p * h + i / scale) * w + j / scale] += dy.data[(p * h2 + i) * w2 + j];
    }
    @Override public void channelCopy(Buf dst, long dstChannels, long dstOff, Buf src, long srcChannels, long srcOff, long count, long outer, long inner) {
        for (long o = 0; o < outer; o++)
            for (long j = 0; j < count; j++)
                for (long i = 0; i < inner; i++)
                    dst.data[(int) ((o * dstChannels + dstOff + j) * inner + i)] = src.data[(int) ((o * srcChannels + srcOff + j) * inner + i)];
    }

    // ---- elementwise, reductions, optimizers ----

    @Override public void add(Buf y, Buf a, Buf b, long n) { for (int i = 0; i < n; i++) y.data[i] = a.data[i] + b.data[i]; }
    @Override public void mul(Buf y, Buf a, Buf b, long n) { for (int i = 0; i < n; i++) y.data[i] = a.data[i] * b.data[i]; }
    @Override public void scale(Buf y, Buf x, float alpha, long n) { for (int i = 0; i < n; i++) y.data[i] = alpha * x.data[i]; }
    @Override public void axpy(Buf y, Buf x, float alpha, long n) { for (int i = 0; i < n; i++) y.data[i] += alpha * x.data[i]; }
    @Override public void reduce(int kind, Buf out, Buf x, long n) {
        double s = 0;
        for (int i = 0; i < n; i++) s = kind == 0 ? s + x.data[i] : kind == 1 ? s + x.data[i] * x.data[i] : Math.max(s, Math.abs(x.data[i]));
        out.data[0] = s;
    }
    @Override public void sumChannels(Buf out, Buf x, long outer, long channels, long inner) {
        for (long c = 0; c < channels; c++) {
            double s = 0;
            for (long o = 0; o < outer; o++) for (long i = 0; i < inner; i++) s += x.data[(int) ((o * channels + c) * inner + i)];
            out.data[(int) c] = s;
        }
    }
    @Override public void sgdStep(float lr, float momentum, float weightDecay, boolean nesterov, Buf param, Buf buf, Buf grad, Buf mask, long n) {
        for (int i = 0; i < n; i++) {
            if (mask != null && mask.data[i] == 0) { param.data[i] = 0; if (buf != null) buf.data[i] = 0; continue; }
            double g = grad.data[i] + weightDecay * param.data[i];
            if (momentum != 0) {
                buf.data[i] = momentum * buf.data[i] + g;
                g = nesterov ? g + momentum * buf.data[i] : buf.data[i];
            }
            param.data[i] -= lr * g;
        }
    }
    @Override public void adamwStep(float lr, float beta1, float beta2, float eps, float weightDecay, int step, Buf param, Buf m, Buf v, Buf grad, Buf mask, long n) {
        double c1 = 1 - Math.pow(beta1, step), c2 = 1 - Math.pow(beta2, step);
        for (int i = 0; i < n; i++) {
            if (mask != null && mask.data[i] == 0) { param.data[i] = 0; m.data[i] = 0; v.data[i] = 0; continue; }
            double g = grad.data[i];
            param.data[i] *= 1 - (double) lr * weightDecay;
            m.data[i] = beta1 * m.data[i] + (1 - beta1) * g;
            v.data[i] = beta2 * v.data[i] + (1 - beta2) * g * g;
            param.data[i] -= lr * (m.data[i] / c1) / (Math.sqrt(v.data[i] / c2) + eps);
        }
    }

    private static double sigmoid(double x) { return 1 / (1 + Math.exp(-x)); }
    private static double softplus(double x) { return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)); }

    @Override public void yoloDecode(DetectionLoss.Level d, Buf out, Buf raw, int anchor, float anchorW, float anchorH, float stride, int row0, int rows) {
        int cells = d.cells(), no = d.outputs();
        for (int b = 0; b < d.n(); b++)
            for (int p = 0; p < cells; p++)
                for (int c = 0; c < no; c++) {
                    double s = sigmoid(raw.data[((b * d.anchors() + anchor) * no + c) * cells + p]);
                    int gx = p % d.nx(), gy = p / d.nx();
                    double v = switch (c) {
                        case 0 -> (2 * s - 0.5 + gx) * stride;
                        case 1 -> (2 * s - 0.5 + gy) * stride;
                        case 2 -> 4 * s * s * anchorW;
                        case 3 -> 4 * s * s * anchorH;
                        default -> s;
                    };
                    out.data[(int) (((long) b * rows + row0 + (long) anchor * cells + p) * no + c)] = v;
                }
    }
    @Override public void yoloObjLoss(DetectionLoss.Level d, Buf loss, Buf grad, Buf out) {
        int cells = d.cells(), no = d.outputs();
        double s = 0;
        for (int r = 0; r < d.n() * d.anchors(); r++)
            for (int ch = 0; ch < no; ch++)
                for (int p = 0; p < cells; p++) {
                    int i = (r * no + ch) * cells + p;
                    if (ch != 4) { grad.data[i] = 0; continue; }
                    s += softplus(out.data[i]);
                    grad.data[i] = d.objScale() * sigmoid(out.data[i]);
                }
        loss.data[1] += d.objScale() * s;
    }

    @Override public void yoloMatchLoss(DetectionLoss.Level d, Buf loss, Buf grad, Buf out, Buf match, Buf groupStart, Buf groupCell, int groups) {
        int cs = d.cells(), nc = d.outputs() - 5, f = DetectionLoss.MATCH_FIELDS;
        for (int g = 0; g < groups; g++) {
            int base = (groupCell.ints[2 * g] * d.outputs()) * cs + groupCell.ints[2 * g + 1];
            double ciou = 0;
            for (int m = groupStart.ints[g]; m < groupStart.ints[g + 1]; m++) {
                double[] t = java.util.Arrays.copyOfRange(match.data, m * f, m * f + f);
                double sx = sigmoid(out.data[base]), sy = sigmoid(out.data[base + cs]);
                double sw = sigmoid(out.data[base + 2 * cs]), sh = sigmoid(out.data[base + 3 * cs]);
                double[] dc = new double[4];
                ciou = DetectionLoss.ciou(2 * sx - 0.5, 2 * sy - 0.5, 4 * sw * sw * t[4], 4 * sh * sh * t[5], t[0], t[1], t[2], t[3], Double.NaN, dc)[0];
                loss.data[0] += d.boxScale() * (1 - ciou);
                grad.data[base] -= d.boxScale() * dc[0] * 2 * sx * (1 - sx);
                grad.data[base + cs] -= d.boxScale() * dc[1] * 2 * sy * (1 - sy);
                grad.data[base + 2 * cs] -= d.boxScale() * dc[2] * 8 * sw * sw * (1 - sw) * t[4];
                grad.data[base + 3 * cs] -= d.boxScale() * dc[3] * 8 * sh * sh * (1 - sh) * t[5];
                if (d.clsScale() == 0) continue;
                for (int c = 0; c < nc; c++) {
                    int i = base + (5 + c) * cs;
                    double x = out.data[i], y = c == (int) t[6] ? d.clsPos() : d.clsNeg();
                    loss.data[2] += d.clsScale() * (y * softplus(-x) + (1 - y) * softplus(x));
                    grad.data[i] += d.clsScale() * (sigmoid(x) - y);
                }
            }
            double tobj = Math.max(ciou, 0);
            loss.data[1] -= d.objScale() * tobj * out.data[base + 4 * cs];
            grad.data[base + 4 * cs] -= d.objScale() * tobj;
        }
    }
}
