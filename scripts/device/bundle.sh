#!/usr/bin/env bash
# Builds here, for the GPU machine (which has no Java), a bundle the `device` tool can carry:
#   .device/bundle/runtime.tar.xz  a jlink'ed runtime (java.base, jdk.unsupported, java.management
#                             for JMH, java.logging, java.xml, java.desktop: the study stage writes and
#                             decodes PNG images, and the CLI's commands name image types), shared
#                             libraries stripped, as one xz archive that gpu-suite.sh unpacks into
#                             .device/bundle/jre (20 MiB instead of 57 for jlink's own zip
#                             compression, which leaves libjvm.so uncompressed)
#   .device/bundle/benchmarks.jar  the shaded bench jar: engine, bindings (the native libraries,
#                             libjprune_cuda.so included, travel inside it), yolo, JMH, Jackson;
#                             also the test classpath
#   .device/bundle/junit-console.jar  the JUnit console launcher
#   .device/bundle/tests      the engine's compiled tests (the op suite, MemoryTest, CudaIT)
# Needs nvcc here (the CUDA plugin is built with it). Prints the bundle's size: it must stay under
# the carry limit (64 MiB for everything carried). Then, on the GPU machine:
#   run(command="bash scripts/device/gpu-suite.sh", carry=[".device/bundle"])
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
command -v nvcc >/dev/null || [[ -x /usr/local/cuda/bin/nvcc ]] || { echo "bundle.sh: no nvcc here, so no libjprune_cuda.so to ship" >&2; exit 1; }
"${MVN[@]}" -q install -DskipTests
"${MVN[@]}" -q test-compile -pl engine
grep -q libjprune_cuda.so bindings/target/classes/org/jprune/native/linux-x86_64/libs.txt \
    || { echo "bundle.sh: the build made no libjprune_cuda.so (see the make output)" >&2; exit 1; }
out=.device/bundle
rm -rf "$out" .device/jre
mkdir -p "$out/tests"
"$JAVA_HOME/bin/jlink" --add-modules java.base,jdk.unsupported,java.management,java.logging,java.xml,java.desktop \
    --strip-debug --no-header-files --no-man-pages --output .device/jre
find .device/jre -name '*.so' -exec strip --strip-unneeded {} + 2>/dev/null || true  # libjvm's symbols: ~30% of the runtime
XZ_OPT="-6 -T0" tar -cJf "$out/runtime.tar.xz" -C .device jre
rm -rf .device/jre
"${MVN[@]}" -q -o package -DskipTests -pl bench -Pgpu-bundle  # benchmarks-gpu.jar: without ONNX Runtime (CPU-only baseline)
cp bench/target/benchmarks-gpu.jar "$out/benchmarks.jar"
cp -r engine/target/test-classes/. "$out/tests/"
junit=$HOME/.m2/repository/org/junit/platform/junit-platform-console-standalone/1.14.1/junit-platform-console-standalone-1.14.1.jar
[[ -f $junit ]] || "${MVN[@]}" -q dependency:get -Dartifact=org.junit.platform:junit-platform-console-standalone:1.14.1
cp "$junit" "$out/junit-console.jar"
size=$(du -sm "$out" | cut -f1)
echo "bundle: $out, ${size} MiB"
(( size < 60 )) || { echo "bundle.sh: ${size} MiB is over the 60 MiB budget" >&2; exit 1; }
