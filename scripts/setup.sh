#!/usr/bin/env bash
# Create ./.venv with the CPU build of torch and actclr (editable, with the test and lint extras).
# Idempotent: a second run only re-installs actclr itself.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
quiet_pip() {  # pip, minus the machine's warnings about absent local index folders
  .venv/bin/pip install -q "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# torch first and pinned: on these machines 2.13.0 is a local CPU wheel; an unpinned torch
# would pull a multi-GB CUDA build. Set ACTCLR_TORCH to choose another build: pip arguments, e.g.
# ACTCLR_TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128" (docs/gpu.md).
# Only a new .venv gets it: a .venv that already has torch keeps it.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  read -r -a torch_spec <<< "${ACTCLR_TORCH:-torch==2.13.0}"
  quiet_pip "${torch_spec[@]}"
fi
quiet_pip -e ".[test,lint]"
.venv/bin/python -c "import actclr, torch; print(f'actclr {actclr.__version__} with torch {torch.__version__} ready in .venv')"
