#!/usr/bin/env python3
"""Convert the CFPB complaints CSV into riskwarn `complaint` events (JSON lines on stdout).

Usage:
    scripts/cfpb_to_events.py [CSV] [--utc-offset +08:00] [--limit N]

For each CSV row:
  * an "opened" event at `Date received`, 09:00 + (Complaint ID mod 60) minutes local time;
  * a "responded" event at `Date sent to company`, 17:00 local time, when that date is
    present and `Company response to consumer` is non-empty (if the row's dates would put
    it before the opening, it is moved to the opening time).
Times are written as RFC 3339 in the given UTC offset (default +08:00, the rule pack's
calendar), e.g. 2019-09-24T09:32:00+08:00. Output is sorted by ts (stable: file order, and
"opened" before "responded" at equal times).

Fields:
    event_id     "cf-<Complaint ID>-opened" / "cf-<Complaint ID>-responded"
    type         "complaint"
    ts           see above
    complaint_id Complaint ID (string)
    customer_id  "cust-<Complaint ID mod 997>"  (so some customers repeat)
    action       "opened" / "responded"
    severity     "urgent" when Issue mentions fraud, identity theft, scam or unauthorized,
                 else "general": from what is known when the complaint is opened, never
                 from the outcome columns (`Timely response?`, `Consumer disputed?`,
                 which are what a complaint rule would be judged against)
    product      Product
    channel      Submitted via
    branch       State (left out when empty)
    issue        Issue
    company      Company
    response     Company response to consumer (responded events only)

Python 3 standard library only; the output is byte-for-byte deterministic.
"""

import csv
import datetime as dt
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paysim_to_events import converter_main, dumps, format_ts, write_events  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CSV = REPO / "data" / "cfpb" / "complaints_sample6623.csv"
DEFAULT_OFFSET = "+08:00"

URGENT_RE = re.compile(r"fraud|identity theft|scam|unauthori[sz]ed", re.IGNORECASE)
OPEN_HOUR = 9
RESPOND_HOUR = 17

__all__ = ["load_rows", "severity", "row_to_events", "convert", "parse_offset", "dumps"]


def parse_offset(text):
    """'+08:00' / '-05:00' / 'Z' -> datetime.timezone. Raises ValueError."""
    if text in ("Z", "z"):
        return dt.timezone.utc
    m = re.match(r"^([+-])(\d{2}):(\d{2})$", text)
    if not m:
        raise ValueError("not a UTC offset: %r" % text)
    off = dt.timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
    if off >= dt.timedelta(hours=24):
        raise ValueError("not a UTC offset: %r" % text)
    return dt.timezone(-off if m.group(1) == "-" else off)


def load_rows(path):
    """Returns the CSV rows (dicts) in file order."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def severity(row):
    """From the issue alone: the outcome columns are not known when a complaint opens."""
    return "urgent" if URGENT_RE.search(row.get("Issue", "")) else "general"


def _day(text):
    return dt.date.fromisoformat(text.strip())


def row_to_events(row, tz, shift_days=0):
    """One CFPB row -> [opened] or [opened, responded] (dicts, fixed key order).

    shift_days moves both dates of the row by the same number of days (used by the demo
    to re-date real complaints; 0 keeps the row's own dates)."""
    return [e for _, e in _timed_events(row, tz, shift_days)]


def _timed_events(row, tz, shift_days):
    """Like row_to_events, as [(datetime, event)]."""
    cid = row["Complaint ID"].strip()
    n = int(cid)
    shift = dt.timedelta(days=shift_days)
    received = _day(row["Date received"]) + shift
    opened_at = dt.datetime(received.year, received.month, received.day, OPEN_HOUR,
                            tzinfo=tz) + dt.timedelta(minutes=n % 60)
    common = {
        "complaint_id": cid,
        "customer_id": "cust-%d" % (n % 997),
    }
    sev = severity(row)

    def event(action, when):
        e = {"event_id": "cf-%s-%s" % (cid, action), "type": "complaint",
             "ts": format_ts(when)}
        e.update(common)
        e["action"] = action
        e["severity"] = sev
        e["product"] = row["Product"]
        e["channel"] = row["Submitted via"]
        if row.get("State", "").strip():
            e["branch"] = row["State"].strip()
        e["issue"] = row["Issue"]
        e["company"] = row["Company"]
        return e

    events = [(opened_at, event("opened", opened_at))]
    response = row.get("Company response to consumer", "").strip()
    sent = row.get("Date sent to company", "").strip()
    if response and sent:
        day = _day(sent) + shift
        responded_at = dt.datetime(day.year, day.month, day.day, RESPOND_HOUR, tzinfo=tz)
        responded_at = max(responded_at, opened_at)
        e = event("responded", responded_at)
        e["response"] = response
        events.append((responded_at, e))
    return events


def convert(rows, tz, shift_days=0):
    """Rows -> all their events, sorted by ts (stable)."""
    timed = []
    for row in rows:
        timed.extend(_timed_events(row, tz, shift_days))
    timed.sort(key=lambda te: te[0])
    return [e for _, e in timed]


def main(argv=None):
    return converter_main(
        argv, __doc__,
        ("csv", {"nargs": "?", "default": str(DEFAULT_CSV), "help": "CFPB complaints CSV"}),
        ("--utc-offset", DEFAULT_OFFSET, "local UTC offset of the times (default %(default)s)"),
        parse_offset, lambda args, tz: convert(load_rows(args.csv), tz))


if __name__ == "__main__":
    sys.exit(main())
