#!/usr/bin/env bash
# Builds llama.cpp's own `llama-bench` against the very llama.cpp sources the
# llama-cpp-sys-2 crate vendors (version from Cargo.lock), with the CPU flags
# and build type that crate's build used, so `codexos bench llm` compares the
# same kernels. The crate's package leaves out the tool's source file, so
# tools/llama-bench is taken from llama.cpp as vendored by the
# llama-cpp-python sdist (PyPI); only that driver comes from there, every
# kernel and the library are the crate's. Prints the binary's path.
# Idempotent (reuses its build folder). Usage: scripts/build-llama-bench.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
version=$(awk '/^name = "llama-cpp-sys-2"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$here/Cargo.lock")
[ -n "$version" ] || { echo "error: llama-cpp-sys-2 is not in Cargo.lock" >&2; exit 1; }
crate_source=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"llama-cpp-sys-2-$version"/llama.cpp 2>/dev/null | head -1)
[ -d "$crate_source" ] || { echo "error: llama-cpp-sys-2 $version sources not found — run \`cargo fetch\` first" >&2; exit 1; }
work="${XDG_CACHE_HOME:-$HOME/.cache}/codexos/llama-bench-$version"
mkdir -p "$work"

# The llama-bench driver source.
driver_release=0.3.36
if [ ! -f "$work/driver/llama-bench.cpp" ]; then
  python3 -m pip download --quiet --no-deps --no-binary :all: -d "$work/sdist" "llama-cpp-python==$driver_release" >&2
  tar -xzf "$work/sdist/llama_cpp_python-$driver_release.tar.gz" -C "$work/sdist"
  mkdir -p "$work/driver"
  cp "$work/sdist/llama_cpp_python-$driver_release/vendor/llama.cpp/tools/llama-bench/"{llama-bench.cpp,main.cpp,CMakeLists.txt} "$work/driver/"
fi

# The crate's llama.cpp, with only llama-bench under tools/.
rm -rf "$work/source"
cp -r "$crate_source" "$work/source"
mkdir -p "$work/source/tools/llama-bench"
cp "$work/driver/"* "$work/source/tools/llama-bench/"
printf 'find_package(Threads REQUIRED)\nllama_add_compile_flags()\nadd_subdirectory(llama-bench)\n' > "$work/source/tools/CMakeLists.txt"

# The flags the crate's build chose (CMakeCache of its newest build).
target=${CARGO_TARGET_DIR:-$here/target}
cache=$(ls -t "$target"/*/build/llama-cpp-sys-2-*/out/build/CMakeCache.txt 2>/dev/null | head -1 || true)
flags=()
if [ -n "$cache" ]; then
  while IFS= read -r line; do flags+=("-D$line"); done < <(
    grep -oE '^(GGML_(AVX|AVX2|AVX512|AVX_VNNI|AVX512_VNNI|BMI2|F16C|FMA|SSE42|OPENMP|NATIVE)|CMAKE_BUILD_TYPE):[A-Z]+=[A-Za-z0-9]+' "$cache" | sed 's/:[A-Z]*=/=/')
else
  echo "note: no llama-cpp-sys-2 build found in $target; using llama.cpp's defaults" >&2
  flags=(-DCMAKE_BUILD_TYPE=Release)
fi
cmake -S "$work/source" -B "$work/build" -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF \
  "${flags[@]}" >&2
cmake --build "$work/build" --target llama-bench -j "$(nproc)" >&2
echo "$work/build/bin/llama-bench"
