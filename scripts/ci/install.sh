#!/usr/bin/env bash
# The GitHub action's install step: the binary given, else `codexos` on PATH,
# else the CLI built from the action's own checkout (the CodexOS version the
# workflow pinned with `uses: codexos/codexos@REF`) with the Debian packages
# it needs. Writes `codexos=PATH` to $GITHUB_OUTPUT.
set -euo pipefail
out=${GITHUB_OUTPUT:-/dev/null}
found() {
  echo "codexos=$1" >>"$out"
  "$1" --version
}
if [[ -n "${CODEXOS_BIN:-}" ]]; then
  [[ -x "$CODEXOS_BIN" ]] || { echo "::error::codexos: $CODEXOS_BIN is not an executable file" >&2; exit 1; }
  found "$CODEXOS_BIN"
  exit 0
fi
if command -v codexos >/dev/null 2>&1; then
  found "$(command -v codexos)"
  exit 0
fi
source_root=$(cd "$(dirname "$0")/../.." && pwd)
packages=(build-essential pkg-config cmake clang libclang-dev protobuf-compiler libprotobuf-dev libssl-dev libdbus-1-dev bubblewrap)
sudo=""
[[ "$(id -u)" -eq 0 ]] || sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}"
root="${RUNNER_TEMP:-/tmp}/codexos-cli"
cargo install --locked --path "$source_root/crates/cli" --root "$root"
found "$root/bin/codexos"
