#!/usr/bin/env bash
# Installs what building, running and testing CodexOS needs on a Debian/Ubuntu
# machine, skipping whatever is already there (safe to run again).
#   scripts/setup.sh app    system packages for the app + UI packages
#   scripts/setup.sh test   the above + test tools (Xvfb, keyring, tauri-driver)
#   scripts/setup.sh bench  the app's packages + the benchmark corpora (python3.11-doc,
#                           the Rust 1.95.0 docs)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-app}

packages=(build-essential pkg-config cmake clang libclang-dev protobuf-compiler libprotobuf-dev libssl-dev
  libdbus-1-dev libwebkit2gtk-4.1-dev libxdo-dev libayatana-appindicator3-dev librsvg2-dev unzip
  bubblewrap python3 xdg-utils)
# The model fetcher only needs some python3 with pip; use the one on PATH if it has it.
python3 -m pip --version >/dev/null 2>&1 || packages+=(python3-pip)
if [ "$mode" = test ]; then
  # postgresql: the store's suite and the team server's run against a real
  # PostgreSQL server that the tests start themselves (initdb in a temp folder).
  packages+=(gnome-keyring dbus-x11 xvfb webkit2gtk-driver xauth x11-utils util-linux strace postgresql libglib2.0-bin)
fi
if [ "$mode" = bench ]; then
  packages+=(python3.11-doc)
  python3 -m venv --help >/dev/null 2>&1 || packages+=(python3-venv)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing system packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# UI packages: reinstall only when the lock file changed.
stamp="$here/ui/node_modules/.codexos-lock.sha256"
lock_sum=$(sha256sum "$here/ui/package-lock.json" | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
  echo "installing UI packages (npm ci)"
  (cd "$here/ui" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" > "$stamp"
fi

if [ "$mode" = test ] && ! command -v tauri-driver >/dev/null 2>&1; then
  echo "installing tauri-driver (cargo install, ~3 min once)"
  cargo install tauri-driver --locked --quiet
fi

# The real corpus of `codexos bench search` (see the Makefile's RUST_DOCS).
if [ "$mode" = bench ] && command -v rustup >/dev/null 2>&1; then
  rustup component list --toolchain 1.95.0 --installed 2>/dev/null | grep -q '^rust-docs' ||
    rustup component add rust-docs --toolchain 1.95.0
fi
