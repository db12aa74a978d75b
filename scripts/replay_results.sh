#!/bin/sh
# Replays the real data sets of data/ through their rule packs and prints what docs/results.md
# reports.
#
# Usage: scripts/replay_results.sh [OUTDIR]
#
#   1. converts data/paysim, data/amlsim and data/cfpb with scripts/paysim_to_events.py,
#      scripts/amlsim_to_events.py and scripts/cfpb_to_events.py;
#   2. PaySim: scores rules/packs/paysim.json on half A (where its thresholds were chosen)
#      and on half B (held out), each half replayed alone (scripts/score.py --unit event);
#      and the default pack on half B, for comparison;
#   3. AMLSim: replays every event through rules/packs/amlsim.json once and scores the
#      accounts of half A and of half B (scripts/score.py --unit account), cycle accounts
#      included (loops of up to $CYCLES hops:days between suspicious accounts);
#   4. CFPB: replays the complaints through rules/packs/default.json and prints the summary.
#
# The events and alerts are written to OUTDIR when given (kept), else to a temporary
# directory removed on exit. Deterministic: the same inputs, packs and binary give the same
# output, byte for byte (replay writes each event's own time as emitted_at). Environment:
# RISKWARN (default bin/riskwarn), PYTHON (default python3), CYCLES (default 5:30, the
# loops rules/packs/amlsim.json's money-returns looks for). Run
# `make` first.
set -eu
export PYTHONDONTWRITEBYTECODE=1 # no scripts/__pycache__ left behind

REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
RISKWARN=${RISKWARN:-bin/riskwarn}
PYTHON=${PYTHON:-python3}
CYCLES=${CYCLES:-5:30}
PAYSIM_CSV=data/paysim/paysim_sample12k.csv
AMLSIM_DIR=data/amlsim/20K_fanin200cycle200
CFPB_CSV=data/cfpb/complaints_sample6623.csv

if [ ! -x "$RISKWARN" ]; then
    echo "replay_results.sh: $RISKWARN not found; run make first" >&2
    exit 2
fi
if [ $# -gt 1 ]; then
    echo "usage: scripts/replay_results.sh [OUTDIR]" >&2
    exit 2
elif [ $# -eq 1 ]; then
    OUT=$1
    mkdir -p "$OUT"
else
    OUT=$(mktemp -d "${TMPDIR:-/tmp}/rw-results.XXXXXX")
    trap 'rm -rf "$OUT"' EXIT
    trap 'exit 130' INT TERM
fi

# replay NAME RULES: $OUT/NAME.jsonl -> $OUT/NAME.alerts.jsonl, $OUT/NAME.summary.txt
replay() {
    if ! "$RISKWARN" replay --rules "$2" "$OUT/$1.jsonl" \
        >"$OUT/$1.alerts.jsonl" 2>"$OUT/$1.summary.txt"; then
        cat "$OUT/$1.summary.txt" >&2
        echo "replay_results.sh: $RISKWARN replay failed on $1" >&2
        exit 1
    fi
}
score() {
    "$PYTHON" scripts/score.py --riskwarn "$RISKWARN" "$@"
}

"$PYTHON" scripts/paysim_to_events.py "$PAYSIM_CSV" >"$OUT/paysim.jsonl"
"$PYTHON" scripts/amlsim_to_events.py "$AMLSIM_DIR" >"$OUT/amlsim.jsonl"
"$PYTHON" scripts/cfpb_to_events.py "$CFPB_CSV" >"$OUT/cfpb.jsonl"

echo "riskwarn: $("$RISKWARN" version 2>/dev/null | head -n 1)"
echo
echo "== PaySim: $PAYSIM_CSV -> $(wc -l <"$OUT/paysim.jsonl" | tr -d ' ') transaction events"
for half in A B; do
    echo
    score --rules rules/packs/paysim.json --half $half "$OUT/paysim.jsonl"
done
echo
score --rules rules/packs/default.json --half B "$OUT/paysim.jsonl" | head -n 6

echo
echo "== AMLSim: $AMLSIM_DIR -> $(wc -l <"$OUT/amlsim.jsonl" | tr -d ' ') transaction events"
replay amlsim rules/packs/amlsim.json
cat "$OUT/amlsim.summary.txt"
for half in A B; do
    echo
    score --rules rules/packs/amlsim.json --unit account --half $half --cycles "$CYCLES" \
        --alerts "$OUT/amlsim.alerts.jsonl" "$OUT/amlsim.jsonl"
done

echo
echo "== CFPB: $CFPB_CSV -> $(wc -l <"$OUT/cfpb.jsonl" | tr -d ' ') complaint events"
replay cfpb rules/packs/default.json
cat "$OUT/cfpb.summary.txt"
