#!/usr/bin/env bash
# Builds here, for the GPU machine (which has no Java), a bundle the `device` tool can carry:
#   .device/bundle/jre        a jlink'ed runtime (java.base, jdk.unsupported, java.management for JMH,
#                             java.desktop for the YOLO classes' image code), compressed
#   .device/bundle/lib        the engine/bindings/yolo/bench jars and their dependencies (the
#                             native libraries, libjprune_cuda.so included, travel inside the
#                             bindings jar), the JUnit console launcher
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
rm -rf "$out"
mkdir -p "$out/lib" "$out/tests"
"$JAVA_HOME/bin/jlink" --add-modules java.base,jdk.unsupported,java.management,java.desktop,java.logging,java.xml \
    --strip-debug --no-header-files --no-man-pages --compress=zip-9 --output "$out/jre"
# runtime classpath of the engine tests and of the bench (deduplicated), plus our own jars
"${MVN[@]}" -q dependency:copy-dependencies -pl engine,bench -DincludeScope=test -DoutputDirectory="$PWD/$out/lib" \
    -DexcludeGroupIds=org.jprune >/dev/null
cp bindings/target/jprune-bindings-*.jar engine/target/jprune-engine-*.jar yolo/target/jprune-yolo-*.jar "$out/lib/" 2>/dev/null || true
rm -f "$out"/lib/*-sources.jar "$out"/lib/*-tests.jar
cp bench/target/benchmarks.jar "$out/"
cp -r engine/target/test-classes/. "$out/tests/"
cp "$HOME/.m2/repository/org/junit/platform/junit-platform-console-standalone/1.14.1/junit-platform-console-standalone-1.14.1.jar" "$out/junit-console.jar" \
    || "${MVN[@]}" -q dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.14.1 -DoutputDirectory="$out"
size=$(du -sm "$out" | cut -f1)
echo "bundle: $out, ${size} MiB ($(ls "$out/lib" | wc -l) jars)"
(( size < 60 )) || { echo "bundle.sh: ${size} MiB is over the 60 MiB budget" >&2; exit 1; }
