#!/usr/bin/env bash
# Runs a command in a private D-Bus session with a fresh, unlocked
# gnome-keyring, so vault tests use the real Secret Service without touching
# the user's own keyring or asking a GUI prompt.
set -euo pipefail
exec dbus-run-session -- bash -c '
  keyring_data=$(mktemp -d)
  trap "rm -rf \"$keyring_data\"" EXIT
  export XDG_DATA_HOME=$keyring_data
  printf "codexos-test-keyring" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  "$@"
' with-keyring "$@"
