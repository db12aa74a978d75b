#!/usr/bin/env python3
"""Build the demo event stream data/demo/events.jsonl (and bad.jsonl, watchlist.txt).

Usage:
    scripts/make_demo_events.py            write data/demo/events.jsonl, bad.jsonl, watchlist.txt
    scripts/make_demo_events.py --check    verify the files (see below); exit 1 on failure
    options: --out-dir DIR (default data/demo), --rules FILE (default rules/packs/default.json),
             --engine BIN (with --check: also replay the stream through BIN and compare its
             per-rule per-level table with the simulation's; without --redis, watchlist rules
             on Redis sets score nothing in either), --redis HOST:PORT (with --engine: replay
             with --redis; the caller has SADDed watchlist.txt into the set
             rw:list:counterparty-watchlist there)

Three working weeks, Monday 2026-11-09 00:00 to Friday 2026-11-27 24:00 at +08:00 (the rule
pack's calendar), in event-time order: real PaySim transactions and real CFPB complaints
converted with the functions of paysim_to_events.py and cfpb_to_events.py, plus injected
scenarios. Every event that was picked, re-keyed, re-timed or made up for a scenario carries
"scenario": "<name>"; events without that field are background (real rows, only moved onto a
demo day, or routine synthetic logins, record reads and health checks). See data/README.md.

watchlist.txt is the counterparty watchlist the demo loads into the Redis set
rw:list:counterparty-watchlist (one value a line): the destination accounts of every
fraudulent (isFraud 1) TRANSFER row of the PaySim sample, i.e. the known mule accounts.

--check re-generates the files in memory and compares them byte for byte with the ones on
disk, validates every event (unique event_id, type, RFC 3339 ts, time order, inside the
span), checks that every line of bad.jsonl is rejected, and replays the events through every
rule of the pack in Python, one simulator per module (value, window_count, window_sum,
window_distinct, window_ratio, new_value, baseline with stat ratio, watchlist against
watchlist.txt, sequence, deadline on the pack's working-day calendar; an event at t is in the
window of the event at T when T - window < t <= T), with `$expr` match conditions, composite
keys and cool-downs. It prints per rule the events (or cases) matched, the max measure and
the number of alerts at each level, after cool-downs, with the hits they held back (for
deadline rules: the cases opened, the largest measure at an alert, and the alerts), and fails
if any rule misses a level it defines. Scorecards are not simulated.

Python 3 standard library only; output is byte-for-byte deterministic.
"""

import argparse
import collections
import datetime as dt
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import cfpb_to_events as cfpb  # noqa: E402
import paysim_to_events as paysim  # noqa: E402

REPO = HERE.parent
DEFAULT_OUT = REPO / "data" / "demo"
DEFAULT_RULES = REPO / "rules" / "packs" / "default.json"

TZ = dt.timezone(dt.timedelta(hours=8))
FIRST_DAY = dt.date(2026, 11, 9)  # a Monday
N_DAYS = 19  # to Friday 2026-11-27
SPAN_START = dt.datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=TZ)
SPAN_END = SPAN_START + dt.timedelta(days=N_DAYS)
MIN_EVENTS, MAX_EVENTS = 1500, 2500

# Day numbers of the span (0 = Mon 2026-11-09).
MON1, TUE1, WED1, THU1, FRI1 = 0, 1, 2, 3, 4
MON2, TUE2, WED2, THU2, FRI2 = 7, 8, 9, 10, 11
MON3, TUE3, WED3, THU3, FRI3 = 14, 15, 16, 17, 18

# PaySim: the sample holds steps 1 (904 rows) and 19 (9,504 rows) plus a scattered tail
# (steps 311 and 717-743). Background: every day gets the rows of steps 1 and 19 whose row
# number is that day's number modulo PAYSIM_EVERY, converted with the day's start - 1 h, so
# that they keep their hour (00:00 and 18:00) and their place in it. Scenarios use the tail.
PAYSIM_DAY_STEPS = (1, 19)
PAYSIM_EVERY = 380

# CFPB: the real weeks 2019-03-25 (a Monday) .. 2019-04-12 (a Friday), the densest of the
# sample, become the demo weeks (every date moved by the same whole number of weeks, so the
# weekdays stay); background is every complaint of those weeks whose ID is a multiple of
# CFPB_EVERY. Scenarios use complaints from outside those weeks.
CFPB_FIRST = dt.date(2019, 3, 25)
CFPB_LAST = dt.date(2019, 4, 12)
CFPB_SHIFT = (FIRST_DAY - CFPB_FIRST).days
CFPB_EVERY = 10
SURGE_PRODUCT = "Credit reporting, credit repair services, or other personal consumer reports"
SURGE_BRANCH = "FL"
SURGE_TOTAL = 105  # complaints of SURGE_PRODUCT opened on the surge day, background included

SERVICES = ("core-banking", "mobile-gateway", "payments-switch")
STAFF = ("staff-0102", "staff-0117", "staff-0135", "staff-0148", "staff-0163", "staff-0171")
INSIDER = "staff-0733"


def at(day, hh, mm=0, ss=0):
    return SPAN_START + dt.timedelta(days=day, hours=hh, minutes=mm, seconds=ss)


def h32(*parts):
    data = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.sha256(data).digest()[:4], "big")


def device_of(customer):
    """The customer's own phone (mobile transactions and logins)."""
    return "dev-%08x" % h32("device", customer)


class Builder:
    def __init__(self):
        self.items = []  # (datetime, sequence, event)
        self.ids = set()

    def add(self, when, event, scenario=None):
        if event["event_id"] in self.ids:
            raise AssertionError("duplicate event_id %s" % event["event_id"])
        self.ids.add(event["event_id"])
        if scenario:
            event["scenario"] = scenario
        self.items.append((when, len(self.items), event))

    def events(self):
        return [e for _, _, e in sorted(self.items, key=lambda i: (i[0], i[1]))]


# --------------------------------------------------------------------------- PaySim

def with_device(event, device):
    """The transaction with device_id after counterparty (before the labels)."""
    out = {}
    for k, v in event.items():
        if k == "label":
            out["device_id"] = device
        out[k] = v
    return out


def tx(n, row, when, device=None):
    e = paysim.row_to_event(n, row, when)
    if device is None:
        # Mobile payments from the customer's phone; cash in/out and debits at the agent's
        # or bank's terminal, named after the counterparty.
        device = device_of(e["customer_id"]) if e["channel"] == "mobile" else \
            "term-%08x" % h32("terminal", row["nameDest"])
    return with_device(e, device)


def day_start(day):
    return SPAN_START + dt.timedelta(days=day)


def add_transactions(b, ps_rows):
    """Background transactions and the transaction scenarios. Returns (background events,
    drain victim customer_id, watchlist values)."""
    used = set()
    day_rows = [(n, r) for n, r in ps_rows if int(r["step"]) in PAYSIM_DAY_STEPS]
    tail = [(n, r) for n, r in ps_rows if int(r["step"]) not in PAYSIM_DAY_STEPS]

    def take(rows, pred, count):
        out = []
        for n, r in rows:
            if len(out) == count:
                break
            if n not in used and pred(r):
                out.append((n, r))
                used.add(n)
        if len(out) < count:
            raise AssertionError("only %d rows for a scenario, want %d" % (len(out), count))
        return out

    # Background: each day its own real rows of the hours 00:00 and 18:00.
    background = []
    for day in range(N_DAYS):
        rows = [(n, r) for n, r in day_rows if n % PAYSIM_EVERY == day]
        used.update(n for n, _ in rows)
        for e in paysim.convert(rows, day_start(day) - dt.timedelta(hours=1)):
            n = int(e["event_id"][3:])
            e = tx(n, ps_rows[n - 1][1], paysim.parse_ts(e["ts"]))
            b.add(paysim.parse_ts(e["ts"]), e)
            background.append(e)

    # velocity-burst: 200 real PAYMENT rows re-keyed onto one origin account (a payment bot
    # on a taken-over phone): 60 in 50 minutes from Thu 09:00 (one every 50 s), then one
    # every 5 minutes from 10:00 to 21:35.
    burst = take(tail, lambda r: r["type"] == "PAYMENT", 200)
    owner = burst[0][1]["nameOrig"]
    for i, (n, r) in enumerate(burst):
        when = at(THU2, 9) + dt.timedelta(seconds=50 * i) if i < 60 else \
            at(THU2, 10) + dt.timedelta(minutes=5 * (i - 60))
        b.add(when, tx(n, dict(r, nameOrig=owner), when), "velocity-burst")

    # outbound-drain: real fraudulent TRANSFER rows re-keyed onto one victim account and
    # re-timed on Fri 11-27 from 10:15 every 20 minutes, from the attacker's phone: one of
    # 0.5-1.5 M, then 1.5-3 M ones until the day's outbound sum passes 10 M. Before that,
    # the victim's own small payments in the weeks before, from the victim's phone.
    fraud = [(n, r) for n, r in tail if r["type"] == "TRANSFER" and r["isFraud"] == "1"]
    first = next((n, r) for n, r in fraud if 5e5 <= float(r["amount"]) < 1.5e6)
    used.add(first[0])
    drain, total = [first], float(first[1]["amount"])
    for n, r in fraud:
        if total >= 1e7:
            break
        if n not in used and 1.5e6 <= float(r["amount"]) < 3e6:
            drain.append((n, r))
            used.add(n)
            total += float(r["amount"])
    victim = first[1]["nameOrig"]
    history = take(tail, lambda r: r["type"] == "PAYMENT" and float(r["amount"]) < 20000, 4)
    for (n, r), when in zip(history, (at(TUE1, 19, 12), at(FRI1, 12, 40), at(WED2, 8, 5),
                                      at(TUE3, 20, 30))):
        b.add(when, tx(n, dict(r, nameOrig=victim), when), "outbound-drain")
    attacker = "dev-%08x" % h32("attacker")
    for i, (n, r) in enumerate(drain):
        when = at(FRI3, 10, 15) + dt.timedelta(minutes=20 * i)
        b.add(when, tx(n, dict(r, nameOrig=victim), when, attacker), "outbound-drain")

    # structuring: five real TRANSFER rows of 45,000-49,999 re-keyed onto one account and
    # re-timed through Mon 11-23 (each just below the 50,000 reporting threshold).
    smurf = take(day_rows + tail, lambda r: r["type"] == "TRANSFER"
                 and 45000 <= float(r["amount"]) < 50000, 5)
    owner = smurf[0][1]["nameOrig"]
    for (n, r), (hh, mm) in zip(smurf, ((9, 40), (11, 5), (12, 50), (14, 20), (16, 10))):
        when = at(MON3, hh, mm)
        b.add(when, tx(n, dict(r, nameOrig=owner), when), "structuring")

    # read-then-transfer: money leaves two customers' accounts (real fraudulent TRANSFER
    # rows, re-timed, from an accomplice's phone) soon after a staff member read their core
    # data (see add_data_access): once on Tue 11-17 (one read), once on Fri 11-27 (three).
    rtt = take(tail, lambda r: r["type"] == "TRANSFER" and r["isFraud"] == "1", 2)
    accomplice = "dev-%08x" % h32("accomplice")
    for (n, r), when in zip(rtt, (at(TUE2, 11, 34), at(FRI3, 15, 41))):
        b.add(when, tx(n, r, when, accomplice), "read-then-transfer")
    rtt_customers = [r["nameOrig"] for _, r in rtt]

    # Customers whose records the insider reads in bulk (see add_data_access): real origin
    # customers of the tail that send nothing in the demo.
    bulk = [r["nameOrig"] for n, r in tail if n not in used][:105]

    watchlist = sorted({paysim.account_number(r["nameDest"]) for _, r in ps_rows
                        if r["type"] == "TRANSFER" and r["isFraud"] == "1"})
    return background, victim, rtt_customers, bulk, watchlist


# --------------------------------------------------------------------------- logins

def login(n, when, customer, result, ip, device):
    return {"event_id": "lg-%d" % n, "type": "login", "ts": paysim.format_ts(when),
            "customer_id": customer, "result": result, "ip": ip, "device_id": device}


def add_logins(b, tx_events, victim):
    n = 0
    # Background: a successful mobile login 1-4 minutes before every 8th outbound
    # background transaction; every 5th of those after one mistyped password.
    outbound = [e for e in tx_events if e["direction"] == "out"]
    for k, e in enumerate(outbound[::8]):
        cust = e["customer_id"]
        when = paysim.parse_ts(e["ts"]) - dt.timedelta(seconds=60 + h32("login", cust) % 180)
        if when - dt.timedelta(seconds=30) < SPAN_START:
            continue
        ip = "198.51.100.%d" % (1 + h32("ip", cust) % 254)
        if k % 5 == 0:
            n += 1
            b.add(when - dt.timedelta(seconds=25), login(n, when - dt.timedelta(seconds=25),
                                                         cust, "fail", ip, device_of(cust)))
        n += 1
        b.add(when, login(n, when, cust, "success", ip, device_of(cust)))

    # failed-login-burst: 14 failed logins for the drain victim from one address in
    # 6.5 minutes (Fri 11-27 10:02:00-10:08:30), then a success from a new device at 10:10.
    ip, device = "203.0.113.77", "dev-%08x" % h32("attacker")
    for i in range(14):
        when = at(FRI3, 10, 2) + dt.timedelta(seconds=30 * i)
        n += 1
        b.add(when, login(n, when, victim, "fail", ip, device), "failed-login-burst")
    n += 1
    b.add(at(FRI3, 10, 10), login(n, at(FRI3, 10, 10), victim, "success", ip, device),
          "failed-login-burst")


# --------------------------------------------------------------------------- CFPB

def add_complaints(b, cf_rows):
    """Returns [(opened time, customer_id)] of the background complaints."""
    opened = []

    def add_row(row, day=None, scenario=None, customer=None):
        received = dt.date.fromisoformat(row["Date received"])
        shift = CFPB_SHIFT if day is None else (FIRST_DAY + dt.timedelta(days=day) - received).days
        for e in cfpb.row_to_events(row, TZ, shift):
            when = paysim.parse_ts(e["ts"])
            if when >= SPAN_END:
                continue  # answered after the demo
            if customer:
                e["customer_id"] = customer
            b.add(when, e, scenario)
            if e["action"] == "opened" and not scenario:
                opened.append((when, e["customer_id"]))

    def in_weeks(r):
        return CFPB_FIRST.isoformat() <= r["Date received"] <= CFPB_LAST.isoformat()

    # Background: every CFPB_EVERY-th complaint (by ID) of the three real weeks.
    background = [r for r in cf_rows if in_weeks(r) and int(r["Complaint ID"]) % CFPB_EVERY == 0]
    for row in background:
        add_row(row)
    others = [r for r in cf_rows if not in_weeks(r)]
    used = set()

    def take(pred, count=None):
        out = [r for r in others if r["Complaint ID"] not in used and pred(r)][:count]
        used.update(r["Complaint ID"] for r in out)
        return out

    # complaint-surge: real credit-reporting complaints from Florida, received on other
    # days, moved onto Tue 11-24 (opened 09:00-09:59) until that product has SURGE_TOTAL
    # complaints opened in the day; their responses keep their real delay.
    surge_date = (FIRST_DAY + dt.timedelta(days=TUE3)).isoformat()
    already = sum(1 for r in background if r["Product"] == SURGE_PRODUCT and
                  (dt.date.fromisoformat(r["Date received"]) +
                   dt.timedelta(days=CFPB_SHIFT)).isoformat() == surge_date)
    for row in take(lambda r: r["Product"] == SURGE_PRODUCT and
                    r.get("State", "").strip() == SURGE_BRANCH, SURGE_TOTAL - already):
        add_row(row, TUE3, "complaint-surge")

    # urgent-complaints: three real "Fraud or scam" complaints from other weeks, given one
    # customer, opened on Tue 11-10, Wed 11-18 and Thu 11-26.
    urgent = take(lambda r: r["Issue"] == "Fraud or scam" and
                  r.get("State", "").strip() != SURGE_BRANCH, 3)
    customer = "cust-%d" % (int(urgent[0]["Complaint ID"]) % 997)
    for row, day in zip(urgent, (TUE1, WED2, THU3)):
        add_row(row, day, "urgent-complaints", customer)

    # repeat-complainant: five real debt-collection complaints (not urgent) from other
    # weeks, given one customer, opened over the three weeks.
    repeat = take(lambda r: r["Product"] == "Debt collection" and cfpb.severity(r) != "urgent"
                  and r.get("State", "").strip() != SURGE_BRANCH, 5)
    customer = "cust-%d" % (int(repeat[0]["Complaint ID"]) % 997)
    for row, day in zip(repeat, (MON1, THU1, MON2, FRI2, WED3)):
        add_row(row, day, "repeat-complainant", customer)
    return opened


# --------------------------------------------------------------------------- data access

def add_data_access(b, complaints, rtt_customers, bulk):
    n = 0

    def read(when, staff, customer, fields, purpose, scenario=None):
        nonlocal n
        n += 1
        b.add(when, {"event_id": "da-%d" % n, "type": "data_access",
                     "ts": paysim.format_ts(when), "staff_id": staff, "customer_id": customer,
                     "fields": list(fields), "purpose": purpose}, scenario)

    # Background: a complaint handler reads the customer's record 20-139 minutes after every
    # second background complaint is opened.
    for k, (opened, customer) in enumerate(complaints):
        if k % 2:
            continue
        when = opened + dt.timedelta(minutes=20 + h32("read", customer, k) % 120)
        if when < SPAN_END:
            read(when, STAFF[h32("staff", customer, k) % len(STAFF)], customer,
                 ("name", "phone", "complaint_history"), "complaint-handling")

    # read-then-transfer: the core data of two customers read shortly before money leaves
    # their accounts: once (Tue 11-17 11:02), and three times by the insider (Fri 11-27).
    core = ("name", "id_number", "phone", "card_number", "balance")
    read(at(TUE2, 11, 2), "staff-0588", rtt_customers[0], core, "account-maintenance",
         "read-then-transfer")
    for mm in (0, 6, 14):
        read(at(FRI3, 15, mm), INSIDER, rtt_customers[1], core, "account-maintenance",
             "read-then-transfer")

    # staff-bulk-read: the insider reads 105 customers' records in 52 minutes
    # (Thu 11-26 19:00:00-19:52:00, one every 30 s).
    for i, customer in enumerate(bulk):
        read(at(THU3, 19) + dt.timedelta(seconds=30 * i), INSIDER, customer,
             ("name", "phone", "id_number", "address"), "customer-service", "staff-bulk-read")


# --------------------------------------------------------------------------- system

def add_system(b):
    n = 0

    def system(when, service, status, scenario=None, **extra):
        nonlocal n
        n += 1
        e = {"event_id": "sy-%d" % n, "type": "system", "ts": paysim.format_ts(when),
             "service": service, "status": status}
        e.update(extra)
        b.add(when, e, scenario)

    # Background: a health check per service every 4 hours (01:00, 05:00, ...), 40-639 ms.
    for day in range(N_DAYS):
        for slot in range(6):
            for k, service in enumerate(SERVICES):
                when = at(day, 1 + 4 * slot, 0, 7 * k + 3)
                system(when, service, "ok", latency_ms=40 + h32("lat", service, day, slot) % 600)

    # slow-service: mobile-gateway slows down around noon on Tue 11-17, then recovers.
    for mm, ms in ((1, 2600), (3, 6400), (5, 17800), (7, 900)):
        system(at(TUE2, 12, mm), "mobile-gateway", "ok", "slow-service", latency_ms=ms)

    # service-outage: payments-switch is polled every 5 s from Wed 11-25 14:20:00 while it
    # degrades and recovers: 2 min with 1 error in 12, 2 min with 1 in 3, 4.5 min of errors
    # only (every 4th a timeout), 3 min healthy again.
    i = 0
    for count, failing in ((24, lambda j: j % 12 == 11), (24, lambda j: j % 3 == 2),
                           (54, lambda j: True), (36, lambda j: False)):
        for j in range(count):
            when = at(WED3, 14, 20) + dt.timedelta(seconds=5 * i)
            i += 1
            if not failing(j):
                system(when, "payments-switch", "ok", "service-outage",
                       latency_ms=60 + h32("outage", i) % 400)
            elif i % 4 == 3:
                system(when, "payments-switch", "timeout", "service-outage",
                       error="upstream timeout")
            else:
                system(when, "payments-switch", "error", "service-outage",
                       error="connection refused")


# --------------------------------------------------------------------------- files

BAD_LINES = [
    "this is not json",
    '[{"event_id":"bad-2","type":"transaction","ts":"2026-11-27T12:00:00+08:00"}]',
    '{"type":"transaction","ts":"2026-11-27T12:00:01+08:00","account":"6222000000000000001",'
    '"amount":100,"direction":"out"}',
    '{"event_id":"bad-4","type":"login","ts":"yesterday","customer_id":"C1","result":"fail"}',
    '{"event_id":"bad-5","type":"system","ts":1795766400,"service":"core-banking",'
    '"status":"error"}',
    '{"event_id":"bad-6","type":"transaction","ts":"2026-11-27T12:00:02+08:00","amount":',
    '{"event_id":7,"type":"login","ts":"2026-11-27T12:00:03+08:00","result":"fail"}',
    '{"event_id":"bad-8","ts":"2026-11-27T12:00:04+08:00","service":"core-banking"}',
    '{"event_id":"bad-9","type":"system","ts":"2026-02-30T25:61:00Z","status":"error"}',
    '"just a string"',
]


def build(repo=REPO):
    ps_rows = paysim.load_rows(repo / "data" / "paysim" / "paysim_sample12k.csv")
    cf_rows = cfpb.load_rows(repo / "data" / "cfpb" / "complaints_sample6623.csv")
    b = Builder()
    background, victim, rtt_customers, bulk, watchlist = add_transactions(b, ps_rows)
    add_logins(b, background, victim)
    complaints = add_complaints(b, cf_rows)
    add_data_access(b, complaints, rtt_customers, bulk)
    add_system(b)
    events = b.events()
    good = b"".join(paysim.dumps(e).encode("utf-8") + b"\n" for e in events)
    bad = b"".join(line.encode("utf-8") + b"\n" for line in BAD_LINES)
    wl = b"".join(v.encode("utf-8") + b"\n" for v in watchlist)
    return events, good, bad, wl


# --------------------------------------------------------------------------- check

def validate(line):
    """Returns (event, None) or (None, reason) as the engine's input check would."""
    try:
        event = json.loads(line)
    except ValueError as e:
        return None, "not JSON: %s" % e
    if not isinstance(event, dict):
        return None, "not an object"
    for field in ("event_id", "type", "ts"):
        if field not in event:
            return None, "missing %s" % field
        if not isinstance(event[field], str) or not event[field]:
            return None, "%s is not a non-empty string" % field
    try:
        paysim.parse_ts(event["ts"])
    except ValueError as e:
        return None, "bad ts: %s" % e
    return event, None


def get_field(event, path):
    cur = event
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return False, None
        cur = cur[part]
    return True, cur


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def same(a, b):
    return type(a) is type(b) and a == b or (is_number(a) and is_number(b) and a == b)


def expr_holds(event, expr):
    """A `$expr` of the pack, evaluated as Python (the pack's expressions use only numbers,
    field names, arithmetic, comparisons, and, or, not, abs, min and max, which Python reads
    the same way). No value (a missing or non-numeric field, a division by zero): false."""
    names = {"true": 1.0, "false": 0.0}
    for name in set(re.findall(r"(?<![0-9.])[A-Za-z_][A-Za-z0-9_.]*", expr)) - EXPR_WORDS:
        present, v = get_field(event, name)
        if not present or not (is_number(v) or isinstance(v, bool)):
            return False
        names[name.replace(".", "__")] = float(v)
    code = re.sub(r"(?<![0-9.])[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)+",
                  lambda m: m.group(0).replace(".", "__"), expr)
    try:
        return bool(eval(code, {"__builtins__": {}, "abs": abs, "min": min, "max": max}, names))
    except ZeroDivisionError:
        return False


EXPR_WORDS = {"and", "or", "not", "abs", "min", "max", "true", "false"}


def cond_holds(event, field, cond):
    if field == "$expr":
        return expr_holds(event, cond)
    present, value = get_field(event, field)
    if not isinstance(cond, dict):
        return present and same(value, cond)
    for op, arg in cond.items():
        if op == "exists":
            if present != arg:
                return False
            continue
        if not present:
            return False
        if op == "in":
            ok = any(same(value, a) for a in arg)
        elif op == "ne":
            ok = not same(value, arg)
        elif op in ("gt", "gte", "lt", "lte"):
            if not is_number(value):
                return False
            ok = {"gt": value > arg, "gte": value >= arg, "lt": value < arg,
                  "lte": value <= arg}[op]
        else:
            raise ValueError("unsupported match operator %r" % op)
        if not ok:
            return False
    return True


def matches(event, match):
    return all(cond_holds(event, f, c) for f, c in (match or {}).items())


def field_text(event, path):
    """The field as the engine's text of it (strings as they are, numbers, booleans), or None."""
    present, v = get_field(event, path)
    if not present:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "%.17g" % v
    return None


def key_text(event, key):
    """A rule's key: one field's text, or a composite key's parts joined by '|', each part
    with '\\' and '|' escaped by a '\\'. None when a part is missing or empty."""
    if isinstance(key, str):
        return field_text(event, key)
    parts = [field_text(event, k) for k in key]
    if any(not p for p in parts):
        return None
    return "|".join(p.replace("\\", "\\\\").replace("|", "\\|") for p in parts)


def field_number(event, path):
    present, v = get_field(event, path)
    return v if present and is_number(v) else None


def duration_ms(text):
    m = re.match(r"^(\d+)([smhd])$", text)
    if not m:
        raise ValueError("unsupported duration %r" % text)
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)] * 1000


DAY_MS = 86400000
LEVELS = ("low", "medium", "high")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Calendar:
    """Working time on the pack's calendar: whole local days, weekend, holidays, moved
    working days (24 h a working day)."""

    def __init__(self, cal):
        off = cal.get("utc_offset", "Z")
        self.off_ms = int(cfpb.parse_offset(off).utcoffset(None).total_seconds()) * 1000
        self.weekend = {WEEKDAYS.index(d) for d in cal.get("weekend", [])}
        day = lambda s: dt.date.fromisoformat(s).toordinal() - dt.date(1970, 1, 1).toordinal()
        self.holidays = {day(d) for d in cal.get("holidays", [])}
        self.workdays = {day(d) for d in cal.get("workdays", [])}

    def is_workday(self, day):  # day: days since 1970-01-01, local
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return (day + 3) % 7 not in self.weekend  # 1970-01-01 was a Thursday

    def work_ms(self, from_ms, to_ms):
        if to_ms <= from_ms:
            return 0
        lf, lt = from_ms + self.off_ms, to_ms + self.off_ms
        df, dl = lf // DAY_MS, lt // DAY_MS
        if df == dl:
            return lt - lf if self.is_workday(df) else 0
        total = (df + 1) * DAY_MS - lf if self.is_workday(df) else 0
        total += DAY_MS * sum(1 for d in range(df + 1, dl) if self.is_workday(d))
        total += lt - dl * DAY_MS if self.is_workday(dl) else 0
        return total


def level_of(measure, thresholds):
    defined = [(lv, thresholds[lv]) for lv in LEVELS if lv in thresholds]
    ascending = len(defined) < 2 or defined[0][1] < defined[-1][1]
    reached = None
    for lv, t in defined:
        if (measure >= t) if ascending else (measure <= t):
            reached = lv
    return reached


def ts_ms(event):
    return int(round(paysim.parse_ts(event["ts"]).timestamp() * 1000))


def simulate(events, pack, watchlist=None):
    """Replays the events through every rule of the pack. watchlist: the members of the
    Redis sets of watchlist rules (None: not resolved, those rules score nothing, as in a
    replay without Redis). Returns {rule_id: {"matched", "max", "levels": Counter, "held"}}:
    "levels" counts the alerts raised at each level and "held" the hits a cool-down held back;
    for deadline rules "matched" counts the cases opened and "levels" the alerts raised."""
    cal = Calendar(pack.get("calendar", {}))
    rules = pack["rules"]
    results, windows, feeds, cases, cools = {}, {}, {}, {}, {}
    for rule in rules:
        results[rule["id"]] = {"matched": 0, "max": None, "levels": collections.Counter(),
                               "held": 0}
        windows[rule["id"]] = collections.defaultdict(collections.deque)
        feeds[rule["id"]] = collections.defaultdict(collections.deque)
        cases[rule["id"]] = {}
    clock = None

    def hit(rule, measure, key, t):
        res = results[rule["id"]]
        res["matched"] += 1
        if res["max"] is None or measure > res["max"]:
            res["max"] = measure
        lv = level_of(measure, rule["thresholds"])
        if not lv:
            return
        # Cool-down: a hit at the same or a lower level than the last alert of this rule and
        # key, within the cool-down after it, is held back (counted, not alerted).
        cooldown = rule.get("cooldown", pack.get("cooldown"))
        if cooldown:
            last = cools.get((rule["id"], key))
            if last and LEVELS.index(lv) <= last[0] and t < last[1]:
                res["held"] += 1
                return
            cools[(rule["id"], key)] = (LEVELS.index(lv), t + duration_ms(cooldown))
        res["levels"][lv] += 1

    for e in events:
        t = ts_ms(e)
        for rule in rules:
            module, p = rule["module"], rule.get("params", {})
            if module == "sequence" and matches(e, p["first"]):
                k = field_text(e, p["correlate_first"])
                if k:
                    feeds[rule["id"]][k].append(t)
            if not matches(e, rule.get("match")):
                continue
            if module == "deadline":
                is_open, is_close = matches(e, p["open"]), matches(e, p["close"])
                corr = field_text(e, p["correlate"]) if (is_open or is_close) else None
                if not corr:
                    continue
                case = cases[rule["id"]].setdefault(corr, {"open": False})
                if is_close and case["open"]:
                    case["open"] = False
                elif is_open and not case["open"]:
                    case.update(open=True, open_ms=t, level=-1)
                    results[rule["id"]]["matched"] += 1
                continue
            key = key_text(e, rule["key"])
            if not key:
                continue  # no key: not scored by this rule
            if module == "value":
                measure = field_number(e, p["field"])
                if measure is None:
                    continue
            elif module == "watchlist":
                value = field_text(e, p["field"])
                if value is None:
                    continue
                if "list" in p:
                    measure = 1 if value in {str(v) for v in p["list"]} else 0
                elif watchlist is None:
                    continue  # the Redis set is not resolved
                else:
                    measure = 1 if value in watchlist else 0
            elif module == "sequence":
                rk = field_text(e, p["correlate"])
                if not rk:
                    continue
                q = feeds[rule["id"]][rk]
                while q and q[0] <= t - duration_ms(p["within"]):
                    q.popleft()
                if not q:
                    continue
                measure = len(q)
            elif module == "baseline":
                # The amount against the key's earlier values in the window (ratio to their
                # mean); this event joins the window after it is measured.
                value = field_number(e, p["field"])
                if value is None:
                    continue
                q = windows[rule["id"]][key]
                while q and q[0][0] <= t - duration_ms(p["window"]):
                    q.popleft()
                earlier = [v for _, v in q]
                q.append((t, value))
                if p.get("stat", "ratio") != "ratio":
                    raise ValueError("rule %s: baseline stat %s not simulated" % (rule["id"],
                                                                               p["stat"]))
                if len(earlier) < p.get("min_history", 3) or sum(earlier) == 0:
                    continue
                measure = value / (sum(earlier) / len(earlier))
            elif module in ("window_count", "window_sum", "window_distinct", "window_ratio",
                            "new_value"):
                # The event's record; an event the module cannot record is not scored.
                if module == "window_sum":
                    value = field_number(e, p["field"])
                elif module in ("window_distinct", "new_value"):
                    value = field_text(e, p["field"])
                elif module == "window_ratio":
                    value = 1 if matches(e, p["when"]) else 0
                else:
                    value = 1
                if value is None:
                    continue
                window = duration_ms(p["lookback"] if module == "new_value" else p["window"])
                q = windows[rule["id"]][key]
                q.append((t, value))
                while q and q[0][0] <= t - window:
                    q.popleft()
                if module == "window_count":
                    measure = len(q)
                elif module == "window_sum":
                    measure = sum(v for _, v in q)
                elif module == "window_distinct":
                    measure = len({v for _, v in q})
                elif module == "window_ratio":
                    if len(q) < p.get("min_events", 1):
                        continue
                    measure = sum(v for _, v in q) / len(q)
                else:  # new_value: new when no other event in the lookback has the value
                    if sum(1 for _, v in q if v == value) > 1:
                        continue
                    if "measure_field" in p:
                        measure = field_number(e, p["measure_field"])
                        if measure is None:
                            continue
                    else:
                        measure = 1
            else:
                raise ValueError("rule %s: module %s not simulated" % (rule["id"], module))
            hit(rule, measure, key, t)
        # Deadlines: the clock is the highest ts seen; one alert per threshold crossed.
        clock = t if clock is None else max(clock, t)
        for rule in rules:
            if rule["module"] != "deadline":
                continue
            unit = rule.get("params", {}).get("unit", "hours")
            defined = [(i, rule["thresholds"][lv]) for i, lv in enumerate(LEVELS)
                       if lv in rule["thresholds"]]
            res = results[rule["id"]]
            for case in cases[rule["id"]].values():
                if not case["open"] or case["level"] >= defined[-1][0]:
                    continue
                if unit == "workdays":
                    m = cal.work_ms(case["open_ms"], clock) / DAY_MS
                else:
                    m = max(0, clock - case["open_ms"]) / 3600000
                for i, thr in defined:
                    if i > case["level"] and m >= thr:
                        res["levels"][LEVELS[i]] += 1
                        case["level"] = i
                        if res["max"] is None or m > res["max"]:
                            res["max"] = m
    return results


def engine_table(engine, rules_path, events_path, redis=None):
    """Runs `ENGINE replay` and returns {rule_id: {level: count}} from its summary."""
    cmd = [str(engine), "replay", "--rules", str(rules_path)]
    if redis:
        cmd += ["--redis", redis]
    cmd.append(str(events_path))
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    table, started = {}, False
    for line in proc.stderr.decode("utf-8", "replace").splitlines():
        cols = line.split()
        if cols[:4] == ["rule", "low", "medium", "high"]:
            started = True
        elif started and len(cols) >= 4 and all(c.isdigit() for c in cols[1:4]):
            # rule, low, medium, high, then the skips (a count, or reasons with counts)
            table[cols[0]] = dict(zip(LEVELS, (int(c) for c in cols[1:4])))
    return table


def check(out_dir, rules_path, engine=None, redis=None):
    failures = []
    events_path, bad_path = out_dir / "events.jsonl", out_dir / "bad.jsonl"
    wl_path = out_dir / "watchlist.txt"
    _, good, bad, wl = build()
    on_disk = events_path.read_bytes()
    bad_on_disk = bad_path.read_bytes()
    wl_on_disk = wl_path.read_bytes() if wl_path.exists() else b""
    for path, want, have in ((events_path, good, on_disk), (bad_path, bad, bad_on_disk),
                             (wl_path, wl, wl_on_disk)):
        if want != have:
            failures.append("%s differs from what this script generates" % path)
    watchlist = set(wl_on_disk.decode("utf-8").split())

    events, ids, prev = [], set(), None
    for no, line in enumerate(on_disk.decode("utf-8").splitlines(), start=1):
        event, err = validate(line)
        if err:
            failures.append("%s:%d: %s" % (events_path, no, err))
            continue
        if event["event_id"] in ids:
            failures.append("%s:%d: duplicate event_id %s" % (events_path, no,
                                                               event["event_id"]))
        ids.add(event["event_id"])
        t = paysim.parse_ts(event["ts"])
        if prev is not None and t < prev:
            failures.append("%s:%d: ts goes back in time" % (events_path, no))
        prev = t
        if not SPAN_START <= t < SPAN_END:
            failures.append("%s:%d: ts outside the demo span" % (events_path, no))
        if event["type"] == "transaction" and "device_id" not in event:
            failures.append("%s:%d: transaction without device_id" % (events_path, no))
        events.append(event)
    for no, line in enumerate(bad_on_disk.decode("utf-8").splitlines(), start=1):
        _, err = validate(line)
        if not err:
            failures.append("%s:%d: accepted, should be rejected" % (bad_path, no))
        else:
            print("bad.jsonl:%d rejected: %s" % (no, err))
    if not MIN_EVENTS <= len(events) <= MAX_EVENTS:
        failures.append("%d events, want %d-%d" % (len(events), MIN_EVENTS, MAX_EVENTS))

    by_type = collections.Counter(e["type"] for e in events)
    by_scenario = collections.Counter(e.get("scenario", "(background)") for e in events)
    print("events: %d  (%s)" % (len(events), ", ".join(
        "%s %d" % kv for kv in sorted(by_type.items()))))
    print("scenarios: %s" % ", ".join("%s %d" % kv for kv in sorted(by_scenario.items())))
    print("first ts %s, last ts %s" % (events[0]["ts"], events[-1]["ts"]))
    print("watchlist: %d values" % len(watchlist))

    with open(rules_path, encoding="utf-8") as f:
        pack = json.load(f)
    results = simulate(events, pack, watchlist)
    print("%-31s %-15s %7s %11s  %s" % ("rule", "module", "matched", "max measure",
                                        "times each level was reached"))
    for rule in pack["rules"]:
        r = results[rule["id"]]
        want = [lv for lv in LEVELS if lv in rule["thresholds"]]
        missing = [lv for lv in want if not r["levels"][lv]]
        mx = r["max"]
        mx = "-" if mx is None else ("%d" % mx if float(mx).is_integer() else "%.2f" % mx)
        print("%-31s %-15s %7d %11s  %s%s" % (
            rule["id"], rule["module"], r["matched"], mx,
            " ".join("%s=%d" % (lv, r["levels"][lv]) for lv in want) +
            (" (held %d)" % r["held"] if r["held"] else ""),
            "  MISSING " + ",".join(missing) if missing else "  ok"))
        if missing:
            failures.append("rule %s never reaches %s" % (rule["id"], ", ".join(missing)))

    if engine:
        table = engine_table(engine, rules_path, events_path, redis)
        # Without Redis the engine cannot resolve Redis sets: compare those rules with a
        # simulation that does not resolve them either.
        unresolved = simulate(events, pack, None) if not redis else results
        for rule in pack["rules"]:
            rid = rule["id"]
            sim = unresolved[rid]["levels"] if rule["module"] == "watchlist" else \
                results[rid]["levels"]
            want = {lv: sim[lv] for lv in LEVELS}
            have = table.get(rid)
            if have != want:
                failures.append("engine %s: %s, simulation %s" % (rid, have, want))
        print("engine replay%s: %s" % (" (--redis %s)" % redis if redis else "",
                                       "same table as the simulation" if not any(
                                           f.startswith("engine ") for f in failures)
                                       else "DIFFERS"))
    for f in failures:
        print("FAIL: %s" % f, file=sys.stderr)
    print("check: %s" % ("FAILED" if failures else "passed"))
    return 1 if failures else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="verify instead of writing")
    ap.add_argument("--out-dir", default=str(DEFAULT_OUT))
    ap.add_argument("--rules", default=str(DEFAULT_RULES))
    ap.add_argument("--engine", help="with --check: riskwarn binary to compare with")
    ap.add_argument("--redis", help="with --engine: HOST:PORT holding the watchlist set")
    args = ap.parse_args(argv)
    out_dir = Path(args.out_dir)
    if args.check:
        return check(out_dir, Path(args.rules), args.engine, args.redis)
    _, good, bad, wl = build()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "events.jsonl").write_bytes(good)
    (out_dir / "bad.jsonl").write_bytes(bad)
    (out_dir / "watchlist.txt").write_bytes(wl)
    print("wrote %s (%d events), %s (%d lines), %s (%d values)" % (
        out_dir / "events.jsonl", good.count(b"\n"), out_dir / "bad.jsonl", bad.count(b"\n"),
        out_dir / "watchlist.txt", wl.count(b"\n")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
