#!/usr/bin/env python3
"""Build the demo event stream data/demo/events.jsonl (and data/demo/bad.jsonl).

Usage:
    scripts/make_demo_events.py            write data/demo/events.jsonl and bad.jsonl
    scripts/make_demo_events.py --check    verify the files (see below); exit 1 on failure
    options: --out-dir DIR (default data/demo), --rules FILE (default rules/packs/default.json)

One demo day, 2026-11-27 at +08:00 (the rule pack's calendar), in event-time order:
real PaySim transactions and real CFPB complaints converted with the functions of
paysim_to_events.py and cfpb_to_events.py, plus injected scenarios. Every event that was
picked, re-keyed, re-timed or made up for a scenario carries "scenario": "<name>"; events
without that field are background (real rows, only moved onto the demo day, or routine
synthetic logins and health checks). See data/README.md.

--check re-generates the files in memory and compares them byte for byte with the ones on
disk, validates every event (unique event_id, type, RFC 3339 ts, time order), checks that
every line of bad.jsonl is rejected, and replays the events through the rule pack's
thresholds in Python (value / window_count / window_sum; an event at t is in the window of
the event at T when T - window < t <= T). It prints per rule the max measure and the levels
reached, and fails if any rule misses one of the levels it defines.

Python 3 standard library only; output is byte-for-byte deterministic.
"""

import argparse
import collections
import datetime as dt
import hashlib
import json
import re
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
DAY = dt.date(2026, 11, 27)
DAY_START = dt.datetime(DAY.year, DAY.month, DAY.day, tzinfo=TZ)
DAY_END = DAY_START + dt.timedelta(days=1)

# PaySim: the sample holds steps 1 (904 rows) and 19 (9,504 rows) plus a scattered tail.
# Steps 1 and 19 become the hours 00:00 and 18:00 of the demo day.
PAYSIM_DAY_STEPS = (1, 19)
PAYSIM_START = DAY_START - dt.timedelta(hours=1)
PAYSIM_EVERY = 23  # background: every 23rd row (by row number) of those two steps

# CFPB: the real day 2019-04-02 (138 complaints) is re-dated to the demo day.
CFPB_DAY = dt.date(2019, 4, 2)
CFPB_SURGE_DAY = dt.date(2019, 4, 4)
SURGE_PRODUCT = "Credit reporting, credit repair services, or other personal consumer reports"
SURGE_TOTAL = 120  # opened complaints of SURGE_PRODUCT on the demo day, after the surge

SERVICES = ("core-banking", "mobile-gateway", "payments-switch")


def at(hh, mm, ss=0):
    return DAY_START + dt.timedelta(hours=hh, minutes=mm, seconds=ss)


def h32(*parts):
    data = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.sha256(data).digest()[:4], "big")


class Builder:
    def __init__(self):
        self.items = []  # (datetime, sequence, event)

    def add(self, when, event, scenario=None):
        if scenario:
            event["scenario"] = scenario
        self.items.append((when, len(self.items), event))

    def events(self):
        return [e for _, _, e in sorted(self.items, key=lambda i: (i[0], i[1]))]


# --------------------------------------------------------------------------- PaySim

def add_transactions(b, ps_rows):
    day_rows = [(n, r) for n, r in ps_rows if int(r["step"]) in PAYSIM_DAY_STEPS]
    other_rows = [(n, r) for n, r in ps_rows if int(r["step"]) not in PAYSIM_DAY_STEPS]

    background = [(n, r) for n, r in day_rows if n % PAYSIM_EVERY == 0]
    picked = {n for n, _ in background}
    # large-transfer: real TRANSFER rows >= 1,000,000 of the same hours, unmodified.
    large = [(n, r) for n, r in day_rows
             if n not in picked and r["type"] == "TRANSFER" and float(r["amount"]) >= 1e6][:3]
    large_ids = {n for n, _ in large}
    for e in paysim.convert(background + large, PAYSIM_START):
        n = int(e["event_id"][3:])
        b.add(paysim.parse_ts(e["ts"]), e, "large-transfer" if n in large_ids else None)

    # velocity-burst: 60 real PAYMENT rows re-keyed onto one origin account and
    # re-timed into 21:00-21:44 (one every 45 s).
    burst = [(n, r) for n, r in other_rows if r["type"] == "PAYMENT"][:60]
    owner = burst[0][1]["nameOrig"]
    for i, (n, r) in enumerate(burst):
        row = dict(r, nameOrig=owner)
        when = at(21, 0) + dt.timedelta(seconds=45 * i)
        b.add(when, paysim.row_to_event(n, row, when), "velocity-burst")

    # outbound-drain: real fraudulent TRANSFER rows re-keyed onto one victim account and
    # re-timed from 10:15 every 20 minutes: one of 0.5-1.5 M, then 1.5-3 M ones until the
    # day's outbound sum passes 10 M.
    fraud = [(n, r) for n, r in other_rows if r["type"] == "TRANSFER" and r["isFraud"] == "1"]
    first = next((n, r) for n, r in fraud if 5e5 <= float(r["amount"]) < 1.5e6)
    drain, total = [first], float(first[1]["amount"])
    for n, r in fraud:
        if total >= 1e7:
            break
        if 1.5e6 <= float(r["amount"]) < 3e6:
            drain.append((n, r))
            total += float(r["amount"])
    victim = first[1]["nameOrig"]
    for i, (n, r) in enumerate(drain):
        row = dict(r, nameOrig=victim)
        when = at(10, 15) + dt.timedelta(minutes=20 * i)
        b.add(when, paysim.row_to_event(n, row, when), "outbound-drain")

    return background + large, victim


# --------------------------------------------------------------------------- logins

def login(n, when, customer, result, ip, device):
    return {"event_id": "lg-%d" % n, "type": "login", "ts": paysim.format_ts(when),
            "customer_id": customer, "result": result, "ip": ip, "device_id": device}


def device_of(customer):
    return "dev-%08x" % h32("device", customer)


def add_logins(b, tx_events, victim):
    n = 0
    # Background: a successful mobile login 1-4 minutes before every 8th outbound
    # background transaction; every 5th of those after one mistyped password.
    outbound = [e for e in tx_events if e["direction"] == "out"]
    for k, e in enumerate(outbound[::8]):
        cust = e["customer_id"]
        when = paysim.parse_ts(e["ts"]) - dt.timedelta(seconds=60 + h32("login", cust) % 180)
        if when - dt.timedelta(seconds=30) < DAY_START:
            continue
        ip = "198.51.100.%d" % (1 + h32("ip", cust) % 254)
        if k % 5 == 0:
            n += 1
            b.add(when - dt.timedelta(seconds=25), login(n, when - dt.timedelta(seconds=25),
                                                         cust, "fail", ip, device_of(cust)))
        n += 1
        b.add(when, login(n, when, cust, "success", ip, device_of(cust)))

    # failed-login-burst: 14 failed logins for the drain victim from one address in
    # 6.5 minutes (10:02:00-10:08:30), then a success from a new device at 10:10.
    ip, device = "203.0.113.77", "dev-%08x" % h32("attacker")
    for i in range(14):
        when = at(10, 2) + dt.timedelta(seconds=30 * i)
        n += 1
        b.add(when, login(n, when, victim, "fail", ip, device), "failed-login-burst")
    n += 1
    b.add(at(10, 10), login(n, at(10, 10), victim, "success", ip, device), "failed-login-burst")


# --------------------------------------------------------------------------- CFPB

def add_complaints(b, cf_rows):
    def add_row(row, scenario=None, customer=None):
        received = dt.date.fromisoformat(row["Date received"])
        for e in cfpb.row_to_events(row, TZ, (DAY - received).days):
            when = paysim.parse_ts(e["ts"])
            if when >= DAY_END:
                continue  # answered after the demo day
            if customer:
                e["customer_id"] = customer
            b.add(when, e, scenario)

    # Background: every complaint received on 2019-04-02, re-dated to the demo day.
    day_rows = [r for r in cf_rows if r["Date received"] == CFPB_DAY.isoformat()]
    for row in day_rows:
        add_row(row)
    already = sum(1 for r in day_rows if r["Product"] == SURGE_PRODUCT)

    # complaint-surge: credit-reporting complaints received on 2019-04-04, moved onto the
    # demo day until that product has SURGE_TOTAL complaints opened in the day.
    surge = [r for r in cf_rows if r["Date received"] == CFPB_SURGE_DAY.isoformat()
             and r["Product"] == SURGE_PRODUCT][:SURGE_TOTAL - already]
    for row in surge:
        add_row(row, "complaint-surge")

    # urgent-complaints: three real "Fraud or scam" complaints from other days, re-dated
    # and given to one customer.
    used = {CFPB_DAY.isoformat(), CFPB_SURGE_DAY.isoformat()}
    urgent = [r for r in cf_rows if r["Issue"] == "Fraud or scam"
              and r["Date received"] not in used][:3]
    customer = "cust-%d" % (int(urgent[0]["Complaint ID"]) % 997)
    for row in urgent:
        add_row(row, "urgent-complaints", customer)


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

    outage = (at(14, 30), at(14, 35))
    # Background: a health check per service every 30 minutes, 40-639 ms.
    for slot in range(48):
        for k, service in enumerate(SERVICES):
            when = DAY_START + dt.timedelta(minutes=30 * slot, seconds=7 * k + 3)
            if service == "payments-switch" and outage[0] <= when < outage[1]:
                continue
            system(when, service, "ok", latency_ms=40 + h32("lat", service, slot) % 600)

    # slow-service: mobile-gateway slows down around noon, then recovers.
    for mm, ms in ((1, 2600), (3, 6400), (5, 17800), (7, 900)):
        system(at(12, mm), "mobile-gateway", "ok", "slow-service", latency_ms=ms)

    # service-outage: payments-switch fails 60 times in 295 s (14:30:00-14:34:55).
    for i in range(60):
        timeout = i % 4 == 3
        system(outage[0] + dt.timedelta(seconds=5 * i), "payments-switch",
               "timeout" if timeout else "error", "service-outage",
               error="upstream timeout" if timeout else "connection refused")


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
    _, victim = add_transactions(b, ps_rows)
    tx_background = [e for _, _, e in sorted(b.items, key=lambda i: (i[0], i[1]))
                     if e["type"] == "transaction" and "scenario" not in e]
    add_logins(b, tx_background, victim)
    add_complaints(b, cf_rows)
    add_system(b)
    events = b.events()
    good = b"".join(paysim.dumps(e).encode("utf-8") + b"\n" for e in events)
    bad = b"".join(line.encode("utf-8") + b"\n" for line in BAD_LINES)
    return events, good, bad


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


def same(a, b):
    return type(a) is type(b) and a == b or (
        isinstance(a, (int, float)) and isinstance(b, (int, float))
        and not isinstance(a, bool) and not isinstance(b, bool) and a == b)


def cond_holds(event, field, cond):
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
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                return False
            ok = {"gt": value > arg, "gte": value >= arg, "lt": value < arg,
                  "lte": value <= arg}[op]
        else:
            raise ValueError("unsupported match operator %r" % op)
        if not ok:
            return False
    return True


def duration(text):
    m = re.match(r"^(\d+)([smhd])$", text)
    if not m:
        raise ValueError("unsupported duration %r" % text)
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


LEVELS = ("low", "medium", "high")


def level_of(measure, thresholds):
    defined = [(lv, thresholds[lv]) for lv in LEVELS if lv in thresholds]
    ascending = len(defined) < 2 or defined[0][1] < defined[-1][1]
    reached = None
    for lv, t in defined:
        if (measure >= t) if ascending else (measure <= t):
            reached = lv
    return reached


def simulate(events, rules):
    """Returns {rule_id: {"matched", "max", "levels": Counter}}."""
    results = {}
    for rule in rules:
        module, params = rule["module"], rule.get("params", {})
        if module not in ("value", "window_count", "window_sum"):
            raise ValueError("rule %s: module %s not simulated" % (rule["id"], module))
        window = duration(params["window"]) if "window" in params else None
        windows = collections.defaultdict(collections.deque)
        res = {"matched": 0, "max": None, "levels": collections.Counter()}
        for e in events:
            if not all(cond_holds(e, f, c) for f, c in rule.get("match", {}).items()):
                continue
            present, key = get_field(e, rule["key"])
            if not present:
                continue
            key = json.dumps(key, sort_keys=True)
            t = paysim.parse_ts(e["ts"]).timestamp()
            if module == "value":
                present, measure = get_field(e, params["field"])
                if not present or not isinstance(measure, (int, float)) or \
                        isinstance(measure, bool):
                    continue
            else:
                value = 1
                if module == "window_sum":
                    present, value = get_field(e, params["field"])
                    if not present or not isinstance(value, (int, float)) or \
                            isinstance(value, bool):
                        continue
                q = windows[key]
                q.append((t, value))
                while q and q[0][0] <= t - window:
                    q.popleft()
                measure = len(q) if module == "window_count" else sum(v for _, v in q)
            res["matched"] += 1
            if res["max"] is None or measure > res["max"]:
                res["max"] = measure
            lv = level_of(measure, rule["thresholds"])
            if lv:
                res["levels"][lv] += 1
        results[rule["id"]] = res
    return results


def check(out_dir, rules_path):
    failures = []
    events_path, bad_path = out_dir / "events.jsonl", out_dir / "bad.jsonl"
    _, good, bad = build()
    on_disk = events_path.read_bytes()
    bad_on_disk = bad_path.read_bytes()
    if on_disk != good:
        failures.append("%s differs from what this script generates" % events_path)
    if bad_on_disk != bad:
        failures.append("%s differs from what this script generates" % bad_path)

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
        if not DAY_START <= t < DAY_END:
            failures.append("%s:%d: ts outside the demo day" % (events_path, no))
        events.append(event)
    for no, line in enumerate(bad_on_disk.decode("utf-8").splitlines(), start=1):
        _, err = validate(line)
        if not err:
            failures.append("%s:%d: accepted, should be rejected" % (bad_path, no))
        else:
            print("bad.jsonl:%d rejected: %s" % (no, err))
    if not 600 <= len(events) <= 1500:
        failures.append("%d events, want 600-1500" % len(events))

    by_type = collections.Counter(e["type"] for e in events)
    by_scenario = collections.Counter(e.get("scenario", "(background)") for e in events)
    print("events: %d  (%s)" % (len(events), ", ".join(
        "%s %d" % kv for kv in sorted(by_type.items()))))
    print("scenarios: %s" % ", ".join("%s %d" % kv for kv in sorted(by_scenario.items())))
    print("first ts %s, last ts %s" % (events[0]["ts"], events[-1]["ts"]))

    with open(rules_path, encoding="utf-8") as f:
        pack = json.load(f)
    results = simulate(events, pack["rules"])
    print("%-24s %-13s %7s %14s  %s" % ("rule", "module", "matched", "max measure",
                                        "levels reached (events)"))
    for rule in pack["rules"]:
        r = results[rule["id"]]
        want = [lv for lv in LEVELS if lv in rule["thresholds"]]
        missing = [lv for lv in want if not r["levels"][lv]]
        mx = r["max"]
        mx = "-" if mx is None else ("%d" % mx if float(mx).is_integer() else "%.2f" % mx)
        print("%-24s %-13s %7d %14s  %s%s" % (
            rule["id"], rule["module"], r["matched"], mx,
            " ".join("%s=%d" % (lv, r["levels"][lv]) for lv in want),
            "  MISSING " + ",".join(missing) if missing else "  ok"))
        if missing:
            failures.append("rule %s never reaches %s" % (rule["id"], ", ".join(missing)))
    for f in failures:
        print("FAIL: %s" % f, file=sys.stderr)
    print("check: %s" % ("FAILED" if failures else "passed"))
    return 1 if failures else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="verify instead of writing")
    ap.add_argument("--out-dir", default=str(DEFAULT_OUT))
    ap.add_argument("--rules", default=str(DEFAULT_RULES))
    args = ap.parse_args(argv)
    out_dir = Path(args.out_dir)
    if args.check:
        return check(out_dir, Path(args.rules))
    _, good, bad = build()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "events.jsonl").write_bytes(good)
    (out_dir / "bad.jsonl").write_bytes(bad)
    print("wrote %s (%d events), %s (%d lines)" % (
        out_dir / "events.jsonl", good.count(b"\n"), out_dir / "bad.jsonl", bad.count(b"\n")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
