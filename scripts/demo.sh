#!/usr/bin/env bash
# One command: install what is missing, build, and tell a story with the model shipped in the repo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DMINNOW_TESTS=OFF >/dev/null
cmake --build build --target minnow
./build/minnow info models/stories260K.gguf
echo "--- minnow run -m models/stories260K.gguf -p \"Once upon a time\" -n 200 ---"
./build/minnow run -m models/stories260K.gguf -p "Once upon a time" -n 200 "$@"
echo
