#!/usr/bin/env bash
# Checks (or with --fix, applies) clang-format on native/. Skips with a note when clang-format
# is not installed (scripts/setup.sh installs it on Debian).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null 2>&1; then
  echo "clang-format not found: skipping the native format check (Debian: apt-get install -y clang-format)"
  exit 0
fi
mapfile -t files < <(find native -name '*.cc' -o -name '*.h' | sort)
if [ "${1:-}" = "--fix" ]; then
  clang-format -i "${files[@]}"
else
  clang-format --dry-run --Werror "${files[@]}"
  echo "clang-format: ${#files[@]} native files formatted"
fi
