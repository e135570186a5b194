#!/usr/bin/env bash
# The benchmark summary: scripts/bench.sh cpu [--torch] [BenchMain options]
# Writes bench/results/cpu-<date>.md and .json. Installs Debian's OpenBLAS (the SGEMM baseline) if
# missing; --torch builds with the Maven profile that brings PyTorch 2.7.1 CPU (DJL) as the conv
# baseline. OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are unset for this run only, so OpenBLAS picks its
# own kernel for this CPU (the table prints which).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
suite="${1:-}"
[[ $suite == cpu ]] || { echo "usage: scripts/bench.sh cpu [--torch] [--no-jmh] [--threads 1,2]" >&2; exit 2; }
shift
profile=()
args=()
for a in "$@"; do
    if [[ $a == --torch ]]; then profile=(-Ptorch); else args+=("$a"); fi
done
if ! ldconfig -p 2>/dev/null | grep -q libopenblas.so.0; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas0-pthread >/dev/null || true
    fi
fi
"${MVN[@]}" -q package -DskipTests "${profile[@]}"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED \
    -jar bench/target/benchmarks.jar cpu "${args[@]}"
