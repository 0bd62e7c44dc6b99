#!/usr/bin/env bash
# The suites that run on either database, again on PostgreSQL
# (CODEXOS_TEST_STORE=postgres: each test uses a server the tests start
# themselves): the store's unit tests and the team server's REST suite. Runs
# the test binaries `cargo test --workspace` built, so nothing is compiled a
# second time.
set -euo pipefail
binaries=$(cargo test --workspace "$@" --no-run --message-format=json 2>/dev/null | python3 -c '
import json, sys
wanted = {("codexos-store", "codexos_store", "lib"), ("codexos-server", "it", "test")}
for line in sys.stdin:
    message = json.loads(line)
    target = message.get("target", {})
    package = message.get("package_id", "").rsplit("#", 1)[-1].split("@")[0]
    for name, test, kind in wanted:
        if message.get("reason") == "compiler-artifact" and package == name \
                and target.get("name") == test and kind in target.get("kind", []) \
                and message.get("profile", {}).get("test") and message.get("executable"):
            print(message["executable"], message["manifest_path"].rsplit("/", 1)[0])
')
count=$(printf '%s\n' "$binaries" | grep -c . || true)
[ "$count" -eq 2 ] || { echo "expected the store's and the server's test binaries, found: $binaries" >&2; exit 1; }
# As cargo runs them: from their package's folder, which they are told.
while read -r binary package; do
  echo "on PostgreSQL: $binary"
  (cd "$package" && CARGO_MANIFEST_DIR="$package" CODEXOS_TEST_STORE=postgres "$binary")
done <<< "$binaries"
