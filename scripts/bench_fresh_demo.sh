#!/usr/bin/env bash
# Time from a fresh clone to the first line of the demo (docs/performance.md, "The demo"): clones
# this repository's HEAD into a temporary folder, runs scripts/demo.sh there (installing what is
# missing, building only what the demo needs) and stops at the demo's first "info: demo:" line.
# Every output line is printed with the seconds since the start.
#   scripts/bench_fresh_demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
start=$(date +%s%N)
git clone -q . "$WORK/repo"
cd "$WORK/repo"
exec 3< <(scripts/demo.sh -o "$WORK/demo" 2>&1)
while IFS= read -r line <&3; do
  ds=$((($(date +%s%N) - start) / 100000000))  # tenths of a second
  t="$((ds / 10)).$((ds % 10))"
  printf '[%7ss] %s\n' "$t" "${line:0:150}"
  if [[ $line == "info: demo:"* ]]; then
    printf 'first demo output after %s s; test binaries built: %s\n' "$t" \
      "$(find build/tests -maxdepth 1 -name 'test_*' -type f 2>/dev/null | wc -l)"
    pkill -f "$WORK/demo" || true
    break
  fi
done
