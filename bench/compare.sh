#!/usr/bin/env bash
# Side-by-side speed: minnow bench and llama.cpp's llama-bench on the same files and thread counts,
# interleaved (minnow, llama.cpp, minnow, llama.cpp, ...) so both see the same machine state, then the
# ratio per test. We never build llama.cpp: point LLAMA_BENCH (or --llama-bench) at a llama-bench binary.
#
#   LLAMA_BENCH=/tmp/llama.cpp/build/bin/llama-bench bench/compare.sh [-p 512] [-n 128] [-t 1,2] [-r 5] [--rounds 2] MODEL.gguf...
set -euo pipefail
cd "$(dirname "$0")/.."
P=512; N=128; T=""; R=5; ROUNDS=2; MODELS=()
LLAMA_BENCH=${LLAMA_BENCH:-}
while (($#)); do
  case "$1" in
    -p) P=$2; shift 2 ;;
    -n) N=$2; shift 2 ;;
    -t) T=$2; shift 2 ;;
    -r) R=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --llama-bench) LLAMA_BENCH=$2; shift 2 ;;
    -h|--help) sed -n 2,7p "$0"; exit 0 ;;
    *) MODELS+=("$1"); shift ;;
  esac
done
[ -n "$LLAMA_BENCH" ] && [ -x "$LLAMA_BENCH" ] || { echo "compare.sh: set LLAMA_BENCH to a llama-bench binary" >&2; exit 2; }
((${#MODELS[@]})) || { echo "compare.sh: give at least one GGUF file" >&2; exit 2; }
MINNOW=${MINNOW:-build/minnow}
[ -x "$MINNOW" ] || { echo "compare.sh: build minnow first ($MINNOW not found)" >&2; exit 2; }
[ -n "$T" ] || T=$(nproc)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for m in "${MODELS[@]}"; do
  for ((i = 0; i < ROUNDS; i++)); do
    "$MINNOW" bench -m "$m" -p "$P" -n "$N" -t "$T" -r "$R" --json 2>/dev/null >"$TMP/minnow.$i.json"
    "$LLAMA_BENCH" -m "$m" -p "$P" -n "$N" -t "$T" -r "$R" -o json 2>/dev/null >"$TMP/llama.$i.json"
  done
  python3 - "$m" "$TMP" "$ROUNDS" <<'PY'
import json, sys, statistics, os
model, tmp, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
def load(prefix):
    rows = {}
    for i in range(rounds):
        for r in json.load(open(os.path.join(tmp, f"{prefix}.{i}.json"))):
            key = (r["n_threads"], "pp%d" % r["n_prompt"] if r["n_prompt"] else "tg%d" % r["n_gen"])
            rows.setdefault(key, []).extend(r["samples_ts"])
    return rows
a, b = load("minnow"), load("llama")
print(f"\n{os.path.basename(model)}")
print("| threads | test | minnow t/s | llama.cpp t/s | ratio |")
print("| ---: | --- | ---: | ---: | ---: |")
for key in sorted(set(a) & set(b)):
    ma, mb = statistics.mean(a[key]), statistics.mean(b[key])
    sa = statistics.stdev(a[key]) if len(a[key]) > 1 else 0
    sb = statistics.stdev(b[key]) if len(b[key]) > 1 else 0
    print(f"| {key[0]} | {key[1]} | {ma:.2f} ± {sa:.2f} | {mb:.2f} ± {sb:.2f} | {ma / mb:.2f} |")
PY
done
