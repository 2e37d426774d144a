#!/usr/bin/env bash
# Set up (see setup.sh), lint and type-check (lint.sh), run the test suite, then the numeric
# tests (models, methods, augmentations, evaluation) once more on the lowest CPU kernels of
# torch, oneDNN and MKL, so that a test which only holds on one vector unit (AVX512, AVX2, ...)
# fails here too; last, the GPU check's tests (tests/test_cuda.py) with the CPU as their
# target, so that they keep working without a GPU (docs/gpu.md).
# With arguments, only `pytest ARGS` runs (after setup).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ $# -gt 0 ]; then exec .venv/bin/python -m pytest -q "$@"; fi
bash scripts/lint.sh
.venv/bin/python -m pytest -q
echo "== numeric tests on the default (no SIMD) kernels"
ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41 MKL_ENABLE_INSTRUCTIONS=SSE4_2 \
  .venv/bin/python -m pytest -q -p no:cacheprovider \
  tests/test_models.py tests/test_methods_*.py tests/test_augment_*.py tests/test_eval_*.py
