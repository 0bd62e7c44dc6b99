#!/usr/bin/env bash
# Creates (once) the Python environment of a peer benchmark and prints the
# path of its python3.
#   scripts/bench-venv.sh            the embedding peer: onnxruntime (the same
#                                    version CodexOS loads), tokenizers, numpy
#   scripts/bench-venv.sh langgraph  the flow peer: LangGraph with its SQLite
#                                    checkpointer
set -euo pipefail
case "${1:-embed}" in
  embed)
    venv=${CODEXOS_BENCH_VENV:-$HOME/.cache/codexos/bench-venv}
    check='import onnxruntime, tokenizers, numpy'
    packages=(onnxruntime==1.31.1 'tokenizers>=0.20' 'numpy<3')
    ;;
  langgraph)
    venv=${CODEXOS_LANGGRAPH_VENV:-$HOME/.cache/codexos/langgraph-venv}
    check='import langgraph, langgraph.checkpoint.sqlite'
    packages=(langgraph==1.2.24 langgraph-checkpoint-sqlite==3.1.2)
    ;;
  *)
    echo "usage: $0 [embed|langgraph]" >&2
    exit 2
    ;;
esac
if [ ! -x "$venv/bin/python3" ] || ! "$venv/bin/python3" -c "$check" 2>/dev/null; then
  echo "creating the Python peer environment in $venv …" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${packages[@]}" >&2
fi
echo "$venv/bin/python3"
