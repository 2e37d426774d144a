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
# would pull a multi-GB CUDA build. Set ACTCLR_TORCH to choose another spec.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  quiet_pip "${ACTCLR_TORCH:-torch==2.13.0}"
fi
quiet_pip -e ".[test,lint]"
.venv/bin/python -c "import actclr, torch; print(f'actclr {actclr.__version__} with torch {torch.__version__} ready in .venv')"
