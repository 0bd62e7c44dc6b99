#!/usr/bin/env bash
# The store's unit tests again, each on PostgreSQL (CODEXOS_TEST_STORE=postgres:
# a server the tests start themselves). Runs the test binary `cargo test` built
# for the workspace, so nothing is compiled a second time.
set -euo pipefail
binary=$(cargo test --workspace "$@" --no-run --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    message = json.loads(line)
    target = message.get("target", {})
    if message.get("reason") == "compiler-artifact" and target.get("name") == "codexos_store" \
            and "lib" in target.get("kind", []) and message.get("profile", {}).get("test") \
            and message.get("executable"):
        print(message["executable"])
')
[ -n "$binary" ] || { echo "the store's test binary was not found" >&2; exit 1; }
echo "store unit tests on PostgreSQL: $binary"
CODEXOS_TEST_STORE=postgres "$binary"
