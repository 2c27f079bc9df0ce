#!/usr/bin/env bash
# scripts/bench --astra PATH with a stand-in for ASTRA-sim's binary (there is
# none on the build machine): a script that runs the loom under test with
# ASTRA-sim's command line, as ASTRA-sim would be run.  Its figures are
# loom's, so every row must show the same simulated time on both sides
# (+0.000%) for each of the 3 quick cases, and their rank counts.  A stand-in
# that fails shows its exit code in the row; a PATH that is not executable
# is refused with exit 2.
# Usage: run_bench_astra.sh LOOM_BIN SOURCE_ROOT
set -euo pipefail
loom_bin=$1 src=$2
tmp=$(mktemp -d /tmp/loom-bench-astra-test-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
printf '#!/bin/sh\nexec "%s" "$@"\n' "$loom_bin" >"$tmp/astra"
printf '#!/bin/sh\necho "segfault" >&2\nexit 3\n' >"$tmp/broken"
chmod +x "$tmp/astra" "$tmp/broken"
fail() { echo "FAIL: $*"; echo "--- output"; cat "$tmp/out"; exit 1; }

LOOM=$loom_bin "$src/scripts/bench" --astra "$tmp/astra" quick >"$tmp/out" 2>&1 || fail "exit $?"
grep -q '^| case | ranks | ASTRA-sim (ns) | loom (ns) |' "$tmp/out" || fail "no table header"
rows=$(grep -c '^| [^c-].* | +0\.000% |' "$tmp/out" || true)
[ "$rows" = 3 ] || fail "$rows rows with equal times, expected 3"
# rt_template: ASTRA-sim's timing, 8 ranks; its reference log says 117780
grep -q '^| rt_template (8 ranks) | 8 | 117780 | 117780 | +0.000% |' "$tmp/out" || fail "rt_template row"
grep -q '^| 1 MB all-to-all, Ring 16 | 16 |' "$tmp/out" || fail "16 ranks"

LOOM=$loom_bin "$src/scripts/bench" --astra "$tmp/broken" quick >"$tmp/out" 2>&1 || fail "exit $?"
[ "$(grep -c '| exit 3 |' "$tmp/out")" = 3 ] || fail "a failing ASTRA-sim: its exit code per row"

rc=0
LOOM=$loom_bin "$src/scripts/bench" --astra "$tmp/none" quick >"$tmp/out" 2>&1 || rc=$?
[ $rc = 2 ] || fail "--astra with no such file: exit $rc, expected 2"
grep -q "not an executable file" "$tmp/out" || fail "no reason given"
echo "ok"
