#!/usr/bin/env bash
# The end-to-end demo on one CPU, in minutes: synthetic NTU-format skeletons -> prepared dataset
# -> ActCLR pretraining -> linear / kNN / actionlet evaluation of the pretrained encoder and of
# the same encoder untrained -> one comparison table, pictures.
#
#   bash scripts/demo.sh [WORK_DIR]        (default runs/demo)
#
# Re-running continues where it stopped (synth and prepare are skipped or reused, pretraining
# resumes from its last checkpoint, evaluations are redone). Sizes can be changed with
# DEMO_CLASSES, DEMO_PER_CLASS, DEMO_EPOCHS and DEMO_THREADS.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK=${1:-runs/demo}
CLASSES=${DEMO_CLASSES:-8}
PER_CLASS=${DEMO_PER_CLASS:-16}
EPOCHS=${DEMO_EPOCHS:-}
RECIPE=actclr_synth-xsub_joint_1xcpu_demo
export OMP_NUM_THREADS=${DEMO_THREADS:-2} MKL_NUM_THREADS=${DEMO_THREADS:-2}

bash scripts/setup.sh
export PATH="$ROOT/.venv/bin:$PATH"
mkdir -p "$WORK"
START=$(date +%s)
step() { printf '\n\033[1m== %s (%ss)\033[0m\n' "$1" "$(( $(date +%s) - START ))"; }

step "synthetic raw data: $CLASSES classes x $PER_CLASS samples (NTU .skeleton files)"
if [ ! -f "$WORK/raw/ground_truth.json" ]; then
  actclr-data synth "$WORK/raw" --dataset ntu60 --classes "$CLASSES" --per-class "$PER_CLASS" --seed 0 --force
fi

step "prepare: normalise, HDF5, shards, average motion"
actclr-data prepare ntu60 --raw "$WORK/raw" --out "$WORK/data"

step "pretrain ActCLR ($RECIPE)"
actclr-train pretrain --data "$WORK/data" --config "$RECIPE" --out "$WORK/pretrain" --resume \
  ${EPOCHS:+--epochs "$EPOCHS"}

for WHO in pretrain random; do
  if [ "$WHO" = pretrain ]; then CKPT="$WORK/pretrain/encoder.pt"; EXTRA=(); else CKPT=random; EXTRA=(--model-config "$RECIPE"); fi
  step "evaluate the $WHO encoder: linear, kNN, actionlets"
  actclr-train linear --data "$WORK/data" --benchmark xsub --checkpoint "$CKPT" "${EXTRA[@]}" \
    --out "$WORK/eval/$WHO/linear" --epochs 100 --batch-size 64 --lr 1.0
  actclr-train knn --data "$WORK/data" --benchmark xsub --checkpoint "$CKPT" "${EXTRA[@]}" \
    --out "$WORK/eval/$WHO/knn" --k 5,10,20 --primary-k 10
  actclr-train actionlet --data "$WORK/data" --benchmark xsub --checkpoint "$CKPT" "${EXTRA[@]}" \
    --out "$WORK/eval/$WHO/actionlet" --ground-truth "$WORK/raw/ground_truth.json"
done

step "report"
actclr-train report "$WORK/pretrain" "$WORK"/eval/*/* --out "$WORK/report.md" \
  --title "ActCLR demo: pretrained vs untrained encoder"
echo "demo finished in $(( $(date +%s) - START )) s: $WORK/report.md, $WORK/comparison.png, $WORK/training_curves.png, $WORK/eval/*/actionlet/*.png"
