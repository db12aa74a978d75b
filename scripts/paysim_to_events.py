#!/usr/bin/env python3
"""Convert the PaySim CSV into riskwarn `transaction` events (JSON lines on stdout).

Usage:
    scripts/paysim_to_events.py [CSV] [--start 2026-10-01T00:00:00Z] [--limit N]

Mapping (one line per CSV row, sorted by `step`, stable):
    event_id      "ps-<row number>"   (1-based data row of the CSV, header excluded)
    type          "transaction"
    ts            --start + step hours + floor(i * 3600 / n) seconds, where the row is
                  the i-th (0-based, file order) of the n rows of its step; written in
                  the UTC offset of --start ("Z" for UTC)
    account       "6222" + 15 digits from SHA-256(nameOrig)        (19 digits)
    customer_id   nameOrig
    amount        amount (number)
    currency      "USD"
    direction     "out" for TRANSFER, CASH_OUT, PAYMENT, DEBIT; "in" for CASH_IN
    channel       TRANSFER, PAYMENT: "mobile"; CASH_IN, CASH_OUT: "agent"; DEBIT: "bank"
    counterparty  "6222" + 15 digits from SHA-256(nameDest)        (19 digits)
    txn_type      type (TRANSFER, CASH_OUT, PAYMENT, DEBIT, CASH_IN)
    balance_before, balance_after
                  oldbalanceOrg, newbalanceOrig (numbers): the account's balance
    counterparty_balance_before, counterparty_balance_after
                  oldbalanceDest, newbalanceDest (numbers): the counterparty's balance
    label         {"is_fraud": isFraud, "is_flagged": isFlaggedFraud, "paysim_type": type}

Python 3 standard library only; the output is byte-for-byte deterministic.
"""

import argparse
import csv
import datetime as dt
import hashlib
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CSV = REPO / "data" / "paysim" / "paysim_sample12k.csv"
DEFAULT_START = "2026-10-01T00:00:00Z"

DIRECTION = {"TRANSFER": "out", "CASH_OUT": "out", "PAYMENT": "out", "DEBIT": "out",
             "CASH_IN": "in"}
CHANNEL = {"TRANSFER": "mobile", "PAYMENT": "mobile", "CASH_IN": "agent",
           "CASH_OUT": "agent", "DEBIT": "bank"}

_TS_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
                    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))$")


def parse_ts(text):
    """RFC 3339 text -> timezone-aware datetime. Raises ValueError."""
    m = _TS_RE.match(text)
    if not m:
        raise ValueError("not an RFC 3339 time: %r" % text)
    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    frac = m.group(7)
    us = int(round(float(frac) * 1e6)) if frac else 0
    if m.group(8):
        tz = dt.timezone.utc
    else:
        off = dt.timedelta(hours=int(m.group(10)), minutes=int(m.group(11)))
        if off >= dt.timedelta(hours=24):
            raise ValueError("bad UTC offset: %r" % text)
        tz = dt.timezone(-off if m.group(9) == "-" else off)
    return dt.datetime(y, mo, d, h, mi, s, us, tzinfo=tz)


def format_ts(when):
    """Aware datetime -> RFC 3339 in its own offset, whole seconds unless fractional."""
    base = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        base += (".%06d" % when.microsecond).rstrip("0")
    off = when.utcoffset()
    if not off:
        return base + "Z"
    minutes = int(off.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return "%s%s%02d:%02d" % (base, sign, minutes // 60, minutes % 60)


def account_number(name, prefix="6222"):
    """Stable 19-digit bank-account-like number for a PaySim name (C.../M...)."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    width = 19 - len(prefix)
    return prefix + str(int.from_bytes(digest[:16], "big") % (10 ** width)).zfill(width)


def load_rows(path):
    """Returns [(row_number, row_dict)] in file order; row_number is 1-based, header excluded."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        return [(i, row) for i, row in enumerate(csv.DictReader(f), start=1)]


def parse_amount(text):
    value = float(text)
    return int(value) if value.is_integer() and abs(value) < 2 ** 53 else value


def row_to_event(row_number, row, when):
    """One PaySim row -> one transaction event (dict, fixed key order) at `when`."""
    kind = row["type"]
    if kind not in DIRECTION:
        raise ValueError("row %d: unknown PaySim type %r" % (row_number, kind))
    return {
        "event_id": "ps-%d" % row_number,
        "type": "transaction",
        "ts": format_ts(when),
        "account": account_number(row["nameOrig"]),
        "customer_id": row["nameOrig"],
        "amount": parse_amount(row["amount"]),
        "currency": "USD",
        "direction": DIRECTION[kind],
        "channel": CHANNEL[kind],
        "counterparty": account_number(row["nameDest"]),
        "txn_type": kind,
        "balance_before": parse_amount(row["oldbalanceOrg"]),
        "balance_after": parse_amount(row["newbalanceOrig"]),
        "counterparty_balance_before": parse_amount(row["oldbalanceDest"]),
        "counterparty_balance_after": parse_amount(row["newbalanceDest"]),
        "label": {"is_fraud": int(row["isFraud"]), "is_flagged": int(row["isFlaggedFraud"]),
                  "paysim_type": kind},
    }


def convert(rows, start):
    """[(row_number, row)] -> events sorted by step (stable), timed as described above."""
    ordered = sorted(rows, key=lambda r: int(r[1]["step"]))
    per_step = {}
    for _, row in ordered:
        step = int(row["step"])
        per_step[step] = per_step.get(step, 0) + 1
    events, seen = [], {}
    for row_number, row in ordered:
        step = int(row["step"])
        i = seen.get(step, 0)
        seen[step] = i + 1
        offset = i * 3600 // per_step[step]
        when = start + dt.timedelta(hours=step, seconds=offset)
        events.append(row_to_event(row_number, row, when))
    return events


def dumps(event):
    """The one JSON-lines encoding used by all the data scripts."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def write_events(events, out):
    """Writes JSON lines as UTF-8 bytes to a binary stream."""
    for event in events:
        out.write(dumps(event).encode("utf-8") + b"\n")


def converter_main(argv, doc, source, option, parse_option, make_events):
    """The command line every converter shares: one source (an argparse positional given as
    (name, kwargs)), one option (flag, default, help) read by parse_option, and --limit.
    make_events(args, parsed option) returns the events, written to stdout as JSON lines."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument(source[0], **source[1])
    ap.add_argument(option[0], default=option[1], help=option[2])
    ap.add_argument("--limit", type=int, default=None, help="write at most N events")
    args = ap.parse_args(argv)
    try:
        parsed = parse_option(getattr(args, option[0].lstrip("-").replace("-", "_")))
    except ValueError as e:
        ap.error("%s: %s" % (option[0], e))
    events = make_events(args, parsed)
    if args.limit is not None:
        events = events[:args.limit]
    write_events(events, sys.stdout.buffer)
    return 0


def main(argv=None):
    return converter_main(
        argv, __doc__,
        ("csv", {"nargs": "?", "default": str(DEFAULT_CSV), "help": "PaySim CSV"}),
        ("--start", DEFAULT_START, "RFC 3339 time of step 0 (default %(default)s)"),
        parse_ts, lambda args, start: convert(load_rows(args.csv), start))


if __name__ == "__main__":
    sys.exit(main())
