package org.jprune.engine.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jprune.engine.Tensor;

/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header mapping each name to
 * dtype, shape and data_offsets (plus an optional "__metadata__" of strings), then the raw
 * little-endian data. Files written here are F32 and readable by the safetensors library; reading
 * accepts F32, F64, F16 and BF16, and the integer types (I64 ... U8, BOOL: PyTorch state dicts hold
 * batch norms' num_batches_tracked as I64), and converts to float. Writes are atomic (a temporary file in the
 * same directory, then a rename), so a crash never leaves a half-written file under the real name.
 */
public final class SafeTensors {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MAX_HEADER = 100L << 20;

    private SafeTensors() {}

    /** What a file that is not safetensors looks like, by its first bytes, as a hint: "" when unknown. */
    static String otherFormat(byte[] b) {
        if (b.length >= 4 && b[0] == 'P' && b[1] == 'K' && b[2] == 3 && b[3] == 4)
            return " (it is a zip archive, as PyTorch saves .pt checkpoints: only safetensors files are read; save the model's state dict"
                    + " with safetensors.torch.save_file and bring it in with `jprune import`)";
        if (b.length >= 2 && (b[0] & 0xff) == 0x80 && b[1] >= 2 && b[1] <= 5)
            return " (it is a Python pickle, as older PyTorch .pt files are: only safetensors files are read)";
        if (b.length >= 2 && b[0] == 0x08 && b[1] > 0 && b[1] < 16)
            return " (it looks like an ONNX model: only safetensors files are read)";
        return "";
    }

    /** One tensor as read: its shape and values. */
    public record Entry(int[] shape, float[] data) {}

    /** A file's tensors (in file order) and metadata. */
    public record Contents(Map<String, Entry> tensors, Map<String, String> metadata) {}

    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        Map<String, float[]> data = new LinkedHashMap<>();
        Map<String, int[]> shapes = new LinkedHashMap<>();
        for (var e : tensors.entrySet()) {
            data.put(e.getKey(), e.getValue().toArray());
            shapes.put(e.getKey(), e.getValue().shape());
        }
        writeArrays(file, data, shapes, metadata);
    }

    public static void writeArrays(Path file, Map<String, float[]> data, Map<String, int[]> shapes, Map<String, String> metadata) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (var e : data.entrySet()) {
            if (e.getKey().equals("__metadata__")) throw new IllegalArgumentException("safetensors: reserved tensor name __metadata__");
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", "F32");
            ArrayNode s = t.putArray("shape");
            for (int d : shapes.get(e.getKey())) s.add(d);
            long len = 4L * e.getValue().length;
            t.putArray("data_offsets").add(offset).add(offset + len);
            offset += len;
        }
        byte[] h = JSON.writeValueAsBytes(header);
        int padded = (h.length + 7) & ~7; // pad with spaces so the data starts 8-byte aligned
        ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(8 + padded + offset)).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(padded).put(h);
        for (int i = h.length; i < padded; i++) buf.put((byte) ' ');
        for (float[] a : data.values()) for (float f : a) buf.putFloat(f);
        atomicWrite(file, buf.array());
    }

    /** Writes bytes to a temporary sibling, forces them to disk, then renames over file; errors name the file. */
    public static void atomicWrite(Path file, byte[] bytes) throws IOException {
        try {
            atomicWriteUnchecked(file, bytes);
        } catch (IOException e) {
            if (String.valueOf(e.getMessage()).contains(file.getFileName().toString())) throw e;
            throw new IOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    private static void atomicWriteUnchecked(Path file, byte[] bytes) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + file.getFileName() + ".", ".tmp");
        try {
            try (var ch = java.nio.channels.FileChannel.open(tmp, java.nio.file.StandardOpenOption.WRITE)) {
                ByteBuffer b = ByteBuffer.wrap(bytes);
                while (b.hasRemaining()) ch.write(b);
                ch.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    public static Contents read(Path file) throws IOException {
        String where = "safetensors file " + file;
        if (Files.isDirectory(file)) throw new IOException(where + ": is a directory");
        if (!Files.exists(file)) throw new java.nio.file.NoSuchFileException(file.toString(), null, "no such file");
        if (Files.size(file) > Integer.MAX_VALUE - 16) throw new IOException(where + ": " + Files.size(file) + " bytes, more than 2 GiB");
        byte[] all;
        try {
            all = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new IOException(where + ": " + e, e);
        }
        if (all.length < 8) throw new IOException(where + ": " + all.length + " bytes, too short for the 8-byte header length");
        ByteBuffer bb = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        long n = bb.getLong();
        if (n < 2 || n > MAX_HEADER || n > all.length - 8)
            throw new IOException(where + ": header length " + n + " is impossible for a file of " + all.length + " bytes" + otherFormat(all));
        JsonNode header;
        try {
            header = JSON.readTree(new String(all, 8, (int) n, StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            throw new IOException(where + ": header is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (header == null || !header.isObject()) throw new IOException(where + ": header is not a JSON object");
        long dataStart = 8 + n, dataLen = all.length - dataStart;
        Map<String, Entry> tensors = new LinkedHashMap<>();
        Map<String, String> meta = new LinkedHashMap<>();
        List<long[]> ranges = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            var e = it.next();
            String name = e.getKey();
            JsonNode t = e.getValue();
            if (name.equals("__metadata__")) {
                if (!t.isObject()) throw new IOException(where + ": __metadata__ must be an object of strings");
                t.fields().forEachRemaining(m -> meta.put(m.getKey(), m.getValue().asText()));
                continue;
            }
            String dtype = t.path("dtype").asText("");
            int size = switch (dtype) {
                case "F32", "I32" -> 4;
                case "F64", "I64" -> 8;
                case "F16", "BF16", "I16" -> 2;
                case "I8", "U8", "BOOL" -> 1;
                default -> throw new IOException(where + ": tensor " + name + " has dtype '" + dtype + "' (supported: F32, F64, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
            };
            JsonNode sh = t.path("shape"), off = t.path("data_offsets");
            if (!sh.isArray() || !off.isArray() || off.size() != 2)
                throw new IOException(where + ": tensor " + name + " needs a shape array and two data_offsets");
            int[] shape = new int[sh.size()];
            long numel = 1;
            for (int i = 0; i < shape.length; i++) {
                if (!sh.get(i).canConvertToInt() || sh.get(i).asInt() < 0) throw new IOException(where + ": tensor " + name + " has a bad dimension " + sh.get(i));
                shape[i] = sh.get(i).asInt();
                try {
                    numel = Math.multiplyExact(numel, (long) shape[i]);
                } catch (ArithmeticException overflow) {
                    throw new IOException(where + ": tensor " + name + " has shape " + sh + ": more elements than a long can count");
                }
            }
            long bytes;
            try {
                bytes = Math.multiplyExact(numel, (long) size);
            } catch (ArithmeticException overflow) {
                throw new IOException(where + ": tensor " + name + " has shape " + sh + ": its " + dtype + " bytes overflow a long");
            }
            long begin = off.get(0).asLong(-1), end = off.get(1).asLong(-1);
            if (begin < 0 || end < begin || end > dataLen)
                throw new IOException(where + ": tensor " + name + " has data_offsets [" + begin + ", " + end + "] outside the " + dataLen + "-byte data");
            if (end - begin != bytes)
                throw new IOException(where + ": tensor " + name + " " + java.util.Arrays.toString(shape) + " " + dtype + " needs "
                        + bytes + " bytes, offsets give " + (end - begin));
            ranges.add(new long[] {begin, end});
            float[] data = new float[Math.toIntExact(numel)];
            ByteBuffer src = ByteBuffer.wrap(all, (int) (dataStart + begin), (int) (end - begin)).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < data.length; i++) {
                data[i] = switch (dtype) {
                    case "F32" -> src.getFloat();
                    case "F64" -> (float) src.getDouble();
                    case "F16" -> Float.float16ToFloat(src.getShort());
                    case "BF16" -> Float.intBitsToFloat((src.getShort() & 0xFFFF) << 16);
                    case "I64" -> (float) src.getLong();
                    case "I32" -> (float) src.getInt();
                    case "I16" -> (float) src.getShort();
                    case "I8" -> (float) src.get();
                    default -> (float) (src.get() & 0xFF);  // U8, BOOL
                };
            }
            tensors.put(name, new Entry(shape, data));
        }
        ranges.sort((a, b) -> Long.compare(a[0], b[0]));
        for (int i = 1; i < ranges.size(); i++)
            if (ranges.get(i)[0] < ranges.get(i - 1)[1]) throw new IOException(where + ": tensors overlap in the data section");
        return new Contents(tensors, meta);
    }

    /** Copies a file's tensors into existing tensors of the same names and shapes; every name must match. */
    public static Map<String, String> loadInto(Path file, Map<String, Tensor> targets) throws IOException {
        Contents c = read(file);
        for (String name : targets.keySet())
            if (!c.tensors().containsKey(name)) throw new IOException("safetensors file " + file + ": missing tensor " + name);
        for (var e : c.tensors().entrySet()) {
            Tensor t = targets.get(e.getKey());
            if (t == null) throw new IOException("safetensors file " + file + ": unexpected tensor " + e.getKey());
            if (!java.util.Arrays.equals(t.shape(), e.getValue().shape()))
                throw new IOException("safetensors file " + file + ": tensor " + e.getKey() + " has shape "
                        + java.util.Arrays.toString(e.getValue().shape()) + ", the model expects " + java.util.Arrays.toString(t.shape()));
        }
        for (var e : c.tensors().entrySet()) targets.get(e.getKey()).copyFrom(e.getValue().data());
        return c.metadata();
    }
}
