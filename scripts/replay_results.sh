#!/bin/sh
# Replays the two real data sets through the default rule pack and prints what it finds.
#
# Usage: scripts/replay_results.sh [OUTDIR]
#
#   1. converts data/paysim/paysim_sample12k.csv and data/cfpb/complaints_sample6623.csv
#      with scripts/paysim_to_events.py and scripts/cfpb_to_events.py;
#   2. replays each through `bin/riskwarn replay --rules rules/packs/default.json`;
#   3. prints, for each, the replay's summary (alerts by level, and the per-rule,
#      per-level table from its stderr), and for PaySim the scoring of the alerts against
#      PaySim's fraud labels (scripts/score_paysim.py).
#
# The events, alerts and summaries are written to OUTDIR when given (kept), else to a
# temporary directory that is removed on exit. Deterministic: the same inputs, rules and
# binary give the same output, byte for byte (replay writes each event's own time as
# emitted_at). Environment: RISKWARN (default bin/riskwarn), RULES (default
# rules/packs/default.json), PYTHON (default python3). Run `make` first.
set -eu
export PYTHONDONTWRITEBYTECODE=1  # no scripts/__pycache__ left behind

REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
RISKWARN=${RISKWARN:-bin/riskwarn}
RULES=${RULES:-rules/packs/default.json}
PYTHON=${PYTHON:-python3}
PAYSIM_CSV=data/paysim/paysim_sample12k.csv
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

# replay NAME: $OUT/NAME.jsonl -> $OUT/NAME.alerts.jsonl, $OUT/NAME.summary.txt
replay() {
    if ! "$RISKWARN" replay --rules "$RULES" "$OUT/$1.jsonl" \
        >"$OUT/$1.alerts.jsonl" 2>"$OUT/$1.summary.txt"; then
        cat "$OUT/$1.summary.txt" >&2
        echo "replay_results.sh: $RISKWARN replay failed on $1" >&2
        exit 1
    fi
}

"$PYTHON" scripts/paysim_to_events.py "$PAYSIM_CSV" >"$OUT/paysim.jsonl"
"$PYTHON" scripts/cfpb_to_events.py "$CFPB_CSV" >"$OUT/cfpb.jsonl"
replay paysim
replay cfpb

echo "rules:    $RULES"
echo "riskwarn: $("$RISKWARN" version 2>/dev/null | head -n 1)"
echo
echo "== PaySim: $PAYSIM_CSV -> $(wc -l <"$OUT/paysim.jsonl" | tr -d ' ') transaction events"
cat "$OUT/paysim.summary.txt"
echo
echo "== PaySim: alerts scored against isFraud"
"$PYTHON" scripts/score_paysim.py --rules "$RULES" "$OUT/paysim.jsonl" "$OUT/paysim.alerts.jsonl"
echo
echo "== CFPB: $CFPB_CSV -> $(wc -l <"$OUT/cfpb.jsonl" | tr -d ' ') complaint events"
cat "$OUT/cfpb.summary.txt"
