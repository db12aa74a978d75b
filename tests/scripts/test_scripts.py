#!/usr/bin/env python3
"""Tests of the data scripts of scripts/: the three converters, score.py and the demo
simulator of make_demo_events.py, on the small fixtures beside this file.

Run from the repository root: python3 tests/scripts/test_scripts.py [-v] [TestClass...]
(tests/check_scripts.c runs each class). Python 3 standard library only.

The expected outputs are worked out by hand from the fixtures (the comments say how); the
*.expected.jsonl files hold the converters' whole output, so that any change to it fails
here and is either a bug or a change to make on purpose (regenerate the file, say why).
"""

import csv
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SCRIPTS = REPO / "scripts"
sys.path.insert(0, str(SCRIPTS))
sys.dont_write_bytecode = True  # no scripts/__pycache__ left behind

import make_demo_events as demo  # noqa: E402


def run(script, *args):
    """Runs scripts/SCRIPT with python3; returns its stdout (bytes). Fails on a nonzero exit."""
    p = subprocess.run([sys.executable, "-B", str(SCRIPTS / script)] + [str(a) for a in args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False, cwd=REPO)
    if p.returncode != 0:
        raise AssertionError("%s %s: exit %d: %s" % (script, " ".join(map(str, args)),
                                                     p.returncode, p.stderr.decode()))
    return p.stdout


def lines(out):
    return [json.loads(line) for line in out.decode("utf-8").splitlines()]


def number(name, prefix):
    """The documented account number: prefix + 15 digits of SHA-256(name)."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return prefix + str(int.from_bytes(digest[:16], "big") % 10 ** 15).zfill(15)


class PaysimConverter(unittest.TestCase):
    """tests/scripts/paysim.csv: six rows of steps 2, 1, 1, 2, 1, 3 (file order)."""

    def setUp(self):
        self.out = run("paysim_to_events.py", HERE / "paysim.csv")
        self.ev = lines(self.out)

    def test_whole_output_unchanged(self):
        self.assertEqual(self.out, (HERE / "paysim.expected.jsonl").read_bytes())

    def test_sorted_by_step_stable_and_timed_within_the_hour(self):
        # Step 1 holds rows 2, 3, 5 (n = 3: 0, 1200, 2400 s into hour 1); step 2 rows 1, 4
        # (n = 2: 0, 1800 s into hour 2); step 3 row 6.
        self.assertEqual([e["event_id"] for e in self.ev],
                         ["ps-2", "ps-3", "ps-5", "ps-1", "ps-4", "ps-6"])
        self.assertEqual([e["ts"] for e in self.ev],
                         ["2026-10-01T01:00:00Z", "2026-10-01T01:20:00Z",
                          "2026-10-01T01:40:00Z", "2026-10-01T02:00:00Z",
                          "2026-10-01T02:30:00Z", "2026-10-01T03:00:00Z"])

    def test_start_offset_is_kept(self):
        ev = lines(run("paysim_to_events.py", HERE / "paysim.csv", "--start",
                       "2026-11-09T00:00:00+08:00"))
        self.assertEqual(ev[0]["ts"], "2026-11-09T01:00:00+08:00")
        self.assertEqual(ev[-1]["ts"], "2026-11-09T03:00:00+08:00")

    def test_fields(self):
        by = {e["event_id"]: e for e in self.ev}
        self.assertEqual({i: e["direction"] for i, e in by.items()},
                         {"ps-1": "out", "ps-2": "out", "ps-3": "out", "ps-4": "in",
                          "ps-5": "out", "ps-6": "out"})
        self.assertEqual({i: e["channel"] for i, e in by.items()},
                         {"ps-1": "mobile", "ps-2": "mobile", "ps-3": "agent", "ps-4": "agent",
                          "ps-5": "bank", "ps-6": "mobile"})
        e = by["ps-2"]  # 1,TRANSFER,181.0,C1305486145,181.0,0.0,C553264065,0.0,0.0,1,0
        self.assertEqual(e["account"], number("C1305486145", "6222"))
        self.assertEqual(e["counterparty"], number("C553264065", "6222"))
        self.assertEqual(len(e["account"]), 19)
        self.assertEqual(e["customer_id"], "C1305486145")
        self.assertEqual((e["amount"], e["balance_before"], e["balance_after"]), (181, 181, 0))
        self.assertIsInstance(e["amount"], int)  # 181.0 is written as 181
        self.assertEqual(by["ps-1"]["amount"], 9839.64)
        self.assertEqual(by["ps-3"]["counterparty_balance_before"], 21182)
        self.assertEqual(e["txn_type"], "TRANSFER")
        self.assertEqual(e["label"], {"is_fraud": 1, "is_flagged": 0, "paysim_type": "TRANSFER"})
        self.assertEqual(by["ps-6"]["label"]["is_flagged"], 1)
        self.assertEqual(sum(e["label"]["is_fraud"] for e in self.ev), 3)

    def test_limit(self):
        ev = lines(run("paysim_to_events.py", HERE / "paysim.csv", "--limit", "2"))
        self.assertEqual([e["event_id"] for e in ev], ["ps-2", "ps-3"])


class AmlsimConverter(unittest.TestCase):
    """tests/scripts/amlsim/: transfers 1->2 (day 2), 2->3, 3->1 (day 1), 4->5 (day 2);
    nodes 1 and 2 suspicious, 3 and 4 not, 5 not listed."""

    def setUp(self):
        self.out = run("amlsim_to_events.py", HERE / "amlsim")
        self.ev = lines(self.out)

    def test_whole_output_unchanged(self):
        self.assertEqual(self.out, (HERE / "amlsim.expected.jsonl").read_bytes())

    def test_order_times_and_fields(self):
        self.assertEqual([e["event_id"] for e in self.ev], ["aml-2", "aml-3", "aml-1", "aml-4"])
        # Day 1 holds two rows (0 and 43200 s into it), day 2 two more.
        self.assertEqual([e["ts"] for e in self.ev],
                         ["2026-06-02T00:00:00Z", "2026-06-02T12:00:00Z",
                          "2026-06-03T00:00:00Z", "2026-06-03T12:00:00Z"])
        e = self.ev[0]
        self.assertEqual(e["account"], number("amlsim:2", "6223"))
        self.assertEqual(e["counterparty"], number("amlsim:3", "6223"))
        self.assertEqual((e["customer_id"], e["amount"], e["direction"], e["channel"]),
                         ("aml-2", 20, "out", "bank"))
        self.assertEqual(self.ev[2]["amount"], 100.5)
        self.assertEqual([(e["label"]["account_suspicious"], e["label"]["counterparty_suspicious"])
                          for e in self.ev], [(1, 0), (0, 1), (1, 1), (0, 0)])

    def _with_nodes(self, text):
        with tempfile.TemporaryDirectory() as d:
            shutil.copy(HERE / "amlsim" / "transactions.csv", d)
            Path(d, "nodes.csv").write_text(text, encoding="utf-8")
            return lines(run("amlsim_to_events.py", d))

    def _unlabelled(self, events):
        return [{k: v for k, v in e.items() if k != "label"} for e in events]

    def test_every_label_zeroed_gives_the_same_events(self):
        src = (HERE / "amlsim" / "nodes.csv").read_text(encoding="utf-8").splitlines()
        zeroed = [src[0]] + [re.sub(r"^([^,]*),1,", r"\1,0,", line) for line in src[1:]]
        self.assertNotEqual(zeroed, src)
        ev = self._with_nodes("\n".join(zeroed) + "\n")
        self.assertEqual(self._unlabelled(ev), self._unlabelled(self.ev))
        self.assertTrue(all(e["label"] == {"account_suspicious": 0, "counterparty_suspicious": 0}
                            for e in ev))

    def test_labels_only_move_the_label_fields(self):
        # Every account suspicious, or no account listed at all: the same events again.
        ev = self._with_nodes("nodeid,isFraud,init_balance,fraudStep\n" +
                              "".join("%d,1,1.0,1\n" % n for n in range(1, 6)))
        self.assertEqual(self._unlabelled(ev), self._unlabelled(self.ev))
        ev = self._with_nodes("nodeid,isFraud,init_balance,fraudStep\n")
        self.assertEqual(self._unlabelled(ev), self._unlabelled(self.ev))


class CfpbConverter(unittest.TestCase):
    """tests/scripts/cfpb.csv: five complaints; one about fraud and one about an
    unauthorized transaction (urgent), one without a state, one forwarded before it was
    received, one without a response."""

    def setUp(self):
        self.out = run("cfpb_to_events.py", HERE / "cfpb.csv")
        self.ev = lines(self.out)

    def test_whole_output_unchanged(self):
        self.assertEqual(self.out, (HERE / "cfpb.expected.jsonl").read_bytes())

    def test_events(self):
        opened = [e for e in self.ev if e["action"] == "opened"]
        responded = [e for e in self.ev if e["action"] == "responded"]
        self.assertEqual(len(opened), 5)
        self.assertEqual(len(responded), 4)  # 3192000 has no response
        self.assertEqual([e["ts"] for e in self.ev], sorted(e["ts"] for e in self.ev))
        by = {e["event_id"]: e for e in self.ev}
        # 3189601 mod 60 = 1, mod 997 = 198.
        self.assertEqual(by["cf-3189601-opened"]["ts"], "2019-03-25T09:01:00+08:00")
        self.assertEqual(by["cf-3189601-opened"]["customer_id"], "cust-198")
        self.assertEqual(by["cf-3189601-responded"]["ts"], "2019-03-28T17:00:00+08:00")
        self.assertNotIn("branch", by["cf-3189601-opened"])  # no State
        self.assertEqual(by["cf-3190590-opened"]["branch"], "FL")
        # Forwarded the day before it was received: responded at the opening time.
        self.assertEqual(by["cf-3191111-responded"]["ts"], by["cf-3191111-opened"]["ts"])
        self.assertEqual(by["cf-3190003-responded"]["response"], "In progress")
        self.assertEqual({e["complaint_id"] for e in opened if e["severity"] == "urgent"},
                         {"3189601", "3191111"})

    def _rewrite(self, change):
        with open(HERE / "cfpb.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        fields = list(rows[0].keys())
        rows, fields = change(rows, fields)
        with tempfile.TemporaryDirectory() as d:
            path = Path(d, "c.csv")
            with open(path, "w", newline="", encoding="utf-8") as f:
                w = csv.DictWriter(f, fieldnames=fields)
                w.writeheader()
                w.writerows(rows)
            return run("cfpb_to_events.py", path)

    def test_nothing_derived_from_the_outcome_columns(self):
        def flip(rows, fields):
            for r in rows:
                r["Timely response?"] = "No" if r["Timely response?"] == "Yes" else "Yes"
                r["Consumer disputed?"] = "Yes" if r["Consumer disputed?"] != "Yes" else "No"
            return rows, fields

        def drop(rows, fields):
            gone = ("Timely response?", "Consumer disputed?")
            return ([{k: v for k, v in r.items() if k not in gone} for r in rows],
                    [f for f in fields if f not in gone])

        self.assertEqual(self._rewrite(flip), self.out)
        self.assertEqual(self._rewrite(drop), self.out)
        self.assertNotIn(b"Timely", self.out)


SCORE_HEAD = re.compile(r"^(.*?)\s{2,}(.*)$")


def score(*args):
    """Runs score.py; returns its output's table rows as {name: [cells]} and the text."""
    out = run("score.py", *args).decode("utf-8")
    rows = {}
    for line in out.splitlines():
        m = SCORE_HEAD.match(line)
        if m and re.match(r"^(any rule|r\d|label)", line):
            rows[m.group(1).strip()] = m.group(2).split()
    return rows, out


class Score(unittest.TestCase):
    """score.py on hand-made alerts (--alerts: no riskwarn needed)."""

    def test_events(self):
        # e1, e2, e3 fraud; alerts: e1 high (r1 high, r3 low), e2 low (r2), e4 medium (r1).
        rows, out = score("--rules", HERE / "score_pack.json", "--alerts",
                          HERE / "score_alerts.jsonl", HERE / "score_events.jsonl")
        self.assertIn("6 events, 3 positive (label.is_fraud), 3 with an alert", out)
        #                               events share    TP   FP   FN   recall   precision
        self.assertEqual(rows["any rule >= low"], ["3", "50.00%", "2", "1", "1", "0.667", "0.667"])
        self.assertEqual(rows["any rule >= medium"],
                         ["2", "33.33%", "1", "1", "2", "0.333", "0.500"])
        self.assertEqual(rows["any rule >= high"], ["1", "16.67%", "1", "0", "2", "0.333", "1.000"])
        self.assertEqual(rows["label.is_flagged (source's own)"],
                         ["1", "16.67%", "1", "0", "2", "0.333", "1.000"])
        self.assertEqual(rows["r1 >= medium"], ["2", "33.33%", "1", "1", "2", "0.333", "0.500"])
        self.assertEqual(rows["r2 >= low"], ["1", "16.67%", "1", "0", "2", "0.333", "1.000"])
        self.assertNotIn("r2 >= medium", rows)

    def test_halves_split_the_events_by_account(self):
        events = [json.loads(line) for line in
                  (HERE / "score_events.jsonl").read_text(encoding="utf-8").splitlines()]
        seen = []
        for half in ("A", "B"):
            want = [e["event_id"] for e in events
                    if (hashlib.sha256(("riskwarn-split:" + e["account"]).encode()).digest()[0]
                        % 2 == 0) == (half == "A")]
            with tempfile.TemporaryDirectory() as d:
                path = Path(d, "half.jsonl")
                run("score.py", "--rules", HERE / "score_pack.json", "--half", half,
                    "--write-half", path, HERE / "score_events.jsonl")
                got = [json.loads(line)["event_id"]
                       for line in path.read_text(encoding="utf-8").splitlines()]
            self.assertEqual(got, want)
            self.assertTrue(got)  # the fixture's accounts fall in both halves
            seen += got
        self.assertEqual(sorted(seen), sorted(e["event_id"] for e in events))

    def test_accounts_and_cycles(self):
        # A->B, B->C, C->A (suspicious, days 1-3), D->E (normal). r2 (account+counterparty)
        # medium on C->A reaches C and A; r1 (account) low on D->E reaches D.
        args = ["--rules", HERE / "score_pack.json", "--unit", "account", "--alerts",
                HERE / "score_accounts_alerts.jsonl"]
        rows, out = score(*args, "--cycles", "3:30", HERE / "score_accounts.jsonl")
        self.assertIn("5 accounts in the half (3 suspicious, 2 normal); 4 events from them, "
                      "2 with an alert", out)
        self.assertIn("3 cycle accounts", out)
        #                     suspicious recall normal share  precision events cycle acc.
        self.assertEqual(rows["any rule >= low"],
                         ["2", "0.667", "1", "50.00%", "0.667", "50.00%", "2/3"])
        self.assertEqual(rows["any rule >= medium"],
                         ["2", "0.667", "0", "0.00%", "1.000", "25.00%", "2/3"])
        self.assertEqual(rows["any rule >= high"], ["0", "0.000", "0", "0.00%", "-", "0.00%", "0/3"])
        self.assertEqual(rows["r1 >= low"], ["0", "0.000", "1", "50.00%", "0.000", "25.00%", "0/3"])
        # A loop of 3 transfers is not one of at most 2; its 2 days do not fit in 1.
        for cycles in ("2:30", "3:1"):
            _, out = score(*args, "--cycles", cycles, HERE / "score_accounts.jsonl")
            self.assertIn("0 cycle accounts", out)


class DemoSimulator(unittest.TestCase):
    """The Python simulator make_demo_events.py --check compares with riskwarn replay."""

    def ev(self, minute, **fields):
        e = {"event_id": "x%d" % minute, "type": "transaction",
             "ts": "2026-11-10T10:%02d:00+08:00" % minute, "account": "a1"}
        e.update(fields)
        return e

    def test_composite_key_text(self):
        e = {"account": "A|B", "counterparty": "C\\", "n": 5}
        self.assertEqual(demo.key_text(e, ["account", "counterparty"]), "A\\|B|C\\\\")
        self.assertEqual(demo.key_text(e, ["account", "n"]), "A\\|B|5")
        self.assertIsNone(demo.key_text(e, ["account", "missing"]))
        self.assertEqual(demo.key_text(e, "account"), "A|B")

    def test_expressions(self):
        x = "balance_before > 0 and abs(amount - balance_before) < 0.01"
        self.assertTrue(demo.expr_holds({"amount": 5, "balance_before": 5.001}, x))
        self.assertFalse(demo.expr_holds({"amount": 5, "balance_before": 6}, x))
        self.assertFalse(demo.expr_holds({"amount": 5}, x))  # missing: no value
        self.assertFalse(demo.expr_holds({"amount": "5", "balance_before": 5}, x))  # a string
        self.assertFalse(demo.expr_holds({"a": 1, "b": 0}, "a / b > 0"))  # division by zero
        self.assertTrue(demo.expr_holds({"geo": {"lat": 2.5}}, "geo.lat * 2 == 5"))

    def test_cooldown_and_baseline(self):
        pack = {"ruleset": "t", "version": "1", "cooldown": "1h", "rules": [
            {"id": "big", "module": "value", "match": {"type": "transaction"}, "key": "account",
             "params": {"field": "amount"}, "thresholds": {"low": 10, "high": 100}},
            {"id": "usual", "module": "baseline", "match": {"type": "transaction"},
             "key": "account", "params": {"field": "amount", "window": "30d", "min_history": 3},
             "thresholds": {"low": 5}, "cooldown": "10m"}]}
        events = [self.ev(0, amount=10), self.ev(1, amount=10), self.ev(2, amount=10),
                  self.ev(3, amount=100), self.ev(4, amount=50), self.ev(20, amount=60)]
        r = demo.simulate(events, pack)
        # big: low at 0, held at 1 and 2 (same level within 1h), high at 3, held at 4 and 20
        # (lower levels).
        self.assertEqual((r["big"]["levels"]["low"], r["big"]["levels"]["high"],
                          r["big"]["held"]), (1, 1, 4))
        # usual: 100 / mean(10, 10, 10) = 10 at 3; 50 / 32.5 < 5 at 4; 60 / 36 < 5 at 20.
        self.assertEqual((r["usual"]["matched"], r["usual"]["levels"]["low"]), (3, 1))
        self.assertEqual(r["usual"]["max"], 10)


if __name__ == "__main__":
    unittest.main()
