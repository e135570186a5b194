#!/usr/bin/env bash
# The server example under load: scripts/serve-loadtest.sh CHECKPOINT IMAGES [REQUESTS] [CONCURRENCY]
# Runs `jprune detect` on IMAGES (the expected answers), starts `jprune serve` on a free loopback port,
# sends REQUESTS (default 10000) detect calls from CONCURRENCY (default 4) client threads with
# `jprune loadtest`, which checks every answer against detect's labels and the server's native memory,
# then stops the server. Writes bench/results/serve-loadtest-<date>.json (never overwriting) and
# exits non-zero if any request failed, differed, or native memory grew.
# The README's figures: scripts/serve-loadtest.sh runs/study/step-1/model.safetensors runs/synth/images/val
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ckpt=${1:?usage: scripts/serve-loadtest.sh CHECKPOINT IMAGES [REQUESTS] [CONCURRENCY]}
images=${2:?usage: scripts/serve-loadtest.sh CHECKPOINT IMAGES [REQUESTS] [CONCURRENCY]}
[[ -f yolo/target/jprune.jar ]] || "${MVN[@]}" -q install -DskipTests
jprune() { "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -jar yolo/target/jprune.jar "$@"; }
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
jprune detect -w "$ckpt" --source "$images" -o "$work/cli"
jprune serve -w "$ckpt" --port 0 > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 120); do grep -q serving "$work/server.log" && break; sleep 0.5; done
cat "$work/server.log"
url=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/server.log" | head -1)
[[ -n $url ]] || { echo "the server did not start" >&2; exit 1; }
out=bench/results/serve-loadtest-$(date +%F).json
for i in 2 3 4 5 6 7 8 9; do [[ -e $out ]] || break; out=bench/results/serve-loadtest-$(date +%F)-$i.json; done
jprune loadtest --url "$url" --images "$images" --expect "$work/cli/labels" -n "${3:-10000}" -c "${4:-4}" -o "$out"
echo "wrote $out"
