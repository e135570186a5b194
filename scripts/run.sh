#!/usr/bin/env bash
# The main job: build everything, write the built-in synthetic dataset, train a YOLOv5n baseline on
# it, prune it iteratively (structured magnitude pruning) to 50%, 70%, 80%, 85% and 90% of its
# parameters removed, fine-tuning the compact network after each step (3, 3, 2, 3 and 6 epochs), and
# print the study table (also in runs/study/study.md; each step's compact model in
# runs/study/step-N/model.safetensors). Sizes can be changed through the environment:
#   TRAIN=4000 VAL=300 IMG=160 EPOCHS=12 FT_EPOCHS=3,3,2,3,6 FT_HYP=lr0=0.002 TARGET=params LEVELS=0.5,0.7,0.8,0.85,0.9 MODEL=yolov5n OPT=AdamW ANCHORS=evolve scripts/run.sh
# (FT_EPOCHS: one count for every step, or one per level, so set it with LEVELS; the schedule before 2026-12-02 was
# LEVELS=0.5,0.7,0.9 FT_EPOCHS=2 FT_HYP=lr0=0.001, about 6 minutes shorter)
# Another pruning method on the baseline a first run trained (not trained again), into its own folder:
#   METHOD=group-reg REG=5e-4 REG_EPOCHS=1 BASELINE=runs/study/baseline/last.safetensors OUT=runs/study-group-reg scripts/run.sh
# The short schedule is hyp.scratch-low with AdamW (lr0 0.003), stronger box, class and objectness
# gains, a 1-epoch warmup, no mosaic and a milder scale augmentation (HYP), with anchors fitted to the
# training boxes (ANCHORS=evolve); see the README for what each change gave. Fine-tuning after each
# pruning step runs at lr0 0.002 without warmup (FT_HYP); the 80% step is a waypoint on the way to
# 90% (measured: without the 80% and 85% steps, 6 epochs at 90% recover to 0.848, with them 0.881;
# bench/results/finetune-recipe-2026-12-02-2.md).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
start=$SECONDS
"${MVN[@]}" -q install -DskipTests
jprune() { "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -jar yolo/target/jprune.jar "$@"; }
jprune info
jprune data synth -o runs/synth --train "${TRAIN:-4000}" --val "${VAL:-300}" --img "${IMG:-160}" --seed "${SEED:-0}"
jprune study --data runs/synth/data.yaml -m "${MODEL:-yolov5n}" --img "${IMG:-160}" --batch 16 --nbs 16 \
    --epochs "${EPOCHS:-12}" --anchors "${ANCHORS:-evolve}" --finetune-epochs "${FT_EPOCHS:-3,3,2,3,6}" --target "${TARGET:-params}" --levels "${LEVELS:-0.5,0.7,0.8,0.85,0.9}" -o "${OUT:-runs/study}" \
    --optimizer "${OPT:-AdamW}" --hyp "${HYP:-lr0=0.003,box=0.4,cls=4.0,obj=4.0,warmup_epochs=1,mosaic=0,scale=0.25}" \
    --method "${METHOD:-magnitude}" --reg "${REG:-5e-4}" --reg-epochs "${REG_EPOCHS:-1}" --finetune "${FINETUNE:-compact}" \
    --finetune-hyp "${FT_HYP:-lr0=0.002}" ${BASELINE:+--baseline "$BASELINE"}
echo "main job done in $(( (SECONDS - start) / 60 )) min $(( (SECONDS - start) % 60 )) s"
