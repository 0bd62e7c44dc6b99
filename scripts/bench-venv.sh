#!/usr/bin/env bash
# Creates (once) the Python environment of the embedding peer benchmark:
# onnxruntime (the same version CodexOS loads), tokenizers and numpy — what
# Python fastembed runs. Prints the path of its python3.
# Usage: scripts/bench-venv.sh
set -euo pipefail
venv=${CODEXOS_BENCH_VENV:-$HOME/.cache/codexos/bench-venv}
if [ ! -x "$venv/bin/python3" ] || ! "$venv/bin/python3" -c 'import onnxruntime, tokenizers, numpy' 2>/dev/null; then
  echo "creating the Python peer environment in $venv …" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check onnxruntime==1.31.1 'tokenizers>=0.20' 'numpy<3' >&2
fi
echo "$venv/bin/python3"
