#!/usr/bin/env bash
# Lint (ruff) and type-check (mypy) with the tools in .venv (the `lint` extra, see setup.sh);
# exits non-zero on any finding. The settings live in pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in ruff mypy; do
  if [ ! -x ".venv/bin/$tool" ]; then
    echo "lint: .venv/bin/$tool is missing; run bash scripts/setup.sh first" >&2
    exit 2
  fi
done
status=0
.venv/bin/ruff check actclr pipelines cli tests bench setup.py || status=1
# mypy checks the installed package layout: build/mypy-tree/actclr links each entry of actclr/
# plus pipelines/ and cli/ (installed as actclr.pipelines and actclr.cli; the editable install's
# import hook is invisible to mypy). Its reports are mapped back to the source paths.
tree=build/mypy-tree
rm -rf "$tree"
mkdir -p "$tree/actclr"
for entry in actclr/*; do
  ln -s "$PWD/$entry" "$tree/actclr/"
done
ln -s "$PWD/pipelines" "$tree/actclr/pipelines"
ln -s "$PWD/cli" "$tree/actclr/cli"
.venv/bin/mypy | sed -e "s#^$tree/actclr/pipelines/#pipelines/#" -e "s#^$tree/actclr/cli/#cli/#" \
  -e "s#^$tree/actclr/#actclr/#" || status=1
exit "$status"
