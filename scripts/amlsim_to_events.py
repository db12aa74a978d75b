#!/usr/bin/env python3
"""Convert an IBM AMLSim output directory into riskwarn `transaction` events (JSON lines).

Usage:
    scripts/amlsim_to_events.py DIR [--start 2026-06-01T00:00:00Z] [--limit N] > EVENTS.jsonl

DIR holds AMLSim's `transactions.csv` (sourceNodeId,targetNodeId,value,time) and
`nodes.csv` (nodeid,isFraud,init_balance,fraudStep). One event a transaction, sorted by
`time` (stable, file order within a step):
    event_id      "aml-<row number>"   (1-based data row of transactions.csv)
    type          "transaction"
    ts            --start + time days + floor(i * 86400 / n) seconds, where the row is the
                  i-th (0-based, file order) of the n rows of its step (one AMLSim step is a
                  day); written in the UTC offset of --start
    account       "6223" + 15 digits from SHA-256("amlsim:" + sourceNodeId)  (19 digits)
    customer_id   "aml-<sourceNodeId>"
    amount        value (number)
    currency      "USD"
    direction     "out"
    channel       "bank"
    counterparty  "6223" + 15 digits from SHA-256("amlsim:" + targetNodeId)
    label         {"account_suspicious": isFraud of the source, "counterparty_suspicious":
                  isFraud of the target}: AMLSim labels accounts, not transactions. They are
                  for scoring only (scripts/score.py); no rule reads them, and the events are
                  the same whatever they say (a nodes.csv whose labels are all 0 converts to
                  the same events with zero labels). An account missing from nodes.csv, or
                  with an empty or non-numeric label, is 0.

Python 3 standard library only; the output is byte-for-byte deterministic.
"""

import csv
import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paysim_to_events import account_number, converter_main, format_ts, parse_amount, \
    parse_ts  # noqa: E402

DEFAULT_START = "2026-06-01T00:00:00Z"
PREFIX = "6223"


def node_account(node_id):
    """The 19-digit account number of an AMLSim node id."""
    return account_number("amlsim:" + node_id, PREFIX)


def load_labels(path):
    """nodeid -> 0/1 from nodes.csv; a missing file is an error, bad labels are 0."""
    labels = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "nodeid" not in reader.fieldnames:
            raise ValueError("%s: no nodeid column" % path)
        for row in reader:
            text = (row.get("isFraud") or "").strip()
            labels[row["nodeid"].strip()] = 1 if text in ("1", "true", "True") else 0
    return labels


def load_transactions(path):
    """[(row number, source, target, value text, step)] in file order."""
    out = []
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        need = {"sourceNodeId", "targetNodeId", "value", "time"}
        missing = need - set(reader.fieldnames or [])
        if missing:
            raise ValueError("%s: missing columns %s" % (path, ", ".join(sorted(missing))))
        for n, row in enumerate(reader, start=1):
            try:
                step = int(row["time"])
                float(row["value"])
            except (TypeError, ValueError):
                raise ValueError("%s: row %d: bad time or value" % (path, n)) from None
            out.append((n, row["sourceNodeId"].strip(), row["targetNodeId"].strip(),
                        row["value"], step))
    return out


def convert(rows, labels, start):
    """Transactions -> events sorted by step (stable), timed as described above."""
    ordered = sorted(rows, key=lambda r: r[4])
    per_step = {}
    for r in ordered:
        per_step[r[4]] = per_step.get(r[4], 0) + 1
    events, seen = [], {}
    for n, src, dst, value, step in ordered:
        i = seen.get(step, 0)
        seen[step] = i + 1
        when = start + dt.timedelta(days=step, seconds=i * 86400 // per_step[step])
        events.append({
            "event_id": "aml-%d" % n,
            "type": "transaction",
            "ts": format_ts(when),
            "account": node_account(src),
            "customer_id": "aml-%s" % src,
            "amount": parse_amount(value),
            "currency": "USD",
            "direction": "out",
            "channel": "bank",
            "counterparty": node_account(dst),
            "label": {"account_suspicious": labels.get(src, 0),
                      "counterparty_suspicious": labels.get(dst, 0)},
        })
    return events


def events_of(d, start):
    """The events of an AMLSim output directory."""
    try:
        labels = load_labels(d / "nodes.csv")
        rows = load_transactions(d / "transactions.csv")
    except (OSError, ValueError) as e:
        sys.exit("amlsim_to_events.py: %s" % e)
    return convert(rows, labels, start)


def main(argv=None):
    return converter_main(
        argv, __doc__,
        ("dir", {"help": "AMLSim output directory (transactions.csv, nodes.csv)"}),
        ("--start", DEFAULT_START, "RFC 3339 time of step 0 (default %(default)s)"),
        parse_ts, lambda args, start: events_of(Path(args.dir), start))


if __name__ == "__main__":
    sys.exit(main())
