#!/usr/bin/env bash
# Runs on the GPU machine (the `device` tool), from the repository root, with the bundle that
# scripts/device/bundle.sh made here carried along:
#   run(command="bash scripts/device/gpu-suite.sh", carry=[".device/bundle"])
# Writes under $OUT: gpu.txt (nvidia-smi, driver, cuDNN found), tests.txt (the op suite,
# MemoryTest and CudaIT on cuda, then compute-sanitizer on the op suite, the cp.async kernels included), the benchmark summary
# gpu-<gpu>.md/.json, bench.log and torch-step.json (the same YOLOv5s step in PyTorch; its stderr
# goes to gpu.txt), profile.log (the step per kernel), study-<gpu>.md (a short pruning study trained
# on the GPU: baseline, one pruning step, fine-tuning, compact latency; its log follows the table):
# the device tool brings back 8 files at most, so the junit reports are left out (tests.txt has the tree).
# Each stage is time-boxed and a failing stage does not stop the others; the exit status is that of
# the tests. The boxes add up to 9.7 minutes at most (the first H200 run, without the profile and
# study stages, took 3: tests 20 s, benchmarks 110 s), so one call fits a 15-minute lease with room
# for a second, shorter one: STAGES picks stages (default "tests bench study profile torch memcheck"),
# and TESTS_S, BENCH_S, STUDY_S, PROFILE_S, TORCH_S, MEMCHECK_S set each box in seconds; BENCH_ARGS
# is passed to the benchmark (default "--batches 16": the batch-64 conv rows take as long again);
# DEVICE (default cuda) is the device the study trains on (cuda-emu rehearses the stage on a machine
# without a GPU, with STUDY_ARGS and STUDY_IMG for tiny sizes).
set -uo pipefail
cd "$(dirname "$0")/../.."
B=.device/bundle
OUT=${OUT:-/tmp/jprune-gpu-out}
mkdir -p "$OUT"
[[ -f $B/runtime.tar.xz ]] || { echo "gpu-suite: no bundle at $B (make it with scripts/device/bundle.sh and carry .device/bundle)" >&2; exit 2; }
# the runtime travels as one xz archive (bundle.sh), unpacked outside the carried folder (86 MiB unpacked:
# a rehearsal here must not leave it where the next carry would take it); python's tarfile where tar has no xz
RT="${TMPDIR:-/tmp}/jprune-runtime"
rm -rf "$RT" && mkdir -p "$RT"
tar -xJf "$B/runtime.tar.xz" -C "$RT" 2>/dev/null ||
    python3 -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" "$B/runtime.tar.xz" "$RT" ||
    { echo "gpu-suite: cannot unpack $B/runtime.tar.xz" >&2; exit 2; }
JAVA="$RT/jre/bin/java"
export JPRUNE_CACHE_DIR="${TMPDIR:-/tmp}/jprune-cache"
JOPTS=(--enable-native-access=ALL-UNNAMED -Xss4m -Djava.awt.headless=true -Djprune.cache="$JPRUNE_CACHE_DIR")
CP="$B/tests:$B/benchmarks.jar"
STAGES=" ${STAGES:-tests bench study profile torch memcheck} "
TESTS_S=${TESTS_S:-90} BENCH_S=${BENCH_S:-200} STUDY_S=${STUDY_S:-120} PROFILE_S=${PROFILE_S:-60} TORCH_S=${TORCH_S:-75} MEMCHECK_S=${MEMCHECK_S:-45}
DEVICE=${DEVICE:-cuda}
STUDY_ARGS=${STUDY_ARGS:---train 2000 --val 200 --epochs 4 --finetune-epochs 2 --batch 32} STUDY_IMG=${STUDY_IMG:-160}
BENCH_ARGS=${BENCH_ARGS:---batches 16}
want() { [[ $STAGES == *" $1 "* ]]; }

{
    echo "# GPU facts, $(date -u +%FT%TZ)"
    nvidia-smi || echo "nvidia-smi failed"
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv || true
    nvcc --version 2>/dev/null | tail -2 || true
} > "$OUT/gpu.txt" 2>&1
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | tr ' ' '-' | tr -cd 'A-Za-z0-9-' | tr 'A-Z' 'a-z')
gpu=${gpu:-unknown-gpu}

# cuDNN 9 inside the Python install (PyTorch's wheel dependency), for the baseline
# (nvidia.cudnn is a namespace package: no __file__, so its path comes from __path__)
cudnn_dir=$(python3 -c "import nvidia.cudnn, os; print(os.path.join(list(nvidia.cudnn.__path__)[0], 'lib'))" 2>/dev/null || true)
if [[ -n $cudnn_dir && -e $cudnn_dir/libcudnn.so.9 ]]; then
    export LD_LIBRARY_PATH="$cudnn_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "cuDNN: $cudnn_dir" >> "$OUT/gpu.txt"
else
    echo "cuDNN: not found in the Python install (the baseline rows will say so)" >> "$OUT/gpu.txt"
fi

tests_rc=0
if want tests; then
echo "== tests" | tee "$OUT/tests.txt"
timeout "$TESTS_S" "$JAVA" "${JOPTS[@]}" -jar "$B/junit-console.jar" execute --class-path "$CP" --details=tree --disable-ansi-colors --disable-banner \
    --select-class org.jprune.engine.KernelsTest --select-class org.jprune.engine.MemoryTest \
    --select-class org.jprune.engine.CudaIT >> "$OUT/tests.txt" 2>&1
tests_rc=$?
tail -25 "$OUT/tests.txt"
fi

if want bench; then
echo "== benchmarks"
# shellcheck disable=SC2086
timeout "$BENCH_S" "$JAVA" "${JOPTS[@]}" -jar "$B/benchmarks.jar" gpu --out "$OUT" --name "gpu-$gpu" $BENCH_ARGS > "$OUT/bench.log" 2>&1
echo "bench exit: $? (124: cut off by its ${BENCH_S} s box; the rows measured until then are in the summary)"
tail -40 "$OUT/bench.log"
fi

if want study; then
echo "== study: yolov5n on the synthetic benchmark trained, pruned by 50% of parameters and fine-tuned on $DEVICE"
# STUDY_ARGS: --train/--val go to the data generator, the rest to the study
read -r -a sa <<< "$STUDY_ARGS"
data_args=() study_args=()
for ((i = 0; i < ${#sa[@]}; i += 2)); do
    case ${sa[i]} in --train|--val) data_args+=("${sa[i]}" "${sa[i+1]}") ;; *) study_args+=("${sa[i]}" "${sa[i+1]}") ;; esac
done
work="${TMPDIR:-/tmp}/jprune-gpu-study"
rm -rf "$work"
jp=("$JAVA" "${JOPTS[@]}" -cp "$B/benchmarks.jar" org.jprune.yolo.cli.Main)
start=$SECONDS
{
    timeout "$STUDY_S" "${jp[@]}" data synth -o "$work/synth" --img "$STUDY_IMG" "${data_args[@]}" &&
    timeout $(( STUDY_S - (SECONDS - start) )) "${jp[@]}" study --device "$DEVICE" --data "$work/synth/data.yaml" -m yolov5n --img "$STUDY_IMG" --nbs 16 \
        --anchors evolve --target params --levels 0.5 --optimizer AdamW --hyp lr0=0.003,box=0.4,cls=4.0,obj=4.0,warmup_epochs=1,mosaic=0,scale=0.25 \
        --finetune-hyp lr0=0.002 -o "$work/study" "${study_args[@]}"
} > "$work.log" 2>&1
rc=$?
{ cat "$work/study/study.md" 2>/dev/null || echo "(no table: the study did not finish)"; echo; echo "exit $rc in $(( SECONDS - start )) s; log:"; echo '```'; cat "$work.log"; echo '```'; } > "$OUT/study-$gpu.md"
echo "study exit: $rc in $(( SECONDS - start )) s"
head -20 "$OUT/study-$gpu.md"
fi

if want profile; then
echo "== profile: the YOLOv5s step per kernel (-Djprune.profile, a device sync after every call)"
timeout "$PROFILE_S" "$JAVA" "${JOPTS[@]}" -Djprune.profile=true -Djprune.profile.rows=45 -jar "$B/benchmarks.jar" gpu --only yolo \
    --out "$OUT" --name "gpu-$gpu-profiled" > "$OUT/profile.log" 2>&1
echo "profile exit: $?"
rm -f "$OUT/gpu-$gpu-profiled.json" "$OUT/gpu-$gpu-profiled.md"  # its step times are slowed by the syncs: the log keeps the table
grep -A60 "jprune.profile" "$OUT/profile.log" | head -80
fi

if want torch; then
echo "== pytorch"
timeout "$TORCH_S" python3 scripts/device/torch_step.py > "$OUT/torch-step.json" 2>> "$OUT/gpu.txt"  # stderr with the machine facts: at most 8 files come back
echo "torch exit: $?"
cat "$OUT/torch-step.json"
fi
if ! want memcheck; then
    :
elif command -v compute-sanitizer >/dev/null || [[ -x /usr/local/cuda/bin/compute-sanitizer ]]; then
    cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
    echo "== memcheck" | tee -a "$OUT/tests.txt"
    timeout "$MEMCHECK_S" "$cs" --tool memcheck --leak-check full --error-exitcode 9 --target-processes all "$JAVA" "${JOPTS[@]}" \
        -Djprune.test.backends=cuda,cuda-async,cuda-tf32 -jar "$B/junit-console.jar" execute --class-path "$CP" --disable-banner --select-class org.jprune.engine.KernelsTest \
        >> "$OUT/tests.txt" 2>&1
    echo "memcheck exit: $?" | tee -a "$OUT/tests.txt"
    grep -E "ERROR SUMMARY|LEAK SUMMARY|tests (successful|failed)" "$OUT/tests.txt" | tail -5
else
    echo "compute-sanitizer not found" >> "$OUT/tests.txt"
fi

exit $tests_rc
