#!/usr/bin/env bash
# Runs on the GPU machine (the `device` tool), from the repository root, with the bundle that
# scripts/device/bundle.sh made here carried along:
#   run(command="bash scripts/device/gpu-suite.sh", carry=[".device/bundle"])
# Writes under $OUT: gpu.txt (nvidia-smi, driver, cuDNN found), tests.txt + junit/ (the op suite,
# MemoryTest and CudaIT on cuda), memcheck.txt (compute-sanitizer on the op suite), the benchmark
# summary gpu-<gpu>-<date>.md/.json and torch-step.json (the same YOLOv5s step in PyTorch).
# Each stage is time-boxed and a failing stage does not stop the others; the exit status is that of
# the tests.
set -uo pipefail
cd "$(dirname "$0")/../.."
B=.device/bundle
OUT=${OUT:-/tmp/jprune-gpu-out}
mkdir -p "$OUT"
JAVA="$B/jre/bin/java"
[[ -x $JAVA ]] || { echo "gpu-suite: no bundle at $B (make it with scripts/device/bundle.sh and carry .device/bundle)" >&2; exit 2; }
export JPRUNE_CACHE_DIR="${TMPDIR:-/tmp}/jprune-cache"
JOPTS=(--enable-native-access=ALL-UNNAMED -Xss4m -Djprune.cache="$JPRUNE_CACHE_DIR")
CP="$B/tests:$B/benchmarks.jar"

{
    echo "# GPU facts, $(date -u +%FT%TZ)"
    nvidia-smi || echo "nvidia-smi failed"
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv || true
    nvcc --version 2>/dev/null | tail -2 || true
} > "$OUT/gpu.txt" 2>&1
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | tr ' ' '-' | tr -cd 'A-Za-z0-9-' | tr 'A-Z' 'a-z')
gpu=${gpu:-unknown-gpu}

# cuDNN 9 inside the Python install (PyTorch's wheel dependency), for the baseline
cudnn_dir=$(python3 -c "import nvidia.cudnn, os; print(os.path.join(os.path.dirname(nvidia.cudnn.__file__), 'lib'))" 2>/dev/null || true)
if [[ -n $cudnn_dir && -e $cudnn_dir/libcudnn.so.9 ]]; then
    export LD_LIBRARY_PATH="$cudnn_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "cuDNN: $cudnn_dir" >> "$OUT/gpu.txt"
else
    echo "cuDNN: not found in the Python install (the baseline rows will say so)" >> "$OUT/gpu.txt"
fi

echo "== tests" | tee "$OUT/tests.txt"
timeout 420 "$JAVA" "${JOPTS[@]}" -jar "$B/junit-console.jar" execute --class-path "$CP" --details=tree --disable-banner \
    --select-class org.jprune.engine.KernelsTest --select-class org.jprune.engine.MemoryTest \
    --select-class org.jprune.engine.CudaIT --reports-dir "$OUT/junit" >> "$OUT/tests.txt" 2>&1
tests_rc=$?
tail -25 "$OUT/tests.txt"

if command -v compute-sanitizer >/dev/null || [[ -x /usr/local/cuda/bin/compute-sanitizer ]]; then
    cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
    echo "== memcheck" | tee "$OUT/memcheck.txt"
    timeout 300 "$cs" --tool memcheck --leak-check full --error-exitcode 9 --target-processes all "$JAVA" "${JOPTS[@]}" \
        -jar "$B/junit-console.jar" execute --class-path "$CP" --disable-banner --select-class org.jprune.engine.KernelsTest \
        >> "$OUT/memcheck.txt" 2>&1
    echo "memcheck exit: $?" | tee -a "$OUT/memcheck.txt"
    grep -E "ERROR SUMMARY|LEAK SUMMARY|tests (successful|failed)" "$OUT/memcheck.txt" | tail -5
else
    echo "compute-sanitizer not found" > "$OUT/memcheck.txt"
fi

echo "== benchmarks"
timeout 420 "$JAVA" "${JOPTS[@]}" -jar "$B/benchmarks.jar" gpu --out "$OUT" --name "gpu-$gpu" > "$OUT/bench.log" 2>&1
echo "bench exit: $?"
tail -40 "$OUT/bench.log"

echo "== pytorch"
timeout 200 python3 scripts/device/torch_step.py > "$OUT/torch-step.json" 2> "$OUT/torch-step.log"
echo "torch exit: $?"
cat "$OUT/torch-step.json"
exit $tests_rc
