#!/usr/bin/env bash
# Refreshes the README tour's pictures (docs/tour/) from the screenshots an
# end-to-end run takes: `CODEXOS_E2E_OUT=/tmp/shots make e2e`, then
# `scripts/tour.sh /tmp/shots`. Compressed with pngquant when installed.
set -euo pipefail
shots=${1:?usage: scripts/tour.sh SCREENSHOT_FOLDER}
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/docs/tour"
mkdir -p "$out"
# tour name <- e2e screenshot name
pairs="ask:answered search:search chat-agent:chat-inline-approval flow-forms:flow-forms
run-inspector:run-inspector versions:flow-versions human:human-input agents:agent-editor
tools:settings-tools-added providers:settings-provider-added bundles:bundle-verify
drop:dropped-files flows-folder:flows-folder-deleted model-missing:chat-model-missing
palette:command-palette"
for pair in $pairs; do
  name=${pair%%:*}
  shot="$shots/${pair#*:}.png"
  [ -f "$shot" ] || { echo "missing $shot (run the whole e2e suite with CODEXOS_E2E_OUT)" >&2; exit 1; }
  if command -v pngquant >/dev/null; then
    pngquant --quality 60-85 --strip --force --output "$out/$name.png" "$shot"
  else
    cp "$shot" "$out/$name.png"
  fi
done
du -sh "$out"
