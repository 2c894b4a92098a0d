#!/usr/bin/env bash
# clang-format every tracked C++ file (.clang-format at the top).
#   scripts/format.sh          # rewrite in place
#   scripts/format.sh --check  # list unformatted files and fail (ctest runs this)
set -euo pipefail
cd "$(dirname "$0")/.."
# --others: new files not yet added are formatted too (a new file once slipped through).
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.cpp' '*.h')
if [ "${1:-}" = "--check" ]; then
  bad=()
  for f in "${files[@]}"; do
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
  done
  if ((${#bad[@]})); then
    echo "not clang-formatted (run scripts/format.sh): ${bad[*]}" >&2
    exit 1
  fi
  exit 0
fi
clang-format -i "${files[@]}"
