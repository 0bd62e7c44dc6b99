"""Lists TODO/FIXME/HACK markers under a folder (the CodexOS `todos` tool)."""
import os
import re
import sys

MARKER = re.compile(r"\b(TODO|FIXME|HACK)\b[:\s]*(.*)")
SKIP = {".git", "node_modules", "target", ".venv", "__pycache__", "dist", "build"}
LIMIT = 500


def main() -> None:
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    found = 0
    for folder, folders, files in os.walk(root):
        folders[:] = sorted(name for name in folders if name not in SKIP)
        for name in sorted(files):
            path = os.path.join(folder, name)
            try:
                with open(path, "rb") as handle:
                    data = handle.read(2_000_000)
            except OSError:
                continue
            if b"\0" in data[:8192]:
                continue
            for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
                match = MARKER.search(line)
                if match:
                    print(f"{os.path.relpath(path)}:{number}: {match.group(1)} {match.group(2).strip()}")
                    found += 1
                    if found >= LIMIT:
                        print(f"... (stopped at {LIMIT})")
                        return
    if not found:
        print("no TODO, FIXME or HACK found")


main()
