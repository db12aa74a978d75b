#!/bin/sh
# Runs each Check test binary given, shows its output and how long it took,
# and prints the totals as the last line: "N passed, N failed". Exits nonzero
# when anything failed.
set -u
checks=0
failed=0
bad_bins=""
failures=""
for t in "$@"; do
    name=$(basename "$t")
    echo "== $name"
    start=$(date +%s)
    out=$("$t" 2>&1)
    rc=$?
    took=$(( $(date +%s) - start ))
    printf '%s\n' "$out"
    echo "   ($name: ${took} s)"
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: ' | tail -n 1)
    if [ -n "$line" ]; then
        n=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
        f=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
        e=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
        checks=$((checks + n))
        failed=$((failed + f + e))
    elif [ "$rc" -ne 0 ]; then
        failed=$((failed + 1))
    fi
    if [ "$rc" -ne 0 ]; then
        bad_bins="$bad_bins $name"
        what=$(printf '%s\n' "$out" | grep -E ':(F|E):' | head -n 10)
        [ -z "$what" ] && what=$(printf '%s\n' "$out" | tail -n 10)
        failures="$failures
-- $name (exit $rc):
$what"
    fi
done
passed=$((checks - failed))
[ "$passed" -lt 0 ] && passed=0
if [ -n "$bad_bins" ]; then
    printf '%s\n' "$failures" | sed '1d'
    echo "failing:$bad_bins"
fi
echo "$passed passed, $failed failed"
[ -z "$bad_bins" ] && [ "$failed" -eq 0 ]
