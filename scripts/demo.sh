#!/usr/bin/env bash
# The end-to-end demo on one CPU, in minutes: synthetic NTU-format skeletons -> prepared dataset
# -> pretraining (MoCo v2 warm-up + ActCLR) -> linear / kNN / actionlet evaluation of the
# pretrained encoder and of the same encoder untrained -> one comparison table, pictures.
#
#   bash scripts/demo.sh [WORK_DIR]        (default runs/demo)
#
# Re-running continues where it stopped (synth and prepare are skipped or reused, pretraining
# resumes from its last checkpoint, evaluations are redone). Sizes can be changed with
# DEMO_ACTIONS, DEMO_PER_CLASS, DEMO_EPOCHS and DEMO_THREADS. Two nuisances make the synthetic
# data a test of what pretraining learns (docs/evaluation.md, "The demo"): DEMO_NUISANCE
# (actclr-data synth --nuisance: every sample also moves a random body part its class leaves
# still) and DEMO_TILT (--tilt: camera pitch and roll up to this many degrees per sample, which
# the preprocessing does not remove and the rotation/shear augmentations cover). Without them an
# untrained encoder already separates the synthetic classes by kNN.
# DEMO_BASELINE=1 also pretrains MoCo v2 alone for the same epochs (the demo's warm-up method,
# configs/mocov2_synth-xsub_joint_1xcpu_demo.yaml) and evaluates and reports it beside ActCLR.
# DEMO_SKIP_SETUP=1 uses the existing .venv as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK=${1:-runs/demo}
# Eight synthetic actions without a left/right mirror pair among them: the spatial flip of the
# official views makes a mirror pair (A001 "raise right arm" / A002 "raise left arm") one class.
ACTIONS=${DEMO_ACTIONS:-1,3,5,7,13,15,16,18}
PER_CLASS=${DEMO_PER_CLASS:-40}
EPOCHS=${DEMO_EPOCHS:-}
NUISANCE=${DEMO_NUISANCE:-1.0}
TILT=${DEMO_TILT:-30}
RECIPE=mocov2-warmup+actclr_synth-xsub_joint_1xcpu_demo
BASELINE=${DEMO_BASELINE:-0}
BASELINE_RECIPE=mocov2_synth-xsub_joint_1xcpu_demo
WARMUP_EPOCHS=50  # warmup.epochs of $RECIPE: with DEMO_EPOCHS the baseline runs WARMUP_EPOCHS + DEMO_EPOCHS
# One intra-op thread by default: the models are small, and on a busy 2-core machine a second
# thread that waits for a core made a training step 3x slower than one thread (measured).
export OMP_NUM_THREADS=${DEMO_THREADS:-1} MKL_NUM_THREADS=${DEMO_THREADS:-1}

if [ -z "${DEMO_SKIP_SETUP:-}" ]; then bash scripts/setup.sh; fi
export PATH="$ROOT/.venv/bin:$PATH"
mkdir -p "$WORK"
START=$(date +%s)
step() { printf '\n\033[1m== %s (%ss)\033[0m\n' "$1" "$(( $(date +%s) - START ))"; }

step "synthetic raw data: actions $ACTIONS x $PER_CLASS samples, nuisance $NUISANCE, tilt $TILT (NTU .skeleton files)"
if [ ! -f "$WORK/raw/ground_truth.json" ]; then
  actclr-data synth "$WORK/raw" --dataset ntu60 --actions "$ACTIONS" --per-class "$PER_CLASS" --seed 0 \
    --nuisance "$NUISANCE" --tilt "$TILT" --force
fi

step "prepare: normalise, HDF5, shards, average motion"
actclr-data prepare ntu60 --raw "$WORK/raw" --out "$WORK/data"

step "pretrain: MoCo v2 warm-up, then ActCLR ($RECIPE)"
actclr-train pretrain --data "$WORK/data" --config "$RECIPE" --out "$WORK/pretrained" --resume \
  ${EPOCHS:+--epochs "$EPOCHS"}
if [ "$BASELINE" = 1 ]; then
  step "pretrain the baseline: MoCo v2 alone for the same epochs ($BASELINE_RECIPE)"
  actclr-train pretrain --data "$WORK/data" --config "$BASELINE_RECIPE" --out "$WORK/baseline-mocov2" --resume \
    ${EPOCHS:+--epochs "$(( WARMUP_EPOCHS + EPOCHS ))"}
fi

# Three encoders (four with DEMO_BASELINE=1): the pretrained one, [MoCo v2 alone,] and the same
# architecture untrained (seed 0) with BatchNorm statistics estimated on the training split (the
# fair baseline) or left at their initial values.
evaluate() {  # NAME CHECKPOINT [extra options]
  local name=$1 ckpt=$2; shift 2
  step "evaluate $name: linear, kNN, actionlets"
  local common=(--data "$WORK/data" --benchmark xsub --checkpoint "$ckpt" "$@")
  # ~150 training sequences: no validation hold-out (the official protocol has none either), last
  # epoch; lr 0.1 / batch 16 because the official lr 24 / batch 1024 is one step per epoch here.
  actclr-train linear "${common[@]}" --out "$WORK/eval/$name/linear" --epochs 100 --batch-size 16 --lr 0.1 \
    --val-fraction 0
  actclr-train knn "${common[@]}" --out "$WORK/eval/$name/knn" --k 1,5,10 --primary-k 5
  actclr-train actionlet "${common[@]}" --out "$WORK/eval/$name/actionlet" \
    --ground-truth "$WORK/raw/ground_truth.json"
}
evaluate pretrained "$WORK/pretrained/encoder.pt"
RUNS=("$WORK/pretrained")
NAMES=(pretrained)
TITLE="ActCLR demo: pretrained vs untrained encoder"
if [ "$BASELINE" = 1 ]; then
  evaluate baseline-mocov2 "$WORK/baseline-mocov2/encoder.pt"
  RUNS+=("$WORK/baseline-mocov2")
  NAMES+=(baseline-mocov2)
  TITLE="ActCLR demo: ActCLR vs MoCo v2 (same epochs) vs untrained encoder"
fi
evaluate random random --model-config "$RECIPE"
evaluate random-initial-bn random --model-config "$RECIPE" --no-bn-calibration
NAMES+=(random random-initial-bn)
for name in "${NAMES[@]}"; do RUNS+=("$WORK/eval/$name/linear" "$WORK/eval/$name/knn" "$WORK/eval/$name/actionlet"); done

step "report"
actclr-train report "${RUNS[@]}" \
  --out "$WORK/report.md" \
  --title "$TITLE"
echo "demo finished in $(( $(date +%s) - START )) s: $WORK/report.md, $WORK/comparison.png," \
  "$WORK/training_curves.png, $WORK/eval/*/actionlet/*.png"
