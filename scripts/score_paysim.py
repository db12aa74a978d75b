#!/usr/bin/env python3
"""Score riskwarn alerts on PaySim events against PaySim's fraud labels.

Usage:
    scripts/score_paysim.py EVENTS.jsonl ALERTS.jsonl [--rules RULESET.json]

EVENTS.jsonl is the output of scripts/paysim_to_events.py (labels in
"label": {"is_fraud", "is_flagged", "paysim_type"}); ALERTS.jsonl is the stdout of
`bin/riskwarn replay --rules RULESET.json EVENTS.jsonl`. Either may be "-" (stdin).

An event is predicted fraud at a level when it has an alert at or above that level
(low < medium < high); for one rule, when that rule reached that level or above on it.
Every labelled event is scored; events without an alert are predicted not fraud.
Printed: the confusion counts (TP, FP, FN, TN), precision, recall and F1 against
label.is_fraud, for all rules together and rule by rule at >= low, >= medium, >= high;
PaySim's own isFlaggedFraud rule as a baseline; and fraud and alerts by PaySim type.
With --rules, rules of the ruleset that never fired are listed too, in ruleset order.

Python 3 standard library only; the output is deterministic.
"""

import argparse
import json
import sys

LEVELS = ["low", "medium", "high"]
RANK = {name: i + 1 for i, name in enumerate(LEVELS)}


def open_text(path):
    if path == "-":
        return sys.stdin
    return open(path, encoding="utf-8")


def read_jsonl(path, what):
    """Yields (line number, object) for the non-empty lines of a JSON-lines file."""
    with open_text(path) as f:
        for n, line in enumerate(f, start=1):
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                sys.exit("%s:%d: %s: not JSON: %s" % (path, n, what, e))
            if not isinstance(obj, dict):
                sys.exit("%s:%d: %s: not a JSON object" % (path, n, what))
            yield n, obj


def load_events(path):
    """event_id -> (is_fraud, is_flagged, paysim_type), in file order."""
    events = {}
    for n, e in read_jsonl(path, "event"):
        label = e.get("label")
        if not isinstance(label, dict) or "is_fraud" not in label:
            continue
        eid = e.get("event_id")
        if not isinstance(eid, str):
            sys.exit("%s:%d: event without a string event_id" % (path, n))
        events[eid] = (int(label["is_fraud"]), int(label.get("is_flagged", 0)),
                       str(label.get("paysim_type", "?")))
    return events


def load_alerts(path, events):
    """Returns (event level, rule levels, rule order, alerts read, alerts on unknown events).

    event level: event_id -> highest alert level (1..3); rule levels: rule id ->
    {event_id -> highest level that rule reached}; rule order: rule ids as first seen."""
    level, per_rule, order = {}, {}, []
    n_alerts = n_unknown = 0
    for n, a in read_jsonl(path, "alert"):
        n_alerts += 1
        eid = a.get("event_id")
        if eid not in events:
            n_unknown += 1
            continue
        lv = RANK.get(a.get("level"))
        if lv is None:
            sys.exit("%s:%d: alert with unknown level %r" % (path, n, a.get("level")))
        level[eid] = max(level.get(eid, 0), lv)
        for r in a.get("rules") or []:
            rid, rlv = r.get("id"), RANK.get(r.get("level"))
            if not isinstance(rid, str) or rlv is None:
                continue
            if rid not in per_rule:
                per_rule[rid] = {}
                order.append(rid)
            per_rule[rid][eid] = max(per_rule[rid].get(eid, 0), rlv)
    return level, per_rule, order, n_alerts, n_unknown


def confusion(events, predicted):
    """predicted: set of event ids predicted fraud -> (tp, fp, fn, tn)."""
    tp = fp = fn = tn = 0
    for eid, (fraud, _, _) in events.items():
        p = eid in predicted
        if p and fraud:
            tp += 1
        elif p:
            fp += 1
        elif fraud:
            fn += 1
        else:
            tn += 1
    return tp, fp, fn, tn


def row(name, counts, width):
    tp, fp, fn, tn = counts
    prec = tp / (tp + fp) if tp + fp else None
    rec = tp / (tp + fn) if tp + fn else None
    f1 = 2 * prec * rec / (prec + rec) if prec and rec else None
    fmt = lambda x: "%.4f" % x if x is not None else "-"  # noqa: E731
    return "%-*s %6d %6d %6d %6d  %9s %7s %7s" % (width, name, tp, fp, fn, tn, fmt(prec),
                                                  fmt(rec), fmt(f1))


def header(first, width):
    return "%-*s %6s %6s %6s %6s  %9s %7s %7s" % (width, first, "TP", "FP", "FN", "TN",
                                                  "precision", "recall", "F1")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("events", help="PaySim events (scripts/paysim_to_events.py output)")
    ap.add_argument("alerts", help="alerts (riskwarn replay stdout)")
    ap.add_argument("--rules", help="the ruleset replayed, to list rules that never fired")
    ap.add_argument("--base-rate", type=float, default=0.00129,
                    help="fraud rate to re-weight precision to (default %(default)s, the "
                         "full PaySim set's; the sample is fraud-enriched)")
    args = ap.parse_args(argv)
    if args.events == "-" and args.alerts == "-":
        ap.error("only one of EVENTS and ALERTS can be stdin")
    if not 0 < args.base_rate < 1:
        ap.error("--base-rate: must be between 0 and 1")

    events = load_events(args.events)
    if not events:
        sys.exit("%s: no events with label.is_fraud" % args.events)
    level, per_rule, order, n_alerts, n_unknown = load_alerts(args.alerts, events)
    if args.rules:
        with open(args.rules, encoding="utf-8") as f:
            ruleset = json.load(f)
        ids = [r.get("id") for r in ruleset.get("rules", []) if isinstance(r, dict)]
        order = [i for i in ids if isinstance(i, str)] + [i for i in order if i not in ids]

    n = len(events)
    n_fraud = sum(1 for v in events.values() if v[0])
    print("PaySim scoring: %d labelled events, %d fraud (%s%%), %d alerts on %d of them"
          % (n, n_fraud, "%.2f" % (100.0 * n_fraud / n), n_alerts - n_unknown, len(level)))
    if n_unknown:
        print("(%d alerts name events that are not labelled PaySim events; ignored)" % n_unknown)
    print("An event is predicted fraud when it has an alert at or above the level.")
    print()

    width = 34
    print(header("predicted fraud when", width))
    for lv in LEVELS:
        pred = {e for e, l in level.items() if l >= RANK[lv]}
        print(row("any rule >= %s" % lv, confusion(events, pred), width))
    flagged = {e for e, v in events.items() if v[1]}
    print(row("isFlaggedFraud (PaySim baseline)", confusion(events, flagged), width))
    print()
    pi = args.base_rate
    print("precision re-weighted to a fraud rate of %s%% (same recall and false-positive "
          "rate):" % ("%g" % (100 * pi)))
    parts = []
    for name, pred in [(">= %s" % lv, {e for e, l in level.items() if l >= RANK[lv]})
                       for lv in LEVELS] + [("isFlaggedFraud", flagged)]:
        tp, fp, fn, tn = confusion(events, pred)
        tpr = tp / (tp + fn) if tp + fn else 0.0
        fpr = fp / (fp + tn) if fp + tn else 0.0
        den = tpr * pi + fpr * (1 - pi)
        parts.append("%s %s" % (name, "%.4f" % (tpr * pi / den) if den else "-"))
    print("  " + ", ".join(parts))
    print()

    width = 36
    print("per rule: predicted fraud when the rule reached the level on the event")
    print(header("rule", width))
    for rid in order:
        hits = per_rule.get(rid, {})
        if not hits:
            print("%-*s %s" % (width, rid, "(no alerts)"))
            continue
        for lv in LEVELS:
            pred = {e for e, l in hits.items() if l >= RANK[lv]}
            print(row("%s >= %s" % (rid, lv), confusion(events, pred), width))
    print()

    print("by PaySim type: events, fraud, and events alerted at >= low / medium / high "
          "(fraud among them)")
    print("%-10s %7s %6s  %15s %15s %15s" % ("type", "events", "fraud", ">= low",
                                             ">= medium", ">= high"))
    types = sorted({v[2] for v in events.values()})
    for t in types:
        ids = [e for e, v in events.items() if v[2] == t]
        fr = sum(1 for e in ids if events[e][0])
        cells = []
        for lv in LEVELS:
            hit = [e for e in ids if level.get(e, 0) >= RANK[lv]]
            cells.append("%d (%d)" % (len(hit), sum(1 for e in hit if events[e][0])))
        print("%-10s %7d %6d  %15s %15s %15s" % (t, len(ids), fr, *cells))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # e.g. piped into head
        sys.stderr.close()
        sys.exit(1)
