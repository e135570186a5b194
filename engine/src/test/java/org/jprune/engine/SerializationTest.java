package org.jprune.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jprune.engine.io.ModelIO;
import org.jprune.engine.io.SafeTensors;
import org.jprune.engine.nn.Graph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SerializationTest {
    @TempDir Path dir;
    final Device cpu = Device.cpu();

    /** A file laid out by hand from the format's definition, as another tool would write it. */
    static byte[] handMade(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        return b.array();
    }

    @Test
    void roundTripAndLayout() throws IOException {
        Path f = dir.resolve("w.safetensors");
        try (Tensor a = Tensor.of(cpu, new float[] {1, 2, 3, 4, 5, 6}, 2, 3); Tensor b = Tensor.of(cpu, new float[] {-1.5f}, 1)) {
            Map<String, Tensor> m = new LinkedHashMap<>();
            m.put("a", a);
            m.put("b", b);
            SafeTensors.write(f, m, Map.of("epoch", "3"));
        }
        byte[] bytes = Files.readAllBytes(f);
        long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, (8 + n) % 8, "data section 8-byte aligned");
        String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
        assertTrue(header.contains("\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}"), header);
        assertEquals(8 + n + 28, bytes.length);
        SafeTensors.Contents c = SafeTensors.read(f);
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, c.tensors().get("a").data());
        assertArrayEquals(new int[] {2, 3}, c.tensors().get("a").shape());
        assertEquals("3", c.metadata().get("epoch"));
        try (var files = Files.list(dir)) {
            assertEquals(List.of(f), files.toList(), "no temporary files left behind");
        }
    }

    @Test
    void readsOtherDtypes() throws IOException {
        ByteBuffer d = ByteBuffer.allocate(2 + 2 + 8).order(ByteOrder.LITTLE_ENDIAN);
        d.putShort(Float.floatToFloat16(0.5f)).putShort((short) (Float.floatToIntBits(-2f) >>> 16)).putDouble(0.25);
        Path f = dir.resolve("x.safetensors");
        Files.write(f, handMade("{\"h\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[2,4]},\"d\":{\"dtype\":\"F64\",\"shape\":[1,1],\"data_offsets\":[4,12]}}", d.array()));
        var c = SafeTensors.read(f).tensors();
        assertEquals(0.5f, c.get("h").data()[0]);
        assertEquals(-2f, c.get("b").data()[0]);
        assertEquals(0.25f, c.get("d").data()[0]);
        // integer types (PyTorch state dicts keep num_batches_tracked as I64), as floats
        ByteBuffer i = ByteBuffer.allocate(8 + 4 + 2 + 1 + 1 + 1).order(ByteOrder.LITTLE_ENDIAN);
        i.putLong(-12345L).putInt(70000).putShort((short) -3).put((byte) -7).put((byte) 200).put((byte) 1);
        Files.write(f, handMade("{\"l\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},\"i\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[8,12]},"
                + "\"s\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[12,14]},\"b\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[14,15]},"
                + "\"u\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[15,16]},\"t\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[16,17]}}", i.array()));
        c = SafeTensors.read(f).tensors();
        assertEquals(-12345f, c.get("l").data()[0]);
        assertEquals(70000f, c.get("i").data()[0]);
        assertEquals(-3f, c.get("s").data()[0]);
        assertEquals(-7f, c.get("b").data()[0]);
        assertEquals(200f, c.get("u").data()[0]);
        assertEquals(1f, c.get("t").data()[0]);
    }

    @Test
    void corruptFilesNameTheFileAndProblem() throws IOException {
        Path f = dir.resolve("bad.safetensors");
        Files.write(f, new byte[] {1, 2, 3});
        assertMessage(f, "too short");
        Files.write(f, handMade("{\"a\":1}", new byte[0]).length > 0 ? ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40).array() : null);
        assertMessage(f, "header length");
        Files.write(f, handMade("{not json", new byte[0]));
        assertMessage(f, "not valid JSON");
        // shapes whose size overflows: named exactly, not as a wrapped-around negative byte count
        Files.write(f, handMade("{\"a\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,1,1],\"data_offsets\":[0,4]}}", new byte[4]));
        assertMessage(f, "bytes overflow a long");
        Files.write(f, handMade("{\"a\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647],\"data_offsets\":[0,4]}}", new byte[4]));
        assertMessage(f, "more elements than a long can count");
        Files.write(f, handMade("{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", new byte[1]));
        assertMessage(f, "dtype 'F8_E4M3'");
        Files.write(f, handMade("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", new byte[8]));
        assertMessage(f, "outside the 8-byte data");
        Files.write(f, handMade("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8]));
        assertMessage(f, "needs 12 bytes");
        Files.write(f, handMade("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", new byte[8]));
        assertMessage(f, "overlap");
    }

    void assertMessage(Path f, String text) {
        IOException e = assertThrows(IOException.class, () -> SafeTensors.read(f));
        assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains(text), e.getMessage());
    }

    @Test
    void modelSaveLoadGivesIdenticalOutputs() throws IOException {
        Path f = dir.resolve("tiny.safetensors");
        try (Graph g = GradCheckTest.TinyNet.build(cpu, 3, 5); Tensor x = Tensor.randn(cpu, 9, 1f, 2, 3, 8, 8)) {
            try (var ex = g.forward(x, true)) { /* moves BN running stats off their defaults */ }
            ModelIO.save(g, f, Map.of("note", "test"));
            float[] expected;
            try (var ex = g.forward(x, false)) { expected = ex.output(0).toArray(); }
            ModelIO.Loaded l = ModelIO.load(f, cpu);
            try (Graph g2 = l.graph(); var ex = g2.forward(x, false)) {
                assertArrayEquals(expected, ex.output(0).toArray());
                assertEquals("test", l.metadata().get("note"));
                assertEquals(g.parameterCount(), g2.parameterCount());
            }
        }
        assertTrue(Files.isRegularFile(dir.resolve("tiny.json")));
        // a spec whose weights do not match is refused, naming the tensor
        Files.writeString(dir.resolve("tiny.json"), Files.readString(dir.resolve("tiny.json")).replace("\"out\" : 6", "\"out\" : 7"));
        IOException e = assertThrows(IOException.class, () -> ModelIO.load(f, cpu));
        assertTrue(e.getMessage().contains("c1.weight") || e.getMessage().contains("c3.weight"), e.getMessage());
    }
}
