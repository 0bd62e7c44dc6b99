#!/usr/bin/env bash
# Recompress .deb packages in place with xz -9 (what Debian's own packages
# use), for the packages Tauri's bundler writes with gzip. File names, modes,
# sizes, link targets and control fields are unchanged (checked before the
# original is replaced); owners become root, as `--root-owner-group` sets.
set -euo pipefail
(($#)) || { echo "usage: repack-deb.sh PACKAGE.deb..." >&2; exit 2; }
listing() { # mode, size, name (and link target) of each entry, sorted; names
  # normalised (Tauri writes `usr/bin`, dpkg-deb `./usr/bin/`)
  dpkg-deb --contents "$1" >"$2.raw"
  awk '{ mode = $1; size = $3; $1 = $2 = $3 = $4 = $5 = ""; sub(/^ +/, "");
         sub(/^\.\//, ""); sub(/\/$/, ""); if ($0 != "" && $0 != ".") print mode, size, $0 }' "$2.raw" | sort >"$2"
}
for deb in "$@"; do
  [[ -f $deb ]] || { echo "repack-deb: no package at $deb" >&2; exit 1; }
  # Next to the package: the final rename stays on one filesystem (atomic).
  work=$(mktemp -d -p "$(dirname "$deb")" .repack.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  dpkg-deb --raw-extract "$deb" "$work/root"
  dpkg-deb --root-owner-group -Zxz -z9 --build "$work/root" "$work/out.deb" >/dev/null
  listing "$deb" "$work/before"
  listing "$work/out.deb" "$work/after"
  [[ -s $work/before ]] && cmp -s "$work/before" "$work/after" ||
    { echo "repack-deb: the recompressed package differs from $deb; left as it was" >&2; exit 1; }
  cmp -s <(dpkg-deb --info "$deb" control) <(dpkg-deb --info "$work/out.deb" control) ||
    { echo "repack-deb: control fields differ for $deb; left as it was" >&2; exit 1; }
  before=$(stat -c %s "$deb")
  mv "$work/out.deb" "$deb"
  rm -rf "$work"
  trap - EXIT
  echo "repack-deb: $deb $((before / 1048576)) MiB (gzip) -> $(($(stat -c %s "$deb") / 1048576)) MiB (xz)"
done
