#!/usr/bin/env python3
"""Score a rule pack on one half of a labelled event stream: recall, precision and the share
of events alerted, per level and per rule.

Usage:
    scripts/score.py --rules PACK.json [--half A|B|all] [--unit event|account]
                     [--riskwarn bin/riskwarn] [--alerts ALERTS.jsonl] [--write-half FILE]
                     [--cycles HOPS:DAYS] [--base-rate P] EVENTS.jsonl

The split (fixed, the same for every data set): an account belongs to half A when the first
byte of SHA-256("riskwarn-split:" + its `account` value) is even, else to half B. Accounts
repeat across events, so every event of an account, and the account itself, fall in the same
half; nothing about the split depends on labels or on the order of the events.

--unit event (labels on events, `label.is_fraud`; PaySim): the half's events, in their
  order, are replayed alone with `riskwarn replay --rules PACK`. An event is predicted
  positive at a level when its alert reached that level or above (for one rule: when that
  rule did). Printed per level and rule: events alerted and their share of the half's events,
  TP, FP, FN, recall and precision against `label.is_fraud`.

--unit account (labels on accounts, `label.account_suspicious` and
  `label.counterparty_suspicious`; AMLSim): every event is replayed (money moves between
  the halves, and the rules must see all of it), and the accounts of the half are scored.
  An account is suspicious when any event labels it so. An alert counts against the
  accounts named by the key of each rule it lists (the rule's `key` field, or each field of a
  composite key, when it is `account` or `counterparty`): an account reaches a level when a
  rule keyed by it reached that level or above on some event. Printed per level and rule:
  suspicious accounts reached (recall), normal accounts reached (and their share of the
  normal accounts), precision, and the events alerted among the events of the half's
  accounts (share). With --cycles HOPS:DAYS, the cycle accounts are also scored: suspicious
  accounts of the half that lie on a closed loop of at most HOPS transfers between suspicious
  accounts, all within DAYS days of each other (in any order); the labels say which
  accounts are suspicious, not which pattern they belong to, so this is how cycle accounts
  are told apart.

--half all scores everything (no split). --alerts reads the alerts of an earlier replay of
exactly the events replayed (the half's for --unit event, all for --unit account) instead
of running riskwarn. --write-half FILE writes the events replayed and stops.

Python 3 standard library only; the output is deterministic.
"""

import argparse
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import tempfile

LEVELS = ["low", "medium", "high"]
RANK = {name: i + 1 for i, name in enumerate(LEVELS)}
KEYED = ("account", "counterparty")


def half_of(account):
    """'A' or 'B': the fixed split of accounts."""
    digest = hashlib.sha256(("riskwarn-split:" + account).encode("utf-8")).digest()
    return "A" if digest[0] % 2 == 0 else "B"


def get(obj, path):
    """The value at a dotted path, or None."""
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def read_jsonl(path, what):
    """[(raw line, object)] of the non-empty lines of a JSON-lines file."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                sys.exit("%s:%d: %s: not JSON: %s" % (path, n, what, e))
            if not isinstance(obj, dict):
                sys.exit("%s:%d: %s: not a JSON object" % (path, n, what))
            out.append((line if line.endswith("\n") else line + "\n", obj))
    return out


def rule_keys(pack):
    """Rule ids in pack order, and rule id -> the account fields its key names."""
    with open(pack, encoding="utf-8") as f:
        rs = json.load(f)
    order, keys = [], {}
    for r in rs.get("rules", []):
        if not isinstance(r, dict) or not isinstance(r.get("id"), str):
            continue
        k = r.get("key")
        fields = k if isinstance(k, list) else [k] if isinstance(k, str) else []
        order.append(r["id"])
        keys[r["id"]] = [f for f in fields if f in KEYED]
    return order, keys


def replay(riskwarn, pack, lines):
    """Runs riskwarn replay on the lines; returns the alert objects."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False,
                                     encoding="utf-8") as f:
        f.writelines(lines)
        path = f.name
    try:
        p = subprocess.run([riskwarn, "replay", "--rules", pack, path], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, check=False)
    finally:
        os.unlink(path)
    if p.returncode != 0:
        sys.stderr.write(p.stderr.decode("utf-8", "replace"))
        sys.exit("score.py: %s replay failed (exit %d)" % (riskwarn, p.returncode))
    alerts = []
    for line in p.stdout.decode("utf-8").splitlines():
        if line.strip():
            alerts.append(json.loads(line))
    return alerts


def alert_levels(alerts):
    """event_id -> (event level, {rule id: level})."""
    out = {}
    for a in alerts:
        eid = a.get("event_id")
        lv, rules = out.get(eid, (0, {}))
        lv = max(lv, RANK.get(a.get("level"), 0))
        for r in a.get("rules") or []:
            rid, rl = r.get("id"), RANK.get(r.get("level"), 0)
            if isinstance(rid, str) and rl:
                rules[rid] = max(rules.get(rid, 0), rl)
        out[eid] = (lv, rules)
    return out


def pct(x, n):
    return "%.2f%%" % (100.0 * x / n) if n else "-"


def ratio(x, n):
    return "%.3f" % (x / n) if n else "-"


def score_events(events, levels, order, base_rate):
    """Per level and rule: alerted, share, TP, FP, FN, recall, precision."""
    n = len(events)
    pos = {get(e, "event_id") for _, e in events if get(e, "label.is_fraud") in (1, True)}
    print("%d events, %d positive (label.is_fraud), %d with an alert" %
          (n, len(pos), sum(1 for v in levels.values() if v[0])))
    fmt = "%-34s %8s %8s %6s %6s %6s %7s %9s"
    print(fmt % ("alerted when", "events", "share", "TP", "FP", "FN", "recall", "precision"))

    def line(name, hit):
        tp = len(hit & pos)
        fp = len(hit) - tp
        print(fmt % (name, len(hit), pct(len(hit), n), tp, fp, len(pos) - tp,
                     ratio(tp, len(pos)), ratio(tp, len(hit))))

    flagged = {get(e, "event_id") for _, e in events if get(e, "label.is_flagged") in (1, True)}
    for lv in LEVELS:
        line("any rule >= %s" % lv, {e for e, v in levels.items() if v[0] >= RANK[lv]})
    if flagged:
        line("label.is_flagged (source's own)", flagged)
    for rid in order:
        for lv in LEVELS:
            hit = {e for e, v in levels.items() if v[1].get(rid, 0) >= RANK[lv]}
            if hit or lv == "low":
                line("%s >= %s" % (rid, lv), hit)
    if base_rate:
        parts = []
        for lv in LEVELS:
            hit = {e for e, v in levels.items() if v[0] >= RANK[lv]}
            tpr = len(hit & pos) / len(pos) if pos else 0.0
            fpr = len(hit - pos) / (n - len(pos)) if n > len(pos) else 0.0
            den = tpr * base_rate + fpr * (1 - base_rate)
            parts.append(">= %s %s" % (lv, "%.4f" % (tpr * base_rate / den) if den else "-"))
        print("precision at a positive rate of %g%% (same recall and false-positive rate): %s"
              % (100 * base_rate, ", ".join(parts)))
    types = sorted({get(e, "txn_type") for _, e in events if isinstance(get(e, "txn_type"), str)})
    if types:
        print("by txn_type: events, positive, and events alerted at >= low / medium / high "
              "(positive among them)")
        for t in types:
            ids = [get(e, "event_id") for _, e in events if get(e, "txn_type") == t]
            cells = []
            for lv in LEVELS:
                hit = [i for i in ids if levels.get(i, (0,))[0] >= RANK[lv]]
                cells.append("%d (%d)" % (len(hit), sum(1 for i in hit if i in pos)))
            print("  %-10s %6d %5d  %s" % (t, len(ids), sum(1 for i in ids if i in pos),
                                          "  ".join("%12s" % c for c in cells)))


def account_labels(events):
    """account -> 0/1 over every event that names it."""
    lab = {}
    for _, e in events:
        for field in KEYED:
            a = get(e, field)
            if isinstance(a, str):
                v = get(e, "label.%s_suspicious" % field)
                lab[a] = max(lab.get(a, 0), 1 if v in (1, True) else 0)
    return lab


def ts_days(text):
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t.timestamp() / 86400.0


def cycle_accounts(events, lab, hops, days):
    """Suspicious accounts on a loop of <= hops transfers between suspicious accounts whose
    times lie within `days` of each other (in any order)."""
    times = {}
    for _, e in events:
        a, c = get(e, "account"), get(e, "counterparty")
        if lab.get(a) and lab.get(c) and a != c:
            times.setdefault((a, c), []).append(ts_days(e["ts"]))
    succ = {}
    for a, c in times:
        succ.setdefault(a, []).append(c)
    for v in succ.values():
        v.sort()
    for v in times.values():
        v.sort()

    def fits(loop):
        lists = [times[(loop[i], loop[(i + 1) % len(loop)])] for i in range(len(loop))]
        for lo in sorted({t for ts in lists for t in ts}):
            hi = lo
            for ts in lists:
                later = [t for t in ts if t >= lo]
                if not later:
                    return False
                hi = max(hi, later[0])
            if hi - lo <= days:
                return True
        return False

    found = set()
    for start in sorted(succ):
        stack = [(start, [start])]
        while stack:
            x, path = stack.pop()
            for y in succ.get(x, ()):
                if y == start and len(path) >= 2:
                    if fits(path):
                        found.update(path)
                elif y > start and y not in path and len(path) < hops:
                    stack.append((y, path + [y]))
    return found


def score_accounts(events, levels, order, keys, half, cycles):
    lab = account_labels(events)
    accounts = {a for a in lab if half == "all" or half_of(a) == half}
    sus = {a for a in accounts if lab[a]}
    normal = accounts - sus
    reach = {}  # (rule or None, account) -> level
    by_id = {get(e, "event_id"): e for _, e in events}
    half_events = [get(e, "event_id") for _, e in events
                   if isinstance(get(e, "account"), str) and get(e, "account") in accounts]
    for eid, (_, rules) in levels.items():
        e = by_id.get(eid)
        if e is None:
            continue
        for rid, rl in rules.items():
            for field in keys.get(rid, []):
                a = get(e, field)
                if a in accounts:
                    for k in ((rid, a), (None, a)):
                        reach[k] = max(reach.get(k, 0), rl)
    print("%d accounts in the half (%d suspicious, %d normal); %d events from them, %d with "
          "an alert" % (len(accounts), len(sus), len(normal), len(half_events),
                        sum(1 for e in half_events if levels.get(e, (0,))[0])))
    cyc = set()
    if cycles:
        cyc = cycle_accounts(events, lab, cycles[0], cycles[1]) & sus
        print("%d cycle accounts among the suspicious ones (loops of <= %d transfers between "
              "suspicious accounts within %g days)" % (len(cyc), cycles[0], cycles[1]))
    fmt = "%-34s %10s %7s %10s %7s %9s %9s" + (" %10s" if cycles else "")
    head = ("reached when", "suspicious", "recall", "normal", "share", "precision",
            "events") + (("cycle acc.",) if cycles else ())
    print(fmt % head)

    def line(name, rid, rank):
        hit = {a for a in accounts if reach.get((rid, a), 0) >= rank}
        tp = len(hit & sus)
        ev = sum(1 for e in half_events if (levels.get(e, (0, {}))[0] if rid is None else
                                            levels.get(e, (0, {}))[1].get(rid, 0)) >= rank)
        row = (name, tp, ratio(tp, len(sus)), len(hit) - tp, pct(len(hit) - tp, len(normal)),
               ratio(tp, len(hit)), pct(ev, len(half_events)))
        if cycles:
            row += ("%d/%d" % (len(hit & cyc), len(cyc)),)
        print(fmt % row)

    for lv in LEVELS:
        line("any rule >= %s" % lv, None, RANK[lv])
    for rid in order:
        for lv in LEVELS:
            if lv == "low" or any(r == rid and v >= RANK[lv] for (r, _), v in reach.items()):
                line("%s >= %s" % (rid, lv), rid, RANK[lv])


def parse_cycles(text):
    try:
        h, d = text.split(":")
        hops, days = int(h), float(d)
    except ValueError:
        raise argparse.ArgumentTypeError("expected HOPS:DAYS, e.g. 5:30") from None
    if hops < 2 or days <= 0:
        raise argparse.ArgumentTypeError("HOPS must be 2 or more and DAYS positive")
    return hops, days


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("events", help="labelled events (JSON lines)")
    ap.add_argument("--rules", required=True, help="the rule pack to replay")
    ap.add_argument("--half", choices=["A", "B", "all"], default="all")
    ap.add_argument("--unit", choices=["event", "account"], default="event")
    ap.add_argument("--riskwarn", default="bin/riskwarn", help="default %(default)s")
    ap.add_argument("--alerts", help="alerts of an earlier replay of the same events")
    ap.add_argument("--write-half", metavar="FILE", help="write the events replayed, stop")
    ap.add_argument("--cycles", type=parse_cycles, metavar="HOPS:DAYS")
    ap.add_argument("--base-rate", type=float, metavar="P",
                    help="--unit event: also print precision re-weighted to a positive rate "
                         "P (PaySim's sample is fraud-enriched: the full set has 0.00129)")
    args = ap.parse_args(argv)

    if args.base_rate is not None and not 0 < args.base_rate < 1:
        ap.error("--base-rate: must be between 0 and 1")
    events = read_jsonl(args.events, "event")
    if args.unit == "event" and args.half != "all":
        events = [(raw, e) for raw, e in events
                  if isinstance(get(e, "account"), str) and half_of(e["account"]) == args.half]
    if args.write_half:
        with open(args.write_half, "w", encoding="utf-8") as f:
            f.writelines(raw for raw, _ in events)
        return 0
    order, keys = rule_keys(args.rules)
    if args.alerts:
        alerts = [a for _, a in read_jsonl(args.alerts, "alert")]
    else:
        alerts = replay(args.riskwarn, args.rules, [raw for raw, _ in events])
    levels = alert_levels(alerts)
    print("rules %s, half %s (unit: %s)" % (args.rules, args.half, args.unit))
    if args.unit == "event":
        score_events(events, levels, order, args.base_rate)
    else:
        score_accounts(events, levels, order, keys, args.half, args.cycles)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(1)
