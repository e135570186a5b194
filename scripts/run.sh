#!/usr/bin/env bash
# The main job. Today (see README "Status"): build everything, show the backends, write the built-in
# synthetic dataset to runs/synth and print the model that the training issue will train on it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
"${MVN[@]}" -q install -DskipTests
jprune() { "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -jar yolo/target/jprune.jar "$@"; }
jprune info
jprune data synth -o runs/synth --train "${TRAIN:-2000}" --val "${VAL:-300}" --img "${IMG:-256}" --seed "${SEED:-0}"
jprune model summary -m yolov5n --nc 8 --img "${IMG:-256}"
echo
echo "Training, pruning, fine-tuning and the report are not implemented yet (see README, Status)."
