#!/usr/bin/env bash
# Derives `all-minilm-l6-v2-q8`, an int8-compute version of the default
# embedding model, in the models folder, and verifies it by sha256.
#
# The registry model stores int8 weights but computes in fp32 (ONNX Runtime
# folds the weights back at load). This script folds them (ONNX Runtime's
# basic graph optimisation) and re-quantises every MatMul dynamically, per
# channel — with pinned onnxruntime/onnx/numpy the output is byte-identical,
# so its checksum is pinned too. Measured here: 1.78x the embeddings/s of the
# default, retrieval quality unchanged on bench/eval (docs/performance.md).
# Use it with `[models] embedding = "all-minilm-l6-v2-q8"` (every folder is
# then embedded again on its next ingest).
# Usage: scripts/quantize-embedder.sh [MODELS_DIR]   (default: $CODEXOS_MODELS)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
models=${1:-${CODEXOS_MODELS:?set CODEXOS_MODELS or pass the models directory}}
source_dir="$models/all-minilm-l6-v2"
target="$models/all-minilm-l6-v2-q8"
expected=2d3757f950bbd64846ae9e1c516ab0d8e45330b360bdfe97e1b2d47ac36bf62d
if [ -f "$target/model.onnx" ] && echo "$expected  $target/model.onnx" | sha256sum --check --status; then
  echo "$target is up to date"
  exit 0
fi
[ -f "$source_dir/model.onnx" ] || { echo "error: $source_dir/model.onnx is missing — run scripts/fetch-models.sh first" >&2; exit 1; }
python=$("$here/scripts/bench-venv.sh")
"$(dirname "$python")/pip" install --quiet --disable-pip-version-check onnxruntime==1.31.1 onnx==1.23.2 numpy==2.4.6 >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" - "$source_dir/model.onnx" "$work" <<'PY'
import sys
import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic
source, work = sys.argv[1], sys.argv[2]
options = ort.SessionOptions()
options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
options.optimized_model_filepath = f"{work}/fp32.onnx"
ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
quantize_dynamic(f"{work}/fp32.onnx", f"{work}/model.onnx", weight_type=QuantType.QInt8,
                 per_channel=True, reduce_range=True)
PY
if ! echo "$expected  $work/model.onnx" | sha256sum --check --status; then
  echo "error: the derived model's sha256 is $(sha256sum "$work/model.onnx" | cut -d' ' -f1), expected $expected — were other package versions used?" >&2
  exit 1
fi
mkdir -p "$target"
cp "$source_dir"/{tokenizer.json,config.json,special_tokens_map.json,tokenizer_config.json} "$target/"
mv "$work/model.onnx" "$target/model.onnx"
echo "wrote $target — set [models] embedding = \"all-minilm-l6-v2-q8\" in config.toml to use it"
