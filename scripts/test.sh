#!/usr/bin/env bash
# The whole test suite: unit tests, then system tests (real QEMU/TCG, bridges, nftables; need root).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh scripts/test-packages.txt
unit=$(find dist -name '*.test.js' ! -name '*.system.test.js' ! -path 'dist/test/system/*' | sort)
system=$(find dist -name '*.system.test.js' | sort; find dist/test/system -name '*.test.js' ! -name '*.system.test.js' 2>/dev/null | sort)
# One runner invocation so its closing summary counts every test; files run one at a time (system tests share the host).
exec node --test --test-concurrency=1 --test-timeout=900000 ${NIMBO_TEST_FILTER:+--test-name-pattern="$NIMBO_TEST_FILTER"} $unit $system
