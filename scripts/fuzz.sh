#!/usr/bin/env bash
# The libFuzzer targets of fuzz/ (docs/reliability.md).
#   scripts/fuzz.sh --list                   # one target per line
#   scripts/fuzz.sh TARGET SECONDS [ARGS]    # build if needed, fuzz for SECONDS, print the figures
# ARGS go to libFuzzer (e.g. -jobs=1 -workers=1, -runs=N). The build is build-fuzz/ (clang, ASan +
# UBSan, -DTPUSIM_FUZZ=ON; BUILD_DIR and JOBS override). New inputs accumulate in
# BUILD_DIR/fuzz/runs/TARGET/corpus; a crash is written there as crash-<sha1> and the script exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

targets() { sed -n 's/^tpusim_fuzz_target(\([a-z_0-9]*\) .*/\1/p' fuzz/CMakeLists.txt; }
if [ "${1:-}" = "--list" ]; then
  targets
  exit 0
fi
if [ $# -lt 2 ] || ! targets | grep -qx "$1" || ! [[ "$2" =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/fuzz.sh --list | TARGET SECONDS [libFuzzer args] (targets: $(targets | tr '\n' ' '))" >&2
  exit 2
fi
target=$1 seconds=$2
shift 2

export BUILD_DIR=${BUILD_DIR:-build-fuzz}
CC=clang CXX=clang++ TARGETS=$target \
  CMAKE_ARGS="-DTPUSIM_FUZZ=ON -DTPUSIM_WITH_TORCH=OFF -DTPUSIM_DEBUG_INFO=-g1" scripts/setup.sh

run=$BUILD_DIR/fuzz/runs/$target
mkdir -p "$run/corpus"
dict=()
[ -f "fuzz/dict/$target.dict" ] && dict=("-dict=fuzz/dict/$target.dict")
log=$run/fuzz.log
status=0
"$BUILD_DIR/fuzz/$target" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$run/" "${dict[@]}" "$@" "$run/corpus" "fuzz/corpus/$target" >"$log" 2>&1 || status=$?

# The figures: executions and time from the final statistics, coverage from the last status line.
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
echo "$target: ${execs:-?} executions in ${secs:-$seconds} s, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?} inputs"
if [ "$status" -ne 0 ]; then
  grep -E 'ERROR|SUMMARY|fuzz check failed|Test unit written' "$log" | head -5 >&2
  echo "$target: crash (exit $status); the log is $log" >&2
  exit 1
fi
