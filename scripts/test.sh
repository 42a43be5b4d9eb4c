#!/usr/bin/env bash
# The test suite: unit tests, then system tests (real QEMU/TCG, bridges, nftables; need root).
# Usage: scripts/test.sh [all|unit|system]; NIMBO_TEST_FILTER=REGEX runs only matching test names.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh scripts/test-packages.txt
mode="${1:-all}"
unit=$(find dist -name '*.test.js' ! -name '*.system.test.js' ! -path 'dist/test/system/*' | sort)
system=$( (find dist -name '*.system.test.js'; find dist/test/system -name '*.test.js' ! -name '*.system.test.js') | sort)
case "$mode" in
  unit) files="$unit" ;;
  system) files="$system" ;;
  *) files="$unit $system" ;;
esac
# One runner invocation so its closing summary counts every test; files run one at a time (system tests share the host).
exec node --test --test-concurrency=1 --test-timeout=900000 ${NIMBO_TEST_FILTER:+--test-name-pattern="$NIMBO_TEST_FILTER"} $files
