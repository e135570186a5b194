package org.jprune.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.jprune.engine.internal.Buf;
import org.jprune.engine.ops.Activation;
import org.jprune.engine.ops.ChannelIndex;
import org.jprune.engine.ops.Channels;
import org.jprune.engine.ops.Conv2d;
import org.jprune.engine.ops.Conv2dDesc;
import org.jprune.engine.ops.DetectionLoss;
import org.jprune.engine.ops.Eltwise;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Misuse throws a Java exception naming the op and the values, before any downcall; native refusals carry the C function's name. */
class BadInputTest {
    final Device cpu = Device.cpu();

    static void throwsWith(Class<? extends Throwable> type, String text, Executable e) {
        Throwable t = assertThrows(type, e);
        assertTrue(t.getMessage() != null && t.getMessage().contains(text), "message '" + t.getMessage() + "' lacks '" + text + "'");
    }

    @Test
    void wrongShapes() {
        try (Tensor x = Tensor.zeros(cpu, 1, 3, 8, 8); Tensor w = Tensor.zeros(cpu, 4, 2, 3, 3); Tensor w2 = Tensor.zeros(cpu, 4, 3, 3, 3);
             Tensor y = Tensor.zeros(cpu, 1, 4, 7, 7); Tensor bias = Tensor.zeros(cpu, 5)) {
            throwsWith(IllegalArgumentException.class, "conv2d: x has 3 channels", () -> Conv2d.forward(x, w, null, 1, 1, 1));
            Conv2dDesc d = Conv2d.desc(x, w2, 1, 1, 1, 1);
            throwsWith(IllegalArgumentException.class, "conv2d_fwd: y has shape [1, 4, 7, 7], expected [1, 4, 8, 8]", () -> Conv2d.forward(d, y, x, w2, null));
            try (Tensor y8 = Tensor.zeros(cpu, 1, 4, 8, 8)) {
                throwsWith(IllegalArgumentException.class, "conv2d_fwd: bias has shape [5], expected [4]", () -> Conv2d.forward(d, y8, x, w2, bias));
            }
            throwsWith(IllegalArgumentException.class, "kernel 9x9 with dilation 1x1 (extent 9x9) larger than padded input 4x4", () -> Conv2dDesc.of(1, 3, 4, 4, 2, 9, 1, 0, 1));
            // a dilation whose extent wraps a 32-bit int must not pass as a small kernel (it reserved ~29 GB)
            throwsWith(IllegalArgumentException.class, "dilation 1073741825x1073741825 (extent 2147483651x2147483651)",
                    () -> new Conv2dDesc(1, 3, 64, 64, 2, 3, 3, 1, 1, 1, 1, (1 << 30) + 1, (1 << 30) + 1, 1));
            // messages name the values given, not the record's unassigned fields
            throwsWith(IllegalArgumentException.class, "input 0x3x4x4", () -> Conv2dDesc.of(0, 3, 4, 4, 2, 1, 1, 0, 1));
            throwsWith(IllegalArgumentException.class, "stride 0x0", () -> Conv2dDesc.of(1, 3, 4, 4, 2, 1, 0, 0, 1));
            throwsWith(IllegalArgumentException.class, "padded input 2147483652x2147483652 exceeds 2^31-1",
                    () -> Conv2dDesc.of(1, 3, 4, 4, 2, 1, 1, Integer.MAX_VALUE / 2 + 1, 1));
            throwsWith(IllegalArgumentException.class, "groups=2 must divide c=3", () -> Conv2dDesc.of(1, 3, 4, 4, 2, 1, 1, 0, 2));
            throwsWith(IllegalArgumentException.class, "sgemm: inner dimensions differ", () -> {
                try (Tensor a = Tensor.zeros(cpu, 2, 3); Tensor b = Tensor.zeros(cpu, 4, 2); Tensor c = Tensor.zeros(cpu, 2, 2)) {
                    Eltwise.matmul(c, a, b, false, false, 1, 0);
                }
            });
            throwsWith(IllegalArgumentException.class, "mask_channels: mask has 2 elements, expected 3", () -> {
                try (Tensor m = Tensor.zeros(cpu, 2)) { Channels.mask(x, 1, m); }
            });
            throwsWith(IllegalArgumentException.class, "axis 4 out of range", () -> Channels.norms(x, 4, 2));
            throwsWith(IllegalArgumentException.class, "Tensor.of: 3 values for shape [2, 2]", () -> Tensor.of(cpu, new float[3], 2, 2));
            throwsWith(IllegalArgumentException.class, "negative dimension", () -> Tensor.zeros(cpu, 2, -1));
        }
    }

    @Test
    void badIndexLists() {
        throwsWith(IllegalArgumentException.class, "strictly increasing, got 3 then 1", () -> new ChannelIndex(cpu, new int[] {0, 3, 1}, 4));
        throwsWith(IllegalArgumentException.class, "index[1] = 9 outside [0, 4)", () -> new ChannelIndex(cpu, new int[] {0, 9}, 4));
        try (Tensor x = Tensor.zeros(cpu, 1, 4, 5, 5); Tensor w = Tensor.zeros(cpu, 2, 4, 3, 3); Tensor y = Tensor.zeros(cpu, 1, 2, 5, 5);
             ChannelIndex in = new ChannelIndex(cpu, new int[] {1}, 3); ChannelIndex out = new ChannelIndex(cpu, new int[] {0}, 2)) {
            Conv2dDesc d = Conv2d.desc(x, w, 1, 1, 1, 1);
            throwsWith(IllegalArgumentException.class, "conv2d_cs_fwd: input index list is over 3 channels, x has 4",
                    () -> Conv2d.forwardChannelSparse(d, y, x, w, null, in, out));
        }
    }

    /** one image, one anchor, 5 outputs (one class) on a 5 x 5 grid: the shape of the 1x4x5x5 x above plus one channel */
    static final DetectionLoss.Level LEVEL = new DetectionLoss.Level(1, 1, 5, 5, 5, 1f, 1f, 0f, 1f, 0f);

    @Test
    void badMatchLists() {
        var level = new DetectionLoss.Level(2, 3, 7, 4, 4, 1f, 1f, 1f, 1f, 0f);
        float[] m = new float[3 * DetectionLoss.MATCH_FIELDS];
        throwsWith(IllegalArgumentException.class, "groupStart must be strictly increasing, got 1 then 1",
                () -> new DetectionLoss.Matches(cpu, level, m, new int[] {0, 1, 1}, new int[] {0, 0, 1, 1}, 2));
        throwsWith(IllegalArgumentException.class, "group 1 is at image*anchors+anchor 6, outside [0, 6)",
                () -> new DetectionLoss.Matches(cpu, level, m, new int[] {0, 1, 3}, new int[] {0, 0, 6, 1}, 2));
        throwsWith(IllegalArgumentException.class, "group 0 is at cell 16, outside [0, 16)",
                () -> new DetectionLoss.Matches(cpu, level, m, new int[] {0, 1}, new int[] {0, 16}, 1));
        float[] badClass = m.clone();
        badClass[DetectionLoss.MATCH_FIELDS + 6] = 2;
        throwsWith(IllegalArgumentException.class, "match 1 has class 2.0, not one of 0 .. 1",
                () -> new DetectionLoss.Matches(cpu, level, badClass, new int[] {0, 3}, new int[] {0, 0}, 1));
        throwsWith(IllegalArgumentException.class, "3 matches need 21 floats, got 14",
                () -> new DetectionLoss.Matches(cpu, level, new float[14], new int[] {0, 3}, new int[] {0, 0}, 1));
        throwsWith(IllegalArgumentException.class, "detection loss: bad level n=-1",
                () -> new DetectionLoss.Level(-1, 3, 7, 4, 4, 1f, 1f, 1f, 1f, 0f));
        throwsWith(IllegalArgumentException.class, "not finite: NaN",
                () -> new DetectionLoss.Level(1, 3, 7, 4, 4, Float.NaN, 1f, 1f, 1f, 0f));
        try (Tensor out = Tensor.zeros(cpu, 2, 21, 4, 4); Tensor grad = Tensor.zeros(cpu, 2, 21, 4, 5); Tensor loss = Tensor.zeros(cpu, 3)) {
            throwsWith(IllegalArgumentException.class, "yolo_obj_loss", () -> DetectionLoss.objectness(level, loss, grad, out));
        }
    }

    @Test
    void nullClosedAndMixedDevices() {
        Tensor closed = Tensor.zeros(cpu, 4);
        closed.close();
        throwsWith(IllegalStateException.class, "act_fwd: x Tensor[4]@cpu:0 is closed", () -> Activation.RELU.forward(0, closed));
        throwsWith(IllegalStateException.class, "is closed", closed::toArray);
        throwsWith(IllegalArgumentException.class, "act_fwd: x is null", () -> Activation.RELU.forward(0, null));
        try (Tensor a = Tensor.zeros(cpu, 4); Tensor r = Tensor.zeros(Device.reference(), 4); Tensor y = Tensor.zeros(cpu, 4)) {
            throwsWith(IllegalArgumentException.class, "add: tensors on different devices (cpu:0 and reference:0)", () -> Eltwise.add(y, a, r));
            throwsWith(IllegalArgumentException.class, "concat: tensors on different devices", () -> {
                try (Tensor c = Tensor.zeros(cpu, 1, 2, 1, 1); Tensor c2 = Tensor.zeros(Device.reference(), 1, 1, 1, 1)) {
                    Channels.concat(c, List.of(c2, c2));
                }
            });
        }
        Tensor base = Tensor.zeros(cpu, 2, 3);
        Tensor view = base.view(6);
        base.close();
        throwsWith(IllegalStateException.class, "is closed", view::toArray);
    }

    @Test
    void nativeRefusalsBecomeNativeException() {
        // bypass the Java checks on purpose (raw kernels): the C side still refuses, and says where
        Buf idx = cpu.kernels().allocInts(2);
        try (Tensor x = Tensor.zeros(cpu, 1, 4, 5, 5); Tensor w = Tensor.zeros(cpu, 2, 4, 3, 3); Tensor y = Tensor.zeros(cpu, 1, 2, 5, 5)) {
            cpu.kernels().uploadInts(idx, new int[] {2, 1}, 2);
            Conv2dDesc d = Conv2d.desc(x, w, 1, 1, 1, 1);
            NativeException e = assertThrows(NativeException.class,
                    () -> cpu.kernels().conv2dCsFwd(d, y.buf(), x.buf(), w.buf(), null, idx, 2, idx, 1));
            assertEquals("jp_conv2d_cs_fwd", e.function());
            assertEquals(1, e.status());
            assertTrue(e.getMessage().contains("in_idx must be strictly increasing"), e.getMessage());
            NativeException e2 = assertThrows(NativeException.class, () -> cpu.kernels().actFwd(17, 0f, y.buf(), x.buf(), 4));
            assertTrue(e2.getMessage().contains("jp_act_fwd: unknown activation kind 17"), e2.getMessage());
        } finally {
            cpu.kernels().free(idx);
        }
    }

    /**
     * The dispatcher checks every op's arguments once (ops.def's check column) before any backend
     * runs: raw calls with bad counts, kinds and sizes are refused with the same message on every
     * native backend, whose buffers it never reads.
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.MethodSource("org.jprune.engine.TestSupport#nativeBackends")
    void everyBackendRefusesBadArgumentsWithTheSameMessage(TestSupport.Backend b) {
        Device dev = b.device();
        var k = dev.kernels();
        Buf idx = k.allocInts(4);
        try (Tensor x = Tensor.zeros(dev, 1, 4, 5, 5); Tensor w = Tensor.zeros(dev, 2, 4, 3, 3); Tensor y = Tensor.zeros(dev, 1, 2, 5, 5);
             Tensor one = Tensor.zeros(dev, 1)) {
            k.uploadInts(idx, new int[] {0, 1, 2, 3}, 4);
            Conv2dDesc d = Conv2d.desc(x, w, 1, 1, 1, 1);
            Buf xb = x.buf(), yb = y.buf(), wb = w.buf();
            List<Object[]> cases = List.of(
                    new Object[] {"jp_act_fwd: unknown activation kind 17", (Executable) () -> k.actFwd(17, 0f, yb, xb, 4)},
                    new Object[] {"jp_act_bwd: n must be >= 0 (got -1)", (Executable) () -> k.actBwd(1, 0f, xb, xb, xb, -1)},
                    new Object[] {"jp_conv2d_fwd_act: unknown activation kind 9", (Executable) () -> k.conv2dFwdAct(d, yb, xb, wb, null, 9, 0f)},
                    new Object[] {"jp_conv2d_fwd_act: leaky ReLU slope is not finite",
                            (Executable) () -> k.conv2dFwdAct(d, yb, xb, wb, null, Activation.LEAKY_RELU.code, Float.NaN)},
                    new Object[] {"jp_conv2d_fwd: y, x or w is NULL", (Executable) () -> k.conv2dFwd(d, null, xb, wb, null)},
                    new Object[] {"jp_conv2d_cs_fwd: in_idx: count 5 outside [0, 4]",
                            (Executable) () -> k.conv2dCsFwd(d, yb, xb, wb, null, idx, 5, idx, 1)},
                    new Object[] {"jp_conv2d_cs_bwd_filter: out_idx is NULL with count 2",
                            (Executable) () -> k.conv2dCsBwdFilter(d, wb, null, yb, xb, idx, 4, null, 2)},
                    new Object[] {"jp_gather_channels: idx: count 7 outside [0, 4]", (Executable) () -> k.gatherChannels(yb, xb, idx, 7, 1, 4, 25)},
                    new Object[] {"jp_channel_copy: channel range out of bounds: dst [1, 5) of 4",
                            (Executable) () -> k.channelCopy(xb, 4, 1, xb, 4, 0, 4, 1, 25)},
                    new Object[] {"jp_channel_norms: p must be 1 or 2 (got 3)", (Executable) () -> k.channelNorms(xb, wb, 1, 4, 18, 3)},
                    new Object[] {"jp_reduce: unknown reduction kind 9", (Executable) () -> k.reduce(9, one.buf(), xb, 4)},
                    new Object[] {"jp_add: n must be >= 0 (got -2)", (Executable) () -> k.add(yb, xb, xb, -2)},
                    new Object[] {"jp_upsample_nearest_fwd: sizes must be positive (n=1 c=4 h=5 w=5 scale=0)",
                            (Executable) () -> k.upsampleFwd(yb, xb, 1, 4, 5, 5, 0)},
                    new Object[] {"jp_adamw_step: step must be >= 1 (got 0)",
                            (Executable) () -> k.adamwStep(1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 0, xb, xb, xb, xb, null, 4)},
                    new Object[] {"jp_sgd_step: lr=-1 momentum=0 weight_decay=0 must be >= 0",
                            (Executable) () -> k.sgdStep(-1f, 0f, 0f, false, xb, null, xb, null, 4)},
                    new Object[] {"jp_yolo_obj_loss: loss, grad or out is NULL", (Executable) () -> k.yoloObjLoss(LEVEL, null, xb, xb)},
                    new Object[] {"jp_yolo_match_loss: n_groups must be >= 0 (got -1)",
                            (Executable) () -> k.yoloMatchLoss(LEVEL, one.buf(), xb, xb, xb, idx, idx, -1)});
            for (Object[] c : cases) {
                NativeException e = assertThrows(NativeException.class, (Executable) c[1], (String) c[0]);
                assertTrue(e.getMessage().contains((String) c[0]), b + ": '" + e.getMessage() + "' lacks '" + c[0] + "'");
                assertEquals(1, e.status(), e.getMessage());
            }
        } finally {
            k.free(idx);
        }
    }

    @Test
    void unavailableBackendsSayWhy() {
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> Device.open(DeviceKind.CUDA, 0));
        assertTrue(e.getMessage().contains("CUDA backend unavailable: jp_ctx_create"), e.getMessage());
        throwsWith(IllegalArgumentException.class, "unknown device 'tpu'", () -> DeviceKind.parse("tpu"));
        throwsWith(IllegalArgumentException.class, "ordinal must be >= 0", () -> Device.open(DeviceKind.CPU, -1));
    }
}
