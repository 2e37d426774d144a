#!/usr/bin/env bash
# The GPU check (docs/gpu.md), on a CUDA machine: set up (scripts/setup.sh), make sure torch sees
# a GPU, run the tests marked `cuda` (tests/test_cuda.py: CPU vs CUDA agreement, AMP, pinned
# memory, a one-process NCCL group), then the step, augment and loader benchmarks on the GPU,
# writing their JSON under bench/results/gpu-<UTC time>/ (or $ACTCLR_GPU_RESULTS). About 3-5
# minutes after setup. ACTCLR_TORCH chooses the torch build that setup installs into a new .venv,
# e.g. ACTCLR_TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY=.venv/bin/python
"$PY" - <<'EOF'
import sys

import torch

if not torch.cuda.is_available():
    why = (f"torch {torch.__version__} in .venv is built without CUDA" if torch.version.cuda is None
           else f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no GPU (driver? CUDA_VISIBLE_DEVICES?)")
    sys.exit(f"gpu-check: CUDA is not available: {why}. For a CUDA build, remove .venv and rerun with "
             "ACTCLR_TORCH set, e.g. ACTCLR_TORCH=\"torch==2.13.0 --index-url "
             "https://download.pytorch.org/whl/cu128\" bash scripts/gpu-check.sh (docs/gpu.md)")
names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
print(f"gpu-check: torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, "
      f"NCCL {'.'.join(map(str, torch.cuda.nccl.version()))}; GPU(s): {names}")
EOF
OUT=${ACTCLR_GPU_RESULTS:-bench/results/gpu-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
start=$SECONDS

echo "== tests marked cuda (CPU vs CUDA agreement, AMP, pinned memory, NCCL)"
ACTCLR_TEST_DEVICE=cuda "$PY" -m pytest -q -m cuda -p no:cacheprovider
echo "== bench/step.py: one ActCLR step at the official batch 128 and queue 65536"
"$PY" bench/step.py --device cuda --batch 128 --queue 65536 --repeats 5 --out "$OUT/step.json"
echo "== bench/augment.py: batched views on the GPU vs per-sample numpy on the CPU"
"$PY" bench/augment.py --device cuda --batch 128 --repeats 5 --out "$OUT/augment.json"
echo "== bench/loader.py: loaders into pinned memory and non-blocking copies to the GPU"
"$PY" bench/loader.py --device cuda --samples 8000 --workers 0,2 --batch-size 128 \
  --kinds "official npy-mmap,H5Samples,ShardStream" --out "$OUT/loader.json"

echo "gpu-check: passed in $((SECONDS - start)) s; the benchmarks' JSON is in $OUT/ (step.json, augment.json, loader.json)"
