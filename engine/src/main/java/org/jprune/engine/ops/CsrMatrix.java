package org.jprune.engine.ops;

import static org.jprune.engine.internal.Access.buf;
import static org.jprune.engine.internal.Access.kernels;
import org.jprune.engine.Device;
import org.jprune.engine.Tensor;
import org.jprune.engine.internal.Buf;

/** A CSR matrix on a device (row_ptr, col_idx, values): conv weights after unstructured pruning. */
public final class CsrMatrix implements AutoCloseable {
    private final Device device;
    private final int rows, cols;
    private final long nnz;
    private Buf rowPtr, colIdx, values;

    private CsrMatrix(Device device, int rows, int cols, long nnz, Buf rowPtr, Buf colIdx, Buf values) {
        this.device = device;
        this.rows = rows;
        this.cols = cols;
        this.nnz = nnz;
        this.rowPtr = rowPtr;
        this.colIdx = colIdx;
        this.values = values;
    }

    /** The entries of dense (viewed as rows x rest) with |value| > threshold. */
    public static CsrMatrix fromDense(Tensor dense, int rows, float threshold) {
        String op = "csr_from_dense";
        Checks.open(op, "dense", dense);
        if (rows <= 0 || dense.numel() % rows != 0)
            throw new IllegalArgumentException(op + ": " + dense.numel() + " elements do not split into " + rows + " rows");
        if (!(threshold >= 0)) throw new IllegalArgumentException(op + ": threshold must be >= 0, got " + threshold);
        int cols = (int) (dense.numel() / rows);
        Device dev = dense.device();
        long nnz = kernels(dev).csrCount(buf(dense), rows, cols, threshold);
        if (nnz > Integer.MAX_VALUE) throw new IllegalArgumentException(op + ": " + nnz + " nonzeros exceed 2^31-1");
        Buf rp = kernels(dev).allocInts(rows + 1);
        Buf ci = kernels(dev).allocInts(Math.max(1, nnz));
        Buf v = kernels(dev).allocFloats(Math.max(1, nnz));
        kernels(dev).csrFromDense(rp, ci, v, buf(dense), rows, cols, threshold);
        return new CsrMatrix(dev, rows, cols, nnz, rp, ci, v);
    }

    public Device device() { return device; }
    public int rows() { return rows; }
    public int cols() { return cols; }
    public long nnz() { return nnz; }
    public double density() { return (double) nnz / ((long) rows * cols); }

    private Buf live(String op, Buf b) {
        if (b == null) throw new IllegalStateException(op + ": CSR matrix is closed");
        return b;
    }
    Buf rowPtr(String op) { return live(op, rowPtr); }
    Buf colIdx(String op) { return live(op, colIdx); }
    Buf values(String op) { return live(op, values); }

    @Override
    public void close() {
        if (rowPtr == null) return;
        kernels(device).free(rowPtr);
        kernels(device).free(colIdx);
        kernels(device).free(values);
        rowPtr = colIdx = values = null;
    }
}
